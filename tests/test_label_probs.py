"""``label_issues: {probs: PATH}``: confident learning on out-of-fold probabilities from a
file (what ``curaug train --folds`` writes for media), matched to the rows by id (issue 14)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import one_error_line
from curate.checks.validate import validate
from curate.rules.schema import load_rules, parse_rules

PLANTED = "0/digit_0010.png"


@pytest.fixture
def digits(cli, sample, tmp_path):
    """The sample digit images as a manifest, one image relabelled from 0 to 7."""
    manifest = tmp_path / "digits.parquet"
    assert cli("ingest", sample / "images", "-o", manifest, "--workers", "1").code == 0
    df = pd.read_parquet(manifest)
    truth = df.set_index("id")["label"].astype(str)
    assert truth[PLANTED] == "0"
    df.loc[df["id"] == PLANTED, "label"] = "7"
    df.to_parquet(manifest)
    return manifest, truth


def _probs(truth: pd.Series, *, seed: int = 0, sure: tuple[str, ...] = ()) -> pd.DataFrame:
    """What a good model's out-of-fold probabilities look like: most mass on the true class
    (0.7 to 1), and 0.94 of it for the ids in ``sure``."""
    classes = sorted(truth.unique())
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(len(classes)), size=len(truth)) * 0.3
    p[truth.index.isin(sure)] = 0.06 / (len(classes) - 1)
    p[np.arange(len(truth)), [classes.index(c) for c in truth]] += np.where(truth.index.isin(sure), 0.94, 0.7)
    return pd.DataFrame({"id": truth.index, **{f"prob_{c}": p[:, j] for j, c in enumerate(classes)}})


def _write_rules(folder, probs: str, **extra) -> str:
    folder.mkdir(exist_ok=True)
    rules = folder / "rules.yaml"
    rule = {"probs": probs, "max_fraction": 0.0, "severity": "error", **extra}
    rules.write_text(json.dumps({"label": "label", "dataset": {"label_issues": rule}}))
    return rules


def test_planted_mislabelled_image_is_found_from_a_probs_file(digits, cli, tmp_path):
    manifest, truth = digits
    probs = _probs(truth, sure=(PLANTED,))  # the model is sure it is a 0, whatever its label says
    unjudged = ["1/digit_0001.png", "7/digit_0007.png"]
    assert set(unjudged) <= set(probs["id"])
    (tmp_path / "run").mkdir()
    probs[~probs["id"].isin(unjudged)].to_parquet(tmp_path / "run" / "oof_probs.parquet")
    # relative to the rules file's folder, not to where curaug runs
    rules = _write_rules(tmp_path / "rules", "../run/oof_probs.parquet")
    result = tmp_path / "result.json"
    run = cli("validate", manifest, "--rules", rules, "--json", result)
    assert run.code == 1, run.err
    check = next(c for c in json.loads(result.read_text())["checks"] if c["name"] == "label_issues")
    assert [s["id"] for s in check["observed"]["suspects"]] == [PLANTED]
    assert check["observed"]["suspects"][0]["given"] == "7"
    assert check["observed"]["suspects"][0]["suggested"] == "0"
    assert check["offenders"] == [PLANTED]
    # 143 decodable images, two of them left out of the probs file
    assert check["observed"]["judged"] == 141 and check["observed"]["without_probs"] == 2
    assert "2 labelled rows had no probabilities" in check["details"]
    assert "model" not in check["observed"]

    # with the planted label put back, nothing is flagged
    df = pd.read_parquet(manifest)
    df.loc[df["id"] == PLANTED, "label"] = "0"
    fixed = tmp_path / "fixed.parquet"
    df.to_parquet(fixed)
    assert cli("validate", fixed, "--rules", rules).code == 0


def test_probs_path_resolution(tmp_path):
    rules = load_rules(_write_rules(tmp_path / "rules", "oof.csv"))
    assert rules.dataset.label_issues.probs == str(tmp_path / "rules" / "oof.csv")
    absolute = str(tmp_path / "elsewhere.csv")
    assert load_rules(_write_rules(tmp_path / "other", absolute)).dataset.label_issues.probs == absolute
    # a rules mapping from Python: relative to the working folder, as any path argument
    assert parse_rules({"dataset": {"label_issues": {"probs": "oof.csv"}}}).dataset.label_issues.probs == "oof.csv"


def test_probs_from_csv_through_the_api_and_without_probs_unchanged(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2))
    X[5, 0] = 3.0  # far on the "b" side, labelled "a"
    y = np.where(X[:, 0] > 0, "b", "a")
    df = pd.DataFrame({"id": [f"r{i}" for i in range(120)], "x0": X[:, 0], "x1": X[:, 1], "y": y})
    df.loc[5, "y"] = "a"
    truth = pd.Series(y, index=df["id"])
    _probs(truth, seed=1, sure=("r5",)).to_csv(tmp_path / "oof.csv", index=False)
    rule = {"probs": str(tmp_path / "oof.csv"), "max_fraction": 0.0}
    check = [c for c in validate(df, parse_rules({"dataset": {"label_issues": rule}}), label="y").checks
             if c.name == "label_issues"][0]
    assert check.offenders == ["r5"] and check.observed["without_probs"] == 0
    assert check.observed["probs"] == str(tmp_path / "oof.csv")
    # without probs the check fits its own model on the feature columns, as before
    logistic = parse_rules({"dataset": {"label_issues": {"model": "logistic"}}})
    own = [c for c in validate(df, logistic, label="y").checks if c.name == "label_issues"][0]
    assert own.observed["model"] == "logistic" and "r5" in own.offenders and "without_probs" not in own.observed


@pytest.mark.parametrize("make, message", [
    (lambda p: p.drop(columns="prob_8"), "has no probabilities for label(s) 8 (its classes: 0, 1, 7)"),
    (lambda p: p.assign(id="other_" + p["id"]), "no id matches a labelled row"),
    (lambda p: p.drop(columns="id"), "needs an 'id' column and one 'prob_<class>' column per class"),
    (lambda p: p.rename(columns=lambda c: c.replace("prob_", "p_")), "needs an 'id' column"),
    (lambda p: pd.concat([p, p.head(1)]), "appears more than once"),
    (lambda p: p.assign(prob_0=p["prob_0"].where(p.index != 3)), "probabilities must be numbers >= 0"),
    (lambda p: p.assign(prob_1=-p["prob_1"]), "probabilities must be numbers >= 0"),
])
def test_bad_probs_file_is_one_error_line(digits, cli, tmp_path, make, message):
    manifest, truth = digits
    before = manifest.read_bytes()
    make(_probs(truth)).to_parquet(tmp_path / "oof.parquet")
    result = tmp_path / "result.json"
    line = one_error_line(cli("validate", manifest, "--rules", _write_rules(tmp_path / "r", "../oof.parquet"),
                              "--json", result))
    assert line.startswith(f"error: label_issues: probs file {tmp_path / 'r' / '../oof.parquet'}")
    assert message in line
    assert not result.exists() and manifest.read_bytes() == before


def test_missing_or_unreadable_probs_file(digits, cli, tmp_path):
    manifest, _ = digits
    rules = _write_rules(tmp_path / "r", "nowhere.parquet")
    line = one_error_line(cli("validate", manifest, "--rules", rules))
    assert line == f"error: label_issues: probs file {tmp_path / 'r' / 'nowhere.parquet'}: no such file"
    (tmp_path / "r" / "oof.txt").write_text("id,prob_0\n")
    line = one_error_line(cli("validate", manifest, "--rules", _write_rules(tmp_path / "r", "oof.txt")))
    assert "unknown table extension '.txt'" in line
