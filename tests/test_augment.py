"""The augment core and the image plugin on the real sample image set (issue 7)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import one_error_line

def test_provenance_and_replay(cli, split_manifest, tmp_path):
    out = tmp_path / "o"
    assert cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml",
               "-o", out, "--seed", "3").code == 0
    m = pd.read_parquet(out / "manifest.parquet")
    added = m[m["source_id"].notna()]
    prov = [json.loads(a) for a in added["augment"]]
    assert all(p["seed"] == s for p, s in zip(prov, added["seed"]))
    assert all(p["versions"]["albumentations"].startswith("2.0.") for p in prov)
    names = {step["name"] for p in prov for step in p["plan"]}
    assert {"Rotate", "copy_paste"} <= names
    rotated = next(p for p in prov if any(s["name"] == "Rotate" for s in p["plan"]))
    assert any(a["name"] == "Rotate" and "matrix" in a["drawn"] for a in rotated["applied"])  # the drawn angle
    pasted = next(p for p in prov if any(s["name"] == "copy_paste" for s in p["plan"]))
    step = next(s for s in pasted["plan"] if s["name"] == "copy_paste")
    assert step["params"]["target"] in ("same", "other") and 0 <= step["params"]["x"] <= 1
    for sample_id in list(added["id"].iloc[::7]) + [added["id"].iloc[prov.index(pasted)]]:
        r = cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml",
                "-o", out, "--replay", sample_id)
        assert r.code == 0 and "identical" in r.out, (sample_id, r.out)
    target = out / added["path"].iloc[0]
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    r = cli("augment", split_manifest / "split.parquet", "-o", out, "--replay", added["id"].iloc[0])  # no recipe needed
    assert r.code == 1 and "DIFFERENT" in r.out
    assert "not an augmented sample" in one_error_line(
        cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml", "-o", out,
            "--replay", "nope.png"))


def test_quality_gate_rejects_and_reports(cli, split_manifest, tmp_path):
    recipe = tmp_path / "g.yaml"
    recipe.write_text("modality: image\ncopies: 1\ntransforms:\n  - HorizontalFlip: {p: 1}\n"
                      "  - RandomBrightnessContrast: {brightness_limit: [-1.0, -1.0], contrast_limit: 0, p: 0.5}\n"
                      "gate: {min_std: 2.0, max_tries: 20}\n")
    r = cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", tmp_path / "o", "--seed", "2")
    assert r.code == 0, r.err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert 0.2 < summary["gate_rejection_rate"] < 0.8 and summary["gate_gave_up"] == 0
    assert "quality gate rejected" in r.out
    m = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    from PIL import Image

    for rel in m.loc[m["source_id"].notna(), "path"]:
        assert np.asarray(Image.open(tmp_path / "o" / rel)).std() >= 2.0


def test_plugin_registry():
    from augment.plugin import REGISTRY, get_plugin
    from curate.errors import CuraugError

    assert get_plugin("image").modality == "image" and "image" in REGISTRY
    with pytest.raises(CuraugError, match="no augmentation plugin for modality 'point_cloud'"):
        get_plugin("point_cloud")


def test_resplitting_an_augmented_manifest_keeps_copies_with_their_source(cli, split_manifest, tmp_path):
    out = tmp_path / "o"
    assert cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml", "-o", out).code == 0
    r = cli("split", out / "manifest.parquet", "--label", "label", "--seed", "4", "-o", tmp_path / "re.parquet")
    assert r.code == 0 and "follow their source" in r.out
    df = pd.read_parquet(tmp_path / "re.parquet")
    family = df["source_id"].fillna(df["id"])
    assert (df[df["split"].notna()].groupby(family[df["split"].notna()])["split"].nunique() == 1).all()


def test_a_per_pixel_draw_is_recorded_by_its_summary_not_value_by_value(cli, split_manifest, tmp_path):
    # GaussNoise draws a noise map as large as the image: recorded whole it made every
    # record ~64 KB for a 32x32 image, and 100,000 of them exhausted memory
    recipe = tmp_path / "noise.yaml"
    recipe.write_text("modality: image\ncopies: 1\ntransforms:\n  - GaussNoise: {std_range: [0.05, 0.1], p: 1.0}\n")
    out = tmp_path / "o"
    assert cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", out).code == 0
    added = pd.read_parquet(out / "manifest.parquet").dropna(subset=["source_id"])
    assert max(len(a) for a in added["augment"]) < 2000
    drawn = json.loads(added["augment"].iloc[0])["applied"][0]["drawn"]["noise_map"]
    assert drawn["shape"][:2] == [int(added["height"].iloc[0]), int(added["width"].iloc[0])]
    assert drawn["dtype"] == "float32" and len(drawn["sha256"]) == 16 and drawn["std"] > 0
    r = cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", out, "--replay", added["id"].iloc[0])
    assert r.code == 0 and "identical" in r.out
