"""``outliers``: rows far from the rest on their numeric features.

Two methods: ``robust_z`` (per column, ``0.6745 * |x - median| / MAD`` above the
threshold, 3.5 by default as Iglewicz and Hoaglin advise; vectorised, any size) and
``isolation_forest`` (scikit-learn, multivariate; a row is an outlier when its anomaly
score, in (0, 1) as in Liu et al. 2008, is above the threshold, 0.6 by default: the usual
0.5 cut flags about a third of a clustered table such as the penguins). The check fails
when the outlier fraction exceeds ``max_fraction``.

A reduction over the table (:mod:`curate.io.frames`), exact on any partitioning: the
column medians, and the median absolute deviations from them, are order statistics
(:func:`curate.checks.quantiles.order_statistics`: the values gathered where they are few,
histogram passes otherwise); the mean absolute deviation (where the MAD is 0) is an exact
sum. Each partition then scores its rows and keeps its worst 20. The forest is fitted on
every row in memory; on a partitioned table on at most
:data:`curate.checks.sample.MAX_FIT_ROWS` rows (a sample beyond, which the result states),
and it scores every row where the row is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check
from curate.checks.quantiles import order_statistics
from curate.checks.sample import fit_rows, sample_note
from curate.io.frames import ORDER

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from curate.io.frames import Frame

DEFAULT_THRESHOLD = {"robust_z": 3.5, "isolation_forest": 0.6}


def robust_z(X: "np.ndarray", med: "np.ndarray", mad: "np.ndarray", mean_ad: "np.ndarray") -> "np.ndarray":
    """Modified z-scores per column from each column's median, MAD and mean absolute
    deviation; a column with MAD 0 falls back to the mean absolute deviation.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    >>> med = np.nanmedian(X, axis=0)
    >>> dev = np.abs(X - med)
    >>> z = robust_z(X, med, np.nanmedian(dev, axis=0), np.nanmean(dev, axis=0))
    >>> bool(abs(z[4, 0]) > 3.5), bool(abs(z[0, 0]) < 3.5)
    (True, True)
    """
    import numpy as np

    with np.errstate(all="ignore"):
        dev = np.abs(X - med)
        z = np.where(mad > 0, 0.6745 * dev / np.where(mad > 0, mad, 1),
                     np.where(mean_ad > 0, dev / (1.253314 * np.where(mean_ad > 0, mean_ad, 1)), 0.0))
    return np.nan_to_num(z, nan=0.0)


def _numeric_columns(meta: "pd.DataFrame", ctx: CheckContext) -> list[str]:
    import pandas as pd

    from curate.checks.features import model_columns

    skip = (ctx.label, ctx.split_col, ctx.group, "id", "fold")
    return [c for c in model_columns(meta, skip)
            if pd.api.types.is_numeric_dtype(meta[c]) and not pd.api.types.is_bool_dtype(meta[c])]


def _matrix(part: "pd.DataFrame", columns: list[str]) -> "np.ndarray":
    import numpy as np

    return part[columns].to_numpy(dtype=float, na_value=np.nan)


def medians(frame: "Frame", columns: list[str]) -> "np.ndarray":
    """``np.nanmedian`` of each column over the whole table (NaN for a column of missing
    values), from its one or two middle order statistics."""
    return _median_of(frame, columns, lambda part: _matrix(part, columns))


def _median_of(frame: "Frame", columns: list[str], values: Callable[["pd.DataFrame"], "np.ndarray"]) -> "np.ndarray":
    """The median of each column of ``values(partition)``, missing values left out, as
    ``np.nanmedian`` has it: the middle value, or the mean of the two middle ones."""
    import numpy as np

    def present(part: "pd.DataFrame") -> dict[int, "np.ndarray"]:
        M = values(part)
        return {j: M[:, j][~np.isnan(M[:, j])] for j in range(M.shape[1])}

    found = order_statistics(frame, present, lambda n: [(n - 1) // 2, n // 2] if n else [], columns)
    with np.errstate(all="ignore"):
        return np.array([np.nan if not found.get(j) else
                         found[j][min(found[j])] if len(found[j]) == 1 else
                         (found[j][min(found[j])] + found[j][max(found[j])]) / 2 for j in range(len(columns))])


def _spreads(frame: "Frame", columns: list[str], med: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
    """``(MAD, mean absolute deviation)`` of each column from its median ``med``; the mean
    from an exact sum, so it does not depend on the partitioning."""
    import math
    from fractions import Fraction

    import numpy as np

    from curate.rules.evaluate import exact_sum

    def deviations(part: "pd.DataFrame") -> "np.ndarray":
        with np.errstate(all="ignore"):
            return np.abs(_matrix(part, columns) - med)

    def sums(part: "pd.DataFrame") -> list[tuple[int, list[float]]]:
        dev = deviations(part)
        return [(int((~np.isnan(dev[:, j])).sum()), exact_sum(dev[:, j][~np.isnan(dev[:, j])]))
                for j in range(len(columns))]

    def mean(pieces: list, j: int) -> float:
        count = sum(p[j][0] for p in pieces)
        parts = [x for p in pieces for x in p[j][1]]
        if not count:
            return math.nan
        if not all(map(math.isfinite, parts)):
            return float(sum(parts)) / count  # an infinite deviation: the mean is infinite (or NaN)
        return float(sum(map(Fraction, parts)) / count)

    mad = _median_of(frame, columns, deviations)
    mean_ad = frame.reduce(sums, lambda pieces: np.array([mean(pieces, j) for j in range(len(columns))]), columns)
    return mad, mean_ad


@register_check("outliers", asked=lambda ctx: ctx.rules.dataset.outliers is not None, default=False)
def check_outliers(ctx: CheckContext) -> list[CheckResult]:
    rule = ctx.rules.dataset.outliers
    if rule is None:
        return []
    import numpy as np

    frame = ctx.frame
    columns = rule.columns or _numeric_columns(frame.meta, ctx)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return [CheckResult("outliers", False, rule.severity, None, {},
                            f"outliers: column(s) not found: {', '.join(missing)}")]
    if not columns or frame.rows < 3:
        return []
    threshold = rule.threshold or DEFAULT_THRESHOLD[rule.method]
    med = medians(frame, columns)
    sample = None
    if rule.method == "robust_z":
        mad, mean_ad = _spreads(frame, columns, med)

        def scores(X: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
            z = robust_z(X, med, mad, mean_ad)
            flagged = z > threshold
            return flagged.any(axis=1), z.max(axis=1), flagged.sum(axis=0)
    else:
        from sklearn.ensemble import IsolationForest

        rows, sample = fit_rows(frame, columns)
        X = _matrix(rows, columns)
        forest = IsolationForest(random_state=rule.seed, n_jobs=1).fit(np.where(np.isnan(X), med, X))

        def scores(X: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
            score = -forest.score_samples(np.where(np.isnan(X), med, X))
            return score > threshold, score, np.zeros(len(columns), dtype=np.int64)

    def partial(part: "pd.DataFrame") -> tuple[int, int, "np.ndarray", list[tuple[float, int]]]:
        mask, score, per_column = scores(_matrix(part, columns))
        at = np.flatnonzero(mask)
        worst = at[np.argsort(-score[at], kind="stable")[:MAX_OFFENDERS]]
        orders = part[ORDER].to_numpy()[worst]
        return len(part), int(mask.sum()), per_column, list(zip(score[worst].tolist(), orders.tolist()))

    def combine(pieces: list) -> tuple[int, int, "np.ndarray", list[tuple[float, int]]]:
        worst = sorted((row for p in pieces for row in p[3]), key=lambda row: (-row[0], row[1]))[:MAX_OFFENDERS]
        return sum(p[0] for p in pieces), sum(p[1] for p in pieces), np.sum([p[2] for p in pieces], axis=0), worst

    n, flagged, per_column, worst = frame.reduce(partial, combine, columns, order=True)
    names = frame.names_at([order for _, order in worst])
    fraction = flagged / n
    observed: dict[str, Any] = {
        "method": rule.method, "threshold": threshold, "columns": columns, "outliers": flagged,
        "fraction": round(fraction, 6), "max_fraction": rule.max_fraction,
        "per_column": {c: int(k) for c, k in zip(columns, per_column) if k} if rule.method == "robust_z" else {},
        "rows": [{"id": str(name), "score": round(float(score), 4)} for name, (score, _) in zip(names, worst)]}
    if sample is not None:
        observed["sample"] = sample
    details = (f"{flagged} outlier rows by {rule.method} ({fraction:.2%}, "
               f"limit {rule.max_fraction:.2%}){sample_note(sample)}")
    return [CheckResult("outliers", fraction <= rule.max_fraction, rule.severity, None, observed, details,
                        [r["id"] for r in observed["rows"]])]
