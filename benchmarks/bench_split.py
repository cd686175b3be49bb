"""Splitting against the reference libraries, in the same run.

    .venv/bin/python benchmarks/bench_split.py [--rows 200000 --groups 20000 --folds 5]

1. Grouped: train/val/test (60/20/20) + K folds with curaug, against scikit-learn's
   StratifiedGroupKFold giving K folds alone. Seconds, speed ratio, and the largest
   per-fold class-proportion deviation from the whole (lower is better).
2. Multilabel (20k rows, 40 labels): K folds with curaug's iterative stratification
   against iterative-stratification's MultilabelStratifiedKFold (`pip install
   iterative-stratification`; skipped when absent). Seconds, Sechidis' label distribution
   (LD) and examples distribution (ED), and folds missing a label.
3. Near duplicates: 100k random 64-bit perceptual hashes with 100 planted near copies,
   indexed Hamming search (radius 4) across two splits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.split.splitters import split_frame  # noqa: E402


def deviation(y: np.ndarray, assign: np.ndarray) -> float:
    keep = assign >= 0
    overall = pd.Series(y[keep]).value_counts(normalize=True)
    share = pd.crosstab(pd.Series(y[keep]), pd.Series(assign[keep]), normalize="columns")
    return float(share.sub(overall, axis=0).abs().max().max())


def ld_ed(Y: np.ndarray, fold: np.ndarray, k: int) -> tuple[float, float, int]:
    n, d = len(Y), Y.sum(axis=0)
    ld, ed, zero = 0.0, 0.0, 0
    for j in range(k):
        part = Y[fold == j]
        s = part.sum(axis=0)
        ld += np.abs(s / np.maximum(len(part) - s, 1e-9) - d / np.maximum(n - d, 1e-9)).mean() / k
        ed += abs(len(part) - n / k) / k
        zero += int((s == 0).any())
    return ld, ed, zero


def grouped(a) -> None:
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(0)
    g = rng.integers(0, a.groups, a.rows)
    y = rng.choice(list("abcde"), a.rows, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    df = pd.DataFrame({"y": y, "g": g})
    t = time.perf_counter()
    ours = split_frame(df, "y", group="g", ratios=(0.6, 0.2, 0.2), folds=a.folds, seed=0)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    sk = np.empty(a.rows, dtype=int)
    for k, (_, test) in enumerate(StratifiedGroupKFold(a.folds, shuffle=True, random_state=0).split(df, y, g)):
        sk[test] = k
    t_sk = time.perf_counter() - t
    print(f"[grouped] {a.rows:,} rows, {a.groups:,} groups")
    print(f"  curaug train/val/test + {a.folds} folds: {t_ours:.2f} s, fold deviation {deviation(y, ours.fold.to_numpy(dtype=int)):.5f}, "
          f"split deviation {ours.report['max_class_proportion_deviation']:.5f}")
    print(f"  sklearn StratifiedGroupKFold ({a.folds} folds only): {t_sk:.2f} s, fold deviation {deviation(y, sk):.5f}")
    print(f"  speed ratio sklearn/curaug: {t_sk / t_ours:.1f}x")


def multilabel(a) -> None:
    rng = np.random.default_rng(0)
    n, labels = 20_000, 40
    Y = (rng.random((n, labels)) < 0.001 + 0.3 * rng.random(labels) ** 3).astype(int)
    df = pd.DataFrame({"tags": [";".join(f"L{j}" for j in np.flatnonzero(r)) for r in Y]})
    t = time.perf_counter()
    ours = split_frame(df, "tags", multilabel_sep=";", ratios=(1.0, 0.0, 0.0), folds=a.folds, seed=0)
    t_ours = time.perf_counter() - t
    Yd = df["tags"].str.get_dummies(sep=";").to_numpy()
    ld, ed, zero = ld_ed(Yd, ours.fold.to_numpy(dtype=int), a.folds)
    print(f"[multilabel] {n:,} rows, {labels} labels, {a.folds} folds")
    print(f"  curaug: {t_ours:.2f} s, LD {ld:.6f}, ED {ed:.1f}, folds missing a label {zero}")
    try:
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    except ImportError:
        print("  iterative-stratification not installed: pip install iterative-stratification")
        return
    t = time.perf_counter()
    ref = np.empty(n, dtype=int)
    for k, (_, test) in enumerate(MultilabelStratifiedKFold(a.folds, shuffle=True, random_state=0).split(Yd, Yd)):
        ref[test] = k
    t_ref = time.perf_counter() - t
    ld_r, ed_r, zero_r = ld_ed(Yd, ref, a.folds)
    print(f"  iterstrat MultilabelStratifiedKFold: {t_ref:.2f} s, LD {ld_r:.6f}, ED {ed_r:.1f}, "
          f"folds missing a label {zero_r}")
    print(f"  speed ratio iterstrat/curaug: {t_ref / t_ours:.1f}x; LD ratio curaug/iterstrat: {ld / ld_r:.2f}")


def near_duplicates() -> None:
    from curate.checks.near_dups import hamming_pairs

    rng = np.random.default_rng(0)
    n = 100_000
    codes = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2)
    split = rng.choice(np.array(["train", "test"]), n)
    planted = rng.choice(n, 200, replace=False)
    for a, b in planted.reshape(-1, 2):
        flips = rng.choice(64, rng.integers(0, 5), replace=False)
        codes[b] = codes[a] ^ np.uint64(sum(1 << int(f) for f in flips))
    t = time.perf_counter()
    i, j, d = hamming_pairs(codes, 4, split)
    elapsed = time.perf_counter() - t
    cross = sum(split[a] != split[b] for a, b in planted.reshape(-1, 2))
    print(f"[near duplicates] {n:,} perceptual hashes, radius 4: {elapsed:.2f} s for "
          f"{n * (n - 1) // 2 / 1e9:.1f}e9 possible pairs; found {len(i)} cross-split pairs of {cross} planted")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--groups", type=int, default=20_000)
    p.add_argument("--folds", type=int, default=5)
    a = p.parse_args()
    grouped(a)
    multilabel(a)
    near_duplicates()


if __name__ == "__main__":
    main()
