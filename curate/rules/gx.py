"""Column rules compiled to Great Expectations 1.x expectations and run in memory.

The rules file's ``columns:`` section becomes one ``ExpectationSuite``, validated on an
ephemeral context against the in-memory DataFrame (analytics and progress bars off, no
network), and the GX results come back as :class:`curate.checks.base.CheckResult`.
``export_suite`` writes the same suite as GX JSON, so a team on GX can adopt the rules.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckResult

if TYPE_CHECKING:
    import pandas as pd

    from curate.rules.schema import Rules

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


def _expectation(name: str, column: str, value: Any, mostly: float | None):
    """One GX expectation object for one column rule."""
    import great_expectations as gx

    E = gx.expectations
    extra = {"mostly": mostly} if mostly is not None else {}
    if name == "not_null":
        return E.ExpectColumnValuesToNotBeNull(column=column, **extra)
    if name == "between":
        return E.ExpectColumnValuesToBeBetween(column=column, min_value=value[0], max_value=value[1], **extra)
    if name == "in_set":
        return E.ExpectColumnValuesToBeInSet(column=column, value_set=list(value), **extra)
    if name == "not_in_set":
        return E.ExpectColumnValuesToNotBeInSet(column=column, value_set=list(value), **extra)
    if name == "unique":
        return E.ExpectColumnValuesToBeUnique(column=column, **extra)
    if name == "regex":
        return E.ExpectColumnValuesToMatchRegex(column=column, regex=value, **extra)
    if name == "length_between":
        return E.ExpectColumnValueLengthsToBeBetween(column=column, min_value=value[0], max_value=value[1],
                                                     **extra)
    if name == "mean_between":
        return E.ExpectColumnMeanToBeBetween(column=column, min_value=value[0], max_value=value[1])
    if name == "dtype":
        if value in DTYPE_ALIASES:
            return E.ExpectColumnValuesToBeInTypeList(column=column, type_list=DTYPE_ALIASES[value])
        return E.ExpectColumnValuesToBeOfType(column=column, type_=value)
    raise ValueError(f"unknown column rule '{name}'")


def compile_suite(rules: "Rules", name: str = "curaug"):
    """The rules' ``columns:`` section as a GX ``ExpectationSuite`` (severity kept in meta)."""
    import great_expectations as gx

    _context()  # GX suites need an active context, even to be built
    suite = gx.ExpectationSuite(name=name)
    for column, spec in rules.columns.items():
        for rule, value, mostly, severity in spec.rules():
            exp = _expectation(rule, column, value, mostly)
            exp.meta = {"curaug_rule": rule, "curaug_severity": severity, "curaug_value": value}
            suite.add_expectation(exp)
    return suite


def export_suite(rules: "Rules", folder: str | os.PathLike, name: str = "curaug") -> str:
    """Write the GX expectation suite JSON into ``folder``; return the file path."""
    import json
    from pathlib import Path

    from curate.io.atomic import write_text_atomic

    suite = compile_suite(rules, name)
    path = Path(folder) / f"{name}.json"
    write_text_atomic(path, json.dumps(suite.to_json_dict(), indent=2, default=str) + "\n")
    return str(path)


def run_column_rules(df: "pd.DataFrame", rules: "Rules") -> list[CheckResult]:
    """Validate the column rules against ``df`` with GX; one result per rule."""
    if not rules.columns:
        return []
    missing = [c for c in rules.columns if c not in df.columns]
    results = []
    for column in missing:
        for rule, _, _, severity in rules.columns[column].rules():
            results.append(CheckResult(rule, False, severity, column, {"unexpected_count": None},
                                       f"column '{column}' not found in the data"))
    present = rules.model_copy(update={"columns": {c: s for c, s in rules.columns.items() if c not in missing}})
    if not present.columns:
        return results
    suite = compile_suite(present)
    index_cols = ["id"] if "id" in df.columns else []
    batch = _batch(df)
    fmt = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_OFFENDERS,
           "include_unexpected_rows": False}
    if index_cols:
        fmt["unexpected_index_column_names"] = index_cols
    outcome = batch.validate(suite, result_format=fmt)
    for res in outcome.results:
        results.append(_to_check(res, df, index_cols))
    return results


def _to_check(res, df: "pd.DataFrame", index_cols: list[str]) -> CheckResult:
    config = res.expectation_config
    meta = config.meta or {}
    column = config.kwargs.get("column")
    name = meta.get("curaug_rule", config.type)
    severity = meta.get("curaug_severity", "error")
    r = res.result or {}
    observed: dict[str, Any] = {}
    offenders: list[str] = []
    if res.exception_info and res.exception_info.get("raised_exception"):
        message = " ".join(str(res.exception_info.get("exception_message", "")).split())
        return CheckResult(name, False, severity, column, {"unexpected_count": None},
                           f"Great Expectations could not evaluate it: {message[:300]}")
    if "unexpected_count" in r:
        observed["element_count"] = r.get("element_count")
        observed["unexpected_count"] = r.get("unexpected_count")
        observed["unexpected_percent"] = round(float(r.get("unexpected_percent") or 0.0), 6)
        if r.get("missing_count") is not None:
            observed["missing_count"] = r.get("missing_count")
        values = r.get("partial_unexpected_list") or []
        observed["unexpected_values"] = values[:MAX_OFFENDERS]
        rows = r.get("partial_unexpected_index_list") or []
        if index_cols:
            observed["unexpected_ids"] = [row.get("id") if isinstance(row, dict) else row for row in rows]
        else:
            observed["unexpected_rows"] = rows
        offenders = [str(r) for r in observed.get("unexpected_ids", rows)]
    if "observed_value" in r:
        observed["observed_value"] = r["observed_value"]
    details = _details(name, meta.get("curaug_value"), observed)
    return CheckResult(name, bool(res.success), severity, column, observed, details, offenders)


def _details(name: str, value: Any, observed: dict) -> str:
    text = name if value is None or value is True else f"{name} {value}"
    if "unexpected_count" in observed and observed.get("element_count") is not None:
        checked = observed["element_count"] - (observed.get("missing_count") or 0)
        text += (f": {observed['unexpected_count']} of {checked} values unexpected "
                 f"({observed['unexpected_percent']:.2f}%)")
    elif "observed_value" in observed:
        text += f": observed {observed['observed_value']}"
    return text


def _batch(df: "pd.DataFrame"):
    context = _context()
    source = context.data_sources.add_or_update_pandas("curaug")
    asset = source.add_dataframe_asset(f"data_{next(_ASSET_NUMBERS)}")
    definition = asset.add_batch_definition_whole_dataframe("all")
    return definition.get_batch(batch_parameters={"dataframe": df})


_CONTEXT = None
_ASSET_NUMBERS = itertools.count()


def _context():
    """One ephemeral in-memory GX context per process: no files, analytics or progress bars."""
    global _CONTEXT
    if _CONTEXT is None:
        _quiet_gx()
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig)

        config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(),
                                   analytics_enabled=False,
                                   progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False))
        _CONTEXT = gx.get_context(mode="ephemeral", project_config=config)
    return _CONTEXT


def _quiet_gx() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
