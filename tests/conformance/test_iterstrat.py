"""iterative-stratification's own tests, run against curaug's multilabel ``BalancedKFold``.

Ported from trent-b/iterative-stratification, ``tests/test_ml_stratifiers.py`` (its one
test, ``TestMultilabelStratifiedKFold.test_integration``) and the examples in the
docstrings of ``iterstrat/ml_stratifiers.py`` (``MultilabelStratifiedKFold``,
``RepeatedMultilabelStratifiedKFold``). They run without iterative-stratification
installed; only :func:`test_label_and_examples_distribution_at_least_as_good_as_iterstrat`
measures against the library itself and is skipped without it.

curaug takes a 0/1 indicator matrix as ``y`` (two or more columns) and always shuffles with
a seed, where ``MultilabelStratifiedKFold(shuffle=False)`` keeps the row order.
"""

from __future__ import annotations

import numpy as np
import pytest

from curate.split.cv import BalancedKFold, RepeatedBalancedKFold
from curate.split.report import fold_distribution


def folds(cv, Y: np.ndarray) -> np.ndarray:
    fold = np.full(len(Y), -1)
    for k, (_, test) in enumerate(cv.split(np.zeros((len(Y), 2)), Y)):
        fold[test] = k
    return fold


def test_integration():
    # upstream: TestMultilabelStratifiedKFold.test_integration; np.random.seed(12345) and
    # the module RNG there, the same draws from a RandomState(12345) here
    rng = np.random.RandomState(12345)

    def _test(n_labels, n_samples, n_splits):
        x = np.zeros((n_samples, 2))  # not used in the split
        y = rng.randint(0, 2, size=(n_samples, n_labels))
        for train_index, test_index in BalancedKFold(n_splits=n_splits).split(x, y):
            assert len(set(train_index) & set(test_index)) == 0
            y_train = np.sum(y[train_index], axis=0)
            y_train = y_train / np.sum(y_train)
            y_test = np.sum(y[test_index], axis=0)
            y_test = y_test / np.sum(y_test)
            for i, (r1, r2) in enumerate(zip(y_train, y_test)):
                assert r1 == pytest.approx(r2, abs=0.07), f"n_labels={n_labels} i={i}: {r1} vs {r2}"

    _test(3, 500, n_splits=7)
    _test(5, 500, n_splits=7)
    _test(10, 500, n_splits=7)


def test_multilabel_stratified_kfold_docstring_example():
    # upstream: the MultilabelStratifiedKFold docstring, whose two test folds ([1 2 5 7] and
    # [0 3 4 6]) each hold one row of every label combination
    y = np.array([[0, 0], [0, 0], [0, 1], [0, 1], [1, 1], [1, 1], [1, 0], [1, 0]])
    cv = BalancedKFold(n_splits=2, random_state=0)
    assert cv.get_n_splits(np.zeros(8), y) == 2
    for train, test in cv.split(np.zeros(8), y):
        assert sorted(map(tuple, y[test].tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        assert sorted(train.tolist() + test.tolist()) == list(range(8))


def test_repeated_multilabel_stratified_kfold_docstring_example():
    # upstream: the RepeatedMultilabelStratifiedKFold docstring: two repeats of two folds,
    # each test fold one row of every combination, the repeats cutting differently
    y = np.array([[0, 0], [0, 0], [0, 1], [0, 1], [1, 1], [1, 1], [1, 0], [1, 0]])
    splits = [test.tolist() for _, test in RepeatedBalancedKFold(n_splits=2, n_repeats=2, random_state=0)
              .split(np.zeros(8), y)]
    assert len(splits) == 4
    for test in splits:
        assert sorted(map(tuple, y[test].tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert sorted(map(sorted, splits[:2])) != sorted(map(sorted, splits[2:]))


def test_label_and_examples_distribution_at_least_as_good_as_iterstrat():
    """Sechidis' LD and ED of curaug's folds against MultilabelStratifiedKFold's on the same
    data: few and many labels, 200 and 1,000 rows, 5 and 10 folds."""
    iterstrat = pytest.importorskip("iterstrat.ml_stratifiers")
    for n in (200, 1000):
        for labels in (3, 10, 40):
            for k in (5, 10):
                rng = np.random.default_rng(n + labels + k)
                Y = (rng.random((n, labels)) < rng.uniform(0.05, 0.5, labels)).astype(int)
                ours = fold_distribution(Y, folds(BalancedKFold(k), Y), k)
                theirs = fold_distribution(Y, folds(iterstrat.MultilabelStratifiedKFold(k, shuffle=True,
                                                                                         random_state=0), Y), k)
                # equal figures differ in the last bit when both reach the best integer counts
                assert ours[0] <= theirs[0] * (1 + 1e-9) and ours[1] <= theirs[1], (n, labels, k, ours, theirs)
