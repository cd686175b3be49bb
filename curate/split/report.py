"""What a split did: sizes, class (or label) counts per split and fold, and how far each
part's class proportions are from the whole (``curaug split --json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.io.manifest import GAP_SPLIT, SPLITS
from curate.split.assign import codes, label_positions

if TYPE_CHECKING:
    import pandas as pd


def split_report(y, split, fold, groups, ratios, names: tuple[str, str, str] = SPLITS) -> dict[str, Any]:
    """Sizes, per-split and per-fold class (or label) counts and proportion deviation;
    for multilabel data Sechidis' label and examples distribution and empty (part, label) cells.
    ``names`` are the splits ``ratios`` are the shares of."""
    import pandas as pd

    k = None if fold is None else pd.Series(fold, dtype="Int64").to_numpy(dtype=int, na_value=-1)
    per_group = None
    if groups is not None:
        gi = codes(groups)[1]
        per_group = ({s: int(np.unique(gi[split == s]).size) for s in names},
                     None if k is None else {str(f): int(np.unique(gi[k == f]).size) for f in range(int(k.max()) + 1)})
    if not isinstance(y, list):
        table = pd.DataFrame({"y": y, "split": split, "fold": -1 if k is None else k})
        counts = table.groupby(["y", "split", "fold"], sort=False).size().rename("n").reset_index()
        return counts_report(counts, ratios, folds=k is not None, groups_per=per_group, names=names)
    ok = np.isin(split, names)
    report = _sizes(pd.Series(split).value_counts(), ratios, names)
    indicator = _indicator(y)
    parts = {"split": pd.Series(np.where(ok, split, "(none)"), dtype=object)}
    # gap rows have no fold; like test rows (-1) they are in none of the K folds
    if k is not None:
        parts["fold"] = pd.Series(np.where(k >= 0, k.astype(str), "(none)"), dtype=object)
    for kind, assign in parts.items():
        keep = assign != "(none)"
        counts = indicator[keep.to_numpy()].groupby(assign[keep].to_numpy()).sum()
        if kind == "split":
            counts = counts.reindex([s for s in names if s in counts.index])
        sizes = assign[keep].value_counts().reindex(counts.index).astype(float)
        overall = indicator[keep.to_numpy()].mean()
        _deviation(report, kind, counts, sizes, overall)
        report[f"{kind}_label_distribution"] = round(_ld(counts, sizes, indicator[keep.to_numpy()]), 6)
        report[f"{kind}_examples_distribution"] = round(_ed(sizes, kind, ratios, int(keep.sum()), names), 6)
        empty = [[str(p), str(c)] for p in counts.index for c in counts.columns if counts.loc[p, c] == 0]
        report[f"{kind}s_with_zero_positives"] = len({p for p, _ in empty})
        report[f"{kind}_zero_positive_cells"] = empty[:50]
    if k is not None:
        report["folds"] = {str(f): int((k == f).sum()) for f in range(int(k.max()) + 1)}
    _groups(report, per_group)
    return report


def counts_report(counts: "pd.DataFrame", ratios, *, folds: bool,
                  groups_per: tuple[dict, dict | None] | None = None,
                  names: tuple[str, str, str] = SPLITS) -> dict[str, Any]:
    """:func:`split_report` of single-label rows from their counts alone: ``counts`` has one
    row per (``y``, ``split``, ``fold``) with its number of rows ``n`` (fold -1: none), and
    ``groups_per`` the distinct groups per split and per fold. A partitioned table's split
    reports through here, summed over partitions."""
    import pandas as pd

    by_split = counts.groupby("split")["n"].sum()
    report = _sizes(by_split, ratios, names)
    classes = sorted(counts["y"].astype(str).unique())
    ok = counts["split"].isin(names)
    kinds = {"split": counts[ok].assign(part=counts.loc[ok, "split"].astype(str))}
    if folds:
        dev = counts[counts["fold"] >= 0]
        kinds["fold"] = dev.assign(part=dev["fold"].astype(int).astype(str))
    for kind, rows in kinds.items():
        table = rows.pivot_table(index="part", columns="y", values="n", aggfunc="sum", fill_value=0)
        table = table.reindex(columns=classes, fill_value=0)
        table.columns = [str(c) for c in table.columns]
        if kind == "split":
            table = table.reindex([s for s in names if s in table.index])
        table = table.astype(float)
        sizes = table.sum(axis=1)
        total = float(sizes.sum())
        overall = table.sum() / total if total else pd.Series(0.0, index=table.columns)
        _deviation(report, kind, table, sizes, overall)
    if folds:
        per_fold = counts[counts["fold"] >= 0].groupby("fold")["n"].sum()
        top = int(counts["fold"].max())
        report["folds"] = {str(f): int(per_fold.get(f, 0)) for f in range(top + 1)}
    _groups(report, groups_per)
    return report


def _sizes(per_split: "pd.Series", ratios, names: tuple[str, str, str] = SPLITS) -> dict[str, Any]:
    """Rows per split (and in a time split's gap) and the ratios asked for."""
    report: dict[str, Any] = {"sizes": {s: int(per_split.get(s, 0)) for s in names},
                              "ratios_requested": dict(zip(names, ratios))}
    outside = int(per_split[~per_split.index.isin(names)].sum())
    if outside:
        report["sizes"][GAP_SPLIT] = outside
    return report


def _deviation(report: dict, kind: str, counts: "pd.DataFrame", sizes: "pd.Series", overall: "pd.Series") -> None:
    share = counts.div(sizes, axis=0)
    dev = float(share.sub(overall, axis=1).abs().max().max()) if len(share) else 0.0
    key = "per_class" if kind == "split" else "per_fold_class"
    report[key] = {str(c): {str(p): int(counts.loc[p, c]) for p in counts.index} for c in counts.columns}
    report["max_class_proportion_deviation" if kind == "split" else "max_fold_deviation"] = round(dev, 6)


def _groups(report: dict, groups_per: tuple[dict, dict | None] | None) -> None:
    if groups_per is not None:
        report["groups_per_split"] = groups_per[0]
        if groups_per[1] is not None:
            report["groups_per_fold"] = groups_per[1]


def _indicator(sets: list[list[str]]) -> "pd.DataFrame":
    import pandas as pd

    labels, rows, cols = label_positions(sets)
    m = np.zeros((len(sets), len(labels)))
    m[rows, cols] = 1.0
    return pd.DataFrame(m, columns=labels)


def _ld(counts: "pd.DataFrame", sizes: "pd.Series", indicator: "pd.DataFrame") -> float:
    """Label distribution (Sechidis et al. 2011): mean over labels and parts of
    ``|S_j^l / (|S_j| - S_j^l) - D^l / (|D| - D^l)|``."""
    n, d = len(indicator), indicator.sum().to_numpy()
    whole = d / np.maximum(n - d, 1e-9)
    part = counts.to_numpy() / np.maximum(sizes.to_numpy()[:, None] - counts.to_numpy(), 1e-9)
    return float(np.abs(part - whole[None, :]).mean()) if counts.size else 0.0


def _ed(sizes: "pd.Series", kind: str, ratios, n: int, names: tuple[str, str, str] = SPLITS) -> float:
    """Examples distribution: mean absolute difference between each part's size and its target."""
    if kind == "split":
        want = np.array([r * n for s, r in zip(names, ratios) if s in sizes.index])
    else:
        want = np.full(len(sizes), n / max(len(sizes), 1))
    return float(np.abs(sizes.to_numpy() - want).mean()) if len(sizes) else 0.0


def fold_distribution(Y: np.ndarray, fold: np.ndarray, k: int) -> tuple[float, float]:
    """Sechidis, Tsoumakas and Vlahavas (2011) over K folds of a 0/1 label matrix ``Y``:
    label distribution (LD), the mean over labels and folds of how far a fold's
    positive/negative ratio is from the whole's, and examples distribution (ED), the mean
    distance of the fold sizes from n / k. The measures the multilabel folds are held to
    (against iterative-stratification in tests/conformance and benchmarks/bench_multilabel.py).

    >>> import numpy as np
    >>> fold_distribution(np.array([[1, 0], [0, 1], [1, 0], [0, 1]]), np.array([0, 0, 1, 1]), 2)
    (0.0, 0.0)
    """
    n, d = len(Y), Y.sum(axis=0)
    ld = ed = 0.0
    for j in range(k):
        part = Y[fold == j]
        s = part.sum(axis=0)
        ld += float(np.abs(s / np.maximum(len(part) - s, 1e-9) - d / np.maximum(n - d, 1e-9)).mean()) / k
        ed += abs(len(part) - n / k) / k
    return ld, ed
