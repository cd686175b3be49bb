from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


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
