"""Assignment of items (rows or whole groups) to parts with per-column targets.

Items are described by a count matrix ``C`` (items x columns: classes, or labels for
multilabel data) and ratios per part. Two orders of placement:

- by size, largest first (:func:`assign_by_size`): whole groups. The largest go in batches,
  each shared out at once (numpy, no per-item Python loop) by how far each part is below
  its targets; the :data:`EXACT` smallest then go one by one where they most reduce the
  squared relative shortfall of every column and of the rows, so they correct what the
  batches left;
- by label, rarest first (:func:`assign_by_label`): iterative stratification of multilabel
  rows (Sechidis, Tsoumakas and Vlahavas 2011): the rows holding the rarest still-unplaced
  label go to the parts that want that label most, one by one up to :data:`SEQUENTIAL`
  rows (in batches, as groups, above).

Both then repair and polish (:func:`_fill_empty`, :func:`_refine`, :func:`_even_sizes`),
which gives their guarantees: with at least as many items as parts of a ratio above 0,
every such part gets an item; part sizes minus their targets differ by at most the
largest item (rows: every part within one row of its share); and a local search of moves
and swaps lowers the same squared shortfalls (multilabel: the label distribution measure
of Sechidis et al.).
Columns are first put in an order that no class or label name decides
(:func:`column_order`), so that renaming classes never changes a placement.

On top of them, the row-level assignments the split strategies use: :func:`stratified_assign`
(classes dealt out like cards, :func:`part_counts`), :func:`grouped_assign`,
:func:`multilabel_assign` and :func:`stable_assign` (a hash of seed and key alone).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

#: Batches per pass: enough for the small late items to even out what the big early ones left.
BATCHES = 256
#: Smallest items placed one by one at the end of :func:`assign_by_size`; also the items the
#: local search and the size repair choose from.
EXACT = 10_000
#: Multilabel rows placed one at a time (about 20 us each); a larger set goes in batches.
SEQUENTIAL = 20_000
#: Distinct items per part that the local search weighs for a move or swap, and its passes.
CANDIDATES = 64
SWEEPS = 8


def column_order(C: np.ndarray) -> np.ndarray:
    """Columns by total, largest first; equal totals by their content (a fixed hash of how
    much each item holds): an order that depends on no class or label name.

    Examples
    --------
    >>> C = np.array([[1, 0, 2], [1, 3, 0]])
    >>> int(column_order(C)[0])  # the largest column first
    1
    >>> renamed = C[:, [2, 0, 1]]  # the same columns under other names
    >>> (C[:, column_order(C)] == renamed[:, column_order(renamed)]).all()
    np.True_
    """
    C = np.rint(np.asarray(C, dtype=float)).astype(np.int64).astype(np.uint64)
    weights = _splitmix(np.arange(C.shape[0], dtype=np.uint64))
    with np.errstate(over="ignore"):
        content = (weights[None, :] @ C)[0]  # integer arithmetic: exact, whatever the column's place
    return np.lexsort((content, -C.sum(axis=0).astype(np.int64)))


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


class _Placement:
    """Items in parts and what the parts hold: ``E`` is filled minus target per part and
    column (the last column counts rows), ``W`` the weight of each squared shortfall."""

    def __init__(self, X: np.ndarray, target: np.ndarray, weight: np.ndarray, allowed: np.ndarray,
                 order: np.ndarray):
        self.X, self.W, self.allowed = X, weight, allowed
        self.E = -target.astype(float)
        self.parts = np.full(len(X), -1)
        self.rank = np.empty(len(X), dtype=np.int64)
        self.rank[order] = np.arange(len(X))  # the seeded random order: ties and candidates follow it
        self.bar = np.where(allowed, 0.0, np.inf)

    def put(self, items: np.ndarray, parts: np.ndarray) -> None:
        self.parts[items] = parts
        X, P = self.X[items], len(self.E)
        self.E += np.stack([np.bincount(parts, weights=X[:, k], minlength=P) for k in range(X.shape[1])], axis=1)

    def move(self, item: int, dest: int) -> None:
        self.E[self.parts[item]] -= self.X[item]
        self.E[dest] += self.X[item]
        self.parts[item] = dest

    def move_cost(self, items: np.ndarray, dest: int) -> np.ndarray:
        """Change of the objective if each of ``items`` moved to ``dest``."""
        x, src = self.X[items], self.parts[items]
        return (((x - 2 * self.E[src]) * x * self.W[src]) + ((x + 2 * self.E[dest]) * x * self.W[dest])).sum(axis=1)

    def one_by_one(self, items: np.ndarray) -> None:
        """Each item, in turn, where it most lowers the objective."""
        for i in items:
            x = self.X[i]
            cost = ((2 * self.E + x) * x * self.W).sum(axis=1) + self.bar
            p = int(np.argmin(cost))
            self.parts[i] = p
            self.E[p] += x


def assign_by_size(C: np.ndarray, ratios: Sequence[float], rng: np.random.Generator,
                   sizes: np.ndarray | None = None) -> np.ndarray:
    """Part per item, items largest first (see the module docstring): columns and rows each
    near their share in every part; every part of a ratio above 0 gets an item when there
    are enough; part sizes minus targets differ by at most the largest item."""
    C = np.asarray(C, dtype=float)
    ratios = np.asarray(ratios, dtype=float)
    allowed = ratios > 0
    if allowed.sum() == 1:  # one part takes everything
        return np.full(len(C), int(np.argmax(allowed)))
    C = C[:, column_order(C)]
    sizes = C.sum(axis=1) if sizes is None else np.asarray(sizes, dtype=float)
    X = np.hstack([C, sizes[:, None]])
    target = ratios[:, None] * X.sum(axis=0)[None, :]
    weight = np.where(target > 0, 1.0 / np.maximum(target, 1e-12) ** 2, 0.0)
    order = np.lexsort((rng.random(len(sizes)), -sizes))
    state = _Placement(X, target, weight, allowed, order)
    head, tail = order[: max(len(order) - EXACT, 0)], order[max(len(order) - EXACT, 0):]
    for batch in size_batches(sizes[head]):
        idx = head[batch]
        filled = state.E + target
        got = fill_parts(sizes[idx], _preferences(C[idx], target[:, :-1], filled[:, :-1], allowed),
                         _row_share(target[:, -1], filled[:, -1], allowed))
        state.put(idx, got)
    state.one_by_one(tail)
    _fill_empty(state)
    _refine(state, tail, moves=True)
    _even_sizes(state, tail)
    return state.parts


def _fill_empty(state: _Placement) -> None:
    """Give every part of a ratio above 0 an item, when there are as many items as such
    parts: the cheapest item of a part holding two or more moves to an empty one."""
    allowed = np.flatnonzero(state.allowed)
    if len(state.parts) < len(allowed):
        return
    while True:
        held = np.bincount(state.parts, minlength=len(state.allowed))
        empty = allowed[held[allowed] == 0]
        if len(empty) == 0:
            return
        donors = np.flatnonzero(held[state.parts] >= 2)
        cost = state.move_cost(donors, int(empty[0]))
        state.move(int(donors[np.lexsort((state.rank[donors], cost))[0]]), int(empty[0]))


def _even_sizes(state: _Placement, pool: np.ndarray) -> None:
    """Part sizes minus their targets within the largest item of each other: while the part
    furthest over its rows and the one furthest under are further apart, the item of the
    first whose move to the second costs least moves (one of ``pool`` when the part holds
    any). Each move lowers the sum of squared row shortfalls, so this ends; it never empties
    a part."""
    allowed = np.flatnonzero(state.allowed)
    if len(allowed) < 2 or len(state.parts) == 0:
        return
    largest = state.X[:, -1].max()
    while True:
        over = state.E[allowed, -1]
        hi, lo = int(allowed[np.argmax(over)]), int(allowed[np.argmin(over)])
        if over.max() - over.min() <= largest + 1e-9:
            return
        items = pool[state.parts[pool] == hi]
        if len(items) == 0:
            items = np.flatnonzero(state.parts == hi)
        cost = state.move_cost(items, lo)
        state.move(int(items[np.lexsort((state.rank[items], cost))[0]]), lo)


def _refine(state: _Placement, pool: np.ndarray, *, moves: bool) -> None:
    """Local search over the items of ``pool``: for each pair of parts in turn, the best swap
    of two items (and, with ``moves``, the best move of one) while it lowers the objective.
    Identical items are weighed once; each part offers its first :data:`CANDIDATES`
    distinct items in the seeded order; at most :data:`SWEEPS` passes over the pairs."""
    allowed = np.flatnonzero(state.allowed)
    if len(allowed) < 2 or len(pool) < 2:
        return
    pool = pool[np.argsort(state.rank[pool], kind="stable")]
    key = _splitmix(np.arange(state.X.shape[1], dtype=np.uint64)).astype(float) / 2.0**64
    key = state.X[pool] @ key
    X2 = state.X * state.X
    held = np.bincount(state.parts, minlength=len(state.allowed))

    def candidates(p: int) -> np.ndarray:
        at = np.flatnonzero(state.parts[pool] == p)
        _, first = np.unique(key[at], return_index=True)
        return pool[at[np.sort(first)[:CANDIDATES]]]

    for _ in range(SWEEPS):
        changed = False
        for i, p in enumerate(allowed):
            for q in allowed[i + 1:]:
                while True:
                    a, b = candidates(p), candidates(q)
                    if len(a) == 0 or len(b) == 0:
                        break
                    W, E = state.W, state.E
                    lin = 2 * (W[p] * E[p] - W[q] * E[q])
                    quad = W[p] + W[q]
                    own_a = state.X[a] @ lin
                    sq_a, sq_b = X2[a] @ quad, X2[b] @ quad
                    own_b = state.X[b] @ lin
                    # swapping a for b changes p by (b - a) and q by (a - b)
                    swap = own_b[None, :] - own_a[:, None] + sq_a[:, None] + sq_b[None, :] \
                        - 2 * (state.X[a] * quad) @ state.X[b].T
                    k = int(np.argmin(swap))
                    best, op = swap.flat[k], ("swap", int(a[k // len(b)]), int(b[k % len(b)]))
                    if moves:
                        out = -own_a + sq_a  # a from p to q
                        if held[p] > 1 and out.min() < best:
                            best, op = out.min(), ("move", int(a[np.argmin(out)]), int(q))
                        into = own_b + sq_b  # b from q to p
                        if held[q] > 1 and into.min() < best:
                            best, op = into.min(), ("move", int(b[np.argmin(into)]), int(p))
                    # rounding is relative to the terms summed: a change within it is none
                    tol = 1e-9 * (np.abs(own_a).max() + np.abs(own_b).max() + sq_a.max() + sq_b.max())
                    if not best < -tol:
                        break
                    if op[0] == "swap":
                        state.move(op[1], q)
                        state.move(op[2], p)
                    else:
                        held[state.parts[op[1]]] -= 1
                        held[op[2]] += 1
                        state.move(op[1], op[2])
                    changed = True
        if not changed:
            return


def assign_by_label(Y: np.ndarray, ratios: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Iterative stratification of multilabel rows: part per row, the rows holding the rarest
    unplaced label first (:func:`_one_by_one_by_label`; above :data:`SEQUENTIAL` rows,
    :func:`_in_batches_by_label`). Then every part within one row of its share, and the
    label counts polished by swaps against each part's own size (the label distribution
    measure of Sechidis et al.).

    ``Y`` is the 0/1 indicator matrix (rows x labels).
    """
    Y = np.asarray(Y, dtype=float)
    ratios = np.asarray(ratios, dtype=float)
    if (ratios > 0).sum() == 1:  # one part takes everything
        return np.full(len(Y), int(np.argmax(ratios > 0)))
    Y = Y[:, column_order(Y)]
    n = len(Y)
    order = rng.permutation(n)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    place = _one_by_one_by_label if n <= SEQUENTIAL else _in_batches_by_label
    parts = place(Y, ratios, rank, rng)
    # labels against each part's own rows, as the label distribution measure reads them
    share = Y.mean(axis=0) if n else np.zeros(Y.shape[1])
    weight = np.where(share < 1, 1.0 / np.maximum(1.0 - share, 1e-9) ** 2, 0.0)
    X = np.hstack([Y, np.ones((n, 1))])
    target = np.hstack([ratios[:, None] * Y.sum(axis=0)[None, :], ratios[:, None] * n])
    W = np.hstack([np.broadcast_to(weight, (len(ratios), Y.shape[1])), np.ones((len(ratios), 1))])
    state = _Placement(X, target, W, ratios > 0, order)
    state.put(np.arange(n), parts)
    _even_sizes(state, order[:EXACT])
    sizes = np.bincount(state.parts, minlength=len(ratios)).astype(float)
    state.E[:, :-1] = -np.outer(sizes, share)
    np.add.at(state.E[:, :-1], state.parts, Y)
    state.W[:, -1] = 0.0  # swaps keep sizes
    _refine(state, order[:EXACT], moves=False)
    return state.parts


def _rarest_first(Y: np.ndarray, rank: np.ndarray):
    """The rows holding each label in turn, the label with the fewest unplaced rows first
    (ties: the first in :func:`column_order`), each set in the seeded order; then the rows
    with no label. A set is taken as placed once yielded."""
    free = np.ones(len(Y), dtype=bool)
    remaining = Y.sum(axis=0)
    while (remaining > 0).any():
        label = int(np.argmin(np.where(remaining > 0, remaining, np.inf)))
        holders = np.flatnonzero(free & (Y[:, label] > 0))
        yield label, holders[np.argsort(rank[holders], kind="stable")]
        free[holders] = False
        remaining -= Y[holders].sum(axis=0)
        remaining[label] = 0
    rest = np.flatnonzero(free)
    yield None, rest[np.argsort(rank[rest], kind="stable")]


def _one_by_one_by_label(Y: np.ndarray, ratios: np.ndarray, rank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sechidis, Tsoumakas and Vlahavas (2011), row by row: each row to the part that wants
    its label most (ties: the part that wants the row's labels most, then rows, then at
    random), no part past its share of rows rounded up. Plain Python floats and lists: a
    row's work is a few parts and labels, where numpy's per-call cost would dominate."""
    want = (ratios[:, None] * Y.sum(axis=0)[None, :]).tolist()
    want_rows = (ratios * len(Y)).tolist()
    room = np.where(ratios > 0, np.ceil(ratios * len(Y) - 1e-9), 0).astype(int).tolist()
    rows_at, labels_at = np.nonzero(Y)
    held = np.split(labels_at, np.cumsum(np.bincount(rows_at, minlength=len(Y)))[:-1])
    parts = np.full(len(Y), -1)
    for label, rows in _rarest_first(Y, rank):
        level = want_rows if label is None else [w[label] for w in want]
        for i in rows.tolist():
            mine = held[i].tolist()
            top = max(level[p] for p in range(len(room)) if room[p] > 0)
            best = [p for p in range(len(room)) if room[p] > 0 and level[p] == top]
            if len(best) > 1:
                total = [sum(want[p][j] for j in mine) for p in best]
                best = [p for p, t in zip(best, total) if t == max(total)]
            if len(best) > 1:
                most = max(want_rows[p] for p in best)
                best = [p for p in best if want_rows[p] == most]
            p = best[int(rng.integers(len(best)))] if len(best) > 1 else best[0]
            parts[i] = p
            for j in mine:
                want[p][j] -= 1.0
            if label is not None:
                level[p] -= 1.0
            want_rows[p] -= 1.0
            room[p] -= 1
    return parts


def _in_batches_by_label(Y: np.ndarray, ratios: np.ndarray, rank: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """The same label by label in batches of ``rows / BATCHES`` (numpy, no per-row loop):
    each part takes a share of a batch by how much it still wants the label, choosing the
    rows whose labels and count close its relative shortfall most."""
    allowed = ratios > 0
    target = ratios[:, None] * Y.sum(axis=0)[None, :]
    target_rows = ratios * len(Y)
    filled = np.zeros_like(target)
    filled_rows = np.zeros(len(ratios))
    parts = np.full(len(Y), -1)
    chunk = max(len(ratios), int(np.ceil(len(Y) / BATCHES)))
    for label, rows in _rarest_first(Y, rank):
        for idx in np.array_split(rows, max(1, int(np.ceil(len(rows) / chunk)))) if len(rows) else []:
            rows_short = _row_share(target_rows, filled_rows, allowed)
            if label is None:
                got = fill_parts(np.ones(len(idx)), np.zeros((len(idx), len(ratios))), rows_short)
            else:
                demand = np.where(allowed, np.maximum(target[:, label] - filled[:, label], 0.0), 0.0)
                share = demand / demand.sum() if demand.sum() > 0 else rows_short
                pref = _preferences(Y[idx], target, filled, allowed) + \
                    ((target_rows - filled_rows) / np.maximum(target_rows, 1e-9))[None, :]
                got = fill_parts(np.ones(len(idx)), pref, share)
            parts[idx] = got
            np.add.at(filled, got, Y[idx])
            filled_rows += np.bincount(got, minlength=len(ratios))
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


def class_rank(counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The order classes are dealt in: by rows, largest first; equal counts by the position of
    their first row. No class name decides it, so renaming classes moves no row.

    Examples
    --------
    >>> class_rank(np.array([3, 5, 3]), np.array([4, 9, 0])).tolist()
    [1, 2, 0]
    """
    return np.lexsort((np.asarray(first), -np.asarray(counts)))


def part_counts(sizes: Sequence[int], ratios: Sequence[float]) -> np.ndarray:
    """Rows per class (in the order given) and part, the classes dealt out like cards: each
    gets ``floor(n * ratio)`` rows in every part and its remaining rows go to the parts
    furthest below their share of all rows dealt so far (ties: the lower part). So every
    class is within one row of ideal in every part and, with equal ratios, the parts' totals
    differ by at most one row: scikit-learn's ``StratifiedKFold`` deals the same way. A class
    with a row for every part of a ratio above 0 reaches each (taking a row from the part
    furthest above its ideal, which can leave that class two rows off there).

    Examples
    --------
    >>> part_counts([5, 5, 2], [1 / 3] * 3).tolist()  # rows 0-4, 5-9, 10-11 dealt to folds 0, 1, 2, 0...
    [[2, 2, 1], [2, 1, 2], [0, 1, 1]]
    >>> part_counts([3], [0.6, 0.2, 0.2]).tolist()
    [[1, 1, 1]]
    """
    ratios = np.asarray(ratios, dtype=float)
    active = ratios > 0
    out = np.zeros((len(sizes), len(ratios)), dtype=int)
    dealt = np.zeros(len(ratios))
    seen = 0
    for k, n in enumerate(sizes):
        ideal = n * ratios
        counts = np.floor(ideal + 1e-9).astype(int)
        short = dealt + counts - ratios * (seen + n)
        counts[np.argsort(short, kind="stable")[: n - counts.sum()]] += 1
        if n >= active.sum():
            for part in np.flatnonzero(active & (counts == 0)):
                donor = int(np.argmax(np.where(counts > 1, counts - ideal, -np.inf)))
                counts[donor] -= 1
                counts[part] += 1
        out[k] = counts
        dealt += counts
        seen += n
    return out


def stratified_assign(y: np.ndarray, ratios: Sequence[float], keys: np.ndarray,
                      first: np.ndarray | None = None) -> np.ndarray:
    """Part index per row: classes dealt by :func:`part_counts` in :func:`class_rank` order
    (``first``: a position per row, a class's smallest ranks it among equal counts; default
    the rows' own), and the rows of each class, ordered by ``keys`` (ties by position), cut
    at those counts. With :func:`row_keys` of the rows' positions the result depends on no
    partitioning: a row's rank in its class is all that decides, which a partitioned table
    finds from class counts and a few keys per cut (:mod:`curate.split.partitioned`)."""
    out = np.empty(len(y), dtype=int)
    classes, inverse = np.unique(y, return_inverse=True)
    first = np.arange(len(y)) if first is None else np.asarray(first)
    sizes = np.bincount(inverse, minlength=len(classes))
    earliest = np.full(len(classes), np.iinfo(np.int64).max)
    np.minimum.at(earliest, inverse, first)
    ranked = class_rank(sizes, earliest)
    counts = part_counts(sizes[ranked], ratios)
    # rows of each class by key, classes one after another
    by_class = np.lexsort((np.arange(len(y)), np.asarray(keys), inverse))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for c, row in zip(ranked, counts):
        out[by_class[starts[c]:starts[c + 1]]] = np.repeat(np.arange(len(ratios)), row)
    return out


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
    """Part per group from its class counts (groups x classes: groups sorted by name, classes
    in any order, :func:`column_order` orders them), and the groups larger than their part's
    share: all a grouped split needs, however the rows are stored."""
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
        return assign_by_label(Y, ratios, rng)
    _, gi = codes(groups)
    sizes = np.bincount(gi).astype(float)
    Y = np.zeros((len(sizes), len(labels)))
    np.add.at(Y, (gi[rows], cols), 1.0)
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
