"""Checks on a split column (``curaug validate --split-col split``, the ``splits:`` rules).

``split_ratios``, ``group_overlap``, ``classes_in_every_split`` and ``duplicates_across_splits``
(exact, by content hash or row values; near, :mod:`curate.checks.near_dups`); ``drift``
between every pair of splits is :mod:`curate.checks.drift`. Rows a time split's gap left out
(split ``gap``) belong to no split: they are counted, not compared.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check, row_names
from curate.checks.base import split_names
from curate.io.manifest import GAP_SPLIT

if TYPE_CHECKING:
    import pandas as pd


def split_rules(ctx: CheckContext):
    from curate.rules.schema import SplitRules

    return ctx.rules.splits or SplitRules(column=ctx.split_col or "split")


def splits_of(ctx: CheckContext) -> list[str]:
    return split_names(ctx.df, ctx.split_col)


def _assigned(ctx: CheckContext) -> "pd.DataFrame":
    """The rows in a split (not left out by a time split's gap)."""
    return ctx.df[ctx.df[ctx.split_col].astype("string") != GAP_SPLIT]


def active(ctx: CheckContext) -> bool:
    return bool(ctx.split_col) and ctx.split_col in ctx.df.columns


def declares(*keys: str):
    """``asked`` for a split check: the rules' ``splits:`` section sets one of ``keys``
    (``()``: the section is there). Keys left at their default run as default checks."""

    def asked(ctx: CheckContext) -> bool:
        splits = ctx.rules.splits
        return splits is not None and (not keys or bool(set(keys) & splits.model_fields_set))

    return asked


@register_check("split_ratios", asked=declares())
def check_split_ratios(ctx: CheckContext) -> list[CheckResult]:
    if not active(ctx):
        return []
    col = ctx.split_col
    counts = ctx.df[col].astype("string").fillna("(missing)").value_counts()
    strata = ctx.df[ctx.label].nunique() if ctx.label and not ctx.label_sep else 1
    largest_group = int(ctx.df[ctx.group].value_counts().max()) if ctx.group and len(ctx.df) else 1
    return [split_ratios_result(split_rules(ctx), col, counts, ctx.ids(ctx.df[col].isna()),
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


@register_check("group_overlap", asked=declares("no_group_overlap"))
def check_group_overlap(ctx: CheckContext) -> list[CheckResult]:
    rules = split_rules(ctx)
    if not active(ctx) or not ctx.group or not rules.no_group_overlap:
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


@register_check("classes_in_every_split", asked=declares("all_classes_in_each"))
def check_classes_in_every_split(ctx: CheckContext) -> list[CheckResult]:
    """Every class (every label, for multilabel data) has members in every split."""
    import pandas as pd

    rules = split_rules(ctx)
    if not active(ctx) or not ctx.label or not rules.all_classes_in_each:
        return []
    from curate.io.labels import label_sets

    part = _assigned(ctx)[[ctx.label, ctx.split_col]].dropna()
    labels = part[ctx.label].astype(str) if not ctx.label_sep else label_sets(part[ctx.label], ctx.label_sep)
    frame = pd.DataFrame({"y": labels, "split": part[ctx.split_col].astype(str)}).explode("y").dropna()
    return [classes_result(ctx.label, frame, splits_of(ctx))]


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


@register_check("duplicates_across_splits", asked=declares("no_duplicates_across", "near_duplicates"))
def check_duplicates_across(ctx: CheckContext) -> list[CheckResult]:
    """Exact duplicates (content hash or row values) and near duplicates (images, texts,
    audio: :mod:`curate.checks.near_dups`) shared by two splits."""
    rules = split_rules(ctx)
    if not active(ctx) or not rules.no_duplicates_across:
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
