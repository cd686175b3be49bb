"""Feature matrices for the model-based checks (label issues, outliers, domain classifier).

Numeric columns stay as floats (missing as NaN), low-cardinality text columns become
ordinal codes flagged as categorical, and embedding columns (cells holding equal-length
lists or arrays of numbers) are expanded into one column per dimension. Free text, ids and
bookkeeping columns are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from curate.errors import CuraugError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from curate.io.frames import Frame

#: Media metadata that describe the sample and so take part in drift and shift checks
#: (not the file size: it says more about the encoder than about the sample).
MEDIA_METADATA = ("width", "height", "channels", "sample_rate", "duration_s")


def original_rows(frame: "Frame") -> "Frame":
    """Rows that are not augmented copies, where the table holds copies: distribution
    checks compare the real data."""
    if "source_id" not in frame.columns or not frame.reduce(lambda part: bool(part["source_id"].notna().any()), any,
                                                            ["source_id"]):
        return frame
    return frame.filter(lambda part: part["source_id"].isna().to_numpy())


@dataclass
class Features:
    X: "np.ndarray"
    names: list[str]
    categorical: "np.ndarray"  # bool per column


def is_embedding(col: "pd.Series") -> bool:
    """True when the first non-missing cell is a list/array of numbers."""
    import numpy as np

    first = col.dropna().head(1)
    if first.empty:
        return False
    cell = first.iloc[0]
    if isinstance(cell, (list, tuple, np.ndarray)) and len(cell) > 0:
        return all(isinstance(v, (int, float, np.integer, np.floating)) for v in list(cell)[:8])
    return False


def embedding_matrix(col: "pd.Series") -> "np.ndarray":
    """Stack an embedding column into an (n, d) float array; missing rows become NaN."""
    import numpy as np

    present = col.dropna()
    d = one_length(col.name, {len(v) for v in present})
    out = np.full((len(col), d), np.nan)
    mask = col.notna().to_numpy()
    out[mask] = np.asarray(np.stack([np.asarray(v, dtype=float) for v in present]))
    return out


def one_length(column: str, lengths: set[int]) -> int:
    """The one length of an embedding column's vectors; an error naming the lengths found."""
    if len(lengths) != 1:
        raise CuraugError(f"embedding column '{column}' has vectors of different lengths: {sorted(lengths)[:5]}")
    return next(iter(lengths))


def is_categorical(col: "pd.Series", max_levels: int = 50) -> bool:
    """Few distinct values relative to the rows: a category, not free text or an id."""
    n = col.nunique(dropna=True)
    return 1 < n <= min(max_levels, max(2, col.notna().sum() // 5))


def feature_matrix(df: "pd.DataFrame", columns: Sequence[str]) -> Features:
    """Encode ``columns`` of ``df`` for scikit-learn (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> f = feature_matrix(pd.DataFrame({"x": [1.0, 2.0], "e": [[0.1, 0.2], [0.3, 0.4]]}), ["x", "e"])
    >>> f.names, f.X.shape
    (['x', 'e[0]', 'e[1]'], (2, 3))
    """
    import numpy as np
    import pandas as pd

    blocks, names, categorical = [], [], []
    for c in columns:
        col = df[c]
        if pd.api.types.is_bool_dtype(col) or (pd.api.types.is_numeric_dtype(col)):
            blocks.append(col.to_numpy(dtype=float, na_value=np.nan).reshape(-1, 1))
            names.append(str(c))
            categorical.append(False)
        elif is_embedding(col):
            m = embedding_matrix(col)
            blocks.append(m)
            names += [f"{c}[{i}]" for i in range(m.shape[1])]
            categorical += [False] * m.shape[1]
        elif is_categorical(col):
            codes, _ = pd.factorize(col.astype("string"), sort=True)
            blocks.append(np.where(codes < 0, np.nan, codes).astype(float).reshape(-1, 1))
            names.append(str(c))
            categorical.append(True)
    X = np.hstack(blocks) if blocks else np.empty((len(df), 0))
    return Features(X, names, np.asarray(categorical, dtype=bool))


def model_columns(df: "pd.DataFrame", exclude: Sequence[str | None] = ()) -> list[str]:
    """Columns a model may learn from: data columns and media metadata, minus ``exclude``."""
    from curate.io.manifest import RESERVED_COLUMNS

    skip = {c for c in exclude if c}
    return [c for c in df.columns
            if c not in skip and (c not in RESERVED_COLUMNS or c in MEDIA_METADATA)]


def gradient_boosting(seed: int, categorical: "np.ndarray", max_iter: int = 100):
    """A small, fast histogram gradient-boosting classifier (handles NaN and categories)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False,
        categorical_features=categorical if categorical.any() else None, random_state=seed)
