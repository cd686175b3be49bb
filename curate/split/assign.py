"""Vectorised assignment of items (rows or whole groups) to parts with per-column targets.

Items are described by a count matrix ``C`` (items x columns: classes, or labels for
multilabel data) and ratios per part. Items are taken in batches; each batch is shared
out at once (numpy, no per-item Python loop): every part gets a share of the batch
proportional to how far it is below its target, and within the batch each part takes
the items whose columns it needs most. Two batch orders:

- by size, largest first (:func:`assign_by_size`): whole groups for single-label data,
  so big groups are placed while there is room and small ones correct the residue;
- by label, rarest first (:func:`assign_by_label`): iterative stratification for
  multilabel data (Sechidis, Tsoumakas and Vlahavas 2011), which works on groups too:
  all items holding the rarest still-unplaced label are placed together, by each part's
  demand for that label.

On top of them, the row-level assignments the split strategies use: :func:`stratified_assign`
(each class cut by :func:`allocate`), :func:`grouped_assign`, :func:`multilabel_assign` and
:func:`stable_assign` (a hash of seed and key alone).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

#: Batches per pass: enough for the small late items to even out what the big early ones left.
BATCHES = 256
#: Smallest items placed one by one at the end of :func:`assign_by_size`.
TAIL = 500


def fill_parts(mass: np.ndarray, pref: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Share one batch out: part ``p`` takes about ``share[p]`` of the batch's ``mass``,
    choosing the items that prefer it most over their best alternative.

    Examples
    --------
    >>> fill_parts(np.ones(4), np.array([[1., 0], [0, 1], [1, 0], [0, 1]]), np.array([.5, .5])).tolist()
    [0, 1, 0, 1]
    """
    m = pref.shape[0]
    parts = np.full(m, -1)
    quota = share * mass.sum()
    active = np.flatnonzero(share > 0)
    if len(active) == 0:
        return np.argmax(pref, axis=1)
    if m == 1 or len(active) == 1:
        masked = np.where(share[None, :] > 0, pref, -np.inf)
        return np.argmax(masked, axis=1)
    # parts with the largest quota choose first; the last one takes what is left
    order = active[np.argsort(-quota[active], kind="stable")]
    free = np.ones(m, dtype=bool)
    for p in order[:-1]:  # two or more active parts here
        others = np.delete(pref, p, axis=1).max(axis=1)
        cand = np.flatnonzero(free)
        if len(cand) == 0:
            break
        rel = pref[cand, p] - others[cand]
        cand = cand[np.argsort(-rel, kind="stable")]
        cum = np.cumsum(mass[cand])
        take = cand[(cum - mass[cand] / 2) < quota[p]]  # midpoint rule: an item goes where most of it fits
        parts[take] = p
        free[take] = False
    parts[free] = order[-1]
    return parts


def _preferences(Cb: np.ndarray, target: np.ndarray, filled: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """How much each item would close each part's relative shortfall, per column."""
    deficit = (target - filled) / np.maximum(target, 1e-9)
    pref = Cb @ deficit.T
    return np.where(allowed[None, :], pref, -np.inf)


def _row_share(target_rows: np.ndarray, filled_rows: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    need = np.where(allowed, np.maximum(target_rows - filled_rows, 0.0), 0.0)
    if need.sum() <= 0:
        need = np.where(allowed, target_rows, 0.0)
    return need / need.sum()


def size_batches(sizes_sorted: np.ndarray, batches: int = BATCHES) -> list[np.ndarray]:
    """Cut a size-descending sequence into batches of about ``total / batches`` rows each."""
    if len(sizes_sorted) == 0:
        return []
    cum = np.cumsum(sizes_sorted)
    step = max(cum[-1] / batches, 1e-9)
    cut = np.flatnonzero(np.diff(np.floor((cum - 1e-9) / step)) > 0) + 1
    return np.split(np.arange(len(sizes_sorted)), cut)


def assign_by_size(C: np.ndarray, ratios: Sequence[float], rng: np.random.Generator,
                   sizes: np.ndarray | None = None) -> np.ndarray:
    """Part per item, items largest first in batches (see the module docstring)."""
    C = np.asarray(C, dtype=float)
    ratios = np.asarray(ratios, dtype=float)
    sizes = C.sum(axis=1) if sizes is None else np.asarray(sizes, dtype=float)
    allowed = ratios > 0
    target = ratios[:, None] * C.sum(axis=0)[None, :]
    target_rows = ratios * sizes.sum()
    filled = np.zeros_like(target)
    filled_rows = np.zeros(len(ratios))
    order = np.lexsort((rng.random(len(sizes)), -sizes))
    parts = np.empty(len(sizes), dtype=int)
    tail = min(len(order), TAIL)
    head, rest = order[: len(order) - tail], order[len(order) - tail:]
    for batch in size_batches(sizes[head]):
        idx = head[batch]
        Cb = C[idx]
        got = fill_parts(sizes[idx], _preferences(Cb, target, filled, allowed),
                         _row_share(target_rows, filled_rows, allowed))
        parts[idx] = got
        np.add.at(filled, got, Cb)
        filled_rows += np.bincount(got, weights=sizes[idx], minlength=len(ratios))
    # the smallest items, one at a time, close what the batches left (a fixed, small number)
    gap = target - filled
    scale = 1.0 / np.maximum(target, 1e-9)
    for g in rest:
        gain = (gap * scale) @ C[g]
        best = int(np.argmax(np.where(allowed, gain, -np.inf)))
        parts[g] = best
        gap[best] -= C[g]
    return parts


def assign_by_label(Y: np.ndarray, ratios: Sequence[float], rng: np.random.Generator,
                    sizes: np.ndarray | None = None) -> np.ndarray:
    """Iterative stratification: part per item, the items holding the rarest unplaced label first.

    ``Y`` counts each label's positive rows per item (binary for single rows).
    """
    Y = np.asarray(Y, dtype=float)
    ratios = np.asarray(ratios, dtype=float)
    sizes = np.maximum(Y.max(axis=1), 1.0) if sizes is None else np.asarray(sizes, dtype=float)
    allowed = ratios > 0
    target = ratios[:, None] * Y.sum(axis=0)[None, :]
    target_rows = ratios * sizes.sum()
    filled = np.zeros_like(target)
    filled_rows = np.zeros(len(ratios))
    tiebreak = rng.random(len(sizes))
    parts = np.full(len(sizes), -1)
    free = np.ones(len(sizes), dtype=bool)
    remaining = Y.sum(axis=0)
    chunk = max(len(ratios), int(np.ceil(len(sizes) / BATCHES)))
    while True:
        left = np.where(remaining > 0, remaining, np.inf)
        if not np.isfinite(left).any():
            break
        label = int(np.argmin(left))
        holders = np.flatnonzero(free & (Y[:, label] > 0))
        holders = holders[np.lexsort((tiebreak[holders], -sizes[holders]))]
        for idx in np.array_split(holders, max(1, int(np.ceil(len(holders) / chunk)))):
            demand = np.where(allowed, np.maximum(target[:, label] - filled[:, label], 0.0), 0.0)
            share = demand / demand.sum() if demand.sum() > 0 else _row_share(target_rows, filled_rows, allowed)
            # rows count too, so that parts also end near their sizes
            pref = _preferences(Y[idx], target, filled, allowed) + \
                sizes[idx, None] * ((target_rows - filled_rows) / np.maximum(target_rows, 1e-9))[None, :]
            got = fill_parts(Y[idx, label], pref, share)
            parts[idx] = got
            free[idx] = False
            np.add.at(filled, got, Y[idx])
            filled_rows += np.bincount(got, weights=sizes[idx], minlength=len(ratios))
            remaining -= Y[idx].sum(axis=0)
        remaining[label] = 0
    rest = np.flatnonzero(free)  # items with no label: by rows alone
    if len(rest):
        rest = rest[np.lexsort((tiebreak[rest], -sizes[rest]))]
        parts[rest] = fill_parts(sizes[rest], np.zeros((len(rest), len(ratios))),
                                 _row_share(target_rows, filled_rows, allowed))
    return parts


def codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(uniques, codes)``, uniques sorted: hash-based, far faster than ``np.unique`` on strings."""
    import pandas as pd

    found, uniques = pd.factorize(np.asarray(values, dtype=object), sort=True)
    return np.asarray(uniques, dtype=object), found


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


def allocate(n: int, ratios: Sequence[float]) -> np.ndarray:
    """Counts per part for one class of ``n`` rows: largest remainder, except that when ``n``
    is at least the number of parts with a ratio above 0, each of them gets a row (taken
    from the part furthest above its ideal), so a class that can appear everywhere does.

    Examples
    --------
    >>> largest_remainder(3, [0.6, 0.2, 0.2]).tolist(), allocate(3, [0.6, 0.2, 0.2]).tolist()
    ([2, 1, 0], [1, 1, 1])
    >>> allocate(2, [0.6, 0.2, 0.2]).tolist(), allocate(10, [0.6, 0.2, 0.2]).tolist()
    ([1, 1, 0], [6, 2, 2])
    """
    ratios = np.asarray(ratios, dtype=float)
    counts = largest_remainder(n, ratios)
    active = ratios > 0
    if n >= active.sum():
        ideal = n * ratios
        for part in np.flatnonzero(active & (counts == 0)):
            donor = int(np.argmax(np.where(counts > 1, counts - ideal, -np.inf)))
            counts[donor] -= 1
            counts[part] += 1
    return counts


def stratified_assign(y: np.ndarray, ratios: Sequence[float], keys: np.ndarray) -> np.ndarray:
    """Part index per row: each class ordered by ``keys`` (ties by position) and cut by
    :func:`allocate`. With :func:`row_keys` of the rows' positions the result depends on no
    partitioning: a row's rank in its class is all that decides, which a partitioned table
    finds from class counts and a few keys per cut (:mod:`curate.partitioned.split`)."""
    out = np.empty(len(y), dtype=int)
    classes, inverse = np.unique(y, return_inverse=True)
    # rows of each class by key, classes one after another
    by_class = np.lexsort((np.arange(len(y)), np.asarray(keys), inverse))
    sizes = np.bincount(inverse, minlength=len(classes))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for k, size in enumerate(sizes):
        out[by_class[starts[k]:starts[k + 1]]] = np.repeat(_rotate_index(len(ratios), k), class_counts(int(size), ratios, k))
    return out


def class_counts(n: int, ratios: Sequence[float], k: int) -> np.ndarray:
    """Rows per part, in part order, for the ``k``-th class (sorted) of ``n`` rows: ties in
    the remainders go to a different part for each class, so the totals stay balanced."""
    return allocate(n, _rotate(ratios, k))


def row_keys(seed: int, positions: np.ndarray, stream: int = 0) -> np.ndarray:
    """A uniform 64-bit key per row position for ``seed`` (splitmix64; ``stream`` 1 for
    folds): the random order of a stratified split, computable in any partition.

    Examples
    --------
    >>> row_keys(0, np.arange(3)).tolist() == row_keys(0, np.array([2, 0, 1]))[[1, 2, 0]].tolist()
    True
    """
    base = _splitmix(np.array([(int(seed) * 2 + stream) & (2**64 - 1)], dtype=np.uint64))[0]
    return _splitmix(np.asarray(positions).astype(np.uint64) ^ base)


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _rotate(ratios: Sequence[float], k: int) -> list[float]:
    idx = _rotate_index(len(ratios), k)
    return [ratios[i] for i in idx]


def _rotate_index(n: int, k: int) -> np.ndarray:
    return np.roll(np.arange(n), -(k % n))


def grouped_assign(y: np.ndarray, groups: np.ndarray, ratios: Sequence[float],
                   rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Whole groups to parts (vectorised, :func:`curate.split.assign.assign_by_size`); also the
    groups larger than their part's share."""
    classes, yi = codes(y)
    gkeys, gi = codes(groups)
    counts = np.zeros((len(gkeys), len(classes)))
    np.add.at(counts, (gi, yi), 1)
    placed, big = place_groups(counts, gkeys, ratios, rng)
    return placed[gi], big


def place_groups(counts: np.ndarray, gkeys: np.ndarray, ratios: Sequence[float],
                 rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Part per group from its class counts (groups x classes, both sorted), and the groups
    larger than their part's share: all a grouped split needs, however the rows are stored."""
    placed = assign_by_size(counts, ratios, rng)
    sizes = counts.sum(axis=1)
    share = np.asarray(ratios, dtype=float)[placed]
    big = np.flatnonzero((sizes > share * sizes.sum()) & (share < 1))
    return placed, [str(gkeys[g]) for g in big[np.argsort(-sizes[big], kind="stable")]]


def multilabel_assign(sets: list[list[str]], ratios: Sequence[float], rng: np.random.Generator,
                      groups: np.ndarray | None = None) -> np.ndarray:
    """Iterative stratification of multilabel rows; whole groups when ``groups`` is given.

    Rows go label by label, rarest first (:func:`curate.split.assign.assign_by_label`). A group
    usually holds many labels, so the rarest-label pass would place nearly all of them at
    once; groups instead go largest first against every label's shortfall and their row
    count (:func:`curate.split.assign.assign_by_size`), which measured 2-4x closer to the
    label shares on 300 groups of 10 rows.
    """
    labels, rows, cols = label_positions(sets)
    if groups is None:
        Y = np.zeros((len(sets), len(labels)))
        Y[rows, cols] = 1.0
        return assign_by_label(Y, ratios, rng, sizes=np.ones(len(sets)))
    _, gi = codes(groups)
    sizes = np.bincount(gi).astype(float)
    Y = np.zeros((len(sizes), len(labels) + 1))
    np.add.at(Y, (gi[rows], cols), 1.0)
    Y[:, -1] = sizes
    return assign_by_size(Y, ratios, rng, sizes=sizes)[gi]


def label_positions(sets: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, rows, cols)`` of a multilabel column: the sorted labels and, per (row, label)
    pair, the row index and the label's index (an indicator matrix's non-zero cells).

    Examples
    --------
    >>> labels, rows, cols = label_positions([["b", "a"], [], ["b"]])
    >>> labels.tolist(), rows.tolist(), cols.tolist()
    (['a', 'b'], [0, 0, 2], [1, 0, 1])
    """
    import pandas as pd

    flat = pd.Series(sets, dtype=object).explode().dropna()
    cols, labels = pd.factorize(flat.astype(str), sort=True)
    return np.asarray(labels, dtype=object), flat.index.to_numpy(dtype=int), cols.astype(int)


def stable_assign(keys: np.ndarray, ratios: Sequence[float], seed: int) -> np.ndarray:
    """Part per row from a hash of (seed, key) alone: appends never move a row."""
    u = np.array([int.from_bytes(hashlib.sha256(f"{seed}\x00{k}".encode()).digest()[:8], "big") / 2**64
                  for k in keys])
    edges = np.cumsum(ratios)[:-1]
    return np.searchsorted(edges, u, side="right")
