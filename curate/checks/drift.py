"""``drift``: does a feature's distribution move between two splits?

For every pair of splits and every feature (numbers, categories, the label, and the first
principal components of embedding columns): PSI and Jensen-Shannon distance above their
small-sample no-drift levels, and a KS (numbers) or chi-square (categories) p-value,
Bonferroni-adjusted over every feature and pair. Augmented copies are left out: they
differ from the real rows by design.

A reduction over the table (:mod:`curate.io.frames`): categories as counts per (split,
level); numbers gathered per split where a feature has at most
:data:`curate.checks.quantiles.COLLECT_VALUES` values (or a split at most
:data:`KS_EXACT_MAX`, whose exact p-value needs them), otherwise the PSI quantiles, the
counts per bin and the KS statistic from exact histogram passes (:class:`_NumericDrift`).
Every figure is the one the values themselves give, whatever the partitioning.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

from curate.checks import quantiles
from curate.checks.base import CheckContext, CheckResult, data_columns, first_present, register_check
from curate.checks.quantiles import add_histograms, concat_values, histograms, in_bins
from curate.checks.split_checks import active, declares, split_rules, splits_of
from curate.io.frames import InMemory

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from curate.io.frames import Frame

#: ``ks_2samp`` gives an exact p-value up to this many values per sample: the samples are
#: collected (:func:`ks_from_sorted`).
KS_EXACT_MAX = 10_000
#: Numbers (rows times dimensions) of an embedding column gathered at most to fit its
#: principal axes on a partitioned table; past that, a sample of rows.
EMBEDDING_FIT_VALUES = 10_000_000


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


def embedding_components(frame: "Frame", columns: list[str], k: int = 3
                         ) -> tuple["Frame", list[str], dict[str, Any] | None]:
    """``frame`` with the first ``k`` principal components of each embedding column as
    numeric columns ``COL:pc1``..., so embeddings drift like any numeric feature; those
    columns' names; and the sample the components were fitted on (None: every row).

    The basis (mean and principal axes) is fitted on every row with a complete vector, or
    on a partitioned table past :data:`EMBEDDING_FIT_VALUES` numbers on a sample
    (:func:`curate.checks.sample.fit_rows`); each row's components are computed where the
    row is. A column with fewer than 3 complete vectors gets none.
    """
    import numpy as np

    from curate.checks.features import embedding_matrix
    from curate.checks.sample import fit_rows

    bases: dict[str, tuple["np.ndarray", "np.ndarray"]] = {}
    sampled = None
    for c in columns:
        first = first_present(frame, [c], limit=1)[c].dropna()
        limit = max(3, EMBEDDING_FIT_VALUES // max(len(first.iloc[0]) if len(first) else 1, 1))
        complete = None
        if not isinstance(frame, InMemory) and frame.rows > limit:
            complete = _complete_vectors(frame, c)
        rows, sample = fit_rows(frame, [c], limit=limit)
        m = embedding_matrix(rows[c])
        ok = ~np.isnan(m).any(axis=1)
        if (ok.sum() if complete is None else complete) < 3:
            continue
        mean = m[ok].mean(axis=0)
        _, _, vt = np.linalg.svd(m[ok] - mean, full_matrices=False)
        bases[c] = mean, vt[: min(k, vt.shape[0])]
        sampled = sampled or sample
    names = [f"{c}:pc{i + 1}" for c, (_, axes) in bases.items() for i in range(len(axes))]

    def components(part: "pd.DataFrame") -> "pd.DataFrame":
        out = {}
        for c, (mean, axes) in bases.items():
            comps = np.full((len(part), len(axes)), np.nan)
            if part[c].notna().any():
                m = embedding_matrix(part[c])
                ok = ~np.isnan(m).any(axis=1)
                comps[ok] = (m[ok] - mean) @ axes.T
            out.update({f"{c}:pc{i + 1}": comps[:, i] for i in range(len(axes))})
        return part.assign(**out)

    return (frame.map(components, components(frame.meta)) if bases else frame), names, sampled


def _complete_vectors(frame: "Frame", column: str) -> int:
    """Rows with a complete vector in ``column``, once every vector is known to have one
    length (the check :func:`curate.checks.features.embedding_matrix` makes)."""
    import numpy as np

    from curate.checks.features import embedding_matrix, one_length

    def partial(part: "pd.DataFrame") -> tuple[set, int]:
        present = part[column].dropna()
        lengths = {len(v) for v in present}
        complete = (~np.isnan(embedding_matrix(present)).any(axis=1)).sum() if len(lengths) == 1 else 0
        return lengths, int(complete)

    def combine(pieces: list) -> int:
        one_length(column, set().union(*(p[0] for p in pieces)))
        return sum(p[1] for p in pieces)

    return frame.reduce(partial, combine, [column])


@register_check("drift", asked=declares("max_drift"))
def check_drift(ctx: CheckContext) -> list[CheckResult]:
    if not active(ctx):
        return []
    import pandas as pd

    from curate.checks.features import MEDIA_METADATA, original_rows
    from curate.rules.schema import DriftRule

    rule = split_rules(ctx).max_drift or DriftRule(psi=0.2, ks_pvalue=0.001)
    split_col = ctx.split_col
    frame = original_rows(ctx.frame)
    keep = tuple(c for c in MEDIA_METADATA if c in ctx.columns)
    candidates = [c for c in data_columns(ctx.frame, keep) if c not in (split_col, ctx.group, ctx.label)]
    missing = [c for c in rule.embeddings if c not in ctx.columns]
    if missing:
        return [CheckResult("drift", False, rule.severity, None, {},
                            f"embedding column(s) not found: {', '.join(missing)}")]
    kinds = _feature_kinds(frame, candidates)
    embeddings = list(rule.embeddings) + [c for c in candidates if c not in rule.embeddings and kinds[c] == "embedding"]
    features = [c for c in candidates if c not in embeddings and kinds[c] in ("numeric", "categorical")]
    sample = None
    if embeddings:
        frame, components, sample = embedding_components(frame, embeddings)
        features += components
    if ctx.label:
        features.append(ctx.label)
    numeric = [f for f in features if _numeric_dtype(frame.meta[f])]
    categorical = [f for f in features if f not in numeric]
    summary = frame.reduce(lambda part: _drift_summary(part, split_col, numeric, categorical), _add_summaries,
                           list(dict.fromkeys([split_col, *features])))
    splits = [s for s in splits_of(ctx) if s in summary["rows"]]
    pairs = drift_pairs(splits)
    prepared: dict[tuple[str, str], Any] = {}
    for f in categorical:
        for s in splits:
            counts = summary["levels"].get((s, f), pd.Series(dtype="int64"))
            prepared[(s, f)] = ("categorical", counts) if counts.sum() >= 2 else None
    figures: dict[tuple[str, str, str], dict[str, Any]] = {}
    figures.update(_numeric_figures(frame, split_col, splits, pairs, numeric, summary))
    figures.update(pair_drift(pairs, categorical, prepared))
    return drift_results(rule, pairs, features, figures, embeddings, sample)


def _numeric_dtype(col: "pd.Series") -> bool:
    """What :func:`prepare_feature` compares as numbers."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _feature_kinds(frame: "Frame", candidates: list[str], max_levels: int = 50) -> dict[str, str]:
    """``embedding``, ``numeric``, ``categorical`` or ``other`` per candidate column, as
    :func:`curate.checks.features.is_embedding` and
    :func:`curate.checks.features.is_categorical` decide on the whole column (any number is
    a feature); distinct values are counted up to ``max_levels`` + 1 only."""
    import pandas as pd

    from curate.checks.features import is_embedding

    numbers = {c for c in candidates if pd.api.types.is_numeric_dtype(frame.meta[c])}
    others = [c for c in candidates if c not in numbers]
    kinds = {c: "numeric" for c in numbers}
    if not others:
        return kinds

    def partial(part: "pd.DataFrame") -> dict[str, tuple[Any, int, Any]]:
        out = {}
        for c in others:
            present = part[c].dropna()
            try:
                levels = set(present.unique()) if present.nunique() <= max_levels else None
            except TypeError:  # unhashable cells (lists, dicts)
                levels = TypeError
            out[c] = (present.head(1), len(present), levels)
        return out

    def combine(pieces: list[dict]) -> dict[str, str]:
        for c in others:
            firsts = pd.concat([p[c][0] for p in pieces])
            if is_embedding(firsts):
                kinds[c] = "embedding"
                continue
            levels = [p[c][2] for p in pieces]
            if TypeError in levels or None in levels:
                kinds[c] = "other"
                continue
            n = len(set().union(*levels))
            present = sum(p[c][1] for p in pieces)
            kinds[c] = "categorical" if 1 < n <= min(max_levels, max(2, present // 5)) else "other"
        return kinds

    return frame.reduce(partial, combine, others)


def _drift_summary(part: "pd.DataFrame", split_col: str, numeric: list[str], categorical: list[str]) -> dict:
    """One partition's rows per split, counts per (split, level) of the categorical
    features and count, smallest and largest finite value per (split, numeric feature)."""
    import numpy as np

    rows = part.groupby(part[split_col].astype(str), sort=False).indices
    out: dict[str, dict] = {"rows": {s: len(at) for s, at in rows.items()}, "levels": {}, "numeric": {}}
    for s, at in rows.items():
        for f in categorical:
            counts = part[f].iloc[at].dropna().value_counts()
            counts.index = counts.index.astype(str)
            out["levels"][(s, f)] = counts
        for f in numeric:
            values = part[f].iloc[at].dropna().to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            out["numeric"][(s, f)] = (len(values), finite.min() if len(finite) else np.nan,
                                      finite.max() if len(finite) else np.nan)
    return out


def _add_summaries(pieces: list[dict]) -> dict:
    import numpy as np
    import pandas as pd

    rows: dict[str, int] = {}
    levels: dict[tuple[str, str], list] = {}
    numeric: dict[tuple[str, str], tuple[int, float, float]] = {}
    for piece in pieces:
        for s, k in piece["rows"].items():
            rows[s] = rows.get(s, 0) + int(k)
        for key, counts in piece["levels"].items():
            levels.setdefault(key, []).append(counts)
        for key, (k, lo, hi) in piece["numeric"].items():
            k0, lo0, hi0 = numeric.get(key, (0, np.nan, np.nan))
            numeric[key] = (k0 + k, np.fmin(lo0, lo), np.fmax(hi0, hi))
    # as prepare_feature merges levels that print alike, sorted by level
    summed = {key: pd.concat(c).groupby(level=0).sum() for key, c in levels.items()}
    return {"rows": rows, "levels": summed, "numeric": numeric}


def _values(part: "pd.DataFrame", split_col: str, wanted: dict[str, list[str]]) -> dict[tuple[str, str], "np.ndarray"]:
    """Sorted present values per (split, numeric feature) of one partition; ``wanted``:
    the splits of each feature."""
    import numpy as np

    rows = part.groupby(part[split_col].astype(str), sort=False).indices
    none = np.array([], dtype=np.intp)
    return {(s, f): np.sort(part[f].iloc[rows.get(s, none)].dropna().to_numpy(dtype=float))
            for f, splits in wanted.items() for s in splits}


def _numeric_figures(frame: "Frame", split_col: str, splits: list[str], pairs: list[tuple[str, str]],
                     numeric: list[str], summary: dict) -> dict[tuple[str, str, str], dict[str, Any]]:
    """:func:`feature_drift` of every numeric feature and pair of splits: from the values
    themselves where a feature has at most :data:`curate.checks.quantiles.COLLECT_VALUES`
    (or a split at most :data:`KS_EXACT_MAX`), else from histogram passes
    (:class:`_NumericDrift`)."""
    import numpy as np

    n = {(s, f): summary["numeric"].get((s, f), (0, np.nan, np.nan))[0] for s in splits for f in numeric}
    # a pair with fewer than 2 values on a side has no figures (prepare_feature)
    usable = {f: [(s1, s2) for s1, s2 in pairs if n[(s1, f)] >= 2 and n[(s2, f)] >= 2] for f in numeric}
    whole = {f for f in numeric if sum(n[(s, f)] for s in splits) <= quantiles.COLLECT_VALUES}
    collect = {f: [s for s in splits if f in whole or n[(s, f)] <= KS_EXACT_MAX] for f in numeric}
    collect = {f: s for f, s in collect.items() if s and usable[f]}
    values = {}
    if collect:
        values = frame.reduce_tree(lambda part: _values(part, split_col, collect), concat_values, [split_col, *collect])
    figures = {}
    large: dict[str, list[tuple[str, str]]] = {}
    for f, fpairs in usable.items():
        for s1, s2 in fpairs:
            if (s1, f) in values and (s2, f) in values:
                figures[(s1, s2, f)] = feature_drift(("numeric", values[(s1, f)]), ("numeric", values[(s2, f)]))
            else:
                large.setdefault(f, []).append((s1, s2))
    states = [_NumericDrift(f, fp, {s: n[(s, f)] for pair in fp for s in pair},
                            [summary["numeric"][(s, f)][1:] for pair in fp for s in pair]) for f, fp in large.items()]
    while states:
        plans = {st.feature: st.edges for st in states}
        wanted = {st.feature: st.splits for st in states}
        edges = {(s, f): plans[f] for f, splits in wanted.items() for s in splits}
        hists = frame.reduce_tree(lambda part: histograms(_values(part, split_col, wanted), edges), add_histograms,
                                  [split_col, *plans])
        for st in states:
            st.take_histograms({s: hists[(s, st.feature)] for s in st.splits})
        asking = {st.feature: (st.edges, st.needed) for st in states if st.collect_now()}
        if asking:
            bins = {(s, f): asking[f] for f in asking for s in wanted[f]}
            picked = frame.reduce_tree(
                lambda part: in_bins(_values(part, split_col, {f: wanted[f] for f in asking}), bins),
                concat_values, [split_col, *asking])
            for st in states:
                if st.feature in asking:
                    st.take_values({s: picked.get((s, st.feature), np.array([])) for s in st.splits})
        for st in states:
            st.advance()
            figures.update({(s1, s2, st.feature): fig for (s1, s2), fig in st.figures.items()})
        states = [st for st in states if not st.done]
    return figures


def drift_pairs(splits: list[str]) -> list[tuple[str, str]]:
    """The pairs of splits that should be drawn alike: every pair, but for a domain split
    (it has ``train_val``) only pairs within a domain, as the source and target domains
    differ by design (the data mismatch the split is made to measure).

    >>> drift_pairs(["train", "val", "test", "train_val"])
    [('train', 'train_val'), ('val', 'test')]
    """
    from curate.checks.domain import SOURCE_SPLITS, TARGET_SPLITS

    pairs = list(combinations(splits, 2))
    if "train_val" not in splits:
        return pairs
    return [(a, b) for a, b in pairs if {a, b} <= set(SOURCE_SPLITS) or {a, b} <= set(TARGET_SPLITS)]


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
                  figures: dict[tuple[str, str, str], dict[str, Any]], embeddings: list[str],
                  sample: dict[str, Any] | None = None) -> list[CheckResult]:
    """One ``drift`` result per pair of splits from every (pair, feature)'s figures
    (:func:`feature_drift`), p-values Bonferroni-adjusted over them all; ``sample``: the
    rows the embeddings' components were fitted on, where not every row."""
    from curate.checks.sample import sample_note

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
        if sample is not None:
            observed["sample"] = sample
            details += sample_note(sample).replace("; fitted", "; embedding components fitted", 1)
        results.append(CheckResult("drift", not drifted, rule.severity, None, observed, details))
    return results


class _NumericDrift:
    """Exact KS statistic and PSI bin counts of one numeric feature, for pairs of splits
    too large to collect, from histograms of growing resolution.

    Between two bin edges ``a < b`` the values of split ``s`` number ``C(b) - C(a)``, so
    ``|F1 - F2|`` (right-continuous empirical CDFs, as ``searchsorted(..., 'right')``)
    within the bin is at most the larger of ``|C1(b)/n1 - C2(a)/n2|`` and
    ``|C1(a)/n1 - C2(b)/n2|``; the same expression computed in floats is an upper bound on
    the float the collected values give, rounding being monotone. At an edge it equals
    its value at the data point just below, so the largest value at an edge is a lower
    bound ``L`` of the statistic. Only bins whose bound passes ``L`` and that hold two
    distinct values (a bin of one value repeats the value at its right edge) can hold the
    statistic; a quantile lies in the one bin its rank falls in and is known once that bin
    holds one distinct value. Those bins are cut into finer bins, or collected once they
    hold at most :data:`curate.checks.quantiles.COLLECT_VALUES` values; the quantiles
    become edges, and a last histogram counts each split's values up to them.
    """

    def __init__(self, feature: str, pairs: list[tuple[str, str]], n: dict[str, int], ranges: list[tuple]):
        import numpy as np

        self.feature, self.pairs, self.n = feature, pairs, n
        self.splits = list(dict.fromkeys(s for pair in pairs for s in pair))
        lo, hi = np.nanmin([r[0] for r in ranges] + [np.inf]), np.nanmax([r[1] for r in ranges] + [-np.inf])
        self.edges = quantiles.first_edges(lo, hi)
        self.ranks = {s: set() for s in self.splits}
        for s1, s2 in pairs:
            self.ranks[s1].update(int(k) for k in quantile_ranks(n[s1], n[s2]))
        self.quantiles: dict[tuple[str, int], float] = {}
        self.statistic: dict[tuple[str, str], float] = {}
        self.figures: dict[tuple[str, str], dict[str, Any]] = {}
        self.needed = np.array([], dtype=int)
        self.rounds = 0
        self.done = False

    def take_histograms(self, hists: dict[str, tuple]) -> None:
        """Read the answers the histograms settle; note the bins that may hold the rest."""
        import numpy as np

        self.hist = hists
        self.cum = {s: np.cumsum(h[0]) for s, h in hists.items()}
        self.below = {s: np.r_[0, c[:-1]] for s, c in self.cum.items()}
        needed: set[int] = set()
        for s, ranks in self.ranks.items():
            counts, lo, hi = hists[s]
            for k in ranks:
                if (s, k) in self.quantiles:
                    continue
                i = int(np.searchsorted(self.cum[s], k, side="right"))
                if lo[i] == hi[i]:
                    self.quantiles[(s, k)] = float(lo[i])
                else:
                    needed.add(i)
        for pair in self.pairs:
            if pair not in self.statistic:
                bound, bins = self._statistic_bins(*pair)
                if len(bins):
                    needed.update(int(i) for i in bins)
                else:
                    self.statistic[pair] = bound
        self.needed = np.array(sorted(needed), dtype=int)

    def _statistic_bins(self, s1: str, s2: str) -> tuple[float, "np.ndarray"]:
        """``L`` and the bins where ``|F1 - F2|`` may pass it."""
        import numpy as np

        n1, n2 = self.n[s1], self.n[s2]
        c1, c2, b1, b2 = self.cum[s1], self.cum[s2], self.below[s1], self.below[s2]
        bound = float(np.abs(c1 / n1 - c2 / n2).max())
        upper = np.maximum(np.abs(c1 / n1 - b2 / n2), np.abs(b1 / n1 - c2 / n2))
        (k1, lo1, hi1), (k2, lo2, hi2) = self.hist[s1], self.hist[s2]
        several = (k1 + k2 > 1) & (np.fmin(lo1, lo2) != np.fmax(hi1, hi2))
        return bound, np.flatnonzero(several & (upper > bound))

    def collect_now(self) -> bool:
        """Whether the bins in question are few enough in values to collect (else cut)."""
        if not len(self.needed):
            return False
        held = sum(int(self.hist[s][0][self.needed].sum()) for s in self.splits)
        return held <= quantiles.COLLECT_VALUES or self.rounds >= quantiles.MAX_ROUNDS

    def take_values(self, values: dict[str, "np.ndarray"]) -> None:
        """Settle the quantiles and statistics in the collected bins (all their values)."""
        import numpy as np

        e = self.edges
        for s, ranks in self.ranks.items():
            v = values[s]
            for k in ranks:
                if (s, k) not in self.quantiles:
                    i = int(np.searchsorted(self.cum[s], k, side="right"))
                    start = np.searchsorted(v, e[i - 1], side="right")
                    self.quantiles[(s, k)] = float(v[start + k - self.below[s][i]])
        for s1, s2 in self.pairs:
            if (s1, s2) in self.statistic:
                continue
            x, y = values[s1], values[s2]
            t = np.concatenate([x, y])
            b = np.searchsorted(e, t, side="left")
            c1 = self.below[s1][b] + np.searchsorted(x, t, side="right") - np.searchsorted(x, e[b - 1], side="right")
            c2 = self.below[s2][b] + np.searchsorted(y, t, side="right") - np.searchsorted(y, e[b - 1], side="right")
            inside = np.abs(c1 / self.n[s1] - c2 / self.n[s2]).max() if len(t) else 0.0
            bound, _ = self._statistic_bins(s1, s2)
            self.statistic[(s1, s2)] = float(max(bound, inside))
        self.needed = np.array([], dtype=int)

    def advance(self) -> None:
        """Cut the bins still in question, make the known quantiles edges, or finish."""
        import numpy as np

        self.rounds += 1
        e = self.edges
        if len(self.needed):
            self.edges = quantiles.refined(e, self.needed)
            return
        known = np.array(sorted(set(self.quantiles.values())))
        if len(known) and not np.isin(known, e).all():
            self.edges = np.unique(np.concatenate([e, known]))
            return
        for s1, s2 in self.pairs:
            n1, n2 = self.n[s1], self.n[s2]
            cuts = np.unique([self.quantiles[(s1, int(k))] for k in quantile_ranks(n1, n2)])
            at = np.searchsorted(e, cuts)
            ca = np.diff(np.r_[0, self.cum[s1][at], n1])
            cb = np.diff(np.r_[0, self.cum[s2][at], n2])
            p = ks_pvalue_from_statistic(self.statistic[(s1, s2)], n1, n2)
            self.figures[(s1, s2)] = drift_figures("numeric", ca, cb, n1, n2, p, "ks")
        self.done = True
