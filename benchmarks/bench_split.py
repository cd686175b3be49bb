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
4. Fold evenness with groups: curaug's BalancedKFold against StratifiedGroupKFold on the
   same small and medium data (one-row groups, groups mixing classes, one-class groups of
   geometric sizes), mean of 3 seeds: the spread of test fold sizes (largest minus
   smallest, rows) and the mean and largest per-fold class-proportion deviation.
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


def evenness() -> None:
    from sklearn.model_selection import StratifiedGroupKFold

    from curate.split.cv import BalancedKFold

    rng = np.random.default_rng(0)
    sets = [("one-row groups, 1,000 rows, k=7", rng.choice(3, 1000, p=[.5, .3, .2]), np.arange(1000), 7),
            ("15 rows in 5 groups, k=5", np.array([0] * 10 + [1] * 5), np.repeat(np.arange(5), 3), 5)]
    for n, n_groups, k in [(300, 60, 5), (2000, 200, 10), (20000, 2000, 5)]:
        g = rng.integers(0, n_groups, n)
        y = np.where(rng.random(n) < 0.7, rng.choice(4, n_groups, p=[.5, .25, .15, .1])[g], rng.choice(4, n))
        sets.append((f"mixed groups, {n:,} rows in {n_groups:,}, k={k}", y, g, k))
        sizes = rng.geometric(0.1, n_groups)
        y = np.repeat(rng.choice(3, n_groups, p=[.6, .3, .1]), sizes)
        sets.append((f"one-class groups, {sizes.sum():,} rows in {n_groups:,}, k={k}", y,
                     np.repeat(np.arange(n_groups), sizes), k))
    print("[fold evenness with groups] size spread (rows), mean / largest class-proportion deviation")
    for name, y, g, k in sets:
        row = []
        for make in (lambda s: BalancedKFold(k, random_state=s),
                     lambda s: StratifiedGroupKFold(k, shuffle=True, random_state=s)):
            spread, mean_dev, max_dev = [], [], []
            for seed in range(3):
                fold = np.empty(len(y), dtype=int)
                for j, (_, test) in enumerate(make(seed).split(np.zeros(len(y)), y, g)):
                    fold[test] = j
                sizes = np.bincount(fold, minlength=k)
                devs = [abs((y[fold == j] == c).mean() - (y == c).mean()) if sizes[j] else 1.0
                        for j in range(k) for c in np.unique(y)]
                spread.append(np.ptp(sizes))
                mean_dev.append(np.mean(devs))
                max_dev.append(max(devs))
            row.append(f"{np.mean(spread):5.1f} {np.mean(mean_dev):.4f} / {np.mean(max_dev):.4f}")
        print(f"  {name:<46} curaug {row[0]}   StratifiedGroupKFold {row[1]}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--groups", type=int, default=20_000)
    p.add_argument("--folds", type=int, default=5)
    a = p.parse_args()
    grouped(a)
    multilabel(a)
    near_duplicates()
    evenness()


if __name__ == "__main__":
    main()
