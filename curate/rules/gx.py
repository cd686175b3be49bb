"""Column rules as Great Expectations 1.x expectations: exported, or run through GX itself.

The rules file's ``columns:`` section becomes one ``ExpectationSuite`` (each rule's
expectation from :mod:`curate.rules.column_rules`). ``export_suite`` writes it as GX JSON,
so a team on GX can adopt the rules; :func:`run_column_rules` validates it on an ephemeral
context against an in-memory DataFrame (analytics and progress bars off, no network) and
turns GX's results into :class:`curate.checks.base.CheckResult` (``--executor gx``). The
default executor, :mod:`curate.rules.evaluate`, gives the same results on any table.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckResult
from curate.rules.column_rules import COLUMN_RULE_KINDS

if TYPE_CHECKING:
    import pandas as pd

    from curate.rules.schema import Rules


def compile_suite(rules: "Rules", name: str = "curaug"):
    """The rules' ``columns:`` section as a GX ``ExpectationSuite`` (severity kept in meta)."""
    import great_expectations as gx

    _context()  # GX suites need an active context, even to be built
    suite = gx.ExpectationSuite(name=name)
    for column, spec in rules.columns.items():
        for rule, value, mostly, severity in spec.rules():
            exp = COLUMN_RULE_KINDS.get(rule).expectation(column, value, mostly)
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
        results.append(to_check(res, index_cols))
    return results


def to_check(res, index_cols: list[str]) -> CheckResult:
    """One GX validation result as a :class:`CheckResult`."""
    from curate.rules.evaluate import details

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
    return CheckResult(name, bool(res.success), severity, column, observed,
                       details(name, meta.get("curaug_value"), observed), offenders)


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
