"""Checks on a split column (``curaug validate --split-col split``, the ``splits:`` rules).

``split_ratios``, ``group_overlap``, ``classes_in_every_split`` and ``duplicates_across_splits``
(exact, by content hash or row values; near, :mod:`curate.checks.near_dups`); ``drift``
between every pair of splits is :mod:`curate.checks.drift`. Rows a time split's gap left out
(split ``gap``) belong to no split: they are counted, not compared.

Each is a reduction over the table (:mod:`curate.io.frames`): rows per split value, (class,
split) pairs present; group overlap and duplicates across splits meet by group or sample
key (:meth:`curate.io.frames.Frame.by_key`: the whole table in memory, hash pieces after a
shuffle on a partitioned table, so no process holds every group or key).
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check, sample_witness, split_names
from curate.io.frames import ORDER
from curate.io.manifest import GAP_SPLIT

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def split_rules(ctx: CheckContext):
    from curate.rules.schema import SplitRules

    return ctx.rules.splits or SplitRules(column=ctx.split_col or "split")


def splits_of(ctx: CheckContext) -> list[str]:
    return split_names(ctx.frame, ctx.split_col)


def in_split(part: "pd.DataFrame", split_col: str) -> "np.ndarray":
    """Which rows are in a split: a split value that is not a time split's ``gap``."""
    return (part[split_col].astype("string") != GAP_SPLIT).fillna(False).to_numpy(dtype=bool)


def active(ctx: CheckContext) -> bool:
    return bool(ctx.split_col) and ctx.split_col in ctx.columns


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
    import pandas as pd

    col = ctx.split_col

    def partial(part: "pd.DataFrame") -> "pd.Series":
        return part[col].astype("string").fillna("(missing)").value_counts(sort=False)

    def combine(pieces: list["pd.Series"]) -> "pd.Series":
        # summed in order of first appearance, then sorted as value_counts sorts that order
        return pd.concat(pieces).groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")

    counts = ctx.frame.reduce(partial, combine, [col])
    offenders = ctx.frame.first_names(lambda part: part[col].isna(), MAX_OFFENDERS, [col])
    return [split_ratios_result(split_rules(ctx), col, counts, offenders, _unavoidable_rows(ctx))]


def _unavoidable_rows(ctx: CheckContext) -> int:
    """:func:`unavoidable_rows` from the classes present and the group sizes (a group may
    span partitions)."""
    import pandas as pd

    label = ctx.label if ctx.label and not ctx.label_sep else None
    columns = [c for c in (label, ctx.group) if c]
    if not columns:
        return unavoidable_rows(1, 1)

    def partial(part: "pd.DataFrame") -> tuple["pd.Series | None", "pd.Series | None"]:
        return (part[label].drop_duplicates() if label else None,
                part[ctx.group].value_counts(sort=False) if ctx.group else None)

    def combine(pieces: list) -> tuple[int, int]:
        classes = pd.concat([p[0] for p in pieces]).nunique() if label else 1
        sizes = [p[1] for p in pieces if p[1] is not None]
        largest = int(pd.concat(sizes).groupby(level=0).sum().max()) if sizes and sum(map(len, sizes)) else 1
        return classes, largest

    return unavoidable_rows(*ctx.frame.reduce(partial, combine, columns))


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
    """Each group's splits meet by group (:meth:`curate.io.frames.Frame.by_key`): one row
    per (group, split) and partition travels; the offending rows are named afterwards."""
    rules = split_rules(ctx)
    if not active(ctx) or not ctx.group or not rules.no_group_overlap:
        return []
    if ctx.group not in ctx.columns:
        return [CheckResult("group_overlap", False, column=ctx.group,
                            details=f"group column '{ctx.group}' not found in the data")]
    import pandas as pd

    group, split_col = ctx.group, ctx.split_col

    def kept(part: "pd.DataFrame") -> "np.ndarray":
        return in_split(part, split_col) & part[group].notna().to_numpy() & part[split_col].notna().to_numpy()

    def pairs(part: "pd.DataFrame") -> "pd.DataFrame":
        found = part[kept(part)]
        return pd.DataFrame({"g": found[group], "s": found[split_col]}).drop_duplicates()

    def partial(piece: "pd.DataFrame") -> tuple[int, int, "pd.Series"]:
        spread = piece.groupby("g", sort=True)["s"].nunique()
        leaking = spread[spread > 1]
        shown = piece[piece["g"].isin(leaking.index[:MAX_OFFENDERS])]
        return len(spread), len(leaking), shown.groupby("g", sort=True)["s"].agg(lambda s: sorted(map(str, s.unique())))

    pieces = ctx.frame.by_key(pairs, "g", partial, list(dict.fromkeys([group, split_col])))
    splits_of = pd.concat([p[2] for p in pieces]).sort_index().iloc[:MAX_OFFENDERS]
    n_groups, n_leaking = sum(p[0] for p in pieces), sum(p[1] for p in pieces)
    shown = list(splits_of.index)
    offenders = ctx.frame.first_names(lambda part: kept(part) & part[group].isin(shown).to_numpy(), MAX_OFFENDERS,
                                      [group, split_col])
    return [group_overlap_result(group, n_groups, n_leaking, splits_of, offenders)]


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
    rules = split_rules(ctx)
    if not active(ctx) or not ctx.label or not rules.all_classes_in_each:
        return []
    import pandas as pd

    from curate.io.labels import label_sets

    label, split_col, sep = ctx.label, ctx.split_col, ctx.label_sep

    def partial(part: "pd.DataFrame") -> "pd.DataFrame":
        part = part.loc[in_split(part, split_col), [label, split_col]].dropna()
        labels = part[label].astype(str) if not sep else label_sets(part[label], sep)
        return pd.DataFrame({"y": labels, "split": part[split_col].astype(str)}).explode("y").dropna().drop_duplicates()

    frame = ctx.frame.reduce(partial, lambda pieces: pd.concat(pieces).drop_duplicates(), [label, split_col])
    return [classes_result(label, frame, splits_of(ctx))]


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
    audio: :mod:`curate.checks.near_dups`) shared by two splits. Rows meet by sample key
    (:meth:`curate.io.frames.Frame.by_key`); the first pairs' rows are named afterwards."""
    rules = split_rules(ctx)
    if not active(ctx) or not rules.no_duplicates_across:
        return []
    import pandas as pd

    from curate.profile import duplicate_subset

    frame, split_col = ctx.frame, ctx.split_col
    # the leakage unit is who a sample came from, not what it holds
    ignore = [c for c in (split_col, ctx.group, "fold") if c and c in ctx.columns]
    by, columns = duplicate_subset(sample_witness(frame, [c for c in ctx.columns if c not in ignore],
                                                  rows=lambda part: part[in_split(part, split_col)],
                                                  using=(split_col,)))

    def keyed(part: "pd.DataFrame") -> "pd.DataFrame":
        rows = part[in_split(part, split_col)]
        if by == "sha256":
            rows = rows[rows["sha256"].notna()]
            key = rows["sha256"].astype(str).to_numpy(dtype=object)
        else:
            key = pd.util.hash_pandas_object(rows[columns], index=False).to_numpy()
        return pd.DataFrame({"key": key, "split": rows[split_col].astype(str).to_numpy(dtype=object),
                             ORDER: rows[ORDER].to_numpy(dtype="int64")})

    pairs: list[dict[str, Any]] = []
    n = 0
    if columns:
        pieces = frame.by_key(keyed, "key", _shared_keys, list(dict.fromkeys([*columns, split_col])))
        n, rows = _first_shared(pieces)
        positions = sorted(set(rows[ORDER].tolist()))
        pairs = _exact_pairs(rows, dict(zip(positions, map(str, frame.names_at(positions)))))

    def near_search(rule):
        from curate.checks.near_dups import near_duplicate_pairs

        return near_duplicate_pairs(frame.filter(lambda part: in_split(part, split_col)), split_col, rule)

    return duplicates_results(rules, by, n, pairs, near_search)


def _shared_keys(piece: "pd.DataFrame") -> tuple[int, "pd.Series", "pd.DataFrame"]:
    """In one piece: how many keys have rows in several splits, the first position of the
    first :data:`MAX_OFFENDERS` of them and their first rows per split (enough for their
    first pairs: a row past the 20th of its split in a key comes after 20 pairs of that
    key)."""
    spread = piece.groupby("key", sort=False)["split"].nunique()
    shared = piece[piece["key"].isin(spread[spread > 1].index)]
    first = shared.groupby("key", sort=False)[ORDER].min().nsmallest(MAX_OFFENDERS)
    rows = shared[shared["key"].isin(first.index)].sort_values(ORDER)
    return int((spread > 1).sum()), first, rows.groupby(["key", "split"], sort=False).head(MAX_OFFENDERS)


def _first_shared(pieces: list) -> tuple[int, "pd.DataFrame"]:
    """The number of keys in several splits, and the rows kept of the first
    :data:`MAX_OFFENDERS` of them (by first row), in table order, ranked by key."""
    import pandas as pd

    first = pd.concat([p[1] for p in pieces]).nsmallest(MAX_OFFENDERS)
    rows = pd.concat([p[2] for p in pieces]).sort_values(ORDER)
    order = pd.Series(range(len(first)), index=first.index)
    rows = rows[rows["key"].isin(first.index)]
    return sum(p[0] for p in pieces), rows.assign(rank=order.loc[rows["key"]].to_numpy())


def _exact_pairs(rows: "pd.DataFrame", names: dict[int, str]) -> list[dict[str, Any]]:
    """The first pairs: keys in order of their first row, rows in table order, every two
    rows of different splits."""
    pairs: list[dict[str, Any]] = []
    for _, group in rows.sort_values(["rank", ORDER]).groupby("rank", sort=True):
        members = [(names[p], s) for p, s in zip(group[ORDER], group["split"])]
        for (i1, s1), (i2, s2) in combinations(members, 2):
            if s1 != s2:
                pairs.append({"ids": [i1, i2], "splits": [s1, s2], "kind": "exact", "distance": 0})
        if len(pairs) >= MAX_OFFENDERS:
            break
    return pairs


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
