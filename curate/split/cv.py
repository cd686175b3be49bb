"""scikit-learn cross-validators on curaug's splitters: usable in ``cross_val_score``,
``GridSearchCV`` and friends.

They follow scikit-learn's protocol: subclasses of ``BaseCrossValidator`` whose ``__init__``
only stores parameters, checked when data arrives (bad values raise ``ValueError``:
:class:`curate.errors.CuraugError` is one); those that consume ``groups`` say so with
``GroupsConsumerMixin``, so metadata routing passes them.

- :class:`BalancedKFold`: K folds stratified on ``y`` (classes, 1-D or one column, or a 0/1
  indicator matrix of two or more columns for multilabel: iterative stratification), with
  ``groups`` kept whole; ``y`` is required, as for ``StratifiedKFold``.
- :class:`RepeatedBalancedKFold`: the same, repeated with a different seed each time.
- :class:`LeaveOneOut`: one sample out, exactly scikit-learn's ``LeaveOneOut``.
- :class:`LeaveOneGroupOut`: one group out (what curaug's ``LeaveOneOut`` with groups once
  meant), exactly scikit-learn's ``LeaveOneGroupOut``.
- :func:`train_val_test_indices`: the 60/20/20 (or any ratios) split as index arrays.

Randomness comes only from ``numpy.random.default_rng(random_state)``; the global RNGs are
never read or written, so the same ``random_state`` gives the same folds everywhere.
"""

from __future__ import annotations

import warnings
from typing import Iterator, Sequence

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.model_selection._split import GroupsConsumerMixin
from sklearn.utils.validation import _num_samples, check_array

from curate.errors import CuraugError


def _fold_of(y: np.ndarray, groups, n_parts: int, rng: np.random.Generator,
             ratios: Sequence[float] | None = None) -> np.ndarray:
    """Part per sample of ``y`` as :func:`_target` reads it (1-D classes, or a 2-D 0/1
    indicator matrix), ``groups`` kept whole."""
    from curate.split.assign import assign_by_label, assign_by_size, codes, stratified_assign

    ratios = list(ratios) if ratios is not None else [1.0 / n_parts] * n_parts
    if y.ndim == 2:  # multilabel indicator
        if groups is None:
            return assign_by_label(y, ratios, rng)
        _, gi = codes(np.asarray(groups, dtype=object))
        G = np.zeros((gi.max() + 1, y.shape[1]))
        np.add.at(G, gi, y)
        return assign_by_size(G, ratios, rng, sizes=np.bincount(gi).astype(float))[gi]
    labels = np.asarray(y, dtype=object).astype(str)
    if groups is None:
        # keys in a random permutation's order: the same placement as shuffling the rows
        return stratified_assign(labels, ratios, np.argsort(rng.permutation(len(labels))))
    _, yi = codes(labels)
    _, gi = codes(np.asarray(groups, dtype=object).astype(str))
    C = np.zeros((gi.max() + 1, yi.max() + 1))
    np.add.at(C, (gi, yi), 1.0)
    return assign_by_size(C, ratios, rng)[gi]


def _target(y) -> np.ndarray:
    """``y`` as scikit-learn's stratified splitters read it: class labels (1-D, or one
    column), or a 0/1 indicator matrix of two or more columns for multilabel (which
    scikit-learn's ``StratifiedKFold`` refuses and curaug stratifies iteratively)."""
    from sklearn.utils.multiclass import type_of_target

    if y is None:
        raise CuraugError("y=None: a stratified splitter needs the class labels (or a 0/1 label matrix) of every "
                          "sample; to split on groups alone use sklearn.model_selection.GroupKFold", param="y")
    y = check_array(y, input_name="y", ensure_2d=False, dtype=None, ensure_all_finite=False)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1:
        if type_of_target(y) == "continuous":
            raise CuraugError(f"y: continuous values (e.g. {y.tolist()[0]!r}) cannot be stratified; give class labels",
                              param="y")
        return y
    values = np.unique(y)
    if y.dtype.kind not in "biuf" or not np.isin(values, [0, 1]).all():
        shown = ", ".join(str(v) for v in values[:3].tolist())
        raise CuraugError(f"y: a matrix of {y.shape[1]} columns is read as multilabel and must hold 0/1 only; it "
                          f"holds {shown}", param="y")
    return y.astype(float)


def _check_n_splits(n_splits) -> int:
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise CuraugError(f"n_splits={n_splits!r}: expected an integer of at least 2", param="n_splits")
    return int(n_splits)


def _check_fold_data(n_splits: int, n: int, y, groups) -> np.ndarray:
    """Every fold needs a sample, a member of every class and, grouped, a group: name the
    value and the limit, as scikit-learn does; ``y`` as :func:`_target` reads it."""
    from curate.split.assign import codes

    if n_splits > n:
        raise CuraugError(f"n_splits={n_splits} cannot be greater than the number of samples: n_samples={n}",
                          param="n_splits")
    if groups is not None:
        n_groups = len(codes(np.asarray(groups, dtype=object).astype(str))[0])
        if n_groups < n_splits:
            raise CuraugError(f"n_splits={n_splits} cannot be greater than the number of groups: {n_groups}",
                              param="n_splits")
    y = _target(y)
    if y.ndim == 1:
        classes, yi = codes(np.asarray(y, dtype=object).astype(str))
        counts = np.bincount(yi)
        if counts.min() < n_splits:
            c = int(np.argmin(counts))
            raise CuraugError(f"n_splits={n_splits} cannot be greater than the number of members in each class: "
                              f"class '{classes[c]}' has {counts[c]}", param="n_splits")
    return y


class BalancedKFold(GroupsConsumerMixin, BaseCrossValidator):
    """Stratified (multilabel-aware) K-fold that never puts one group in two folds.

    Guarantees: every fold has test rows (grouped: with at least ``n_splits`` groups; fewer
    is an error naming both counts); without groups fold sizes differ by at most one row and
    each class is within one row of its share in every fold, with groups by at most the
    largest group's rows; renaming the classes (or reordering multilabel columns) gives the
    same folds for the same ``random_state``.

    Parameters
    ----------
    n_splits : int, default 5
        Number of folds (at least 2, at most the samples, the groups and the members of the
        smallest class).
    random_state : int or None, default 0
        Seed of the fold assignment (None: fresh entropy; the global RNG is never used).

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

    def __init__(self, n_splits: int = 5, *, random_state: int | None = 0):
        self.n_splits = n_splits
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return _check_n_splits(self.n_splits)

    def split(self, X, y, groups=None):
        """Train and test indices of each fold; ``y`` is required, as for scikit-learn's
        ``StratifiedKFold``: class labels, or a 0/1 indicator matrix for multilabel."""
        return super().split(X, y, groups)

    def _iter_test_masks(self, X, y=None, groups=None) -> Iterator[np.ndarray]:
        n_splits = _check_n_splits(self.n_splits)
        n = _num_samples(X)
        y = _check_fold_data(n_splits, n, y, groups)
        fold = _fold_of(y, groups, n_splits, np.random.default_rng(self.random_state))
        for k in range(n_splits):
            yield fold == k


class RepeatedBalancedKFold(GroupsConsumerMixin, BaseCrossValidator):
    """:class:`BalancedKFold` repeated ``n_repeats`` times with seeds ``random_state + r``.

    Examples
    --------
    >>> cv = RepeatedBalancedKFold(2, n_repeats=3, random_state=1)
    >>> cv.get_n_splits(), len(list(cv.split(np.zeros(8), [0, 1] * 4)))
    (6, 6)
    """

    def __init__(self, n_splits: int = 5, n_repeats: int = 10, *, random_state: int = 0):
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.random_state = random_state

    def _repeats(self) -> int:
        if isinstance(self.n_repeats, bool) or not isinstance(self.n_repeats, (int, np.integer)) or self.n_repeats < 1:
            raise CuraugError(f"n_repeats={self.n_repeats!r}: expected an integer of at least 1", param="n_repeats")
        return int(self.n_repeats)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return _check_n_splits(self.n_splits) * self._repeats()

    def split(self, X, y, groups=None):
        """The folds of every repeat in turn; ``y`` is required, as for :class:`BalancedKFold`."""
        return super().split(X, y, groups)

    def _iter_test_masks(self, X, y=None, groups=None) -> Iterator[np.ndarray]:
        for r in range(self._repeats()):
            yield from BalancedKFold(self.n_splits, random_state=self.random_state + r)._iter_test_masks(X, y, groups)


class LeaveOneOut(BaseCrossValidator):
    """Leave one sample out: the folds of scikit-learn's ``LeaveOneOut`` (``groups`` are
    ignored; to leave one group out, use :class:`LeaveOneGroupOut`).

    Examples
    --------
    >>> [test.tolist() for _, test in LeaveOneOut().split(np.zeros(3))]
    [[0], [1], [2]]
    """

    def split(self, X, y=None, groups=None):
        if groups is not None:  # curaug's LeaveOneOut once left groups out: say it no longer does
            warnings.warn("LeaveOneOut ignores groups= and leaves one sample out; LeaveOneGroupOut leaves "
                          "one group out", UserWarning, stacklevel=2)
        return super().split(X, y, groups)

    def _iter_test_indices(self, X, y=None, groups=None):
        n = _num_samples(X)
        if n <= 1:
            raise CuraugError(f"cannot leave one out of n_samples={n}: at least 2 samples are needed", param="X")
        return range(n)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        if X is None:
            raise CuraugError("X=None: LeaveOneOut makes one split per sample of X", param="X")
        return _num_samples(X)


class LeaveOneGroupOut(GroupsConsumerMixin, BaseCrossValidator):
    """Leave one group out, groups in sorted order: the folds of scikit-learn's
    ``LeaveOneGroupOut`` (no group is ever in train and test at once).

    Examples
    --------
    >>> groups = ["b", "a", "b", "c"]
    >>> [test.tolist() for _, test in LeaveOneGroupOut().split(np.zeros(4), groups=groups)]
    [[1], [0, 2], [3]]
    """

    def _iter_test_masks(self, X, y=None, groups=None) -> Iterator[np.ndarray]:
        unique, groups = self._groups(groups)
        for g in unique:
            yield groups == g

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return len(self._groups(groups)[0])

    @staticmethod
    def _groups(groups) -> tuple[np.ndarray, np.ndarray]:
        if groups is None:
            raise CuraugError("groups=None: LeaveOneGroupOut needs the group of every sample", param="groups")
        groups = check_array(groups, input_name="groups", ensure_2d=False, dtype=None)
        unique = np.unique(groups)
        if len(unique) < 2:
            raise CuraugError(f"groups= holds {len(unique)} distinct group(s); leaving one out needs at least 2",
                              param="groups")
        return unique, groups


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
    y = _target(y)
    part = _fold_of(y, groups, 3, np.random.default_rng(random_state), ratios)
    return tuple(np.flatnonzero(part == k) for k in range(3))  # type: ignore[return-value]
