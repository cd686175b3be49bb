"""Recipe search (issue 25) on the sample digits and the fortunes: the searched recipe
against the hand-written sample recipe and against no augmentation, val and test.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_recipe_search.py [--out /tmp/recipe_search]
        [--trials 12 --seeds 3 --epochs 10]

Per data set: `curaug split --folds 3` (seed 0); the search (n 1-3, magnitude 2-10,
``--trials`` trials, each fold fit ``--epochs`` epochs) on the train and val rows' folds;
then for each arm (searched, the sample recipe: sample_data/digits.recipe.yaml or
text.recipe.yaml, none) and each of ``--seeds`` seeds, `curaug augment` of the train split
(the searched recipe with the sample recipe's 2 copies, so only the transforms differ) and
`curaug train` (train on train, early stopping on val, test once). The digits use a small
train split (ratios 0.3/0.2/0.5, 28 train rows) where augmentation has work to do.

Writes ``OUT/results.json`` and ``OUT/results.md`` (mean ± std over seeds of val and test
accuracy per arm, the chosen recipe) and ``OUT/search_<data>/`` (trials, recipe.yaml).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASETS = {
    "digits": {"source": "images", "recipe": "digits.recipe.yaml", "ratios": (0.3, 0.2, 0.5),
               "train": {"image_size": 16, "width": 16}},
    "fortunes": {"source": "text.csv", "recipe": "text.recipe.yaml", "ratios": (0.6, 0.2, 0.2), "train": {}},
}


def prepare(name: str, out: Path):
    import pandas as pd

    from curate.api import split
    from curate.io.ingest import ingest
    from curate.io.manifest import load_data

    spec = DATASETS[name]
    source = ROOT / "sample_data" / spec["source"]
    if source.is_dir():
        ingest(source, None, output=out / f"{name}.manifest.parquet")
        df = load_data(out / f"{name}.manifest.parquet")
    else:
        df = pd.read_csv(source)
    data = split(df, "label", ratios=spec["ratios"], folds=3, seed=0)
    path = out / f"{name}.split.parquet"
    data.to_parquet(path)
    return data, path


def run(name: str, out: Path, trials: int, seeds: int, epochs: int) -> dict:
    import yaml

    from augment.api import augment
    from pipelines.train.recipe_search import search_recipe
    from pipelines.train.run import train

    spec = DATASETS[name]
    data, path = prepare(name, out)
    hand = yaml.safe_load((ROOT / "sample_data" / spec["recipe"]).read_text())
    settings = {"epochs": epochs, "device": "cpu", **spec["train"]}
    started = time.perf_counter()
    result = search_recipe(data, label="label", folder=out / f"search_{name}", recipe_out=out / f"search_{name}" /
                           "recipe.yaml", n=[1, 3], magnitude=[2, 10], trials=trials,
                           base={"copies": hand["copies"]}, seed=0, train=settings, base_dir=path.parent,
                           progress=print)
    search_seconds = time.perf_counter() - started
    arms = {"searched": out / f"search_{name}" / "recipe.yaml", "hand-written": ROOT / "sample_data" / spec["recipe"],
            "none": None}
    figures: dict = {}
    for arm, recipe in arms.items():
        vals, tests = [], []
        for seed in range(seeds):
            data_path = path
            if recipe is not None:
                augment(data, str(recipe), out / f"{name}_{arm}_aug{seed}", seed=seed)
                data_path = out / f"{name}_{arm}_aug{seed}" / "manifest.parquet"
            metrics = train(str(data_path), label="label", out=out / f"{name}_{arm}_run{seed}",
                            **{**settings, "seed": seed})
            vals.append(metrics["val"]["accuracy"])
            tests.append(metrics["test"]["accuracy"])
            print(f"{name} {arm} seed {seed}: val {vals[-1]:.3f} test {tests[-1]:.3f}")
        figures[arm] = {"val": vals, "test": tests}
    best = result["best"]
    return {"search": {"trials": len(result["trials"]), "seconds": round(search_seconds, 1), "n": best["n"],
                       "magnitude": best["magnitude"], "pool": best["pool"], "cv_score": best["score"],
                       "cv_none": result["none"]["score"], "folds": result["folds"]},
            "arms": figures, "rows": {s: int((data["split"] == s).sum()) for s in ("train", "val", "test")}}


def markdown(results: dict, command: str) -> str:
    lines = ["| data | arm | val accuracy | test accuracy |", "|---|---|---|---|"]
    for name, r in results.items():
        for arm, f in r["arms"].items():
            lines.append(f"| {name} | {arm} | {_pm(f['val'])} | {_pm(f['test'])} |")
    lines.append("")
    for name, r in results.items():
        s = r["search"]
        lines.append(f"- {name} ({r['rows']['train']} train / {r['rows']['val']} val / {r['rows']['test']} test rows): "
                     f"searched N = {s['n']} of {', '.join(s['pool'])} at magnitude {s['magnitude']} "
                     f"({s['trials']} trials, {s['seconds']:.0f} s; {s['folds']}-fold val accuracy "
                     f"{s['cv_score']:.3f} vs {s['cv_none']:.3f} without augmentation)")
    lines += ["", f"Rerun: `{command}`"]
    return "\n".join(lines) + "\n"


def _pm(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f}"


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/recipe_search")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--data", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny models: one thread is faster on a shared machine
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {name: run(name, out, args.trials, args.seeds, args.epochs) for name in args.data}
    command = ("PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_recipe_search.py "
               f"--trials {args.trials} --seeds {args.seeds} --epochs {args.epochs} --data {' '.join(args.data)}")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
