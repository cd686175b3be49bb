"""Properties of curaug's folds over small random data sets, grouped and multilabel.

Not a port: what scikit-learn's ``sklearn/model_selection/tests/test_split.py``
(scikit-learn/scikit-learn) checks on its hand-picked examples (every sample tested once,
no group on both sides, fold sizes within one, labels that do not matter), asked here of
every small data set hypothesis draws, with curaug's own guarantees on top:

- with at least ``n_splits`` groups every fold has test rows (fewer: one error naming both
  counts);
- without groups fold sizes differ by at most one row and each class is within one row of
  its share in every fold; with groups sizes differ by at most the largest group;
- renaming classes (or permuting the label columns of a multilabel ``y``) moves no row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.errors import CuraugError
from curate.split.cv import BalancedKFold
from curate.split.splitters import split_frame


@st.composite
def data_sets(draw, *, grouped: bool, multilabel: bool):
    n = draw(st.integers(4, 60))
    k = draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if multilabel:
        y = (rng.random((n, draw(st.integers(2, 5)))) < rng.uniform(0.05, 0.7)).astype(int)
    else:
        y = rng.choice(draw(st.integers(1, 4)), n, p=None)
    groups = rng.integers(0, draw(st.integers(1, n)), n) if grouped else None
    return y, groups, k, draw(st.integers(0, 1000))


def folds_of(y, groups, k: int, seed: int) -> np.ndarray:
    fold = np.full(len(y), -1)
    for j, (train, test) in enumerate(BalancedKFold(k, random_state=seed).split(np.zeros(len(y)), y, groups)):
        assert (fold[test] == -1).all()  # every row tested once
        assert sorted(train.tolist() + test.tolist()) == list(range(len(y)))
        fold[test] = j
    assert (fold >= 0).all()
    return fold


def expected_error(y, groups, k: int) -> str | None:
    """The one error line a data set too small for ``k`` folds gets, or None."""
    n = len(y)
    if n < k:
        return f"n_splits={k} cannot be greater than the number of samples: n_samples={n}"
    if groups is not None and len(np.unique(groups)) < k:
        return f"n_splits={k} cannot be greater than the number of groups: {len(np.unique(groups))}"
    if y.ndim == 1 and np.unique(y, return_counts=True)[1].min() < k:
        return "cannot be greater than the number of members in each class"
    return None


def check_folds(y, groups, k: int, seed: int) -> np.ndarray | None:
    error = expected_error(y, groups, k)
    if error:
        with pytest.raises(CuraugError, match=error) as exc:
            folds_of(y, groups, k, seed)
        assert exc.value.param == "n_splits"
        return None
    fold = folds_of(y, groups, k, seed)
    sizes = np.bincount(fold, minlength=k)
    assert sizes.min() > 0  # no empty fold
    if groups is None:
        assert np.ptp(sizes) <= 1
    else:
        assert (pd.Series(fold).groupby(groups).nunique() == 1).all()  # no group in two folds
        assert np.ptp(sizes) <= np.bincount(groups).max()
    return fold


@settings(max_examples=80, deadline=None)
@given(data_sets(grouped=False, multilabel=False))
def test_stratified_folds(data):
    y, _, k, seed = data
    fold = check_folds(y, None, k, seed)
    if fold is None:
        return
    for c in np.unique(y):
        per_fold = np.bincount(fold[y == c], minlength=k)
        assert np.ptp(per_fold) <= 1  # each class within one row of its share everywhere
    names = np.array(["x", "a", "q", "m"])[np.random.default_rng(seed).permutation(4)]
    assert np.array_equal(folds_of(names[y], None, k, seed), fold)


@settings(max_examples=80, deadline=None)
@given(data_sets(grouped=True, multilabel=False))
def test_grouped_folds(data):
    y, groups, k, seed = data
    fold = check_folds(y, groups, k, seed)
    if fold is None:
        return
    names = np.array(["x", "a", "q", "m"])[np.random.default_rng(seed).permutation(4)]
    assert np.array_equal(folds_of(names[y], groups, k, seed), fold)
    # curaug split --group --folds K: the same guarantees over the train and val rows
    res = split_frame(pd.DataFrame({"y": y, "g": groups}), "y", group="g", ratios=(1.0, 0.0, 0.0), folds=k,
                      seed=seed)
    got = res.fold.to_numpy(dtype=int)
    assert np.bincount(got, minlength=k).min() > 0
    assert (pd.Series(got).groupby(groups).nunique() == 1).all()


@settings(max_examples=60, deadline=None)
@given(data_sets(grouped=False, multilabel=True))
def test_multilabel_folds(data):
    Y, _, k, seed = data
    fold = check_folds(Y, None, k, seed)
    if fold is None:
        return
    perm = np.random.default_rng(seed).permutation(Y.shape[1])
    assert np.array_equal(folds_of(Y[:, perm], None, k, seed), fold)


@settings(max_examples=60, deadline=None)
@given(data_sets(grouped=True, multilabel=True))
def test_grouped_multilabel_folds(data):
    Y, groups, k, seed = data
    fold = check_folds(Y, groups, k, seed)
    if fold is None:
        return
    perm = np.random.default_rng(seed).permutation(Y.shape[1])
    assert np.array_equal(folds_of(Y[:, perm], groups, k, seed), fold)
