"""Exact order statistics of numbers spread over partitions, from histograms of growing
resolution: mergeable summaries, never a whole column in one process.

A histogram over bin edges counts each partition's values per bin and keeps each bin's
smallest and largest value; histograms add up. A value of rank ``k`` lies in the bin where
the cumulative count passes ``k``, and is known once that bin holds one distinct value;
otherwise the bin is cut into finer bins (at most :data:`EDGE_BUDGET` new edges a pass), or
its values are collected once the bins in question hold at most :data:`COLLECT_VALUES`.
:func:`order_statistics` finds medians this way (:mod:`curate.checks.outliers`), and
:mod:`curate.checks.drift` PSI quantiles and the KS statistic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Hashable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from curate.io.frames import Frame

#: Most values gathered into this process at once.
COLLECT_VALUES = 1_000_000
#: Bins of a first histogram, and sub-bins a bin is refined into.
GRID = 1024
#: Most new bin edges one refinement adds to a histogram.
EDGE_BUDGET = 65_536
#: Refinements after which the bins still in question are collected whatever they hold
#: (only ties closer than floats can reach this).
MAX_ROUNDS = 40


def concat_values(pieces: list[dict]) -> dict[Hashable, "np.ndarray"]:
    """Per key, the pieces' values together, sorted."""
    import numpy as np

    keys = dict.fromkeys(k for p in pieces for k in p)
    return {k: np.sort(np.concatenate([p[k] for p in pieces if k in p])) for k in keys}


def histograms(values: dict[Hashable, "np.ndarray"], edges: dict[Hashable, "np.ndarray"]) -> dict:
    """Per key, of its sorted values: how many fall in each bin ``(edges[i-1], edges[i]]``
    of its edges (bin 0: up to ``edges[0]``, the last past ``edges[-1]``), and the smallest
    and largest value in each."""
    import numpy as np

    out = {}
    for key, v in values.items():
        e = edges[key]
        idx = np.searchsorted(e, v, side="left")
        counts = np.bincount(idx, minlength=len(e) + 1)
        starts = np.searchsorted(idx, np.arange(len(e) + 1), side="left")
        full = counts > 0
        lo, hi = np.full(len(e) + 1, np.nan), np.full(len(e) + 1, np.nan)
        lo[full], hi[full] = v[starts[full]], v[starts[full] + counts[full] - 1]
        out[key] = (counts, lo, hi)
    return out


def add_histograms(pieces: list[dict]) -> dict:
    """Per key, the pieces' histograms added up."""
    import numpy as np

    out: dict = {}
    for piece in pieces:
        for key, (counts, lo, hi) in piece.items():
            if key in out:
                c0, lo0, hi0 = out[key]
                out[key] = (c0 + counts, np.fmin(lo0, lo), np.fmax(hi0, hi))
            else:
                out[key] = (counts, lo, hi)
    return out


def in_bins(values: dict[Hashable, "np.ndarray"], wanted: dict[Hashable, tuple["np.ndarray", "np.ndarray"]]) -> dict:
    """Per key, the values that fall in the wanted bins ``(edges, bins)`` of its edges."""
    import numpy as np

    out = {}
    for key, v in values.items():
        edges, bins = wanted[key]
        out[key] = v[np.isin(np.searchsorted(edges, v, side="left"), bins)]
    return out


def first_edges(lo: float, hi: float) -> "np.ndarray":
    """The edges of a first histogram of values whose finite ones lie in ``[lo, hi]``:
    a grid of :data:`GRID` bins, infinities alone in the first and last bins (so only
    finite bins are ever cut)."""
    import numpy as np

    grid = np.linspace(lo, hi, GRID + 1) if np.isfinite(lo) and np.isfinite(hi) else np.array([])
    return np.unique(np.concatenate([[-np.inf], grid, [np.inf]]))


def refined(edges: "np.ndarray", bins: "np.ndarray") -> "np.ndarray":
    """``edges`` with each of ``bins`` cut into finer bins (:data:`EDGE_BUDGET` new edges
    at most); the float just above a bin's left edge makes progress certain however
    narrow the bin is."""
    import numpy as np

    per_bin = max(2, min(GRID, EDGE_BUDGET // len(bins)))
    cuts = [np.r_[np.linspace(edges[i - 1], edges[i], per_bin + 1), np.nextafter(edges[i - 1], edges[i])]
            for i in bins]
    return np.unique(np.concatenate([edges, *cuts]))


def order_statistics(frame: "Frame", values_of: Callable[["pd.DataFrame"], dict[Hashable, "np.ndarray"]],
                     ranks_of: Callable[[int], list[int]], columns: list[str]) -> dict[Hashable, dict[int, float]]:
    """``{key: {rank: value}}``: the value of each 0-based rank that ``ranks_of(number of
    values)`` asks for, in the sorted values of each key over the whole table, exactly.
    ``values_of(partition)`` gives a partition's values per key (no NaN), reading ``columns``.

    One pass counts each key's values and their finite range; then the values are gathered
    where they are at most :data:`COLLECT_VALUES` in all, else histogram passes narrow each
    rank down to one bin holding one distinct value, or to bins few enough in values to
    gather (see the module docstring).
    """
    import numpy as np

    def summary(part: "pd.DataFrame") -> dict:
        out = {}
        for key, v in values_of(part).items():
            finite = v[np.isfinite(v)]
            out[key] = (len(v), finite.min() if len(finite) else np.nan, finite.max() if len(finite) else np.nan)
        return out

    def add(pieces: list[dict]) -> dict:
        out: dict = {}
        for piece in pieces:
            for key, (n, lo, hi) in piece.items():
                n0, lo0, hi0 = out.get(key, (0, np.nan, np.nan))
                out[key] = (n0 + n, np.fmin(lo0, lo), np.fmax(hi0, hi))
        return out

    def wanted_values(part: "pd.DataFrame", keys) -> dict:
        return {key: np.sort(v) for key, v in values_of(part).items() if key in keys}

    counted = frame.reduce(summary, add, columns)
    ranks = {key: sorted(set(ranks_of(n))) for key, (n, _, _) in counted.items()}
    ranks = {key: ks for key, ks in ranks.items() if ks}
    answers: dict[Hashable, dict[int, float]] = {key: {} for key in ranks}
    if not ranks:
        return answers
    if sum(counted[key][0] for key in ranks) <= COLLECT_VALUES:
        values = frame.reduce_tree(lambda part: wanted_values(part, ranks), concat_values, columns)
        return {key: {k: float(values[key][k]) for k in ks} for key, ks in ranks.items()}
    edges = {key: first_edges(*counted[key][1:]) for key in ranks}
    pending = {key: list(ks) for key, ks in ranks.items()}
    rounds = 0
    while pending:
        hists = frame.reduce_tree(lambda part: histograms(wanted_values(part, pending), edges), add_histograms,
                                  columns)
        needed: dict[Hashable, set[int]] = {}
        cum = {key: np.cumsum(hists[key][0]) for key in pending}
        for key, ks in pending.items():
            _, lo, hi = hists[key]
            for k in ks:
                i = int(np.searchsorted(cum[key], k, side="right"))
                if lo[i] == hi[i]:
                    answers[key][k] = float(lo[i])
                else:
                    needed.setdefault(key, set()).add(i)
        pending = {key: [k for k in ks if k not in answers[key]] for key, ks in pending.items()}
        pending = {key: ks for key, ks in pending.items() if ks}
        if not pending:
            break
        bins = {key: np.array(sorted(needed[key])) for key in pending}
        held = sum(int(hists[key][0][bins[key]].sum()) for key in pending)
        if held <= COLLECT_VALUES or rounds >= MAX_ROUNDS:
            asking = {key: (edges[key], bins[key]) for key in pending}
            picked = frame.reduce_tree(lambda part: in_bins(wanted_values(part, asking), asking), concat_values,
                                       columns)
            for key, ks in pending.items():
                v, e = picked[key], edges[key]
                for k in ks:
                    i = int(np.searchsorted(cum[key], k, side="right"))
                    below = int(cum[key][i - 1]) if i else 0
                    answers[key][k] = float(v[np.searchsorted(v, e[i - 1], side="right") + k - below])
            break
        edges = {key: refined(edges[key], bins[key]) if key in pending else edges[key] for key in edges}
        rounds += 1
    return answers
