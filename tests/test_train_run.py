"""``curaug train`` end to end: real manifests in, a run folder out (DESIGN "Training run")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE, one_error_line, one_internal_error_line

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def penguins(tmp_path_factory) -> Path:
    """The sample penguins split 60/20/20 with 5 folds, no penguin in two splits."""
    import curaug

    folder = tmp_path_factory.mktemp("penguins")
    df = pd.read_csv(SAMPLE / "penguins.csv")
    out = curaug.split(df, label="species", group="individual_id", folds=5, seed=0)
    out.to_parquet(folder / "split.parquet", index=False)
    return folder / "split.parquet"


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    """scikit-learn's 1,797 8x8 digits as a class-folder image set, ingested and split."""
    from PIL import Image
    from sklearn.datasets import load_digits

    import curaug

    folder = tmp_path_factory.mktemp("digits")
    data = load_digits()
    pixels = (data.images * (255 / 16)).round().astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, data.target)):
        (folder / "images" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(folder / "images" / str(label) / f"d{i:04d}.png")
    manifest = curaug.ingest(str(folder / "images"), use_cache=False).manifest
    curaug.save_manifest(curaug.split(manifest, label="label", seed=0), str(folder / "split.parquet"))
    return folder / "split.parquet"


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_penguins_mlp_reaches_97_percent_and_writes_every_file(cli, penguins, tmp_path):
    run = tmp_path / "run"
    r = cli("train", penguins, "--label", "species", "-o", run, "--epochs", "60", "--patience", "10")
    assert r.code == 0, r.err
    assert f"wrote {run}" in r.out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.97
    assert metrics["model"] == "mlp" and metrics["device"] == "cpu"
    assert metrics["test"]["labels"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert np.asarray(metrics["test"]["confusion"]).sum() == metrics["rows"]["test"]
    assert set(metrics["test"]["per_class"]["Gentoo"]) >= {"precision", "recall", "f1"}
    assert 1 <= metrics["best_epoch"] <= metrics["stopped_epoch"] <= 60
    assert len(metrics["history"]) == metrics["stopped_epoch"]
    assert {"epoch", "train_loss", "val_loss", "val_accuracy", "lr"} <= set(metrics["history"][0])
    # model.pt is plain weights; config.json rebuilds the model from them
    from pipelines.train.config import TrainConfig
    from pipelines.train.models import build_model
    from pipelines.train.types import DataSpec

    saved = json.loads((run / "config.json").read_text())
    model = build_model(DataSpec.from_json(saved["spec"]), TrainConfig(**saved["config"]))
    model.load_state_dict(_state(run / "model.pt"))
    features = saved["encoder"]
    assert "individual_id" not in json.dumps(features.get("features", features))
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    errors = pd.read_csv(run / "errors.csv")
    assert list(errors.columns[:4]) == ["id", "label", "prediction", "loss"]
    assert (errors["label"] != errors["prediction"]).all()
    assert (run / "histograms" / "histograms.json").is_file()
    assert not (run / "checkpoint.pt").exists()


def test_the_test_split_is_evaluated_exactly_once_and_never_trained_or_searched_on(penguins, tmp_path, monkeypatch):
    import pipelines.train.loop as loop
    from pipelines.train.run import train

    seen = {"fit": [], "evaluate": []}
    real_fit, real_evaluate = loop.fit, loop.evaluate

    def fit(model, train_set, val_set, *args, **kwargs):
        seen["fit"].append(set(train_set.ids) | set(val_set.ids if val_set is not None else []))
        return real_fit(model, train_set, val_set, *args, **kwargs)

    def evaluate(model, dataset, **kwargs):
        seen["evaluate"].append(set(dataset.ids))
        return real_evaluate(model, dataset, **kwargs)

    monkeypatch.setattr(loop, "fit", fit)
    monkeypatch.setattr(loop, "evaluate", evaluate)
    metrics = train(str(penguins), label="species", out=tmp_path / "run", epochs=4, search=2)
    from pipelines.train.data import prepare_data
    from pipelines.train.run import make_config

    prepared = prepare_data(pd.read_parquet(penguins), make_config(label="species"), base_dir=penguins.parent)
    test_ids = set(prepared.splits["test"].ids)
    assert len(metrics["search"]["trials"]) == 2
    assert all(not (ids & test_ids) for ids in seen["fit"])
    assert sum(ids == test_ids for ids in seen["evaluate"]) == 1
    assert len(metrics["test"]["confusion"]) == 3


def test_digits_cnn_with_replay_mining_learns_and_lists_what_it_mined(cli, digits, tmp_path):
    run = tmp_path / "run"
    r = cli("train", digits, "-o", run, "--epochs", "6", "--width", "16", "--hard-mining", "replay")
    assert r.code == 0, r.err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "cnn"
    assert metrics["test"]["accuracy"] >= 0.9
    mined = pd.read_csv(run / "hard_examples.csv")
    assert {"epoch", "id", "label", "loss"} <= set(mined.columns)
    split = pd.read_parquet(digits)
    train_ids = set(split.loc[split["split"] == "train", "id"].astype(str))
    assert len(mined) and set(mined["id"].astype(str)) <= train_ids
    assert (run / "gallery.html").is_file()


def test_same_seed_same_weights_and_the_global_rng_is_left_alone(penguins, tmp_path):
    from pipelines.train.run import train

    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    state = np.random.get_state()[1].copy()
    train(str(penguins), label="species", out=tmp_path / "a", epochs=3, seed=7)
    train(str(penguins), label="species", out=tmp_path / "b", epochs=3, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    assert np.array_equal(np.random.get_state()[1], state)
    a, b = _state(tmp_path / "a" / "model.pt"), _state(tmp_path / "b" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(penguins, tmp_path):
    args = [sys.executable, "-m", "pipelines.cli", "train", str(penguins), "--label", "species",
            "--epochs", "40", "--patience", "40", "--width", "256"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}  # tiny model: one thread is fastest
    subprocess.run(args + ["-o", str(tmp_path / "whole")], check=True, capture_output=True, env=env, cwd=ROOT)
    run = tmp_path / "killed"
    proc = subprocess.Popen(args + ["-o", str(run)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    checkpoint = run / "checkpoint.pt"
    while proc.poll() is None and not checkpoint.exists():
        time.sleep(0.01)  # waiting for the process under test, not for a result
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not (run / "metrics.json").exists(), "killed too late to test a resume"
    done = subprocess.run(args + ["-o", str(run)], capture_output=True, env=env, cwd=ROOT, text=True)
    assert done.returncode == 0, done.stderr
    a, b = _state(tmp_path / "whole" / "model.pt"), _state(run / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_folds_write_out_of_fold_probabilities_that_find_the_mislabelled_digit(cli, tmp_path):
    split = tmp_path / "split.parquet"
    assert cli("ingest", SAMPLE / "images", "-o", tmp_path / "m.parquet").code in (0, 1)
    # no test split: every row gets out-of-fold probabilities, wherever the split puts the odd one
    assert cli("split", tmp_path / "m.parquet", "--folds", "3", "--ratios", "0.8,0.2,0", "-o", split).code == 0
    run = tmp_path / "run"
    r = cli("train", split, "-o", run, "--epochs", "12", "--width", "16", "--folds")
    assert r.code == 0, r.err
    probs = pd.read_parquet(run / "oof_probs.parquet")
    assert {"id", "label", "fold", "prob_0", "prob_1", "prob_7", "prob_8"} <= set(probs.columns)
    assert np.allclose(probs.filter(like="prob_").sum(axis=1), 1, atol=1e-5)
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"label: label\ndataset:\n  label_issues: {{probs: {run / 'oof_probs.parquet'}, max_fraction: 0.5}}\n")
    r = cli("validate", split, "--rules", rules, "--json", tmp_path / "v.json")
    result = json.loads((tmp_path / "v.json").read_text())
    check = next(c for c in result["checks"] if c["name"] == "label_issues")
    suspects = [s["id"] for s in check["observed"]["suspects"]]
    assert "7/mislabelled_one.png" in suspects


@pytest.mark.parametrize("args, says", [
    (("--device", "cuda"), "--device 'cuda': no CUDA device"),
    (("--model", "cnn"), "--model"),
    (("--init", "no/such/model.pt"), "--init"),
])
def test_bad_settings_are_one_line_and_write_nothing(cli, penguins, tmp_path, args, says):
    if args[0] == "--device" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    line = one_error_line(cli("train", penguins, "--label", "species", "-o", tmp_path / "run", *args))
    assert says in line
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_manifest_without_split_and_a_finished_run_are_refused(cli, penguins, tmp_path):
    line = one_error_line(cli("train", SAMPLE / "penguins.csv", "--label", "species", "-o", tmp_path / "run"))
    assert "curaug split" in line
    assert cli("train", penguins, "--label", "species", "-o", tmp_path / "done", "--epochs", "1").code == 0
    line = one_error_line(cli("train", penguins, "--label", "species", "-o", tmp_path / "done", "--epochs", "1"))
    assert "finished run" in line and "--output" in line


def test_sanity_fails_loudly_on_data_that_cannot_be_learned(cli, tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": np.zeros(120), "y": rng.choice(["a", "b", "c"], 120),
                       "split": ["train"] * 80 + ["val"] * 20 + ["test"] * 20})
    df.to_parquet(tmp_path / "t.parquet", index=False)
    r = cli("train", tmp_path / "t.parquet", "--label", "y", "-o", tmp_path / "run", "--sanity")
    assert r.code == 1
    assert r.err.strip().startswith("sanity check failed:") and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_search_trials_on_a_dask_cluster_are_the_local_search(penguins, tmp_path):
    from pipelines.train.run import train

    settings = dict(label="species", epochs=3, search=3, seed=3)
    local = train(str(penguins), out=tmp_path / "local", **settings)  # one trial at a time
    # two trials at once, each in its own worker process of a LocalCluster
    dask = train(str(penguins), out=tmp_path / "dask", engine="dask", **{**settings, "search_workers": 2})
    assert [t["params"] for t in dask["search"]["trials"]] == [t["params"] for t in local["search"]["trials"]]
    assert [t["fold_scores"] for t in dask["search"]["trials"]] == [t["fold_scores"] for t in local["search"]["trials"]]
    assert dask["search"]["best"] == local["search"]["best"]
    assert dask["test"]["accuracy"] == local["test"]["accuracy"]


def test_train_engine_flags_are_checked(cli, penguins, tmp_path):
    line = one_error_line(cli("train", penguins, "--label", "species", "-o", tmp_path / "r", "--scheduler", "tcp://h:1"))
    assert "--scheduler" in line and "--engine dask" in line
    line = one_internal_error_line(cli("train", penguins, "--label", "species", "-o", tmp_path / "r", "--search", "2",
                                       "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"))
    assert "ClusterError: cannot reach the Dask scheduler tcp://127.0.0.1:1" in line  # a cluster failure: exit 3


def _table(tmp_path, labels) -> Path:
    """60 rows of two features, split 36/12/12 in order, labelled ``labels``."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "z": rng.normal(size=60), "y": labels,
                       "split": ["train"] * 36 + ["val"] * 12 + ["test"] * 12})
    df.to_parquet(tmp_path / "t.parquet", index=False)
    return tmp_path / "t.parquet"


@pytest.mark.parametrize("labels, says", [
    (["a"] * 60, "--label 'y' has a single class in the train split ('a', 36 rows): nothing to stratify on or learn"),
    ([None] * 36 + ["a", "b"] * 12, "--label 'y': every value is missing in the train split (36 rows)"),
    (["a"] * 32 + [None] * 4 + ["b"] * 24, "--label 'y' has a single class in the train split ('a', 32 rows)"),
])
def test_a_train_split_with_one_class_or_none_is_one_error_line(cli, tmp_path, labels, says):
    """Issue 22 item 10: a single class (or none) in train used to train silently and report
    test accuracy 1 with four scikit-learn warnings; the split's own rule now refuses it."""
    r = cli("train", _table(tmp_path, labels), "--label", "y", "-o", tmp_path / "run", "--epochs", "1")
    assert says in one_error_line(r)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_class_absent_from_train_is_named_in_metrics_and_on_the_terminal(cli, tmp_path):
    labels = ["a", "b"] * 18 + ["a", "b", "c"] * 8
    r = cli("train", _table(tmp_path, labels), "--label", "y", "-o", tmp_path / "run", "--epochs", "1")
    assert r.code == 0, r.err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes_absent_from_train"] == {"c": {"val": 4, "test": 4}}
    warning = ("class 'c' is in val (4 rows), test (4 rows) but not in train: the model cannot learn it, so each "
               "of its rows counts as an error")
    assert metrics["warnings"] == [warning]
    assert [line for line in r.out.splitlines() if line.startswith("warning:")] == [f"warning: {warning}"]
    assert metrics["test"]["per_class"]["c"]["recall"] == 0


def test_after_a_search_the_chosen_trial_gives_the_curves_and_val_errors(penguins, tmp_path, monkeypatch):
    """Issue 22 item 11: after ``--search`` curves.png showed only the final retrain (no val,
    "best epoch 4"), errors.csv was empty (val was trained on) and the activations were of
    epoch 1. Now the chosen trial's folds give the curves and the val figures, and
    metrics.json says what the retrain used."""
    import pipelines.train.monitor as monitor
    from pipelines.train.run import train

    drawn = []
    real = monitor.write_curves
    monkeypatch.setattr(monitor, "write_curves", lambda history, path, **kw: (drawn.append((history, kw)),
                                                                            real(history, path, **kw)))
    metrics = train(str(penguins), label="species", out=tmp_path / "run", epochs=30, search=2)
    best = metrics["search"]["best"]
    rows = metrics["rows"]
    assert metrics["retrain"] == {"splits": ["train", "val"], "rows": rows["train"] + rows["val"],
                                  "epochs": best["epochs"], "trial": best["trial"], "fits": 5}
    assert metrics["best_epoch"] == metrics["stopped_epoch"] == best["epochs"]
    (history, kw), = drawn
    assert history == best["history"] and all(row["val_loss"] is not None for row in history)
    assert kw["best_epoch"] == best["epochs"] and kw["title"].startswith(f"search trial {best['trial']} (mean of 5 folds)")
    # val: every train+val row, predicted by the fold fit that did not train on it
    held = metrics["val"]["held_out"]
    assert held == {"trial": best["trial"], "fits": 5, "rows": rows["train"] + rows["val"]}
    assert "seen_in_training" not in metrics["val"]
    assert sum(map(sum, metrics["val"]["confusion"])) == held["rows"]
    wrong = held["rows"] - sum(metrics["val"]["confusion"][i][i] for i in range(3))
    assert metrics["errors"]["failed"] == wrong
    errors = pd.read_csv(tmp_path / "run" / "errors.csv")
    assert len(errors) == min(100, wrong)
    from pipelines.train.data import prepare_data
    from pipelines.train.run import make_config

    prepared = prepare_data(pd.read_parquet(penguins), make_config(label="species"), base_dir=penguins.parent)
    assert set(errors["id"].astype(str)) <= set(prepared.splits["train"].ids) | set(prepared.splits["val"].ids)
    # the activations are recorded over the retrain's own epochs, up to its last (not at epoch 1 only: one
    # epoch in five of the 30 asked was recorded, and the retrain ran fewer)
    assert metrics["histograms"]["epoch"] == best["epochs"]


def test_cli_search_says_whether_the_best_trials_lead_is_one_the_rows_show(cli, penguins, tmp_path):
    r = cli("train", penguins, "--label", "species", "-o", tmp_path / "run", "--search", "3", "--epochs", "3")
    assert r.code == 0, r.err
    best = json.loads((tmp_path / "run" / "metrics.json").read_text())["search"]["best"]
    test, second = best["runner_up"]["paired_test"], best["runner_up"]
    verdict = "a lead these rows show" if test["shows"] else "not a lead these rows can show"
    line = (f"search: best trial {best['trial']} vs the next best, trial {second['trial']} "
            f"(cv {second['cv_mean']:.3f}): {test['only_a']} rows only trial {best['trial']} got right, "
            f"{test['only_b']} only trial {second['trial']} (exact McNemar p = {test['pvalue']:.3f}): {verdict}")
    assert line in r.out
    assert best["interval"]["n"] == test["rows"] > 200  # train + val rows, each validated once
