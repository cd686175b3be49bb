"""Checks on a split column (``curaug validate --split-col split``, the ``splits:`` rules).

``split_ratios``, ``group_overlap``, ``classes_in_every_split``, ``duplicates_across_splits``
(exact, by content hash or row values) and ``drift`` between every pair of splits (of a
domain split, between the splits of one domain: :func:`drift_pairs`). Rows a
time split's gap left out (split ``gap``) belong to no split: they are counted, not compared.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check, row_names
from curate.checks.base import data_columns, split_names
from curate.io.manifest import GAP_SPLIT

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def _split_rules(ctx: CheckContext):
    from curate.rules.schema import SplitRules

    return ctx.rules.splits or SplitRules(column=ctx.split_col or "split")


def _splits(ctx: CheckContext) -> list[str]:
    return split_names(ctx.df, ctx.split_col)


def _assigned(ctx: CheckContext) -> "pd.DataFrame":
    """The rows in a split (not left out by a time split's gap)."""
    return ctx.df[ctx.df[ctx.split_col].astype("string") != GAP_SPLIT]


def _active(ctx: CheckContext) -> bool:
    return bool(ctx.split_col) and ctx.split_col in ctx.df.columns


def _declares(*keys: str):
    """``asked`` for a split check: the rules' ``splits:`` section sets one of ``keys``
    (``()``: the section is there). Keys left at their default run as default checks."""

    def asked(ctx: CheckContext) -> bool:
        splits = ctx.rules.splits
        return splits is not None and (not keys or bool(set(keys) & splits.model_fields_set))

    return asked


@register_check("split_ratios", asked=_declares())
def check_split_ratios(ctx: CheckContext) -> list[CheckResult]:
    if not _active(ctx):
        return []
    col = ctx.split_col
    counts = ctx.df[col].astype("string").fillna("(missing)").value_counts()
    strata = ctx.df[ctx.label].nunique() if ctx.label and not ctx.label_sep else 1
    largest_group = int(ctx.df[ctx.group].value_counts().max()) if ctx.group and len(ctx.df) else 1
    return [split_ratios_result(_split_rules(ctx), col, counts, ctx.ids(ctx.df[col].isna()),
                                unavoidable_rows(strata, largest_group))]


def unavoidable_rows(strata: int, largest_group: int) -> int:
    """Rows by which a split's part may miss its ratio however well it is made: each class
    is split in whole rows (each within a row of its share, so the classes together within
    one row per class) and a group moves whole (its size at once)."""
    return max(1, int(strata), int(largest_group))


def split_ratios_result(rules, col: str, counts: "pd.Series", offenders: list[str],
                        rounding_rows: int = 1) -> CheckResult:
    """``split_ratios`` from the rows per split value (``value_counts`` order, ``(missing)``
    for rows without one) and the names of the first rows without a split. A share is
    compared within ``tolerance``, or within ``rounding_rows / n`` where that is wider
    (:func:`unavoidable_rows`): 18 rows in 2 classes cannot split 60/20/20 closer than
    10/4/4, and the check says so instead of failing the split."""
    assigned = counts.drop(GAP_SPLIT, errors="ignore")
    n = int(assigned.sum())
    observed_ratios = {str(k): round(int(v) / n, 6) for k, v in assigned.items()} if n else {}
    allowed = max(rules.tolerance, rounding_rows / n if n else 0.0)
    observed: dict[str, Any] = {"counts": {str(k): int(v) for k, v in counts.items()}, "ratios": observed_ratios,
                                "tolerance": rules.tolerance, "rounding_rows": int(rounding_rows),
                                "allowed": round(allowed, 6)}
    problems = []
    if "(missing)" in observed["counts"]:
        problems.append(f"{observed['counts']['(missing)']} rows have no split")
    if rules.ratios is not None:
        observed["expected"] = rules.ratios
        why = "" if allowed == rules.tolerance else f" ({rounding_rows} rows of {n}: the rounding a split cannot avoid)"
        for name, want in rules.ratios.items():
            got = observed_ratios.get(name, 0.0)
            if abs(got - want) > allowed + 1e-12:
                problems.append(f"{name} is {got:.3f} of rows, expected {want:.3f} ± {allowed:.3g}{why}")
        extra = sorted(set(observed_ratios) - set(rules.ratios) - {"(missing)"})
        if extra:
            problems.append(f"unexpected split values: {', '.join(extra)}")
    details = "; ".join(problems) or ", ".join(f"{k} {v:.3f}" for k, v in observed_ratios.items())
    return CheckResult("split_ratios", not problems, column=col, observed=observed, details=details,
                       offenders=offenders)


@register_check("group_overlap", asked=_declares("no_group_overlap"))
def check_group_overlap(ctx: CheckContext) -> list[CheckResult]:
    rules = _split_rules(ctx)
    if not _active(ctx) or not ctx.group or not rules.no_group_overlap:
        return []
    if ctx.group not in ctx.df.columns:
        return [CheckResult("group_overlap", False, column=ctx.group,
                            details=f"group column '{ctx.group}' not found in the data")]
    part = _assigned(ctx)[[ctx.group, ctx.split_col]].dropna()
    spread = part.groupby(ctx.group, sort=True)[ctx.split_col].nunique()
    leaking = spread[spread > 1]
    shown = part[part[ctx.group].isin(leaking.index[:MAX_OFFENDERS])]
    splits_of = shown.groupby(ctx.group, sort=True)[ctx.split_col].agg(lambda s: sorted(map(str, s.unique())))
    # named from the whole rows: ``shown`` lacks the id column
    return [group_overlap_result(ctx.group, len(spread), len(leaking), splits_of,
                                 row_names(ctx.df.loc[shown.index]).head(MAX_OFFENDERS).tolist())]


def group_overlap_result(group: str, n_groups: int, n_leaking: int, splits_of: "pd.Series",
                         offenders: list[str]) -> CheckResult:
    """``group_overlap`` from the counts of groups and of groups in several splits, the
    splits of the first overlapping groups (sorted by group) and their first rows' names."""
    examples = [{"group": str(g), "splits": splits} for g, splits in splits_of.items()]
    observed = {"groups": int(n_groups), "overlapping_groups": int(n_leaking), "examples": examples}
    details = (f"{n_leaking} of {n_groups} groups appear in more than one split"
               if n_leaking else f"{n_groups} groups, none in two splits")
    return CheckResult("group_overlap", n_leaking == 0, column=group, observed=observed, details=details,
                       offenders=offenders)


@register_check("classes_in_every_split", asked=_declares("all_classes_in_each"))
def check_classes_in_every_split(ctx: CheckContext) -> list[CheckResult]:
    """Every class (every label, for multilabel data) has members in every split."""
    import pandas as pd

    rules = _split_rules(ctx)
    if not _active(ctx) or not ctx.label or not rules.all_classes_in_each:
        return []
    from curate.io.labels import label_sets

    part = _assigned(ctx)[[ctx.label, ctx.split_col]].dropna()
    labels = part[ctx.label].astype(str) if not ctx.label_sep else label_sets(part[ctx.label], ctx.label_sep)
    frame = pd.DataFrame({"y": labels, "split": part[ctx.split_col].astype(str)}).explode("y").dropna()
    return [classes_result(ctx.label, frame, _splits(ctx))]


def classes_result(label: str, frame: "pd.DataFrame", splits: list[str]) -> CheckResult:
    """``classes_in_every_split`` from the (class ``y``, ``split``) pairs present (repeats
    allowed) and the splits to cover."""
    classes = sorted(map(str, frame["y"].unique()))
    missing = {}
    for split in splits:
        have = set(frame.loc[frame["split"] == split, "y"])
        absent = [c for c in classes if c not in have]
        if absent:
            missing[split] = absent
    details = ("; ".join(f"{s} lacks {', '.join(c)}" for s, c in missing.items())
               or f"all {len(classes)} classes in every split")
    return CheckResult("classes_in_every_split", not missing, column=label,
                       observed={"classes": classes, "missing": missing}, details=details)


@register_check("duplicates_across_splits", asked=_declares("no_duplicates_across", "near_duplicates"))
def check_duplicates_across(ctx: CheckContext) -> list[CheckResult]:
    """Exact duplicates (content hash or row values) and near duplicates (images, texts,
    audio: :mod:`curate.checks.near_dups`) shared by two splits."""
    rules = _split_rules(ctx)
    if not _active(ctx) or not rules.no_duplicates_across:
        return []
    import pandas as pd

    from curate.profile import sample_keys

    # the leakage unit is who a sample came from, not what it holds
    assigned = _assigned(ctx)
    by, keyed, key = sample_keys(assigned, (ctx.split_col, ctx.group, "fold"))
    pairs, n = [], 0
    if not key.empty:
        repeated = key.duplicated(keep=False).to_numpy()
        keyed = keyed[repeated]
        names = row_names(keyed)
        frame = pd.DataFrame({"key": key.to_numpy()[repeated], "split": keyed[ctx.split_col].astype(str).to_numpy(),
                              "id": names.to_numpy()})
        spread = frame.groupby("key")["split"].nunique()
        shared = frame[frame["key"].isin(spread[spread > 1].index)]
        for _, rows in shared.groupby("key", sort=False):
            for (i1, s1), (i2, s2) in combinations(zip(rows["id"], rows["split"]), 2):
                if s1 != s2:
                    pairs.append({"ids": [i1, i2], "splits": [s1, s2], "kind": "exact", "distance": 0})
            if len(pairs) >= MAX_OFFENDERS:
                break
        n = int(spread.gt(1).sum())

    def near_search(rule):
        from curate.checks.near_dups import near_duplicate_pairs

        return near_duplicate_pairs(assigned, ctx.split_col, rule)

    return duplicates_results(rules, by, n, pairs, near_search)


def duplicates_results(rules, by: str, n: int, pairs: list[dict[str, Any]],
                       near_search: Callable[[Any], tuple[list[dict[str, Any]], list[str]]]) -> list[CheckResult]:
    """``duplicates_across_splits`` from the exact figures (``n`` keys in several splits,
    the first pairs) and ``near_search(rule)``, run when the rules ask for near duplicates."""
    observed: dict[str, Any] = {"by": by, "exact_groups_across_splits": n}
    near = rules.near_duplicates
    if near is not False:
        from curate.rules.schema import NearDuplicateRule

        near = NearDuplicateRule() if near is True else near
        exact = {tuple(sorted(p["ids"])) for p in pairs}
        found, unreadable = near_search(near)
        found = [p for p in found if tuple(sorted(p["ids"])) not in exact]
        observed["near_pairs"] = {k: sum(p["kind"] == k for p in found) for k in ("image", "text", "audio")}
        observed["unreadable_files"] = len(unreadable)
        pairs += found
    else:
        found, unreadable = [], []
    observed["pairs"] = pairs[:MAX_OFFENDERS]
    problems = []
    if n:
        problems.append(f"{n} samples appear (by {by}) in more than one split")
    for kind in ("image", "text", "audio"):
        k = observed.get("near_pairs", {}).get(kind, 0)
        if k:
            first = next(p for p in found if p["kind"] == kind)
            problems.append(f"{k} near-duplicate {kind} pairs across splits, e.g. {first['ids'][0]} ({first['splits'][0]}) "
                            f"~ {first['ids'][1]} ({first['splits'][1]}), {first['measure']} {first['distance']}")
    details = "; ".join(problems) or f"no exact (by {by}) or near duplicates across splits"
    results = [CheckResult("duplicates_across_splits", not problems, observed=observed, details=details,
                           offenders=[" ~ ".join(p["ids"]) for p in observed["pairs"]])]
    if unreadable:  # a search over fewer files than the splits hold must say so
        results.append(CheckResult(
            "duplicates_across_splits", False, "warn", observed={"unreadable_files": len(unreadable)},
            details=f"{len(unreadable)} media files could not be read and were left out of the near-duplicate "
                    f"search (e.g. {unreadable[0]})", offenders=unreadable[:MAX_OFFENDERS]))
    return results


# ------------------------------------------------------------------- drift


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


@register_check("drift", asked=_declares("max_drift"))
def check_drift(ctx: CheckContext) -> list[CheckResult]:
    if not _active(ctx):
        return []
    rules = _split_rules(ctx)
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
    splits = [s for s in _splits(ctx) if s in rows]
    pairs = drift_pairs(splits)
    prepared = {(s, f): prepare_feature(df[f].iloc[rows[s]]) for s in splits for f in features}
    return drift_results(rule, pairs, features, pair_drift(pairs, features, prepared), embeddings)


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
