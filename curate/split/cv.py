"""scikit-learn cross-validators on curaug's splitters: usable in ``cross_val_score``,
``GridSearchCV`` and friends.

- :class:`BalancedKFold`: K folds stratified on ``y`` (1-D classes, or a 2-D 0/1 indicator
  matrix for multilabel: iterative stratification), with ``groups`` kept whole.
- :class:`RepeatedBalancedKFold`: the same, repeated with a different seed each time.
- :class:`LeaveOneOut`: one sample out, or one group out when ``groups`` are given.
- :func:`train_val_test_indices`: the 60/20/20 (or any ratios) split as index arrays.

Randomness comes only from ``numpy.random.default_rng(random_state)``; the global RNGs are
never read or written, so the same ``random_state`` gives the same folds everywhere.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from curate.errors import CuraugError


def _fold_of(y, groups, n_parts: int, rng: np.random.Generator, ratios: Sequence[float] | None = None) -> np.ndarray:
    from curate.split.assign import assign_by_label, assign_by_size, codes, stratified_assign

    ratios = list(ratios) if ratios is not None else [1.0 / n_parts] * n_parts
    y = np.asarray(y)
    if y.ndim == 2:  # multilabel indicator
        Y = (y > 0).astype(float)
        if groups is None:
            return assign_by_label(Y, ratios, rng, sizes=np.ones(len(Y)))
        _, gi = codes(np.asarray(groups, dtype=object))
        G = np.zeros((gi.max() + 1, Y.shape[1] + 1))
        np.add.at(G, gi, np.hstack([Y, np.ones((len(Y), 1))]))
        return assign_by_size(G, ratios, rng, sizes=np.bincount(gi).astype(float))[gi]
    labels = np.asarray(y, dtype=object).astype(str)
    if groups is None:
        return stratified_assign(labels, ratios, rng)
    _, yi = codes(labels)
    _, gi = codes(np.asarray(groups, dtype=object).astype(str))
    C = np.zeros((gi.max() + 1, yi.max() + 1))
    np.add.at(C, (gi, yi), 1.0)
    return assign_by_size(C, ratios, rng)[gi]


class BalancedKFold(BaseCrossValidator):
    """Stratified (multilabel-aware) K-fold that never puts one group in two folds.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 30 + [1] * 15)
    >>> groups = np.repeat(np.arange(15), 3)
    >>> cv = BalancedKFold(3, random_state=0)
    >>> [int(y[test].sum()) for _, test in cv.split(np.zeros(45), y)]
    [5, 5, 5]
    >>> all(not set(groups[tr]) & set(groups[te]) for tr, te in cv.split(np.zeros(45), y, groups))
    True
    """

    def __init__(self, n_splits: int = 5, *, random_state: int = 0):
        if int(n_splits) < 2:
            raise CuraugError(f"n_splits={n_splits}: at least 2 folds are needed")
        self.n_splits = int(n_splits)
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(X) if y is None else len(y)
        y = np.zeros(n) if y is None else y
        fold = _fold_of(y, groups, self.n_splits, np.random.default_rng(self.random_state))
        index = np.arange(n)
        for k in range(self.n_splits):
            yield index[fold != k], index[fold == k]

    def _iter_test_indices(self, X=None, y=None, groups=None):  # BaseCrossValidator's abstract hook
        for _, test in self.split(X, y, groups):
            yield test


class RepeatedBalancedKFold(BaseCrossValidator):
    """:class:`BalancedKFold` repeated ``n_repeats`` times with seeds ``random_state + r``."""

    def __init__(self, n_splits: int = 5, n_repeats: int = 10, *, random_state: int = 0):
        if int(n_repeats) < 1:
            raise CuraugError(f"n_repeats={n_repeats}: at least 1 repeat is needed")
        self.n_splits, self.n_repeats, self.random_state = int(n_splits), int(n_repeats), random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits * self.n_repeats

    def split(self, X, y=None, groups=None):
        for r in range(self.n_repeats):
            yield from BalancedKFold(self.n_splits, random_state=self.random_state + r).split(X, y, groups)

    def _iter_test_indices(self, X=None, y=None, groups=None):
        for _, test in self.split(X, y, groups):
            yield test


class LeaveOneOut(BaseCrossValidator):
    """Leave one sample out; with ``groups``, leave one group out (so no group leaks)."""

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        if groups is not None:
            return int(len(np.unique(np.asarray(groups, dtype=object).astype(str))))
        return len(X)

    def _iter_test_indices(self, X=None, y=None, groups=None):
        if groups is None:
            yield from (np.array([i]) for i in range(len(X)))
            return
        from curate.split.assign import codes

        _, gi = codes(np.asarray(groups, dtype=object).astype(str))
        for g in range(gi.max() + 1):
            yield np.flatnonzero(gi == g)


def train_val_test_indices(y, groups=None, ratios: Sequence[float] = (0.6, 0.2, 0.2),
                           random_state: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays of train, val and test, stratified on ``y`` (1-D or multilabel 2-D) with
    ``groups`` whole.

    Examples
    --------
    >>> tr, va, te = train_val_test_indices(np.array(["a"] * 50 + ["b"] * 50))
    >>> len(tr), len(va), len(te)
    (60, 20, 20)
    """
    from curate.split.splitters import parse_ratios

    ratios = parse_ratios(ratios)
    part = _fold_of(y, groups, 3, np.random.default_rng(random_state), ratios)
    return tuple(np.flatnonzero(part == k) for k in range(3))  # type: ignore[return-value]
