"""Normalisers: z-score, min-max, PCA and ZCA whitening, as scikit-learn transformers.

Fitted on the training rows only (never let val/test drive a statistic), applied to every
row; the fitted parameters round-trip through JSON so ``curaug clean --apply`` re-applies
them to new data. Missing values are ignored when fitting and stay missing when
transforming (for whitening, a row with any missing input gives missing outputs).

ZCA: ``W = U diag(1/sqrt(λ + ε)) Uᵀ`` with ``Σ = U diag(λ) Uᵀ`` the covariance of the
fitted rows. ``ε = 0`` (the default) whitens exactly and refuses a singular covariance;
``ε > 0`` regularises it (in the data's squared units, as ``Σ + εI``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from curate.clean.base import fit_rows, require_columns
from curate.errors import CuraugError
from curate.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

#: Eigenvalues below this fraction of the largest make the covariance numerically singular.
SINGULAR_RTOL = 1e-12


class _Normalizer(TransformerMixin, BaseEstimator):
    method = ""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _fit_input(self, X) -> np.ndarray:
        return validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=True)

    def _input(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)

    def get_params_json(self) -> dict[str, Any]:
        """The fitted parameters as JSON-ready lists (see :func:`from_params_json`)."""
        check_is_fitted(self)
        out: dict[str, Any] = {"method": self.method, "params": self.get_params()}
        for name in self._fitted:
            out[name] = np.asarray(getattr(self, name)).tolist()
        return out


class ZScore(OneToOneFeatureMixin, _Normalizer):
    """Standardise each column to mean 0 and standard deviation 1.

    Parameters
    ----------
    ddof : int, default 0
        Delta degrees of freedom of the standard deviation: 0 divides by n, as
        scikit-learn's ``StandardScaler`` does (the fitted rows come out with standard
        deviation exactly 1); 1 divides by n - 1 (the sample standard deviation, which
        curaug used before version 0.1's third turn).

    Examples
    --------
    >>> z = ZScore().fit([[1.0], [3.0], [5.0], [7.0]])
    >>> z.transform([[4.0], [7.0]]).ravel().round(4).tolist()
    [0.0, 1.3416]
    >>> float(z.transform([[1.0], [3.0], [5.0], [7.0]]).std())
    1.0
    """

    method = "zscore"
    _fitted = ("mean_", "scale_")

    def __init__(self, ddof: int = 0):
        self.ddof = ddof

    def fit(self, X, y=None):
        X = self._fit_input(X)
        if not isinstance(self.ddof, (int, np.integer)) or isinstance(self.ddof, bool) or self.ddof not in (0, 1):
            raise CuraugError(f"ddof must be 0 (population) or 1 (sample), got ddof={self.ddof!r}")
        self.mean_ = np.nanmean(X, axis=0) if len(X) else np.zeros(X.shape[1])
        std = np.nanstd(X, axis=0, ddof=self.ddof) if len(X) > self.ddof else np.ones(X.shape[1])
        self.scale_ = np.where((std > 0) & np.isfinite(std), std, 1.0)
        return self

    def transform(self, X):
        return (self._input(X) - self.mean_) / self.scale_

    def inverse_transform(self, X):
        return self._input(X) * self.scale_ + self.mean_


class MinMax(OneToOneFeatureMixin, _Normalizer):
    """Rescale each column to [0, 1] over the fitted rows (values outside stay outside)."""

    method = "minmax"
    _fitted = ("min_", "scale_")

    def fit(self, X, y=None):
        X = self._fit_input(X)
        lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        span = hi - lo
        self.min_ = lo
        self.scale_ = np.where((span > 0) & np.isfinite(span), span, 1.0)
        return self

    def transform(self, X):
        return (self._input(X) - self.min_) / self.scale_

    def inverse_transform(self, X):
        return self._input(X) * self.scale_ + self.min_


class _Whitener(_Normalizer):
    _fitted = ("mean_", "components_", "eigenvalues_", "whitening_", "dewhitening_")

    def __init__(self, epsilon: float = 0.0):
        self.epsilon = epsilon

    def fit(self, X, y=None):
        X = self._fit_input(X)
        complete = X[~np.isnan(X).any(axis=1)]
        if len(complete) < 2:
            raise CuraugError(f"{self.method} whitening needs at least 2 complete rows to fit, "
                            f"got n_samples={len(complete)}")
        self.mean_ = complete.mean(axis=0)
        cov = np.cov(complete - self.mean_, rowvar=False).reshape(X.shape[1], X.shape[1])
        eigenvalues, vectors = np.linalg.eigh(cov)
        top = max(float(eigenvalues.max()), 0.0)
        rank = int((eigenvalues > SINGULAR_RTOL * top).sum()) if top > 0 else 0
        if rank < X.shape[1] and self.epsilon <= 0:
            raise CuraugError(
                f"{self.method} whitening: the covariance of the fitted rows is singular (rank {rank} of "
                f"{X.shape[1]}: constant or linearly dependent columns); drop a column or set "
                f"epsilon > 0 to regularise")
        shrink = 1.0 / np.sqrt(np.clip(eigenvalues, 0, None) + self.epsilon)
        self.eigenvalues_ = eigenvalues
        self.components_ = vectors
        self.whitening_ = self._whitening(vectors, shrink)
        self.dewhitening_ = np.linalg.pinv(self.whitening_)
        return self

    def transform(self, X):
        X = self._input(X)
        out = (X - self.mean_) @ self.whitening_.T
        out[np.isnan(X).any(axis=1)] = np.nan
        return out

    def inverse_transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        check_is_fitted(self)
        return X @ self.dewhitening_.T + self.mean_


class ZCAWhitener(OneToOneFeatureMixin, _Whitener):
    """ZCA (Mahalanobis) whitening: identity covariance, outputs closest to the inputs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3)) @ [[2, 0, 0], [1, 1, 0], [0, 0.5, 3]]
    >>> Z = ZCAWhitener(epsilon=0).fit_transform(X)
    >>> bool(np.allclose(np.cov(Z, rowvar=False), np.eye(3), atol=1e-6))
    True
    """

    method = "zca"

    @staticmethod
    def _whitening(vectors, shrink):
        return (vectors * shrink) @ vectors.T


class PCAWhitener(_Whitener):
    """PCA whitening: decorrelated unit-variance components, largest variance first."""

    method = "pca"

    @staticmethod
    def _whitening(vectors, shrink):
        order = np.argsort(-(1.0 / shrink))
        return (vectors * shrink).T[order]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray([f"pca_{i + 1}" for i in range(self.n_features_in_)], dtype=object)


#: ``normalize: {method: NAME}`` to the transformer class; third parties add theirs through
#: the ``curaug.normalizers`` entry point group (a scikit-learn transformer with
#: ``get_params_json`` and ``_fitted``, like the classes here).
NORMALIZERS: Registry[type[_Normalizer]] = Registry("normaliser", entry_points="curaug.normalizers")
for _cls in (ZScore, MinMax, PCAWhitener, ZCAWhitener):
    NORMALIZERS.register(_cls.method, _cls)


def make_normalizer(method: str, epsilon: float | None = None, ddof: int | None = None) -> _Normalizer:
    """A fresh normaliser by name with the parameters given (``None``: its default)."""
    given = {name: value for name, value in (("epsilon", epsilon), ("ddof", ddof)) if value is not None}
    check_parameters(method, given)
    return NORMALIZERS.get(method)(**given)


def check_parameters(method: str, given: "dict[str, Any]") -> None:
    """Refuse a parameter the named normaliser does not take, naming those that do."""
    takes = NORMALIZERS.get(method)().get_params()
    for name in given:
        if name not in takes:
            others = [n for n in NORMALIZERS.names() if name in NORMALIZERS.get(n)().get_params()]
            raise CuraugError(f"'{name}' applies to {' and '.join(others)}, not to '{method}'")


def from_params_json(params: dict[str, Any]) -> _Normalizer:
    """Rebuild a fitted normaliser from :meth:`get_params_json` output."""
    method = params.get("method")
    try:
        cls = NORMALIZERS.get(str(method))
    except CuraugError as exc:
        raise CuraugError(f"normaliser parameters: {exc}") from None
    est = cls(**params.get("params", {}))
    try:
        for name in est._fitted:
            setattr(est, name, np.asarray(params[name], dtype=np.float64))
    except KeyError as exc:
        raise CuraugError(f"normaliser parameters lack '{exc.args[0]}'") from None
    est.n_features_in_ = len(np.atleast_1d(est.mean_ if hasattr(est, "mean_") else est.min_))
    return est


# ---------------------------------------------------------- on a table


#: Key of ``DataFrame.attrs`` (kept in Parquet files) saying which columns a normaliser
#: changed, so a later validation does not judge them by raw-unit rules.
NORMALIZED_ATTR = "curaug_normalized"


def normalizer_params_path(output: "str | os.PathLike") -> str:
    """Where ``curaug clean`` writes the fitted normaliser: beside the output,
    ``<stem>.normalize.json``."""
    from pathlib import Path

    out = Path(output)
    return str(out.with_name(out.stem + ".normalize.json"))


def note_normalization(df: "pd.DataFrame", path: "str | os.PathLike") -> "pd.DataFrame":
    """``df`` read from ``path``, with :data:`NORMALIZED_ATTR` set from the fitted parameters
    ``curaug clean`` wrote beside it when the format kept no attributes (CSV, JSON lines)."""
    if NORMALIZED_ATTR not in df.attrs:
        record = _normalization_record(path)
        if record:
            df.attrs[NORMALIZED_ATTR] = record
    return df


def _normalization_record(path: "str | os.PathLike") -> dict[str, Any] | None:
    import json
    from pathlib import Path

    params = Path(normalizer_params_path(path))
    if not params.is_file() or params.stat().st_mtime_ns < Path(path).stat().st_mtime_ns:
        return None  # none, or left from an earlier output (clean writes the table first)
    try:
        fitted = json.loads(params.read_text(encoding="utf-8"))
        columns = list(fitted["columns"])
        replaced = [str(n) for n in from_params_json(fitted).get_feature_names_out(columns)] == columns
    except (ValueError, KeyError, TypeError):
        return None
    return {"method": fitted["method"], "columns": columns, "fit_on": fitted.get("fit_on", "all"),
            "replaced": replaced}


def normalize_frame(df: "pd.DataFrame", spec: Any, split_col: str | None):
    """Fit the normaliser on the ``fit_on`` rows and apply it to every row."""
    require_columns(df, spec.columns, "normalize")
    fit = fit_rows(df, split_col, spec.fit_on)
    est = make_normalizer(spec.method, spec.epsilon, spec.ddof)
    est.fit(_numeric(fit, spec.columns))
    params = {**est.get_params_json(), "columns": list(spec.columns),
              "fit_on": spec.fit_on or ("train" if split_col else "all"), "fitted_rows": int(len(fit))}
    out = apply_normalizer(df, params, est)
    entry = {"action": "normalize", "method": spec.method, "columns": list(spec.columns),
             "fit_on": params["fit_on"], "fitted_rows": params["fitted_rows"], "rows_transformed": int(len(df)),
             "reason": f"{spec.method} fitted on {params['fit_on']} rows"}
    return out, params, entry


def apply_normalizer(df: "pd.DataFrame", params: dict[str, Any], est=None) -> "pd.DataFrame":
    """Apply fitted parameters (from :func:`normalize_frame` or a params JSON) to ``df``."""
    columns = params.get("columns") or []
    require_columns(df, columns, "normalize")
    est = est or from_params_json(params)
    values = est.transform(_numeric(df, columns))
    out = df.copy()
    names = [str(n) for n in est.get_feature_names_out(columns)]
    if names == list(columns):
        out[columns] = values
        out.attrs[NORMALIZED_ATTR] = {"method": params["method"], "columns": list(columns),
                                      "fit_on": params.get("fit_on", "all"), "replaced": True}
        return out
    # new features (PCA components): every input column stays, the components are added
    clash = [n for n in names if n in out.columns]
    if clash:
        raise CuraugError(f"normalize: output column(s) {', '.join(clash)} already exist in the data; "
                          "rename them first")
    for i, name in enumerate(names):
        out[name] = values[:, i]
    return out


def _numeric(df: "pd.DataFrame", columns: list[str]):
    import numpy as np
    import pandas as pd

    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise CuraugError(f"normalize: column(s) {', '.join(bad)} are not numeric")
    return df[columns].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
