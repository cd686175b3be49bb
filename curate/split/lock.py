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

    from curate.io.frames import Frame

LOCK_FORMAT = "curaug-split-lock/1"


def row_identity(df: "pd.DataFrame", label: str | None = None) -> "pd.Series":
    """The id column when it is present and unique, else a content digest of each row
    (repeats of one row told apart by ``-1``, ``-2``... in order)."""
    return lock_rows(df, label, None)["id"]


def lock_rows(data: "pd.DataFrame | Frame", label: str | None, split_col: str | None) -> "pd.DataFrame":
    """What a lock records and compares, per row in table order: ``id`` (:func:`row_identity`)
    and the ``split``, ``fold`` and ``label`` cells present. Read through a frame
    (:mod:`curate.io.frames`), so a partitioned table gives the same rows as in memory;
    memory: these columns of every row, which is what the lock file itself holds."""
    import pandas as pd

    from curate.io.frames import frame_of
    from curate.io.rowkeys import row_digests

    frame = frame_of(data)
    kept = {"split": split_col, "fold": "fold" if "fold" in frame.columns else None,
            "label": label if label and label in frame.columns else None}
    kept = {name: column for name, column in kept.items() if column and column in frame.columns}

    def cells(part: "pd.DataFrame") -> "pd.DataFrame":
        out = pd.DataFrame({name: part[column] for name, column in kept.items()}, index=part.index)
        if "id" in part.columns:
            out.insert(0, "id", part["id"])
        return out

    rows = frame.reduce(cells, _concat, columns=[*({"id"} & set(frame.columns)), *dict.fromkeys(kept.values())])
    if "id" in rows.columns and rows["id"].notna().all() and rows["id"].is_unique:
        rows["id"] = rows["id"].astype(str)
        return rows
    leave_out = {c for c in ("split", "fold", label) if c}

    def digests(part: "pd.DataFrame") -> "pd.Series":
        return row_digests(part.drop(columns=[c for c in part.columns if c in leave_out]))

    digest = frame.reduce(digests, _concat)
    repeat = digest.groupby(digest).cumcount()
    rows["id"] = digest.where(repeat == 0, digest + "-" + repeat.astype(str)).to_numpy()
    return rows


def _concat(pieces: list) -> Any:
    import pandas as pd

    return pd.concat(pieces) if len(pieces) > 1 else pieces[0]


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


def build_lock(data: "pd.DataFrame | Frame", split_col: str = "split", settings: dict[str, Any] | None = None,
               label: str | None = None) -> dict[str, Any]:
    """The lock of ``data``'s current assignment (rows without a split are left out); a
    DataFrame or a partitioned table (:func:`lock_rows`)."""
    import pandas as pd

    rows = lock_rows(data, label, split_col)
    label = label if "label" in rows.columns else None
    locked = rows["split"].notna()
    frame = pd.DataFrame({"id": rows["id"].to_numpy(), "split": rows["split"].astype(str).to_numpy()})
    frame["label"] = rows["label"].astype(str).to_numpy() if label else ""
    frame = frame[locked.to_numpy()].sort_values("id", kind="stable")
    by_split = frame.groupby("split", sort=True)
    assignment = {str(s): rows["id"].tolist() for s, rows in by_split}
    labels = {str(s): rows["label"].tolist() for s, rows in by_split} if label else {}
    folds: dict[str, list[str]] = {}
    if "fold" in rows.columns:
        fold = pd.DataFrame({"id": rows["id"].to_numpy(), "fold": pd.array(rows["fold"], dtype="Int64")})
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
