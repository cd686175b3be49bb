"""How much data is enough (issue 25 §4): the power-law fit, the nested subsets, the
extrapolation on the digits, ``curaug train --learning-curve`` and the pipeline stage."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE, one_error_line
from curate.stats.power_law import fit_power_law, power_law, predict, rows_to_reach
from pipelines.train.learning_curve import nested_subset, parse_fractions, summarize

TRUE = {"a": 2.0, "b": 0.5, "c": 0.05}


def test_the_fit_recovers_a_synthetic_curves_parameters():
    n = np.array([50, 100, 200, 400, 800, 1600, 3200, 6400.0])
    sigma = np.full(len(n), 0.002)
    noise = np.random.default_rng(0).normal(0, 0.002, len(n))
    fit = fit_power_law(n, power_law(n, **TRUE) + noise, sigma)
    for name, value in TRUE.items():
        assert abs(fit[name] - value) <= 3 * fit["stderr"][name], (name, fit[name], fit["stderr"][name])
    assert fit["b"] == pytest.approx(0.5, abs=0.05) and fit["c"] == pytest.approx(0.05, abs=0.01)


def test_the_extrapolation_band_holds_the_true_curve():
    n = np.array([100, 200, 400.0])
    error = power_law(n, **TRUE)
    fit = fit_power_law(n, error + np.array([0.004, -0.003, 0.002]), np.full(3, 0.005))
    far = predict(fit, 1600, 0.95)
    assert far["band"][0] <= power_law(1600.0, **TRUE) <= far["band"][1]


def test_rows_to_reach_inverts_the_curve():
    fit = fit_power_law(*(lambda n: (n, power_law(n, **TRUE), np.full(len(n), 1e-4)))(
        np.array([100, 200, 400, 800, 1600.0])))
    reach = rows_to_reach(fit, 0.1, 0.95)  # 2 n^-0.5 = 0.05: n = 1600
    assert reach["reachable"] and reach["rows"] == pytest.approx(1600, rel=0.01)
    assert reach["band"][0] <= 1600 <= reach["band"][1]
    assert not rows_to_reach(fit, 0.04, 0.95)["reachable"]


def test_too_few_sizes_is_an_error_naming_the_parameter():
    from curate.errors import CuraugError

    with pytest.raises(CuraugError, match="fractions: 2 distinct train sizes"):
        fit_power_law([10, 10, 20], [0.3, 0.31, 0.2], [0.01] * 3)


def _frame(counts: dict[str, int]) -> pd.DataFrame:
    labels = [c for c, k in counts.items() for _ in range(k)]
    split = (["train", "train", "train", "val", "test"] * len(labels))[:len(labels)]
    return pd.DataFrame({"id": [f"r{i}" for i in range(len(labels))], "label": labels, "split": split})


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from("abcd"), st.integers(5, 60), min_size=1),
       st.lists(st.floats(0.05, 1.0), min_size=2, max_size=4, unique=True), st.integers(0, 5))
def test_subsets_are_stratified_nested_and_leave_val_and_test_alone(counts, fractions, seed):
    df = _frame(counts)
    train = df[df["split"] == "train"]
    kept = [nested_subset(df, "label", f, seed) for f in sorted(fractions)]
    for fraction, sub in zip(sorted(fractions), kept):
        got = sub[sub["split"] == "train"]["label"].value_counts()
        for cls, n in train["label"].value_counts().items():
            assert got[cls] == max(1, int(np.ceil(round(fraction * n, 9))))
        assert sub[sub["split"] != "train"]["id"].tolist() == df[df["split"] != "train"]["id"].tolist()
    for small, big in zip(kept, kept[1:]):
        assert set(small["id"]) <= set(big["id"])


def test_augmented_rows_follow_their_source():
    df = _frame({"a": 20})
    copies = df[df["split"] == "train"].assign(id=lambda d: d["id"] + "_aug", source_id=df["id"])
    sub = nested_subset(pd.concat([df.assign(source_id=None), copies], ignore_index=True), "label", 0.5, 0)
    originals = set(sub.loc[sub["source_id"].isna() & (sub["split"] == "train"), "id"])
    assert set(sub.loc[sub["source_id"].notna(), "source_id"]) == originals and len(originals) == 6


@pytest.mark.parametrize("text,message", [
    ("0.1,x,1", "'x' is not a number"), ("0.4,0.2,1", "must increase (0.2 follows 0.4)"),
    ("0,0.5,1", "0 is outside (0, 1]"), ("0.5,1.2,2", "1.2 is outside (0, 1]"),
    ("0.5,1", "2 given; a curve a n^-b + c needs at least 3"), ("", "'' is not a number")])
def test_bad_fractions_are_refused(text, message):
    from curate.errors import CuraugError

    with pytest.raises(CuraugError, match=r"fractions=.*" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("^", r"\^").replace("+", r"\+")):
        parse_fractions(text)


# ---------------------------------------------------------------- the digits, fitted on 10-40 %
def digits_curve() -> tuple[dict, list[dict]]:
    """Val errors of a logistic regression on scikit-learn's digits (curaug's split, curaug's
    nested subsets; a fast stand-in for the trained baseline, the curve machinery is the same)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    import curaug

    data = load_digits()
    df = pd.DataFrame(data.data / 16, columns=[f"p{i}" for i in range(64)])
    df["label"], df["id"] = data.target.astype(str), [f"d{i}" for i in range(len(df))]
    df = curaug.split(df, label="label", seed=0)
    columns = [f"p{i}" for i in range(64)]
    val = df[df["split"] == "val"]
    points = []
    for fraction in (0.1, 0.2, 0.4, 1.0):
        for seed in range(3):
            sub = nested_subset(df, "label", fraction, seed)
            train = sub[sub["split"] == "train"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = LogisticRegression(max_iter=500).fit(train[columns], train["label"])
            points.append({"fraction": fraction, "seed": seed, "train_rows": len(train), "val_rows": len(val),
                           "val_error": 1 - model.score(val[columns], val["label"])})
    early = summarize([p for p in points if p["fraction"] < 1], 0.95)
    return early, [p for p in points if p["fraction"] == 1.0]


def test_on_the_digits_10_to_40_percent_predict_the_full_error_within_the_interval():
    early, full = digits_curve()
    measured = float(np.mean([p["val_error"] for p in full]))
    table = early["table"]
    fit = fit_power_law(*([t[k] for t in table] for k in ("train_rows", "val_error", "sigma")))
    predicted = predict(fit, full[0]["train_rows"], 0.95, val_rows=full[0]["val_rows"])
    # three sizes barely pin down three parameters: the band is wide, and says so
    assert predicted["band"][0] <= measured <= predicted["band"][1], (predicted, measured)
    assert abs(predicted["error"] - measured) < 0.03


# ---------------------------------------------------------------- curaug train --learning-curve
@pytest.fixture(scope="module")
def penguins(tmp_path_factory) -> Path:
    import curaug

    folder = tmp_path_factory.mktemp("penguins")
    df = curaug.split(pd.read_csv(SAMPLE / "penguins.csv"), label="species", seed=0)
    df.to_parquet(folder / "split.parquet", index=False)
    return folder / "split.parquet"


@pytest.fixture(scope="module")
def curve_run(penguins, tmp_path_factory):
    from pipelines.cli import main

    run = tmp_path_factory.mktemp("lc") / "run"
    code = main(["train", str(penguins), "--label", "species", "-o", str(run), "--epochs", "3", "--device", "cpu",
                 "--learning-curve", "--fractions", "0.2,0.5,1", "--seeds", "1"])
    assert code == 0
    return run


def test_train_writes_intervals_that_match_scipy(curve_run):
    from scipy.stats import binomtest

    metrics = json.loads((curve_run / "metrics.json").read_text())
    for split in ("val", "test"):
        interval = metrics[split]["interval"]
        confusion = np.array(metrics[split]["confusion"])
        assert interval["n"] == metrics["rows"][split] == confusion.sum()
        assert interval["correct"] == np.trace(confusion)
        exact = binomtest(interval["correct"], interval["n"]).proportion_ci(method="exact")
        assert interval["accuracy"] == [round(exact.low, 4), round(exact.high, 4)]
    assert metrics["val_vs_test"]["within_intervals"] in (True, False)


def test_learning_curve_writes_table_plot_and_answers(curve_run):
    table = pd.read_csv(curve_run / "learning_curve.csv")
    assert len(table) == 3 and sorted(set(table["fraction"])) == [0.2, 0.5, 1.0]
    assert (table.groupby("fraction")["train_rows"].first().diff().dropna() > 0).all()
    result = json.loads((curve_run / "learning_curve.json").read_text())
    assert result["val_rows"] == table["val_rows"].iloc[0]
    assert len(result["answers"]) == 3 and isinstance(result["flattened"], bool)
    # the run itself is the first seed's full fraction: no second training of it
    assert sorted(p.name for p in (curve_run / "learning_curve").iterdir()) == ["f0.2_seed0", "f0.5_seed0"]
    metrics = json.loads((curve_run / "metrics.json").read_text())
    assert table.loc[table["fraction"] == 1.0, "val_error"].item() == pytest.approx(1 - metrics["val"]["accuracy"])
    assert (curve_run / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,message", [
    (["--learning-curve", "--fractions", "0.1,x,1"], "error: --fractions '0.1,x,1': 'x' is not a number"),
    (["--learning-curve", "--fractions", "0.5,0.2,1"], "error: --fractions '0.5,0.2,1' must increase"),
    (["--learning-curve", "--fractions", "0.5,1,1.5"], "error: --fractions '0.5,1,1.5': 1.5 is outside (0, 1]"),
    (["--learning-curve", "--target-error", "1.5"], "error: --target-error 1.5: must lie strictly between 0 and 1"),
    (["--seeds", "2"], "--fractions, --seeds and --target-error need --learning-curve"),
])
def test_bad_learning_curve_options_exit_2_before_training(cli, penguins, tmp_path, args, message):
    run = tmp_path / "run"
    line = one_error_line(cli("train", penguins, "--label", "species", "-o", run, *args))
    assert message in line
    assert not run.exists()


def test_learning_curve_without_val_exits_2_and_trains_nothing(cli, penguins, tmp_path):
    no_val = tmp_path / "no_val.parquet"
    pd.read_parquet(penguins).query("split != 'val'").to_parquet(no_val)
    line = one_error_line(cli("train", no_val, "--label", "species", "-o", tmp_path / "run", "--learning-curve"))
    assert f"error: {no_val}: a learning curve scores every subset on the val split, and there is none" in line
    assert not (tmp_path / "run").exists()


def test_pipeline_learning_curve_needs_train(cli, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"out: runs/x\nsource: {SAMPLE / 'penguins.csv'}\nlabel: species\nsplit: {{}}\n"
                    "learning_curve: {seeds: 1}\n")
    assert "learning_curve: trains the train: section's model" in one_error_line(cli("run", path))
    path.write_text(f"out: runs/x\nsource: {SAMPLE / 'penguins.csv'}\nlabel: species\nsplit: {{}}\n"
                    "train: {epochs: 2}\nlearning_curve: {fractions: [0.5, 0.2, 1]}\n")
    assert "learning_curve.fractions: fractions [0.5, 0.2, 1.0]: must increase" in one_error_line(cli("run", path))


def test_the_report_shows_the_answers_the_plot_and_the_intervals(curve_run):
    from pipelines.report.pipeline_learning import learning_curve_section
    from pipelines.report.pipeline_train import training_section

    result = json.loads((curve_run / "learning_curve.json").read_text())
    page = learning_curve_section(curve_run, {"learning_curve": {"figures": result}})
    assert all(line.split(";")[0] in page for line in result["answers"])
    assert "id='learning-curve-plot'" in page and "data:image/png;base64," in page
    assert page.count("<tr>") == 1 + len(result["table"])
    metrics = json.loads((curve_run / "metrics.json").read_text())
    lo, hi = metrics["test"]["interval"]["accuracy"]
    shown = training_section(curve_run.parent, {"train": {"figures": metrics}})
    assert f"95 % interval {lo:.3f}-{hi:.3f} on {metrics['rows']['test']} rows" in shown
    assert "id='val-vs-test'" in shown


def test_the_learning_curve_stage_runs_in_a_pipeline_reruns_alone_and_reaches_the_report(cli, tmp_path, monkeypatch):
    """The stage as a user runs it: after train, its figures in out/ and in report.html; a
    second run has nothing to do; new fractions rerun it (and the report) alone."""
    import re

    def actions(run) -> dict[str, str]:
        return {name: action for action, name in re.findall(r"^  (run|skip|maybe)\s+(\w+)", run.out, re.M)}

    def write(fractions: str) -> None:
        path.write_text(f"out: runs/p\nsource: {SAMPLE / 'penguins.csv'}\nlabel: species\nsplit: {{seed: 0}}\n"
                        f"train: {{epochs: 6, seed: 0}}\nlearning_curve: {{fractions: {fractions}, seeds: 1}}\n")

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "p.yaml"
    write("[0.2, 0.5, 1.0]")
    first = cli("run", path)
    assert first.code == 0, first.err
    assert actions(first)["learning_curve"] == "run"
    out = tmp_path / "runs" / "p"
    result = json.loads((out / "learning_curve.json").read_text())
    assert [point["fraction"] for point in result["points"]] == [0.2, 0.5, 1.0]
    assert len(list((out / "learning_curve").iterdir())) == 2  # the full fraction is the train stage's run
    assert pd.read_csv(out / "learning_curve.csv").shape[0] == 3
    assert "Learning curve" in (out / "report.html").read_text(encoding="utf-8")
    again = cli("run", path)
    assert again.code == 0, again.err
    assert actions(again)["learning_curve"] == "skip" and actions(again)["train"] == "skip"
    write("[0.3, 0.6, 1.0]")
    changed = cli("run", path)
    assert changed.code == 0, changed.err
    assert actions(changed)["learning_curve"] == "run"
    assert actions(changed)["train"] == actions(changed)["split"] == "skip"
    assert [p["fraction"] for p in json.loads((out / "learning_curve.json").read_text())["points"]] == [0.3, 0.6, 1.0]
