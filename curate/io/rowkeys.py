"""Row keys: one string per row from its values, the same on every pandas version.

Used for content-derived ids and for comparing table rows (exact duplicates).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import pandas as pd

_MISSING = "\x00"
_SEPARATOR = "\x1f"


def row_keys(df: "pd.DataFrame", columns: Sequence[str] | None = None) -> "pd.Series":
    """Join each row's cell texts; missing cells map to one marker whatever the dtype.

    Examples
    --------
    >>> import pandas as pd
    >>> keys = row_keys(pd.DataFrame({"a": [1.5, None], "b": ["x", "x"]}))
    >>> keys.tolist() == ["1.5\\x1fx", "\\x00\\x1fx"]
    True
    """
    columns = list(df.columns if columns is None else columns)
    key = None
    for column in columns:
        values = df[column]
        text = values.astype(str).where(values.notna(), _MISSING)
        key = text if key is None else key + _SEPARATOR + text
    return key.astype(object)


def row_digests(df: "pd.DataFrame", columns: Sequence[str] | None = None, length: int = 16) -> "pd.Series":
    """Hex sha256 prefix of each row key: stable across runs, machines and row order."""
    import pandas as pd

    keys = row_keys(df, columns)
    return pd.Series([hashlib.sha256(k.encode("utf-8")).hexdigest()[:length] for k in keys], index=df.index)
