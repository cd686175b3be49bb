"""How rows are placed in train/val/test and in K folds: one small class per strategy.

Every strategy answers two questions about a set of row positions: :meth:`Strategy.parts`
(which of the parts given by ``ratios`` each row goes to) and :meth:`Strategy.folds` (which
of K folds each row goes to). :func:`choose` picks one from :data:`STRATEGIES`, the first
(in registration order) whose :meth:`Strategy.wanted` accepts the rows and the request;
:func:`curate.split.splitters.split_frame` asks the first question of every row and the
second of the train and val rows. A third-party strategy registers itself (or through the
``curaug.split_strategies`` entry points) and is asked before the fallback, ``stratified``.

- :class:`Stratified`: each class in a seeded order, classes dealt like cards (every part within
  one row of ideal per class; equal folds within one row in total; a class with a row per
  part reaches every part).
- :class:`Grouped`: whole groups (patient, speaker...), largest first, where they most
  reduce the distance to the per-class targets.
- :class:`Multilabel`: iterative stratification, rarest label first (whole groups too).
- :class:`Stable`: a hash of (seed, id or group): appending rows never moves a row.
- :class:`Time`: train before val before test, with an optional gap before each boundary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from curate.errors import CuraugError
from curate.registry import Registry
from curate.split.assign import codes, grouped_assign, largest_remainder, multilabel_assign, stable_assign
from curate.split.assign import row_keys, stratified_assign

if TYPE_CHECKING:
    import pandas as pd

#: The part index of a row left out by a time split's gap (its split is ``"gap"``).
GAP_PART = -1


@dataclass
class Rows:
    """What a strategy places: per row its class (or label set), group and id."""

    y: np.ndarray
    sets: list[list[str]] | None = None
    groups: np.ndarray | None = None
    ids: np.ndarray | None = None


@dataclass(frozen=True)
class Request:
    """What a split asks for besides its rows: the seed, hash placement, and a time column's
    values, name and gap."""

    seed: int = 0
    stable: bool = False
    time: "pd.Series | None" = None
    time_column: str | None = None
    gap: str | float | None = None


@dataclass
class Strategy(ABC):
    """A way of placing rows; ``notes`` collects what a user should know about the result."""

    rows: Rows
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    @classmethod
    def wanted(cls, rows: Rows, request: Request) -> bool:
        """Whether this strategy places ``rows`` for ``request``."""
        return False

    @classmethod
    def build(cls, rows: Rows, request: Request) -> "Strategy":
        return cls(rows, request.seed)

    @abstractmethod
    def parts(self, idx: np.ndarray, ratios: Sequence[float]) -> np.ndarray:
        """Part index per row of ``idx`` (0 train, 1 val, 2 test for the split ratios)."""

    def folds(self, idx: np.ndarray, k: int) -> np.ndarray:
        """Fold per row of ``idx``: the same placement with K equal ratios."""
        return self.parts(idx, [1.0 / k] * k)


STRATEGIES: Registry[type[Strategy]] = Registry("split strategy", entry_points="curaug.split_strategies")


def choose(rows: Rows, request: Request) -> Strategy:
    """The first registered strategy that wants ``rows``, else ``stratified``."""
    fallback = STRATEGIES.get("stratified")
    for _, strategy in STRATEGIES.items():
        if strategy is not fallback and strategy.wanted(rows, request):
            return strategy.build(rows, request)
    return fallback.build(rows, request)


class Stratified(Strategy):
    """Rows ranked in their class by :func:`row_keys` of their position (folds: a second
    stream), classes dealt largest first, equal sizes by the position of their first row in
    the whole table, so a partitioned table gets the same split."""

    def parts(self, idx, ratios):
        return stratified_assign(self.rows.y[idx], ratios, row_keys(self.seed, idx), first=idx)

    def folds(self, idx, k):
        _, ci = codes(self.rows.y)
        first = np.full(ci.max() + 1, len(ci))
        np.minimum.at(first, ci, np.arange(len(ci)))
        return stratified_assign(self.rows.y[idx], [1.0 / k] * k, row_keys(self.seed, idx, stream=1),
                                 first=first[ci[idx]])


class Grouped(Strategy):
    @classmethod
    def wanted(cls, rows, request):
        return rows.groups is not None

    def parts(self, idx, ratios):
        placed, oversized = grouped_assign(self.rows.y[idx], self.rows.groups[idx], ratios, self.rng)
        if oversized and len(ratios) == 3:
            self.notes.append(f"{len(oversized)} groups are larger than their split's share: "
                              f"{', '.join(oversized[:5])}")
        return placed

    def folds(self, idx, k):
        return grouped_assign(self.rows.y[idx], self.rows.groups[idx], [1.0 / k] * k, self.rng)[0]


class Multilabel(Strategy):
    @classmethod
    def wanted(cls, rows, request):
        return rows.sets is not None

    def parts(self, idx, ratios):
        groups = None if self.rows.groups is None else self.rows.groups[idx]
        return multilabel_assign([self.rows.sets[i] for i in idx], ratios, self.rng, groups)


class Stable(Strategy):
    """Hash placement: folds use ``seed + 1`` so that a row's fold does not follow its split."""

    @classmethod
    def wanted(cls, rows, request):
        return request.stable

    def _keys(self) -> np.ndarray:
        return self.rows.ids if self.rows.groups is None else self.rows.groups

    def parts(self, idx, ratios):
        return stable_assign(self._keys()[idx], ratios, self.seed)

    def folds(self, idx, k):
        return stable_assign(self._keys()[idx], [1.0 / k] * k, self.seed + 1)


class Time(Strategy):
    """Train before val before test by a time column; equal timestamps never straddle a
    boundary. ``gap`` (a duration such as ``"7D"`` for datetimes, a number otherwise) leaves
    out the rows within it before each later split: their part is :data:`GAP_PART`. Folds are
    contiguous blocks in time order, earliest first."""

    def __init__(self, rows: Rows, values: "pd.Series", column: str, gap: str | float | None = None):
        super().__init__(rows)
        self.column = column
        self.values = _time_values(values, column)
        self.gap = _gap_width(gap, self.values)

    @classmethod
    def wanted(cls, rows, request):
        return request.time is not None

    @classmethod
    def build(cls, rows, request):
        return cls(rows, request.time, request.time_column, request.gap)

    def parts(self, idx, ratios):
        t = self.values.to_numpy()[idx]
        n = len(t)
        counts = largest_remainder(n, ratios)
        sorted_t = np.sort(t, kind="stable")
        cuts = [sorted_t[min(c, n - 1)] for c in np.cumsum(counts)[:-1]]
        parts = np.zeros(n, dtype=int)
        parts[t >= cuts[0]] = 1
        parts[t >= cuts[1]] = 2
        if counts[2] == 0:
            parts[parts == 2] = 1
        if counts[1] == 0:
            parts[parts == 1] = 2 if counts[2] else 0
        if self.gap is not None:
            in_gap = np.zeros(n, dtype=bool)
            for k, cut in enumerate(cuts):
                if counts[k + 1]:
                    in_gap |= (parts == k) & (t >= cut - self.gap)
            parts[in_gap] = GAP_PART
            self.notes.append(f"{int(in_gap.sum())} rows fall in the gap before a later split: "
                              "their split is 'gap' and they have no fold")
        self.notes.append(f"split by time on '{self.column}': train until {cuts[0]}, test from {cuts[1]}")
        return parts

    def folds(self, idx, k):
        order = np.argsort(self.values.to_numpy()[idx], kind="stable")
        fold = np.empty(len(idx), dtype=int)
        fold[order] = np.repeat(np.arange(k), largest_remainder(len(idx), [1.0 / k] * k))
        self.notes.append("time folds are contiguous blocks, earliest first (fold k validates on block k)")
        return fold


def _time_values(t: "pd.Series", column: str) -> "pd.Series":
    """Numbers stay numbers; anything else must parse as dates (compared in UTC)."""
    import pandas as pd

    if t.isna().any():
        raise CuraugError(f"time='{column}': the column has {int(t.isna().sum())} missing values", param="time")
    if pd.api.types.is_numeric_dtype(t):
        return t
    parsed = pd.to_datetime(t, errors="coerce", utc=True, format="mixed")
    if parsed.isna().any():
        bad = t[parsed.isna()].astype(str).head(3).tolist()
        raise CuraugError(f"time='{column}': the column is neither numbers nor dates (e.g. {', '.join(bad)})",
                          param="time")
    return parsed.dt.tz_localize(None)  # UTC, as plain datetime64 (fast comparisons)


def _gap_width(gap, t: "pd.Series"):
    import pandas as pd

    if gap is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(t):
        try:
            return pd.Timedelta(str(gap)).to_timedelta64()
        except ValueError:
            raise CuraugError(f"gap={gap!r}: expected a duration such as 7D, 12h or 30min", param="gap") from None
    try:
        value = float(gap)
    except ValueError:
        raise CuraugError(f"gap={gap!r}: the time column holds numbers, so the gap is a number", param="gap") from None
    if value < 0:
        raise CuraugError(f"gap={gap!r}: must not be negative", param="gap")
    return value


# the order decides which wins when several apply: time, then hash placement, then label sets, then groups
for _name, _strategy in (("time", Time), ("stable", Stable), ("multilabel", Multilabel), ("grouped", Grouped),
                         ("stratified", Stratified)):
    STRATEGIES.register(_name, _strategy)
