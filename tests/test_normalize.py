from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from curate.clean.steps import clean
from curate.clean.normalize import MinMax, PCAWhitener, ZCAWhitener, ZScore, from_params_json
from curate.rules.schema import parse_rules


def _correlated(seed: int, n: int = 400, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d) * 10


@pytest.mark.parametrize("cls", [ZCAWhitener, PCAWhitener])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whitened_covariance_is_identity(cls, seed):
    Z = cls().fit_transform(_correlated(seed))
    assert np.allclose(np.cov(Z, rowvar=False), np.eye(4), atol=1e-6)
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-9)


def test_zca_stays_most_correlated_with_its_inputs():
    X = _correlated(5)
    zca, pca = ZCAWhitener().fit_transform(X), PCAWhitener().fit_transform(X)

    def own_corr(Z):
        return np.array([np.corrcoef(X[:, j], Z[:, j])[0, 1] for j in range(X.shape[1])])

    assert (own_corr(zca) > 0).all()
    # ZCA minimises ||X_std - Z||: each output tracks its own input better than a rotated whitening does
    assert own_corr(zca).sum() > np.abs(own_corr(pca)).sum()
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    assert own_corr(zca).sum() > np.abs(own_corr(zca @ q.T)).sum()


def test_fitted_on_train_only_and_applied_to_all():
    X = _correlated(7, n=300)
    split = np.array(["train"] * 180 + ["val"] * 60 + ["test"] * 60)
    X[split == "test"] += 5.0  # shifted test data must not move the fitted statistics
    df = pd.DataFrame(X, columns=list("abcd")).assign(split=split)
    res = clean(df, parse_rules({"normalize": {"method": "zca", "columns": list("abcd")}}))
    out = res.data[list("abcd")].to_numpy()
    train = out[split == "train"]
    assert np.allclose(np.cov(train, rowvar=False), np.eye(4), atol=1e-6)
    assert res.normalizer["fit_on"] == "train" and res.normalizer["fitted_rows"] == 180
    assert np.allclose(res.normalizer["mean_"], X[split == "train"].mean(axis=0))
    assert not np.allclose(out[split == "test"].mean(axis=0), 0, atol=0.5)
    assert (res.data["split"] == df["split"]).all()


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 30), st.integers(1, 4)), elements=finite),
       st.sampled_from([ZScore, MinMax]))
def test_elementwise_normalisers_invert(X, cls):
    est = cls().fit(X)
    Z = est.transform(X)
    assert Z.shape == X.shape
    assert np.allclose(est.inverse_transform(Z), X, atol=1e-6 * (1 + np.abs(X).max()))
    again = from_params_json(est.get_params_json())
    assert np.allclose(again.transform(X), Z)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.sampled_from([ZCAWhitener, PCAWhitener]))
def test_whiteners_invert_and_round_trip_json(seed, d, cls):
    X = _correlated(seed, n=60, d=d)
    est = cls().fit(X)
    Z = est.transform(X)
    assert Z.shape == X.shape
    assert np.allclose(est.inverse_transform(Z), X, atol=1e-6 * np.abs(X).max())
    assert np.allclose(from_params_json(est.get_params_json()).transform(X), Z)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(4, 30), st.integers(1, 3)), elements=finite),
       st.data())
def test_missing_values_are_ignored_in_fit_and_kept(X, data):
    holes = data.draw(arrays(np.bool_, X.shape))
    holes[0] = False  # at least one complete row
    holes[1] = False
    Xn = X.copy()
    Xn[holes] = np.nan
    for cls in (ZScore, MinMax):
        Z = cls().fit(Xn).transform(Xn)
        assert np.array_equal(np.isnan(Z), holes)
    if np.linalg.matrix_rank(np.cov(Xn[~holes.any(axis=1)], rowvar=False).reshape(X.shape[1], -1)) == X.shape[1]:
        Z = ZCAWhitener(epsilon=1e-9).fit(Xn).transform(Xn)
        assert np.array_equal(np.isnan(Z).any(axis=1), holes.any(axis=1))


def test_scikit_learn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    for est in (ZScore(), MinMax(), ZCAWhitener(epsilon=1e-3), PCAWhitener(epsilon=1e-3)):
        failed = [r for r in check_estimator(est, on_fail=None) if r["status"] == "failed"]
        assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]


def test_usable_in_a_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    X = _correlated(11, n=200)
    y = (X[:, 0] + X[:, 1] > np.median(X[:, 0] + X[:, 1])).astype(int)
    scores = cross_val_score(make_pipeline(ZCAWhitener(), LogisticRegression()), X, y, cv=3)
    assert scores.mean() > 0.9


def test_pca_keeps_every_input_column_and_adds_the_components():
    X = _correlated(3, n=120, d=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(id=[f"r{i}" for i in range(120)])
    res = clean(df, parse_rules({"normalize": {"method": "pca", "columns": ["a", "b", "c"]}}))
    assert list(res.data.columns) == ["a", "b", "c", "id", "pca_1", "pca_2", "pca_3"]
    pd.testing.assert_frame_equal(res.data[df.columns], df)  # inputs untouched, row order kept
    Z = res.data[["pca_1", "pca_2", "pca_3"]].to_numpy()
    assert np.allclose(np.cov(Z, rowvar=False), np.eye(3), atol=1e-6)
    clash = df.assign(pca_2=0.0)
    with pytest.raises(ValueError, match="pca_2 already exist"):
        clean(clash, parse_rules({"normalize": {"method": "pca", "columns": ["a", "b", "c"]}}))


def test_normalisers_come_from_one_registry():
    from curate.clean.normalize import NORMALIZERS, make_normalizer
    from curate.errors import CuraugError

    assert NORMALIZERS.names() == ["zscore", "minmax", "pca", "zca"]
    assert make_normalizer("zca", epsilon=0.5).epsilon == 0.5 and isinstance(make_normalizer("zscore"), ZScore)
    with pytest.raises(CuraugError, match="unknown normaliser 'zcaa' .did you mean 'zca'"):
        parse_rules({"normalize": {"method": "zcaa", "columns": ["a"]}})


def test_zscore_matches_standard_scaler_with_population_std():
    """Four rows come out with standard deviation exactly 1, as StandardScaler gives (the
    sample std made it 0.866); ``ddof=1`` keeps the sample standard deviation on request."""
    from sklearn.preprocessing import StandardScaler

    X = np.array([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0], [9.0, 60.0]])
    Z = ZScore().fit_transform(X)
    assert np.allclose(Z, StandardScaler().fit_transform(X)) and np.allclose(Z.std(axis=0), 1.0)
    assert np.allclose(ZScore(ddof=1).fit_transform(X).std(axis=0, ddof=1), 1.0)
    with pytest.raises(ValueError, match="ddof must be 0 .population. or 1 .sample., got ddof=2"):
        ZScore(ddof=2).fit(X)


def test_rules_file_zscore_follows_and_takes_ddof():
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0, 9.0], "id": list("wxyz")})
    out = clean(df, parse_rules({"normalize": {"method": "zscore", "columns": ["a"]}})).data
    assert out["a"].std(ddof=0) == pytest.approx(1.0)
    sample = clean(df, parse_rules({"normalize": {"method": "zscore", "columns": ["a"], "ddof": 1}})).data
    assert sample["a"].std(ddof=1) == pytest.approx(1.0)
    from curate.errors import CuraugError

    with pytest.raises(CuraugError, match="'ddof' applies to zscore, not to 'zca'"):
        parse_rules({"normalize": {"method": "zca", "columns": ["a"], "ddof": 1}})
    with pytest.raises(CuraugError, match="'epsilon' applies to pca and zca, not to 'minmax'"):
        parse_rules({"normalize": {"method": "minmax", "columns": ["a"], "epsilon": 0.1}})
