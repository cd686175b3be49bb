"""The augment core and the image plugin on the real sample image set (issue 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import one_error_line

RECIPE = """modality: image
copies: 2
transforms:
  - HorizontalFlip: {p: 0.5}
  - Rotate: {limit: [-20, 20], p: 0.8}
  - RandomBrightnessContrast: {brightness_limit: 0.2, p: 0.5}
  - OneOf: {transforms: [{GaussianBlur: {blur_limit: [3, 5]}}, {noise: {psnr: [25, 35], kind: [gaussian, speckle]}}], p: 0.5}
  - copy_paste: {p: 0.4, blend: [alpha, poisson]}
"""


@pytest.fixture(scope="module")
def split_manifest(tmp_path_factory):
    """The sample digits, ingested and split 60/20/20 (module-wide: ingest is the slow part)."""
    from curate.io.ingest import ingest
    from curate.io.manifest import save_manifest
    from curate.split.splitters import split_frame

    root = tmp_path_factory.mktemp("aug")
    m = ingest(str(Path(__file__).resolve().parent.parent / "sample_data" / "images"), use_cache=False).manifest
    ok = m["status"] == "ok"
    m["split"] = pd.Series(pd.NA, index=m.index, dtype="string")
    m.loc[ok, "split"] = split_frame(m[ok], "label", seed=0).split
    save_manifest(m, root / "split.parquet")
    (root / "recipe.yaml").write_text(RECIPE)
    return root


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


def test_noise_hits_its_target_psnr_on_real_images(sample):
    from PIL import Image

    from augment.image.ops import add_noise, psnr

    rng = np.random.default_rng(0)
    for path in sorted((sample / "images" / "0").glob("digit_00*.png"))[:5]:
        img = np.asarray(Image.open(path).convert("L"))
        for kind in ("gaussian", "salt_pepper", "speckle"):
            for target in (20.0, 30.0):
                got = psnr(img, add_noise(img, kind, target, rng))
                assert target - 1.0 <= got <= target + 3.0, (path.name, kind, target, got)  # clipping only raises it


def test_copy_paste_moves_the_object_and_inpaints_its_place(sample):
    from PIL import Image

    from augment.image.ops import copy_paste, foreground_mask

    img = np.asarray(Image.open(sample / "images" / "1" / "digit_0042.png").convert("L"))
    obj = foreground_mask(img)
    assert 20 < obj.sum() < img.size / 2
    out, mask, info = copy_paste(img, None, img, None, {"target": "same", "x": 0.0, "y": 0.0, "scale": 0.6,
                                                        "blend": "alpha", "feather": 0.5})
    x0, y0, x1, y1 = info["to_box"]
    assert (x0, y0) == (0, 0) and mask.sum() > 0.2 * obj.sum()
    assert mask[:y1, :x1].sum() == mask.sum()  # the new mask sits where the object went
    background = float(np.median(img[~obj]))
    vacated = obj & ~mask
    assert abs(float(np.median(out[vacated])) - background) < 40  # its old place looks like background
    assert float(np.abs(out[mask].astype(float) - background).mean()) > 40  # the object is drawn there
    donor = np.asarray(Image.open(sample / "images" / "1" / "digit_0003.png").convert("L")) \
        if (sample / "images" / "1" / "digit_0003.png").exists() else np.asarray(
            Image.open(sorted((sample / "images" / "1").glob("*.png"))[1]).convert("L"))
    out2, mask2, info2 = copy_paste(img, None, donor, None, {"target": "other", "x": 1.0, "y": 1.0, "scale": 0.5,
                                                            "blend": "poisson"})
    assert mask2.sum() >= foreground_mask(donor).sum() and out2.shape == donor.shape
    assert not np.array_equal(out2, donor)


def test_masks_boxes_and_keypoints_stay_aligned(cli, tmp_path):
    from PIL import Image

    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    rows = []
    for i in range(4):
        img = np.zeros((40, 60, 3), np.uint8)
        img[5:15, 10 + i:30 + i] = (200, 50, 50)
        mask = np.zeros((40, 60), np.uint8)
        mask[5:15, 10 + i:30 + i] = 255
        Image.fromarray(img).save(root / "a" / f"im{i}.png")
        Image.fromarray(mask).save(root / "a" / f"im{i}_mask.png")
        rows.append({"id": f"a/im{i}.png", "label": "a", "root": str(root), "path": f"a/im{i}.png",
                     "modality": "image", "status": "ok", "split": "train", "mask": f"a/im{i}_mask.png",
                     "boxes": json.dumps([[10 + i, 5, 30 + i, 15, "thing"]]), "points": json.dumps([[10 + i, 5]])})
    pd.DataFrame(rows).to_parquet(tmp_path / "m.parquet")
    (tmp_path / "r.yaml").write_text("modality: image\ncopies: 1\ntargets: {mask: mask, bboxes: boxes, keypoints: points}\n"
                                     "transforms:\n  - HorizontalFlip: {p: 1}\n  - Affine: {translate_px: [-3, 3], p: 1}\n"
                                     "gate: {min_std: 1.0, max_box_area_loss: 0.5}\n")
    r = cli("augment", tmp_path / "m.parquet", "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "o")
    assert r.code == 0, r.err
    m = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    for _, row in m[m["source_id"].notna()].iterrows():
        img = np.asarray(Image.open(tmp_path / "o" / row["path"]))
        mask = np.asarray(Image.open(tmp_path / "o" / row["mask"])) > 127
        red = img[..., 0] > 100
        assert (red == mask).mean() > 0.98  # the mask moved with the image
        x1, y1, x2, y2, name = json.loads(row["boxes"])[0]
        ys, xs = np.nonzero(mask)
        assert name == "thing" and abs(x1 - xs.min()) <= 1 and abs(x2 - (xs.max() + 1)) <= 1 and abs(y1 - ys.min()) <= 1
        (px, py), = json.loads(row["points"])
        assert abs(px - x2) <= 1.5 and abs(py - y1) <= 1.5  # the top-left corner is top-right after the flip


def test_quality_gate_rejects_and_reports(cli, split_manifest, tmp_path):
    recipe = tmp_path / "g.yaml"
    recipe.write_text("modality: image\ncopies: 1\ntransforms:\n  - HorizontalFlip: {p: 1}\n"
                      "  - RandomBrightnessContrast: {brightness_limit: [-1.0, -1.0], contrast_limit: 0, p: 0.5}\n"
                      "gate: {min_std: 2.0, max_tries: 20}\n")
    r = cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", tmp_path / "o", "--seed", "2")
    assert r.code == 0, r.err
    summary = json.loads((tmp_path / "o" / ".curaug" / "summary.json").read_text())
    assert 0.2 < summary["gate_rejection_rate"] < 0.8 and summary["gate_gave_up"] == 0
    assert "quality gate rejected" in r.out
    m = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    from PIL import Image

    for rel in m.loc[m["source_id"].notna(), "path"]:
        assert np.asarray(Image.open(tmp_path / "o" / rel)).std() >= 2.0


def test_presets_and_plugin_registry(cli, split_manifest, tmp_path):
    from augment.plugin import REGISTRY, get_plugin
    from curate.errors import CuraugError

    for preset in ("light", "medium", "heavy"):
        recipe = tmp_path / f"{preset}.yaml"
        recipe.write_text(f"modality: image\ncopies: 1\npreset: {preset}\n")
        assert cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", tmp_path / preset).code == 0
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
