"""Multilabel folds: curaug's BalancedKFold against iterative-stratification, same run.

    .venv/bin/python benchmarks/bench_multilabel.py [--sizes 200,1000,5000,20000]
        [--labels 3,10,40] [--folds 10] [--seeds 3]

iterative-stratification (`pip install iterative-stratification`, module iterstrat) is the
reference: its MultilabelStratifiedKFold(shuffle=True) is run on the same indicator
matrices. For each size, label count and kind of data the table gives the mean over seeds
of Sechidis, Tsoumakas and Vlahavas' (2011) label distribution LD (how far each fold's
positive/negative ratio of each label is from the whole's) and examples distribution ED
(how far fold sizes are from n / k), lower is better, and the seconds per split.
Data: "even", each label on 5-50 % of the rows; "skewed", most labels rare (0.1-30 %), as
in bench_split.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.split.cv import BalancedKFold  # noqa: E402
from curate.split.report import fold_distribution  # noqa: E402


def indicator(kind: str, n: int, labels: int, rng: np.random.Generator) -> np.ndarray:
    share = rng.uniform(0.05, 0.5, labels) if kind == "even" else 0.001 + 0.3 * rng.random(labels) ** 3
    return (rng.random((n, labels)) < share).astype(int)


def folds(cv, Y: np.ndarray) -> tuple[np.ndarray, float]:
    fold = np.empty(len(Y), dtype=int)
    t = time.perf_counter()
    for k, (_, test) in enumerate(cv.split(np.zeros(len(Y)), Y)):
        fold[test] = k
    return fold, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="200,1000,5000,20000")
    p.add_argument("--labels", default="3,10,40")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    a = p.parse_args()
    try:
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    except ImportError:
        sys.exit("iterative-stratification is the reference: pip install iterative-stratification")
    k = a.folds
    print(f"{k} folds, mean of {a.seeds} seeds; LD and ED: lower is better")
    print("| data | rows | labels | LD curaug | LD iterstrat | ED curaug | ED iterstrat | s curaug | s iterstrat |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    worse = 0
    for kind in ("even", "skewed"):
        for n in map(int, a.sizes.split(",")):
            for labels in map(int, a.labels.split(",")):
                ours, theirs = np.zeros(3), np.zeros(3)
                for seed in range(a.seeds):
                    Y = indicator(kind, n, labels, np.random.default_rng(seed))
                    fold, secs = folds(BalancedKFold(k, random_state=seed), Y)
                    ours += np.array([*fold_distribution(Y, fold, k), secs]) / a.seeds
                    fold, secs = folds(MultilabelStratifiedKFold(k, shuffle=True, random_state=seed), Y)
                    theirs += np.array([*fold_distribution(Y, fold, k), secs]) / a.seeds
                # equal figures can differ in the last bit when both reach the best integer counts
                worse += ours[0] > theirs[0] * (1 + 1e-9) or ours[1] > theirs[1] + 1e-9
                print(f"| {kind} | {n:,} | {labels} | {ours[0]:.5f} | {theirs[0]:.5f} | {ours[1]:.2f} "
                      f"| {theirs[1]:.2f} | {ours[2]:.2f} | {theirs[2]:.2f} |")
    print(f"cases where curaug is worse on LD or ED: {worse}")


if __name__ == "__main__":
    main()
