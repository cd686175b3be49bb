"""``outliers``: rows far from the rest on their numeric features.

Two methods: ``robust_z`` (per column, ``0.6745 * |x - median| / MAD`` above the
threshold, 3.5 by default as Iglewicz and Hoaglin advise; vectorised, any size) and
``isolation_forest`` (scikit-learn, multivariate; a row is an outlier when its anomaly
score, in (0, 1) as in Liu et al. 2008, is above the threshold, 0.6 by default: the usual
0.5 cut flags about a third of a clustered table such as the penguins). The check fails
when the outlier fraction exceeds ``max_fraction``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check, row_names

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_THRESHOLD = {"robust_z": 3.5, "isolation_forest": 0.6}


def robust_z(X: "np.ndarray") -> "np.ndarray":
    """Modified z-scores per column; a column with MAD 0 falls back to the mean absolute deviation.

    Examples
    --------
    >>> import numpy as np
    >>> z = robust_z(np.array([[1.0], [2.0], [3.0], [4.0], [100.0]]))
    >>> bool(abs(z[4, 0]) > 3.5), bool(abs(z[0, 0]) < 3.5)
    (True, True)
    """
    import numpy as np

    with np.errstate(all="ignore"):
        med = np.nanmedian(X, axis=0)
        dev = np.abs(X - med)
        mad = np.nanmedian(dev, axis=0)
        mean_ad = np.nanmean(dev, axis=0)
        z = np.where(mad > 0, 0.6745 * dev / np.where(mad > 0, mad, 1),
                     np.where(mean_ad > 0, dev / (1.253314 * np.where(mean_ad > 0, mean_ad, 1)), 0.0))
    return np.nan_to_num(z, nan=0.0)


def _numeric_columns(df: "pd.DataFrame", ctx: CheckContext) -> list[str]:
    import pandas as pd

    from curate.checks.features import model_columns

    skip = (ctx.label, ctx.split_col, ctx.group, "id", "fold")
    return [c for c in model_columns(df, skip)
            if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


@register_check("outliers", asked=lambda ctx: ctx.rules.dataset.outliers is not None, default=False,
                whole_table=True)
def check_outliers(ctx: CheckContext) -> list[CheckResult]:
    rule = ctx.rules.dataset.outliers
    if rule is None:
        return []
    import numpy as np

    df = ctx.df
    columns = rule.columns or _numeric_columns(df, ctx)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        return [CheckResult("outliers", False, rule.severity, None, {},
                            f"outliers: column(s) not found: {', '.join(missing)}")]
    if not columns or len(df) < 3:
        return []
    X = df[columns].to_numpy(dtype=float, na_value=np.nan)
    per_column = {}
    threshold = rule.threshold or DEFAULT_THRESHOLD[rule.method]
    if rule.method == "robust_z":
        z = robust_z(X)
        flagged = z > threshold
        mask = flagged.any(axis=1)
        score = z.max(axis=1)
        per_column = {c: int(n) for c, n in zip(columns, flagged.sum(axis=0)) if n}
    else:
        from sklearn.ensemble import IsolationForest

        filled = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)
        forest = IsolationForest(random_state=rule.seed, n_jobs=1).fit(filled)
        score = -forest.score_samples(filled)
        mask = score > threshold
    order = np.flatnonzero(mask)[np.argsort(-score[mask], kind="stable")]
    names = row_names(df).to_numpy()
    fraction = float(mask.mean())
    observed = {"method": rule.method, "threshold": threshold, "columns": columns, "outliers": int(mask.sum()),
                "fraction": round(fraction, 6), "max_fraction": rule.max_fraction, "per_column": per_column,
                "rows": [{"id": str(names[i]), "score": round(float(score[i]), 4)} for i in order[:MAX_OFFENDERS]]}
    details = (f"{observed['outliers']} outlier rows by {rule.method} ({fraction:.2%}, "
               f"limit {rule.max_fraction:.2%})")
    return [CheckResult("outliers", fraction <= rule.max_fraction, rule.severity, None, observed, details,
                        [r["id"] for r in observed["rows"]])]
