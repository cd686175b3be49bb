"""The column rules on a partitioned table give what Great Expectations gives on the whole
table in memory: the same results, JSON and order, whatever the files and partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.io.tables import read_table
from curate.rules.evaluate import column_rules
from curate.partitioned.table import engine_scope, open_table
from curate.rules.gx import run_column_rules
from curate.rules.schema import parse_rules

N = 36

RULES = parse_rules({"columns": {
    "name": {"not_null": True, "unique": True, "regex": "^a", "length_between": [2, 4],
             "in_set": ["ab", "abc", "b", "zz"], "not_in_set": {"value": ["zz"], "severity": "warn"},
             "dtype": "str", "between": [0, 5]},
    "score": {"between": {"value": [0, 10], "mostly": 0.9}, "unique": True, "mean_between": [0, 5],
              "dtype": "float", "length_between": [1, 3], "not_null": {"value": True, "mostly": 0.8}},
    "count": {"between": [None, 40], "in_set": {"value": list(range(30)), "mostly": 0.95},
              "unique": {"value": True, "severity": "warn"}, "mean_between": [10, None], "dtype": "int64"},
    "flag": {"mean_between": [0.5, 1], "dtype": "bool", "in_set": [True], "between": [0, 0.5]},
    "when": {"between": [0, 1], "not_null": True, "unique": True, "not_in_set": ["2024-01-03"], "regex": "-0[12]-",
             "dtype": "datetime", "mean_between": [0, 1]},
    "absent": {"not_null": True, "unique": True},
}})
RULE_COUNT = sum(len(spec.rules()) for spec in RULES.columns.values())


def table() -> pd.DataFrame:
    """Every rule passes on some rows and fails on others; values repeat across files."""
    rng = np.random.default_rng(7)
    names = np.array(["ab", "abc", "b", "zz", "abcde", "ax"], dtype=object)[rng.integers(0, 6, N)]
    names[[3, 17, 30]] = None
    score = rng.integers(-4, 48, N) / 4  # quarters: sums exact, so every mean is pandas' mean
    score[[0, 9, 25]] = np.nan
    score[5], score[6] = -0.0, 0.0  # equal values, two bit patterns
    when = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, N), unit="D"))
    when[[4, 28]] = pd.NaT
    return pd.DataFrame({"id": [f"s{i:03d}" for i in range(N)], "name": pd.Series(names, dtype="str"),
                         "score": score, "count": np.arange(N) + rng.integers(0, 3, N), "flag": rng.random(N) < 0.7,
                         "when": when})


def write_files(df: pd.DataFrame, folder, cuts: list[int]):
    """``df`` as one Parquet file per slice between ``cuts`` (an empty slice: an empty file)."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *cuts, len(df)]
    for i, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        df.iloc[start:stop].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return folder


def in_memory(folder, rules=RULES) -> list[dict]:
    """What ``curaug validate`` gives on the whole table in memory: GX on the files read and
    concatenated in name order."""
    whole = pd.concat([read_table(f) for f in sorted(folder.glob("*.parquet"))], ignore_index=True)
    return [r.to_dict() for r in run_column_rules(whole, rules)]


def partitioned(folder, rules=RULES) -> list[dict]:
    return [r.to_dict() for r in column_rules(open_table(folder), rules)]


CUTS = {"one file": [], "two files": [20], "four files": [5, 11, 30], "six files, one empty": [1, 8, 8, 19, 35]}


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> dict[bool, list[dict]]:
    """GX's results on the whole table, with the ``id`` column and without."""
    root = tmp_path_factory.mktemp("whole")
    return {with_id: in_memory(write_files(table() if with_id else table().drop(columns="id"),
                                           root / str(with_id), []))
            for with_id in (True, False)}


@pytest.mark.parametrize(("cuts", "with_id"), [(cuts, True) for cuts in CUTS.values()]
                         + [(CUTS["one file"], False), (CUTS["six files, one empty"], False)],
                         ids=[f"{name}, ids" for name in CUTS] + ["one file, positions", "six files, positions"])
def test_every_rule_equals_great_expectations_on_the_whole_table(tmp_path, expected, cuts, with_id):
    df = table() if with_id else table().drop(columns="id")
    folder = write_files(df, tmp_path, cuts)
    bounds = [0, *cuts, len(df)]
    assert open_table(folder).npartitions == len(bounds) - 1  # a partition per file's row group, empty or not
    assert partitioned(folder) == expected[with_id]


def test_the_results_name_the_rows_a_user_would_fix(expected):
    """Not two empty lists agreeing: the comparison above covers failures and offenders of
    every kind, named by id or by position in the whole table."""
    results = {(r["column"], r["name"]): r for r in expected[True]}
    by_position = {(r["column"], r["name"]): r for r in expected[False]}
    assert len(expected[True]) == RULE_COUNT
    assert [r["details"] for r in expected[True][:2]] == ["column 'absent' not found in the data"] * 2
    # the rule GX cannot compute (text against numbers) comes next, failed with nothing observed
    assert (expected[True][2]["name"], expected[True][2]["column"], expected[True][2]["observed"]) == \
        ("between", "name", {})
    unique = results[("name", "unique")]
    assert unique["observed"]["unexpected_count"] == N - 3  # six values, 33 present: all repeat
    assert unique["offenders"] == [f"s{i:03d}" for i in range(N) if i not in (3, 17, 30)][:20]
    assert by_position[("name", "unique")]["offenders"] == [str(i) for i in range(N) if i not in (3, 17, 30)][:20]
    assert results[("score", "not_null")]["observed"]["unexpected_count"] == 3
    assert results[("score", "not_null")]["success"]  # 3 of 36 missing, mostly 0.8
    assert results[("name", "not_in_set")]["severity"] == "warn"
    assert results[("when", "mean_between")]["details"].startswith("Great Expectations could not evaluate it")
    assert {r["success"] for r in expected[True]} == {True, False}


def test_a_missing_column_fails_each_of_its_rules(tmp_path):
    folder = write_files(table(), tmp_path, [10])
    rules = parse_rules({"columns": {"nope": {"unique": True, "between": {"value": [0, 1], "severity": "warn"}}}})
    results = column_rules(open_table(folder), rules)
    assert [(r.name, r.success, r.severity, r.details) for r in results] == [
        ("between", False, "warn", "column 'nope' not found in the data"),
        ("unique", False, "error", "column 'nope' not found in the data")]
    assert [r.to_dict() for r in results] == in_memory(folder, rules)


def test_the_mean_does_not_depend_on_the_partitioning(tmp_path):
    """Tenths have no exact sum in binary: the mean is the correctly rounded one, the same
    for every way of cutting the table."""
    df = pd.DataFrame({"x": np.full(1000, 0.1) + np.arange(1000) * 1e-3})
    rules = parse_rules({"columns": {"x": {"mean_between": [0, 1]}}})
    means = {column_rules(open_table(write_files(df, tmp_path / str(i), cuts)), rules)[0].observed["observed_value"]
             for i, cuts in enumerate([[], [1], [333, 334, 999], list(range(50, 1000, 50))])}
    assert len(means) == 1 and means.pop() == pytest.approx(0.5995, abs=1e-12)


@st.composite
def tables(draw):
    """A small table (ints and short texts, some missing, values repeating) and its files."""
    n = draw(st.integers(1, 25))
    # -0.0 and 0.0: equal values with two bit patterns, which must meet in the unique shuffle
    numbers = draw(st.lists(st.one_of(st.none(), st.integers(-3, 12), st.just(-0.0)), min_size=n, max_size=n))
    texts = draw(st.lists(st.one_of(st.none(), st.sampled_from(["a", "ab", "b", "abc", "ca", ""])),
                          min_size=n, max_size=n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    df = pd.DataFrame({"k": [np.nan if v is None else float(v) for v in numbers],
                       "t": pd.Series(texts, dtype="str")})
    if draw(st.booleans()):
        df.insert(0, "id", [f"r{i}" for i in range(n)])
    return df, cuts


PROPERTY_RULES = parse_rules({"columns": {
    "k": {"unique": True, "between": {"value": [0, 9], "mostly": 0.7}, "not_null": True, "mean_between": [1, 6],
          "in_set": [0, 1, 2, 3, 5, 8]},
    "t": {"unique": {"value": True, "severity": "warn"}, "regex": "^a", "length_between": [1, 2],
          "not_in_set": ["b"], "not_null": {"value": True, "mostly": 0.5}},
}})


@settings(max_examples=10, deadline=None)
@given(tables())
def test_any_table_any_partitioning_equals_great_expectations(tmp_path_factory, drawn):
    df, cuts = drawn
    folder = write_files(df, tmp_path_factory.mktemp("prop"), cuts)
    assert partitioned(folder, PROPERTY_RULES) == in_memory(folder, PROPERTY_RULES)


@pytest.fixture
def dask_cluster():
    """Two worker processes: the partitions and the unique shuffle really leave this process.
    One test uses it, so it lives for that test only: the scope's scheduler holds for every
    compute while it is open, and must not carry over into the tests after it."""
    with engine_scope("dask", workers=2):
        yield


def test_on_a_dask_cluster_the_results_are_the_same(tmp_path, expected, dask_cluster):
    folder = write_files(table(), tmp_path, [5, 11, 30])
    assert partitioned(folder) == expected[True]


def test_dtype_on_an_object_column_is_judged_value_by_value_as_in_great_expectations(tmp_path):
    """Parquet bytes read back as an ``object`` column, where GX checks each value's type;
    list cells (arrays, which have no hash) under ``unique`` too."""
    blobs = [b"ab", None, b"abc", b"x", None, b"zz", b"ab"]
    labels = [["a", "b"], ["a"], None, ["a", "b"], ["c"], [], ["a"]]
    df = pd.DataFrame({"blob": pd.Series(blobs, dtype=object), "n": range(7), "labels": labels})
    rules = parse_rules({"columns": {"blob": {"dtype": "str", "unique": True, "length_between": [4, 5]},
                                     "n": {"dtype": "object"}, "labels": {"unique": True, "not_null": True}}})
    folder = write_files(df, tmp_path, [2, 5])
    assert open_table(folder)["blob"].dtype == object
    results = partitioned(folder, rules)
    assert results == in_memory(folder, rules)
    by_rule = {(r["column"], r["name"]): r for r in results}
    assert by_rule[("blob", "dtype")]["offenders"] == ["0", "2", "3", "5", "6"]  # bytes, not str
    assert by_rule[("blob", "unique")]["offenders"] == ["0", "6"]
    assert by_rule[("n", "dtype")]["observed"] == {"observed_value": "int64"}
    assert by_rule[("labels", "not_null")]["offenders"] == ["2"]


def test_unique_in_an_object_column_finds_repeats_across_partitions_as_pandas_does():
    """``1``, ``1.0`` and equal lists are repeats for pandas, wherever the partitions cut."""
    import dask
    import dask.dataframe as dd

    df = pd.DataFrame({"o": pd.Series([b"a", None, "x", 3, b"a", 1.0, 1, [1], [1], -0.0, 0], dtype=object)})
    rules = parse_rules({"columns": {"o": {"unique": True, "dtype": "str"}}})
    expected = [r.to_dict() for r in run_column_rules(df, rules)]
    assert expected[0]["observed"]["unexpected_rows"] == [0, 4, 5, 6, 7, 8, 9, 10]
    with dask.config.set({"dataframe.convert-string": False}):  # keep the objects objects
        for n in (2, 4, 11):
            ddf = dd.from_pandas(df, npartitions=n, sort=False)
            assert [r.to_dict() for r in column_rules(ddf, rules)] == expected
