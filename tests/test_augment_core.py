"""The augment core: planning, seeds, resume, engines, recipe errors and the plugin contract."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import one_error_line, one_internal_error_line

def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".curaug" not in p.parts
            and p.name not in ("manifest.parquet", "summary.json")}


def test_copies_only_for_train_and_byte_identical_across_workers_and_dask(cli, split_manifest, tmp_path):
    src, recipe = split_manifest / "split.parquet", split_manifest / "recipe.yaml"
    r = cli("augment", src, "--recipe", recipe, "-o", tmp_path / "one", "--seed", "7")
    assert r.code == 0, r.err
    from curate.io.manifest import load_data

    inp = load_data(src)  # roots resolved: each manifest stores them relative to its own folder
    out = load_data(tmp_path / "one" / "manifest.parquet")
    train = inp[(inp["split"] == "train") & (inp["status"] == "ok")]
    added = out[out["source_id"].notna()]
    assert len(added) == 2 * len(train)
    assert (added["source_id"].value_counts() == 2).all() and set(added["source_id"]) == set(train["id"])
    assert (added["split"] == "train").all() and (added["root"] == str((tmp_path / "one").resolve())).all()
    assert (pd.read_parquet(tmp_path / "one" / "manifest.parquet")["root"].iloc[len(inp):] == ".").all()
    assert (added.set_index("source_id")["label"] == train.set_index("id")["label"].reindex(added["source_id"])).all()
    kept = out.iloc[: len(inp)]
    pd.testing.assert_frame_equal(kept[inp.columns].reset_index(drop=True), inp, check_dtype=False)
    for rel in added["path"]:
        assert (tmp_path / "one" / rel).is_file()
    assert "made per class" in r.out
    assert cli("augment", src, "--recipe", recipe, "-o", tmp_path / "two", "--seed", "7", "--workers", "2").code == 0
    assert cli("augment", src, "--recipe", recipe, "-o", tmp_path / "dask", "--seed", "7", "--engine", "dask",
               "--workers", "2").code == 0
    one = _files(tmp_path / "one")
    assert len(one) == len(added)
    assert one == _files(tmp_path / "two") == _files(tmp_path / "dask")
    other_seed = tmp_path / "other"
    assert cli("augment", src, "--recipe", recipe, "-o", other_seed, "--seed", "8").code == 0
    assert _files(other_seed) != one


def test_balance_equalises_train_classes(cli, split_manifest, tmp_path):
    recipe = tmp_path / "b.yaml"
    recipe.write_text("modality: image\nbalance: {target: max}\ntransforms:\n  - Rotate: {limit: 10}\n")
    r = cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", tmp_path / "o")
    assert r.code == 0, r.err
    m = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    train = m[(m["split"] == "train") & (m["status"] == "ok")]
    counts = train["label"].value_counts()
    assert counts.nunique() == 1, counts.to_dict()
    before = m[(m["split"] == "train") & (m["status"] == "ok") & m["source_id"].isna()]["label"].value_counts()
    assert counts.iloc[0] == before.max()
    assert f"{before.idxmin()} {before.max() - before.min()}" in r.out  # made per class
    r = cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml",
            "-o", tmp_path / "p", "--balance")
    assert r.code == 0
    counts = pd.read_parquet(tmp_path / "p" / "manifest.parquet").query("split == 'train'")["label"].value_counts()
    assert counts.nunique() == 1


def test_resume_redoes_only_what_is_missing_and_refuses_other_settings(cli, split_manifest, tmp_path):
    args = ["augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml", "-o",
            tmp_path / "o", "--seed", "5"]
    assert cli(*args).code == 0
    full = _files(tmp_path / "o")
    # damage as a crash would leave it: files gone, a worker's log cut mid-line
    gone = sorted(full)[::3]
    for rel in gone:
        (tmp_path / "o" / rel).unlink()
    log, = (tmp_path / "o" / ".curaug" / "progress").glob("*.jsonl")
    lines = log.read_text().splitlines()
    cut = len(lines) // 2
    log.write_text("\n".join(lines[:cut]) + "\n" + lines[cut][:40])
    lost = {json.loads(line)["job"]["path"] for line in lines[cut:]} | set(gone)
    untouched = {rel: _stamp(tmp_path / "o" / rel) for rel in full if rel not in lost}
    (tmp_path / "o" / "manifest.parquet").unlink()
    r = cli(*args)
    assert r.code == 0 and f"{len(full) - len(lost)} already done (resumed)" in r.out
    assert _files(tmp_path / "o") == full
    assert {rel: _stamp(tmp_path / "o" / rel) for rel in untouched} == untouched  # not rewritten
    assert "other settings" in one_error_line(cli(*args[:-1], "6"))


def test_recipe_errors_name_file_line_and_key(cli, split_manifest, tmp_path):
    src = split_manifest / "split.parquet"
    bad = tmp_path / "bad.yaml"
    cases = {  # the recipe's own findings in full; the image plugin's by their place and the value at fault
        "modality: image\ntransforms:\n  - HorizontalFlp: {}\n":
            ["line 3: transforms.0.HorizontalFlp: ", "did you mean 'HorizontalFlip'"],
        "modality: image\ntransforms:\n  - Rotate: {limt: 10}\n":
            ["line 3: transforms.0.Rotate", "'limt'", "did you mean 'limit'"],
        "modality: image\ntransforms:\n  - HorizontalFlip: {}\n  - OneOf:\n      transforms:\n"
        "        - GaussianBlur: {}\n        - noise: {kind: pink}\n":
            ["line 7: transforms.1.OneOf.transforms.1.noise.kind: ", "pink"],
        "modality: image\ntransforms:\n  - noise:\n      psnr: [30, 20]\n":
            ["line 4: transforms.0.noise.psnr: range [30, 20] has lo > hi"],
        "modality: image\ntransforms:\n  - OneOf: {p: 0.5}\n": ["line 3: transforms.0.OneOf: needs 'transforms"],
        "modality: image\ncopise: 2\n": ["line 2: unknown key 'copise'"],
        "modality: imgae\ntransforms: [HorizontalFlip]\n":
            ["line 1: modality: no augmentation plugin for 'imgae' (did you mean 'image'?)"],
        "modality: image\ncopies: 1\nbalance: {target: max}\ntransforms: [HorizontalFlip]\n": ["not both"],
        "modality: image\ncopies: 2\ntransforms: []\n":
            ["line 3: transforms: empty; list at least one transform or choose a preset"],
        "modality: image\ncopies: 2\n": ["transforms: empty"],
    }
    for text, expected in cases.items():
        bad.write_text(text)
        line = one_error_line(cli("augment", src, "--recipe", bad, "-o", tmp_path / "never"))
        assert line.startswith(f"error: {bad}") and all(part in line for part in expected), (text, line)
    # a bad value of a backend parameter: the backend's words about it, at the transform in the file
    bad.write_text("modality: image\ntransforms:\n  - HorizontalFlip: {}\n  - Rotate:\n      p: 0.5\n      limit: abc\n")
    line = one_error_line(cli("augment", src, "--recipe", bad, "-o", tmp_path / "never"))
    assert line.startswith(f"error: {bad} line ") and "transforms.1.Rotate" in line and "limit" in line, line
    assert not (tmp_path / "never").exists()
    assert "--copies or --balance" in one_error_line(
        cli("augment", src, "--recipe", split_manifest / "recipe.yaml", "-o", tmp_path / "x", "--copies", "1",
            "--balance"))


def test_no_global_rng_is_touched(split_manifest, tmp_path):
    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest
    from curate.io.manifest import load_data

    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    augment_manifest(load_data(split_manifest / "split.parquet"), load_recipe(split_manifest / "recipe.yaml"),
                     tmp_path / "o", seed=1)
    assert (np.random.get_state()[1] == before_np).all() and random.getstate() == before_py


def test_every_copy_differs_from_its_source(cli, split_manifest, tmp_path):
    recipe = tmp_path / "sparse.yaml"
    recipe.write_text("modality: image\ncopies: 3\ntransforms:\n  - HorizontalFlip: {p: 0.2}\n  - VerticalFlip: {p: 0.2}\n")
    assert cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", tmp_path / "o").code == 0
    m = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    added = m[m["source_id"].notna()]
    assert all(json.loads(a)["plan"] for a in added["augment"])  # no empty draw was kept
    assert not set(added["sha256"]) & set(m.loc[m["source_id"].isna(), "sha256"].dropna())


def test_unreachable_dask_scheduler_is_one_line_and_leaves_nothing(cli, split_manifest, tmp_path):
    # not the input's fault: a cluster failure, exit 3
    line = one_internal_error_line(cli("augment", split_manifest / "split.parquet", "--recipe",
                                       split_manifest / "recipe.yaml", "-o", tmp_path / "o", "--engine", "dask",
                                       "--scheduler", "tcp://127.0.0.1:9"))
    assert "ClusterError: cannot reach the Dask scheduler tcp://127.0.0.1:9" in line
    assert not (tmp_path / "o").exists()
    assert "--scheduler needs --engine dask" in one_error_line(
        cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml", "-o",
            tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9"))


def test_bad_manifests_are_one_line_errors_and_write_nothing(cli, sample, split_manifest, tmp_path):
    recipe = split_manifest / "recipe.yaml"
    assert "root and path columns" in one_error_line(cli("augment", sample / "penguins.csv", "--recipe", recipe,
                                                         "-o", tmp_path / "a"))
    audio = tmp_path / "audio.parquet"
    assert cli("ingest", sample / "audio", "-o", audio).code == 0
    assert "no usable image rows to augment" in one_error_line(
        cli("augment", audio, "--recipe", recipe, "-o", tmp_path / "b", "--all-rows"))
    (tmp_path / "sound.yaml").write_text("modality: tabular\ntransforms: [gain]\n")
    assert "no augmentation plugin for 'tabular'" in one_error_line(
        cli("augment", audio, "--recipe", tmp_path / "sound.yaml", "-o", tmp_path / "c"))
    assert f"{recipe} is a file" in one_error_line(  # -o inside a file
        cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", recipe / "out"))
    assert not any((tmp_path / d).exists() for d in "abc")
    assert recipe.is_file()


def test_a_manifest_without_splits_needs_all_rows(cli, split_manifest, tmp_path):
    from curate.io.manifest import load_data, save_manifest

    df = load_data(split_manifest / "split.parquet")
    save_manifest(df.drop(columns="split"), tmp_path / "nosplit.parquet")
    args = ["augment", tmp_path / "nosplit.parquet", "--recipe", split_manifest / "recipe.yaml", "-o", tmp_path / "o",
            "--copies", "1"]
    line = one_error_line(cli(*args))
    assert "no 'split' column" in line and "--all-rows" in line and not (tmp_path / "o").exists()
    r = cli(*args, "--all-rows")
    assert r.code == 0, r.err
    added = pd.read_parquet(tmp_path / "o" / "manifest.parquet").query("source_id.notna()")
    assert set(added["source_id"]) == set(df.loc[df["status"] == "ok", "id"])  # val and test rows too


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_image_truncated_after_ingest_is_skipped_and_named_and_the_run_goes_on(cli, sample, tmp_path, workers):
    import shutil

    for rel in ("0/digit_0000.png", "0/digit_0010.png", "1/digit_0001.png"):
        (tmp_path / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample / "images" / rel, tmp_path / "src" / rel)
    assert cli("ingest", tmp_path / "src", "-o", tmp_path / "m.parquet").code == 0
    cut = tmp_path / "src" / "0" / "digit_0010.png"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # PIL: "image file is truncated"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: image\ncopies: 2\ntransforms:\n  - Rotate: {limit: [5, 10]}\n")
    r = cli("augment", tmp_path / "m.parquet", "--recipe", recipe, "-o", tmp_path / "o", "--all-rows",
            "--workers", workers)
    assert r.code == 0, r.err
    assert "augmented 4 samples" in r.out and "2 skipped: source unreadable since ingest" in r.out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert list(summary["unreadable_sources"]) == ["0/digit_0010.png"]
    assert "truncated" in summary["unreadable_sources"]["0/digit_0010.png"]
    added = pd.read_parquet(tmp_path / "o" / "manifest.parquet").query("source_id.notna()")
    assert sorted(added["source_id"]) == ["0/digit_0000.png"] * 2 + ["1/digit_0001.png"] * 2
    assert sorted(p.name for p in (tmp_path / "o").rglob("*.png")) == [
        "digit_0000__aug0.png", "digit_0000__aug1.png", "digit_0001__aug0.png", "digit_0001__aug1.png"]


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


# ------------------------------------------------------------------ a plugin that is not about images

LINES_PLUGIN = '''
"""A third party's plugin for text files (modality "lines"), installed with an entry point."""

import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from augment.plugin import Output, Plugin
from augment.recipe import Recipe
from curate.errors import CuraugError

TRANSFORMS = {"reverse": (), "shout": (), "repeat": ("times",)}


class LinesRecipe(Recipe):
    joiner: str = " "  # a key of this modality's recipes alone


class LinesPlugin(Plugin):
    modality = "lines"
    recipe_model = LinesRecipe
    presets = {"mirror": [{"reverse": {}}]}
    loads = 0  # sources read by this process

    def versions(self):
        return {"lines_plugin": "0.1"}

    def check(self, steps):
        for step in steps:
            if step.name not in TRANSFORMS:
                raise CuraugError(f"{step.name}: unknown lines transform")
            for key, value in step.params.items():
                if key not in TRANSFORMS[step.name]:
                    raise CuraugError(f"{step.name}.{key}: unknown parameter")
                if not all(isinstance(v, int) and v > 0 for v in (value if isinstance(value, list) else [value])):
                    raise CuraugError(f"{step.name}.{key}: value {value!r} is not a positive integer")

    def draw(self, steps, rng, ctx, row):
        plan = []
        for step in steps:
            if rng.random() < step.p:
                params = {k: int(rng.integers(v[0], v[1] + 1)) if isinstance(v, list) else v
                          for k, v in step.params.items()}
                plan.append({"name": step.name, "params": params})
        return plan

    def load(self, row, ctx):
        if row["id"] == os.environ.get("LINES_INTERRUPT_AT"):  # Ctrl-C while this source is read
            written = Path(os.environ.get("LINES_INTERRUPT_AFTER", "."))
            for _ in range(300):  # parallel engines: once an earlier sample is whole, so a rerun has one to keep
                if any(written.rglob("*.counts.json")):
                    break
                time.sleep(0.1)
            parent = multiprocessing.parent_process()
            os.kill(parent.pid if parent else os.getpid(), signal.SIGINT)
            threading.Event().wait(60)  # a long job: a stopped run ends it rather than wait for it
            raise RuntimeError("still running a minute after Ctrl-C")
        type(self).loads += 1
        return (Path(row["root"]) / row["path"]).read_text(encoding="utf-8").split()

    def apply(self, words, plan, seed, ctx):
        rng = np.random.default_rng(seed)
        out, applied = list(words), []
        for step in plan:
            if step["name"] == "reverse":
                out = out[::-1]
            elif step["name"] == "shout":
                k = int(rng.integers(len(out)))  # drawn by the "backend": recorded as applied
                out[k] = out[k].upper()
                applied.append({"name": "shout", "word": k})
            else:
                out = out * step["params"]["times"]
        return out, applied

    def extension(self, row, fmt):
        return ".txt"

    def output(self, words, applied, path, ctx):
        counts = os.path.splitext(path)[0] + ".counts.json"
        return Output({path: (ctx.recipe.joiner.join(words) + "\\n").encode(), counts: json.dumps({"words": len(words)}).encode()},
                      {"words": len(words), "counts_path": counts}, applied)
'''
LINES_RECIPE = "modality: lines\ncopies: 3\ntransforms:\n  - reverse: {p: 0.5}\n  - shout: {p: 0.7}\n" \
               "  - repeat: {times: [1, 3], p: 0.5}\n"
WORDS = "the quick brown fox jumps over a lazy dog again".split()


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    """The plugin installed as a package would be (module + dist-info with its entry point),
    a manifest of eight text files (six in train) and a recipe; the plugin also registered
    in this process, for the tests that run the CLI in-process."""
    import importlib
    import sys

    from augment.plugin import REGISTRY, register_plugin

    root = tmp_path_factory.mktemp("lines")
    (root / "site" / "lines_plugin").mkdir(parents=True)
    (root / "site" / "lines_plugin" / "__init__.py").write_text(LINES_PLUGIN)
    info = root / "site" / "lines_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lines-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[curaug.plugins]\nlines = lines_plugin:LinesPlugin\n")
    rows = []
    for i in range(8):
        rel = f"{'ab'[i % 2]}/t{i}.txt"
        (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / rel).write_text(" ".join(random.Random(i).sample(WORDS, 5)) + "\n")
        rows.append({"id": rel, "label": "ab"[i % 2], "root": str(root / "data"), "path": rel, "modality": "lines",
                     "status": "ok", "split": "train" if i < 6 else "val"})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    (root / "recipe.yaml").write_text(LINES_RECIPE)
    sys.path.insert(0, str(root / "site"))  # spawned Dask workers start with this process's sys.path
    plugin = importlib.import_module("lines_plugin")
    if "lines" not in REGISTRY:
        register_plugin(plugin.LinesPlugin)
    yield root
    sys.path.remove(str(root / "site"))


@pytest.fixture(scope="module")
def lines_reference(lines, tmp_path_factory):
    """One uninterrupted run on one process: what every other run must reproduce."""
    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest
    from curate.io.manifest import load_data

    out = tmp_path_factory.mktemp("lines_ref") / "o"
    augment_manifest(load_data(lines / "manifest.csv"), load_recipe(lines / "recipe.yaml"), out, seed=3)
    return out


def _corpus(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".curaug" not in p.parts and p.name not in ("manifest.parquet", "summary.json")}


def test_a_third_party_plugin_runs_through_its_entry_point_on_every_engine(lines, tmp_path):
    """A fresh `curaug augment` process finds the plugin by its entry point, and so do the
    pool's forked workers and the Dask workers; the runner knows nothing of text."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lines / "site"), str(Path(__file__).parent.parent)])}
    corpora = {}
    for name, extra in {"serial": [], "pool": ["--workers", "2"], "dask": ["--engine", "dask", "--workers", "2"]}.items():
        r = subprocess.run([sys.executable, "-m", "pipelines.cli", "augment", str(lines / "manifest.csv"), "--recipe",
                            str(lines / "recipe.yaml"), "-o", str(tmp_path / name), "--seed", "3", *extra],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert "augmented 18 samples from 6 train rows" in r.stdout
        corpora[name] = _corpus(tmp_path / name)
    assert corpora["serial"] == corpora["pool"] == corpora["dask"]
    texts = {rel: data for rel, data in corpora["serial"].items() if rel.endswith(".txt")}
    assert len(texts) == 18 and len(corpora["serial"]) == 36  # each copy wrote its side file too
    m = pd.read_parquet(tmp_path / "dask" / "manifest.parquet")
    added = m[m["source_id"].notna()]
    assert len(m) == 8 + 18 and (added["source_id"].value_counts() == 3).all()
    assert set(added["source_id"]) == {f"{'ab'[i % 2]}/t{i}.txt" for i in range(6)}
    for _, row in added.iterrows():
        text = (tmp_path / "dask" / row["path"]).read_text()
        assert row["words"] == len(text.split()) == json.loads((tmp_path / "dask" / row["counts_path"]).read_text())["words"]
        assert row["sha256"] == hashlib.sha256(text.encode()).hexdigest() and row["modality"] == "lines"
        prov = json.loads(row["augment"])
        assert prov["plugin"] == "lines" and prov["versions"]["lines_plugin"] == "0.1" and prov["plan"]
        assert [a["name"] for a in prov["applied"]] == [p["name"] for p in prov["plan"] if p["name"] == "shout"]
    assert (m.loc[m["source_id"].isna(), "words"].isna()).all()  # the input rows pass through unchanged
    some = added["id"].iloc[4]
    r = subprocess.run([sys.executable, "-m", "pipelines.cli", "augment", str(lines / "manifest.csv"), "-o",
                        str(tmp_path / "pool"), "--replay", some], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "identical" in r.stdout, r.stdout + r.stderr


def test_a_plugin_brings_its_own_recipe_keys_and_presets(cli, lines, tmp_path):
    """A fourth modality declares its recipe keys and presets on its plugin: no shared file
    knows them, and the recipe checks hold them to the same errors as the built-in ones."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: lines\ncopies: 1\npreset: mirror\njoiner: '-'\n")
    assert cli("augment", lines / "manifest.csv", "--recipe", recipe, "-o", tmp_path / "o").code == 0
    made = pd.read_parquet(tmp_path / "o" / "manifest.parquet").dropna(subset=["source_id"])
    first = made.iloc[0]
    words = (lines / "data" / first["source_id"]).read_text().split()
    assert (tmp_path / "o" / first["path"]).read_text() == "-".join(reversed(words)) + "\n"
    recipe.write_text("modality: lines\ncopies: 1\npreset: light\n")
    assert "unknown preset 'light' (known: mirror)" in one_error_line(
        cli("augment", lines / "manifest.csv", "--recipe", recipe, "-o", tmp_path / "p"))
    recipe.write_text("modality: image\ncopies: 1\njoiner: '-'\ntransforms: [HorizontalFlip]\n")
    assert "'joiner' is for lines recipes (this one is image)" in one_error_line(
        cli("augment", lines / "manifest.csv", "--recipe", recipe, "-o", tmp_path / "q"))
    recipe.write_text("modality: lines\ncopies: 1\njoinr: '-'\ntransforms: [reverse]\n")
    assert "unknown key 'joinr' at joinr (did you mean 'joiner'?)" in one_error_line(
        cli("augment", lines / "manifest.csv", "--recipe", recipe, "-o", tmp_path / "r"))


def test_each_source_is_loaded_once_for_all_its_copies(cli, lines, tmp_path):
    import lines_plugin

    before = lines_plugin.LinesPlugin.loads
    assert cli("augment", lines / "manifest.csv", "--recipe", lines / "recipe.yaml", "-o", tmp_path / "o").code == 0
    assert lines_plugin.LinesPlugin.loads - before == 6  # six train rows, three copies each


@pytest.mark.parametrize("engine", [["--workers", "1"], ["--workers", "2"], ["--engine", "dask", "--workers", "2"]],
                         ids=["serial", "pool", "dask"])
def test_ctrl_c_stops_keeps_whole_files_and_a_rerun_redoes_nothing(cli, lines, lines_reference, tmp_path, monkeypatch,
                                                                    engine, request):
    """Ctrl-C arrives while a source is being read (and that job would run for a minute):
    the run stops, says what it wrote, leaves only whole files; the rerun finishes the
    corpus without touching them, byte for byte as an uninterrupted run."""
    import gc
    import signal

    # Ctrl-C as in a terminal: a suite started in the background inherits SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    args = ["augment", lines / "manifest.csv", "--recipe", lines / "recipe.yaml", "-o", tmp_path / "o", "--seed", "3",
            *engine]
    frozen = gc.get_freeze_count()
    monkeypatch.setenv("LINES_INTERRUPT_AT", "b/t3.txt")  # the fourth of six train sources
    monkeypatch.setenv("LINES_INTERRUPT_AFTER", str(tmp_path / "o"))
    r = cli(*args)
    monkeypatch.delenv("LINES_INTERRUPT_AT")
    assert r.code == 130, r.err
    written = _corpus(tmp_path / "o")
    reference = _corpus(lines_reference)
    texts = [rel for rel in written if rel.endswith(".txt")]
    assert texts  # something to resume
    assert r.err.strip() == f"interrupted: {len(texts)} of 18 samples written to {tmp_path / 'o'}; " \
                            "rerun the same command to resume"
    assert not any(rel.startswith("b/t3__") for rel in written)  # the job that was stopped left nothing
    assert all(reference[rel] == data for rel, data in written.items())  # whole files only
    assert not list((tmp_path / "o").rglob("*tmp*")) and not (tmp_path / "o" / ".curaug" / "staging").exists()
    assert gc.get_freeze_count() == frozen
    samples = texts + [rel.removesuffix(".txt") + ".counts.json" for rel in texts]  # a sample's file comes last
    stamps = {rel: _stamp(tmp_path / "o" / rel) for rel in samples}
    r = cli(*args)
    assert r.code == 0 and f"{len(texts)} already done (resumed)" in r.out, r.err
    assert {rel: _stamp(tmp_path / "o" / rel) for rel in samples} == stamps  # not rewritten
    assert _corpus(tmp_path / "o") == reference
    columns = ["id", "source_id", "sha256", "augment", "words", "counts_path"]
    assert pd.read_parquet(tmp_path / "o" / "manifest.parquet")[columns].equals(
        pd.read_parquet(lines_reference / "manifest.parquet")[columns])


def test_a_parameter_error_of_any_plugin_points_at_its_line(cli, lines, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: lines\ntransforms:\n  - shout: {}\n  - repeat:\n      p: 0.5\n      times: x\n")
    line = one_error_line(cli("augment", lines / "manifest.csv", "--recipe", recipe, "-o", tmp_path / "o"))
    assert line == f"error: {recipe} line 6: transforms.1.repeat.times: value 'x' is not a positive integer"
    recipe.write_text("modality: lines\ntransforms:\n  - whisper: {p: 1}\n")
    line = one_error_line(cli("augment", lines / "manifest.csv", "--recipe", recipe, "-o", tmp_path / "o"))
    assert line == f"error: {recipe} line 3: transforms.0.whisper: unknown lines transform"


@given(workers=st.integers(1, 3), order=st.randoms(use_true_random=False), lose=st.sets(st.integers(0, 17)))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_seed_contract_same_bytes_for_any_workers_order_and_resume(lines, lines_reference, workers, order, lose):
    """A copy's bytes depend on (run seed, sample id, copy) alone: not on the worker count,
    the order of the manifest's rows (hence of the jobs and chunks), or which jobs an earlier
    run had already finished."""
    import tempfile

    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest
    from curate.io.manifest import load_data

    df = load_data(lines / "manifest.csv")
    df = df.iloc[order.sample(range(len(df)), len(df))].reset_index(drop=True)
    loaded = load_recipe(lines / "recipe.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "o"
        augment_manifest(df, loaded, out, seed=3, workers=workers)
        texts = sorted(rel for rel in _corpus(out) if rel.endswith(".txt"))
        for k in lose:
            (out / texts[k]).unlink()
        result = augment_manifest(df, loaded, out, seed=3, workers=4 - workers)
        assert result.summary["resumed"] == 18 - len(lose)
        assert _corpus(out) == _corpus(lines_reference)


def test_the_data_folder_is_never_an_output_folder(cli, sample, split_manifest, tmp_path):
    """Writing the corpus into the raw data (the source folder, a folder inside it, or one
    that holds it) is refused before anything is written: a re-ingest would count the new
    files as samples."""
    from curate.io.manifest import load_data

    data = tmp_path / "images"
    import shutil

    shutil.copytree(sample / "images", data)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    assert cli("ingest", data, "-o", tmp_path / "m.parquet").code == 0
    m = load_data(tmp_path / "m.parquet")
    m["split"] = "train"
    m.to_parquet(tmp_path / "s.parquet")
    recipe = split_manifest / "recipe.yaml"
    for target, where in ((data, "is"), (data / "aug", "is inside"), (tmp_path, "holds")):
        line = one_error_line(cli("augment", tmp_path / "s.parquet", "--recipe", recipe, "-o", target))
        assert f"the output folder {where} the data folder {data.resolve()}" in line, line
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before and not (data / "aug").exists()


def test_one_run_at_a_time_writes_a_folder(cli, split_manifest, tmp_path):
    """A second augment into a folder another process is writing is refused at once,
    naming that process; once it is done, the folder is free."""
    import os

    from curate.io.folder_lock import hold_folder

    out = tmp_path / "o"
    with hold_folder(out / ".curaug" / "lock", out):
        line = one_error_line(cli("augment", split_manifest / "split.parquet", "--recipe",
                                  split_manifest / "recipe.yaml", "-o", out))
        assert f"is being written by curaug process {os.getpid()}" in line
    assert cli("augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml",
               "-o", out).code == 0


def test_the_summary_counts_what_was_written_and_lies_beside_the_manifest(cli, split_manifest, tmp_path):
    recipe = tmp_path / "g.yaml"  # a gate about half the digits cannot pass in one try
    recipe.write_text("modality: image\ncopies: 1\ntransforms:\n  - Rotate: {limit: 5}\n"
                      "gate: {min_std: 91, max_tries: 1}\n")
    r = cli("augment", split_manifest / "split.parquet", "--recipe", recipe, "-o", tmp_path / "o")
    assert r.code == 0, r.err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    made = pd.read_parquet(tmp_path / "o" / "manifest.parquet").dropna(subset=["source_id"])
    assert 0 < summary["gate_gave_up"] < summary["jobs"] and summary["made"] == len(made)
    counts = made["label"].astype(str).value_counts().to_dict()
    assert {k: v for k, v in summary["made_per_class"].items() if v} == counts
    assert sum(summary["made_per_class"].values()) == summary["jobs"] - summary["gate_gave_up"]
