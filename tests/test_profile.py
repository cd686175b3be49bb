from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import one_error_line
from curate.io.ingest import ingest
from curate.profile import histogram, profile


@pytest.fixture(scope="module")
def image_profile(tmp_path_factory):
    from pathlib import Path

    sample = Path(__file__).resolve().parent.parent / "sample_data"
    return profile(ingest(sample / "images", use_cache=False).manifest)


def test_image_profile_figures(image_profile):
    p = image_profile
    assert p["rows"] == 144 and p["status"] == {
        "ok": 143, "corrupt": 1,
        "corrupt_rows": [{"id": "8/truncated_digit.png", "reason": p["status"]["corrupt_rows"][0]["reason"]}]}
    assert p["label"]["counts"] == {"0": 46, "1": 45, "7": 32, "8": 20}
    assert p["label"]["imbalance_ratio"] == pytest.approx(46 / 20)
    groups = sorted(sorted(g) for g in p["duplicates"]["groups"])
    assert ["7/copy_of_digit.png", "7/digit_0007.png"] in groups
    assert p["duplicates"]["by"] == "sha256" and p["duplicates"]["extra_copies"] == len(groups)
    assert sum(p["media"]["image"]["width"]["counts"]) == 143
    assert p["media"]["image"]["format"] == {"BMP": 13, "JPEG": 13, "PNG": 117}


def test_audio_profile_media_stats(sample):
    p = profile(ingest(sample / "audio").manifest)
    audio = p["media"]["audio"]
    assert sum(audio["sample_rate"].values()) == 35
    assert set(audio["sample_rate"]) == {"16000", "22050"}
    assert sum(audio["duration_s"]["counts"]) == 35
    assert ["yes/yes_00.wav", "yes/yes_copy.wav"] in [sorted(g) for g in p["duplicates"]["groups"]]


def test_penguins_profile_via_cli(cli, sample, tmp_path):
    out = tmp_path / "p.json"
    r = cli("profile", sample / "penguins.csv", "--label", "species", "--json", out)
    assert r.code == 0, r.err
    assert "species" in r.out and "imbalance ratio 2.25" in r.out
    p = json.loads(out.read_text())
    missing = {c["name"]: c["missing"] for c in p["columns"]}
    assert missing["sex"] == 11 and missing["bill_length_mm"] == 2
    assert p["label"]["counts"] == {"Adelie": 153, "Gentoo": 124, "Chinstrap": 68}
    assert p["duplicates"] == {"by": "row", "rows": 2, "extra_copies": 1, "groups": [["20", "344"]]}
    assert p["numeric"]["body_mass_g"]["count"] == 343


def test_json_to_stdout(cli, sample):
    r = cli("profile", sample / "text.csv", "--json", "-")
    assert r.code == 0
    p = json.loads(r.out)
    assert p["rows"] == 158 and p["label"]["n_classes"] == 4
    assert p["duplicates"]["extra_copies"] == 1


def test_unknown_label_column(cli, sample):
    msg = one_error_line(cli("profile", sample / "penguins.csv", "--label", "genus"))
    assert "'genus'" in msg and "penguins.csv" in msg and "species" in msg
    with pytest.raises(ValueError, match="label='genus': no such column"):
        profile(pd.read_csv(sample / "penguins.csv"), label="genus")


def test_missing_data_file(cli, tmp_path):
    assert "no such file" in one_error_line(cli("profile", tmp_path / "x.parquet"))


def test_missing_labels_are_counted():
    p = profile(pd.DataFrame({"label": ["a", None, "b", "b"]}))
    assert p["label"]["missing"] == 1 and p["label"]["counts"] == {"b": 2, "a": 1}


def test_histogram_constant_and_empty():
    assert histogram(pd.Series([5, 5, 5]))["counts"] == [3]
    assert histogram(pd.Series([], dtype=float))["counts"] == []
