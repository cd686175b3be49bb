"""Exact order statistics of numbers spread over partitions, from histograms of growing
resolution: mergeable summaries, never a whole column in one process.

A histogram over bin edges counts each partition's values per bin and keeps each bin's
smallest and largest value; histograms add up. A value of rank ``k`` lies in the bin where
the cumulative count passes ``k``, and is known once that bin holds one distinct value;
otherwise the bin is cut into finer bins (at most :data:`EDGE_BUDGET` new edges a pass), or
its values are collected once the bins in question hold at most :data:`COLLECT_VALUES`.
:mod:`curate.checks.drift` finds PSI quantiles and the KS statistic this way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Most values gathered into this process at once.
COLLECT_VALUES = 1_000_000
#: Bins of a first histogram, and sub-bins a bin is refined into.
GRID = 1024
#: Most new bin edges one refinement adds to a histogram.
EDGE_BUDGET = 65_536
#: Refinements after which the bins still in question are collected whatever they hold
#: (only ties closer than floats can reach this).
MAX_ROUNDS = 40


def concat_values(pieces: list[dict]) -> dict[tuple[str, str], "np.ndarray"]:
    import numpy as np

    keys = dict.fromkeys(k for p in pieces for k in p)
    return {k: np.sort(np.concatenate([p[k] for p in pieces if k in p])) for k in keys}


def histograms(values: dict[tuple[str, str], "np.ndarray"], edges: dict[str, "np.ndarray"]) -> dict:
    """Per (split, feature): values per bin ``(edges[i-1], edges[i]]`` (bin 0: up to
    ``edges[0]``, the last past ``edges[-1]``), and the smallest and largest value in each."""
    import numpy as np

    out = {}
    for (s, f), v in values.items():
        e = edges[f]
        idx = np.searchsorted(e, v, side="left")
        counts = np.bincount(idx, minlength=len(e) + 1)
        starts = np.searchsorted(idx, np.arange(len(e) + 1), side="left")
        full = counts > 0
        lo, hi = np.full(len(e) + 1, np.nan), np.full(len(e) + 1, np.nan)
        lo[full], hi[full] = v[starts[full]], v[starts[full] + counts[full] - 1]
        out[(s, f)] = (counts, lo, hi)
    return out


def add_histograms(pieces: list[dict]) -> dict:
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


def in_bins(values: dict[tuple[str, str], "np.ndarray"], wanted: dict[str, tuple["np.ndarray", "np.ndarray"]]) -> dict:
    """The values that fall in the wanted bins of their feature's edges."""
    import numpy as np

    out = {}
    for (s, f), v in values.items():
        edges, bins = wanted[f]
        out[(s, f)] = v[np.isin(np.searchsorted(edges, v, side="left"), bins)]
    return out
