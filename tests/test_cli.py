from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import one_error_line

HEAVY = ["torch", "albumentations", "librosa", "nlpaug", "great_expectations", "dask", "pandas"]


def test_help_lists_every_command(cli):
    r = cli("--help")
    assert r.code == 0
    for name in ("ingest", "profile", "validate", "clean", "split", "augment", "train", "run"):
        assert name in r.out


def test_version(cli):
    from curaug import __version__

    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"curaug {__version__}"


@pytest.mark.parametrize("command", ["train", "run"])
def test_commands_not_landed_say_so(cli, command):
    msg = one_error_line(cli(command, "x", "--anything"))
    assert "not available yet" in msg


def test_usage_errors_are_one_line(cli):
    assert "No such option '--bogus'" in one_error_line(cli("profile", "--bogus", "x"))
    assert "No such command 'frobnicate'" in one_error_line(cli("frobnicate"))
    assert "Missing option '-o'" in one_error_line(cli("ingest", "x"))


def test_help_and_import_stay_light():
    code = (
        "import sys, curaug; from pipelines.cli import main; rc = main(['--help']); "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print('HEAVY', heavy); sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_console_script_runs(tmp_path):
    exe = subprocess.run([sys.executable, "-c", "import shutil; print(shutil.which('curaug') or '')"],
                         capture_output=True, text=True).stdout.strip()
    cmd = [exe] if exe else [sys.executable, "-m", "pipelines.cli"]
    r = subprocess.run([*cmd, "profile", str(tmp_path / "missing.csv")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pipelines.cli", "--debug", "profile", str(tmp_path / "x.csv")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr and "CuraugError" in r.stderr
