"""The column rules' two executors agree: curaug's vectorised conditions
(:mod:`curate.rules.evaluate`, the default, on any engine) give on random tables exactly what
the compiled suite gives through Great Expectations itself (:mod:`curate.rules.gx`,
``--executor gx``): the same results, order, counts, percentages, values and offenders, for
every rule and every ``mostly``, on tables with missing values, mixed types, unicode and
extreme numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.checks.validate import run_rules
from curate.rules.schema import parse_rules

TEXTS = ["a", "ab", "", "Ab", "ÿé", "日本", "a\u0301", "🙂x", "  a", "zz", "abc", "a" * 40]
MOSTLY = st.sampled_from([None, 0.5, 0.8, 1.0])


@st.composite
def tables(draw):
    n = draw(st.integers(1, 30))
    floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64),
                       st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 2.5, 7.0]))
    df = pd.DataFrame({
        "f": pd.Series([np.nan if v is None else v for v in draw(st.lists(floats, min_size=n, max_size=n))],
                       dtype="float64"),
        "i": pd.Series(draw(st.lists(st.integers(-(2 ** 62), 2 ** 62) | st.integers(-3, 9), min_size=n,
                                     max_size=n)), dtype="int64"),
        "b": pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
        "t": pd.Series(draw(st.lists(st.none() | st.sampled_from(TEXTS), min_size=n, max_size=n)), dtype="str"),
        "o": pd.Series(draw(st.lists(st.none() | st.sampled_from(TEXTS[:4]) | st.integers(-2, 3)
                                     | st.sampled_from([1.0, b"ab", True]), min_size=n, max_size=n)), dtype=object),
        "d": pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(
            draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), unit="D")),
    })
    df.loc[draw(st.lists(st.integers(0, n - 1), max_size=3)), "d"] = pd.NaT
    if draw(st.booleans()):
        df.insert(0, "id", [f"r{i}" for i in range(n)])
    if draw(st.booleans()):  # a usable subset keeps its row labels: results name rows by them
        keep = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        if any(keep):
            df = df[keep]
    return df


@st.composite
def rule_sets(draw):
    def rule(value):
        mostly = draw(MOSTLY)
        return value if mostly is None else {"value": value, "mostly": mostly}

    low = draw(st.one_of(st.none(), st.integers(-5, 5)))
    high = draw(st.one_of(st.none(), st.integers(5, 10))) if low is not None else draw(st.integers(0, 10))
    return {
        "f": {"not_null": rule(True), "between": rule([low, high]), "unique": rule(True),
              "in_set": rule([0.0, 2.5, 7.0]), "mean_between": [low, high], "dtype": "float"},
        "i": {"between": rule([low, high]), "not_in_set": rule([0, 1, 2]), "unique": rule(True),
              "dtype": draw(st.sampled_from(["int", "int64", "number", "str"])), "mean_between": [-10, None]},
        "b": {"in_set": rule([True]), "mean_between": [0.2, 0.8], "dtype": "bool"},
        "t": {"regex": rule(draw(st.sampled_from(["^a", "b$", "^$", "\\w{2}"]))),
              "length_between": rule([draw(st.integers(0, 2)), draw(st.sampled_from([None, 2, 5]))]),
              "in_set": rule(TEXTS[:6]), "not_in_set": rule(["zz"]), "unique": rule(True), "not_null": rule(True),
              "dtype": "str"},
        "o": {"unique": rule(True), "not_null": rule(True), "dtype": draw(st.sampled_from(["str", "int", "object"])),
              "in_set": rule(["a", 1])},
        "d": {"between": rule([0, 1]), "not_in_set": rule(["2024-01-03"]), "mean_between": [0, 1],
              "unique": rule(True), "not_null": rule(True), "dtype": "datetime"},
    }


def _plain(results) -> list[dict]:
    """Results as JSON, NaN made comparable (NaN != NaN)."""
    def fix(value):
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        return value

    return [fix(r.to_dict()) for r in results]


def _exact_mean(values: pd.Series) -> float:
    """The mean of the values present, correctly rounded (from the exact rational sum)."""
    from fractions import Fraction

    floats = values.dropna().astype(float)
    if np.isinf(floats).any():  # an infinite value decides, as in any float sum
        return float(floats.mean())
    present = [Fraction(v) for v in floats]
    return float(sum(present) / len(present)) if present else math.nan


@settings(max_examples=25, deadline=None)
@given(tables(), rule_sets())
def test_curaug_executor_gives_what_great_expectations_gives(df, rules):
    parsed = parse_rules({"columns": rules})
    ours, theirs = _plain(run_rules(df, parsed, "curaug")), _plain(run_rules(df, parsed, "gx"))
    assert [(r["column"], r["name"]) for r in ours] == [(r["column"], r["name"]) for r in theirs]
    for mine, gx in zip(ours, theirs):
        if mine["name"] != "mean_between" or "observed_value" not in mine["observed"]:
            assert mine == gx
            continue
        # deliberately not pandas' mean: curaug's is the correctly rounded one whatever the
        # partitioning; pandas' float sum may lose it (1e308 + 1e165 - 1e308 gives 0)
        column = df[mine["column"]]
        assert gx["observed"]["observed_value"] == _plain_value(column.mean())
        if mine["column"] != "d":
            assert mine["observed"]["observed_value"] == _plain_value(_exact_mean(column))
        if mine["observed"] == gx["observed"]:
            assert mine == gx


def _plain_value(value):
    """A figure as the results' JSON holds it (NaN: null)."""
    from curate.io.jsonify import jsonable

    return jsonable(value)


def test_every_rule_kind_is_in_the_differential_test():
    from curate.rules.column_rules import COLUMN_RULE_KINDS
    from curate.rules.schema import COLUMN_RULES

    drawn = {name for column in rule_sets().example().values() for name in column}
    assert drawn == set(COLUMN_RULES) == set(COLUMN_RULE_KINDS.names())


def test_a_known_table_fails_the_same_rows_both_ways():
    df = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "x": [1.0, np.nan, 30.0, 4.0, 30.0],
                       "s": ["ok", "OK", None, "ok", "🙂"]})
    rules = parse_rules({"columns": {"x": {"between": [0, 10], "unique": True, "not_null": {"value": True,
                                                                                            "mostly": 0.8}},
                                     "s": {"in_set": ["ok"], "length_between": [2, 2]}}})
    ours, theirs = _plain(run_rules(df, rules)), _plain(run_rules(df, rules, "gx"))
    assert ours == theirs
    by = {(r["column"], r["name"]): r for r in ours}
    assert by[("x", "between")]["offenders"] == ["c", "e"] and by[("x", "unique")]["offenders"] == ["c", "e"]
    assert by[("x", "not_null")]["success"] and by[("s", "in_set")]["observed"]["unexpected_values"] == ["OK", "🙂"]
    with pytest.raises(ValueError, match="executor='pandas': use one of curaug, gx"):
        from curate.checks.validate import validate

        validate(df, rules, executor="pandas")
