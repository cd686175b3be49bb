"""Does a learning curve fitted on 10-40 % of train predict the error at 100 %? (issue 25 §4)

    .venv/bin/python benchmarks/bench_learning_curve.py [--out runs/bench_lc] [--seeds 3] [--device cpu]

scikit-learn's 1,797 digits as a table (64 pixel columns, curaug's own 60/20/20 split,
seed 0) trained by ``curaug train`` (the MLP baseline, every setting at its default) on
curaug's nested stratified subsets of 10, 20, 40 and 100 % of train, ``--seeds`` runs
each (``pipelines.train.learning_curve``; finished runs in ``--out`` are kept, so a rerun
only fits). The power law is fitted to the 10-40 % points alone and extrapolated to the
100 % train rows; the band is that of a val measurement (the curve's bootstrap band with
the binomial noise of the val rows). Printed: the fit, the predicted error with its band,
the measured mean error at 100 %, whether it falls inside, and the fit on all four sizes
with its answers.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def digits_table(path: Path) -> Path:
    import pandas as pd
    from sklearn.datasets import load_digits

    import curaug

    data = load_digits()
    df = pd.DataFrame(data.data, columns=[f"p{i}" for i in range(64)])
    df["label"], df["id"] = data.target.astype(str), [f"d{i}" for i in range(len(df))]
    path.parent.mkdir(parents=True, exist_ok=True)
    curaug.split(df, label="label", seed=0).to_parquet(path, index=False)
    return path


def main() -> None:
    import numpy as np

    from curate.stats.power_law import fit_power_law, predict
    from pipelines.train.learning_curve import learning_curve, summarize
    from pipelines.train.run import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench_lc")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    out = Path(args.out)
    data = digits_table(out / "digits.parquet")
    if not (out / "metrics.json").is_file():
        train(str(data), label="label", out=out, device=args.device)
    result = learning_curve(str(data), label="label", out=out, fractions=(0.1, 0.2, 0.4, 1.0), seeds=args.seeds,
                            trained=out, progress=print, device=args.device)
    points = result["points"]
    early = summarize([p for p in points if p["fraction"] < 1], result["confidence"])
    table = early["table"]
    fit = fit_power_law(*([t[k] for t in table] for k in ("train_rows", "val_error", "sigma")))
    full = [p for p in points if p["fraction"] == 1.0]
    measured = float(np.mean([p["val_error"] for p in full]))
    predicted = predict(fit, full[0]["train_rows"], result["confidence"], val_rows=full[0]["val_rows"])
    low, high = predicted["band"]
    print(f"fit on 10-40 %: err(n) = {fit['a']:.3g} n^-{fit['b']:.2f} + {fit['c']:.3f}")
    for t in result["table"]:
        print(f"  fraction {t['fraction']:g}: {t['train_rows']:.0f} train rows, val error {t['val_error']:.4f} "
              f"± {t['std']:.4f} over {t['seeds']} seeds")
    print(f"predicted val error at {full[0]['train_rows']} train rows: {predicted['error']:.4f} "
          f"({result['confidence'] * 100:g} % band {low:.4f} to {high:.4f}); measured {measured:.4f}: "
          f"{'inside' if low <= measured <= high else 'OUTSIDE'} the band")
    print("fit on all four sizes:")
    for line in result["answers"]:
        print(f"  {line}")


if __name__ == "__main__":
    main()
