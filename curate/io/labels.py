"""Label columns: plain class labels, separated multilabel strings or list cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def class_counts(labels: "pd.Series", sep: str | None = None, sort: bool = True) -> "pd.Series":
    """Counts per class, largest first (ties, and every class with ``sort=False``, in order
    of first appearance); multilabel cells (split on ``sep``, or lists) count once per label."""
    if sep or is_list_column(labels):
        return label_sets(labels, sep).explode().dropna().value_counts(sort=sort)
    return labels.dropna().astype(str).value_counts(sort=sort)


def is_list_column(labels: "pd.Series") -> bool:
    """True when the cells hold lists of labels (a Parquet list column, say)."""
    import numpy as np

    first = labels.dropna().head(1)
    return not first.empty and isinstance(first.iloc[0], (list, tuple, np.ndarray))


def label_sets(labels: "pd.Series", sep: str | None) -> "pd.Series":
    """Each multilabel cell as a list of its distinct stripped, non-empty labels, sorted;
    cells that are already lists are taken as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> label_sets(pd.Series(["b; a", "", None]), ";").tolist()
    [['a', 'b'], [], []]
    >>> label_sets(pd.Series([["x", "y"], None]), None).tolist()
    [['x', 'y'], []]
    """
    import numpy as np
    import pandas as pd

    def one(cell):
        if isinstance(cell, (list, tuple, np.ndarray)):
            parts = [str(p) for p in cell]
        elif pd.isna(cell):
            parts = []
        else:
            parts = str(cell).split(sep) if sep else [str(cell)]
        return sorted({p.strip() for p in parts if p.strip()})

    return labels.map(one)
