from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import one_error_line
from curate.split.assign import largest_remainder, stable_assign
from curate.split.splitters import split_frame

ratio_sets = st.sampled_from([(0.6, 0.2, 0.2), (0.8, 0.2, 0.0), (0.5, 0.25, 0.25), (0.7, 0.15, 0.15)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcde"), min_size=3, max_size=200), ratio_sets, st.integers(0, 2**16))
def test_stratified_partition_within_one_of_ideal(labels, ratios, seed):
    df = pd.DataFrame({"y": labels})
    res = split_frame(df, "y", ratios=ratios, seed=seed)
    assert len(res.split) == len(df) and set(res.split) <= {"train", "val", "test"}
    counts = pd.crosstab(df["y"], res.split)
    for cls, n in df["y"].value_counts().items():
        if n < sum(r > 0 for r in ratios):
            assert (res.split[df["y"] == cls] == "train").all()
            continue
        for part, r in zip(("train", "val", "test"), ratios):
            got = counts.loc[cls, part] if part in counts.columns else 0
            assert abs(got - n * r) < 1, (cls, part, got, n * r)
    again = split_frame(df, "y", ratios=ratios, seed=seed)
    assert (again.split == res.split).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(20, 300), st.integers(2, 40), st.integers(0, 2**16), st.sampled_from([0, 3, 5]))
def test_groups_never_straddle_splits_or_folds(n, n_groups, seed, folds):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"y": rng.choice(list("abc"), n), "g": rng.integers(0, n_groups, n)})
    res = split_frame(df, "y", group="g", folds=folds, seed=seed)
    assert (pd.Series(res.split).groupby(df["g"].to_numpy()).nunique() == 1).all()
    if folds:
        dev = res.fold >= 0
        assert ((res.split != "test") == dev).all()
        assert (pd.Series(res.fold[dev]).groupby(df["g"].to_numpy()[dev]).nunique() == 1).all()


def test_stable_split_survives_appends():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [f"s{i}" for i in range(1000)], "y": rng.choice(list("ab"), 1000)})
    first = split_frame(df, "y", stable=True, seed=4).split
    more = pd.concat([df, pd.DataFrame({"id": [f"n{i}" for i in range(500)], "y": ["a"] * 500})], ignore_index=True)
    second = split_frame(more.sample(frac=1, random_state=1), "y", stable=True, seed=4)
    moved = pd.Series(second.split, index=more.sample(frac=1, random_state=1)["id"]).loc[df["id"]].to_numpy()
    assert (moved == first).all()
    assert abs((first == "train").mean() - 0.6) < 0.05
    assert stable_assign(np.array(["x"]), [0.5, 0.5], 1).tolist() == stable_assign(np.array(["x"]), [0.5, 0.5], 1).tolist()


def test_largest_remainder_sums():
    assert largest_remainder(10, [0.6, 0.2, 0.2]).tolist() == [6, 2, 2]
    assert largest_remainder(3, [0.8, 0.2, 0.0]).tolist() == [2, 1, 0]


def test_group_balance_no_worse_than_scikit_learn():
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(1)
    n_groups = 2000
    sizes = rng.integers(1, 15, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    y = np.repeat(rng.choice(list("abcd"), n_groups, p=[0.5, 0.3, 0.15, 0.05]), sizes)
    df = pd.DataFrame({"y": y, "g": g})
    overall = df["y"].value_counts(normalize=True)

    def deviation(assign):
        share = pd.crosstab(df["y"], assign, normalize="columns")
        return float(share.sub(overall, axis=0).abs().max().max())

    ours = split_frame(df, "y", group="g", ratios=(0.8, 0.2, 0.0), folds=5, seed=0)
    sk = np.empty(len(df), dtype=int)
    for k, (_, test) in enumerate(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(df, y, g)):
        sk[test] = k
    assert deviation(ours.fold) <= deviation(sk) + 0.001
    sizes_ = np.bincount(ours.fold)
    assert sizes_.max() / sizes_.min() < 1.1


def test_cli_split_then_validate_passes(cli, sample, tmp_path):
    out = tmp_path / "split.parquet"
    r = cli("split", sample / "penguins.csv", "--label", "species", "--group", "individual_id", "--folds", "5",
            "-o", out, "--json", tmp_path / "report.json")
    assert r.code == 0, r.err
    df = pd.read_parquet(out)
    raw = pd.read_csv(sample / "penguins.csv")
    assert list(df.columns) == list(raw.columns) + ["split", "fold"]
    pd.testing.assert_frame_equal(df[raw.columns], raw, check_dtype=False)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["sizes"]["train"] + report["sizes"]["val"] + report["sizes"]["test"] == len(raw)
    assert set(df.loc[df["split"] == "test", "fold"]) == {-1}
    assert set(df.loc[df["split"] != "test", "fold"]) == {0, 1, 2, 3, 4}
    r = cli("validate", out, "--label", "species", "--group", "individual_id", "--json", "-")
    checks = {c["name"]: c for c in json.loads(r.out)["checks"]}
    assert checks["group_overlap"]["success"] and checks["classes_in_every_split"]["success"]
    assert checks["split_ratios"]["success"]


def test_cli_split_on_manifest_skips_corrupt_rows(cli, sample, tmp_path):
    manifest, out = tmp_path / "m.parquet", tmp_path / "s.parquet"
    assert cli("ingest", sample / "images", "-o", manifest).code == 0
    assert cli("split", manifest, "--label", "label", "--seed", "3", "-o", out).code == 0
    df = pd.read_parquet(out)
    assert df.loc[df["status"] == "corrupt", "split"].isna().all()
    assert df.loc[df["status"] == "ok", "split"].notna().all()


def test_cli_split_bad_input(cli, sample, tmp_path):
    out = tmp_path / "o.csv"
    assert "sum to" in one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--ratios", "0.5,0.2,0.2", "-o", out))
    assert "label column 'kind'" in one_error_line(cli("split", sample / "penguins.csv", "--label", "kind", "-o", out))
    assert "--folds 1" in one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--folds", "1", "-o", out))
    tiny = tmp_path / "tiny.csv"
    pd.DataFrame({"y": ["a"] * 10 + ["b"]}).to_csv(tiny, index=False)
    assert "fewer members" in one_error_line(cli("split", tiny, "--label", "y", "--strict", "-o", out))
    r = cli("split", tiny, "--label", "y", "-o", out)
    assert r.code == 0 and "all go to train: b" in r.out
    assert not (tmp_path / "o.parquet").exists()
