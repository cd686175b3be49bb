"""``curaug validate``: column rules on Great Expectations plus the registered dataset checks.

Exit 0 when every error-severity check passes, 1 otherwise. Checks see only usable rows
(``status`` ok); corrupt files are reported as a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.checks.base import CheckContext, ValidationResult, registered_checks
from curate.errors import CuraugError
from curate.io.manifest import ok_rows

if TYPE_CHECKING:
    import pandas as pd

    from curate.rules.schema import Rules


def _load_checks() -> None:
    """Import the modules whose checks register themselves."""
    import curate.checks.dataset  # noqa: F401
    import curate.checks.labels  # noqa: F401
    import curate.checks.outliers  # noqa: F401
    import curate.checks.split  # noqa: F401
    import curate.checks.shift  # noqa: F401
    import curate.checks.lock  # noqa: F401


def validate(df: "pd.DataFrame", rules: "Rules | None" = None, *, label: str | None = None,
             group: str | None = None, split_col: str | None = None,
             label_sep: str | None = None, lock: "dict | None" = None,
             source: str | None = None) -> ValidationResult:
    """Run the column rules and every dataset-level check that applies.

    Parameters
    ----------
    df : DataFrame
        A manifest or any table.
    rules : Rules, optional
        Parsed rules file; without it the default checks run (missing values, exact
        duplicates, class balance when a label is known, split checks with a split column).
    label, group, split_col : str, optional
        Column roles; each overrides the rules file's own.
    label_sep : str, optional
        Separator of multilabel cells (``"cat;dog"``); overrides the rules' ``label_sep``.
    lock : dict, optional
        A split lock (:func:`curate.split.lock.read_lock`): fails ``split_lock`` when a
        locked row changed split or fold.

    Examples
    --------
    >>> import pandas as pd
    >>> result = validate(pd.DataFrame({"x": [1.0, None], "y": ["a", "b"]}), label="y")
    >>> [(c.name, c.success) for c in result.checks]
    [('missing_values', False), ('duplicates', True), ('class_balance', True), ('conflicting_labels', True)]
    """
    from curate.rules.gx import run_column_rules
    from curate.rules.schema import Rules

    _load_checks()
    rules = rules or Rules()
    label = label or rules.label
    group = group or rules.group
    label_sep = label_sep or rules.label_sep
    if split_col is None and rules.splits is not None:
        split_col = rules.splits.column
    for role, column in (("label", label), ("group", group), ("split", split_col)):
        if column is not None and column not in df.columns:
            raise CuraugError(f"{role} column '{column}' not found (columns: {', '.join(map(str, df.columns))})")
    if label and not label_sep:
        from curate.io.labels import is_list_column

        if is_list_column(df[label]):
            label_sep = "\x1f"  # list cells: multilabel, nothing to split on
    usable = df[ok_rows(df)]
    ctx = CheckContext(usable, rules, label=label, group=group, split_col=split_col, full_df=df,
                       label_sep=label_sep, lock=lock)
    checks = run_column_rules(usable, rules)
    for check in registered_checks().values():
        checks.extend(check(ctx))
    return ValidationResult(checks, source=source)
