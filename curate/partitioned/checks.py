"""The dataset checks of :mod:`curate.checks.dataset` on a partitioned table.

Each reduces every partition to a small summary (counts, the first offenders' names, a
crosstab) and hands the combined figures to the in-memory module's own result builder, so
the results equal the in-memory check's on any table that fits, whatever the partitioning.
Exact duplicates need global counts of row keys: those are counted by a hash-partitioned
groupby (``split_out``), so no process ever holds every key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckResult, data_columns, row_names, split_names
from curate.checks.dataset import (DEFAULT_MAX_RATIO, balance_result, bias_counts, bias_result, corrupt_result,
                                   duplicates_result, min_rows_result, missing_result)
from curate.io.labels import class_counts, label_sets
from curate.partitioned.context import PartitionedContext, reduce_partitions, register_partitioned
from curate.partitioned.table import partition_lengths
from curate.profile import MAX_DUPLICATE_GROUPS, duplicate_subset

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

#: Non-null values per column that decide whether a column's cells can be hashed, as
#: :func:`curate.profile.duplicate_subset` looks at them.
_HASHABLE_SAMPLE = 5


@register_partitioned("min_rows")
def min_rows(ctx: PartitionedContext) -> list[CheckResult]:
    limit = ctx.rules.dataset.min_rows
    if limit is None:
        return []
    return [min_rows_result(sum(partition_lengths(ctx.ddf)), limit)]


@register_partitioned("corrupt_files")
def corrupt_files(ctx: PartitionedContext) -> list[CheckResult]:
    import pandas as pd

    full = ctx.ddf if ctx.full is None else ctx.full
    if "status" not in full.columns:
        return []
    has_reason = "reason" in full.columns

    def partial(part: "pd.DataFrame") -> tuple[int, list[tuple[str, str | None]]]:
        bad = part[part["status"] == "corrupt"]
        head = bad.head(MAX_OFFENDERS)
        reasons = head["reason"] if has_reason else [None] * len(head)
        return len(bad), [(name, None if pd.isna(r) else str(r)) for name, r in zip(row_names(head), reasons)]

    def combine(pieces: list) -> tuple[int, list[tuple[str, str | None]]]:
        return sum(n for n, _ in pieces), [row for _, rows in pieces for row in rows][:MAX_OFFENDERS]

    n, rows = reduce_partitions(_named(full, ["status"] + ["reason"] * has_reason), partial, combine)
    return [corrupt_result(n, rows)]


@register_partitioned("missing_values")
def missing_values(ctx: PartitionedContext) -> list[CheckResult]:
    import pandas as pd

    columns = data_columns(ctx.ddf._meta, tuple(c for c in (ctx.label,) if c))
    if not columns:
        return []

    def partial(part: "pd.DataFrame") -> tuple["pd.Series", int, int, list[str]]:
        isna = part[columns].isna()
        rows_with = isna.any(axis=1)
        return isna.sum(), int(rows_with.sum()), len(part), row_names(part.loc[rows_with]).head(MAX_OFFENDERS).tolist()

    def combine(pieces: list) -> tuple["pd.Series", int, int, list[str]]:
        per_column = pd.concat([p[0] for p in pieces], axis=1).sum(axis=1)
        ids = [name for p in pieces for name in p[3]][:MAX_OFFENDERS]
        return per_column, sum(p[1] for p in pieces), sum(p[2] for p in pieces), ids

    per_column, rows_with, n, ids = reduce_partitions(_named(ctx.ddf, columns), partial, combine)
    return [missing_result(per_column, rows_with, n, ctx.rules.dataset.max_missing_fraction, ids)]


@register_partitioned("duplicates")
def duplicates(ctx: PartitionedContext) -> list[CheckResult]:
    return [duplicates_result(exact_duplicates(ctx.ddf), sum(partition_lengths(ctx.ddf)),
                              ctx.rules.dataset.max_duplicate_fraction)]


def exact_duplicates(ddf: "dd.DataFrame") -> dict[str, Any]:
    """:func:`curate.profile.exact_duplicates` of a partitioned table: the same figures and
    the same groups, in the same order (by each group's first row).

    Rows are keyed by ``sha256`` where files were hashed, else by a 64-bit hash of the data
    columns' values (:func:`pandas.util.hash_pandas_object`; two different rows share one
    with odds of about n²/2⁶⁵). Pass one counts the keys in a groupby split over as many
    hash ranges as the table has partitions, so each range holds about a partition's worth
    of keys; pass two collects the rows of the first :data:`MAX_DUPLICATE_GROUPS` groups.
    """
    import dask
    import pandas as pd

    by, columns = duplicate_subset(_hashability_sample(ddf))
    if not columns:
        return {"by": "row", "rows": 0, "extra_copies": 0, "groups": []}

    def keys(part: "pd.DataFrame") -> "pd.DataFrame":
        if by == "sha256":
            part = part[part["sha256"].notna()]
            key = part["sha256"].astype(str)
        else:
            key = pd.util.hash_pandas_object(part[columns], index=False)
        return pd.DataFrame({"key": key, "pos": part.index.to_numpy(dtype="int64")}, index=part.index)

    keyed = ddf[columns].map_partitions(keys, meta=keys(ddf._meta[columns]))
    counts = keyed.groupby("key")["pos"].agg(["count", "min"], split_out=keyed.npartitions)
    repeated = counts[counts["count"] > 1]
    rows, n_groups, first = dask.compute(repeated["count"].sum(), repeated["count"].count(),
                                         repeated.nsmallest(MAX_DUPLICATE_GROUPS, "min"))
    if not len(first):
        return {"by": by, "rows": 0, "extra_copies": 0, "groups": []}
    wanted = first.index

    def members(part: "pd.DataFrame") -> "pd.DataFrame":
        found = keys(part)
        found = found[found["key"].isin(wanted)]
        return pd.DataFrame({"key": found["key"], "name": row_names(part.loc[found.index])})

    def combine(pieces: list) -> list[list[str]]:
        # pieces come in table order, so groupby's first-seen order is the groups' first-row order
        names = pd.concat(pieces).groupby("key", sort=False)["name"].agg(list)
        return [list(map(str, group)) for group in names]

    groups = reduce_partitions(_named(ddf, columns), members, combine)
    return {"by": by, "rows": int(rows), "extra_copies": int(rows) - int(n_groups), "groups": groups}


def _hashability_sample(ddf: "dd.DataFrame") -> "pd.DataFrame":
    """A frame of ``ddf``'s columns holding each one's first non-null values, in table
    order, as many as :func:`curate.profile.duplicate_subset` looks at: it decides on this
    sample exactly as it would on the whole table. Only columns that may hold lists or
    dicts (object, Arrow) are read, and ``sha256`` for whether any file was hashed."""
    import pandas as pd

    meta = ddf._meta
    read = [c for c in meta.columns if c == "sha256" or meta[c].dtype == object or isinstance(meta[c].dtype, pd.ArrowDtype)]

    def partial(part: "pd.DataFrame") -> dict[str, "pd.Series"]:
        return {c: part[c].dropna().head(_HASHABLE_SAMPLE) for c in read}

    def combine(pieces: list) -> dict[str, "pd.Series"]:
        return {c: pd.concat([p[c] for p in pieces], ignore_index=True).head(_HASHABLE_SAMPLE) for c in read}

    firsts = reduce_partitions(ddf[read], partial, combine) if read else {}
    slots = pd.RangeIndex(_HASHABLE_SAMPLE)
    return pd.DataFrame({c: firsts[c].reindex(slots) if c in firsts else meta[c].reindex(slots) for c in meta.columns})


@register_partitioned("class_balance")
def class_balance(ctx: PartitionedContext) -> list[CheckResult]:
    if not ctx.label:
        return []
    import pandas as pd

    from curate.rules.schema import ClassBalanceRule

    rule = ctx.rules.dataset.class_balance or ClassBalanceRule(max_ratio=DEFAULT_MAX_RATIO)
    label, sep = ctx.label, ctx.label_sep
    split_col = ctx.split_col if ctx.split_col and ctx.split_col in ctx.columns else None

    def tally(labels: "pd.Series") -> tuple["pd.Series", int, int]:
        lengths = int(label_sets(labels, sep).str.len().sum()) if sep else 0
        return class_counts(labels, sep, sort=False), lengths, len(labels)

    def partial(part: "pd.DataFrame") -> tuple[tuple, dict[str, tuple]]:
        splits = {}
        if split_col:
            column = part[split_col].astype(str)
            splits = {str(s): tally(part.loc[column == str(s), label]) for s in part[split_col].dropna().unique()}
        return tally(part[label]), splits

    def combine(pieces: list) -> tuple[tuple, dict[str, tuple]]:
        names = {s: None for _, splits in pieces for s in splits}
        return _sum_tallies([whole for whole, _ in pieces]), \
            {s: _sum_tallies([splits[s] for _, splits in pieces if s in splits]) for s in names}

    whole, splits = reduce_partitions(_named(ctx.ddf, [label] + [split_col] * bool(split_col)), partial, combine)
    groups = [("all", whole)]
    if split_col:
        groups += [(s, splits[s]) for s in split_names(pd.DataFrame({split_col: list(splits)}), split_col)]
    return [balance_result(name, counts, rule, label, sep,
                           round(float(lengths / rows), 6) if sep and rows else None)
            for name, (counts, lengths, rows) in groups]


def _sum_tallies(tallies: list[tuple["pd.Series", int, int]]) -> tuple["pd.Series", int, int]:
    """Class counts, label total and rows summed over partitions (in table order); counts
    largest first, ties in order of first appearance, as :func:`class_counts` orders them."""
    import pandas as pd

    counts = pd.concat([t[0] for t in tallies]).groupby(level=0, sort=False).sum()
    return (counts.sort_values(ascending=False, kind="stable"), sum(t[1] for t in tallies),
            sum(t[2] for t in tallies))


@register_partitioned("bias")
def bias(ctx: PartitionedContext) -> list[CheckResult]:
    if not ctx.rules.sensitive or not ctx.label:
        return []
    import pandas as pd

    from curate.rules.schema import BiasRule

    rule = ctx.rules.dataset.bias or BiasRule()
    label, sep = ctx.label, ctx.label_sep
    attributes = [(a,) for a in ctx.rules.sensitive] + [tuple(pair) for pair in rule.intersections]
    present = [attrs for attrs in attributes if all(a in ctx.columns for a in attrs)]

    def partial(part: "pd.DataFrame") -> list[tuple["pd.Series", "pd.DataFrame"]]:
        return [bias_counts(part, attrs, label, sep) for attrs in present]

    def combine(pieces: list) -> list[tuple["pd.Series", "pd.DataFrame"]]:
        out = []
        for i in range(len(present)):
            sizes = pd.concat([p[i][0] for p in pieces]).groupby(level=0).sum().sort_index()
            table = pd.concat([p[i][1] for p in pieces]).fillna(0).groupby(level=0).sum()
            table = table.reindex(index=sizes.index, columns=sorted(table.columns), fill_value=0).astype("int64")
            out.append((sizes, table))
        return out

    used = sorted({a for attrs in present for a in attrs} | {label})
    counted = dict(zip(present, reduce_partitions(ctx.ddf[used], partial, combine))) if present else {}
    results = []
    for attrs in attributes:
        if attrs not in counted:
            absent = next(a for a in attrs if a not in ctx.columns)
            results.append(CheckResult("bias", False, rule.severity, " & ".join(attrs), {},
                                       f"sensitive attribute '{absent}' not found in the data"))
            continue
        results.append(bias_result(*counted[attrs], attrs, label, rule))
    return results


def _named(ddf: "dd.DataFrame", columns: list[str]) -> "dd.DataFrame":
    """``ddf`` cut to ``columns`` plus ``id`` (how rows are named), so only those are read."""
    keep = list(dict.fromkeys(columns + ["id"] * ("id" in ddf.columns)))
    return ddf[keep]
