"""``curaug run``: the pipeline file, the plan, the content-addressed stage cache, resuming."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import SAMPLE, one_error_line

AUGMENT = """augment:
  modality: image
  copies: 1
  transforms:
    - Affine: {rotate: [-10, 10], fill: 255, p: 0.8}
"""


@pytest.fixture
def digits(tmp_path) -> Path:
    """A small writable tree of sample digits: 10 of each of three classes."""
    src = tmp_path / "data" / "digits"
    for label in ("0", "1", "8"):
        files = sorted((SAMPLE / "images" / label).glob("digit_*.png"))[:10]
        (src / label).mkdir(parents=True)
        for f in files:
            shutil.copy(f, src / label / f.name)
    return src


def write_pipeline(folder: Path, body: str, name: str = "pipeline.yaml") -> Path:
    path = folder / name
    path.write_text(body)
    return path


@pytest.fixture
def pipeline(tmp_path, digits) -> Path:
    """Relative paths, resolved against the file's folder (tests run from another folder)."""
    return write_pipeline(tmp_path, "out: runs/digits\nsource: data/digits\nsplit: {ratios: [0.6, 0.2, 0.2], seed: 0}\n"
                          + AUGMENT)


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def plan(result) -> dict[str, tuple[str, str]]:
    """Stage -> (action, reason) from the plan lines a run printed first."""
    found = {}
    for line in result.out.splitlines():
        m = re.match(r"^  (run|skip|maybe)\s+(\w+)\s+(.*)$", line)
        if m:
            found[m.group(2)] = (m.group(1), m.group(3).strip())
    return found


def test_first_run_runs_every_stage_and_a_second_run_has_nothing_to_do(cli, pipeline, elsewhere):
    first = cli("run", pipeline)
    assert first.code == 0, first.err
    assert plan(first) == {"ingest": ("run", "no previous run"), "split": ("run", "no previous run"),
                           "validate_splits": ("run", "no previous run"), "augment": ("run", "no previous run"),
                           "report": ("run", "no previous run")}
    assert re.search(r"^augment: done in \d+\.\d s \(18 samples from 18 train rows\)$", first.out, re.M)
    out = pipeline.parent / "runs" / "digits"
    assert not (elsewhere / "runs").exists()
    assert len(pd.read_parquet(out / "manifest.parquet")) == 30
    assert pd.read_parquet(out / "split.parquet")["split"].value_counts().to_dict() == {"train": 18, "val": 6, "test": 6}
    augmented = pd.read_parquet(out / "augmented" / "manifest.parquet")
    assert augmented["source_id"].notna().sum() == 18
    assert json.loads((out / "splits.validation.json").read_text())["success"] is True

    second = cli("run", pipeline)
    assert second.code == 0, second.err
    assert {action for action, _ in plan(second).values()} == {"skip"}
    assert "nothing to do" in second.out
    assert "running" not in second.out


def test_second_run_reads_no_unchanged_file_again(pipeline, elsewhere):
    import curaug

    first = curaug.run(pipeline)
    assert first.success and first.files_hashed >= 30  # the 30 sources and every output
    second = curaug.run(pipeline)
    assert second.ran == [] and second.files_hashed == 0


def test_changing_one_augment_parameter_reruns_augment_then_what_reads_it(cli, pipeline, elsewhere, monkeypatch):
    trained = fake_training(monkeypatch)
    pipeline.write_text(pipeline.read_text() + "train: {epochs: 2}\n")
    assert cli("run", pipeline).code == 0
    assert len(trained) == 1
    pipeline.write_text(pipeline.read_text().replace("rotate: [-10, 10]", "rotate: [-20, 20]"))
    rerun = cli("run", pipeline)
    assert rerun.code == 0, rerun.err
    steps = plan(rerun)
    assert steps["augment"] == ("run", "settings changed: augment.transforms.0.Affine.rotate")
    assert steps["train"] == ("maybe", "runs if augmented/ changes")
    assert {steps[s][0] for s in ("ingest", "split", "validate_splits")} == {"skip"}
    assert re.search(r"^train: done in", rerun.out, re.M)  # other rotations: other files
    assert len(trained) == 2
    assert "ran augment, train, report;" in rerun.out


def fake_training(monkeypatch) -> list[dict]:
    """``pipelines.train.run.train`` writing metrics.json: the stage's contract, without torch."""
    import pipelines.train.run as run_module

    calls = []

    def train(data, *, label, out, progress=None, **settings):
        rows = pd.read_parquet(data)
        metrics = {"rows": {"train": int((rows["split"] == "train").sum())}, "epochs": settings["epochs"],
                   "test": {"accuracy": 0.5}}
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "metrics.json").write_text(json.dumps(metrics))
        calls.append({"data": data, "label": label, **settings})
        return metrics

    monkeypatch.setattr(run_module, "train", train)
    return calls


def test_training_reads_the_augmented_manifest_with_the_files_settings(cli, pipeline, elsewhere, monkeypatch):
    trained = fake_training(monkeypatch)
    pipeline.write_text(pipeline.read_text() + "train: {epochs: 3, model: cnn, hard_mining: replay}\n")
    result = cli("run", pipeline)
    assert result.code == 0, result.err
    (call,) = trained
    assert Path(call["data"]).parts[-2:] == ("augmented", "manifest.parquet")
    assert (call["label"], call["epochs"], call["model"], call["hard_mining"]) == ("label", 3, "cnn", "replay")
    metrics = json.loads((pipeline.parent / "runs/digits/train/metrics.json").read_text())
    assert metrics["rows"]["train"] == 36  # 18 train rows and their 18 augmented copies
    pipeline.write_text(pipeline.read_text().replace("epochs: 3", "epochs: 4"))
    again = cli("run", pipeline)
    assert plan(again)["train"] == ("run", "settings changed: train.epochs")
    assert plan(again)["augment"][0] == "skip"
    assert len(trained) == 2


def test_an_upstream_rerun_writing_the_same_bytes_does_not_cascade(cli, pipeline, elsewhere):
    assert cli("run", pipeline).code == 0
    out = pipeline.parent / "runs" / "digits"
    (out / "split.parquet").unlink()
    rerun = cli("run", pipeline)
    assert rerun.code == 0, rerun.err
    steps = plan(rerun)
    assert steps["split"] == ("run", "output missing: split.parquet")
    assert steps["augment"] == ("maybe", "runs if split.parquet changes")
    assert re.search(r"^split: done in", rerun.out, re.M)
    assert "augment: skipped: what it reads did not change" in rerun.out
    assert "ran split;" in rerun.out


def test_a_changed_source_file_reruns_ingest_and_everything_after(cli, pipeline, digits, elsewhere):
    assert cli("run", pipeline).code == 0
    victim = sorted((digits / "8").iterdir())[0]
    shutil.copy(sorted((digits / "1").iterdir())[0], victim)
    rerun = cli("run", pipeline)
    assert rerun.code == 0, rerun.err
    assert plan(rerun)["ingest"] == ("run", "input changed: data/digits")
    assert "ran ingest, split, validate_splits, augment, report;" in rerun.out


def test_from_only_and_force(cli, pipeline, elsewhere):
    only_first = cli("run", pipeline, "--only", "augment")
    assert "run the split stage first" in one_error_line(only_first)
    assert not (pipeline.parent / "runs").exists()
    assert cli("run", pipeline).code == 0

    from_split = cli("run", pipeline, "--from", "split")
    assert from_split.code == 0, from_split.err
    assert plan(from_split)["ingest"] == ("skip", "not asked (from split)")
    assert {plan(from_split)[s] for s in ("split", "validate_splits", "augment")} == {("run", "forced (from split)")}
    assert "ran split, validate_splits, augment, report;" in from_split.out

    only = cli("run", pipeline, "--only", "validate_splits")
    assert only.code == 0
    assert plan(only)["validate_splits"] == ("run", "forced (only validate_splits)")
    assert "ran validate_splits;" in only.out

    forced = cli("run", pipeline, "--force")
    assert {action for stage, (action, _) in plan(forced).items() if stage != "report"} == {"run"}

    assert "did you mean 'split'" in one_error_line(cli("run", pipeline, "--from", "splt"))
    assert "not a stage of this pipeline" in one_error_line(cli("run", pipeline, "--only", "clean"))


@pytest.mark.parametrize("edit, message", [
    (("augment:", "augmnt:"), r"pipeline.yaml line 4: unknown key 'augmnt' at augmnt \(did you mean 'augment'\?\)"),
    (("copies: 1", "copise: 1"), r"pipeline.yaml line 6: unknown key 'copise' at augment.copise "
                                 r"\(did you mean 'copies'\?\)"),
    (("rotate: [-10, 10]", "rotate: [10, -10]"), r"pipeline.yaml line 8: augment.transforms.0.Affine.rotate: "
                                                 r"range \[10, -10\] has lo > hi"),
    (("Affine:", "Afine:"), r"pipeline.yaml line 8: augment.transforms.0.Afine: .*did you mean 'Affine'"),
    (("[0.6, 0.2, 0.2]", "[0.6, 0.2, 0.3]"), r"pipeline.yaml line 3: split.ratios: .*sum to 1.1, not 1"),
    (("source: data/digits", "source: data/digts"), r"pipeline.yaml line 2: source: no such file or folder"),
    (("split:", "train: {epoch: 3}\nsplit:"), r"pipeline.yaml line 3: unknown key 'epoch' at train.epoch "
                                              r"\(did you mean 'epochs'\?\)"),
    (("split:", "engine: {name: local, scheduler: tcp://h:1}\nsplit:"),
     r"pipeline.yaml line 3: engine: a scheduler needs name: dask"),
])
def test_a_bad_key_or_value_names_file_line_and_key_and_writes_nothing(cli, pipeline, elsewhere, edit, message):
    pipeline.write_text(pipeline.read_text().replace(*edit))
    line = one_error_line(cli("run", pipeline))
    assert re.search(message, line), line
    assert not (pipeline.parent / "runs").exists()


def test_sections_that_need_another_one_say_so(cli, tmp_path, digits, elsewhere):
    path = write_pipeline(tmp_path, "out: runs/x\nsource: data/digits\n" + AUGMENT)
    line = one_error_line(cli("run", path))
    assert "pipeline.yaml line 3: augment: needs a split: section" in line
    path = write_pipeline(tmp_path, "out: data/digits/run\nsource: data/digits\n")
    assert "inside the source folder" in one_error_line(cli("run", path))


def test_ctrl_c_in_a_stage_exits_130_and_the_rerun_resumes_at_that_stage(cli, pipeline, elsewhere, monkeypatch):
    import augment.runner

    real = augment.runner.augment_manifest

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(augment.runner, "augment_manifest", interrupted)
    stopped = cli("run", pipeline)
    assert stopped.code == 130
    assert "interrupted during augment" in stopped.err and "resume at augment" in stopped.err
    monkeypatch.setattr(augment.runner, "augment_manifest", real)
    resumed = cli("run", pipeline)
    assert resumed.code == 0, resumed.err
    steps = plan(resumed)
    assert steps["augment"] == ("run", "did not finish last time")
    assert {steps[s][0] for s in ("ingest", "split", "validate_splits")} == {"skip"}
    assert "augment: resuming" in resumed.out  # what it had written is kept, not wiped
    assert "ran augment, report;" in resumed.out


def test_an_interrupted_training_keeps_its_checkpoint_for_the_rerun(cli, pipeline, elsewhere, monkeypatch):
    import pipelines.train.run as run_module

    seen = []

    def train(data, *, label, out, progress=None, **settings):
        checkpoint = Path(out) / "checkpoint.pt"
        seen.append(checkpoint.is_file())
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if len(seen) == 1:  # Ctrl-C after the first epoch's checkpoint
            checkpoint.write_bytes(b"epoch 1")
            raise KeyboardInterrupt
        (Path(out) / "metrics.json").write_text("{}")
        return {}

    monkeypatch.setattr(run_module, "train", train)
    pipeline.write_text(pipeline.read_text() + "train: {epochs: 2}\n")
    stopped = cli("run", pipeline)
    assert stopped.code == 130 and "resume at train" in stopped.err
    resumed = cli("run", pipeline)
    assert resumed.code == 0, resumed.err
    assert "train: resuming" in resumed.out
    assert seen == [False, True]
    assert cli("run", pipeline, "--only", "train").code == 0  # forced: starts over
    assert seen == [False, True, False]


RULES = """label: species
dataset:
  min_rows: {min_rows}
clean:
  - drop_duplicates: {{}}
"""


def penguins_pipeline(folder: Path, min_rows: int) -> Path:
    (folder / "rules.yaml").write_text(RULES.format(min_rows=min_rows))
    return write_pipeline(folder, f"out: runs/penguins\nsource: {SAMPLE / 'penguins.csv'}\nlabel: species\n"
                                  "rules: rules.yaml\nsplit: {ratios: [0.6, 0.2, 0.2]}\n")


def test_a_failing_validation_stops_the_pipeline_with_exit_1_every_time(cli, tmp_path, elsewhere):
    path = penguins_pipeline(tmp_path, min_rows=1000)
    failed = cli("run", path)
    assert failed.code == 1, failed.err
    assert re.search(r"^validate: FAILED in .*\(\d+ of \d+ checks passed\)$", failed.out, re.M)
    assert "clean: not run (validate failed)" in failed.out
    out = tmp_path / "runs" / "penguins"
    checks = json.loads((out / "validation.json").read_text())["checks"]
    assert any(c["name"] == "min_rows" and not c["success"] for c in checks)
    assert not (out / "clean.parquet").exists()
    again = cli("run", path)
    assert again.code == 1
    assert plan(again)["validate"] == ("skip", "unchanged (its checks failed)")
    assert plan(again)["split"] == ("skip", "not run: validate failed")
    asked = cli("run", path, "--only", "clean")  # asked for by name: runs on the data as it is
    assert asked.code == 0, asked.err
    assert "ran clean;" in asked.out and (out / "clean.parquet").is_file()


def test_the_penguins_pipeline_cleans_before_it_splits(cli, tmp_path, elsewhere):
    path = penguins_pipeline(tmp_path, min_rows=100)
    result = cli("run", path)
    assert result.code == 0, result.err
    assert list(plan(result)) == ["ingest", "validate", "clean", "split", "validate_splits", "report"]
    out = tmp_path / "runs" / "penguins"
    assert json.loads((out / "clean.json").read_text())["rows_out"] == 344  # the planted duplicate dropped
    assert len(pd.read_parquet(out / "split.parquet")) == 344
    (tmp_path / "rules.yaml").write_text(RULES.format(min_rows=200))
    rerun = cli("run", path)
    assert plan(rerun)["validate"] == ("run", "settings changed: rules.dataset.min_rows")
    assert plan(rerun)["clean"] == ("skip", "unchanged")


def test_the_engine_flags_reach_the_ingest_and_augment_stages(cli, pipeline, elsewhere, monkeypatch):
    import augment.runner
    import curate.io.ingest

    seen, ingested = {}, {}
    real, real_ingest = augment.runner.augment_manifest, curate.io.ingest.ingest

    def spy(*args, **kwargs):
        seen.update(engine=kwargs["engine"], scheduler=kwargs["scheduler"])
        return real(*args, **{**kwargs, "engine": "local", "scheduler": None})

    def spy_ingest(*args, **kwargs):
        ingested.update(engine=kwargs["engine"], scheduler=kwargs["scheduler"])
        return real_ingest(*args, **{**kwargs, "engine": "local", "scheduler": None})

    import curate.partitioned.table

    scopes = []  # validate and split work in partitions on the dask engine
    real_scope = curate.partitioned.table.engine_scope

    def spy_scope(engine="local", scheduler=None, workers=None):
        scopes.append((engine, scheduler))
        return real_scope("local", None, workers)

    monkeypatch.setattr(augment.runner, "augment_manifest", spy)
    monkeypatch.setattr(curate.io.ingest, "ingest", spy_ingest)
    monkeypatch.setattr(curate.partitioned.table, "engine_scope", spy_scope)
    pipeline.write_text(pipeline.read_text() + "engine: {name: dask, scheduler: tcp://127.0.0.1:1}\n")
    assert cli("run", pipeline, "--engine", "local").code == 0
    assert seen == {"engine": "local", "scheduler": None} and scopes == []
    second = cli("run", pipeline, "--engine", "dask", "--force")
    assert second.code == 0, second.err
    assert seen == ingested == {"engine": "dask", "scheduler": "tcp://127.0.0.1:1"}
    assert len(scopes) >= 2 and set(scopes) == {("dask", "tcp://127.0.0.1:1")}
    assert "scheduler" in one_error_line(cli("run", pipeline, "--engine", "local", "--scheduler", "tcp://h:1"))


def test_the_sample_pipeline_file_is_valid():
    from pipelines.run.schema import load_pipeline

    loaded = load_pipeline(SAMPLE / "pipeline.yaml")
    assert loaded.source == (SAMPLE / "images").resolve()
    assert loaded.config.split.ratios == (0.15, 0.45, 0.4)  # a small training set: augmentation has work to do
    assert loaded.config.ablation.seeds == 5 and loaded.config.train.model == "auto"
    assert loaded.config.card.license == "cc-by-4.0"  # sample_data/README.md: the digits are CC BY 4.0
    assert [s.name for s in loaded.recipe.steps] == ["Affine", "RandomBrightnessContrast", "OneOf", "copy_paste"]


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def ci_commands() -> dict[str, list[str]]:
    """The curaug command each CI example runs, as arguments."""
    import shlex

    import yaml

    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    steps = workflow["jobs"]["validate-splits"]["steps"]
    (action,) = [s["run"] for s in steps if "curaug validate" in s.get("run", "")]
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and s["with"]["path"] == "reports/splits.xml"
               and s["if"] == "always()" for s in steps)
    hooks = yaml.safe_load((EXAMPLES / "pre-commit-hooks.yaml").read_text())
    (hook,) = hooks["repos"][0]["hooks"]
    assert hooks["repos"][0]["repo"] == "local" and hook["pass_filenames"] is False
    return {"github-actions": shlex.split(action), "pre-commit": shlex.split(hook["entry"])}


@pytest.mark.parametrize("example", ["github-actions", "pre-commit"])
def test_the_ci_examples_pass_a_good_split_and_fail_a_violated_lock(cli, tmp_path, monkeypatch, example):
    args = ci_commands()[example]
    assert args[:2] == ["curaug", "validate"] and "--lock" in args and "--junit" in args
    monkeypatch.chdir(tmp_path)
    columns = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    curated = pd.read_csv(SAMPLE / "penguins.csv")[columns].dropna().drop_duplicates()
    curated.to_csv("curated.csv", index=False)
    made = cli("split", "curated.csv", "--label", "species", "-o", "data/split.parquet", "--lock", "split.lock")
    assert made.code == 0, made.err
    good = cli(*args[1:])
    assert good.code == 0, good.out
    junit = (tmp_path / "reports" / "splits.xml").read_text()
    assert 'name="split_lock[split]"' in junit and 'failures="0"' in junit
    df = pd.read_parquet("data/split.parquet")
    moved = df.index[df["split"] == "test"][0]
    df.loc[moved, "split"] = "train"
    df.to_parquet("data/split.parquet")
    bad = cli(*args[1:])
    assert bad.code == 1
    junit = (tmp_path / "reports" / "splits.xml").read_text()
    assert re.search(r'<testcase[^>]*name="split_lock\[split\]"[^>]*>\s*<failure', junit)


def test_a_file_a_source_table_lists_is_an_input_of_ingest(cli, tmp_path, digits, elsewhere):
    files = sorted(digits.glob("*/*.png"))
    pd.DataFrame({"path": [f.relative_to(digits).as_posix() for f in files],
                  "label": [f.parent.name for f in files]}).to_csv(digits / "table.csv", index=False)
    path = write_pipeline(tmp_path, "out: runs/table\nsource: data/digits/table.csv\n")
    assert cli("run", path).code == 0
    assert cli("run", path).out.count("skip") == 2  # ingest, and the report (unchanged)
    shutil.copy(files[-1], files[0])
    rerun = cli("run", path)
    assert plan(rerun)["ingest"] == ("run", "input changed: files the source lists")
    manifest = pd.read_parquet(tmp_path / "runs" / "table" / "manifest.parquet")
    assert manifest["sha256"].iloc[0] == manifest["sha256"].iloc[-1]


@pytest.fixture
def fake_report(monkeypatch) -> list[dict]:
    """A ``pipelines.report.pipeline`` module: the report stage is built and gets its input."""
    import importlib.machinery
    import sys
    import types

    calls = []

    def write_pipeline_report(out_dir, stages):
        calls.append(stages)
        target = Path(out_dir) / "report.html"
        target.write_text("<html>" + ", ".join(stages) + "</html>")
        return target

    module = types.ModuleType("pipelines.report.pipeline")
    module.__spec__ = importlib.machinery.ModuleSpec("pipelines.report.pipeline", None)
    module.write_pipeline_report = write_pipeline_report
    monkeypatch.setitem(sys.modules, "pipelines.report.pipeline", module)
    return calls


def test_the_report_stage_gets_every_finished_stage_and_runs_after_a_failed_validation(cli, tmp_path, elsewhere,
                                                                                          fake_report):
    path = penguins_pipeline(tmp_path, min_rows=1000)
    failed = cli("run", path)
    assert failed.code == 1
    assert plan(failed)["report"] == ("run", "no previous run")
    assert re.search(r"^report: done in", failed.out, re.M)
    (stages,) = fake_report
    assert list(stages) == ["ingest", "validate"]
    assert stages["validate"]["status"] == "failed" and stages["validate"]["ran"] is True
    assert stages["validate"]["figures"]["success"] is False
    assert stages["ingest"]["outputs"]["manifest.parquet"] == str(tmp_path / "runs/penguins/manifest.parquet")
    assert (tmp_path / "runs" / "penguins" / "report.html").read_text() == "<html>ingest, validate</html>"
    again = cli("run", path)
    assert again.code == 1 and plan(again)["report"] == ("skip", "unchanged")


def test_the_report_reruns_after_what_it_reads_changes(cli, pipeline, elsewhere, fake_report):
    assert cli("run", pipeline).code == 0
    assert list(fake_report[0]) == ["ingest", "split", "validate_splits", "augment"]
    assert plan(cli("run", pipeline))["report"] == ("skip", "unchanged")
    pipeline.write_text(pipeline.read_text().replace("copies: 1", "copies: 2"))
    rerun = cli("run", pipeline)
    assert plan(rerun)["report"] == ("maybe", "runs if augmented/, augment.json changes")
    assert "ran augment, report;" in rerun.out
    assert fake_report[-1]["augment"]["figures"]["made"] == 36
    assert fake_report[-1]["split"]["ran"] is False


def test_the_train_stage_trains_for_real(cli, tmp_path, elsewhere):
    columns = ["species", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    pd.read_csv(SAMPLE / "penguins.csv")[columns].dropna().drop_duplicates().to_csv(tmp_path / "p.csv", index=False)
    path = write_pipeline(tmp_path, "out: runs/t\nsource: p.csv\nlabel: species\nsplit: {ratios: [0.6, 0.2, 0.2]}\n"
                                    "train: {epochs: 15, device: cpu}\n")
    result = cli("run", path)
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "runs" / "t" / "train" / "metrics.json").read_text())
    split = pd.read_parquet(tmp_path / "runs" / "t" / "split.parquet")
    assert metrics["rows"] == {part: int((split["split"] == part).sum()) for part in ("train", "val", "test")}
    losses = [h["train_loss"] for h in metrics["history"]]
    assert len(losses) > 1 and min(losses) < 0.5 * losses[0]  # it learned, epoch after epoch
    majority = split.loc[split["split"] == "test", "species"].value_counts(normalize=True).max()
    # the penguins are nearly separable: a trained MLP is far above the majority class (0.44)
    assert metrics["test"]["accuracy"] >= 0.9 > majority + 0.3
    assert plan(cli("run", path))["train"] == ("skip", "unchanged")


def test_the_ablation_trains_none_offline_and_online_and_one_recipe_change_reruns_only_what_follows(
        cli, pipeline, elsewhere):
    pipeline.write_text(pipeline.read_text() + "train: {epochs: 3, width: 8, image_size: 8, device: cpu}\n"
                        "ablation: {seeds: 2}\n")
    first = cli("run", pipeline)
    assert first.code == 0, first.err
    out = pipeline.parent / "runs" / "digits"
    result = json.loads((out / "ablation.json").read_text())
    assert result["metric"] == "val" and result["seeds"] == [0, 1]
    assert list(result["arms"]) == ["none", "offline", "online"]
    assert all(len(arm["accuracy"]) == 2 for arm in result["arms"].values())
    # with/without: the arm the pipeline trains (offline: it has an augment: section) against none
    assert result["with_arm"] == "offline" and result["with"] == result["arms"]["offline"]
    assert result["difference"]["per_seed"] == pytest.approx(
        [a - b for a, b in zip(result["with"]["accuracy"], result["without"]["accuracy"])])
    assert result["verdict"] in ("helps", "hurts", "no clear difference")
    winner = result["winner"]
    assert winner["mean"] == max(arm["mean"] for arm in result["arms"].values())
    assert set(winner["against"]) == {"none", "offline", "online"} - {winner["arm"]}
    assert winner["verdict"] in ("wins", "no clear winner")
    assert f"best on val: {winner['arm']} ({winner['verdict']})" in first.out
    # the pipeline's own training run is the first offline run; the other five were trained
    assert sorted(p.name for p in (out / "ablation").iterdir()) == [
        "none_seed0", "none_seed1", "offline_seed1", "online_seed0", "online_seed1"]
    without = pd.read_parquet(out / "split.parquet")
    for arm, augment in (("none", "none"), ("online", "online")):
        metrics = json.loads((out / "ablation" / f"{arm}_seed0" / "metrics.json").read_text())
        assert metrics["rows"]["train"] == int((without["split"] == "train").sum())
        assert metrics["data"]["augment"] == augment
    pipeline.write_text(pipeline.read_text().replace("rotate: [-10, 10]", "rotate: [-15, 15]"))
    rerun = cli("run", pipeline)
    assert rerun.code == 0, rerun.err
    ran = re.search(r"^ran (.*?);", rerun.out, flags=re.M).group(1).split(", ")
    assert ran[:3] == ["augment", "train", "ablation"] and set(ran) <= {"augment", "train", "ablation", "report"}


def test_train_augment_online_trains_on_the_split_rows_with_the_augment_recipe(cli, pipeline, elsewhere):
    pipeline.write_text(pipeline.read_text() + "train: {epochs: 2, width: 8, image_size: 8, device: cpu, "
                        "augment: online}\n")
    result = cli("run", pipeline)
    assert result.code == 0, result.err
    out = pipeline.parent / "runs" / "digits"
    metrics = json.loads((out / "train" / "metrics.json").read_text())
    split = pd.read_parquet(out / "split.parquet")
    assert metrics["data"]["augment"] == "online"
    assert metrics["rows"]["train"] == int((split["split"] == "train").sum())  # no augmented rows read
    config = json.loads((out / "train" / "config.json").read_text())
    assert config["config"]["recipe"]["modality"] == "image", config  # the augment: recipe, drawn online


@pytest.mark.parametrize("train, says", [
    ("{augment: offline, recipe: r.yaml}", "train.augment: offline trains on the augment: corpus, but train.recipe"),
    ("{recipe: missing.yaml}", "train.recipe: no such recipe file"),
])
def test_train_augment_settings_that_cannot_hold_are_one_line(cli, pipeline, elsewhere, train, says):
    (pipeline.parent / "r.yaml").write_text((SAMPLE / "digits.recipe.yaml").read_text())
    pipeline.write_text(pipeline.read_text() + f"train: {train}\n")
    line = one_error_line(cli("run", pipeline))
    assert "line 9" in line and says in line, line


def test_train_augment_online_without_any_recipe_is_one_line(cli, tmp_path, digits, elsewhere):
    path = write_pipeline(tmp_path, "out: runs/d\nsource: data/digits\nsplit: {ratios: [0.6, 0.2, 0.2]}\n"
                                    "train: {augment: online}\n")
    line = one_error_line(cli("run", path))
    assert "line 4" in line and "train.augment: online needs a recipe: train.recipe, or an augment: section" in line


def test_a_stage_that_cannot_use_the_data_names_the_pipeline_key(cli, pipeline, elsewhere):
    pipeline.write_text(pipeline.read_text() + "label: lable\n")
    line = one_error_line(cli("run", pipeline))
    assert re.search(r"pipeline.yaml line 9: split stage: label='lable': no such column", line), line


def test_no_statistic_is_fitted_on_test_rows(cli, tmp_path, elsewhere):
    """Row-level cleaning runs before the split; imputation, IQR clipping and the normaliser
    run after it, fitted on the train rows only, and the figures say so."""
    penguins = pd.read_csv(SAMPLE / "penguins.csv")
    columns = ["species", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    penguins = penguins.dropna(subset=["species"])[columns]
    penguins = pd.concat([penguins, penguins.iloc[5:8]], ignore_index=True)  # three exact duplicates
    penguins.to_csv(tmp_path / "p.csv", index=False)
    (tmp_path / "rules.yaml").write_text(  # the raw table's missing values are what clean is for
        "label: species\ndataset: {max_missing_fraction: 0.05, max_duplicate_fraction: 0.05}\nclean:\n  - drop_duplicates: {}\n  - missing: {strategy: impute_median}\n"
        "  - clip: {columns: [body_mass_g], method: iqr, k: 1.5}\n"
        "normalize: {method: zscore, columns: [bill_length_mm, body_mass_g]}\n")
    path = write_pipeline(tmp_path, "out: runs/t\nsource: p.csv\nlabel: species\nrules: rules.yaml\n"
                                    "split: {ratios: [0.6, 0.2, 0.2]}\n")
    result = cli("run", path)
    assert result.code == 0, result.err
    steps = plan(result)
    assert list(steps)[:5] == ["ingest", "validate", "clean", "split", "clean_fitted"]
    out = tmp_path / "runs" / "t"
    before = json.loads((out / "clean.json").read_text())
    assert [e["step"] for e in before["log"]] == ["drop_duplicates"] and before["rows_out"] == len(penguins.drop_duplicates())
    after = json.loads((out / "clean_fitted.json").read_text())
    assert [e["step"] for e in after["log"]] == ["missing", "clip", "normalize"] and after["fit_on"] == ["train"]
    split = pd.read_parquet(out / "split.parquet")
    train = split[split["split"] == "train"]
    assert all(e["fit_on"] == "train" and e["fitted_rows"] == len(train) for e in after["log"])
    assert after["log"][0]["fill_values"]["bill_length_mm"] == pytest.approx(train["bill_length_mm"].median())
    cleaned = pd.read_parquet(out / "split.clean.parquet")
    fitted = cleaned[cleaned["split"] == "train"]
    assert fitted["bill_length_mm"].mean() == pytest.approx(0, abs=1e-9)
    assert fitted["bill_length_mm"].std(ddof=0) == pytest.approx(1)
    assert abs(cleaned.loc[cleaned["split"] == "test", "bill_length_mm"].mean()) > 1e-3  # test's own mean is not 0
    params = json.loads((out / "split.clean.normalize.json").read_text())
    assert params["fit_on"] == "train" and params["fitted_rows"] == len(train)
    # the later stages read the cleaned split
    assert "split.clean.parquet" in (out / "splits.validation.json").read_text()
    page = (out / "report.html").read_text()
    assert "Cleaning fitted on the train split" in page and f"train ({len(train)} rows)" in page
    profile = page[page.index("id='profile-rows'"):]
    assert "3 classes," in profile[:profile.index("</p>")]  # a table's classes, from its class table


def test_a_run_never_writes_among_the_data_and_holds_its_folder(cli, tmp_path, digits, elsewhere):
    """``out: .`` beside the data would put the run's files among the user's data: refused;
    and a second run into a folder being written is refused naming the process."""
    import os

    from curate.io.folder_lock import hold_folder

    around = write_pipeline(tmp_path / "data", "out: .\nsource: digits\nsplit: {ratios: [0.6, 0.2, 0.2]}\n")
    line = one_error_line(cli("run", around))
    assert f"out: {(tmp_path / 'data').resolve()} holds the source" in line
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["digits", "pipeline.yaml"]
    path = write_pipeline(tmp_path, "out: runs/x\nsource: data/digits\nsplit: {ratios: [0.6, 0.2, 0.2]}\n")
    out = tmp_path / "runs" / "x"
    with hold_folder(out / ".curaug" / "lock", out):
        assert f"is being written by curaug process {os.getpid()}" in one_error_line(cli("run", path))
    assert cli("run", path).code == 0
