"""Checks on a split column (``curaug validate --split-col split``, the ``splits:`` rules).

``split_ratios``, ``group_overlap``, ``classes_in_every_split``, ``duplicates_across_splits``
(exact, by content hash or row values) and ``drift`` between every pair of splits.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

from curate.checks import MAX_OFFENDERS, CheckContext, CheckResult, register_check
from curate.dataset_checks import data_columns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPLIT_ORDER = ("train", "val", "test")


def _split_rules(ctx: CheckContext):
    from curate.rules import SplitRules

    return ctx.rules.splits or SplitRules(column=ctx.split_col or "split")


def _splits(ctx: CheckContext) -> list[str]:
    return split_names(ctx.df, ctx.split_col)


def split_names(df: "pd.DataFrame", column: str) -> list[str]:
    """The split values present, train/val/test first."""
    present = [str(s) for s in df[column].dropna().unique()]
    return sorted(present, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else 9, s))


def _active(ctx: CheckContext) -> bool:
    return bool(ctx.split_col) and ctx.split_col in ctx.df.columns


@register_check("split_ratios")
def check_split_ratios(ctx: CheckContext) -> list[CheckResult]:
    if not _active(ctx):
        return []
    rules = _split_rules(ctx)
    col = ctx.split_col
    n = len(ctx.df)
    counts = ctx.df[col].astype("string").fillna("(missing)").value_counts()
    observed_ratios = {str(k): round(int(v) / n, 6) for k, v in counts.items()} if n else {}
    observed: dict[str, Any] = {"counts": {str(k): int(v) for k, v in counts.items()}, "ratios": observed_ratios,
                                "tolerance": rules.tolerance}
    problems = []
    if "(missing)" in observed["counts"]:
        problems.append(f"{observed['counts']['(missing)']} rows have no split")
    if rules.ratios is not None:
        observed["expected"] = rules.ratios
        for name, want in rules.ratios.items():
            got = observed_ratios.get(name, 0.0)
            if abs(got - want) > rules.tolerance:
                problems.append(f"{name} is {got:.3f} of rows, expected {want:.3f} ± {rules.tolerance:g}")
        extra = sorted(set(observed_ratios) - set(rules.ratios) - {"(missing)"})
        if extra:
            problems.append(f"unexpected split values: {', '.join(extra)}")
    details = "; ".join(problems) or ", ".join(f"{k} {v:.3f}" for k, v in observed_ratios.items())
    return [CheckResult("split_ratios", not problems, column=col, observed=observed, details=details)]


@register_check("group_overlap")
def check_group_overlap(ctx: CheckContext) -> list[CheckResult]:
    rules = _split_rules(ctx)
    if not _active(ctx) or not ctx.group or not rules.no_group_overlap:
        return []
    if ctx.group not in ctx.df.columns:
        return [CheckResult("group_overlap", False, column=ctx.group,
                            details=f"group column '{ctx.group}' not found in the data")]
    part = ctx.df[[ctx.group, ctx.split_col]].dropna()
    spread = part.groupby(ctx.group, sort=True)[ctx.split_col].nunique()
    leaking = spread[spread > 1]
    offenders = []
    for g in leaking.index[:MAX_OFFENDERS]:
        offenders.append({"group": str(g), "splits": sorted(map(str, part.loc[part[ctx.group] == g, ctx.split_col].unique()))})
    observed = {"groups": int(len(spread)), "overlapping_groups": int(len(leaking)), "examples": offenders}
    details = (f"{len(leaking)} of {len(spread)} groups appear in more than one split"
               if len(leaking) else f"{len(spread)} groups, none in two splits")
    return [CheckResult("group_overlap", len(leaking) == 0, column=ctx.group, observed=observed, details=details)]


@register_check("classes_in_every_split")
def check_classes_in_every_split(ctx: CheckContext) -> list[CheckResult]:
    rules = _split_rules(ctx)
    if not _active(ctx) or not ctx.label or not rules.all_classes_in_each:
        return []
    part = ctx.df[[ctx.label, ctx.split_col]].dropna()
    classes = sorted(map(str, part[ctx.label].unique()))
    missing = {}
    for split in _splits(ctx):
        have = set(map(str, part.loc[part[ctx.split_col].astype(str) == split, ctx.label].unique()))
        absent = [c for c in classes if c not in have]
        if absent:
            missing[split] = absent
    details = ("; ".join(f"{s} lacks {', '.join(c)}" for s, c in missing.items())
               or f"all {len(classes)} classes in every split")
    return [CheckResult("classes_in_every_split", not missing, column=ctx.label,
                        observed={"classes": classes, "missing": missing}, details=details)]


@register_check("duplicates_across_splits")
def check_duplicates_across(ctx: CheckContext) -> list[CheckResult]:
    rules = _split_rules(ctx)
    if not _active(ctx) or not rules.no_duplicates_across:
        return []
    from curate.profile import duplicate_subset
    from curate.rowkeys import row_keys

    df = ctx.df
    # the leakage unit is who a sample came from, not what it holds
    by, columns = duplicate_subset(df.drop(columns=[c for c in (ctx.split_col, ctx.group) if c]))
    if not columns:
        return []
    keyed = df[df["sha256"].notna()] if by == "sha256" else df
    key = keyed["sha256"].astype(str) if by == "sha256" else row_keys(keyed, columns)
    names = (keyed["id"] if "id" in keyed.columns else keyed.index.to_series()).astype(str)
    import pandas as pd

    frame = pd.DataFrame({"key": key.to_numpy(), "split": keyed[ctx.split_col].astype(str).to_numpy(),
                    "id": names.to_numpy()})
    spread = frame.groupby("key")["split"].nunique()
    shared = frame[frame["key"].isin(spread[spread > 1].index)]
    pairs = []
    for _, rows in shared.groupby("key", sort=False):
        for (i1, s1), (i2, s2) in combinations(zip(rows["id"], rows["split"]), 2):
            if s1 != s2:
                pairs.append({"ids": [i1, i2], "splits": [s1, s2], "distance": 0})
        if len(pairs) >= MAX_OFFENDERS:
            break
    n = int(spread.gt(1).sum())
    observed = {"by": by, "exact_groups_across_splits": n, "pairs": pairs[:MAX_OFFENDERS]}
    details = (f"{n} samples appear (by {by}) in more than one split" if n
               else f"no exact duplicates across splits (by {by})")
    return [CheckResult("duplicates_across_splits", n == 0, observed=observed, details=details)]


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


def feature_drift(a: "pd.Series", b: "pd.Series") -> dict[str, Any] | None:
    """PSI (above its no-drift expectation) and a test p-value for one feature between samples."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    a, b = a.dropna(), b.dropna()
    if len(a) < 2 or len(b) < 2:
        return None
    if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        bins = psi_bins(min(len(x), len(y)))
        edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
        ca = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
        cb = np.bincount(np.searchsorted(edges, y, side="right"), minlength=len(edges) + 1)
        value = psi(ca, cb)
        p = float(stats.ks_2samp(x, y).pvalue)
        kind, test = "numeric", "ks"
        nbins = len(edges) + 1
    else:
        levels = pd.Index(sorted(set(a.astype(str)) | set(b.astype(str))))
        ca = a.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
        cb = b.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
        value = psi(ca, cb)
        nbins = len(levels)
        table = np.vstack([ca, cb])
        table = table[:, table.sum(axis=0) > 0]
        p = float(stats.chi2_contingency(table)[1]) if table.shape[1] > 1 else 1.0
        kind, test = "categorical", "chi2"
    baseline = psi_no_drift(nbins, len(a), len(b))
    return {"kind": kind, "psi": round(value, 6), "psi_no_drift": round(baseline, 6),
            "psi_excess": round(max(0.0, value - baseline), 6), "test": test, "pvalue": p, "bins": nbins}


@register_check("drift")
def check_drift(ctx: CheckContext) -> list[CheckResult]:
    if not _active(ctx):
        return []
    rules = _split_rules(ctx)
    from curate.rules import DriftRule

    rule = rules.max_drift or DriftRule(psi=0.2, ks_pvalue=0.001)
    df = ctx.df
    keep = tuple(c for c in ("width", "height", "channels", "sample_rate", "duration_s") if c in df.columns)
    features = [c for c in data_columns(df, keep)
                if c not in (ctx.split_col, ctx.group, ctx.label) and _driftable(df[c])]
    if ctx.label:
        features.append(ctx.label)
    splits = _splits(ctx)
    pairs = list(combinations(splits, 2))
    figures = {}
    for s1, s2 in pairs:
        a, b = df[df[ctx.split_col].astype(str) == s1], df[df[ctx.split_col].astype(str) == s2]
        for f in features:
            fig = feature_drift(a[f], b[f])
            if fig is not None:
                figures[(s1, s2, f)] = fig
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
            if reasons:
                drifted.append(f"{f}: {' and '.join(reasons)}")
        observed = {"pair": [s1, s2], "features": per, "drifted": drifted, "psi": rule.psi,
                    "pvalue": rule.ks_pvalue, "correction": "bonferroni", "tests": n_tests}
        details = (f"{s1} vs {s2}: " + ("; ".join(drifted) if drifted else f"no drift in {len(per)} features"))
        results.append(CheckResult("drift", not drifted, rule.severity, None, observed, details))
    return results


def _driftable(col: "pd.Series") -> bool:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(col):
        return True
    n = col.nunique(dropna=True)
    return 1 < n <= min(50, max(2, col.notna().sum() // 5))  # free text is not a category
