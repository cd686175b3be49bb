"""``drift``: does a feature's distribution move between two splits?

For every pair of splits and every feature (numbers, categories, the label, and the first
principal components of embedding columns): PSI and Jensen-Shannon distance above their
small-sample no-drift levels, and a KS (numbers) or chi-square (categories) p-value,
Bonferroni-adjusted over every feature and pair. Augmented copies are left out: they
differ from the real rows by design.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

from curate.checks.base import CheckContext, CheckResult, data_columns, register_check
from curate.checks.split import active, declares, split_rules, splits_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def psi_bins(n_small: int) -> int:
    """Bins for PSI: fewer on small samples, where each bin's share is a noisy estimate.

    Examples
    --------
    >>> psi_bins(70), psi_bins(2000), psi_bins(10)
    (3, 10, 2)
    """
    return int(max(2, min(10, n_small // 20)))


def psi(expected: "np.ndarray", actual: "np.ndarray") -> float:
    """Population stability index between two count vectors.

    Shares are smoothed with half a count per bin, so an empty bin in a small sample does
    not blow the index up (flooring at 1e-4 would add ln(share/1e-4) per empty bin).
    """
    import numpy as np

    expected, actual = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    p = (expected + 0.5) / (expected.sum() + 0.5 * len(expected))
    q = (actual + 0.5) / (actual.sum() + 0.5 * len(actual))
    return float(((q - p) * np.log(q / p)).sum())


def psi_no_drift(bins: int, n1: int, n2: int) -> float:
    """PSI expected between two samples of one distribution: about (B-1)(1/n1 + 1/n2)."""
    return (bins - 1) * (1.0 / max(n1, 1) + 1.0 / max(n2, 1))


def prepare_feature(values: "pd.Series") -> tuple[str, Any] | None:
    """One split's side of a feature, computed once and shared by every pair it is in:
    ``('numeric', sorted floats)`` or ``('categorical', counts per level)``."""
    import numpy as np
    import pandas as pd

    values = values.dropna()
    if len(values) < 2:
        return None
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "numeric", np.sort(values.to_numpy(dtype=float))
    counts = values.value_counts()
    counts.index = counts.index.astype(str)
    return "categorical", counts.groupby(level=0).sum()


def ks_from_sorted(x: "np.ndarray", y: "np.ndarray") -> float:
    """Two-sample Kolmogorov-Smirnov p-value from sorted samples (exact for small ones,
    the limiting distribution when both are large)."""
    import numpy as np
    from scipy import stats

    n1, n2 = len(x), len(y)
    if min(n1, n2) <= 10_000:
        return float(stats.ks_2samp(x, y).pvalue)
    both = np.concatenate([x, y])
    d = np.abs(np.searchsorted(x, both, side="right") / n1 - np.searchsorted(y, both, side="right") / n2).max()
    return ks_pvalue_from_statistic(d, n1, n2)


def ks_pvalue_from_statistic(d: float, n1: int, n2: int) -> float:
    """:func:`ks_from_sorted`'s p-value from the statistic ``d`` when ``max(n1, n2) > 10_000``
    (no exact test): scipy's ``ks_2samp`` asymptotic formula while one sample is small, the
    limiting distribution when both are large."""
    import numpy as np
    from scipy import stats

    if min(n1, n2) <= 10_000:  # what ks_2samp(method="auto") does past 10_000 values
        m, n = sorted([float(n1), float(n2)], reverse=True)
        return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return float(stats.kstwobign.sf(d * np.sqrt(n1 * n2 / (n1 + n2))))


def feature_drift(a: "pd.Series | tuple", b: "pd.Series | tuple") -> dict[str, Any] | None:
    """PSI (above its no-drift expectation), Jensen-Shannon distance and a test p-value
    (KS for numbers, chi-square for categories) for one feature between two samples.

    ``a`` and ``b`` are series or what :func:`prepare_feature` made of them.
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    a = prepare_feature(a) if isinstance(a, pd.Series) else a
    b = prepare_feature(b) if isinstance(b, pd.Series) else b
    if a is None or b is None or a[0] != b[0]:
        return None
    kind = a[0]
    if kind == "numeric":
        x, y = a[1], b[1]
        n1, n2 = len(x), len(y)
        edges = np.unique(x[quantile_ranks(n1, n2)])  # quantiles of the sorted first sample
        ca = np.diff(np.r_[0, np.searchsorted(x, edges, side="right"), n1])
        cb = np.diff(np.r_[0, np.searchsorted(y, edges, side="right"), n2])
        p = ks_from_sorted(x, y)
        test = "ks"
    else:
        levels = a[1].index.union(b[1].index)
        ca = a[1].reindex(levels, fill_value=0).to_numpy()
        cb = b[1].reindex(levels, fill_value=0).to_numpy()
        n1, n2 = int(ca.sum()), int(cb.sum())
        table = np.vstack([ca, cb])
        table = table[:, table.sum(axis=0) > 0]
        p = float(stats.chi2_contingency(table)[1]) if table.shape[1] > 1 else 1.0
        test = "chi2"
    return drift_figures(kind, ca, cb, n1, n2, p, test)


def quantile_ranks(n1: int, n2: int) -> "np.ndarray":
    """0-based ranks, in the sorted first sample (``n1`` values), of the inner PSI bin edges.

    Examples
    --------
    >>> quantile_ranks(100, 60).tolist()
    [33, 66]
    """
    import numpy as np

    cut = np.linspace(0, 1, psi_bins(min(n1, n2)) + 1)[1:-1]
    return np.minimum((cut * n1).astype(int), n1 - 1)


def drift_figures(kind: str, ca: "np.ndarray", cb: "np.ndarray", n1: int, n2: int, p: float,
                  test: str) -> dict[str, Any]:
    """:func:`feature_drift`'s figures from the two samples' counts per bin (or level) and
    the test's p-value."""
    import numpy as np

    value = psi(ca, cb)
    baseline = psi_no_drift(len(ca), n1, n2)
    js = js_distance(ca, cb)
    # JS divergence ~ PSI / 8 nats near no drift, so its no-drift level follows PSI's
    js_base = float(np.sqrt(baseline / (8 * np.log(2))))
    return {"kind": kind, "psi": round(value, 6), "psi_no_drift": round(baseline, 6),
            "psi_excess": round(max(0.0, value - baseline), 6), "js": round(js, 6),
            "js_no_drift": round(js_base, 6), "js_excess": round(float(np.sqrt(max(0.0, js**2 - js_base**2))), 6),
            "test": test, "pvalue": p, "bins": int(len(ca))}


def js_distance(ca: "np.ndarray", cb: "np.ndarray") -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two count vectors.

    Examples
    --------
    >>> js_distance([10, 0], [0, 10]), js_distance([5, 5], [50, 50])
    (1.0, 0.0)
    """
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    ca, cb = np.asarray(ca, dtype=float), np.asarray(cb, dtype=float)
    if ca.sum() == 0 or cb.sum() == 0:
        return 0.0
    return float(np.nan_to_num(jensenshannon(ca / ca.sum(), cb / cb.sum(), base=2)))


def embedding_components(df: "pd.DataFrame", columns: list[str], k: int = 3) -> "pd.DataFrame":
    """The first ``k`` principal components of each embedding column (fitted on all rows),
    as numeric columns ``COL:pc1``..., so embeddings drift like any numeric feature."""
    import numpy as np
    import pandas as pd

    from curate.checks.features import embedding_matrix

    out = {}
    for c in columns:
        m = embedding_matrix(df[c])
        ok = ~np.isnan(m).any(axis=1)
        if ok.sum() < 3:
            continue
        centred = m[ok] - m[ok].mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        comps = np.full((len(m), min(k, vt.shape[0])), np.nan)
        comps[ok] = centred @ vt[: comps.shape[1]].T
        for i in range(comps.shape[1]):
            out[f"{c}:pc{i + 1}"] = comps[:, i]
    return pd.DataFrame(out, index=df.index)


@register_check("drift", asked=declares("max_drift"))
def check_drift(ctx: CheckContext) -> list[CheckResult]:
    if not active(ctx):
        return []
    rules = split_rules(ctx)
    from curate.rules.schema import DriftRule

    from curate.checks.features import MEDIA_METADATA, is_embedding, original_rows

    rule = rules.max_drift or DriftRule(psi=0.2, ks_pvalue=0.001)
    df = original_rows(ctx.df)
    keep = tuple(c for c in MEDIA_METADATA if c in df.columns)
    candidates = [c for c in data_columns(df, keep) if c not in (ctx.split_col, ctx.group, ctx.label)]
    missing = [c for c in rule.embeddings if c not in df.columns]
    if missing:
        return [CheckResult("drift", False, rule.severity, None, {},
                            f"embedding column(s) not found: {', '.join(missing)}")]
    embeddings = list(rule.embeddings) + [c for c in candidates if c not in rule.embeddings and is_embedding(df[c])]
    features = [c for c in candidates if c not in embeddings and _driftable(df[c])]
    if embeddings:
        comps = embedding_components(df, embeddings)
        df = df.join(comps)
        features += list(comps.columns)
    if ctx.label:
        features.append(ctx.label)
    rows = df.groupby(df[ctx.split_col].astype(str), sort=False).indices
    splits = [s for s in splits_of(ctx) if s in rows]
    pairs = list(combinations(splits, 2))
    prepared = {(s, f): prepare_feature(df[f].iloc[rows[s]]) for s in splits for f in features}
    return drift_results(rule, pairs, features, pair_drift(pairs, features, prepared), embeddings)


def pair_drift(pairs: list[tuple[str, str]], features: list[str], prepared: dict) -> dict:
    """:func:`feature_drift` of every feature between the two splits of every pair, from
    each (split, feature)'s prepared values; features with nothing to compare left out."""
    figures = {}
    for s1, s2 in pairs:
        for f in features:
            fig = feature_drift(prepared[(s1, f)], prepared[(s2, f)])
            if fig is not None:
                figures[(s1, s2, f)] = fig
    return figures


def drift_results(rule, pairs: list[tuple[str, str]], features: list[str],
                  figures: dict[tuple[str, str, str], dict[str, Any]], embeddings: list[str]) -> list[CheckResult]:
    """One ``drift`` result per pair of splits from every (pair, feature)'s figures
    (:func:`feature_drift`), p-values Bonferroni-adjusted over them all."""
    n_tests = max(len(figures), 1)
    results = []
    for s1, s2 in pairs:
        per = {f: figures[(s1, s2, f)] for f in features if (s1, s2, f) in figures}
        drifted = []
        for f, fig in per.items():
            fig["pvalue_adjusted"] = min(1.0, fig["pvalue"] * n_tests)  # Bonferroni over features x pairs
            reasons = []
            if rule.psi is not None and fig["psi_excess"] > rule.psi:
                reasons.append(f"PSI {fig['psi']:.3f} (no-drift level {fig['psi_no_drift']:.3f})")
            if rule.ks_pvalue is not None and fig["pvalue_adjusted"] < rule.ks_pvalue:
                reasons.append(f"{fig['test']} p={fig['pvalue_adjusted']:.2g} (adjusted)")
            if rule.js is not None and fig["kind"] == "categorical" and fig["js_excess"] > rule.js:
                reasons.append(f"Jensen-Shannon {fig['js']:.3f} (no-drift level {fig['js_no_drift']:.3f})")
            if reasons:
                drifted.append(f"{f}: {' and '.join(reasons)}")
        observed = {"pair": [s1, s2], "features": per, "drifted": drifted, "psi": rule.psi,
                    "pvalue": rule.ks_pvalue, "js": rule.js, "embeddings": embeddings, "correction": "bonferroni", "tests": n_tests}
        details = (f"{s1} vs {s2}: " + ("; ".join(drifted) if drifted else f"no drift in {len(per)} features"))
        results.append(CheckResult("drift", not drifted, rule.severity, None, observed, details))
    return results


def _driftable(col: "pd.Series") -> bool:
    import pandas as pd

    from curate.checks.features import is_categorical

    if pd.api.types.is_numeric_dtype(col):
        return True
    try:
        return is_categorical(col)  # free text is not a category
    except TypeError:  # unhashable cells (lists, dicts) that are not embeddings
        return False
