"""The partitioned dataset checks give exactly the in-memory checks' results.

Every table is written as a Parquet folder of one to six files, opened lazily
(:func:`curate.partitioned.table.open_table`) and checked partition by partition; the same
files read into one pandas frame go through the same checks (:mod:`curate.checks.dataset`)
in memory. The results' JSON (``to_dict()``) must be equal, offenders and group order
included.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.checks.base import CHECKS, CheckContext
from curate.io.manifest import ok_rows
from curate.partitioned.table import engine_scope, open_table
from curate.rules.schema import Rules, parse_rules

CHECK_NAMES = ("min_rows", "corrupt_files", "missing_values", "duplicates", "class_balance", "bias")

PENGUIN_RULES = {
    "label": "species",
    "sensitive": ["sex", "island"],
    "dataset": {
        "min_rows": 50,
        "max_missing_fraction": 0.05,
        "max_duplicate_fraction": 0.01,
        "class_balance": {"max_ratio": 3, "min_count": 10, "min_share": 0.2},
        "bias": {"intersections": [["sex", "island"]], "max_parity_difference": 0.1, "min_group_share": 0.3,
                 "max_chi2_pvalue": 0.9, "min_group_count": 3},
    },
}


def write_folder(df: pd.DataFrame, folder: Path, n_files: int) -> Path:
    """``df`` as ``n_files`` Parquet files of consecutive rows (sorted names = row order)."""
    folder.mkdir(parents=True)
    for i, rows in enumerate(np.array_split(np.arange(len(df)), n_files)):
        df.iloc[rows].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return folder


def in_memory(folder: Path) -> pd.DataFrame:
    """The folder's files read into one frame, rows numbered 0..n-1 as the table's positions."""
    return pd.concat([pd.read_parquet(f) for f in sorted(folder.glob("*.parquet"))], ignore_index=True)


def both_ways(folder: Path, rules: Rules, names=CHECK_NAMES, **roles) -> dict[str, tuple[list, list]]:
    """``{check: (in-memory results, partitioned results)}`` as JSON-ready dicts."""
    df = in_memory(folder)
    ctx = CheckContext(df[ok_rows(df)], rules, full=df, **roles)
    ddf = open_table(folder)
    usable = ddf.map_partitions(lambda part: part[ok_rows(part)], meta=ddf._meta) if "status" in ddf.columns else ddf
    pctx = CheckContext(usable, rules, full=ddf, **roles)
    return {name: ([r.to_dict() for r in CHECKS.get(name).run(ctx)],
                   [r.to_dict() for r in CHECKS.get(name).run(pctx)]) for name in names}


def assert_same(found: dict[str, tuple[list, list]]) -> None:
    for name, (expected, got) in found.items():
        assert got == expected, name


def penguins(n: int = 90, seed: int = 0, with_id: bool = True) -> pd.DataFrame:
    """A table with missing values, an imbalanced label, two sensitive attributes, and
    copies of early rows appended at the end (so duplicate groups span files)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "bill": rng.normal(44, 5, n).round(1),
        "flipper": rng.integers(170, 230, n).astype(float),
        "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n, p=[0.5, 0.3, 0.2]),
        "sex": rng.choice(["F", "M"], n),
        "species": rng.choice(["Adelie", "Gentoo", "Chinstrap"], n, p=[0.6, 0.3, 0.1]),
    })
    df.loc[rng.choice(n, 8, replace=False), "bill"] = np.nan
    df.loc[rng.choice(n, 3, replace=False), "sex"] = None
    df = pd.concat([df, df.iloc[[3, 3, 10, 25, 40, 2]]], ignore_index=True)
    if with_id:
        df.insert(0, "id", [f"p{i:03d}" for i in range(len(df))])
    return df


@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("n_files", [1, 2, 3, 4, 5, 6])
def test_every_dataset_check_matches_in_memory(tmp_path, n_files, with_id):
    df = penguins(with_id=with_id)
    folder = write_folder(df, tmp_path / "t", n_files)
    found = both_ways(folder, parse_rules(PENGUIN_RULES), label="species")
    assert_same(found)
    _, duplicates = found["duplicates"]
    assert duplicates[0]["observed"]["extra_copies"] == 6 and not duplicates[0]["success"]
    groups = [["p002", "p095"], ["p003", "p090", "p091"]] if with_id else [["2", "95"], ["3", "90", "91"]]
    assert duplicates[0]["observed"]["groups"][:2] == groups
    assert found["missing_values"][1][0]["observed"]["missing_cells"] == df[["bill", "sex"]].isna().sum().sum() > 11
    assert len(found["bias"][1]) == 3 and found["corrupt_files"][1] == []
    assert [r["observed"]["split"] for r in found["class_balance"][1]] == ["all"]


def test_defaults_without_rules_match(tmp_path):
    folder = write_folder(penguins(seed=3), tmp_path / "t", 4)
    found = both_ways(folder, Rules(), label="species")
    assert_same(found)
    assert found["min_rows"][1] == [] and found["bias"][1] == []
    assert found["class_balance"][1][0]["observed"]["max_ratio"] == 10.0


def media_manifest(n: int = 60, seed: int = 1) -> pd.DataFrame:
    """An ingest-like manifest: file hashes (some repeated across files, some missing) and
    corrupt rows, with and without a reason."""
    rng = np.random.default_rng(seed)
    sha = [f"{i:064x}" for i in range(n)]
    for copy, of in ((50, 2), (51, 2), (55, 7), (58, 20), (59, 7)):
        sha[copy] = sha[of]
    df = pd.DataFrame({
        "id": [f"img{i:03d}" for i in range(n)],
        "path": [f"images/{i}.png" for i in range(n)],
        "modality": "image",
        "sha256": sha,
        "width": rng.choice([32, 64], n),
        "status": "ok",
        "reason": None,
        "label": rng.choice(["cat", "dog"], n, p=[0.7, 0.3]),
    })
    df.loc[[4, 30, 45], "sha256"] = None
    df.loc[[5, 31, 33, 58], "status"] = "corrupt"
    df.loc[[5, 31, 58], "reason"] = "cannot identify image file"
    return df


@pytest.mark.parametrize("n_files", [1, 3, 5])
def test_media_manifest_by_file_hash_and_corrupt_rows(tmp_path, n_files):
    folder = write_folder(media_manifest(), tmp_path / "m", n_files)
    rules = parse_rules({"dataset": {"max_duplicate_fraction": 0.02}})
    found = both_ways(folder, rules, label="label")
    assert_same(found)
    dup = found["duplicates"][1][0]["observed"]
    # the corrupt copy (row 58) is no usable row: two groups, three extra copies
    assert (dup["by"], dup["groups"], dup["extra_copies"]) == ("sha256", [["img002", "img050", "img051"],
                                                                          ["img007", "img055", "img059"]], 4)
    corrupt = found["corrupt_files"][1][0]
    assert corrupt["offenders"] == ["img005", "img031", "img033", "img058"]
    assert [r["reason"] for r in corrupt["observed"]["rows"]] == ["cannot identify image file"] * 2 + [None] + \
        ["cannot identify image file"]


def tagged(n: int = 80, seed: int = 2) -> pd.DataFrame:
    """Multilabel rows (``"cat; dog"``) with a split column, a gap row and ties in counts."""
    rng = np.random.default_rng(seed)
    tags = ["cat", "dog", "cat; dog", "owl", "", None]
    return pd.DataFrame({
        "id": [f"t{i}" for i in range(n)],
        "text": rng.choice(["a", "b", "c", "d"], n),
        "tags": rng.choice(np.array(tags, dtype=object), n),
        "split": rng.choice(["train", "val", "test", "gap", "holdout"], n, p=[0.5, 0.2, 0.15, 0.05, 0.1]),
        "sex": rng.choice(["F", "M"], n),
    })


@pytest.mark.parametrize("n_files", [2, 4])
def test_multilabel_with_split_column(tmp_path, n_files):
    folder = write_folder(tagged(), tmp_path / "s", n_files)
    rules = parse_rules({"sensitive": ["sex", "age"],
                         "dataset": {"class_balance": {"min_count": 12}, "bias": {"min_group_count": 2}}})
    found = both_ways(folder, rules, label="tags", split_col="split", label_sep=";")
    assert_same(found)
    balance = found["class_balance"][1]
    assert [r["observed"]["split"] for r in balance] == ["all", "train", "val", "test", "holdout"]
    assert all(r["observed"]["multilabel"] for r in balance)
    assert found["bias"][1][1]["details"] == "sensitive attribute 'age' not found in the data"


def test_more_duplicate_groups_than_are_listed(tmp_path):
    """70 extra copies in 60 groups: both list the first 50 groups, in first-row order."""
    base = pd.DataFrame({"a": np.arange(60) % 7, "b": [f"v{i}" for i in range(60)]})
    df = pd.concat([base, base.iloc[::-1], base.iloc[:10]], ignore_index=True)
    folder = write_folder(df, tmp_path / "d", 6)
    found = both_ways(folder, Rules(), names=("duplicates",))
    assert_same(found)
    result = found["duplicates"][1][0]
    assert result["observed"]["extra_copies"] == 70
    assert result["details"].startswith("70 extra copies in 50 groups")
    assert result["observed"]["groups"][0] == ["0", "119", "120"]
    assert result["offenders"][:3] == ["0", "119", "120"] and len(result["offenders"]) == 20


cells = st.one_of(st.none(), st.sampled_from(["x", "y"]))


@settings(max_examples=20, deadline=None)
@given(rows=st.lists(st.tuples(cells, st.sampled_from([0.5, 1.5, float("nan")]), st.sampled_from(["a", "b", "c"])),
                     min_size=1, max_size=30),
       n_files=st.integers(1, 6))
def test_any_partitioning_gives_the_in_memory_results(rows, n_files):
    df = pd.DataFrame(rows, columns=["k", "v", "label"])
    rules = parse_rules({"dataset": {"min_rows": 10, "max_duplicate_fraction": 0.2}})
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(df, Path(tmp) / "h", min(n_files, len(df)))
        assert_same(both_ways(folder, rules, names=("min_rows", "missing_values", "duplicates", "class_balance"),
                              label="label"))


@pytest.fixture(scope="module")
def dask_cluster():
    with engine_scope("dask", workers=2):
        yield


def test_on_a_dask_cluster(tmp_path, dask_cluster):
    folder = write_folder(penguins(seed=5), tmp_path / "c", 4)
    found = both_ways(folder, parse_rules(PENGUIN_RULES), label="species")
    assert_same(found)
    assert found["duplicates"][1][0]["observed"]["extra_copies"] == 6


@pytest.mark.parametrize("table, rules, label, order", [
    (media_manifest, None, "label", ["duplicates", "corrupt_files", "missing_values", "class_balance"]),
    (penguins, PENGUIN_RULES, "species",
     ["missing_values", "duplicates", "class_balance", "bias", "bias", "bias", "min_rows"]),
])
def test_validate_partitioned_equals_validate(tmp_path, table, rules, label, order):
    from curate.checks.validate import validate

    folder = write_folder(table(), tmp_path / "v", 3)
    parsed = None if rules is None else parse_rules(rules)
    expected = validate(in_memory(folder), parsed, label=label, source="t").to_dict()
    got = validate(open_table(folder), parsed, label=label, source="t").to_dict()
    assert got == expected
    assert [c["name"] for c in got["checks"]] == order and not got["success"]


def test_zero_and_negative_zero_rows_are_one_duplicate_group(tmp_path):
    """0.0 and -0.0 are one value: rows that differ only in the sign of a zero are one group
    of copies, in memory as on partitions (in memory they were counted as copies but listed
    as two groups, told apart by their spelling)."""
    df = pd.DataFrame({"x": [0.0, -0.0, 0.0, 1.0], "y": ["a", "a", "a", "b"]})
    found = both_ways(write_folder(df, tmp_path / "z", 2), Rules(), names=("duplicates",))
    assert_same(found)
    dup = found["duplicates"][0][0]["observed"]
    assert (dup["duplicate_rows"], dup["extra_copies"], dup["groups"]) == (3, 2, [["0", "1", "2"]])


def test_rows_are_counted_from_the_parquet_footers(tmp_path, monkeypatch):
    """``min_rows``, duplicates, the empty-table test and the near-duplicate search count rows
    from the footers ``open_table`` reads: no partition is read to count them."""
    import curaug
    import curate.partitioned.table as table

    df = penguins().assign(split=lambda d: np.where(d.index % 3 == 0, "test", "train"),
                           text=lambda d: "a penguin of " + d["island"] + " seen on the shore, " + d["sex"].fillna("?"))
    folder = write_folder(df, tmp_path / "f", 3)

    def counting(ddf):
        raise AssertionError("a partition was read to count its rows")

    monkeypatch.setattr(table, "partition_lengths", counting)
    result = curaug.validate(folder, rules={"dataset": {"min_rows": 50, "max_duplicate_fraction": 0.1}},
                             label="species", split_col="split")
    checks = {c.name: c for c in result.checks}
    assert checks["min_rows"].observed["rows"] == len(df) == 96
    assert checks["duplicates"].observed["extra_copies"] == 6
    assert checks["duplicates_across_splits"].observed["near_pairs"]["text"] > 0


def conflicted(n: int = 90, seed: int = 0, with_id: bool = True) -> pd.DataFrame:
    """:func:`penguins` with copies of rows under another species (some twice, some in
    another file), and unlabelled copies, which never conflict."""
    df = penguins(n, seed, with_id=False)
    copies = df.iloc[[3, 3, 7, 7, 7, 11, 40, 41]].assign(species=["Gentoo", "Chinstrap", "Gentoo", "Adelie",
                                                                   "Gentoo", "Adelie", None, "Adelie"])
    df = pd.concat([df, copies], ignore_index=True)
    if with_id:
        df.insert(0, "id", [f"c{i:03d}" for i in range(len(df))])
    return df


@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("n_files", [1, 2, 5])
def test_conflicting_labels_match_in_memory(tmp_path, n_files, with_id):
    df = conflicted(with_id=with_id)
    rules = parse_rules({"dataset": {"conflicting_labels": {"max_fraction": 0.01}}})
    found = both_ways(write_folder(df, tmp_path / "c", n_files), rules, names=("conflicting_labels",),
                      label="species")
    assert_same(found)
    check = found["conflicting_labels"][1][0]
    assert not check["success"] and check["observed"]["by"] == "row"
    # rows 3 and 7 copied under other species; 11 and 41 under their own, 40 unlabelled
    assert (check["observed"]["conflicting_groups"], check["observed"]["rows"]) == (2, 9)
    assert [(e["labels"], e["majority"]) for e in check["observed"]["examples"]] == [
        (["Chinstrap", "Gentoo"], "Chinstrap"), (["Adelie", "Chinstrap", "Gentoo"], "Gentoo")]
    assert check["offenders"][:5] == (["c003", "c090", "c091", "c096", "c097"] if with_id else ["3", "90", "91", "96", "97"])


@pytest.mark.parametrize("n_files", [1, 3])
def test_conflicting_labels_of_media_by_file_hash_and_perceptual_hash(tmp_path, n_files):
    df = media_manifest()
    df.loc[[50, 51], "label"] = ["dog", "cat"]  # copies of img002 (sha256) under both labels
    df["phash"] = [f"{i % 40:016x}" for i in range(len(df))]  # re-encoded pictures: same phash, other bytes
    df.loc[[10, 12], "phash"] = None
    rules = parse_rules({"dataset": {"conflicting_labels": {}}})
    found = both_ways(write_folder(df, tmp_path / "m", n_files), rules, names=("conflicting_labels",), label="label")
    assert_same(found)
    observed = found["conflicting_labels"][1][0]["observed"]
    assert observed["by"] == "sha256+phash" and observed["conflicting_groups"] > 5


@settings(max_examples=20, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["x", "y", None]), st.sampled_from([0.5, 1.5]),
                               st.sampled_from(["a", "b", None])), min_size=1, max_size=40),
       n_files=st.integers(1, 6))
def test_conflicting_labels_on_any_partitioning(rows, n_files):
    df = pd.DataFrame(rows, columns=["k", "v", "label"])
    rules = parse_rules({"dataset": {"conflicting_labels": {}}})
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(df, Path(tmp) / "h", min(n_files, len(df)))
        assert_same(both_ways(folder, rules, names=("conflicting_labels",), label="label"))


def outlying(n: int = 120, seed: int = 0, with_id: bool = True) -> pd.DataFrame:
    """:func:`penguins` with far values (one infinite), a column mostly one value (MAD 0:
    the mean absolute deviation decides) and a column of missing values only."""
    df = penguins(n, seed, with_id=False)
    df.loc[[5, 50, 77], "bill"] = [120.0, -40.0, np.inf]
    df.loc[[9, 60], "flipper"] = [400.0, 20.0]
    df["mostly"] = np.where(np.arange(len(df)) % 9 == 0, np.arange(len(df)) / 10, 2.0)
    df["nothing"] = np.nan
    if with_id:
        df.insert(0, "id", [f"o{i:03d}" for i in range(len(df))])
    return df


@pytest.mark.parametrize("method", ["robust_z", "isolation_forest"])
@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("n_files", [1, 2, 5])
def test_outliers_match_in_memory(tmp_path, n_files, with_id, method):
    rules = parse_rules({"dataset": {"outliers": {"method": method, "max_fraction": 0.05}}})
    found = both_ways(write_folder(outlying(with_id=with_id), tmp_path / "o", n_files), rules, names=("outliers",),
                      label="species")
    assert_same(found)
    check = found["outliers"][1][0]
    assert check["observed"]["columns"] == ["bill", "flipper", "mostly", "nothing"]
    assert "sample" not in check["observed"]
    if method == "robust_z":
        assert check["observed"]["per_column"]["bill"] == 3 and check["observed"]["per_column"]["flipper"] == 2
        assert check["offenders"][0] == ("o077" if with_id else "77")  # the infinite bill scores highest


@pytest.mark.parametrize("collect", [0, 7])
def test_medians_from_histogram_passes_are_numpys(monkeypatch, collect):
    """A 4-bin grid and (almost) nothing gathered: the bins are cut until every middle
    value is known; the medians and MADs are numpy's to the bit, ties, infinities and
    missing values included."""
    from curate.checks import outliers, quantiles
    from curate.io.frames import InMemory

    monkeypatch.setattr(quantiles, "GRID", 4)
    monkeypatch.setattr(quantiles, "COLLECT_VALUES", collect)
    df = outlying(n=200, seed=4)[["bill", "flipper", "mostly", "nothing"]]
    df.loc[df.index % 7 == 0, "flipper"] = 200.0  # a heavy tie inside the range
    df.loc[3, "flipper"] = -np.inf
    X = df.to_numpy(dtype=float)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # the all-missing column
        want = np.nanmedian(X, axis=0)
        want_mad = np.nanmedian(np.abs(X - want), axis=0)
    got = outliers.medians(InMemory(df), list(df.columns))
    mad, _ = outliers._spreads(InMemory(df), list(df.columns), got)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(mad, want_mad)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from([0.0, 1.0, 1.0, 2.5, -3.0, 50.0, float("inf"), float("nan")]),
                                 st.floats(-1e6, 1e6)), min_size=3, max_size=40),
       n_files=st.integers(1, 6), grid=st.sampled_from([2, 4, 1024]), collect=st.sampled_from([0, 5, 10**6]))
def test_outliers_on_any_partitioning_and_histogram_depth(values, n_files, grid, collect):
    from curate.checks import quantiles

    df = pd.DataFrame({"x": values, "y": values[::-1], "label": "a"})
    rules = parse_rules({"dataset": {"outliers": {}}})
    old = quantiles.GRID, quantiles.COLLECT_VALUES
    quantiles.GRID, quantiles.COLLECT_VALUES = grid, collect
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_folder(df, Path(tmp) / "h", min(n_files, len(df)))
            found = both_ways(folder, rules, names=("outliers",), label="label")
    finally:
        quantiles.GRID, quantiles.COLLECT_VALUES = old
    assert_same(found)


def test_isolation_forest_fits_a_stated_sample_of_a_large_partitioned_table(tmp_path, monkeypatch):
    """Past the fit bound the forest is fitted on a sample the result states, the same on
    any partitioning, and every row is scored."""
    from curate.checks import sample

    monkeypatch.setattr(sample, "MAX_FIT_ROWS", 50)
    df = outlying()
    rules = parse_rules({"dataset": {"outliers": {"method": "isolation_forest", "max_fraction": 0.05}}})
    results = [both_ways(write_folder(df, tmp_path / str(files), files), rules, names=("outliers",),
                         label="species")["outliers"] for files in (1, 4)]
    (memory, one), (_, four) = results
    assert one == four
    got = one[0]
    assert got["observed"]["sample"] == {"rows": 50, "of": len(df), "max_rows": 50, "stratified_by": None}
    assert "fitted on a sample of 50 of 126 rows (at most 50)" in got["details"]
    assert "sample" not in memory[0]["observed"]  # in memory the forest sees every row
    assert got["observed"]["outliers"] > 0 and got["observed"]["fraction"] == round(got["observed"]["outliers"] / 126, 6)


def noisy_labels(with_id: bool = True) -> pd.DataFrame:
    """:func:`penguins` whose species follows the bill and flipper, a few labels flipped,
    and a split column with augmented copies (left out of the domain classifier)."""
    df = penguins(150, seed=6, with_id=False)
    df["species"] = np.where(df["flipper"] > 205, "Gentoo", np.where(df["bill"] > 44, "Chinstrap", "Adelie"))
    df.loc[[4, 17, 33, 70], "species"] = ["Gentoo", "Adelie", "Gentoo", "Chinstrap"]
    df["split"] = np.where(np.arange(len(df)) % 4 == 0, "test", "train")
    df.loc[df.index % 4 == 0, "bill"] += 15.0  # test is told apart by its bills
    df["source_id"] = None
    df.loc[df.index % 11 == 5, "source_id"] = "p000"
    if with_id:
        df.insert(0, "id", [f"n{i:03d}" for i in range(len(df))])
    return df


MODEL_RULES = {"label": "species", "dataset": {"label_issues": {"folds": 3, "max_fraction": 0.01}},
               "splits": {"max_drift": {"domain_auc": 0.75}}}


@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("n_files", [1, 3])
def test_model_checks_fit_every_row_of_a_table_that_fits(tmp_path, n_files, with_id):
    found = both_ways(write_folder(noisy_labels(with_id), tmp_path / "m", n_files), parse_rules(MODEL_RULES),
                      names=("label_issues", "domain_classifier_auc"), label="species", split_col="split")
    assert_same(found)
    issues, (domain,) = found["label_issues"][1][0], found["domain_classifier_auc"][1]
    assert "sample" not in issues["observed"] and "sample" not in domain["observed"]
    assert not issues["success"] and issues["observed"]["issues"] >= 3
    assert not domain["success"] and domain["observed"]["top_features"][0]["feature"] == "bill"


def test_label_probabilities_from_a_file_on_partitions(tmp_path):
    df = noisy_labels()
    rng = np.random.default_rng(0)
    probs = pd.DataFrame(rng.dirichlet([1, 1, 1], len(df)), columns=["prob_Adelie", "prob_Chinstrap", "prob_Gentoo"])
    probs.insert(0, "id", df["id"])
    probs.iloc[:-5].to_parquet(tmp_path / "probs.parquet")  # five rows without probabilities
    rules = parse_rules({"dataset": {"label_issues": {"probs": str(tmp_path / "probs.parquet")}}})
    found = both_ways(write_folder(df, tmp_path / "p", 4), rules, names=("label_issues",), label="species")
    assert_same(found)
    assert found["label_issues"][1][0]["observed"]["without_probs"] == 5


def test_model_checks_fit_a_stated_stratified_sample_of_a_larger_table(tmp_path, monkeypatch):
    """Past the bound each check fits on a sample stratified by its label (or split), the
    same on any partitioning, and says so; its figures are those of the check in memory on
    exactly those rows."""
    from curate.checks import sample
    from curate.io.frames import Partitioned

    monkeypatch.setattr(sample, "MAX_FIT_ROWS", 60)
    df = noisy_labels()
    rules = parse_rules(MODEL_RULES)
    names = ("label_issues", "domain_classifier_auc")
    one = both_ways(write_folder(df, tmp_path / "one", 1), rules, names=names, label="species", split_col="split")
    four = both_ways(write_folder(df, tmp_path / "four", 4), rules, names=names, label="species", split_col="split")
    assert {k: v[1] for k, v in one.items()} == {k: v[1] for k, v in four.items()}
    issues, (domain,) = one["label_issues"][1][0], one["domain_classifier_auc"][1]
    counts = df["species"].value_counts()
    assert issues["observed"]["sample"] == {"rows": 60, "of": 156, "max_rows": 60, "stratified_by": "species"}
    assert "; fitted on a sample of 60 of 156 rows, stratified by species (at most 60)" in issues["details"]
    originals = int(df["source_id"].isna().sum())
    assert domain["observed"]["sample"] == {"rows": 60, "of": originals, "max_rows": 60, "stratified_by": "split"}
    # the sample keeps each class's share of the rows (largest remainders)
    rows, _ = sample.fit_rows(Partitioned(open_table(tmp_path / "four")), ["id", "species"], strata="species")
    shares = counts * 60 / counts.sum()
    assert (rows["species"].value_counts().reindex(counts.index) - shares).abs().max() < 1
    # and the figures are the in-memory check's on those very rows
    memory = CHECKS.get("label_issues").run(CheckContext(df.loc[rows.index], rules, label="species",
                                                         split_col="split"))[0].to_dict()
    note = "; fitted on a sample of 60 of 156 rows, stratified by species (at most 60)"
    unsampled = {**issues, "observed": {k: v for k, v in issues["observed"].items() if k != "sample"},
                 "details": issues["details"].replace(note, "")}
    assert unsampled == memory


def test_third_party_checks_that_read_the_whole_table_on_partitions(tmp_path, monkeypatch):
    """A plain function behind the entry points reads ``ctx.df``: in memory it runs; on a
    partitioned table it is listed as skipped, never silently left out. A check asked for
    that needs the whole table, or one that reads ``ctx.df`` unannounced, is one error line."""
    from curate.checks.base import CheckResult, register_check
    from curate.checks.validate import validate
    from curate.errors import CuraugError

    monkeypatch.setattr(CHECKS, "_items", dict(CHECKS.items()))  # registrations end with the test

    def plain(ctx):
        return [CheckResult("plain", ctx.df.shape[1] < 3)]

    CHECKS.register("plain", plain)
    folder = write_folder(penguins(), tmp_path / "t", 2)
    assert [c.name for c in validate(in_memory(folder)).checks if c.name == "plain"] == ["plain"]
    parts = validate(open_table(folder)).to_dict()
    assert "plain" not in [c["name"] for c in parts["checks"]]
    assert parts["skipped"] == [{"name": "plain", "reason": "reads the whole table at once: not run on a "
                                                            "partitioned table"}]

    register_check("asked_whole", asked=lambda ctx: True, whole_table=True)(plain)
    with pytest.raises(CuraugError, match="check\\(s\\) asked_whole read the whole table at once and do not run"):
        validate(open_table(folder), source="t")
    CHECKS._items.pop("asked_whole")
    register_check("unannounced")(plain)
    with pytest.raises(CuraugError, match=r"t: check unannounced: this check reads the whole table at once \(ctx.df\)"):
        validate(open_table(folder), source="t")
