from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import one_error_line

HEAVY = ["torch", "albumentations", "librosa", "nlpaug", "great_expectations", "dask", "pandas"]


COMMANDS = ("ingest", "profile", "validate", "clean", "split", "augment", "train", "card", "run")


def test_help_lists_every_command(cli):
    r = cli("--help")
    assert r.code == 0
    listed = [line.split()[0] for line in r.out[r.out.index("Commands:"):].splitlines()[1:] if line.startswith("  ") and not line.startswith("   ")]
    assert listed == list(COMMANDS)


def test_version(cli):
    from curaug import __version__

    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"curaug {__version__}"


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




def test_help_gives_every_summary_whole_in_pipeline_order(cli):
    from pipelines.cli import cli as group

    text = " ".join(cli("--help").out.split())
    assert "..." not in text[text.index("Commands:"):]
    at = [text.index(f" {name} ", text.index("Commands:")) for name in COMMANDS]
    assert at == sorted(at)
    for name in COMMANDS:
        assert group.commands[name].get_short_help_str(10_000) in text


def test_label_defaults_to_label_everywhere(cli, tmp_path):
    for name in ("profile", "validate", "clean", "split", "augment"):
        assert "[default: label]" in " ".join(cli(name, "--help").out.split()), name
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": range(20), "label": list("ab") * 10}).to_csv(data, index=False)
    r = cli("split", data, "-o", tmp_path / "s.csv")
    assert r.code == 0, r.err
    split = pd.read_csv(tmp_path / "s.csv")
    assert pd.crosstab(split["label"], split["split"]).to_dict() == {"test": {"a": 2, "b": 2}, "train": {"a": 6, "b": 6},
                                                                     "val": {"a": 2, "b": 2}}
    pd.DataFrame({"x": range(4), "y": list("abab")}).to_csv(tmp_path / "y.csv", index=False)
    assert "--label 'label': no such column" in one_error_line(cli("split", tmp_path / "y.csv", "-o", tmp_path / "t.csv"))


def test_an_internal_error_exits_3_in_one_line_and_debug_after_the_command_shows_it(cli, sample, monkeypatch):
    import curate.profile

    def broken(*args, **kwargs):
        raise KeyError("row")

    monkeypatch.setattr(curate.profile, "profile", broken)
    r = cli("profile", sample / "penguins.csv")
    assert r.code == 3 and r.out == ""
    assert r.err == "internal error: KeyError: 'row' (rerun with --debug for the traceback)\n"
    r = cli("profile", sample / "penguins.csv", "--debug")
    assert r.code == 3 and "Traceback" in r.err and "in broken" in r.err
    assert r.err.rstrip().endswith("internal error: KeyError: 'row' (rerun with --debug for the traceback)")


def test_debug_is_accepted_after_the_command(cli, sample):
    r = cli("profile", sample / "penguins.csv", "--label", "species", "--debug")
    assert r.code == 0 and "imbalance ratio 2.25" in r.out
    r = cli("profile", sample / "nope.csv", "--debug")
    assert r.code == 2 and "Traceback" in r.err and r.err.rstrip().splitlines()[-1].startswith("error: ")


def test_library_errors_show_the_flag_of_the_parameter_they_name(cli, sample, tmp_path, monkeypatch):
    import curate.split.splitters
    from curate.errors import CuraugError

    def refuse(*args, **kwargs):
        raise CuraugError("folds=9 is more than the smallest class (Chinstrap: 68 rows); multilabel_sep=None",
                          param="folds")

    monkeypatch.setattr(curate.split.splitters, "split_frame", refuse)
    line = one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--folds", "9",
                              "-o", tmp_path / "o.csv"))
    assert line == "error: --folds 9 is more than the smallest class (Chinstrap: 68 rows); --multilabel-sep None"
    assert not (tmp_path / "o.csv").exists()


def test_bad_ratios_name_the_flag(cli, sample, tmp_path):
    line = one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--ratios", "0.5,0.5",
                              "-o", tmp_path / "o.csv"))
    assert "--ratios" in line and "ratios=" not in line


@pytest.fixture
def tiny_images(tmp_path):
    """Three train images in a manifest, and a recipe: an augment run in a blink."""
    from PIL import Image

    root = tmp_path / "img"
    root.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(root / f"{i}.png")
    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"id": ["0", "1", "2"], "label": ["a", "a", "b"], "root": ["img"] * 3,
                  "path": [f"{i}.png" for i in range(3)], "split": ["train"] * 3}).to_parquet(manifest)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: image\ncopies: 2\ntransforms:\n  - HorizontalFlip: {}\n")
    return manifest, recipe


def _figure_runs(sample, tiny, tmp_path):
    manifest, recipe = tiny
    return {
        "profile": (["profile", sample / "penguins.csv", "--label", "species"], lambda j: j["rows"] == 345),
        "validate": (["validate", sample / "penguins.csv", "--rules", sample / "penguins.rules.yaml"],
                     lambda j: j["success"] is False and j["statistics"]["evaluated"] == len(j["checks"])),
        "clean": (["clean", sample / "penguins.csv", "--rules", sample / "penguins.rules.yaml", "-o",
                   tmp_path / "c.csv"], lambda j: j["rows_in"] == 345 and j["rows_out"] == len(pd.read_csv(tmp_path / "c.csv"))),
        "split": (["split", sample / "penguins.csv", "--label", "species", "-o", tmp_path / "s.csv"],
                  lambda j: sum(j["sizes"].values()) == 345),
        "augment": (["augment", manifest, "--recipe", recipe, "-o", tmp_path / "aug"],
                    lambda j: j["made"] == 6 and j["train_rows"] == 3),
    }


@pytest.mark.parametrize("command", ["profile", "validate", "clean", "split", "augment"])
def test_json_on_every_command_that_computes_figures(cli, sample, tiny_images, tmp_path, command):
    args, holds = _figure_runs(sample, tiny_images, tmp_path)[command]
    r = cli(*args, "--json", tmp_path / "f.json")
    assert r.code in (0, 1), r.err
    written = json.loads((tmp_path / "f.json").read_text())
    assert holds(written)
    assert f"wrote {tmp_path / 'f.json'} (JSON figures)" in r.out.splitlines()
    r = cli(*args, "--json", "-")
    assert r.code in (0, 1), r.err
    shown = json.loads(r.out)  # stdout is the JSON alone; what was written is said on stderr
    assert holds(shown)
    assert ("wrote " in r.err) == (command in ("clean", "split", "augment"))
    drop = {"seconds", "per_second", "resumed"}  # timings, and augment's second run resumes the first
    assert {k: v for k, v in shown.items() if k not in drop} == {k: v for k, v in written.items() if k not in drop}


def test_every_command_says_where_each_output_went(cli, sample, tiny_images, tmp_path):
    out = tmp_path / "out"
    r = cli("ingest", sample / "penguins.csv", "-o", out / "p.parquet")
    assert r.code == 0 and f"wrote {out / 'p.parquet'} (manifest)" in r.out.splitlines()
    r = cli("validate", out / "p.parquet", "--label", "species", "--json", out / "v.json", "--report", out / "v.html",
            "--junit", out / "v.xml", "--export-gx", out / "gx")
    lines = [line for line in r.out.splitlines() if line.startswith("wrote ")]
    assert lines == [f"wrote {out / 'gx' / 'curaug.json'} (GX expectation suite)",
                     f"wrote {out / 'v.json'} (JSON figures)", f"wrote {out / 'v.html'} (HTML report)",
                     f"wrote {out / 'v.xml'} (JUnit XML)"]
    rules = tmp_path / "n.yaml"
    rules.write_text("clean: [drop_duplicates]\nnormalize: {method: zscore, columns: [body_mass_g]}\n")
    r = cli("clean", out / "p.parquet", "--rules", rules, "-o", out / "c.parquet", "--log", out / "c.jsonl")
    assert [line for line in r.out.splitlines() if line.startswith("wrote ")] == [
        f"wrote {out / 'c.normalize.json'} (normaliser parameters)", f"wrote {out / 'c.parquet'} (cleaned table)",
        f"wrote {out / 'c.jsonl'} (change log)"]
    r = cli("split", out / "c.parquet", "--label", "species", "-o", out / "s.parquet", "--lock", out / "s.lock")
    assert [line for line in r.out.splitlines() if line.startswith("wrote ")] == [
        f"wrote {out / 's.parquet'} (table with split and fold)", f"wrote {out / 's.lock'} (split lock)"]
    r = cli("validate", out / "s.parquet", "--label", "species", "--lock", out / "s.lock")
    assert r.code in (0, 1) and "wrote " not in r.out  # a lock it reads is no output
    manifest, recipe = tiny_images
    r = cli("augment", manifest, "--recipe", recipe, "-o", out / "aug")
    assert r.out.splitlines()[-1] == f"wrote {out / 'aug' / 'manifest.parquet'} (manifest; the new files are in its folder)"
    for path in (out / "p.parquet", out / "v.html", out / "c.jsonl", out / "s.lock", out / "aug" / "manifest.parquet"):
        assert path.is_file()


def _output_cases(sample, tiny):
    manifest, recipe = tiny
    penguins, rules = sample / "penguins.csv", sample / "penguins.rules.yaml"
    return [
        (["ingest", penguins], "-o", "out.parquet"),
        (["profile", penguins], "--json", "p.json"),
        (["validate", penguins], "--json", "v.json"),
        (["validate", penguins], "--report", "v.html"),
        (["validate", penguins], "--junit", "v.xml"),
        (["validate", penguins], "--export-gx", "gx"),
        (["clean", penguins, "--rules", rules], "-o", "c.csv"),
        (["clean", penguins, "--rules", rules, "-o", "{tmp}/c.csv"], "--log", "c.jsonl"),
        (["split", penguins, "--label", "species"], "-o", "s.csv"),
        (["split", penguins, "--label", "species", "-o", "{tmp}/s.csv"], "--lock", "s.lock"),
        (["split", penguins, "--label", "species", "-o", "{tmp}/s.csv"], "--json", "s.json"),
        (["augment", manifest, "--recipe", recipe], "-o", "aug"),
        (["augment", manifest, "--recipe", recipe, "-o", "{tmp}/aug"], "--json", "a.json"),
    ]


def test_an_output_under_an_existing_file_is_refused_before_any_work(cli, sample, tiny_images, tmp_path):
    blocker = tmp_path / "data.csv"
    blocker.write_text("a\n1\n")
    for args, option, name in _output_cases(sample, tiny_images):
        before = sorted(p.name for p in tmp_path.rglob("*"))
        args = [str(a).replace("{tmp}", str(tmp_path)) for a in args]
        line = one_error_line(cli(*args, option, blocker / name))
        assert f"{blocker / name}: {blocker} is a file" in line, (args, option, line)
        assert option in line or (option == "-o" and "--output" in line)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, (args, option)  # nothing written
    assert blocker.read_text() == "a\n1\n"
    assert "expected a .json file" in one_error_line(cli("profile", sample / "penguins.csv", "--json", tmp_path / "p.txt"))
    (tmp_path / "folder.csv").mkdir()
    assert "is a folder" in one_error_line(cli("ingest", sample / "penguins.csv", "-o", tmp_path / "folder.csv"))


def test_one_spelling_per_idea_with_the_old_ones_kept():
    """``--workers`` is the number of parallel workers in every command (train's search
    included, ``--search-workers`` kept as its old name); train's out-of-fold switch is
    ``--oof-probs`` (``--folds`` kept), since ``split --folds K`` is a number of folds."""
    from pipelines.cli import cli as group

    train = group.commands["train"]
    parent = group.make_context("curaug", ["train"])  # the group's context settings (-h) reach the command
    for args, workers, oof in ((["--workers", "3", "--oof-probs"], 3, True),
                               (["--search-workers", "2", "--folds"], 2, True), ([], 1, False)):
        params = train.make_context("train", ["m.parquet", "-o", "run", *args], parent=parent).params
        assert (params["search_workers"], params["folds"]) == (workers, oof)
    assert all("--workers" in {o for p in group.commands[name].params for o in p.opts}
               for name in ("ingest", "augment", "train"))


def test_shares_print_alike_everywhere():
    from pipelines.console.rounding import figure, share

    assert [share(1), share(0.98571), share(-0.0, signed=True), share(-0.0004)] == ["1.000", "0.986", "+0.000", "0.000"]
    assert figure(-0.0) == "0" and figure(-0.25) == "-0.25"
