"""Train/val/test splits and K folds: stratified, grouped, multilabel, stable or by time.

:func:`split_frame` checks its arguments, picks a strategy (:mod:`curate.split.strategies`),
places every row, then the train and val rows in folds, and says in ``notes`` what a user
should know (small classes, classes absent from a split or fold). Plain stratification
deals the classes out like cards (:func:`curate.split.assign.part_counts`), so every split's
count of every class is within one row of ideal, folds differ in size by at most one row,
and a class with a row per split reaches every split. Grouped splits place whole groups
(every fold gets one when there are enough, fold sizes within the largest group of each
other); classes are ranked by size and first row, so their names never move a row. Stable
splits hash each row's id (or group) with the seed, so appending rows
never moves an existing one, at the price of counts only close to the ratios. Randomness
comes only from ``numpy.random.default_rng(seed)``; no global RNG is touched.

A class with fewer rows (or, grouped, fewer groups) than the splits it must appear in is an
error; ``strict=False`` sends such classes to train instead, with a note. ``folds`` larger
than a class's train and val rows is an error, as in scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from curate.errors import CuraugError
from curate.io.manifest import SPLITS
from curate.io.manifest import GAP_SPLIT
from curate.split.assign import codes, label_positions
from curate.split.report import split_report
from curate.split.strategies import GAP_PART, Request, Rows, choose

if TYPE_CHECKING:
    import pandas as pd

def parse_ratios(text: str | Sequence[float]) -> tuple[float, float, float]:
    """``'0.6,0.2,0.2'`` -> (0.6, 0.2, 0.2): three non-negative numbers summing to 1.

    Examples
    --------
    >>> parse_ratios("0.8,0.2,0")
    (0.8, 0.2, 0.0)
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        raise CuraugError(f"ratios={text!r}: expected three numbers like 0.6,0.2,0.2", param="ratios") from None
    if len(values) != 3 or any(v < 0 for v in values):
        raise CuraugError(f"ratios={text!r}: expected three non-negative numbers (train,val,test)", param="ratios")
    if abs(sum(values) - 1) > 1e-6:
        raise CuraugError(f"ratios={text!r}: the ratios sum to {sum(values):g}, not 1", param="ratios")
    return values  # type: ignore[return-value]


def check_split_args(columns, label: str, *, group: str | None, time: str | None, gap, folds: int, stable: bool,
                     ratios) -> tuple[float, float, float]:
    """One error line for arguments no table could satisfy; the parsed ratios."""
    for param, column in (("label", label), ("group", group), ("time", time)):
        if column is not None and column not in columns:
            raise CuraugError(f"{param}='{column}': no such column (columns: {', '.join(map(str, columns))})",
                              param=param)
    if folds == 1 or folds < 0:
        raise CuraugError(f"folds={folds}: use 0 (no folds) or at least 2", param="folds")
    if time and (group or stable):
        raise CuraugError("time= cannot be combined with group= or stable=True: a time split orders rows by "
                          "time alone", param="time")
    if gap is not None and not time:
        raise CuraugError(f"gap={gap!r} needs time= (the time column)", param="gap")
    return parse_ratios(ratios)


def check_classes(counts: "dict[Any, int]", label: str, *, where: str = "") -> None:
    """One error line when ``label`` gives nothing to stratify on or learn: every value
    missing, or a single class (``counts``: rows per value, ``(missing)`` for none);
    ``where`` names the rows counted (``"in the train split"``), when not the whole table.

    >>> check_classes({"a": 36, MISSING: 2}, "y", where="in the train split")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: label='y' has a single class in the train split ('a', 36 rows): nothing to stratify on or learn; check the label column
    """
    present = {str(k): int(n) for k, n in counts.items() if k != MISSING and n}
    rows = f" {where}" if where else ""
    if not present:
        raise CuraugError(f"label='{label}': every value is missing{rows} ({sum(counts.values())} rows); "
                          "give the label column, or label the rows first", param="label")
    if len(present) == 1:
        (only, n), = present.items()
        raise CuraugError(f"label='{label}' has a single class{rows} ('{only}', {n} rows): nothing to stratify "
                          "on or learn; check the label column", param="label")


#: The class of a row whose label is missing.
MISSING = "(missing)"


@dataclass
class SplitResult:
    """``split``: ``train``/``val``/``test`` per row (``gap`` for rows a time split's gap left
    out); ``fold``: 0..K-1 for train and val rows, -1 for test, missing for gap rows (a
    nullable ``Int64`` array), or None without folds."""

    split: np.ndarray
    fold: "pd.api.extensions.ExtensionArray | None"
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def split_frame(df: "pd.DataFrame", label: str, *, ratios=(0.6, 0.2, 0.2), folds: int = 0,
                group: str | None = None, seed: int = 0, stable: bool = False,
                multilabel_sep: str | None = None, strict: bool = True, time: str | None = None,
                gap: str | float | None = None) -> SplitResult:
    """Assign ``split`` (and ``fold``) to every row of ``df``.

    Parameters
    ----------
    df : DataFrame
        The rows to split (at least one).
    label : str
        Class column to stratify on (multilabel with ``multilabel_sep`` or list cells).
    ratios : str or three floats
        train, val and test shares, summing to 1 (``"0.6,0.2,0.2"``).
    folds : int
        K folds over the train and val rows (0: none); test rows get fold -1.
    group : str, optional
        Leakage unit: a group never straddles two splits or two folds.
    seed : int
        The only source of randomness.
    stable : bool
        Place rows by a hash of their id (or group) and the seed: appends never move a row.
    multilabel_sep : str, optional
        Separator of multilabel cells: iterative stratification.
    strict : bool
        True (default): a class with fewer rows (grouped: groups) than the splits it must
        reach is an error. False: such classes go to train, with a note.
    time, gap : optional
        Time column: train before val before test; ``gap`` (``"7D"``, or a number) leaves
        the rows within it before each later split out, with split ``"gap"`` and no fold.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": ["a"] * 10 + ["b"] * 5})
    >>> res = split_frame(df, "y", seed=0)
    >>> pd.crosstab(df["y"], res.split).loc[:, ["train", "val", "test"]].values.tolist()
    [[6, 2, 2], [3, 1, 1]]
    >>> split_frame(pd.DataFrame({"y": ["a"] * 10 + ["b"] * 2}), "y")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: class 'b' of label='y' has 2 rows but must appear in 3 splits (train, val, test); add rows, merge or drop the class, or pass strict=False to put classes this small in train
    """
    import pandas as pd

    if len(df) == 0:
        raise CuraugError("df: the table has no rows, nothing to split", param="df")
    ratios = check_split_args(df.columns, label, group=group, time=time, gap=gap, folds=folds, stable=stable,
                              ratios=ratios)
    rows, notes = _rows(df, label, multilabel_sep, group, time)
    if rows.sets is None and sum(r > 0 for r in ratios) > 1:  # all in one split: nothing is stratified
        check_classes(pd.Series(rows.y).value_counts().to_dict(), label)
    return place_rows(df, rows, notes, label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                      strict=strict, time=time, gap=gap)


def place_rows(df: "pd.DataFrame", rows: Rows, notes: list[str], label: str, *, ratios: tuple[float, float, float],
               folds: int, group: str | None, seed: int, stable: bool, strict: bool, time: str | None,
               gap: str | float | None, names: tuple[str, str, str] = SPLITS) -> SplitResult:
    """:func:`split_frame` once its arguments are checked: the strategy, each row's part
    (named by ``names``: ``SPLITS`` unless a domain split names its parts otherwise), the
    folds of parts 0 and 1, the notes and the report."""
    import pandas as pd

    strategy = choose(rows, Request(seed=seed, stable=stable, time=df[time] if time else None, time_column=time,
                                    gap=gap))
    train_only = np.zeros(len(df), dtype=bool) if time else _small_classes(rows, ratios, label, strict, notes, names)
    parts = np.where(train_only, 0, strategy.parts(np.arange(len(df)), ratios))
    split = np.where(parts == GAP_PART, GAP_SPLIT, np.asarray(names, dtype=object)[np.maximum(parts, 0)])
    fold = None
    if folds:
        dev = np.flatnonzero((parts == 0) | (parts == 1))
        _check_folds(rows, dev, train_only, folds, label, group, classes=not time and rows.sets is None)
        fold = pd.array(np.full(len(df), -1), dtype="Int64")
        fold[parts == GAP_PART] = pd.NA
        fold[dev] = strategy.folds(dev, folds)
    notes += strategy.notes + _absent(rows, split, fold, folds, ratios, train_only, names)
    report = split_report(rows.y if rows.sets is None else rows.sets, split, fold, rows.groups, ratios, names)
    return SplitResult(split, fold, notes, report)


def _rows(df: "pd.DataFrame", label: str, multilabel_sep: str | None, group: str | None,
          time: str | None) -> tuple[Rows, list[str]]:
    """Each row's class (or label set), group and id; an augmented manifest is grouped by
    ``source_id`` so that a copy lands in its source's split."""
    import pandas as pd

    from curate.io.frames import row_names
    from curate.io.labels import is_list_column, label_sets

    notes: list[str] = []
    multilabel = bool(multilabel_sep) or is_list_column(df[label])
    sets = label_sets(df[label], multilabel_sep).tolist() if multilabel else None
    y = np.full(len(df), "(multilabel)", dtype=object) if multilabel \
        else df[label].astype("string").fillna(MISSING).to_numpy(dtype=object)
    ids = row_names(df).to_numpy(dtype=object)
    groups = df[group].astype("string").fillna("(missing)").to_numpy(dtype=object) if group else None
    if groups is None and "source_id" in df.columns and df["source_id"].notna().any() and not time:
        groups = df["source_id"].astype("string").fillna(pd.Series(ids, index=df.index)).to_numpy(dtype=object)
        notes.append("augmented rows follow their source (grouped by source_id)")
    return Rows(y, sets, groups, ids), notes


def _small_classes(rows: Rows, ratios, label: str, strict: bool, notes: list[str],
                   names: tuple[str, str, str] = SPLITS) -> np.ndarray:
    """Rows of classes too small to appear in every split with a ratio above 0: an error
    (``strict``), else those rows (and their whole groups) go to the first split (train),
    with a note."""
    needed = [s for s, r in zip(names, ratios) if r > 0]
    none = np.zeros(len(rows.y), dtype=bool)
    if len(needed) < 2:
        return none
    if rows.sets is not None:
        labels, _, cols = label_positions(rows.sets)
        counts = np.bincount(cols, minlength=len(labels))
        small = [(str(t), int(n)) for t, n in zip(labels, counts) if n < len(needed)]
        if small and strict:
            t, n = small[0]
            raise CuraugError(f"label '{t}' of label='{label}' is on {n} rows but must appear in {len(needed)} "
                              f"splits ({', '.join(needed)}){_more(small)}; add rows, merge or drop the label, "
                              "or pass strict=False to accept splits without it", param="label")
        if small:
            notes.append(f"labels on fewer than {len(needed)} rows cannot reach every split: "
                         f"{', '.join(t for t, _ in small)}")
        return none
    classes, ci = codes(rows.y)
    counts = np.bincount(ci, minlength=len(classes))
    spread = counts
    if rows.groups is not None:
        _, gi = codes(rows.groups)
        pairs = np.unique(ci.astype(np.int64) * (int(gi.max()) + 1) + gi)
        spread = np.bincount(pairs // (int(gi.max()) + 1), minlength=len(classes))
    small = small_classes(classes, counts, spread, rows.groups is not None, ratios, label, strict, notes, names)
    if not len(small):
        return none
    mask = np.isin(ci, small)
    if rows.groups is not None:  # the whole group goes with its tiny class
        mask = np.isin(gi, gi[mask])
    return mask


def small_classes(classes: np.ndarray, counts: np.ndarray, spread: np.ndarray, grouped: bool, ratios, label: str,
                  strict: bool, notes: list[str], names: tuple[str, str, str] = SPLITS) -> np.ndarray:
    """Indices of the classes (sorted ``classes``, their row ``counts`` and, grouped, the
    groups they are in: ``spread``) too small to reach every split: an error when
    ``strict``, else named in ``notes`` (they go to ``names[0]``)."""
    needed = [s for s, r in zip(names, ratios) if r > 0]
    small = np.flatnonzero(spread < len(needed)) if len(needed) >= 2 else np.array([], dtype=int)
    if not len(small):
        return small
    small = small[np.argsort(spread[small], kind="stable")]  # the smallest first
    if strict:
        c = small[0]
        what = f"is in {spread[c]} groups" if grouped and spread[c] < counts[c] else f"has {counts[c]} rows"
        listed = [(str(classes[k]), int(spread[k])) for k in small]
        raise CuraugError(f"class '{classes[c]}' of label='{label}' {what} but must appear in {len(needed)} "
                          f"splits ({', '.join(needed)}){_more(listed)}; add rows, merge or drop the class, or pass "
                          f"strict=False to put classes this small in {names[0]}", param="label")
    listed_names = ", ".join(str(classes[k]) for k in small)
    notes.append(f"classes with fewer than {len(needed)} rows (or groups) all go to {names[0]}: {listed_names}")
    return small


def _more(small: list) -> str:
    return f" (and {len(small) - 1} more: {', '.join(n for n, _ in small[1:4])})" if len(small) > 1 else ""


def _check_folds(rows: Rows, dev: np.ndarray, train_only: np.ndarray, folds: int, label: str,
                 group: str | None, *, classes: bool) -> None:
    """Every fold needs a member of every class (but those sent to train for being too small;
    with ``classes`` False, multilabel and time folds, a row) and, grouped, a group of its
    own, as in scikit-learn."""
    if not classes and len(dev) < folds:
        raise CuraugError(f"folds={folds} cannot be greater than the number of rows in train and val: {len(dev)}",
                          param="folds")
    names, ci = codes(rows.y[dev[~train_only[dev]]] if classes else np.array([], dtype=object))
    n_groups = None if rows.groups is None else len(codes(rows.groups[dev])[0])
    check_fold_counts(names, np.bincount(ci, minlength=len(names)), n_groups, folds, label, group)


def check_fold_counts(classes: np.ndarray, counts: np.ndarray, n_groups: int | None, folds: int, label: str,
                      group: str | None) -> None:
    """The fold checks of :func:`_check_folds` from the train and val rows' class counts
    (small classes sent to train left out) and their number of groups."""
    if len(counts) and counts.min() < folds:
        c = int(np.argmin(counts))
        raise CuraugError(f"folds={folds} cannot be greater than the number of members in each class: class "
                          f"'{classes[c]}' of label='{label}' has {counts[c]} rows in train and val", param="folds")
    if n_groups is not None and n_groups < folds:
        raise CuraugError(f"folds={folds} cannot be greater than the number of groups: "
                          f"{n_groups} groups{f' of group={group!r}' if group else ''} in train and val",
                          param="folds")


def _absent(rows: Rows, split: np.ndarray, fold, folds: int, ratios, train_only: np.ndarray,
            names: tuple[str, str, str] = SPLITS) -> list[str]:
    """Notes for classes (labels) with no row in a split or a fold they should reach."""
    import pandas as pd

    if rows.sets is not None:
        labels, at, cols = label_positions(rows.sets)
        frame = pd.DataFrame({"row": at, "cls": labels[cols]})
    else:
        frame = pd.DataFrame({"row": np.arange(len(rows.y)), "cls": rows.y})
    frame = frame[~train_only[frame["row"].to_numpy()]]
    at = frame["row"].to_numpy()
    k = np.full(len(at), -1) if fold is None else fold.to_numpy(dtype=int, na_value=-1)[at]
    counts = pd.DataFrame({"y": frame["cls"].to_numpy(), "split": split[at], "fold": k})
    counts = counts.groupby(["y", "split", "fold"], sort=False).size().rename("n").reset_index()
    return absent_notes(counts, folds if fold is not None else 0, ratios, names)


def absent_notes(counts: "pd.DataFrame", folds: int, ratios, names: tuple[str, str, str] = SPLITS) -> list[str]:
    """The notes of :func:`_absent` from row counts per (``y``, ``split``, ``fold``) of the
    rows not sent to train for being too small (``folds`` 0: no folds)."""
    import pandas as pd

    notes = []
    present = counts.pivot_table(index="y", columns="split", values="n", aggfunc="sum", fill_value=0)
    for name, r in zip(names, ratios):
        have = present[name] if name in present.columns else pd.Series(0, index=present.index)
        absent = have.index[have.to_numpy() == 0].astype(str).tolist()
        if r > 0 and absent:
            notes.append(f"{len(absent)} classes have no rows in {name}: {', '.join(absent[:5])}")
    dev = counts[counts["fold"] >= 0]
    if folds and len(dev):
        per_fold = dev.pivot_table(index="y", columns="fold", values="n", aggfunc="sum", fill_value=0)
        per_fold = per_fold.reindex(columns=range(folds), fill_value=0)
        short = per_fold.index[(per_fold == 0).any(axis=1)]
        if len(short):
            notes.append(f"{len(short)} classes are missing from some fold: {', '.join(map(str, short[:5]))}")
    return notes
