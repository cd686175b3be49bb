"""What a split did: sizes, class (or label) counts per split and fold, and how far each
part's class proportions are from the whole (``curaug split --json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.io.manifest import GAP_SPLIT, SPLITS
from curate.split.assign import codes, label_positions

if TYPE_CHECKING:
    import pandas as pd


def split_report(y, split, fold, groups, ratios) -> dict[str, Any]:
    """Sizes, per-split and per-fold class (or label) counts and proportion deviation;
    for multilabel data Sechidis' label and examples distribution and empty (part, label) cells."""
    import pandas as pd

    multilabel = isinstance(y, list)
    ok = np.isin(split, SPLITS)
    report: dict[str, Any] = {
        "sizes": {s: int((split == s).sum()) for s in SPLITS},
        "ratios_requested": dict(zip(SPLITS, ratios)),
    }
    if not ok.all():
        report["sizes"][GAP_SPLIT] = int((~ok).sum())
    indicator = _indicator(y) if multilabel else pd.get_dummies(pd.Series(y, dtype=object)).astype(float)
    parts = {"split": pd.Series(np.where(ok, split, "(none)"), dtype=object)}
    # gap rows have no fold; like test rows (-1) they are in none of the K folds
    k = None if fold is None else pd.Series(fold, dtype="Int64").to_numpy(dtype=int, na_value=-1)
    if k is not None:
        parts["fold"] = pd.Series(np.where(k >= 0, k.astype(str), "(none)"), dtype=object)
    for kind, assign in parts.items():
        keep = assign != "(none)"
        counts = indicator[keep.to_numpy()].groupby(assign[keep].to_numpy()).sum()
        if kind == "split":
            counts = counts.reindex([s for s in SPLITS if s in counts.index])
        sizes = assign[keep].value_counts().reindex(counts.index).astype(float)
        overall = indicator[keep.to_numpy()].mean() if multilabel else indicator[keep.to_numpy()].sum() / keep.sum()
        share = counts.div(sizes, axis=0)
        dev = float(share.sub(overall, axis=1).abs().max().max()) if len(share) else 0.0
        key = "per_class" if kind == "split" else "per_fold_class"
        report[key] = {str(c): {str(p): int(counts.loc[p, c]) for p in counts.index} for c in counts.columns}
        report["max_class_proportion_deviation" if kind == "split" else "max_fold_deviation"] = round(dev, 6)
        if multilabel:
            report[f"{kind}_label_distribution"] = round(_ld(counts, sizes, indicator[keep.to_numpy()]), 6)
            report[f"{kind}_examples_distribution"] = round(_ed(sizes, kind, ratios, int(keep.sum())), 6)
            empty = [[str(p), str(c)] for p in counts.index for c in counts.columns if counts.loc[p, c] == 0]
            report[f"{kind}s_with_zero_positives"] = len({p for p, _ in empty})
            report[f"{kind}_zero_positive_cells"] = empty[:50]
    if k is not None:
        report["folds"] = {str(f): int((k == f).sum()) for f in range(int(k.max()) + 1)}
    if groups is not None:
        gi = codes(groups)[1]
        report["groups_per_split"] = {s: int(np.unique(gi[split == s]).size) for s in SPLITS}
        if k is not None:
            report["groups_per_fold"] = {str(f): int(np.unique(gi[k == f]).size) for f in range(int(k.max()) + 1)}
    return report


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


def _ed(sizes: "pd.Series", kind: str, ratios, n: int) -> float:
    """Examples distribution: mean absolute difference between each part's size and its target."""
    if kind == "split":
        want = np.array([r * n for s, r in zip(SPLITS, ratios) if s in sizes.index])
    else:
        want = np.full(len(sizes), n / max(len(sizes), 1))
    return float(np.abs(sizes.to_numpy() - want).mean()) if len(sizes) else 0.0
