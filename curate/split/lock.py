"""Split locks: record an assignment so CI can prove that existing rows never move.

``curaug split --lock split.lock`` writes the settings, the label column, each locked row's
split, fold and label, and hashes of both (``assignment_sha256``, ``inputs_sha256``) that
catch a hand-edited lock. ``curaug validate --lock split.lock`` compares the data with it
(:mod:`curate.checks.split_lock`): a locked row now in another split or fold, or with another
label, fails the ``split_lock`` check, as does validating with other label or group columns
than the lock was made with; new rows are allowed (and counted), rows gone from the data are
counted. Rows are identified by ``id``, or for tables without one by a hash of their values
(the split, fold and label columns left out, so that a relabelled row is still itself).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

LOCK_FORMAT = "curaug-split-lock/1"


def row_identity(df: "pd.DataFrame", label: str | None = None) -> "pd.Series":
    """The id column when it is present and unique, else a content digest of each row
    (repeats of one row told apart by ``-1``, ``-2``... in order)."""
    from curate.io.rowkeys import row_digests

    if "id" in df.columns and df["id"].notna().all() and df["id"].is_unique:
        return df["id"].astype(str)
    data = df.drop(columns=[c for c in ("split", "fold", label) if c and c in df.columns])
    digests = row_digests(data)
    repeat = digests.groupby(digests).cumcount()
    return digests.where(repeat == 0, digests + "-" + repeat.astype(str))


def _digest(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _assignment_digest(assignment: dict[str, list[str]], folds: dict[str, list[str]]) -> str:
    lines = [f"split\t{s}\t{i}" for s in sorted(assignment) for i in sorted(assignment[s])]
    lines += [f"fold\t{k}\t{i}" for k in sorted(folds) for i in sorted(folds[k])]
    return _digest(lines)


def _inputs_digest(assignment: dict[str, list[str]], labels: dict[str, list[str]]) -> str:
    """Hash of every locked row's (id, label), whatever order the lock lists them in."""
    pairs = sorted(f"{i}\t{y}" for s in assignment for i, y in zip(assignment[s], labels.get(s, [])))
    return _digest(pairs)


def build_lock(df: "pd.DataFrame", split_col: str = "split", settings: dict[str, Any] | None = None,
               label: str | None = None) -> dict[str, Any]:
    """The lock of ``df``'s current assignment (rows without a split are left out)."""
    import pandas as pd

    label = label if label and label in df.columns else None
    locked = df[split_col].notna()
    frame = pd.DataFrame({"id": row_identity(df, label).to_numpy(), "split": df[split_col].astype(str).to_numpy()})
    frame["label"] = df[label].astype(str).to_numpy() if label else ""
    frame = frame[locked.to_numpy()].sort_values("id", kind="stable")
    by_split = frame.groupby("split", sort=True)
    assignment = {str(s): rows["id"].tolist() for s, rows in by_split}
    labels = {str(s): rows["label"].tolist() for s, rows in by_split} if label else {}
    folds: dict[str, list[str]] = {}
    if "fold" in df.columns:
        fold = pd.DataFrame({"id": row_identity(df, label).to_numpy(), "fold": pd.array(df["fold"], dtype="Int64")})
        fold = fold[(fold["fold"] >= 0).fillna(False).to_numpy()].sort_values("id", kind="stable")
        folds = {str(int(k)): rows["id"].tolist() for k, rows in fold.groupby("fold", sort=True)}
    return {
        "format": LOCK_FORMAT,
        "settings": settings or {},
        "label_column": label,
        "rows": int(locked.sum()),
        "inputs_sha256": _inputs_digest(assignment, labels),
        "assignment_sha256": _assignment_digest(assignment, folds),
        "splits": assignment,
        "labels": labels,
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
    splits, labels = lock.get("splits", {}), lock.get("labels") or {}
    if _assignment_digest(splits, lock.get("folds", {})) != lock.get("assignment_sha256"):
        raise CuraugError(f"{path}: the lock's assignment does not match its hash (edited or damaged)")
    if labels and (any(len(labels.get(s, [])) != len(ids) for s, ids in splits.items())
                   or _inputs_digest(splits, labels) != lock.get("inputs_sha256")):
        raise CuraugError(f"{path}: the lock's labels do not match their hash (edited or damaged)")
    return lock
