"""The split checks on a partitioned table give exactly the in-memory checks' results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import curate.checks.drift as split_checks
from curate.checks import quantiles
from curate.checks.base import CHECKS, CheckContext
from curate.errors import CuraugError
from curate.partitioned.table import engine_scope, open_table
from curate.rules.schema import parse_rules

NAMES = ("split_ratios", "group_overlap", "classes_in_every_split", "duplicates_across_splits", "drift")
SPLIT_RULES = {"ratios": {"train": 0.6, "val": 0.2, "test": 0.2}, "near_duplicates": False,
               "max_drift": {"psi": 0.5, "ks_pvalue": 0.001, "js": 0.2}}


def make_table(n: int = 240, seed: int = 0, drift: bool = False, ids: bool = True) -> pd.DataFrame:
    """Splits with gap rows and rows without a split, groups of about three rows that often
    straddle splits, a class absent from test, rows copied into other splits, numeric
    features (one with ties) and a categorical one; ``drift``: test's ``shifted`` and val's
    ``colour`` move."""
    rng = np.random.default_rng(seed)
    split = rng.choice(["train", "val", "test"], p=[0.6, 0.2, 0.2], size=n).astype(object)
    split[rng.choice(n, 6, replace=False)] = "gap"
    split[rng.choice(n, 3, replace=False)] = None
    label = rng.choice(["cat", "dog", "eel"], size=n).astype(object)
    label[(split == "test") & (label == "eel")] = "dog"
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    if drift:
        colour[(split == "val") & (rng.random(n) < 0.7)] = "red"
    df = pd.DataFrame({
        "split": split, "group": rng.integers(0, n // 3, n), "label": label,
        "x": rng.normal(size=n), "shifted": rng.normal(size=n) + np.where((split == "test") & drift, 3.0, 0.0),
        "items": rng.integers(0, 5, n), "colour": colour})
    # exact copies across splits: rows 0-4 (train) reappear as rows 10-14 (test), row 20 three times
    df.loc[0:4, "split"], df.loc[10:14, "split"] = "train", "test"
    df.loc[[0, 1, 2, 3, 4, 20], "label"] = "cat"  # test still lacks eel
    df.loc[10:14, ["label", "x", "shifted", "items", "colour"]] = df.loc[0:4, ["label", "x", "shifted", "items",
                                                                                 "colour"]].to_numpy()
    df.loc[[20, 21, 22], "split"] = ["train", "val", "test"]
    df.loc[[21, 22], ["label", "x", "shifted", "items", "colour"]] = df.loc[[20, 20], ["label", "x", "shifted",
                                                                                         "items", "colour"]].to_numpy()
    df["x"], df["shifted"] = df["x"].astype(float), df["shifted"].astype(float)
    df["items"] = df["items"].astype("int64")
    if ids:
        df.insert(0, "id", [f"r{i:04d}" for i in range(n)])
    return df


def write_parts(df: pd.DataFrame, folder, files: int) -> str:
    """``df`` as a Parquet folder of ``files`` files of one schema (row order kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    bounds = np.linspace(0, len(df), files + 1).astype(int)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        pq.write_table(table.slice(a, b - a), folder / f"part-{i:03d}.parquet")
    return str(folder)


def rules_for(**splits) -> object:
    return parse_rules({"label": "label", "group": "group", "splits": {**SPLIT_RULES, **splits}})


def both(df: pd.DataFrame, path: str, rules, names=NAMES, label="label", group="group"):
    """``[(in-memory dicts, partitioned dicts)]`` per check name."""
    memory = CheckContext(df, rules, label=label, group=group, split_col="split")
    ctx = CheckContext(open_table(path), rules, label=label, group=group, split_col="split")
    return {name: ([r.to_dict() for r in CHECKS.get(name).run(memory)],
                   [r.to_dict() for r in CHECKS.get(name).run(ctx)]) for name in names}


@pytest.mark.parametrize("files", [1, 2, 6])
@pytest.mark.parametrize("drift", [False, True])
def test_every_split_check_equals_the_in_memory_one(tmp_path, files, drift):
    df = make_table(drift=drift)
    results = both(df, write_parts(df, tmp_path / "t", files), rules_for())
    for name, (memory, parts) in results.items():
        assert parts == memory, name
    # the table says what the checks must find, so equality is not two empty lists
    assert not results["group_overlap"][0][0]["success"]
    assert results["group_overlap"][0][0]["observed"]["overlapping_groups"] > 10
    assert results["classes_in_every_split"][0][0]["observed"]["missing"] == {"test": ["eel"]}
    dup = results["duplicates_across_splits"][0][0]
    assert dup["observed"]["exact_groups_across_splits"] == 6 and len(dup["offenders"]) == 8
    assert "rows have no split" in results["split_ratios"][0][0]["details"]
    drifted = " ".join(d for r in results["drift"][0] for d in r["observed"]["drifted"])
    assert ("shifted:" in drifted, "colour:" in drifted) == (drift, drift)
    assert len(results["drift"][0]) == 3


def test_no_ids_rows_named_by_position_and_no_overlap(tmp_path):
    df = make_table(seed=3, ids=False)
    df["group"] = df["split"].astype(str) + "-" + (df.index // 4).astype(str)  # groups inside a split
    results = both(df, write_parts(df, tmp_path / "t", 4), rules_for())
    for name, (memory, parts) in results.items():
        assert parts == memory, name
    assert results["group_overlap"][1][0]["success"]
    assert results["duplicates_across_splits"][1][0]["offenders"][0] == "0 ~ 10"


def test_copies_of_augmentation_stay_out_of_drift_and_multilabel_classes(tmp_path):
    df = make_table(seed=5)
    df["source_id"] = None
    df.loc[df.index % 7 == 0, "source_id"] = "r0001"  # augmented copies: drift compares the rest
    df.loc[df.index % 7 == 0, "shifted"] = 50.0
    df["tags"] = np.where(df.index % 2 == 0, "a|b", "b")
    df.loc[(df["split"] == "val"), "tags"] = "b"
    rules = parse_rules({"label": "tags", "label_sep": "|", "splits": SPLIT_RULES})
    memory = CheckContext(df, rules, label="tags", split_col="split", label_sep="|")
    ctx = CheckContext(open_table(write_parts(df, tmp_path / "t", 3)), rules, label="tags", split_col="split",
                       label_sep="|")
    for name in ("classes_in_every_split", "drift"):
        want = [r.to_dict() for r in CHECKS.get(name).run(memory)]
        assert [r.to_dict() for r in CHECKS.get(name).run(ctx)] == want, name
    assert want[0]["observed"]["features"]["shifted"]["psi"] < 0.5


def test_content_hashes_name_the_duplicates(tmp_path):
    df = make_table(seed=7)
    df["sha256"] = [f"{i % 50:064x}" for i in range(len(df))]  # every hash on about five rows
    results = both(df, write_parts(df, tmp_path / "t", 5), rules_for(), names=("duplicates_across_splits",))
    memory, parts = results["duplicates_across_splits"]
    assert parts == memory
    assert memory[0]["observed"]["by"] == "sha256" and len(memory[0]["offenders"]) == 20


def _asymptotic_ks(x, y):
    """ks_from_sorted with the large-sample p-value at every size: the histogram path's."""
    d = np.abs(np.searchsorted(x, np.r_[x, y], side="right") / len(x)
               - np.searchsorted(y, np.r_[x, y], side="right") / len(y)).max()
    return split_checks.ks_pvalue_from_statistic(d, len(x), len(y))


@pytest.mark.parametrize("collect", [0, 40])
def test_histogram_passes_give_the_exact_quantiles_and_statistic(tmp_path, monkeypatch, collect):
    """A 4-bin grid and (almost) nothing collected: the bins are cut again and again until
    each quantile and the KS statistic are exact, ties included."""
    monkeypatch.setattr(quantiles, "GRID", 4)
    monkeypatch.setattr(quantiles, "COLLECT_VALUES", collect)
    monkeypatch.setattr(split_checks, "KS_EXACT_MAX", 0)
    monkeypatch.setattr(split_checks, "ks_from_sorted", _asymptotic_ks)
    df = make_table(n=400, seed=11, drift=True)
    df.loc[df.index % 9 == 0, "x"] = 0.25  # a heavy tie inside the range
    df.loc[3, "x"], df.loc[4, "x"] = np.inf, -np.inf
    df.loc[df.index % 13 == 0, "shifted"] = np.nan
    results = both(df, write_parts(df, tmp_path / "t", 3), rules_for(), names=("drift",))
    memory, parts = results["drift"]
    assert parts == memory
    assert memory[2]["observed"]["features"]["x"]["bins"] == 3  # val vs test: 3 PSI bins


def test_large_splits_exact_against_scipy(tmp_path, monkeypatch):
    """Past 10,000 values a side the p-values are asymptotic; the histogram path gives the
    in-memory figures exactly, a small split against a large one and two large ones."""
    monkeypatch.setattr(quantiles, "COLLECT_VALUES", 1000)
    rng = np.random.default_rng(2)
    sizes = {"train": 10_200, "val": 10_050, "test": 400}
    split = np.repeat(list(sizes), list(sizes.values()))
    df = pd.DataFrame({"split": split, "x": np.round(rng.normal(size=len(split)), 3),
                       "y": rng.exponential(size=len(split)) + (split == "test") * 0.5})
    rules = parse_rules({"splits": {"max_drift": {"psi": 0.2, "ks_pvalue": 0.001}}})
    memory = [r.to_dict() for r in split_checks.check_drift(CheckContext(df, rules, split_col="split"))]
    ctx = CheckContext(open_table(write_parts(df, tmp_path / "t", 4)), rules, split_col="split")
    assert [r.to_dict() for r in CHECKS.get("drift").run(ctx)] == memory
    assert [r["success"] for r in memory] == [True, False, False]


def with_embeddings(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """:func:`make_table` with a 6-d embedding column whose test rows move (some missing,
    one with a NaN inside) and a 2-d one named only by the rules."""
    df = make_table(n=n, seed=seed)
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 6)) + np.where((df["split"] == "test").to_numpy()[:, None], 1.5, 0.0)
    df["emb"] = [list(row) for row in emb]
    df.loc[[2, 40], "emb"] = None
    df.at[7, "emb"] = [np.nan] + list(emb[7, 1:])
    df["pair"] = [[float(i % 7), float(i % 3)] for i in range(n)]
    return df


@pytest.mark.parametrize("files", [1, 2, 5])
def test_drift_on_embedding_columns_equals_the_in_memory_one(tmp_path, files):
    df = with_embeddings()
    rules = rules_for(max_drift={"psi": 0.5, "ks_pvalue": 0.001, "embeddings": ["pair"]})
    memory, parts = both(df, write_parts(df, tmp_path / "t", files), rules, names=("drift",))["drift"]
    assert parts == memory
    test_pairs = [r for r in memory if "test" in r["observed"]["pair"]]
    assert all(r["observed"]["embeddings"] == ["pair", "emb"] for r in memory)
    assert all(any(d.startswith("emb:pc1:") for d in r["observed"]["drifted"]) for r in test_pairs)
    assert "sample" not in memory[0]["observed"]


@settings(deadline=None, max_examples=10)
@given(files=st.integers(1, 6), seed=st.integers(0, 50), dims=st.sampled_from([2, 16, 70]))
def test_embedding_drift_on_any_partitioning(tmp_path_factory, files, seed, dims):
    """Each partition projects its own rows: the components are the whole table's to the
    bit, whatever the partition sizes (matrix products of any number of rows)."""
    df = make_table(n=300, seed=seed)
    rng = np.random.default_rng(seed)
    df["emb"] = [list(row) for row in rng.normal(size=(300, dims)) * rng.uniform(0.1, 10, dims)]
    rules = rules_for(max_drift={"psi": 0.5, "ks_pvalue": 0.001})
    memory, parts = both(df, write_parts(df, tmp_path_factory.mktemp("e"), files), rules, names=("drift",))["drift"]
    assert parts == memory


def test_embedding_components_fitted_on_a_stated_sample_past_the_bound(tmp_path, monkeypatch):
    import curate.checks.drift as drift

    monkeypatch.setattr(drift, "EMBEDDING_FIT_VALUES", 300)  # 50 rows of 6 numbers
    df = with_embeddings()
    rules = rules_for(max_drift={"psi": 0.5, "ks_pvalue": 0.001})
    found = [both(df, write_parts(df, tmp_path / str(files), files), rules, names=("drift",))["drift"][1]
             for files in (1, 3)]
    assert found[0] == found[1]
    result = found[0][0]
    assert result["observed"]["sample"] == {"rows": 50, "of": 150, "max_rows": 50, "stratified_by": None}
    assert "; embedding components fitted on a sample of 50 of 150 rows (at most 50)" in result["details"]


def test_embedding_vectors_of_different_lengths_across_partitions(tmp_path, monkeypatch):
    import curate.checks.drift as drift

    monkeypatch.setattr(drift, "EMBEDDING_FIT_VALUES", 300)
    df = with_embeddings()
    df["emb"] = [[1.0, 2.0] if i >= 100 else v for i, v in enumerate(df["emb"])]  # the last file's are 2-d
    ctx = CheckContext(open_table(write_parts(df, tmp_path / "t", 3)), rules_for(), label="label",
                       group="group", split_col="split")
    with pytest.raises(CuraugError, match=r"embedding column 'emb' has vectors of different lengths: \[2, 6\]"):
        CHECKS.get("drift").run(ctx)


@settings(deadline=None, max_examples=12)  # each example reads a folder of Parquet files
@given(files=st.integers(1, 6), seed=st.integers(0, 50))
def test_any_partitioning_gives_the_in_memory_results(tmp_path_factory, files, seed):
    df = make_table(n=150, seed=seed, drift=seed % 2 == 0)
    for name, (memory, parts) in both(df, write_parts(df, tmp_path_factory.mktemp("t"), files), rules_for()).items():
        assert parts == memory, name


@pytest.fixture(scope="module")
def cluster():
    with engine_scope("dask", workers=2):
        yield


def test_on_a_two_worker_cluster(tmp_path, cluster, monkeypatch):
    df = make_table(drift=True)
    path = write_parts(df, tmp_path / "t", 3)
    for name, (memory, parts) in both(df, path, rules_for()).items():
        assert parts == memory, name
    # the histogram passes too: their partials run in the workers, the refining here
    monkeypatch.setattr(quantiles, "GRID", 4)
    monkeypatch.setattr(quantiles, "COLLECT_VALUES", 40)
    monkeypatch.setattr(split_checks, "KS_EXACT_MAX", 0)
    monkeypatch.setattr(split_checks, "ks_from_sorted", _asymptotic_ks)
    memory, parts = both(df, path, rules_for(), names=("drift",))["drift"]
    assert parts == memory
