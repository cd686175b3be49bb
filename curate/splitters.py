"""Train/val/test splits and K folds: stratified, grouped, stable, reproducible.

Plain stratification allocates each class by largest remainder, so every split's count of
every class is within one sample of ideal. Grouped splits place whole groups (patient,
speaker...), largest first, where they most reduce the distance to the per-class targets.
Stable splits hash each row's id (or group) with the seed: appending rows never moves an
existing one, at the price of counts that are only close to the ratios (binomial noise).
Randomness comes only from ``numpy.random.default_rng(seed)``; no global RNG is touched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "val", "test")


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


def largest_remainder(n: int, ratios: Sequence[float]) -> np.ndarray:
    """Integer counts summing to ``n``, each within one of ``n * ratio``.

    Examples
    --------
    >>> largest_remainder(7, [0.6, 0.2, 0.2]).tolist()
    [4, 2, 1]
    """
    ideal = n * np.asarray(ratios, dtype=float)
    counts = np.floor(ideal).astype(int)
    short = n - counts.sum()
    if short:
        order = np.argsort(-(ideal - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def stratified_assign(y: np.ndarray, ratios: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Part index per row: each class shuffled and cut by largest remainder."""
    out = np.empty(len(y), dtype=int)
    classes, inverse = np.unique(y, return_inverse=True)
    order = rng.permutation(len(y))
    # rows of each class in random order, classes one after another
    by_class = order[np.argsort(inverse[order], kind="stable")]
    sizes = np.bincount(inverse, minlength=len(classes))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for k, size in enumerate(sizes):
        counts = largest_remainder(int(size), _rotate(ratios, k))
        out[by_class[starts[k]:starts[k + 1]]] = np.repeat(_rotate_index(len(ratios), k), counts)
    return out


def _rotate(ratios: Sequence[float], k: int) -> list[float]:
    """Ties in the remainders go to a different part for each class, so the totals stay balanced."""
    idx = _rotate_index(len(ratios), k)
    return [ratios[i] for i in idx]


def _rotate_index(n: int, k: int) -> np.ndarray:
    return np.roll(np.arange(n), -(k % n))


def grouped_assign(y: np.ndarray, groups: np.ndarray, ratios: Sequence[float],
                   rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Whole groups to parts, largest first, each where it most reduces the per-class shortfall."""
    classes, yi = np.unique(y, return_inverse=True)
    gkeys, gi = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(gkeys), len(classes)))
    np.add.at(counts, (gi, yi), 1)
    sizes = counts.sum(axis=1)
    ratios = np.asarray(ratios, dtype=float)
    target = ratios[:, None] * counts.sum(axis=0)[None, :]
    filled = np.zeros_like(target)
    tiebreak = rng.random(len(gkeys))
    order = np.lexsort((tiebreak, -sizes))
    placed = np.empty(len(gkeys), dtype=int)
    total = sizes.sum()
    oversized = []
    allowed = ratios > 0
    for g in order:
        row = counts[g]
        # the part whose classes (weighted by this group's own mix) are furthest below target, relatively
        gain = (row[None, :] * (target - filled) / np.maximum(target, 1e-9)).sum(axis=1)
        gain = np.where(allowed, gain, -np.inf)
        best = int(np.argmax(gain))
        placed[g] = best
        filled[best] += row
        if sizes[g] > ratios[best] * total and ratios[best] < 1:
            oversized.append(str(gkeys[g]))
    return placed[gi], oversized


def stable_assign(keys: np.ndarray, ratios: Sequence[float], seed: int) -> np.ndarray:
    """Part per row from a hash of (seed, key) alone: appends never move a row."""
    u = np.array([int.from_bytes(hashlib.sha256(f"{seed}\x00{k}".encode()).digest()[:8], "big") / 2**64
                  for k in keys])
    edges = np.cumsum(ratios)[:-1]
    return np.searchsorted(edges, u, side="right")


@dataclass
class SplitResult:
    split: np.ndarray
    fold: np.ndarray | None
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def split_frame(df: "pd.DataFrame", label: str, *, ratios=(0.6, 0.2, 0.2), folds: int = 0,
                group: str | None = None, seed: int = 0, stable: bool = False,
                multilabel_sep: str | None = None, strict: bool = False) -> SplitResult:
    """Assign ``split`` (and ``fold``) to every row of ``df``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": ["a"] * 10 + ["b"] * 5})
    >>> res = split_frame(df, "y", seed=0)
    >>> pd.crosstab(df["y"], res.split).loc[:, ["train", "val", "test"]].values.tolist()
    [[6, 2, 2], [3, 1, 1]]
    """
    if label not in df.columns:
        raise CuraugError(f"label column '{label}' not found (columns: {', '.join(map(str, df.columns))})")
    if group is not None and group not in df.columns:
        raise CuraugError(f"group column '{group}' not found (columns: {', '.join(map(str, df.columns))})")
    if folds == 1 or folds < 0:
        raise CuraugError(f"--folds {folds}: use 0 (no folds) or at least 2")
    ratios = parse_ratios(ratios)
    y = df[label].astype("string").fillna("(missing)").to_numpy(dtype=object)
    if multilabel_sep:
        y = _rarest_label(y, multilabel_sep)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    y_eff = _small_classes_to_train(y, ratios, notes, strict, label)
    ids = (df["id"] if "id" in df.columns else df.index.to_series()).astype(str).to_numpy()
    if stable:
        keys = df[group].astype(str).to_numpy() if group else ids
        parts = stable_assign(keys, ratios, seed)
    elif group:
        parts, oversized = grouped_assign(y_eff, df[group].astype(str).to_numpy(), ratios, rng)
        if oversized:
            notes.append(f"{len(oversized)} groups are larger than their split's share: {', '.join(oversized[:5])}")
    else:
        parts = stratified_assign(y_eff, ratios, rng)
    parts = np.where(y_eff == _TRAIN_ONLY, 0, parts)
    split = np.asarray(SPLITS, dtype=object)[parts]
    fold = None
    if folds:
        fold = np.full(len(df), -1, dtype=int)
        dev = np.flatnonzero(parts != 2)
        k_ratios = [1.0 / folds] * folds
        if stable:
            keys = (df[group].astype(str).to_numpy() if group else ids)[dev]
            fold[dev] = stable_assign(keys, k_ratios, seed + 1)
        elif group:
            fold[dev], _ = grouped_assign(y[dev], df[group].astype(str).to_numpy()[dev], k_ratios, rng)
        else:
            fold[dev] = stratified_assign(y[dev], k_ratios, rng)
    return SplitResult(split, fold, notes, _report(y, split, fold, df[group].astype(str).to_numpy() if group else None,
                                                   ratios))


_TRAIN_ONLY = "\x00train-only"


def _small_classes_to_train(y, ratios, notes, strict, label):
    parts_used = sum(r > 0 for r in ratios)
    classes, counts = np.unique(y, return_counts=True)
    small = [str(c) for c, n in zip(classes, counts) if n < parts_used]
    if not small:
        return y
    if strict:
        raise CuraugError(f"classes of '{label}' with fewer members than splits ({parts_used}): {', '.join(small)}")
    notes.append(f"classes with fewer than {parts_used} members all go to train: {', '.join(small)}")
    return np.where(np.isin(y, small), _TRAIN_ONLY, y)


def _rarest_label(y: np.ndarray, sep: str) -> np.ndarray:
    """Stratify multilabel rows by their rarest label (every label then reaches every split)."""
    from collections import Counter

    sets = [[t.strip() for t in str(v).split(sep) if t.strip()] or ["(none)"] for v in y]
    freq = Counter(t for s in sets for t in s)
    return np.array([min(s, key=lambda t: (freq[t], t)) for s in sets], dtype=object)


def _report(y, split, fold, groups, ratios) -> dict[str, Any]:
    import pandas as pd

    table = pd.crosstab(pd.Series(y, name="class"), pd.Series(split, name="split"))
    table = table.reindex(columns=[s for s in SPLITS if s in table.columns])
    share = table / table.sum(axis=0)
    overall = pd.Series(y).value_counts(normalize=True)
    deviation = float((share.sub(overall.reindex(share.index), axis=0)).abs().max().max()) if len(table.columns) else 0.0
    report: dict[str, Any] = {
        "sizes": {s: int((split == s).sum()) for s in SPLITS},
        "ratios_requested": dict(zip(SPLITS, ratios)),
        "per_class": {str(c): {s: int(table.loc[c, s]) for s in table.columns} for c in table.index},
        "max_class_proportion_deviation": round(deviation, 6),
    }
    if fold is not None:
        report["folds"] = {str(k): int((fold == k).sum()) for k in sorted(set(fold.tolist())) if k >= 0}
    if groups is not None:
        report["groups_per_split"] = {s: int(len(set(groups[split == s]))) for s in SPLITS}
    return report
