"""Grouped split + K folds against scikit-learn's StratifiedGroupKFold, in the same run.

    .venv/bin/python benchmarks/bench_split.py [--rows 200000 --groups 20000 --folds 5]

Prints seconds for each, the speed ratio, and the largest per-fold class-proportion
deviation from the whole for each (lower is better).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.splitters import split_frame  # noqa: E402


def deviation(y: np.ndarray, assign: np.ndarray) -> float:
    overall = pd.Series(y).value_counts(normalize=True)
    share = pd.crosstab(pd.Series(y), pd.Series(assign), normalize="columns")
    return float(share.sub(overall, axis=0).abs().max().max())


def main() -> None:
    from sklearn.model_selection import StratifiedGroupKFold

    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--groups", type=int, default=20_000)
    p.add_argument("--folds", type=int, default=5)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    g = rng.integers(0, a.groups, a.rows)
    y = rng.choice(list("abcde"), a.rows, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    df = pd.DataFrame({"y": y, "g": g})
    t = time.perf_counter()
    ours = split_frame(df, "y", group="g", ratios=(0.8, 0.2, 0.0), folds=a.folds, seed=0)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    sk = np.empty(a.rows, dtype=int)
    for k, (_, test) in enumerate(StratifiedGroupKFold(a.folds, shuffle=True, random_state=0).split(df, y, g)):
        sk[test] = k
    t_sk = time.perf_counter() - t
    print(f"{a.rows:,} rows, {a.groups:,} groups, {a.folds} folds")
    print(f"curaug split + folds: {t_ours:.2f} s, fold deviation {deviation(y, ours.fold):.4f}")
    print(f"sklearn StratifiedGroupKFold: {t_sk:.2f} s, fold deviation {deviation(y, sk):.4f}")
    print(f"speed ratio sklearn/curaug: {t_sk / t_ours:.1f}x")


if __name__ == "__main__":
    main()
