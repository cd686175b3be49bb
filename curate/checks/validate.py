"""``curaug validate``: column rules on Great Expectations plus the registered dataset checks.

Which checks decide the result (DESIGN.md, "CLI"):

- without rules (or with rules that declare no check, only roles such as ``label``), the
  default checks decide: missing values, exact duplicates, class balance, and with a split
  column split ratios, group overlap, duplicates across splits, classes in every split and
  drift;
- with rules that declare checks, the file is the whole contract: exactly the checks it
  declares decide; the defaults it does not declare still run and are shown as warnings.

``conflicting_labels``, ``label_issues``, ``outliers``, ``bias``, ``min_rows`` and
``domain_classifier_auc`` run only when the rules ask for them, ``split_lock`` when a lock is
given. Checks see only usable rows (``status`` ok); corrupt files are reported as a warning.
Exit 0 when no error-severity check fails, 1 otherwise.

One function validates a DataFrame and a table read in partitions alike: every check is a
reduction over :class:`curate.io.frames.Frame`, so the results and the JSON are the same on
any table that fits in memory. A check that reads the whole table at once (``whole_table``)
and that the rules ask for is one error line on a partitioned table, never a silent skip.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from curate.checks.base import CheckContext, CheckResult, ValidationResult, WholeTableError, registered_checks
from curate.errors import CuraugError
from curate.io.frames import InMemory, frame_of
from curate.io.manifest import ok_rows

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from curate.io.frames import Frame
    from curate.rules.schema import Rules


def validate(data: "pd.DataFrame | dd.DataFrame | Frame", rules: "Rules | None" = None, *,
             label: str | None = None, group: str | None = None, split_col: str | None = None,
             label_sep: str | None = None, lock: "dict | None" = None,
             source: str | None = None, executor: str = "curaug") -> ValidationResult:
    """Run the column rules and every dataset-level check that applies.

    Parameters
    ----------
    data : DataFrame, partitioned table or Frame
        A manifest or any table (at least one row): a DataFrame in memory, or a table read
        in partitions (:func:`curate.partitioned.table.open_frame`, or ``open_table``'s
        dask DataFrame), checked partition by partition with the same results.
    rules : Rules, optional
        Parsed rules file: the checks it declares decide the result (see the module
        docstring); without it the default checks do.
    label, group, split_col : str, optional
        Column roles; each overrides the rules file's own.
    label_sep : str, optional
        Separator of multilabel cells (``"cat;dog"``); overrides the rules' ``label_sep``.
    lock : dict, optional
        A split lock (:func:`curate.split.lock.read_lock`): fails ``split_lock`` when a
        locked row changed split, fold or label, or the roles differ from the lock's.
    source : str, optional
        Where ``data`` came from, for messages and the result.
    executor : {'curaug', 'gx'}
        What runs the column rules: curaug's vectorised conditions (the default; the same
        code runs a partitioned table), or the compiled suite through Great Expectations
        itself (a table in memory). Both give the same results (a differential test holds
        them to it).

    Examples
    --------
    >>> import pandas as pd
    >>> result = validate(pd.DataFrame({"x": [1.0, None], "y": ["a", "b"]}), label="y")
    >>> [(c.name, c.success) for c in result.checks], result.success
    ([('missing_values', False), ('duplicates', True), ('class_balance', True)], False)
    >>> from curate.rules.schema import parse_rules
    >>> result = validate(pd.DataFrame({"x": [1.0, None], "y": ["a", "b"]}),
    ...                   parse_rules({"columns": {"y": {"in_set": ["a", "b"]}}}), label="y")
    >>> [(c.name, c.success, c.severity) for c in result.checks][:2], result.success
    ([('in_set', True, 'error'), ('missing_values', False, 'warn')], True)
    """
    from curate.rules.schema import Rules

    full = frame_of(data)
    partitioned = not isinstance(full, InMemory)
    if executor not in EXECUTORS:
        raise CuraugError(f"executor='{executor}': use one of {', '.join(EXECUTORS)}", param="executor")
    if executor == "gx" and partitioned:
        raise CuraugError("executor='gx' runs Great Expectations on a whole table in memory, not on a "
                          "partitioned one (the default executor gives GX's results there)", param="executor")
    if full.rows == 0:
        raise CuraugError(f"{source or 'df'}: the table has no rows, nothing to validate", param="df")
    contract = rules is not None and declares_checks(rules)
    rules = rules or Rules()
    label, group, split_col, label_sep = resolve_roles(full.columns, rules, label, group, split_col, label_sep)
    rules, skipped = without_raw_unit_rules(rules, full.meta.attrs)
    skipped += skipped_split_checks(rules, split_col)
    if label and not label_sep and _list_cells(full, label):
        label_sep = "\x1f"  # list cells: multilabel, nothing to split on
    usable = full.filter(ok_rows) if "status" in full.columns else full
    ctx = CheckContext(usable, rules, label=label, group=group, split_col=split_col, full=full,
                       label_sep=label_sep, lock=lock)
    checks = [(check, check.asked(ctx)) for check in registered_checks()]
    if partitioned:
        whole = [check.name for check, asked in checks if asked and check.whole_table]
        if whole:
            raise CuraugError(f"{source or 'the table'}: check(s) {', '.join(whole)} read the whole table at once "
                              "and do not run on a partitioned table; validate a sample that fits in memory "
                              "(one file, --engine local)")
    results = run_rules(usable, rules, executor)
    for check, asked in checks:
        if not asked and not check.default:
            continue
        if partitioned and check.whole_table:
            skipped.append({"name": check.name, "reason": "reads the whole table at once: not run on a "
                                                          "partitioned table"})
            continue
        try:
            found = check.run(ctx)
        except WholeTableError as exc:
            raise CuraugError(f"{source or 'the table'}: check {check.name}: {exc}") from None
        if contract and not asked:
            found = [_as_warning(r) for r in found]
        results.extend(found)
    return ValidationResult(results, source=source, skipped=skipped)


def whole_table_checks(data: "pd.DataFrame | dd.DataFrame | Frame", rules: "Rules | None", *,
                       label: str | None = None, group: str | None = None,
                       split_col: str | None = None) -> list[str]:
    """The checks ``rules`` ask for that read the whole table at once (``[]``: ``data``
    can be validated in partitions)."""
    from curate.rules.schema import Rules

    rules = rules or Rules()
    meta = frame_of(data).meta
    asking = CheckContext(meta, rules, label=label or rules.label, group=group or rules.group,
                          split_col=split_col, label_sep=rules.label_sep)
    return [check.name for check in registered_checks() if check.whole_table and check.asked(asking)]


def _list_cells(frame: "Frame", label: str) -> bool:
    """Whether the label's first present cell holds a list (a Parquet list column)."""
    import pandas as pd

    from curate.io.labels import is_list_column

    first = frame.reduce(lambda part: part[label].dropna().head(1), lambda pieces: pd.concat(pieces).head(1), [label])
    return is_list_column(first)


#: What can run the column rules (``--executor``).
EXECUTORS = ("curaug", "gx")


def run_rules(data: "pd.DataFrame | Frame", rules: "Rules", executor: str = "curaug") -> list[CheckResult]:
    """The column rules on ``data`` by ``executor`` (see :func:`validate`)."""
    if executor == "gx":
        from curate.rules.gx import run_column_rules

        return run_column_rules(data.df if isinstance(data, InMemory) else data, rules)
    from curate.rules.evaluate import column_rules

    return column_rules(data, rules)


def resolve_roles(columns, rules: "Rules", label: str | None, group: str | None, split_col: str | None,
                  label_sep: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """``(label, group, split_col, label_sep)``: each argument, else the rules' own; one
    error line for a role naming a column the table does not have."""
    label = label or rules.label
    group = group or rules.group
    label_sep = label_sep or rules.label_sep
    names = [str(c) for c in columns]
    if split_col is None and rules.splits is not None and rules.splits.column in names:
        split_col = rules.splits.column  # absent, the data is not split yet: see skipped_split_checks
    for param, column in (("label", label), ("group", group), ("split_col", split_col)):
        if column is not None and column not in names:
            raise CuraugError(f"{param}='{column}': no such column (columns: {', '.join(names)})", param=param)
    return label, group, split_col, label_sep


#: Column rules about a column's raw values: a normaliser that replaced the column (zscore,
#: minmax, zca) leaves nothing for them to judge. ``not_null`` and ``dtype`` still hold; so
#: does ``unique`` under a per-column monotone map (zscore, minmax), not under ZCA's mixing.
RAW_UNIT_RULES = ("between", "in_set", "not_in_set", "mean_between")


def without_raw_unit_rules(rules: "Rules", attrs: dict) -> "tuple[Rules, list[dict[str, str]]]":
    """``rules`` less the raw-unit rules of the columns ``curaug clean`` normalised (as the
    data's ``attrs`` record it, kept in its Parquet file), and those rules as skipped:
    they describe the values before normalising, where ``validate`` checks them."""
    from curate.clean.normalize import NORMALIZED_ATTR

    done = attrs.get(NORMALIZED_ATTR) if isinstance(attrs, dict) else None
    if not done or not done.get("replaced") or not rules.columns:
        return rules, []
    judged = RAW_UNIT_RULES + (("unique",) if done["method"] == "zca" else ())
    columns, skipped = dict(rules.columns), []
    for column in done["columns"]:
        own = columns.get(column)
        if own is None:
            continue
        dropped = [name for name, *_ in own.rules() if name in judged]
        if dropped:
            columns[column] = own.model_copy(update={name: None for name in dropped})
            skipped += [{"name": name, "column": column,
                         "reason": f"{column} was normalised ({done['method']}, fitted on {done['fit_on']}) "
                                   "by curaug clean: a raw-unit rule judges the data before normalising"}
                        for name in dropped]
    return rules.model_copy(update={"columns": columns}), skipped


def skipped_split_checks(rules: "Rules", split_col: str | None) -> list[dict[str, str]]:
    """The ``splits:`` section's checks when the data has no split column: a rules file
    serves the raw table and its splits alike, so they are listed as skipped, not failed."""
    if rules.splits is None or split_col is not None:
        return []
    reason = f"no split column '{rules.splits.column}': the data is not split (split checks run once it is)"
    return [{"name": "splits", "reason": reason}]


def declares_checks(rules: "Rules") -> bool:
    """True when a rules file declares at least one check (column rules, a ``dataset:`` limit,
    sensitive attributes or a ``splits:`` section), making it the whole contract."""
    return bool(rules.columns or rules.sensitive or rules.splits is not None or rules.dataset.model_fields_set)


def _as_warning(result: CheckResult) -> CheckResult:
    """A default check the rules do not declare: shown, never failing the validation."""
    note = "not declared in the rules: shown as a warning"
    return replace(result, severity="warn", details=f"{result.details} ({note})" if result.details else note)
