"""``clip_guard``: a copy pushed past full scale is scaled to a 0.999 peak (``peak``, the
default) or soft-limited above -1 dBFS (``limit``), which leaves every quieter sample as it
was; either is recorded in the provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from augment.audio.plugin import AudioPlugin, AudioSample
from augment.audio.waveform import soft_limit
from augment.plugin import Context
from augment.recipe_file import load_recipe
from conftest import one_error_line

SR = 16000
THRESHOLD = 10 ** (-1 / 20)
GAIN_6DB = np.float32(10 ** (6 / 20))


def quiet_then_loud() -> np.ndarray:
    """Half a second of a 440 Hz tone at 0.1, then half a second at 0.9: ``(1, SR)`` float32."""
    t = np.arange(SR) / SR
    amp = np.where(t < 0.5, 0.1, 0.9)
    return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]


def _apply(clip_guard: str | None) -> tuple[np.ndarray, list[dict]]:
    recipe = {"modality": "audio", "copies": 1, "transforms": [{"gain": {"db": 6}}]}
    if clip_guard:
        recipe["clip_guard"] = clip_guard
    ctx = Context(load_recipe(recipe).recipe, pd.DataFrame())
    out, applied = AudioPlugin().apply(AudioSample(quiet_then_loud(), SR), [{"name": "gain", "params": {"db": 6}}], 1,
                                       ctx)
    return out.data, applied


def test_the_limiter_keeps_every_sample_below_the_threshold_and_bends_the_rest_under_full_scale():
    y = np.concatenate([np.linspace(-3, 3, 6001, dtype=np.float32), np.float32([1e6, -1e6])])[None]
    out = soft_limit(y, THRESHOLD, 0.999)
    quiet = np.abs(y) <= THRESHOLD
    assert np.array_equal(out[quiet], y[quiet])
    assert np.abs(out).max() < 0.999 and (np.abs(out[~quiet]) > THRESHOLD - 1e-7).all()
    order = np.argsort(y[0, :6001], kind="stable")
    assert (np.diff(out[0, :6001][order]) >= 0).all()  # louder in, never quieter out
    assert np.array_equal(np.sign(out), np.sign(y))


def test_limit_leaves_the_quiet_half_untouched_where_peak_normalising_turns_it_down():
    limited, applied = _apply("limit")
    expected_quiet = quiet_then_loud()[:, : SR // 2] * GAIN_6DB
    assert np.abs(limited).max() <= 1.0
    assert np.abs(limited[:, : SR // 2] - expected_quiet).max() < 1e-6
    assert applied[-1] == {"name": "limit", "drawn": {"peak": pytest.approx(0.9 * 10 ** (6 / 20), rel=1e-4),
                                                      "threshold_dbfs": -1.0, "ceiling": 0.999}}
    normalised, applied = _apply(None)
    assert applied[-1]["name"] == "peak_normalize" and np.abs(normalised).max() == pytest.approx(0.999, abs=1e-6)
    factor = applied[-1]["drawn"]["factor"]
    assert np.abs(normalised[:, : SR // 2] - expected_quiet * factor).max() < 1e-6  # the quiet half turned down too
    assert np.array_equal(_apply("peak")[0], normalised)


def test_limit_through_augment_writes_no_sample_past_full_scale_records_it_and_replays(tmp_path, cli):
    (tmp_path / "src" / "a").mkdir(parents=True)
    sf.write(tmp_path / "src" / "a" / "tone.wav", quiet_then_loud()[0], SR, subtype="FLOAT")
    assert cli("ingest", tmp_path / "src", "-o", tmp_path / "m.parquet").code == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: audio\ncopies: 1\nclip_guard: limit\ntransforms:\n  - gain: {db: 6}\n")
    out = tmp_path / "o"
    assert cli("augment", tmp_path / "m.parquet", "--recipe", recipe, "-o", out, "--all-rows").code == 0
    y, sr = sf.read(out / "a" / "tone__aug0.wav", dtype="float32")
    assert sr == SR and sf.info(out / "a" / "tone__aug0.wav").subtype == "FLOAT"
    assert np.abs(y).max() < 1.0
    assert np.abs(y[: SR // 2] - quiet_then_loud()[0, : SR // 2] * GAIN_6DB).max() < 1e-6
    made = pd.read_parquet(out / "manifest.parquet").dropna(subset=["source_id"])
    assert [a["name"] for a in json.loads(made["augment"].iloc[0])["applied"]] == ["gain", "limit"]
    replayed = cli("augment", out / "manifest.parquet", "--replay", made["id"].iloc[0], "-o", out)
    assert replayed.code == 0 and "identical" in replayed.out


def test_clip_guard_takes_peak_or_limit_and_only_in_audio_recipes(tmp_path, cli):
    recipe = tmp_path / "r.yaml"
    for body, expected in (("modality: audio\nclip_guard: soft\n", "clip_guard"),
                           ("modality: image\nclip_guard: limit\n", "'clip_guard' is for audio recipes")):
        recipe.write_text(body + "copies: 1\ntransforms:\n  - gain: {db: 6}\n")
        line = one_error_line(cli("augment", tmp_path / "m.parquet", "--recipe", recipe, "-o", tmp_path / "o"))
        assert expected in line, line
        assert not (tmp_path / "o").exists()
