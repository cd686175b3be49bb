"""The rules file's ``columns:`` section on any table (:class:`curate.io.frames.Frame`): in
memory or partitioned, the same code and the same results as Great Expectations gives on
the whole table in memory (names, order, success, observed figures, details, offenders).

Each rule kind of :mod:`curate.rules.column_rules` is a reduction:

- a ``map`` rule reduces each partition to its counts and its first 20 unexpected values
  and row names (:class:`Tally`), and the tallies add up in table order;
- ``unique`` needs every copy of a value together: the values present and their positions
  go through :meth:`Frame.by_key` (the whole column in memory; hash pieces after a shuffle
  on a partitioned table, so no task holds more than a piece), and the ids of the first 20
  offenders are looked up after;
- ``mean_between`` sums each partition exactly (a float and its rounding error), so the mean
  is the correctly rounded mean whatever the partitioning; it equals pandas' when the sum is
  exact in float64 (integers, booleans, binary fractions), and may differ in the last bit
  from pandas' pairwise sum otherwise;
- ``dtype`` on a column that is not ``object`` is judged on the column's dtype by GX's own
  function; on an ``object`` column value by value, as a map rule.

A rule whose computation raises on the data (``between`` on strings, ``mean_between`` on
text) fails with an empty ``observed``, and comes before the others, as GX reports a metric
that could not be resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckResult
from curate.io.frames import ORDER, Frame, frame_of
from curate.rules.column_rules import COLUMN_RULE_KINDS, DTYPE_ALIASES

if TYPE_CHECKING:
    import pandas as pd

    from curate.rules.schema import Rules

#: The column an ``object`` column is shuffled on for ``unique`` (see :func:`_shuffle_key`).
_KEY = "__curaug_key"


@dataclass
class Tally:
    """One map rule on some rows: counts and the first unexpected values and row names."""

    rows: int = 0
    missing: int = 0
    unexpected: int = 0
    values: list = field(default_factory=list)
    names: list = field(default_factory=list)
    failed: bool = False

    @staticmethod
    def combine(tallies: list["Tally"]) -> "Tally":
        """The tally of the rows of ``tallies`` in that (table) order."""
        out = Tally(failed=any(t.failed for t in tallies))
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
        # GX's ``mostly`` defaults to 1, and a dtype rule compiles without one
        if self.name == "dtype" or self.mostly is None:
            return 1.0
        return self.mostly


def column_rules(data: "pd.DataFrame | Frame", rules: "Rules") -> list[CheckResult]:
    """The column rules of ``rules`` on ``data`` (a DataFrame, or a :class:`Frame`): one
    result per rule, equal to Great Expectations' on the whole table.

    Examples
    --------
    >>> import pandas as pd
    >>> from curate.rules.schema import parse_rules
    >>> rules = parse_rules({"columns": {"x": {"unique": True, "between": [0, 5]}}})
    >>> [(r.name, r.success, r.observed["unexpected_rows"])
    ...  for r in column_rules(pd.DataFrame({"x": [1, 2, 2, 9]}), rules)]
    [('between', False, [3]), ('unique', False, [1, 2])]
    """
    if not rules.columns:
        return []
    frame = frame_of(data)
    columns = frame.columns
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
        verdict = _dtype_verdict(rule, frame.meta[rule.column].dtype) if rule.name == "dtype" else None
        if verdict is not None:
            by_type[rule] = verdict
    tallies, means = _summarise(frame, [r for r in plan if r not in by_type], has_id)
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


def _summarise(frame: Frame, plan: list[_Rule], has_id: bool) -> tuple[dict, dict]:
    """``(tallies, means)`` of the rules in ``plan``: one pass over the partitions for the
    map rules and the means, then one :meth:`Frame.by_key` per ``unique`` rule, one at a
    time (a local shuffle buffers up to 1 GB in memory before it spills to disk: two at
    once, twice that)."""
    mapped = [r for r in plan if r.name not in ("unique", "mean_between")]
    means = [r for r in plan if r.name == "mean_between"]
    uniques = [r for r in plan if r.name == "unique"]
    counted = list(dict.fromkeys(r.column for r in uniques))
    needed = list(dict.fromkeys([r.column for r in plan] + (["id"] if has_id else [])))

    def partial(part: "pd.DataFrame") -> tuple:
        return (len(part), [int(part[c].isnull().sum()) for c in counted],
                [_map_tally(part, r, has_id) for r in mapped], [_mean_partial(part[r.column]) for r in means])

    pieces = frame.reduce(partial, list, needed)
    rows = sum(p[0] for p in pieces)
    nulls = {c: sum(p[1][i] for p in pieces) for i, c in enumerate(counted)}
    tallies = {r: Tally.combine([p[2][i] for p in pieces]) for i, r in enumerate(mapped)}
    for r in uniques:
        keyed = frame.meta[r.column].dtype == object
        parts = frame.by_key(lambda part, c=r.column, k=keyed: _present(part, c, k), _KEY if keyed else r.column,
                             lambda piece, c=r.column: _duplicates_partial(piece, c), [r.column])
        tallies[r] = tally = _combine_duplicates(parts, rows, nulls[r.column])
        tally.names = frame.names_at(tally.names)
    return tallies, {r: _combine_means([p[3][i] for p in pieces]) for i, r in enumerate(means)}


# --- map rules ----------------------------------------------------------------------------


def _map_tally(part: "pd.DataFrame", rule: _Rule, has_id: bool) -> Tally:
    """``rule`` on one partition: GX's condition on the values present (all values for
    ``not_null``), its counts and first unexpected values and row names."""
    import numpy as np

    column = part[rule.column]
    present = column.notnull()
    tally = Tally(rows=len(part), missing=int((~present).sum()))
    if rule.name == "not_null":
        flagged = (~present).to_numpy()
    else:
        try:
            unexpected = COLUMN_RULE_KINDS.get(rule.name).unexpected(column[present], rule.value)
        except Exception:  # GX's metric fails on such data too (comparing text to numbers, ...)
            return Tally(failed=True)
        flagged = np.zeros(len(part), dtype=bool)
        flagged[np.flatnonzero(present.to_numpy())] = np.asarray(unexpected, dtype=bool)
    tally.unexpected = int(flagged.sum())
    first = np.flatnonzero(flagged)[:MAX_OFFENDERS]
    tally.values = column.iloc[first].tolist()
    tally.names = (part["id"].iloc[first] if has_id else part.index[first]).tolist()
    return tally


def _map_result(rule: _Rule, tally: Tally, has_id: bool) -> CheckResult:
    """The result GX's ``ColumnMapExpectation`` (``not_null``: its own ``_validate``) gives
    on the combined tally, as :func:`curate.rules.gx.to_check` shapes it."""
    if tally.failed:
        return CheckResult(rule.name, False, rule.severity, rule.column, {}, details(rule.name, rule.value, {}))
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
                       details(rule.name, rule.value, observed), [str(n) for n in tally.names])


def details(name: str, value: Any, observed: dict) -> str:
    """The one-line account of a column rule's result, as the report and terminal show it."""
    text = name if value is None or value is True else f"{name} {value}"
    if "unexpected_count" in observed and observed.get("element_count") is not None:
        checked = observed["element_count"] - (observed.get("missing_count") or 0)
        text += (f": {observed['unexpected_count']} of {checked} values unexpected "
                 f"({observed['unexpected_percent']:.2f}%)")
    elif "observed_value" in observed:
        text += f": observed {observed['observed_value']}"
    return text


# --- unique -------------------------------------------------------------------------------


def _present(part: "pd.DataFrame", column: str, keyed: bool) -> "pd.DataFrame":
    """The values present in ``column`` with their row's position: only these two travel
    (ids are looked up for the few offenders after), to keep a shuffle small. Lists and
    arrays (Parquet list cells) cannot be hashed: an object column travels on a key."""
    out = part.loc[part[column].notnull(), [column, ORDER]]
    return out.assign(**{_KEY: out[column].map(_shuffle_key)}) if keyed else out


def _shuffle_key(value: Any) -> Any:
    """A key dask hashes the same in every process for values pandas counts as repeats in an
    ``object`` column: text and bytes as they are; numbers by Python's hash, which is equal
    for ``1``, ``1.0`` and ``True`` (dask would hash their different texts); anything else
    by its text, lists and arrays included, which have no hash (pandas compares lists as
    tuples and arrays by identity: one piece for equal texts, and ``duplicated`` decides)."""
    import numbers

    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, numbers.Number):
        return hash(value)
    return repr(value)


def _duplicates_partial(piece: "pd.DataFrame", column: str) -> tuple[int, list]:
    """How many rows of ``piece`` repeat a value (GX: ``duplicated(keep=False)``), and the
    first ones as ``(position, value)``."""
    repeated = piece[piece[column].duplicated(keep=False)]
    first = repeated.nsmallest(MAX_OFFENDERS, ORDER)
    return len(repeated), list(zip(first[ORDER].tolist(), first[column].tolist()))


def _combine_duplicates(parts: list[tuple[int, list]], rows: int, missing: int) -> Tally:
    """The pieces' counts, and their first offenders in table order, named by position."""
    first = sorted((row for _, rows_of in parts for row in rows_of), key=lambda row: row[0])[:MAX_OFFENDERS]
    return Tally(rows=rows, missing=missing, unexpected=sum(n for n, _ in parts),
                 values=[value for _, value in first], names=[position for position, _ in first])


# --- mean_between -------------------------------------------------------------------------


def _mean_partial(column: "pd.Series") -> tuple:
    """What the mean of the values present needs from one partition: numbers and booleans
    ``("sum", count, infinities, parts, scale)``: the sum of the finite values as floats
    that add up to it exactly (:func:`exact_sum`), times ``2**scale`` (``-64`` where the sum
    of numbers near the float limit would overflow, else 0), and the signs of the infinite
    values (``+``/``-``); dates and durations ``("mean", count, mean)``; ``("none",)``
    where pandas has no mean (text), which GX reports as a metric it could not compute."""
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
    finite = np.isfinite(values)
    infinities = "" if finite.all() else "".join(sorted({"+" if v > 0 else "-" for v in values[np.isinf(values)]}))
    finite_values = values if finite.all() else values[finite]
    parts = exact_sum(finite_values)
    scale = 0
    if not all(map(math.isfinite, parts)):  # near the float limit: scaled by a power of two, exact but below 1e-290
        scale = -64
        parts = exact_sum(finite_values * 2.0 ** scale)
    return "sum", len(values), infinities, parts, scale


def exact_sum(values: "np.ndarray", depth: int = 4) -> list[float]:
    """Floats whose exact sum is the exact sum of ``values`` (to about 2**-200 of it): a
    cascade of error-free pairwise additions (Knuth's TwoSum), vectorised, then the same on
    what each addition rounded away, ``depth`` times. A million values take milliseconds
    where ``math.fsum`` takes a fifth of a second. A part is inf where the sums overflow."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    errors = []
    with np.errstate(over="ignore", invalid="ignore"):
        while len(x) > 1:
            if len(x) % 2:
                x = np.append(x, 0.0)
            a, b = x[0::2], x[1::2]
            s = a + b
            bb = s - a
            e = (a - (s - bb)) + (b - bb)
            errors.append(e[e != 0])
            x = s
    total = float(x[0]) if len(x) else 0.0
    rest = np.concatenate(errors) if errors else np.zeros(0)
    if not math.isfinite(total) or not len(rest):
        return [total]
    if len(rest) <= 64:
        return [total, *rest.tolist()]
    if depth == 0:
        return [total, math.fsum(rest)]
    return [total, *exact_sum(rest, depth - 1)]


def _combine_means(parts: list[tuple]) -> tuple[bool, Any]:
    """``(computable, mean)``; the mean is NaN without values, as pandas gives it."""
    if any(p[0] == "none" for p in parts):
        return False, None
    count = sum(p[1] for p in parts)
    if count == 0:
        return True, math.nan
    if parts[0][0] == "sum":
        from fractions import Fraction

        infinities = set("".join(p[2] for p in parts))
        if infinities:  # as a float sum has it: inf - inf is NaN
            return True, math.nan if len(infinities) == 2 else (math.inf if "+" in infinities else -math.inf)
        # one rounding, from the exact sum of the partitions' sums
        exact = sum(sum(map(Fraction, p[3])) / Fraction(2) ** p[4] for p in parts)
        return True, float(exact / count)
    # dates: weighted offsets from one partition's mean, so no sum of dates overflows
    origin = next(p[2] for p in parts if p[1])
    return True, origin + sum(((p[2] - origin) * p[1] for p in parts if p[1]), origin - origin) / count


def _mean_result(rule: _Rule, mean: tuple[bool, Any]) -> CheckResult:
    """GX's own verdict on the mean (``_validate_metric_value_between``); a verdict that
    raises (a date against numbers) is GX's "could not evaluate it"."""
    computable, value = mean
    if not computable:
        return CheckResult(rule.name, False, rule.severity, rule.column, {}, details(rule.name, rule.value, {}))
    expectation = COLUMN_RULE_KINDS.get(rule.name).expectation(rule.column, rule.value, None)
    try:
        verdict = expectation._validate_metric_value_between(metric_name="column.mean",
                                                             metrics={"column.mean": value})
    except Exception as exc:  # what GX's validator catches around an expectation's _validate
        message = " ".join(str(exc).split())
        return CheckResult(rule.name, False, rule.severity, rule.column, {"unexpected_count": None},
                           f"Great Expectations could not evaluate it: {message[:300]}")
    observed = {"observed_value": verdict["result"]["observed_value"]}
    return CheckResult(rule.name, bool(verdict["success"]), rule.severity, rule.column, observed,
                       details(rule.name, rule.value, observed))


# --- dtype on the column's dtype ----------------------------------------------------------


def _dtype_verdict(rule: _Rule, dtype: Any) -> tuple[bool, str] | None:
    """``(success, observed dtype name)`` where GX judges the column's dtype, None where it
    judges each value (an ``object`` column: a map rule)."""
    alias = rule.value in DTYPE_ALIASES
    if dtype.type.__name__ == "object_" and (alias or rule.value not in ("object", "object_", "O")):
        return None
    expectation = COLUMN_RULE_KINDS.get("dtype").expectation(rule.column, rule.value, None)
    if alias:
        verdict = expectation._validate_pandas(actual_column_type=dtype, expected_types_list=DTYPE_ALIASES[rule.value])
    else:
        verdict = expectation._validate_pandas(actual_column_type=dtype, expected_type=rule.value)
    return bool(verdict["success"]), verdict["result"]["observed_value"]


def _aggregate_result(rule: _Rule, success: bool, observed_value: str) -> CheckResult:
    observed = {"observed_value": observed_value}
    return CheckResult(rule.name, success, rule.severity, rule.column, observed,
                       details(rule.name, rule.value, observed))
