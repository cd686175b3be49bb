"""The manifest: one row per sample, reserved columns, safe media paths.

In memory, ``root`` holds absolute folders; on disk it is written relative to the
manifest's own folder where possible, so a repository holding both data and manifest
can be cloned anywhere.
"""

from __future__ import annotations

import functools
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import CuraugError
from curate.io.tables import read_table, write_table

if TYPE_CHECKING:
    import pandas as pd

MODALITIES = ("image", "audio", "text", "tabular")

#: The values of the ``split`` column, in their order.
SPLITS = ("train", "val", "test")
#: The ``split`` of rows a time split's gap leaves out on purpose (no stage uses them).
GAP_SPLIT = "gap"

#: Columns whose meaning curaug fixes (DESIGN.md, "The manifest").
RESERVED_COLUMNS = (
    "id", "label", "root", "path", "text", "modality", "sha256", "size_bytes", "format", "phash",
    "width", "height", "channels", "sample_rate", "duration_s", "status", "reason",
    "split", "fold", "group", "source_id", "augment", "seed",
)

#: Columns that describe bookkeeping rather than the sample itself; left out when
#: comparing tabular rows for duplicates.
BOOKKEEPING_COLUMNS = ("id", "root", "path", "status", "reason", "split", "fold", "source_id", "augment", "seed")


def is_manifest(df: "pd.DataFrame") -> bool:
    """True when ``df`` carries curaug's ``id`` and ``modality`` columns."""
    return "id" in df.columns and "modality" in df.columns


def ok_rows(df: "pd.DataFrame") -> "pd.Series":
    """Boolean mask of rows later stages may use (``status`` missing or ``ok``)."""
    import pandas as pd

    if "status" not in df.columns:
        return pd.Series(True, index=df.index)
    return df["status"].isna() | (df["status"] == "ok")


def unsafe_path_reason(path: str) -> str | None:
    """Why a manifest ``path`` may not be used, or None when it stays inside its root.

    Examples
    --------
    >>> unsafe_path_reason("cat/1.png") is None
    True
    >>> unsafe_path_reason("../../etc/passwd")
    'escapes its root'
    >>> unsafe_path_reason("/etc/passwd")
    'is absolute'
    """
    norm = path.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "is absolute"
    if not norm.strip():
        return "is empty"
    collapsed = posixpath.normpath(norm)
    if collapsed == ".." or collapsed.startswith("../"):
        return "escapes its root"
    return None


def check_paths(df: "pd.DataFrame", source: str | os.PathLike) -> None:
    """Reject rows whose ``path`` is absolute or climbs out of ``root``."""
    import numpy as np

    if "path" not in df.columns:
        return
    paths = df["path"]
    present = paths.notna()
    if "root" in df.columns:
        rootless = present & df["root"].isna()
        if rootless.any():
            i = int(rootless.to_numpy().argmax())
            raise CuraugError(f"{source}: row {i} has a path but no root")
    # only a path that is absolute, empty or holds '..' can escape: look closer at those alone
    text = paths.astype("string").str.replace("\\", "/", regex=False)
    suspect = present & (text.str.startswith("/") | text.str.contains("..", regex=False)
                         | (text.str.slice(1, 2) == ":") | (text.str.strip() == ""))
    for i in np.flatnonzero(suspect.to_numpy(dtype=bool, na_value=False)):
        value = paths.iloc[i]
        reason = unsafe_path_reason(str(value))
        if reason:
            where = f" (id '{df['id'].iloc[i]}')" if "id" in df.columns else ""
            root = f" '{df['root'].iloc[i]}'" if "root" in df.columns else ""
            raise CuraugError(f"{source}: row {i}{where}: path '{value}' {reason}{root}")


def media_file(root: str, path: str) -> Path:
    """Resolve a row's file, refusing one whose real location (after symlinks) leaves root.

    Only the components below the (cached) root are inspected, so a million-file run does
    not stat every parent folder a million times.
    """
    base = _resolved_root(str(root))
    parts = Path(path).parts
    if not Path(path).is_absolute() and ".." not in parts:
        current = base
        for part in parts:
            current = current / part
            if os.path.islink(current):
                break
        else:
            return current
    full = (base / path).resolve()
    if full != base and base not in full.parents:
        raise CuraugError(f"path '{path}' resolves outside its root '{root}'")
    return full


@functools.lru_cache(maxsize=256)
def _resolved_root(root: str) -> Path:
    return Path(root).resolve()


def load_data(path: str | os.PathLike, encoding: str | None = None) -> "pd.DataFrame":
    """Read a manifest or any table; resolve relative roots and check every media path."""
    path = Path(path)
    df = read_table(path, encoding=encoding)
    if "root" in df.columns:
        df["root"] = absolute_roots(df["root"], path.resolve().parent)
    check_paths(df, path)
    return df


def absolute_roots(roots: "pd.Series", base: str | os.PathLike) -> "pd.Series":
    """``roots`` relative to ``base`` made absolute (absolute ones stay as they are)."""
    base = Path(base).resolve()
    return _map_unique(roots, lambda r: str((base / r).resolve()))


def save_manifest(df: "pd.DataFrame", path: str | os.PathLike) -> None:
    """Write a manifest atomically, storing roots relative to its folder where possible."""
    out = df
    if "root" in df.columns:
        out = df.copy()
        out["root"] = stored_roots(df["root"], path)
    write_table(out, path)


def stored_roots(roots: "pd.Series", path: str | os.PathLike) -> "pd.Series":
    """``roots`` as a manifest written to ``path`` stores them: relative to its folder
    where possible."""
    return relative_roots(roots, Path(path).resolve().parent)


def relative_roots(roots: "pd.Series", base: str | os.PathLike) -> "pd.Series":
    """``roots`` relative to the folder ``base`` where possible (absolute across drives)."""
    return _map_unique(roots, lambda r: _relative_root(r, Path(base)))


def _map_unique(values: "pd.Series", fn) -> "pd.Series":
    """Apply ``fn`` once per distinct non-missing string (roots repeat on every row)."""
    mapping = {v: fn(str(v)) for v in values.dropna().unique()}
    return values.map(mapping)


def _relative_root(root: str, base: Path) -> str:
    try:
        return Path(os.path.relpath(root, base)).as_posix()
    except ValueError:  # another drive on Windows
        return root
