from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from pipelines.cli import main

# Property tests draw the same examples on every run, so CI never fails on a case nobody
# saw before; HYPOTHESIS_PROFILE=explore draws new ones (and keeps failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The tests train tiny models: one torch thread. Two threads' hand-offs cost more than
    the work, and on a busy 2-core machine they make a one-second fit take a minute."""
    try:
        import torch
    except ImportError:  # the suite without the train extra
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own ingest cache, so cache hits never leak between tests."""
    monkeypatch.setenv("CURAUG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run ``curaug ARGS`` in-process; return exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def sample() -> Path:
    return SAMPLE


@pytest.fixture
def image_tree(tmp_path) -> Path:
    """A writable copy of the sample image tree."""
    dst = tmp_path / "images"
    shutil.copytree(SAMPLE / "images", dst)
    return dst


def one_error_line(result: Result) -> str:
    """Assert the CLI's bad-input contract (exit 2, one error line, no traceback); return it."""
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    return lines[0]


def one_internal_error_line(result: Result) -> str:
    """Assert the CLI's contract for a failure that is not the input's (exit 3, one
    ``internal error: ...`` line with the --debug hint, no traceback); return it."""
    assert result.code == 3, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("internal error: ") and lines[0].endswith("(rerun with --debug for the traceback)")
    assert "Traceback" not in result.err
    return lines[0]


RECIPE = """modality: image
copies: 2
transforms:
  - HorizontalFlip: {p: 0.5}
  - Rotate: {limit: [-20, 20], p: 0.8}
  - RandomBrightnessContrast: {brightness_limit: 0.2, p: 0.5}
  - OneOf: {transforms: [{GaussianBlur: {blur_limit: [3, 5]}}, {noise: {psnr: [25, 35], kind: [gaussian, speckle]}}], p: 0.5}
  - copy_paste: {p: 0.4, blend: [alpha, poisson]}
"""


@pytest.fixture(scope="session")
def split_manifest(tmp_path_factory):
    """The sample digits, ingested and split 60/20/20 (made once per run: ingest is the slow part)."""
    from curate.io.ingest import ingest
    from curate.io.manifest import save_manifest
    from curate.split.splitters import split_frame

    root = tmp_path_factory.mktemp("aug")
    m = ingest(str(SAMPLE / "images"), use_cache=False).manifest
    ok = m["status"] == "ok"
    m["split"] = pd.Series(pd.NA, index=m.index, dtype="string")
    m.loc[ok, "split"] = split_frame(m[ok], "label", seed=0).split
    save_manifest(m, root / "split.parquet")
    (root / "recipe.yaml").write_text(RECIPE)
    return root
