"""``curaug validate`` on a partitioned table: the in-memory contract, per partition.

The same checks run and decide as in :func:`curate.checks.validate.validate` (the in-memory
registry's ``asked``/``default`` say which), each through its partitioned implementation
(:mod:`curate.partitioned.context`), and the column rules through
:func:`curate.rules.evaluate.column_rules`; results and JSON equal the in-memory path's
on any table that fits. A check the rules ask for that has no partitioned implementation is
one error line, never a silent skip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.checks.base import CheckContext, ValidationResult, registered_checks
from curate.errors import CuraugError

if TYPE_CHECKING:
    import dask.dataframe as dd

    from curate.rules.schema import Rules


def validate_partitioned(ddf: "dd.DataFrame", rules: "Rules | None" = None, *, label: str | None = None,
                         group: str | None = None, split_col: str | None = None, label_sep: str | None = None,
                         source: str | None = None) -> ValidationResult:
    """Validate ``ddf`` (from :func:`curate.partitioned.table.open_table`); arguments as
    :func:`curate.checks.validate.validate`'s. Runs on the active engine
    (:func:`curate.partitioned.table.engine_scope`)."""
    from curate.checks.validate import (_as_warning, declares_checks, resolve_roles, skipped_split_checks,
                                        without_raw_unit_rules)
    from curate.io.manifest import ok_rows
    from curate.partitioned.context import PARTITIONED_CHECKS, PartitionedContext
    from curate.rules.evaluate import column_rules
    from curate.rules.schema import Rules

    contract = rules is not None and declares_checks(rules)
    rules = rules or Rules()
    label, group, split_col, label_sep = resolve_roles(ddf.columns, rules, label, group, split_col, label_sep)
    rules, skipped = without_raw_unit_rules(rules, ddf._meta.attrs)
    columns = [str(c) for c in ddf.columns]
    if label and not label_sep:
        from curate.io.labels import is_list_column

        if is_list_column(ddf[label].head(1000, npartitions=-1)):
            label_sep = "\x1f"  # list cells: multilabel, nothing to split on
    usable = ddf.map_partitions(lambda part: part[ok_rows(part)], meta=ddf._meta) if "status" in columns else ddf
    ctx = PartitionedContext(usable, rules, label=label, group=group, split_col=split_col, full=ddf,
                             label_sep=label_sep)
    checks = _asked(ddf, rules, label, group, split_col, label_sep)
    missing = [c.name for c, asked in checks if asked and c.name not in PARTITIONED_CHECKS]
    if missing:
        raise CuraugError(f"{source or 'the table'}: check(s) {', '.join(missing)} do not run on a partitioned "
                          "table yet; validate a sample that fits in memory (one file, --engine local)")
    if _empty(ddf):
        raise CuraugError(f"{source or 'ddf'}: the table has no rows, nothing to validate", param="df")
    results = column_rules(usable, rules)
    for check, asked in checks:
        if (not asked and not check.default) or check.name not in PARTITIONED_CHECKS:
            continue
        found = PARTITIONED_CHECKS.get(check.name)(ctx)
        if contract and not asked:
            found = [_as_warning(r) for r in found]
        results.extend(found)
    return ValidationResult(results, source=source, skipped=skipped + skipped_split_checks(rules, split_col))


def unsupported_checks(ddf: "dd.DataFrame", rules: "Rules | None", *, label: str | None = None,
                       group: str | None = None, split_col: str | None = None) -> list[str]:
    """The checks ``rules`` ask for that have no partitioned form (``[]``: the table can be
    validated in partitions)."""
    from curate.partitioned.context import PARTITIONED_CHECKS
    from curate.rules.schema import Rules

    rules = rules or Rules()
    checks = _asked(ddf, rules, label or rules.label, group or rules.group, split_col, rules.label_sep)
    return [c.name for c, asked in checks if asked and c.name not in PARTITIONED_CHECKS]


def _asked(ddf: "dd.DataFrame", rules: "Rules", label, group, split_col, label_sep) -> list[tuple]:
    """Every registered check and whether the rules (or roles) ask for it: ``asked`` reads
    the rules and roles only, so an empty frame of the right columns will do."""
    asking = CheckContext(ddf._meta, rules, label=label, group=group, split_col=split_col, label_sep=label_sep)
    return [(check, check.asked(asking)) for check in registered_checks()]


def _empty(ddf: "dd.DataFrame") -> bool:
    from curate.partitioned.table import partition_lengths

    return sum(partition_lengths(ddf)) == 0
