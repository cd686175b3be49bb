"""A clip that ingest found ok but that changed before ``curaug augment`` (cut short, removed):
its copies are skipped and named in the summary, the run goes on on every engine, and a
rerun once the file is back makes only what was missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import one_error_line

SR = 16000
RECIPE = "modality: audio\ncopies: 2\ntransforms:\n  - gain: {db: [-6, 6]}\n  - shift: {seconds: [-0.1, 0.1]}\n"


def _tone(freq: float) -> np.ndarray:
    t = np.arange(SR // 2) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def clips(tmp_path, cli) -> Path:
    """Three wav tones, ingested; returns the folder holding ``m.parquet`` and ``r.yaml``."""
    for rel, freq in (("a/low.wav", 220.0), ("a/mid.wav", 440.0), ("b/high.wav", 880.0)):
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / "src" / rel, _tone(freq), SR, subtype="PCM_16")
    assert cli("ingest", tmp_path / "src", "-o", tmp_path / "m.parquet").code == 0
    (tmp_path / "r.yaml").write_text(RECIPE)
    return tmp_path


def _truncate(path: Path, size: int) -> bytes:
    """Cut ``path`` to ``size`` bytes (mid data chunk: libsndfile would read a shorter clip)."""
    original = path.read_bytes()
    path.write_bytes(original[:size])
    return original


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.wav"))}


@pytest.mark.parametrize("extra", [[], ["--workers", "2"], ["--engine", "dask", "--workers", "2"]])
def test_a_clip_truncated_after_ingest_is_skipped_and_counted_on_every_engine(clips, cli, extra):
    original = _truncate(clips / "src" / "a" / "mid.wav", 3000)
    def augment(out: str):
        return cli("augment", clips / "m.parquet", "--recipe", clips / "r.yaml", "-o", clips / out, "--all-rows",
                   "--seed", "3", *extra)

    result = augment("o")
    assert result.code == 0, result.err
    assert "augmented 4 samples" in result.out
    assert "2 skipped: source unreadable since ingest" in result.out
    summary = json.loads((clips / "o" / "summary.json").read_text())
    assert summary["made"] == 4 and list(summary["unreadable_sources"]) == ["a/mid.wav"]
    assert "changed since ingest" in summary["unreadable_sources"]["a/mid.wav"]
    made = pd.read_parquet(clips / "o" / "manifest.parquet").dropna(subset=["source_id"])
    assert sorted(made["source_id"]) == ["a/low.wav", "a/low.wav", "b/high.wav", "b/high.wav"]
    assert sorted(_outputs(clips / "o")) == ["a/low__aug0.wav", "a/low__aug1.wav",
                                             "b/high__aug0.wav", "b/high__aug1.wav"]
    # the file back as ingest saw it: a rerun makes its two copies and redoes nothing else
    first = _outputs(clips / "o")
    (clips / "src" / "a" / "mid.wav").write_bytes(original)
    result = augment("o")
    assert result.code == 0 and "4 already done (resumed)" in result.out, result.out
    resumed = _outputs(clips / "o")
    assert {rel: resumed[rel] for rel in first} == first and len(resumed) == 6
    assert json.loads((clips / "o" / "summary.json").read_text())["unreadable_sources"] == {}
    # the same bytes as a run that never met the truncated file (the seed contract)
    assert augment("fresh").code == 0
    assert _outputs(clips / "fresh") == resumed


def test_a_removed_clip_is_skipped_too(clips, cli):
    (clips / "src" / "b" / "high.wav").unlink()
    result = cli("augment", clips / "m.parquet", "--recipe", clips / "r.yaml", "-o", clips / "o", "--all-rows")
    assert result.code == 0, result.err
    summary = json.loads((clips / "o" / "summary.json").read_text())
    assert list(summary["unreadable_sources"]) == ["b/high.wav"] and summary["made"] == 4


def test_when_no_clip_can_be_read_the_run_is_one_error_line_and_writes_nothing(clips, cli):
    for rel in ("a/low.wav", "a/mid.wav", "b/high.wav"):
        _truncate(clips / "src" / rel, 44)
    line = one_error_line(cli("augment", clips / "m.parquet", "--recipe", clips / "r.yaml", "-o", clips / "o",
                              "--all-rows"))
    assert "none of the 3 sources to augment could be read" in line and "a/low.wav" in line
    assert not (clips / "o").exists()
