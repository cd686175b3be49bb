"""scikit-learn's own cross-validator tests, run against curaug's ``BalancedKFold`` and
``RepeatedBalancedKFold``.

Ported from scikit-learn/scikit-learn, ``sklearn/model_selection/tests/test_split.py``
(scikit-learn 1.9): the generic K-fold, stratified, group and nested-CV tests, with the
same data and assertions. ``BalancedKFold`` stands in for ``StratifiedKFold`` without
groups and for ``StratifiedGroupKFold`` with them; it always shuffles with a seed
(``random_state``, default 0), so upstream tests of the unshuffled order do not apply.
Where curaug deliberately differs, the test asserts curaug's behaviour and says why:

- a class with fewer members than folds is an error (scikit-learn warns and may give folds
  without that class): a fold missing a class silently skews every per-fold score;
- ``n_splits`` and ``n_repeats`` are checked when data arrives, not in ``__init__``
  (scikit-learn's estimator rule: ``__init__`` only stores; the cross-validators are older);
- a 0/1 matrix ``y`` is multilabel and stratified iteratively (``StratifiedKFold`` refuses it);
- with groups, folds are perfectly stratified where that is possible (upstream's
  ``test_stratified_group_kfold_approximate`` documents that ``StratifiedGroupKFold`` is not).
"""

from __future__ import annotations

import warnings
from itertools import combinations_with_replacement, permutations

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import (GridSearchCV, GroupKFold, StratifiedGroupKFold, StratifiedKFold,
                                     cross_val_score)
from sklearn.model_selection._split import _yields_constant_splits
from sklearn.utils._testing import assert_allclose
from sklearn.utils.validation import _num_samples

from curate.errors import CuraugError
from curate.split.cv import BalancedKFold, LeaveOneGroupOut, RepeatedBalancedKFold

X = np.ones(10)
y = np.arange(10) // 2


def check_valid_split(train, test, n_samples=None):
    train, test = set(train), set(test)
    assert train.intersection(test) == set()
    if n_samples is not None:
        assert train.union(test) == set(range(n_samples))


def check_cv_coverage(cv, X, y, groups, expected_n_splits):
    n_samples = _num_samples(X)
    assert cv.get_n_splits(X, y, groups) == expected_n_splits
    collected_test_samples = set()
    iterations = 0
    for train, test in cv.split(X, y, groups):
        check_valid_split(train, test, n_samples=n_samples)
        iterations += 1
        collected_test_samples.update(test)
    assert iterations == expected_n_splits
    if n_samples is not None:
        assert collected_test_samples == set(range(n_samples))


def test_cross_validator_with_default_params():
    # upstream: test_cross_validator_with_default_params
    X = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])
    X_1d = np.array([1, 2, 3, 4])
    y = np.array([1, 1, 2, 2])
    groups = np.array([1, 2, 3, 4])
    cases = [(BalancedKFold(2), "BalancedKFold(n_splits=2, random_state=0)", 2),
             (RepeatedBalancedKFold(2, n_repeats=3),
              "RepeatedBalancedKFold(n_repeats=3, n_splits=2, random_state=0)", 6)]
    for cv, cv_repr, n_splits in cases:
        assert cv.get_n_splits(X, y, groups) == n_splits
        # the same splits whether X is 1-D or 2-D
        np.testing.assert_equal(list(cv.split(X, y, groups)), list(cv.split(X_1d, y, groups)))
        for train, test in cv.split(X, y, groups):
            assert np.asarray(train).dtype.kind == "i"
            assert np.asarray(test).dtype.kind == "i"
        assert repr(cv) == cv_repr


def test_2d_y():
    # upstream: test_2d_y. A one-column y is class labels, as upstream; curaug differs on the
    # 0/1 matrix: it is multilabel, stratified iteratively, where StratifiedKFold raises
    n_samples = 30
    rng = np.random.RandomState(1)
    X = rng.randint(0, 3, size=(n_samples, 2))
    y = rng.randint(0, 3, size=(n_samples,))
    y_2d = y.reshape(-1, 1)
    y_multilabel = rng.randint(0, 2, size=(n_samples, 3))
    groups = rng.randint(0, 3, size=(n_samples,))
    for splitter in (BalancedKFold(3), RepeatedBalancedKFold(3, n_repeats=2)):
        for given in (None, groups):
            assert [t.tolist() for _, t in splitter.split(X, y, given)] == \
                [t.tolist() for _, t in splitter.split(X, y_2d, given)]
            tests = [t for _, t in splitter.split(X, y_multilabel, given)]
            assert len(tests) == splitter.get_n_splits()
    with pytest.raises(ValueError, match="Supported target types are: .* Got 'multilabel"):
        list(StratifiedKFold(3).split(X, y_multilabel))


def test_kfold_valueerrors():
    # upstream: test_kfold_valueerrors
    X2 = np.array([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])
    y = np.array([3, 3, -1, -1, 3])
    # upstream warns "The least populated class in y has only 2 members" and still splits,
    # leaving a fold without class -1; curaug raises, naming the class and its count
    for groups in (None, np.arange(len(y))):
        with pytest.raises(CuraugError, match="n_splits=3 cannot be greater than the number of members in each "
                                              "class: class '-1' has 2") as exc:
            next(BalancedKFold(3).split(X2, y, groups))
        assert exc.value.param == "n_splits"
    y = np.array([3, 3, -1, -1, 2])
    with pytest.raises(ValueError):
        next(BalancedKFold(3).split(X2, y))
    with pytest.raises(ValueError):
        next(BalancedKFold(3).split(X2, y, np.arange(5)))
    # n_splits <= 1 or not an integer: an error where data arrives (upstream: in __init__)
    for n_splits in (0, 1, 1.5, 2.0):
        cv = BalancedKFold(n_splits)
        with pytest.raises(ValueError, match=f"n_splits={n_splits!r}: expected an integer of at least 2"):
            next(cv.split(X2, [0, 1, 0, 1, 0]))


def test_stratified_kfold_no_fewer_rows_than_folds():
    # upstream: test_kfold_valueerrors, "not enough samples" (KFold(4).split(X1) on 3 rows)
    with pytest.raises(CuraugError, match="n_splits=4 cannot be greater than the number of samples: n_samples=3"):
        next(BalancedKFold(4).split(np.zeros(3), [0, 1, 0]))


@pytest.mark.parametrize("k", [4, 5, 6, 7, 8, 9, 10])
@pytest.mark.parametrize("grouped", [False, True])
def test_stratified_kfold_ratios(k, grouped):
    # upstream: test_stratified_kfold_ratios (StratifiedKFold and StratifiedGroupKFold)
    n_samples = 1000
    X = np.ones(n_samples)
    y = np.array([4] * int(0.10 * n_samples) + [0] * int(0.89 * n_samples) + [1] * int(0.01 * n_samples))
    groups = np.arange(len(y)) if grouped else None  # one-row groups: perfect stratification is possible
    distr = np.bincount(y) / len(y)
    test_sizes = []
    for train, test in BalancedKFold(k, random_state=0).split(X, y, groups):
        assert_allclose(np.bincount(y[train]) / len(train), distr, atol=0.02)
        assert_allclose(np.bincount(y[test]) / len(test), distr, atol=0.02)
        test_sizes.append(len(test))
    assert np.ptp(test_sizes) <= 1


@pytest.mark.parametrize("k", [4, 6, 7])
@pytest.mark.parametrize("grouped", [False, True])
def test_stratified_kfold_label_invariance(k, grouped):
    # upstream: test_stratified_kfold_label_invariance
    n_samples = 100
    X = np.ones(n_samples)
    groups = np.arange(n_samples) if grouped else None

    def get_splits(y):
        return [(list(train), list(test)) for train, test in BalancedKFold(k, random_state=0).split(X, y, groups)]

    y = np.array([2] * int(0.10 * n_samples) + [0] * int(0.89 * n_samples) + [1] * int(0.01 * n_samples))
    # upstream's class 1 has one member: curaug refuses (see the module docstring), under any name
    for perm in permutations([0, 1, 2]):
        with pytest.raises(CuraugError, match=f"class '{perm[1]}' has 1"):
            get_splits(np.take(perm, y))
    # the same test with class 1 grown to k members
    y = np.array([2] * 10 + [0] * (90 - k) + [1] * k)
    splits_base = get_splits(y)
    for perm in permutations([0, 1, 2]):
        assert get_splits(np.take(perm, y)) == splits_base


@pytest.mark.parametrize("grouped", [False, True])
def test_stratifiedkfold_balance(grouped):
    # upstream: test_stratifiedkfold_balance
    X = np.ones(17)
    y = [0] * 3 + [1] * 14
    groups = np.arange(len(y))
    for random_state in (0, 1):
        cv = BalancedKFold(3, random_state=random_state)
        for i in range(11, 17):
            sizes = [len(test) for _, test in cv.split(X[:i], y[:i], groups[:i] if grouped else None)]
            assert (np.max(sizes) - np.min(sizes)) <= 1
            assert np.sum(sizes) == i


@pytest.mark.parametrize("grouped", [False, True])
def test_shuffle_kfold_stratifiedkfold_reproducibility(grouped):
    # upstream: test_shuffle_kfold_stratifiedkfold_reproducibility. Upstream passes a
    # RandomState instance for "a new split per call"; curaug takes an int or None (fresh
    # entropy, never the global RNG), so None plays that part
    X = np.ones(15)
    y = [0] * 7 + [1] * 8
    X2 = np.ones(16)
    y2 = [0] * 8 + [1] * 8
    g1, g2 = (np.arange(15), np.arange(16)) if grouped else (None, None)
    kf = BalancedKFold(3, random_state=0)
    np.testing.assert_equal(list(kf.split(X, y, g1)), list(kf.split(X, y, g1)))
    kf = BalancedKFold(3, random_state=None)
    for data in ((X, y, g1), (X2, y2, g2)):
        for (_, test_a), (_, test_b) in zip(kf.split(*data), kf.split(*data)):
            with pytest.raises(AssertionError):
                np.testing.assert_array_equal(test_a, test_b)


def test_shuffle_stratifiedkfold():
    # upstream: test_shuffle_stratifiedkfold
    X_40 = np.ones(40)
    y = [0] * 20 + [1] * 20
    kf0 = BalancedKFold(5, random_state=0)
    kf1 = BalancedKFold(5, random_state=1)
    for (_, test0), (_, test1) in zip(kf0.split(X_40, y), kf1.split(X_40, y)):
        assert set(test0) != set(test1)
    check_cv_coverage(kf0, X_40, y, groups=None, expected_n_splits=5)
    # each class's samples are shuffled with the seed (upstream PR 13124)
    X = np.arange(10)
    y = [0] * 5 + [1] * 5
    test_set1 = sorted([tuple(s[1]) for s in BalancedKFold(5, random_state=0).split(X, y)])
    test_set2 = sorted([tuple(s[1]) for s in BalancedKFold(5, random_state=1).split(X, y)])
    assert test_set1 != test_set2


def test_shuffle_groupkfold():
    # upstream: test_shuffle_groupkfold (GroupKFold(shuffle=True)): groups shuffled by the seed
    X = np.ones(40)
    y = [0] * 20 + [1] * 20
    groups = np.arange(40) // 3
    test_groups0 = [set(groups[t]) for _, t in BalancedKFold(4, random_state=0).split(X, y, groups)]
    test_groups1 = [set(groups[t]) for _, t in BalancedKFold(4, random_state=1).split(X, y, groups)]
    assert test_groups0 != test_groups1
    check_cv_coverage(BalancedKFold(4, random_state=0), X, y, groups, expected_n_splits=4)
    check_cv_coverage(BalancedKFold(4, random_state=1), X, y, groups, expected_n_splits=4)


def test_stratified_group_kfold_trivial():
    # upstream: test_stratified_group_kfold_trivial
    y = np.array([1] * 6 + [0] * 12)
    X = np.ones_like(y).reshape(-1, 1)
    groups = np.asarray((1, 2, 3, 4, 5, 6, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6))
    distr = np.bincount(y) / len(y)
    test_sizes = []
    for train, test in BalancedKFold(3).split(X, y, groups):
        assert np.intersect1d(groups[train], groups[test]).size == 0
        assert_allclose(np.bincount(y[train]) / len(train), distr, atol=0.02)
        assert_allclose(np.bincount(y[test]) / len(test), distr, atol=0.02)
        test_sizes.append(len(test))
    assert np.ptp(test_sizes) <= 1


def test_stratified_group_kfold_approximate():
    # upstream: test_stratified_group_kfold_approximate. Upstream expects the imperfect
    # [[0.833, 0.166], [0.666, 0.333], [0.5, 0.5]] "even though perfect is possible";
    # curaug's local search finds the perfect folds, for every seed
    y = np.array([1] * 6 + [0] * 12)
    X = np.ones_like(y).reshape(-1, 1)
    groups = np.array([1, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 4, 5, 5, 5, 6, 6, 6])
    for seed in range(10):
        test_sizes = []
        for train, test in BalancedKFold(3, random_state=seed).split(X, y, groups):
            assert np.intersect1d(groups[train], groups[test]).size == 0
            assert_allclose(np.bincount(y[test]) / len(test), [2 / 3, 1 / 3], atol=0.001)
            test_sizes.append(len(test))
        assert np.ptp(test_sizes) <= 1


@pytest.mark.parametrize("y, groups, expected", [
    (np.array([0] * 6 + [1] * 6), np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]),
     np.asarray([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])),
    (np.array([0] * 9 + [1] * 3), np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 5, 6]),
     np.asarray([[0.75, 0.25], [0.75, 0.25], [0.75, 0.25]])),
])
def test_stratified_group_kfold_homogeneous_groups(y, groups, expected):
    # upstream: test_stratified_group_kfold_homogeneous_groups
    X = np.ones_like(y).reshape(-1, 1)
    for (train, test), expect_dist in zip(BalancedKFold(3).split(X, y, groups), expected):
        assert np.intersect1d(groups[train], groups[test]).size == 0
        assert_allclose(np.bincount(y[test]) / len(test), expect_dist, atol=0.001)


def test_stratified_group_kfold_shuffle_preserves_stratification():
    # upstream: test_stratified_group_kfold_shuffle_preserves_stratification
    y = np.array([0] * 12 + [1] * 6)
    X = np.ones((len(y), 1))
    groups = np.array([1, 1, 3, 3, 3, 4, 5, 5, 5, 5, 7, 7, 2, 2, 6, 6, 8, 8])
    expected_class_ratios = np.asarray([2.0 / 3, 1.0 / 3])
    for seed in range(100):
        test_sizes = []
        for train, test in BalancedKFold(3, random_state=seed).split(X, y, groups):
            assert np.intersect1d(groups[train], groups[test]).size == 0
            assert_allclose(np.bincount(y[train]) / len(train), expected_class_ratios, atol=1e-8)
            assert_allclose(np.bincount(y[test]) / len(test), expected_class_ratios, atol=1e-8)
            test_sizes.append(len(test))
        assert np.ptp(test_sizes) <= 1


@pytest.mark.parametrize("cls_distr", [(0.4, 0.6), (0.3, 0.7), (0.2, 0.8), (0.8, 0.2)])
@pytest.mark.parametrize("n_groups", [5, 30, 70])
def test_stratified_group_kfold_against_group_kfold(cls_distr, n_groups):
    # upstream: test_stratified_group_kfold_against_group_kfold; also against
    # StratifiedGroupKFold itself
    n_splits = 5
    rng = np.random.RandomState(0)
    n_points = 1000
    y = rng.choice(2, size=n_points, p=cls_distr)
    X = np.ones_like(y).reshape(-1, 1)
    g = rng.choice(n_groups, n_points)

    def entropy(folds) -> float:
        return sum(stats.entropy(np.bincount(y[test]) / len(test), qk=cls_distr) for _, test in folds) / n_splits

    ours = list(BalancedKFold(n_splits).split(X, y, groups=g))
    for train, test in ours:
        assert np.intersect1d(g[train], g[test]).size == 0
    assert entropy(ours) <= entropy(GroupKFold(n_splits=n_splits).split(X, y, groups=g))
    assert entropy(ours) <= entropy(StratifiedGroupKFold(n_splits=n_splits).split(X, y, groups=g)) + 1e-4


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_group_kfold(seed):
    # upstream: test_group_kfold (global_random_seed: three seeds here)
    rng = np.random.RandomState(seed)
    n_groups, n_samples, n_splits = 15, 1000, 5
    X = y = np.ones(n_samples)
    tolerance = 0.05 * n_samples  # 5 percent error allowed
    groups = rng.randint(0, n_groups, n_samples)
    ideal_n_groups_per_fold = n_samples // n_splits
    folds = np.zeros(n_samples)
    lkf = BalancedKFold(n_splits=n_splits, random_state=seed)
    for i, (_, test) in enumerate(lkf.split(X, y, groups)):
        folds[test] = i
    assert len(folds) == len(groups)
    for i in np.unique(folds):
        assert tolerance >= abs(sum(folds == i) - ideal_n_groups_per_fold)
    for group in np.unique(groups):
        assert len(np.unique(folds[groups == group])) == 1
    groups = np.asarray(groups, dtype=object)
    for train, test in lkf.split(X, y, groups):
        assert len(np.intersect1d(groups[train], groups[test])) == 0

    groups = np.array(["Albert", "Jean", "Bertrand", "Michel", "Jean", "Francis", "Robert", "Michel", "Rachel",
                       "Lois", "Michelle", "Bernard", "Marion", "Laura", "Jean", "Rachel", "Franck", "John", "Gael",
                       "Anna", "Alix", "Robert", "Marion", "David", "Tony", "Abel", "Becky", "Madmood", "Cary",
                       "Mary", "Alexandre", "David", "Francis", "Barack", "Abdoul", "Rasha", "Xi", "Silvia"])
    n_samples = len(groups)
    tolerance = 0.05 * n_samples
    ideal_n_groups_per_fold = n_samples // n_splits
    X = y = np.ones(n_samples)
    folds = np.zeros(n_samples)
    for i, (_, test) in enumerate(lkf.split(X, y, groups)):
        folds[test] = i
    # upstream checks the sizes only without shuffling; curaug's seeded folds keep them
    for i in np.unique(folds):
        assert tolerance >= abs(sum(folds == i) - ideal_n_groups_per_fold)
    for group in np.unique(groups):
        assert len(np.unique(folds[groups == group])) == 1
    groups = np.asarray(groups, dtype=object)
    for train, test in lkf.split(X, y, groups):
        assert len(np.intersect1d(groups[train], groups[test])) == 0
    cv_iter = list(lkf.split(X, y, groups.tolist()))  # groups can be a list
    for (train1, test1), (train2, test2) in zip(BalancedKFold(n_splits, random_state=seed).split(X, y, groups),
                                                cv_iter):
        np.testing.assert_array_equal(train1, train2)
        np.testing.assert_array_equal(test1, test2)
    groups = np.array([1, 1, 1, 2, 2])
    X = y = np.ones(len(groups))
    # upstream: "Cannot have number of splits=3 greater than the number of groups"
    with pytest.raises(ValueError, match="n_splits=3 cannot be greater than the number of groups: 2"):
        next(BalancedKFold(n_splits=3).split(X, y, groups))


def test_repeated_cv_value_errors():
    # upstream: test_repeated_cv_value_errors; checked on use (see the module docstring)
    for n_repeats in (0, 1.5):
        with pytest.raises(ValueError, match=f"n_repeats={n_repeats!r}"):
            RepeatedBalancedKFold(n_repeats=n_repeats).get_n_splits()


def test_repeated_cv_repr():
    # upstream: test_repeated_cv_repr (curaug's default seed is 0, not None)
    cv = RepeatedBalancedKFold(n_splits=2, n_repeats=6)
    assert repr(cv) == "RepeatedBalancedKFold(n_repeats=6, n_splits=2, random_state=0)"


def test_get_n_splits_for_repeated_stratified_kfold():
    # upstream: test_get_n_splits_for_repeated_stratified_kfold
    assert RepeatedBalancedKFold(n_splits=3, n_repeats=4).get_n_splits() == 12


def test_repeated_stratified_kfold_deterministic_split():
    # upstream: test_repeated_stratified_kfold_deterministic_split: the same splits on every
    # call (upstream's indices are those of its shuffling, not curaug's)
    X = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]
    y = [1, 1, 1, 0, 0]
    rskf = RepeatedBalancedKFold(n_splits=2, n_repeats=2, random_state=1944695409)
    first = [(tr.tolist(), te.tolist()) for tr, te in rskf.split(X, y)]
    for _ in range(3):
        splits = rskf.split(X, y)
        for want in first:
            train, test = next(splits)
            assert (train.tolist(), test.tolist()) == want
            assert sorted(train.tolist() + test.tolist()) == list(range(5))
        with pytest.raises(StopIteration):
            next(splits)


def test_nested_cv():
    # upstream: test_nested_cv, with curaug's splitters among scikit-learn's; upstream lets
    # failed fits become NaN scores, here every fit must succeed (error_score="raise")
    rng = np.random.RandomState(0)
    X, y = make_classification(n_samples=15, n_classes=2, random_state=0)
    groups = rng.randint(0, 5, 15)
    cvs = [LeaveOneGroupOut(), StratifiedKFold(n_splits=2), BalancedKFold(n_splits=2), BalancedKFold(n_splits=3),
           RepeatedBalancedKFold(n_splits=2, n_repeats=2), StratifiedGroupKFold(n_splits=3)]
    for inner_cv, outer_cv in combinations_with_replacement(cvs, 2):
        gs = GridSearchCV(DummyClassifier(), param_grid={"strategy": ["stratified", "most_frequent"]}, cv=inner_cv,
                          error_score="raise")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # StratifiedGroupKFold's small-class warning
            if isinstance(outer_cv, RepeatedBalancedKFold) and isinstance(inner_cv, BalancedKFold) \
                    and inner_cv.n_splits == 3:
                # a half of the 5 groups can be 2 groups: 3 inner folds cannot keep them whole
                with pytest.raises(CuraugError, match="n_splits=3 cannot be greater than the number of groups: 2"):
                    cross_val_score(gs, X=X, y=y, groups=groups, cv=outer_cv, params={"groups": groups},
                                    error_score="raise")
                continue
            scores = cross_val_score(gs, X=X, y=y, groups=groups, cv=outer_cv, params={"groups": groups},
                                     error_score="raise")
        assert len(scores) == outer_cv.get_n_splits(X, y, groups) and np.isfinite(scores).all()


def test_yields_constant_splits():
    # upstream: test_yields_constant_splits
    assert _yields_constant_splits(BalancedKFold())
    assert _yields_constant_splits(RepeatedBalancedKFold(random_state=123))
    assert not _yields_constant_splits(BalancedKFold(random_state=None))


@pytest.mark.parametrize("cv", [BalancedKFold(), RepeatedBalancedKFold()], ids=str)
def test_splitter_get_metadata_routing(cv):
    # upstream: test_splitter_get_metadata_routing and test_splitter_set_split_request:
    # both consume groups, like GROUP_SPLITTERS
    from sklearn.tests.metadata_routing_common import assert_request_is_empty

    metadata = cv.get_metadata_routing()
    assert metadata.split.requests["groups"] is True
    assert_request_is_empty(metadata, exclude=["split"])
    assert hasattr(cv, "set_split_request")


@pytest.mark.parametrize("cv", [BalancedKFold(), RepeatedBalancedKFold()], ids=str)
def test_stratified_splitter_without_y(cv):
    # upstream: test_stratified_splitter_without_y
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'y'"):
        cv.split(X)
