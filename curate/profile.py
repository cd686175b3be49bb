"""``curaug profile``: what a dataset holds, as plain JSON-ready figures.

Rows, dtypes, missing values per column, exact duplicates (by content hash for media,
by row for tables), class counts and imbalance, media metadata histograms, numeric
summaries. Everything is computed column-wise with pandas/numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.errors import CuraugError
from curate.io.rowkeys import row_keys
from curate.io.manifest import BOOKKEEPING_COLUMNS, RESERVED_COLUMNS, ok_rows

if TYPE_CHECKING:
    import pandas as pd

MAX_DUPLICATE_GROUPS = 50


def profile(df: "pd.DataFrame", label: str | None = None, source: str | None = None) -> dict[str, Any]:
    """Profile a manifest or table.

    Parameters
    ----------
    df : DataFrame
        A manifest (``id``, ``modality``...) or any table.
    label : str, optional
        Label column; defaults to ``label`` when that column exists.

    Examples
    --------
    >>> import pandas as pd
    >>> p = profile(pd.DataFrame({"x": [1.0, None, 3.0], "y": ["a", "a", "b"]}), label="y")
    >>> p["rows"], p["columns"][0]["missing"], p["label"]["imbalance_ratio"]
    (3, 1, 2.0)
    """
    if label is not None and label not in df.columns:
        raise CuraugError(f"label='{label}': no such column (columns: {', '.join(map(str, df.columns))})",
                          param="label")
    if label is None and "label" in df.columns:
        label = "label"
    usable = df[ok_rows(df)]
    result: dict[str, Any] = {"source": source, "rows": int(len(df)), "columns": _columns(df)}
    if "status" in df.columns:
        result["status"] = _status(df)
    if "modality" in df.columns:
        result["modalities"] = _counts(df["modality"])
    result["duplicates"] = exact_duplicates(df)
    if label is not None:
        result["label"] = _label_stats(usable[label], label)
    media = _media(usable)
    if media:
        result["media"] = media
    numeric = _numeric(df)
    if numeric:
        result["numeric"] = numeric
    return result


def _columns(df: "pd.DataFrame") -> list[dict[str, Any]]:
    missing = df.isna().sum()
    n = max(len(df), 1)
    return [
        {
            "name": str(c),
            "dtype": str(df[c].dtype),
            "missing": int(missing[c]),
            "missing_fraction": round(float(missing[c]) / n, 6),
            "unique": int(df[c].nunique(dropna=True)) if _hashable(df[c]) else None,
        }
        for c in df.columns
    ]


def _hashable(col: "pd.Series") -> bool:
    sample = col.dropna().head(5)
    return all(not isinstance(v, (list, dict, set)) and getattr(v, "ndim", 0) == 0 for v in sample)


def _status(df: "pd.DataFrame") -> dict[str, Any]:
    corrupt = df[df["status"] == "corrupt"]
    out: dict[str, Any] = {"ok": int(len(df) - len(corrupt)), "corrupt": int(len(corrupt))}
    if "reason" in df.columns and len(corrupt):
        out["corrupt_rows"] = [
            {"id": str(i), "reason": str(r)}
            for i, r in zip(corrupt.get("id", corrupt.index).head(100), corrupt["reason"].head(100))
        ]
    return out


def duplicate_subset(df: "pd.DataFrame") -> tuple[str, list[str]]:
    """What makes two rows the same sample: ``('sha256', ['sha256'])`` where files were
    hashed, else ``('row', <every hashable data column>)``."""
    if "sha256" in df.columns and df["sha256"].notna().any():
        return "sha256", ["sha256"]
    return "row", [c for c in df.columns if c not in BOOKKEEPING_COLUMNS and _hashable(df[c])]


def sample_keys(df: "pd.DataFrame", ignore: tuple[str | None, ...] = ()) -> tuple[str, "pd.DataFrame", "pd.Series"]:
    """``(by, rows, key)``: one key per sample such that equal keys mean the same sample.

    ``by`` is ``sha256`` (media with hashed bytes; rows without a hash are left out) or
    ``row`` (a 64-bit hash of the data columns' values, ``ignore`` left out; vectorised, so
    a million rows take well under a second). ``key`` is empty when nothing identifies a sample.
    """
    import pandas as pd

    by, columns = duplicate_subset(df.drop(columns=[c for c in ignore if c and c in df.columns]))
    if not columns:
        return by, df.iloc[:0], pd.Series([], dtype="uint64")
    if by == "sha256":
        rows = df[df["sha256"].notna()]
        return by, rows, rows["sha256"].astype(str)
    return by, df, pd.util.hash_pandas_object(df[columns], index=False)


def exact_duplicates(df: "pd.DataFrame") -> dict[str, Any]:
    """Exact duplicates: by ``sha256`` where files were hashed, else by the row's values."""
    import pandas as pd

    by, columns = duplicate_subset(df)
    if not columns:
        return {"by": "row", "rows": 0, "extra_copies": 0, "groups": []}
    keyed = df[df["sha256"].notna()] if by == "sha256" else df
    dup = keyed.duplicated(subset=columns, keep=False)
    groups_of = keyed.loc[dup, "sha256"] if by == "sha256" else row_keys(keyed.loc[dup], columns)
    names = keyed["id"] if "id" in keyed.columns else pd.Series(keyed.index, index=keyed.index)
    ids = names[dup].astype(str)
    groups = ids.groupby(groups_of.to_numpy(), sort=False).agg(list) if len(groups_of) else []
    group_list = [list(map(str, g)) for g in groups][:MAX_DUPLICATE_GROUPS]
    n_dup_rows = int(dup.sum())
    return {
        "by": by,
        "rows": n_dup_rows,
        "extra_copies": int(n_dup_rows - (len(groups) if len(groups_of) else 0)),
        "groups": group_list,
    }


def _label_stats(labels: "pd.Series", name: str) -> dict[str, Any]:
    counts = labels.dropna().astype(str).value_counts()
    total = int(counts.sum())
    ratio = float(counts.max() / counts.min()) if len(counts) else None
    return {
        "column": name,
        "n_classes": int(len(counts)),
        "counts": {str(k): int(v) for k, v in counts.items()},
        "shares": {str(k): round(int(v) / total, 6) for k, v in counts.items()} if total else {},
        "missing": int(labels.isna().sum()),
        "imbalance_ratio": round(ratio, 6) if ratio is not None else None,
    }


def _media(df: "pd.DataFrame") -> dict[str, Any]:
    if "modality" not in df.columns:
        return {}
    out: dict[str, Any] = {}
    if "size_bytes" in df.columns and df["size_bytes"].notna().any():
        out["size_bytes"] = histogram(df["size_bytes"])
    images = df[df["modality"] == "image"]
    if len(images):
        out["image"] = {
            "width": histogram(images["width"]),
            "height": histogram(images["height"]),
            "channels": _counts(images["channels"]),
            "format": _counts(images["format"]) if "format" in images else {},
        }
    audio = df[df["modality"] == "audio"]
    if len(audio):
        out["audio"] = {
            "sample_rate": _counts(audio["sample_rate"]),
            "duration_s": histogram(audio["duration_s"]),
            "channels": _counts(audio["channels"]),
            "format": _counts(audio["format"]) if "format" in audio else {},
        }
    texts = df[df["modality"] == "text"]
    if len(texts) and "text" in texts.columns:
        text = texts["text"].dropna().astype(str)
        out["text"] = {
            "chars": histogram(text.str.len()),
            "words": histogram(text.str.split().str.len()),
        }
    return out


def _numeric(df: "pd.DataFrame") -> dict[str, Any]:
    import pandas as pd

    skip = set(RESERVED_COLUMNS)
    cols = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]
    if not cols:
        return {}
    stats = df[cols].astype("float64").describe(percentiles=[0.5]).T
    return {
        str(c): {k: (None if pd.isna(v) else round(float(v), 6)) for k, v in
                 zip(["count", "mean", "std", "min", "median", "max"],
                     stats.loc[c, ["count", "mean", "std", "min", "50%", "max"]])}
        for c in cols
    }


def _counts(values: "pd.Series") -> dict[str, int]:
    return {str(k): int(v) for k, v in values.dropna().value_counts().sort_index().items()}


def histogram(values: "pd.Series", bins: int = 10) -> dict[str, Any]:
    """Counts per bin, with edges, of a numeric column (missing values left out).

    Examples
    --------
    >>> import pandas as pd
    >>> histogram(pd.Series([1, 1, 2, 3]), bins=2)
    {'edges': [1.0, 2.0, 3.0], 'counts': [2, 2], 'min': 1.0, 'max': 3.0, 'mean': 1.75}
    """
    import numpy as np

    data = values.dropna().astype("float64").to_numpy()
    if data.size == 0:
        return {"edges": [], "counts": [], "min": None, "max": None, "mean": None}
    lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        edges, counts = np.array([lo, hi]), np.array([data.size])
    else:
        counts, edges = np.histogram(data, bins=min(bins, max(1, np.unique(data).size)), range=(lo, hi))
    return {
        "edges": [round(float(e), 6) for e in edges],
        "counts": [int(c) for c in counts],
        "min": lo,
        "max": hi,
        "mean": round(float(data.mean()), 6),
    }
