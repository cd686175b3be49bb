"""The split checks (:mod:`curate.checks.split`) on a partitioned table.

Each returns exactly the results of its in-memory twin, from per-partition summaries:

- ``split_ratios`` and ``classes_in_every_split``: rows per split value, (class, split)
  pairs present.
- ``group_overlap`` and ``duplicates_across_splits``: the (group, split) pairs of each
  partition, or each row's (sample key, split, position), are shuffled by group or key into
  as many hash partitions as the table has, so each group meets in one partition and no
  process holds every group (the local engine's disk shuffle keeps up to about 1 GB in
  memory before it spills, partd's buffer); each hash partition gives its counts and its
  first offenders, whose rows are named by one more pass.
- ``drift``: categorical features as counts per (split, level). Numeric features are
  collected when the whole feature has at most :data:`COLLECT_VALUES` values; otherwise
  the PSI quantiles, the counts per bin and the KS statistic come from histogram passes
  (:class:`_NumericDrift`): bins that may hold an answer are refined on a finer grid, or
  collected once they hold few values. Every figure is exact; memory stays bounded by the
  partition, the grid and :data:`COLLECT_VALUES`.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckResult, data_columns, split_names
from curate.checks.split import (classes_result, drift_figures, drift_pairs, drift_results, duplicates_results,
                                 feature_drift, group_overlap_result, ks_pvalue_from_statistic, pair_drift,
                                 quantile_ranks, split_ratios_result, unavoidable_rows)
from curate.errors import CuraugError
from curate.io.manifest import GAP_SPLIT
from curate.partitioned.context import PartitionedContext, first_names, reduce_partitions, register_partitioned

if TYPE_CHECKING:
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

#: Most values of one numeric feature (all splits) gathered into this process at once.
COLLECT_VALUES = 1_000_000
#: Bins of the first histogram of a numeric feature, and sub-bins a bin is refined into.
GRID = 1024
#: Most new bin edges one refinement adds to a feature's histogram.
EDGE_BUDGET = 65_536
#: Refinements after which the bins still in question are collected whatever they hold
#: (only ties closer than floats can reach this).
MAX_ROUNDS = 40
#: ``ks_2samp`` gives an exact p-value up to this many values per sample: the samples are
#: collected (:func:`curate.checks.split.ks_from_sorted`).
KS_EXACT_MAX = 10_000


def _split_rules(ctx: PartitionedContext):
    from curate.rules.schema import SplitRules

    return ctx.rules.splits or SplitRules(column=ctx.split_col or "split")


def _active(ctx: PartitionedContext) -> bool:
    return bool(ctx.split_col) and ctx.split_col in ctx.columns


def _assigned(part: "pd.DataFrame", split_col: str) -> "pd.DataFrame":
    """The rows in a split (not left out by a time split's gap)."""
    return part[part[split_col].astype("string") != GAP_SPLIT]


def _split_names(ddf: "dd.DataFrame", col: str) -> list[str]:
    """:func:`curate.checks.base.split_names` over every partition."""
    import numpy as np
    import pandas as pd

    def partial(part: "pd.DataFrame") -> "np.ndarray":
        return np.asarray(part[col].dropna().unique(), dtype=object)

    def combine(pieces: list["np.ndarray"]) -> list[str]:
        values = pd.unique(np.concatenate(pieces)) if pieces else np.array([], dtype=object)
        return split_names(pd.DataFrame({col: pd.Series(values, dtype=object)}), col)

    return reduce_partitions(ddf[[col]], partial, combine)


def _named(ddf: "dd.DataFrame", *columns: str) -> "dd.DataFrame":
    """``columns`` of ``ddf`` and the ``id`` column that names rows, where there is one
    (at least one column: rows are named by position where there is no id)."""
    named = list(dict.fromkeys([*(["id"] if "id" in ddf.columns else []), *columns]))
    return ddf[named or [ddf.columns[0]]]


def _names_at(ddf: "dd.DataFrame", positions: list[int]) -> dict[int, str]:
    """The names of the rows at a few ``positions``: the shuffles carry positions only."""
    wanted = sorted(set(positions))
    if not wanted:
        return {}
    names = first_names(_named(ddf), lambda part: part.index.isin(wanted), limit=len(wanted))
    return dict(zip(wanted, names))


def _hash_partitions(frame: "dd.DataFrame", on: str, npartitions: int) -> "dd.DataFrame":
    """``frame`` reshuffled so that equal ``on`` values share a partition."""
    return frame.shuffle(on=on, npartitions=max(1, npartitions))


@register_partitioned("split_ratios")
def split_ratios(ctx: PartitionedContext) -> list[CheckResult]:
    if not _active(ctx):
        return []
    import pandas as pd

    col = ctx.split_col

    def partial(part: "pd.DataFrame") -> "pd.Series":
        return part[col].astype("string").fillna("(missing)").value_counts(sort=False)

    def combine(pieces: list["pd.Series"]) -> "pd.Series":
        # summed in order of first appearance, then sorted as value_counts sorts that order
        return pd.concat(pieces).groupby(level=0, sort=False).sum().sort_values(ascending=False)

    counts = reduce_partitions(ctx.ddf[[col]], partial, combine)
    offenders = first_names(_named(ctx.ddf, col), lambda part: part[col].isna())
    return [split_ratios_result(_split_rules(ctx), col, counts, offenders, _unavoidable_rows(ctx))]


def _unavoidable_rows(ctx: PartitionedContext) -> int:
    """:func:`curate.checks.split.unavoidable_rows` from the classes present and the group
    sizes summed over partitions (a group may span several)."""
    import pandas as pd

    label = ctx.label if ctx.label and not ctx.label_sep else None
    columns = [c for c in (label, ctx.group) if c]
    if not columns:
        return unavoidable_rows(1, 1)

    def partial(part: "pd.DataFrame") -> tuple[set, "pd.Series | None"]:
        return (set(part[label].dropna()) if label else set(),
                part[ctx.group].value_counts(sort=False) if ctx.group else None)

    def combine(pieces: list) -> tuple[int, int]:
        classes = set().union(*(p[0] for p in pieces))
        sizes = [p[1] for p in pieces if p[1] is not None]
        largest = int(pd.concat(sizes).groupby(level=0).sum().max()) if sizes and sum(map(len, sizes)) else 1
        return len(classes) if label else 1, largest

    return unavoidable_rows(*reduce_partitions(ctx.ddf[columns], partial, combine))


@register_partitioned("group_overlap")
def group_overlap(ctx: PartitionedContext) -> list[CheckResult]:
    rules = _split_rules(ctx)
    if not _active(ctx) or not ctx.group or not rules.no_group_overlap:
        return []
    if ctx.group not in ctx.columns:
        return [CheckResult("group_overlap", False, column=ctx.group,
                            details=f"group column '{ctx.group}' not found in the data")]
    import pandas as pd

    group, split_col = ctx.group, ctx.split_col

    def kept(part: "pd.DataFrame") -> "pd.DataFrame":
        return _assigned(part, split_col).dropna(subset=[group, split_col])

    def pairs(part: "pd.DataFrame") -> "pd.DataFrame":
        found = kept(part)
        return pd.DataFrame({"g": found[group], "s": found[split_col]}).drop_duplicates()

    columns = ctx.ddf[list(dict.fromkeys([group, split_col]))]
    present = columns.map_partitions(pairs, meta=pairs(columns._meta))

    def partial(part: "pd.DataFrame") -> tuple[int, int, "pd.Series"]:
        spread = part.groupby("g", sort=True)["s"].nunique()
        leaking = spread[spread > 1]
        shown = part[part["g"].isin(leaking.index[:MAX_OFFENDERS])]
        return len(spread), len(leaking), shown.groupby("g", sort=True)["s"].agg(lambda s: sorted(map(str, s.unique())))

    def combine(pieces: list) -> tuple[int, int, "pd.Series"]:
        splits_of = pd.concat([p[2] for p in pieces]).sort_index().iloc[:MAX_OFFENDERS]
        return sum(p[0] for p in pieces), sum(p[1] for p in pieces), splits_of

    # one row per (group, split) and partition travels; the offending rows are read afterwards
    n_groups, n_leaking, splits_of = reduce_partitions(_hash_partitions(present, "g", ctx.ddf.npartitions),
                                                       partial, combine)
    shown = list(splits_of.index)

    def shown_rows(part: "pd.DataFrame") -> "np.ndarray":
        found = kept(part)
        return part.index.isin(found.index[found[group].isin(shown)])

    offenders = first_names(_named(ctx.ddf, group, split_col), shown_rows)
    return [group_overlap_result(group, n_groups, n_leaking, splits_of, offenders)]


@register_partitioned("classes_in_every_split")
def classes_in_every_split(ctx: PartitionedContext) -> list[CheckResult]:
    rules = _split_rules(ctx)
    if not _active(ctx) or not ctx.label or not rules.all_classes_in_each:
        return []
    import pandas as pd

    from curate.io.labels import label_sets

    label, split_col, sep = ctx.label, ctx.split_col, ctx.label_sep

    def partial(part: "pd.DataFrame") -> "pd.DataFrame":
        part = _assigned(part, split_col)[[label, split_col]].dropna()
        labels = part[label].astype(str) if not sep else label_sets(part[label], sep)
        frame = pd.DataFrame({"y": labels, "split": part[split_col].astype(str)}).explode("y").dropna()
        return frame.drop_duplicates()

    frame = reduce_partitions(ctx.ddf[[label, split_col]], partial, lambda pieces: pd.concat(pieces).drop_duplicates())
    return [classes_result(label, frame, _split_names(ctx.ddf, split_col))]


# ----------------------------------------------------------- duplicates across splits


def _first_present(ddf: "dd.DataFrame", prepare, limit: int = 5) -> "pd.DataFrame":
    """The rows of ``prepare(partition)`` that hold one of the first ``limit`` present
    values of some column, in table order: what ``col.dropna().head(limit)`` and
    ``col.notna().any()`` see of every column in the whole table."""
    import pandas as pd

    def partial(part: "pd.DataFrame") -> "pd.DataFrame":
        part = prepare(part)
        keep = pd.Index([], dtype="int64")
        for c in part.columns:
            keep = keep.union(part[c].dropna().head(limit).index)
        return part.loc[part.index.isin(keep)]

    return reduce_partitions(ddf, partial, pd.concat)


@register_partitioned("duplicates_across_splits")
def duplicates_across_splits(ctx: PartitionedContext) -> list[CheckResult]:
    """Exact duplicates as in memory (same sample keys); near duplicates through
    :func:`curate.partitioned.near_dups.near_duplicate_pairs_partitioned`."""
    rules = _split_rules(ctx)
    if not _active(ctx) or not rules.no_duplicates_across:
        return []
    import pandas as pd

    from curate.profile import duplicate_subset

    split_col = ctx.split_col
    ignore = [c for c in (split_col, ctx.group, "fold") if c and c in ctx.columns]
    witness = _first_present(ctx.ddf, lambda part: _assigned(part, split_col).drop(columns=ignore))
    by, columns = duplicate_subset(witness)

    def keyed(part: "pd.DataFrame") -> "pd.DataFrame":
        rows = _assigned(part, split_col)
        if by == "sha256":
            rows = rows[rows["sha256"].notna()]
            key = rows["sha256"].astype(str).to_numpy(dtype=object)
        else:
            key = pd.util.hash_pandas_object(rows[columns], index=False).to_numpy()
        return pd.DataFrame({"key": key, "split": rows[split_col].astype(str).to_numpy(dtype=object),
                             "pos": rows.index.to_numpy(dtype="int64")})

    pairs: list[dict[str, Any]] = []
    n = 0
    if columns:
        frame = ctx.ddf.map_partitions(keyed, meta=keyed(ctx.ddf._meta))
        n, rows = reduce_partitions(_hash_partitions(frame, "key", ctx.ddf.npartitions), _shared_keys,
                                    _first_shared)
        pairs = _exact_pairs(rows, _names_at(ctx.ddf, rows["pos"].tolist()))
    assigned = ctx.ddf.map_partitions(_assigned, split_col, meta=ctx.ddf._meta)

    def near_search(rule):
        from curate.partitioned.near_dups import near_duplicate_pairs_partitioned

        return near_duplicate_pairs_partitioned(assigned, split_col, rule)

    return duplicates_results(rules, by, n, pairs, near_search)


def _shared_keys(part: "pd.DataFrame") -> tuple[int, "pd.Series", "pd.DataFrame"]:
    """In one hash partition: how many keys have rows in several splits, the first
    position of the first :data:`MAX_OFFENDERS` of them and their first rows per split
    (enough for their first pairs: a row past the 20th of its split in a key comes after
    20 pairs of that key)."""
    spread = part.groupby("key", sort=False)["split"].nunique()
    shared = part[part["key"].isin(spread[spread > 1].index)]
    first = shared.groupby("key", sort=False)["pos"].min().nsmallest(MAX_OFFENDERS)
    rows = shared[shared["key"].isin(first.index)].sort_values("pos")
    return int((spread > 1).sum()), first, rows.groupby(["key", "split"], sort=False).head(MAX_OFFENDERS)


def _first_shared(pieces: list) -> tuple[int, "pd.DataFrame"]:
    """The number of keys in several splits, and the rows kept of the first
    :data:`MAX_OFFENDERS` of them (by first row), in table order."""
    import pandas as pd

    first = pd.concat([p[1] for p in pieces]).nsmallest(MAX_OFFENDERS)
    rows = pd.concat([p[2] for p in pieces]).sort_values("pos")
    order = pd.Series(range(len(first)), index=first.index)
    rows = rows[rows["key"].isin(first.index)]
    return sum(p[0] for p in pieces), rows.assign(rank=order.loc[rows["key"]].to_numpy())


def _exact_pairs(rows: "pd.DataFrame", names: dict[int, str]) -> list[dict[str, Any]]:
    """The in-memory check's first pairs: keys in order of their first row, rows in table
    order, every two rows of different splits."""
    pairs: list[dict[str, Any]] = []
    for _, group in rows.sort_values(["rank", "pos"]).groupby("rank", sort=True):
        members = [(names[p], s) for p, s in zip(group["pos"], group["split"])]
        for (i1, s1), (i2, s2) in combinations(members, 2):
            if s1 != s2:
                pairs.append({"ids": [i1, i2], "splits": [s1, s2], "kind": "exact", "distance": 0})
        if len(pairs) >= MAX_OFFENDERS:
            break
    return pairs


# ------------------------------------------------------------------- drift


@register_partitioned("drift")
def drift(ctx: PartitionedContext) -> list[CheckResult]:
    """As :func:`curate.checks.split.check_drift`, exactly; embedding columns are refused
    (their principal components need every row at once)."""
    if not _active(ctx):
        return []
    import pandas as pd

    from curate.checks.features import MEDIA_METADATA
    from curate.rules.schema import DriftRule

    rules = _split_rules(ctx)
    rule = rules.max_drift or DriftRule(psi=0.2, ks_pvalue=0.001)
    split_col = ctx.split_col
    originals = "source_id" in ctx.columns and reduce_partitions(
        ctx.ddf[["source_id"]], lambda part: bool(part["source_id"].notna().any()), any)
    ddf = ctx.ddf.map_partitions(_originals, meta=ctx.ddf._meta) if originals else ctx.ddf
    keep = tuple(c for c in MEDIA_METADATA if c in ctx.columns)
    candidates = [c for c in data_columns(ctx.ddf._meta, keep) if c not in (split_col, ctx.group, ctx.label)]
    missing = [c for c in rule.embeddings if c not in ctx.columns]
    if missing:
        return [CheckResult("drift", False, rule.severity, None, {},
                            f"embedding column(s) not found: {', '.join(missing)}")]
    kinds = _feature_kinds(ddf, candidates)
    embeddings = list(rule.embeddings) + [c for c in candidates if kinds[c] == "embedding"]
    if embeddings:
        raise CuraugError(f"drift on embedding columns does not run on a partitioned table yet "
                          f"({', '.join(embeddings)}); validate a sample that fits in memory")
    features = [c for c in candidates if kinds[c] in ("numeric", "categorical")]
    if ctx.label:
        features.append(ctx.label)
    numeric = [f for f in features if _numeric_dtype(ddf._meta[f])]
    categorical = [f for f in features if f not in numeric]
    summary = reduce_partitions(ddf[list(dict.fromkeys([split_col, *features]))],
                                lambda part: _drift_summary(part, split_col, numeric, categorical), _add_summaries)
    splits = [s for s in _split_names(ctx.ddf, split_col) if s in summary["rows"]]
    pairs = drift_pairs(splits)
    prepared: dict[tuple[str, str], Any] = {}
    for f in categorical:
        for s in splits:
            counts = summary["levels"].get((s, f), pd.Series(dtype="int64"))
            prepared[(s, f)] = ("categorical", counts) if counts.sum() >= 2 else None
    figures: dict[tuple[str, str, str], dict[str, Any]] = {}
    figures.update(_numeric_figures(ddf, split_col, splits, pairs, numeric, summary))
    figures.update(pair_drift(pairs, categorical, prepared))
    return drift_results(rule, pairs, features, figures, embeddings)


def _originals(part: "pd.DataFrame") -> "pd.DataFrame":
    """:func:`curate.checks.features.original_rows` once the table is known to hold copies."""
    return part[part["source_id"].isna()]


def _numeric_dtype(col: "pd.Series") -> bool:
    """What :func:`curate.checks.split.prepare_feature` compares as numbers."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _feature_kinds(ddf: "dd.DataFrame", candidates: list[str], max_levels: int = 50) -> dict[str, str]:
    """``embedding``, ``numeric``, ``categorical`` or ``other`` per candidate column, as
    :func:`curate.checks.features.is_embedding` and the in-memory ``_driftable`` decide on
    the whole column; distinct values are counted up to ``max_levels`` + 1 only."""
    import pandas as pd

    from curate.checks.features import is_embedding

    numbers = {c for c in candidates if pd.api.types.is_numeric_dtype(ddf._meta[c])}
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

    return reduce_partitions(ddf[others], partial, combine)


def _drift_summary(part: "pd.DataFrame", split_col: str, numeric: list[str], categorical: list[str]) -> dict:
    """One partition's rows per split, counts per (split, level) of the categorical
    features and count, smallest and largest finite value per (split, numeric feature)."""
    import numpy as np

    names = part[split_col].astype(str)
    out: dict[str, dict] = {"rows": names.value_counts().to_dict(), "levels": {}, "numeric": {}}
    for s, rows in part.groupby(names, sort=False):
        for f in categorical:
            counts = rows[f].dropna().value_counts()
            counts.index = counts.index.astype(str)
            out["levels"][(s, f)] = counts
        for f in numeric:
            values = rows[f].dropna().to_numpy(dtype=float)
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

    names = part[split_col].astype(str).to_numpy()
    out = {}
    for f, splits in wanted.items():
        for s in splits:
            out[(s, f)] = np.sort(part.loc[names == s, f].dropna().to_numpy(dtype=float))
    return out


def _numeric_figures(ddf: "dd.DataFrame", split_col: str, splits: list[str], pairs: list[tuple[str, str]],
                     numeric: list[str], summary: dict) -> dict[tuple[str, str, str], dict[str, Any]]:
    """:func:`curate.checks.split.feature_drift` of every numeric feature and pair of splits."""
    import numpy as np

    n = {(s, f): summary["numeric"].get((s, f), (0, np.nan, np.nan))[0] for s in splits for f in numeric}
    # a pair with fewer than 2 values on a side has no figures, as in memory
    usable = {f: [(s1, s2) for s1, s2 in pairs if n[(s1, f)] >= 2 and n[(s2, f)] >= 2] for f in numeric}
    whole = {f for f in numeric if sum(n[(s, f)] for s in splits) <= COLLECT_VALUES}
    collect = {f: [s for s in splits if f in whole or n[(s, f)] <= KS_EXACT_MAX] for f in numeric}
    collect = {f: s for f, s in collect.items() if s and usable[f]}
    values = {}
    if collect:
        values = _tree_reduce(ddf[[split_col, *collect]], lambda part: _values(part, split_col, collect),
                              _concat_values)
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
        hists = _tree_reduce(ddf[[split_col, *plans]],
                             lambda part: _histograms(_values(part, split_col, wanted), plans), _add_histograms)
        for st in states:
            st.take_histograms({s: hists[(s, st.feature)] for s in st.splits})
        asking = {st.feature: (st.edges, st.needed) for st in states if st.collect_now()}
        if asking:
            picked = _tree_reduce(
                ddf[[split_col, *asking]],
                lambda part: _in_bins(_values(part, split_col, {f: wanted[f] for f in asking}), asking),
                _concat_values)
            for st in states:
                if st.feature in asking:
                    st.take_values({s: picked.get((s, st.feature), np.array([])) for s in st.splits})
        for st in states:
            st.advance()
            figures.update({(s1, s2, st.feature): fig for (s1, s2), fig in st.figures.items()})
        states = [st for st in states if not st.done]
    return figures


def _tree_reduce(ddf: "dd.DataFrame", partial, add, fan_in: int = 8):
    """``add`` over ``partial`` of every partition, ``fan_in`` at a time in a tree where the
    partitions are, so that only a few partials exist at once (a histogram's can be large)."""
    import dask

    level = [dask.delayed(partial)(p) for p in ddf.to_delayed()]
    while len(level) > 1:
        level = [dask.delayed(add)(level[i:i + fan_in]) for i in range(0, len(level), fan_in)]
    return dask.compute(level[0])[0]


def _concat_values(pieces: list[dict]) -> dict[tuple[str, str], "np.ndarray"]:
    import numpy as np

    keys = dict.fromkeys(k for p in pieces for k in p)
    return {k: np.sort(np.concatenate([p[k] for p in pieces if k in p])) for k in keys}


def _histograms(values: dict[tuple[str, str], "np.ndarray"], edges: dict[str, "np.ndarray"]) -> dict:
    """Per (split, feature): values per bin ``(edges[i-1], edges[i]]`` (bin 0: up to
    ``edges[0]``, the last past ``edges[-1]``), and the smallest and largest value in each."""
    import numpy as np

    out = {}
    for (s, f), v in values.items():
        e = edges[f]
        idx = np.searchsorted(e, v, side="left")
        counts = np.bincount(idx, minlength=len(e) + 1)
        starts = np.searchsorted(idx, np.arange(len(e) + 1), side="left")
        full = counts > 0
        lo, hi = np.full(len(e) + 1, np.nan), np.full(len(e) + 1, np.nan)
        lo[full], hi[full] = v[starts[full]], v[starts[full] + counts[full] - 1]
        out[(s, f)] = (counts, lo, hi)
    return out


def _add_histograms(pieces: list[dict]) -> dict:
    import numpy as np

    out: dict = {}
    for piece in pieces:
        for key, (counts, lo, hi) in piece.items():
            if key in out:
                c0, lo0, hi0 = out[key]
                out[key] = (c0 + counts, np.fmin(lo0, lo), np.fmax(hi0, hi))
            else:
                out[key] = (counts, lo, hi)
    return out


def _in_bins(values: dict[tuple[str, str], "np.ndarray"], wanted: dict[str, tuple["np.ndarray", "np.ndarray"]]) -> dict:
    """The values that fall in the wanted bins of their feature's edges."""
    import numpy as np

    out = {}
    for (s, f), v in values.items():
        edges, bins = wanted[f]
        out[(s, f)] = v[np.isin(np.searchsorted(edges, v, side="left"), bins)]
    return out


class _NumericDrift:
    """Exact KS statistic and PSI bin counts of one numeric feature, for pairs of splits
    too large to collect, from histograms of growing resolution.

    Between two bin edges ``a < b`` the values of split ``s`` number ``C(b) - C(a)``, so
    ``|F1 - F2|`` (right-continuous empirical CDFs, as ``searchsorted(..., 'right')``)
    within the bin is at most the larger of ``|C1(b)/n1 - C2(a)/n2|`` and
    ``|C1(a)/n1 - C2(b)/n2|``; the same expression computed in floats is an upper bound on
    the float the in-memory check computes, rounding being monotone. At an edge it equals
    its value at the data point just below, so the largest value at an edge is a lower
    bound ``L`` of the statistic. Only bins whose bound passes ``L`` and that hold two
    distinct values (a bin of one value repeats the value at its right edge) can hold the
    statistic; a quantile lies in the one bin its rank falls in and is known once that bin
    holds one distinct value. Those bins are cut into finer bins, or collected once they
    hold at most :data:`COLLECT_VALUES` values; the quantiles become edges, and a last
    histogram counts each split's values up to them.
    """

    def __init__(self, feature: str, pairs: list[tuple[str, str]], n: dict[str, int], ranges: list[tuple]):
        import numpy as np

        self.feature, self.pairs, self.n = feature, pairs, n
        self.splits = list(dict.fromkeys(s for pair in pairs for s in pair))
        lo, hi = np.nanmin([r[0] for r in ranges] + [np.inf]), np.nanmax([r[1] for r in ranges] + [-np.inf])
        grid = np.linspace(lo, hi, GRID + 1) if np.isfinite(lo) and np.isfinite(hi) else np.array([])
        # infinities sit alone in the first and last bins, so only finite bins are ever cut
        self.edges = np.unique(np.concatenate([[-np.inf], grid, [np.inf]]))
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
        return held <= COLLECT_VALUES or self.rounds >= MAX_ROUNDS

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
            per_bin = max(2, min(GRID, EDGE_BUDGET // len(self.needed)))
            # the float just above a bin's left edge makes progress certain however narrow it is
            cuts = [np.r_[np.linspace(e[i - 1], e[i], per_bin + 1), np.nextafter(e[i - 1], e[i])] for i in self.needed]
            self.edges = np.unique(np.concatenate([e, *cuts]))
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

