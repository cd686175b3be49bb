"""Split locks: record an assignment so CI can prove that existing rows never move.

``curaug split --lock split.lock`` writes the settings, a hash of the inputs and the
assignment itself (ids per split and per fold). ``curaug validate --lock split.lock``
compares the data's split column with it: a row of the lock that now sits in another
split (or fold) fails the ``split_lock`` check; new rows are allowed (and counted), rows
gone from the data are counted. Rows are identified by ``id``, or for tables without one
by a hash of their values (the split and fold columns left out).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

LOCK_FORMAT = "curaug-split-lock/1"


def row_identity(df: "pd.DataFrame") -> "pd.Series":
    """The id column when it is present and unique, else a content digest of each row."""
    from curate.io.rowkeys import row_digests

    if "id" in df.columns and df["id"].notna().all() and df["id"].is_unique:
        return df["id"].astype(str)
    data = df.drop(columns=[c for c in ("split", "fold") if c in df.columns])
    return row_digests(data)


def _digest(lines) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _assignment_digest(assignment: dict[str, list[str]], folds: dict[str, list[str]]) -> str:
    lines = [f"split\t{s}\t{i}" for s in sorted(assignment) for i in sorted(assignment[s])]
    lines += [f"fold\t{k}\t{i}" for k in sorted(folds) for i in sorted(folds[k])]
    return _digest(lines)


def build_lock(df: "pd.DataFrame", split_col: str = "split", settings: dict[str, Any] | None = None,
               label: str | None = None) -> dict[str, Any]:
    """The lock of ``df``'s current assignment (rows without a split are left out)."""
    ids = row_identity(df)
    split = df[split_col]
    assignment = {str(s): sorted(ids[split == s].tolist()) for s in split.dropna().unique()}
    folds = {}
    if "fold" in df.columns:
        fold = df["fold"]
        folds = {str(int(k)): sorted(ids[fold == k].tolist()) for k in fold.dropna().unique() if int(k) >= 0}
    inputs = [f"{i}\t{y}" for i, y in zip(ids, df[label].astype(str) if label and label in df.columns
                                          else [""] * len(df))]
    return {
        "format": LOCK_FORMAT,
        "settings": settings or {},
        "rows": int(split.notna().sum()),
        "inputs_sha256": _digest(sorted(inputs)),
        "assignment_sha256": _assignment_digest(assignment, folds),
        "splits": assignment,
        "folds": folds,
    }


def write_lock(path: str, lock: dict[str, Any]) -> None:
    from curate.io.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(lock, indent=1, sort_keys=True) + "\n")


def read_lock(path: str) -> dict[str, Any]:
    """Load and verify a lock file; a hand-edited or truncated lock is bad input."""
    p = Path(path)
    if not p.is_file():
        raise CuraugError(f"{path}: no such split lock")
    try:
        lock = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CuraugError(f"{path}: not a split lock (invalid JSON: {exc})") from None
    if not isinstance(lock, dict) or lock.get("format") != LOCK_FORMAT:
        raise CuraugError(f"{path}: not a split lock (expected format '{LOCK_FORMAT}')")
    if _assignment_digest(lock.get("splits", {}), lock.get("folds", {})) != lock.get("assignment_sha256"):
        raise CuraugError(f"{path}: the lock's assignment does not match its hash (edited or damaged)")
    return lock
