"""Dataset-level checks: size, missing values, exact duplicates, corrupt files, class balance, bias.

Each is registered with :func:`curate.checks.base.register_check` and reads its thresholds from
the rules' ``dataset:`` section, which asks for it; the defaults are what ``curaug validate``
runs without ``--rules`` (missing values, exact duplicates, class balance when a label is
known). ``min_rows`` and ``bias`` run only when asked (they need a limit or attributes).

Each reduces every partition to a small summary (counts, the first offenders' names, a
crosstab) and builds its result from the merged summaries; exact duplicates meet by row
key (:meth:`curate.io.frames.Frame.by_key`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.checks.base import (MAX_OFFENDERS, CheckContext, CheckResult, data_columns, register_check, sample_witness,
                                 split_names)
from curate.io.frames import ORDER, row_names
from curate.io.labels import class_counts, label_sets

if TYPE_CHECKING:
    import pandas as pd

    from curate.io.frames import Frame

#: Largest/smallest class count tolerated when no ``class_balance`` rule is given.
DEFAULT_MAX_RATIO = 10.0


@register_check("min_rows", asked=lambda ctx: ctx.rules.dataset.min_rows is not None, default=False)
def check_min_rows(ctx: CheckContext) -> list[CheckResult]:
    limit = ctx.rules.dataset.min_rows
    if limit is None:
        return []
    return [min_rows_result(ctx.frame.rows, limit)]


def min_rows_result(n: int, limit: int) -> CheckResult:
    """``min_rows``' result for ``n`` usable rows."""
    return CheckResult("min_rows", n >= limit, observed={"rows": n, "min_rows": limit},
                       details=f"{n} usable rows (at least {limit} required)")


@register_check("corrupt_files")
def check_corrupt(ctx: CheckContext) -> list[CheckResult]:
    """Corrupt media are skipped by every later stage; reported as a warning."""
    import pandas as pd

    full = ctx.full
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

    n, rows = full.reduce(partial, combine, full.named("status", *["reason"] * has_reason))
    return [corrupt_result(n, rows)]


def corrupt_result(n: int, rows: list[tuple[str, str | None]]) -> CheckResult:
    """``corrupt_files``' result: ``n`` corrupt rows, the first ones' ``(name, reason)``."""
    rows = rows[:MAX_OFFENDERS]
    return CheckResult("corrupt_files", n == 0, "warn",
                       observed={"corrupt": n, "rows": [{"id": i, "reason": r} for i, r in rows]},
                       details=f"{n} corrupt files (skipped by later stages)", offenders=[i for i, _ in rows])


@register_check("missing_values", asked=lambda ctx: ctx.rules.dataset.max_missing_fraction is not None)
def check_missing(ctx: CheckContext) -> list[CheckResult]:
    import pandas as pd

    columns = data_columns(ctx.frame, tuple(c for c in (ctx.label,) if c))
    if not columns:
        return []

    def partial(part: "pd.DataFrame") -> tuple["pd.Series", int, int, list[str]]:
        isna = part[columns].isna()
        rows_with = isna.any(axis=1)
        return isna.sum(), int(rows_with.sum()), len(part), row_names(part.loc[rows_with]).head(MAX_OFFENDERS).tolist()

    def combine(pieces: list) -> tuple["pd.Series", int, int, list[str]]:
        per_column = pieces[0][0] if len(pieces) == 1 else pd.concat([p[0] for p in pieces], axis=1).sum(axis=1)
        ids = [name for p in pieces for name in p[3]][:MAX_OFFENDERS]
        return per_column, sum(p[1] for p in pieces), sum(p[2] for p in pieces), ids

    per_column, rows_with, n, ids = ctx.frame.reduce(partial, combine, ctx.frame.named(*columns))
    return [missing_result(per_column, rows_with, n, ctx.rules.dataset.max_missing_fraction, ids)]


def missing_result(per_column: "pd.Series", rows_with: int, n: int, limit: float | None,
                   ids: list[str]) -> CheckResult:
    """``missing_values``' result from the missing cells per column, the number of rows with
    any, the number of rows ``n`` and the first rows' names ``ids``."""
    limit = limit or 0.0
    cells = int(per_column.sum())
    worst = float((per_column / max(n, 1)).max())
    observed = {
        "missing_cells": cells,
        "rows_with_missing": rows_with,
        "per_column": {str(c): int(v) for c, v in per_column.items() if v},
        "max_missing_fraction": limit,
        "worst_column_fraction": round(worst, 6),
        "unexpected_ids": ids,
    }
    columns_over = [c for c, v in per_column.items() if v / max(n, 1) > limit]
    details = (f"{cells} missing cells in {rows_with} rows"
               + (f"; over {limit:.0%} in: {', '.join(map(str, columns_over))}" if columns_over else ""))
    return CheckResult("missing_values", not columns_over, observed=observed, details=details, offenders=ids)


@register_check("duplicates", asked=lambda ctx: ctx.rules.dataset.max_duplicate_fraction is not None)
def check_duplicates(ctx: CheckContext) -> list[CheckResult]:
    """Exact duplicates: by content hash for media, by row values for tables."""
    return [duplicates_result(exact_duplicates(ctx.frame), ctx.frame.rows, ctx.rules.dataset.max_duplicate_fraction)]


def exact_duplicates(frame: "Frame") -> dict[str, Any]:
    """:func:`curate.profile.exact_duplicates`' figures: the rows that repeat, the extra
    copies and the first :data:`curate.profile.MAX_DUPLICATE_GROUPS` groups' row names, in
    order of each group's first row.

    Rows are keyed by ``sha256`` where files were hashed, else by a 64-bit hash of the data
    columns' values (:func:`curate.profile.sample_keys`; two different rows share one with
    odds of about n²/2⁶⁵). The keys meet by :meth:`Frame.by_key` (a partitioned table:
    shuffled into as many hash pieces as it has partitions, so no process holds every key);
    a second pass names the rows of the first groups.
    """
    import pandas as pd

    from curate.profile import MAX_DUPLICATE_GROUPS, duplicate_subset

    by, columns = duplicate_subset(sample_witness(frame, frame.columns))
    if not columns:
        return {"by": "row", "rows": 0, "extra_copies": 0, "groups": []}

    def keys(part: "pd.DataFrame") -> "pd.Series":
        if by == "sha256":
            return part.loc[part["sha256"].notna(), "sha256"].astype(str)
        return pd.util.hash_pandas_object(part[columns], index=False)

    def travel(part: "pd.DataFrame") -> "pd.DataFrame":
        key = keys(part)
        return pd.DataFrame({"key": key.to_numpy(), ORDER: part.loc[key.index, ORDER].to_numpy()})

    def repeated(piece: "pd.DataFrame") -> tuple[int, int, "pd.Series"]:
        counts = piece.groupby("key", sort=False)[ORDER].agg(["count", "min"])
        counts = counts[counts["count"] > 1]
        return int(counts["count"].sum()), len(counts), counts["min"].nsmallest(MAX_DUPLICATE_GROUPS)

    pieces = frame.by_key(travel, "key", repeated, columns)
    rows, n_groups = sum(p[0] for p in pieces), sum(p[1] for p in pieces)
    first = pd.concat([p[2] for p in pieces]).nsmallest(MAX_DUPLICATE_GROUPS)
    if not len(first):
        return {"by": by, "rows": 0, "extra_copies": 0, "groups": []}
    wanted = first.index

    def members(part: "pd.DataFrame") -> "pd.DataFrame":
        key = keys(part)
        key = key[key.isin(wanted)]
        return pd.DataFrame({"key": key, "name": row_names(part.loc[key.index])})

    def combine(found: list) -> list[list[str]]:
        # in table order, so groupby's first-seen order is the groups' first-row order
        names = pd.concat(found).groupby("key", sort=False)["name"].agg(list)
        return [list(map(str, group)) for group in names]

    groups = frame.reduce(members, combine, frame.named(*columns))
    return {"by": by, "rows": rows, "extra_copies": rows - n_groups, "groups": groups}


def duplicates_result(dup: dict[str, Any], n: int, limit: float | None) -> CheckResult:
    """``duplicates``' result from :func:`exact_duplicates`' figures on ``n`` rows."""
    limit = limit or 0.0
    fraction = dup["extra_copies"] / n if n else 0.0
    observed = {"by": dup["by"], "extra_copies": dup["extra_copies"], "duplicate_rows": dup["rows"],
                "fraction": round(fraction, 6), "max_duplicate_fraction": limit, "groups": dup["groups"][:20]}
    offenders = [name for group in dup["groups"] for name in group][:MAX_OFFENDERS]
    return CheckResult("duplicates", fraction <= limit, observed=observed,
                       details=f"{dup['extra_copies']} extra copies in {len(dup['groups'])} groups "
                               f"(by {dup['by']}; {fraction:.2%} of rows, limit {limit:.2%})",
                       offenders=offenders)


def balance_figures(counts: "pd.Series") -> dict[str, Any]:
    """Imbalance ratio, normalised entropy and minority share of class counts."""
    import numpy as np

    total = int(counts.sum())
    if total == 0 or len(counts) == 0:
        return {"counts": {}, "n_classes": 0, "imbalance_ratio": None, "entropy": None, "minority_share": None}
    p = counts.to_numpy(dtype=float) / total
    entropy = float(-(p * np.log(p)).sum() / np.log(len(p))) if len(p) > 1 else 1.0
    return {
        "counts": {str(k): int(v) for k, v in counts.items()},
        "n_classes": int(len(counts)),
        "imbalance_ratio": round(float(counts.max() / counts.min()), 6),
        "entropy": round(entropy, 6),
        "minority_class": str(counts.idxmin()),
        "minority_share": round(float(counts.min() / total), 6),
    }


@register_check("class_balance", asked=lambda ctx: ctx.rules.dataset.class_balance is not None)
def check_class_balance(ctx: CheckContext) -> list[CheckResult]:
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

    whole, splits = ctx.frame.reduce(partial, combine, [label] + [split_col] * bool(split_col))
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


def balance_result(name: str, counts: "pd.Series", rule, label: str, label_sep: str | None,
                   cardinality: float | None) -> CheckResult:
    """``class_balance``' result for split ``name`` (``all``: every row) from its class
    ``counts`` (largest first) and, multilabel, its mean number of labels per row."""
    fig = balance_figures(counts)
    if label_sep:
        fig["multilabel"] = True
        fig["label_cardinality"] = cardinality
    problems = []
    if fig["n_classes"] and rule.max_ratio is not None and fig["imbalance_ratio"] > rule.max_ratio:
        problems.append(f"imbalance ratio {fig['imbalance_ratio']:.2f} > {rule.max_ratio:g}")
    if rule.min_count is not None:
        small = [k for k, v in fig["counts"].items() if v < rule.min_count]
        if small:
            problems.append(f"classes under {rule.min_count} samples: {', '.join(small)}")
    if rule.min_share is not None and fig["minority_share"] is not None and fig["minority_share"] < rule.min_share:
        problems.append(f"minority class '{fig['minority_class']}' share {fig['minority_share']:.3f} "
                        f"< {rule.min_share:g}")
    observed = {"split": name, **fig, "max_ratio": rule.max_ratio, "min_count": rule.min_count,
                "min_share": rule.min_share}
    ratio = "n/a" if fig["imbalance_ratio"] is None else f"{fig['imbalance_ratio']:.2f}"
    details = "; ".join(problems) or f"{fig['n_classes']} classes, imbalance ratio {ratio}"
    if name != "all":
        details = f"split {name}: {details}"
    return CheckResult("class_balance", not problems, rule.severity, label, observed, details)


@register_check("bias", asked=lambda ctx: bool(ctx.rules.sensitive) or ctx.rules.dataset.bias is not None,
                default=False)
def check_bias(ctx: CheckContext) -> list[CheckResult]:
    """Representation and label-rate parity of each sensitive attribute's groups."""
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
        if len(pieces) == 1:
            return pieces[0]
        out = []
        for i in range(len(present)):
            sizes = pd.concat([p[i][0] for p in pieces]).groupby(level=0).sum().sort_index()
            table = pd.concat([p[i][1] for p in pieces]).fillna(0).groupby(level=0).sum()
            table = table.reindex(index=sizes.index, columns=sorted(table.columns), fill_value=0).astype("int64")
            out.append((sizes, table))
        return out

    used = sorted({a for attrs in present for a in attrs} | {label})
    counted = dict(zip(present, ctx.frame.reduce(partial, combine, used))) if present else {}
    results = []
    for attrs in attributes:
        if attrs not in counted:
            absent = next(a for a in attrs if a not in ctx.columns)
            results.append(CheckResult("bias", False, rule.severity, " & ".join(attrs), {},
                                       f"sensitive attribute '{absent}' not found in the data"))
            continue
        results.append(bias_result(*counted[attrs], attrs, label, rule))
    return results


def _group_column(df: "pd.DataFrame", attrs: tuple[str, ...]) -> "pd.Series":
    """One attribute as strings, or the intersection of several (``F & Biscoe``); missing stays missing."""
    parts = [df[a].astype("string") for a in attrs]
    out = parts[0]
    for p in parts[1:]:
        out = out + " & " + p
    return out


def bias_counts(df: "pd.DataFrame", attrs: tuple[str, ...], label: str,
                sep: str | None = None) -> tuple["pd.Series", "pd.DataFrame"]:
    """``(sizes, table)``: rows per group of ``attrs`` (sorted) and the group x class
    crosstab of ``label`` (classes sorted), rows missing either left out."""
    import pandas as pd

    part = pd.DataFrame({"g": _group_column(df, attrs), "y": df[label]}).dropna()
    sizes = part["g"].value_counts().sort_index()
    if sep:  # a row counts once for each of its labels; rates are per row of the group
        part = part.assign(y=label_sets(part["y"], sep)).explode("y").dropna()
    return sizes, pd.crosstab(part["g"], part["y"].astype(str)).reindex(sizes.index, fill_value=0)


def bias_result(sizes: "pd.Series", table: "pd.DataFrame", attrs: tuple[str, ...], label: str, rule) -> CheckResult:
    """``bias``' result for one attribute (or intersection) from :func:`bias_counts`' figures."""
    from scipy.stats import chi2_contingency

    attr = " & ".join(attrs)
    shares = sizes / max(int(sizes.sum()), 1)
    # label rates of tiny groups are noise: they count for representation, not parity
    rates = table[sizes >= rule.min_group_count].div(sizes[sizes >= rule.min_group_count], axis=0)
    gaps = (rates.max() - rates.min()).dropna()
    ratios = (rates.min() / rates.max()).dropna()
    worst_class = str(gaps.idxmax()) if len(gaps) else None
    observed: dict[str, Any] = {
        "attributes": list(attrs),
        "groups": {str(g): {"count": int(sizes[g]), "share": round(float(shares[g]), 6),
                            "label_rates": {str(k): round(float(v), 6) for k, v in (table.loc[g] / sizes[g]).items()}}
                   for g in table.index},
        "parity_groups": [str(g) for g in rates.index],
        "parity_difference": round(float(gaps.max()), 6) if len(gaps) else 0.0,
        "parity_ratio": round(float(ratios.min()), 6) if len(ratios) else 1.0,
        "worst_class": worst_class,
    }
    if table.shape[0] > 1 and table.shape[1] > 1:
        chi2, p, dof, _ = chi2_contingency(table.to_numpy())
        observed.update(chi2=round(float(chi2), 6), chi2_pvalue=float(p), dof=int(dof))
    problems, violating = [], set()
    if rule.max_parity_difference is not None and observed["parity_difference"] > rule.max_parity_difference:
        hi, lo = rates[worst_class].idxmax(), rates[worst_class].idxmin()
        violating |= {hi, lo}
        problems.append(f"label '{worst_class}' rate differs by {observed['parity_difference']:.3f} between "
                        f"'{hi}' and '{lo}' (max {rule.max_parity_difference:g})")
    if rule.min_parity_ratio is not None and observed["parity_ratio"] < rule.min_parity_ratio:
        cls = str(ratios.idxmin())
        violating |= {rates[cls].idxmax(), rates[cls].idxmin()}
        problems.append(f"label '{cls}' rate ratio {observed['parity_ratio']:.3f} < {rule.min_parity_ratio:g}")
    if rule.min_group_share is not None:
        small = [str(g) for g in shares.index if shares[g] < rule.min_group_share]
        violating |= set(small)
        if small:
            problems.append(f"groups under {rule.min_group_share:.0%} of rows: {', '.join(small)}")
    if rule.max_chi2_pvalue is not None and observed.get("chi2_pvalue", 1.0) < rule.max_chi2_pvalue:
        problems.append(f"'{attr}' and '{label}' are dependent (chi-square p={observed['chi2_pvalue']:.2g})")
    observed["violating_groups"] = sorted(map(str, violating))
    details = "; ".join(problems) or (f"{len(table)} groups, largest label-rate gap "
                                      f"{observed['parity_difference']:.3f}")
    return CheckResult("bias", not problems, rule.severity, attr, observed, details)
