"""The rules file's ``columns:`` section on a partitioned table.

:func:`column_rules` gives the results :func:`curate.rules.gx.run_column_rules` gives on the
whole table in memory (the same names, order, success, observed figures, details and
offenders), with the semantics of Great Expectations' pandas engine, computed per partition:

- a map rule (``not_null``, ``between``, ``in_set``, ``not_in_set``, ``regex``,
  ``length_between``, and ``dtype`` on an ``object`` column, which GX judges value by value)
  reduces each partition to its counts and its first 20 unexpected values and row names;
  missing values (None, NaN, NaT) are left out of every rule but ``not_null``, so the
  percentage is of the values present and ``mostly`` is judged on them;
- ``unique`` flags every occurrence of a repeated value, which needs the whole column's
  counts: the values present are hash-partitioned (a dask shuffle), so every copy of a value
  lands in the same piece and no process holds more than a piece;
- ``mean_between`` sums each partition exactly (a float and its rounding error), so the mean
  is the correctly rounded mean whatever the partitioning; it equals pandas' when the sum is
  exact in float64 (integers, booleans, binary fractions), and may differ in the last bit
  from pandas' pairwise sum otherwise;
- ``dtype`` on any other column is judged on the column's dtype by GX's own function.

A rule whose computation raises on the data (``between`` on strings, ``mean_between`` on
text) fails with an empty ``observed``, and comes before the others, as GX reports a metric
that could not be resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from curate.checks.base import MAX_OFFENDERS, CheckResult

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from curate.rules.schema import Rules

#: The column holding each row's position while a column is shuffled for ``unique``.
_POSITION = "__curaug_position"


@dataclass
class _Tally:
    """One map rule on some rows: counts and the first unexpected values and row names."""

    rows: int = 0
    missing: int = 0
    unexpected: int = 0
    values: list = field(default_factory=list)
    names: list = field(default_factory=list)
    failed: bool = False

    @staticmethod
    def combine(tallies: list["_Tally"]) -> "_Tally":
        """The tally of the rows of ``tallies`` in that (table) order."""
        out = _Tally(failed=any(t.failed for t in tallies))
        for t in tallies:
            out.rows += t.rows
            out.missing += t.missing
            out.unexpected += t.unexpected
            out.values += t.values[: MAX_OFFENDERS - len(out.values)]
            out.names += t.names[: MAX_OFFENDERS - len(out.names)]
        return out


@dataclass(frozen=True, eq=False)
class _Rule:
    """One rule of the ``columns:`` section, as :meth:`ColumnRules.rules` lists it (hashed
    by identity: a rule's value may be a list)."""

    column: str
    name: str
    value: Any
    mostly: float | None
    severity: str

    @property
    def mostly_or_one(self) -> float:
        # GX's ``mostly`` defaults to 1; the dtype and mean rules compile without one
        if self.name in ("dtype", "mean_between") or self.mostly is None:
            return 1.0
        return self.mostly


def column_rules(ddf: "dd.DataFrame", rules: "Rules") -> list[CheckResult]:
    """The column rules of ``rules`` on ``ddf`` (from :func:`curate.partitioned.table.open_table`):
    one result per rule, equal to :func:`curate.rules.gx.run_column_rules` on the whole table.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> from curate.rules.schema import parse_rules
    >>> ddf = dd.from_pandas(pd.DataFrame({"x": [1, 2, 2, 9]}), npartitions=2)
    >>> rules = parse_rules({"columns": {"x": {"unique": True, "between": [0, 5]}}})
    >>> [(r.name, r.success, r.observed["unexpected_rows"]) for r in column_rules(ddf, rules)]
    [('between', False, [3]), ('unique', False, [1, 2])]
    """
    if not rules.columns:
        return []
    columns = [str(c) for c in ddf.columns]
    missing = [c for c in rules.columns if c not in columns]
    results = [CheckResult(rule, False, severity, column, {"unexpected_count": None},
                           f"column '{column}' not found in the data")
               for column in missing for rule, _, _, severity in rules.columns[column].rules()]
    plan = [_Rule(column, *spec) for column, rules_of in rules.columns.items() if column not in missing
            for spec in rules_of.rules()]
    if not plan:
        return results
    has_id = "id" in columns
    by_type = {}
    for rule in plan:
        verdict = _dtype_verdict(rule, ddf._meta[rule.column].dtype) if rule.name == "dtype" else None
        if verdict is not None:
            by_type[rule] = verdict
    tallies, means = _summarise(ddf, [r for r in plan if r not in by_type], has_id)
    found = []
    for r in plan:
        if r in by_type:
            found.append((False, _aggregate_result(r, *by_type[r])))
        elif r in means:
            found.append((not means[r][0], _mean_result(r, means[r])))
        else:
            found.append((tallies[r].failed, _map_result(r, tallies[r], has_id)))
    # GX reports the rules whose metrics could not be computed first, in the suite's order
    return results + [c for failed, c in found if failed] + [c for failed, c in found if not failed]


def _summarise(ddf: "dd.DataFrame", plan: list[_Rule], has_id: bool) -> tuple[dict, dict]:
    """``(tallies, means)`` of the rules in ``plan``, in one computation: one pass over the
    partitions for the map rules and the means, one shuffle per ``unique`` rule."""
    import dask

    mapped = [r for r in plan if r.name not in ("unique", "mean_between")]
    means = [r for r in plan if r.name == "mean_between"]
    uniques = [r for r in plan if r.name == "unique"]
    counted = list(dict.fromkeys(r.column for r in uniques))
    frame = ddf[list(dict.fromkeys([r.column for r in plan] + (["id"] if has_id else [])))]

    def partial(part: "pd.DataFrame") -> tuple:
        return (len(part), [int(part[c].isnull().sum()) for c in counted],
                [_map_tally(part, r, has_id) for r in mapped], [_mean_partial(part[r.column]) for r in means])

    main = [dask.delayed(partial)(p) for p in frame.to_delayed()]
    shuffles = [[dask.delayed(_duplicates_partial)(p, r.column, has_id) for p in _shuffled(frame, r.column, has_id)]
                for r in uniques]
    pieces, dup_pieces = dask.compute(main, shuffles)
    rows = sum(p[0] for p in pieces)
    nulls = {c: sum(p[1][i] for p in pieces) for i, c in enumerate(counted)}
    tallies = {r: _Tally.combine([p[2][i] for p in pieces]) for i, r in enumerate(mapped)}
    for r, parts in zip(uniques, dup_pieces):
        tallies[r] = _combine_duplicates(parts, rows, nulls[r.column])
    return tallies, {r: _combine_means([p[3][i] for p in pieces]) for i, r in enumerate(means)}


# --- map rules ----------------------------------------------------------------------------


def _map_tally(part: "pd.DataFrame", rule: _Rule, has_id: bool) -> _Tally:
    """``rule`` on one partition: GX's condition on the values present (all values for
    ``not_null``), its counts and first unexpected values and row names."""
    import numpy as np

    column = part[rule.column]
    present = column.notnull()
    tally = _Tally(rows=len(part), missing=int((~present).sum()))
    if rule.name == "not_null":
        flagged = (~present).to_numpy()
    else:
        try:
            unexpected = _unexpected(rule, column[present])
        except Exception:  # GX's metric fails on such data too (comparing text to numbers, ...)
            return _Tally(failed=True)
        flagged = np.zeros(len(part), dtype=bool)
        flagged[np.flatnonzero(present.to_numpy())] = np.asarray(unexpected, dtype=bool)
    tally.unexpected = int(flagged.sum())
    first = np.flatnonzero(flagged)[:MAX_OFFENDERS]
    tally.values = column.iloc[first].tolist()
    tally.names = (part["id"].iloc[first] if has_id else part.index[first]).tolist()
    return tally


def _unexpected(rule: _Rule, values: "pd.Series") -> "pd.Series":
    """Where GX's pandas condition for ``rule`` fails, on the non-missing ``values``."""
    name, value = rule.name, rule.value
    if name == "between":
        return ~_between(values, *value)
    if name == "in_set":
        return ~values.isin(list(value))
    if name == "not_in_set":
        import pandas as pd

        value_set = list(value)
        if pd.api.types.is_datetime64_any_dtype(values):  # GX's parse_value_set: text is parsed as dates
            from dateutil.parser import parse

            value_set = [parse(v) if isinstance(v, str) else v for v in value_set]
        return values.isin(value_set)
    if name == "regex":
        return ~values.astype(str).str.contains(value)
    if name == "length_between":
        lengths = values.astype(str).str.len()
        low, high = value
        if low is None:
            return ~(lengths <= high)
        if high is None:
            return ~(lengths >= low)
        return ~lengths.between(low, high)
    if name == "dtype":
        from curate.rules.gx import DTYPE_ALIASES

        if value in DTYPE_ALIASES:
            return ~_gx_condition("column_values_in_type_list", "ColumnValuesInTypeList")(
                values, type_list=DTYPE_ALIASES[value])
        return ~_gx_condition("column_values_of_type", "ColumnValuesOfType")(values, type_=value)
    raise ValueError(f"unknown column rule '{name}'")


def _between(values: "pd.Series", low: Any, high: Any) -> "pd.Series":
    """GX's ``ColumnValuesBetween`` pandas condition (inclusive bounds, which GX holds as
    floats). GX compares value by value unless the dtype is int64, float64 or nanosecond
    dates; on other numbers and dates (int32, booleans, microsecond dates) both ways give
    the same answers, or raise alike, so only text and objects go value by value here, where
    text against a number bound raises, as it does in GX."""
    import pandas as pd

    low = None if low is None else float(low)
    high = None if high is None else float(high)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        if low is None:
            return values <= high
        if high is None:
            return low <= values
        return (low <= values) & (values <= high)

    def is_between(value: Any) -> bool:
        if any(bound is not None and isinstance(value, str) != isinstance(bound, str) for bound in (low, high)):
            raise TypeError("Column values, min_value, and max_value must either be None or of the same type.")
        return (low is None or value >= low) and (high is None or value <= high)

    return values.map(is_between)


def _gx_condition(module: str, metric: str) -> Callable[..., "pd.Series"]:
    """GX's own pandas condition of a column map metric (True where a value is expected),
    unwrapped from its metric decorators: the code GX runs on the whole column."""
    import importlib
    import inspect

    cls = getattr(importlib.import_module(f"great_expectations.expectations.metrics.column_map_metrics.{module}"),
                  metric)
    condition = inspect.unwrap(cls.__dict__["_pandas"])
    return lambda values, **kwargs: condition(cls, values, **kwargs)


def _map_result(rule: _Rule, tally: _Tally, has_id: bool) -> CheckResult:
    """The result GX's ``ColumnMapExpectation`` (``not_null``: its own ``_validate``) gives
    on the combined tally, as :func:`curate.rules.gx._to_check` shapes it."""
    from curate.rules.gx import _details

    if tally.failed:
        return CheckResult(rule.name, False, rule.severity, rule.column, {}, _details(rule.name, rule.value, {}))
    considered = tally.rows if rule.name == "not_null" else tally.rows - tally.missing
    if considered == 0:
        success, percent = True, None
    else:
        success = (considered - tally.unexpected) / considered >= rule.mostly_or_one
        percent = tally.unexpected / considered * 100
    observed: dict[str, Any] = {"element_count": tally.rows, "unexpected_count": tally.unexpected,
                                "unexpected_percent": round(float(percent or 0.0), 6)}
    if rule.name != "not_null":
        observed["missing_count"] = tally.missing
    observed["unexpected_values"] = tally.values
    observed["unexpected_ids" if has_id else "unexpected_rows"] = tally.names
    return CheckResult(rule.name, success, rule.severity, rule.column, observed,
                       _details(rule.name, rule.value, observed), [str(n) for n in tally.names])


# --- unique -------------------------------------------------------------------------------


def _shuffled(frame: "dd.DataFrame", column: str, has_id: bool) -> list:
    """The values present in ``column``, with their row's position (and id), hash-partitioned
    by value into as many pieces as ``frame`` has partitions: all copies of a value meet."""
    keep = list(dict.fromkeys([column] + (["id"] if has_id else [])))

    def present(part: "pd.DataFrame") -> "pd.DataFrame":
        out = part.loc[part[column].notnull(), keep]
        return out.assign(**{_POSITION: out.index.to_numpy()})

    meta = present(frame._meta)
    pieces = frame.map_partitions(present, meta=meta)
    return pieces.shuffle(on=column, npartitions=max(frame.npartitions, 1)).to_delayed()


def _duplicates_partial(piece: "pd.DataFrame", column: str, has_id: bool) -> tuple[int, list]:
    """How many rows of ``piece`` repeat a value (GX: ``duplicated(keep=False)``), and the
    first ones by position as ``(position, value, name)``."""
    repeated = piece[piece[column].duplicated(keep=False)]
    first = repeated.nsmallest(MAX_OFFENDERS, _POSITION)
    names = first["id"] if has_id else first[_POSITION]
    return len(repeated), list(zip(first[_POSITION].tolist(), first[column].tolist(), names.tolist()))


def _combine_duplicates(parts: list[tuple[int, list]], rows: int, missing: int) -> _Tally:
    first = sorted((row for _, rows_of in parts for row in rows_of), key=lambda row: row[0])[:MAX_OFFENDERS]
    return _Tally(rows=rows, missing=missing, unexpected=sum(n for n, _ in parts),
                  values=[value for _, value, _ in first], names=[name for _, _, name in first])


# --- mean_between -------------------------------------------------------------------------


def _mean_partial(column: "pd.Series") -> tuple:
    """What the mean of the values present needs from one partition: numbers and booleans
    ``("sum", count, sum, rounding error of the sum)``, dates and durations ``("mean", count,
    mean)``; ``("none",)`` where pandas has no mean (text), which GX reports as a metric it
    could not compute."""
    import numpy as np
    import pandas as pd

    kinds = pd.api.types
    if kinds.is_datetime64_any_dtype(column) or kinds.is_timedelta64_dtype(column):
        present = column.dropna()
        return "mean", len(present), present.mean()
    try:
        column.mean()  # pandas' verdict, as GX asks it: text has no mean, numbers in objects do
        values = column.dropna().to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return ("none",)
    total = math.fsum(values)
    return "sum", len(values), total, math.fsum(np.append(values, -total))


def _combine_means(parts: list[tuple]) -> tuple[bool, Any]:
    """``(computable, mean)``; the mean is NaN without values, as pandas gives it."""
    if any(p[0] == "none" for p in parts):
        return False, None
    count = sum(p[1] for p in parts)
    if count == 0:
        return True, math.nan
    if parts[0][0] == "sum":
        return True, math.fsum(x for p in parts for x in p[2:]) / count
    # dates: weighted offsets from one partition's mean, so no sum of dates overflows
    origin = next(p[2] for p in parts if p[1])
    return True, origin + sum(((p[2] - origin) * p[1] for p in parts if p[1]), origin - origin) / count


def _mean_result(rule: _Rule, mean: tuple[bool, Any]) -> CheckResult:
    """GX's own verdict on the mean (``_validate_metric_value_between``); a verdict that
    raises (a date against numbers) is GX's "could not evaluate it"."""
    from curate.rules.gx import _details, _expectation

    computable, value = mean
    if not computable:
        return CheckResult(rule.name, False, rule.severity, rule.column, {}, _details(rule.name, rule.value, {}))
    expectation = _expectation(rule.name, rule.column, rule.value, None)
    try:
        verdict = expectation._validate_metric_value_between(metric_name="column.mean",
                                                             metrics={"column.mean": value})
    except Exception as exc:  # what GX's validator catches around an expectation's _validate
        message = " ".join(str(exc).split())
        return CheckResult(rule.name, False, rule.severity, rule.column, {"unexpected_count": None},
                           f"Great Expectations could not evaluate it: {message[:300]}")
    observed = {"observed_value": verdict["result"]["observed_value"]}
    return CheckResult(rule.name, bool(verdict["success"]), rule.severity, rule.column, observed,
                       _details(rule.name, rule.value, observed))


# --- dtype on the column's dtype ----------------------------------------------------------


def _dtype_verdict(rule: _Rule, dtype: Any) -> tuple[bool, str] | None:
    """``(success, observed dtype name)`` where GX judges the column's dtype, None where it
    judges each value (an ``object`` column: a map rule)."""
    from curate.rules.gx import DTYPE_ALIASES, _expectation

    alias = rule.value in DTYPE_ALIASES
    if dtype.type.__name__ == "object_" and (alias or rule.value not in ("object", "object_", "O")):
        return None
    expectation = _expectation("dtype", rule.column, rule.value, None)
    if alias:
        verdict = expectation._validate_pandas(actual_column_type=dtype, expected_types_list=DTYPE_ALIASES[rule.value])
    else:
        verdict = expectation._validate_pandas(actual_column_type=dtype, expected_type=rule.value)
    return bool(verdict["success"]), verdict["result"]["observed_value"]


def _aggregate_result(rule: _Rule, success: bool, observed_value: str) -> CheckResult:
    from curate.rules.gx import _details

    observed = {"observed_value": observed_value}
    return CheckResult(rule.name, success, rule.severity, rule.column, observed,
                       _details(rule.name, rule.value, observed))
