"""Train/val/test splits and K folds: stratified, grouped, stable, reproducible.

Plain stratification allocates each class by largest remainder, so every split's count of
every class is within one sample of ideal. Grouped splits place whole groups (patient,
speaker...), largest first, where they most reduce the distance to the per-class targets.
Stable splits hash each row's id (or group) with the seed: appending rows never moves an
existing one, at the price of counts that are only close to the ratios (binomial noise).
Randomness comes only from ``numpy.random.default_rng(seed)``; no global RNG is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from curate.errors import CuraugError
from curate.io.manifest import SPLITS
from curate.split.assign import codes, grouped_assign, multilabel_assign, stable_assign, stratified_assign
from curate.split.assign import largest_remainder
from curate.split.report import split_report

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
    except ValueError:
        raise CuraugError(f"--ratios '{text}': expected three numbers like 0.6,0.2,0.2") from None
    if len(values) != 3 or any(v < 0 for v in values):
        raise CuraugError(f"--ratios '{text}': expected three non-negative numbers (train,val,test)")
    if abs(sum(values) - 1) > 1e-6:
        raise CuraugError(f"--ratios '{text}': the ratios sum to {sum(values):g}, not 1")
    return values  # type: ignore[return-value]


@dataclass
class SplitResult:
    split: np.ndarray
    fold: np.ndarray | None
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def split_frame(df: "pd.DataFrame", label: str, *, ratios=(0.6, 0.2, 0.2), folds: int = 0,
                group: str | None = None, seed: int = 0, stable: bool = False,
                multilabel_sep: str | None = None, strict: bool = False, time: str | None = None,
                gap: str | float | None = None) -> SplitResult:
    """Assign ``split`` (and ``fold``) to every row of ``df``.

    ``label`` single-label classes are stratified by largest remainder; with ``group``
    whole groups are placed (vectorised, :mod:`curate.split.assign`); ``multilabel_sep`` turns on
    iterative stratification (with or without groups); ``stable`` hashes ids (or groups);
    ``time`` orders train before val before test, ``gap`` (a duration such as ``"7D"`` for
    datetimes, a number otherwise) leaves the rows just before each boundary out.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": ["a"] * 10 + ["b"] * 5})
    >>> res = split_frame(df, "y", seed=0)
    >>> pd.crosstab(df["y"], res.split).loc[:, ["train", "val", "test"]].values.tolist()
    [[6, 2, 2], [3, 1, 1]]
    """
    import pandas as pd

    for role, column in (("label", label), ("group", group), ("time", time)):
        if column is not None and column not in df.columns:
            raise CuraugError(f"{role} column '{column}' not found (columns: {', '.join(map(str, df.columns))})")
    if folds == 1 or folds < 0:
        raise CuraugError(f"--folds {folds}: use 0 (no folds) or at least 2")
    if time and (group or stable):
        raise CuraugError("--time cannot be combined with --group or --stable: a time split orders rows by time alone")
    if gap is not None and not time:
        raise CuraugError("--gap needs --time")
    ratios = parse_ratios(ratios)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    from curate.io.labels import is_list_column, label_sets

    multilabel = bool(multilabel_sep) or is_list_column(df[label])
    sets = label_sets(df[label], multilabel_sep).tolist() if multilabel else None
    y = df[label].astype("string").fillna("(missing)").to_numpy(dtype=object) if sets is None \
        else np.array(["(multilabel)"] * len(df), dtype=object)
    from curate.checks.base import row_names

    ids = row_names(df).to_numpy()
    groups = df[group].astype("string").fillna("(missing)").to_numpy(dtype=object) if group else None
    if groups is None and "source_id" in df.columns and df["source_id"].notna().any() and not time:
        # an augmented manifest: a copy must land in its source's split, or it leaks
        groups = df["source_id"].astype("string").fillna(pd.Series(ids, index=df.index)).to_numpy(dtype=object)
        group = "source_id"
        notes.append("augmented rows follow their source (grouped by source_id)")
    if time:
        return _time_split(df, time, gap, ratios, folds, y, sets, notes)
    if sets is None:
        y_eff = _small_classes_to_train(y, ratios, notes, strict, label)
    else:
        y_eff = y
        _small_labels(sets, ratios, notes, strict, label)
    if stable:
        keys = groups if group else ids
        parts = stable_assign(keys, ratios, seed)
    elif sets is not None:
        parts = multilabel_assign(sets, ratios, rng, groups)
    elif group:
        parts, oversized = grouped_assign(y_eff, groups, ratios, rng)
        if oversized:
            notes.append(f"{len(oversized)} groups are larger than their split's share: {', '.join(oversized[:5])}")
    else:
        parts = stratified_assign(y_eff, ratios, rng)
    train_only = y_eff == _TRAIN_ONLY
    if groups is not None and train_only.any():  # the whole group goes with its tiny class
        _, gi = codes(groups)
        train_only = np.isin(gi, gi[train_only])
    parts = np.where(train_only, 0, parts)
    split = np.asarray(SPLITS, dtype=object)[parts]
    fold = None
    if folds:
        fold = np.full(len(df), -1, dtype=int)
        dev = np.flatnonzero(parts != 2)
        k_ratios = [1.0 / folds] * folds
        if stable:
            fold[dev] = stable_assign((groups if group else ids)[dev], k_ratios, seed + 1)
        elif sets is not None:
            fold[dev] = multilabel_assign([sets[i] for i in dev], k_ratios, rng,
                                          groups[dev] if group else None)
        elif group:
            fold[dev], _ = grouped_assign(y[dev], groups[dev], k_ratios, rng)
        else:
            fold[dev] = stratified_assign(y[dev], k_ratios, rng)
    return SplitResult(split, fold, notes, split_report(y if sets is None else sets, split, fold, groups, ratios))


_TRAIN_ONLY = "\x00train-only"


def _small_classes_to_train(y, ratios, notes, strict, label):
    parts_used = sum(r > 0 for r in ratios)
    classes, found = codes(y)
    counts = np.bincount(found)
    small = [str(c) for c, n in zip(classes, counts) if n < parts_used]
    if not small:
        return y
    if strict:
        raise CuraugError(f"classes of '{label}' with fewer members than splits ({parts_used}): {', '.join(small)}")
    notes.append(f"classes with fewer than {parts_used} members all go to train: {', '.join(small)}")
    return np.where(np.isin(y, small), _TRAIN_ONLY, y)


def _small_labels(sets, ratios, notes, strict, label):
    from collections import Counter

    parts_used = sum(r > 0 for r in ratios)
    freq = Counter(t for s in sets for t in s)
    small = sorted(t for t, n in freq.items() if n < parts_used)
    if small and strict:
        raise CuraugError(f"labels of '{label}' on fewer rows than splits ({parts_used}): {', '.join(small)}")
    if small:
        notes.append(f"labels on fewer than {parts_used} rows cannot reach every split: {', '.join(small)}")


def _time_split(df, time, gap, ratios, folds, y, sets, notes) -> SplitResult:
    """Train before val before test by ``time``; equal timestamps never straddle a boundary."""
    import pandas as pd

    t = df[time]
    if t.isna().any():
        raise CuraugError(f"time column '{time}' has {int(t.isna().sum())} missing values")
    if not pd.api.types.is_numeric_dtype(t):
        parsed = pd.to_datetime(t, errors="coerce", utc=True, format="mixed")
        if parsed.isna().any():
            bad = t[parsed.isna()].astype(str).head(3).tolist()
            raise CuraugError(f"time column '{time}' is neither numbers nor dates (e.g. {', '.join(bad)})")
        t = parsed.dt.tz_localize(None)  # UTC, as plain datetime64 (fast comparisons)
    width = _gap(gap, t)
    order = np.argsort(t.to_numpy(), kind="stable")
    sorted_t = t.to_numpy()[order]
    n = len(t)
    counts = largest_remainder(n, ratios)
    cuts = [sorted_t[min(c, n - 1)] for c in np.cumsum(counts)[:-1]]
    values = t.to_numpy()
    parts = np.full(n, 0)
    parts[values >= cuts[0]] = 1
    parts[values >= cuts[1]] = 2
    if counts[2] == 0:
        parts[parts == 2] = 1
    if counts[1] == 0:
        parts[parts == 1] = 2 if counts[2] else 0
    split = np.asarray(SPLITS, dtype=object)[parts]
    if width is not None:
        in_gap = np.zeros(n, dtype=bool)
        for k, cut in enumerate(cuts):
            if counts[k + 1]:
                in_gap |= (parts == k) & (values >= cut - width)
        split = np.where(in_gap, None, split)
        notes.append(f"{int(in_gap.sum())} rows fall in the gap before a later split and get no split")
    fold = None
    if folds:
        fold = np.full(n, -1, dtype=int)
        dev = np.flatnonzero((split != None) & (split != "test"))  # noqa: E711 (object array)
        dev = dev[np.argsort(values[dev], kind="stable")]
        fold[dev] = np.repeat(np.arange(folds), largest_remainder(len(dev), [1.0 / folds] * folds))
        notes.append("time folds are contiguous blocks, earliest first (fold k validates on block k)")
    notes.append(f"split by time on '{time}': train until {cuts[0]}, test from {cuts[1]}")
    return SplitResult(split, fold, notes, split_report(y if sets is None else sets, split, fold, None, ratios))


def _gap(gap, t):
    import pandas as pd

    if gap is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(t):
        try:
            return pd.Timedelta(str(gap)).to_timedelta64()
        except ValueError:
            raise CuraugError(f"--gap '{gap}': expected a duration such as 7D, 12h or 30min") from None
    try:
        value = float(gap)
    except ValueError:
        raise CuraugError(f"--gap '{gap}': the time column holds numbers, so the gap is a number") from None
    if value < 0:
        raise CuraugError(f"--gap '{gap}': must not be negative")
    return value
