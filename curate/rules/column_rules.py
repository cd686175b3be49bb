"""The column rules, each once: its name, how it is judged, its vectorised condition and its
Great Expectations expectation.

:mod:`curate.rules.evaluate` runs the conditions on any table, in memory or partitioned;
:mod:`curate.rules.gx` builds the expectations, to export the rules as a GX suite or to run
them through GX itself (``--executor gx``). The conditions have the semantics of GX's pandas
engine (a differential test holds the two to the same counts and offenders):

- ``map`` rules judge each value present (missing values, None/NaN/NaT, are left out, so a
  percentage is of the values present and ``mostly`` is judged on them); ``not_null``
  judges every value;
- ``unique`` flags every occurrence of a repeated value;
- ``mean`` judges the mean of the values present;
- ``dtype`` judges the column's dtype, or each value of an ``object`` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from curate.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

#: Friendly ``dtype:`` names and the pandas dtype names they accept.
DTYPE_ALIASES = {
    "int": ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"],
    "float": ["float16", "float32", "float64", "Float32", "Float64"],
    "number": [],
    "bool": ["bool", "boolean"],
    "string": ["object", "str", "string", "StringDtype"],
    "str": ["object", "str", "string", "StringDtype"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
    "category": ["category"],
}
DTYPE_ALIASES["number"] = DTYPE_ALIASES["int"] + DTYPE_ALIASES["float"]


@dataclass(frozen=True)
class ColumnRule:
    """One rule kind of the ``columns:`` section."""

    name: str
    #: ``map``, ``unique``, ``mean`` or ``dtype`` (see the module docstring)
    judged: str
    #: ``(column, value, mostly)`` -> the GX expectation
    expectation: Callable[[str, Any, Optional[float]], Any]
    #: ``(values present, value)`` -> True where a value is unexpected (``map`` rules)
    unexpected: Optional[Callable[["pd.Series", Any], "pd.Series"]] = None


COLUMN_RULE_KINDS: Registry[ColumnRule] = Registry("column rule")


def _gx():
    import great_expectations as gx

    return gx.expectations


def _mostly(mostly: Optional[float]) -> dict[str, float]:
    return {"mostly": mostly} if mostly is not None else {}


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


def _not_in_set(values: "pd.Series", value: Any) -> "pd.Series":
    import pandas as pd

    value_set = list(value)
    if pd.api.types.is_datetime64_any_dtype(values):  # GX's parse_value_set: text is parsed as dates
        from dateutil.parser import parse

        value_set = [parse(v) if isinstance(v, str) else v for v in value_set]
    return values.isin(value_set)


def _length_outside(values: "pd.Series", value: Any) -> "pd.Series":
    lengths = values.astype(str).str.len()
    low, high = value
    if low is None:
        return ~(lengths <= high)
    if high is None:
        return ~(lengths >= low)
    return ~lengths.between(low, high)


def _gx_condition(module: str, metric: str) -> Callable[..., "pd.Series"]:
    """GX's own pandas condition of a column map metric (True where a value is expected),
    unwrapped from its metric decorators: the code GX runs on the whole column."""
    import importlib
    import inspect

    cls = getattr(importlib.import_module(f"great_expectations.expectations.metrics.column_map_metrics.{module}"),
                  metric)
    condition = inspect.unwrap(cls.__dict__["_pandas"])
    return lambda values, **kwargs: condition(cls, values, **kwargs)


def _wrong_type(values: "pd.Series", value: Any) -> "pd.Series":
    """An ``object`` column's values that are not of the type named, judged by GX's own code."""
    if value in DTYPE_ALIASES:
        return ~_gx_condition("column_values_in_type_list", "ColumnValuesInTypeList")(
            values, type_list=DTYPE_ALIASES[value])
    return ~_gx_condition("column_values_of_type", "ColumnValuesOfType")(values, type_=value)


def dtype_expectation(column: str, value: Any, mostly: Optional[float] = None):
    if value in DTYPE_ALIASES:
        return _gx().ExpectColumnValuesToBeInTypeList(column=column, type_list=DTYPE_ALIASES[value])
    return _gx().ExpectColumnValuesToBeOfType(column=column, type_=value)


for _rule in (
    ColumnRule("not_null", "map", lambda c, v, m: _gx().ExpectColumnValuesToNotBeNull(column=c, **_mostly(m))),
    ColumnRule("between", "map",
               lambda c, v, m: _gx().ExpectColumnValuesToBeBetween(column=c, min_value=v[0], max_value=v[1],
                                                                    **_mostly(m)),
               lambda values, v: ~_between(values, *v)),
    ColumnRule("in_set", "map",
               lambda c, v, m: _gx().ExpectColumnValuesToBeInSet(column=c, value_set=list(v), **_mostly(m)),
               lambda values, v: ~values.isin(list(v))),
    ColumnRule("not_in_set", "map",
               lambda c, v, m: _gx().ExpectColumnValuesToNotBeInSet(column=c, value_set=list(v), **_mostly(m)),
               _not_in_set),
    ColumnRule("unique", "unique", lambda c, v, m: _gx().ExpectColumnValuesToBeUnique(column=c, **_mostly(m))),
    ColumnRule("regex", "map",
               lambda c, v, m: _gx().ExpectColumnValuesToMatchRegex(column=c, regex=v, **_mostly(m)),
               lambda values, v: ~values.astype(str).str.contains(v)),
    ColumnRule("dtype", "dtype", dtype_expectation, _wrong_type),
    ColumnRule("length_between", "map",
               lambda c, v, m: _gx().ExpectColumnValueLengthsToBeBetween(column=c, min_value=v[0], max_value=v[1],
                                                                         **_mostly(m)),
               _length_outside),
    ColumnRule("mean_between", "mean",
               lambda c, v, m: _gx().ExpectColumnMeanToBeBetween(column=c, min_value=v[0], max_value=v[1])),
):
    COLUMN_RULE_KINDS.register(_rule.name, _rule)
