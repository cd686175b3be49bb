from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import one_error_line
from curate.errors import CuraugError
from curate.split.assign import largest_remainder
from curate.split.splitters import split_frame

ratio_sets = st.sampled_from([(0.6, 0.2, 0.2), (0.8, 0.2, 0.0), (0.5, 0.25, 0.25), (0.7, 0.15, 0.15)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcde"), min_size=3, max_size=200), ratio_sets, st.integers(0, 2**16))
def test_stratified_partition_reaches_every_split_near_ideal(labels, ratios, seed):
    df = pd.DataFrame({"y": labels})
    needed = sum(r > 0 for r in ratios)
    counts = df["y"].value_counts()
    if len(counts) == 1:  # nothing to stratify on or learn
        with pytest.raises(CuraugError, match="has a single class"):
            split_frame(df, "y", ratios=ratios, seed=seed, strict=False)
        return
    if counts.min() < needed:  # too small for every split: an error naming the class, unless asked
        with pytest.raises(CuraugError, match=f"of label='y' has {counts.min()} rows") as exc:
            split_frame(df, "y", ratios=ratios, seed=seed)
        assert counts[str(exc.value).split("'")[1]] == counts.min()
    res = split_frame(df, "y", ratios=ratios, seed=seed, strict=False)
    assert len(res.split) == len(df) and set(res.split) <= {"train", "val", "test"}
    table = pd.crosstab(df["y"], res.split)
    for cls, n in counts.items():
        if n < needed:
            assert (res.split[df["y"] == cls] == "train").all()
            continue
        for part, r in zip(("train", "val", "test"), ratios):
            got = table.loc[cls, part] if part in table.columns else 0
            if r > 0:
                assert got >= 1, (cls, part)  # every class that can reach a split does
            # within one row of ideal; a part given its one row may push another up to two off
            assert abs(got - n * r) < (1 if n * min(x for x in ratios if x) >= 1 else 2), (cls, part, got, n * r)
    again = split_frame(df, "y", ratios=ratios, seed=seed, strict=False)
    assert (again.split == res.split).all()


def test_a_class_of_three_rows_reaches_all_three_splits():
    df = pd.DataFrame({"y": ["a"] * 20 + ["b"] * 3})
    for strict in (True, False):
        res = split_frame(df, "y", seed=0, strict=strict)
        assert sorted(res.split[df["y"] == "b"]) == ["test", "train", "val"]
        assert not res.notes


def test_classes_too_small_for_every_split_or_fold_are_named():
    df = pd.DataFrame({"id": [f"r{i}" for i in range(14)], "y": ["a"] * 10 + ["b"] * 2 + ["c"] * 2})
    with pytest.raises(CuraugError) as exc:
        split_frame(df, "y")
    assert "class 'b' of label='y' has 2 rows but must appear in 3 splits (train, val, test)" in str(exc.value)
    assert "1 more: c" in str(exc.value) and "strict=False" in str(exc.value) and exc.value.param == "label"
    res = split_frame(df, "y", strict=False)
    assert set(res.split[df["y"] != "a"]) == {"train"} and "all go to train: b, c" in res.notes[0]
    halves = split_frame(df, "y", ratios=(0.5, 0.5, 0.0))  # two splits: two rows are enough
    assert pd.crosstab(df["y"], halves.split).to_numpy().tolist() == [[5, 5], [1, 1], [1, 1]]
    grouped = pd.DataFrame({"y": ["a"] * 12 + ["b"] * 6, "g": list(range(12)) + [100, 100, 100, 101, 101, 101]})
    with pytest.raises(CuraugError, match="class 'b' of label='y' is in 2 groups"):
        split_frame(grouped, "y", group="g")
    folds = pd.DataFrame({"y": ["a"] * 30 + ["b"] * 5})
    with pytest.raises(CuraugError) as exc:
        split_frame(folds, "y", folds=5)
    assert str(exc.value) == ("folds=5 cannot be greater than the number of members in each class: "
                              "class 'b' of label='y' has 4 rows in train and val")
    assert exc.value.param == "folds"
    assert (pd.Series(split_frame(folds, "y", folds=4).fold[folds["y"].eq("b").to_numpy()]).value_counts()
            .sort_index().index.tolist() == [-1, 0, 1, 2, 3])
    with pytest.raises(CuraugError, match="no rows"):
        split_frame(folds.iloc[:0], "y")


@settings(max_examples=40, deadline=None)
@given(st.integers(20, 300), st.integers(2, 40), st.integers(0, 2**16), st.sampled_from([0, 3, 5]))
def test_groups_never_straddle_splits_or_folds(n, n_groups, seed, folds):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"y": rng.choice(list("abc"), n), "g": rng.integers(0, n_groups, n)})
    try:
        res = split_frame(df, "y", group="g", folds=folds, seed=seed, strict=False)
    except CuraugError as exc:  # the claim must hold: fewer dev groups or class rows than folds
        assert exc.param == "folds"
        counted = re.search(r"has (\d+) rows in train and val", str(exc))
        if counted:  # the figure is the grouped assignment's own (folds change which groups go to test)
            assert int(counted.group(1)) < folds
            return
        dev = split_frame(df, "y", group="g", seed=seed, strict=False).split != "test"
        assert df[dev]["g"].nunique() < folds or df[dev]["y"].value_counts().reindex(list("abc")).min() < folds \
            or df[dev]["y"].nunique() < 3
        return
    assert (pd.Series(res.split).groupby(df["g"].to_numpy()).nunique() == 1).all()
    if folds:
        fold = res.fold.to_numpy(dtype=int)
        dev = fold >= 0
        assert ((res.split != "test") == dev).all()
        assert (pd.Series(fold[dev]).groupby(df["g"].to_numpy()[dev]).nunique() == 1).all()


def test_stable_split_survives_appends_and_reruns_in_another_process():
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [f"s{i}" for i in range(1000)], "y": rng.choice(list("ab"), 1000)})
    first = split_frame(df, "y", stable=True, seed=4).split
    more = pd.concat([df, pd.DataFrame({"id": [f"n{i}" for i in range(500)], "y": ["a"] * 500})], ignore_index=True)
    shuffled = more.sample(frac=1, random_state=1)
    second = split_frame(shuffled, "y", stable=True, seed=4)
    moved = pd.Series(second.split, index=shuffled["id"]).loc[df["id"]].to_numpy()
    assert (moved == first).all()  # appending and reordering rows moves no existing row
    assert abs((first == "train").mean() - 0.6) < 0.05
    assert (split_frame(df, "y", stable=True, seed=5).split != first).mean() > 0.3  # the seed matters
    code = ("import numpy as np; from curate.split.assign import stable_assign; "
            "print(''.join(map(str, stable_assign(np.array(['s%d' % i for i in range(1000)]), [0.6, 0.2, 0.2], 4))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=str(Path(__file__).resolve().parent.parent))
    assert out.stdout.strip() == "".join(str({"train": 0, "val": 1, "test": 2}[s]) for s in first)


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
    line = one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--ratios", "0.5,0.2,0.2", "-o", out))
    assert "ratios" in line and "sum to 0.9" in line
    line = one_error_line(cli("split", sample / "penguins.csv", "--label", "kind", "-o", out))
    assert "'kind'" in line and "no such column" in line
    line = one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--folds", "1", "-o", out))
    assert "folds" in line and "at least 2" in line
    line = one_error_line(cli("split", sample / "penguins.csv", "--label", "species", "--folds", "70", "-o", out))
    assert "cannot be greater than the number of members in each class: class 'Chinstrap'" in line
    tiny = tmp_path / "tiny.csv"
    pd.DataFrame({"y": ["a"] * 10 + ["b"] * 2}).to_csv(tiny, index=False)
    line = one_error_line(cli("split", tiny, "--label", "y", "-o", out))
    assert "class 'b'" in line and "has 2 rows but must appear in 3 splits" in line
    assert "pass --small-classes-to-train" in line and "strict" not in line  # the flag, not the Python name
    assert not out.exists()
    opted = tmp_path / "opted.csv"
    assert cli("split", tiny, "--label", "y", "--small-classes-to-train", "-o", opted).code == 0
    assert pd.read_csv(opted).query("y == 'b'")["split"].tolist() == ["train", "train"]
    empty = tmp_path / "empty.csv"
    empty.write_text("y\n")
    assert f"error: {empty}: the table has no rows" in one_error_line(cli("split", empty, "--label", "y", "-o", out))
    assert not out.exists()


def test_a_class_that_misses_a_split_or_fold_is_said():
    df = pd.DataFrame({"id": [f"r{i}" for i in range(63)], "y": ["a"] * 60 + ["b"] * 3})
    res = split_frame(df, "y", stable=True, seed=3)  # hashing ignores classes: b misses test
    assert sorted(res.split[df["y"] == "b"]) == ["train", "train", "val"]
    assert res.notes == ["1 classes have no rows in test: b"]
    df = pd.DataFrame({"id": [f"r{i}" for i in range(66)], "y": ["a"] * 60 + ["b"] * 6})
    res = split_frame(df, "y", stable=True, seed=0, folds=2)
    assert set(res.fold[(df["y"] == "b").to_numpy()].tolist()) == {-1, 1}
    assert res.notes == ["1 classes are missing from some fold: b"]
