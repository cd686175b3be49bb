"""Does the label-preserving gate help? The ablation of issue 25 §2 on the fortunes and the digits.

    .venv/bin/python benchmarks/bench_label_gate.py [--seeds 5] [--out /tmp/bench_label_gate]

Each corpus is split as its sample pipeline does (digits: ``sample_data/pipeline.yaml``'s
60/20/20 -> 15/45/40 split, a deliberately small train set; fortunes: 60/20/20), then
augmented twice with its sample recipe (``text.recipe.yaml``, ``digits.recipe.yaml``):
as written, and with ``gate.label_preserving: {min_confidence: 0.5}`` added. The baseline
(``curaug train``, the digits with the pipeline's ``train:`` settings) is trained on three
arms, each over ``--seeds`` seeds: no augmentation, the recipe, the recipe with the gate.
Arms are compared on **val** accuracy, paired by seed, with the pipeline ablation's own
comparison (:func:`pipelines.run.ablation.compare`: mean, spread, paired t-test, verdict).
The gate's figures (rejection rate per class, copies given up, sources the gate itself
rejects out of fold) come from the gated run's ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
GATE = {"min_confidence": 0.5}
CORPORA = {
    "fortunes": {"source": SAMPLE / "text.csv", "recipe": SAMPLE / "text.recipe.yaml", "ratios": "0.6,0.2,0.2",
                 "train": {}},
    "digits": {"source": SAMPLE / "images", "recipe": SAMPLE / "digits.recipe.yaml", "ratios": "0.15,0.45,0.4",
               "train": {"epochs": 20, "patience": 20, "image_size": 16, "width": 16}},
}


def cli(*args) -> None:
    from pipelines.cli import main

    code = main([str(a) for a in args])
    if code != 0:
        sys.exit(f"curaug {' '.join(map(str, args))} exited {code}")


def prepare(name: str, corpus: dict, out: Path) -> dict[str, Path]:
    """The split manifest and the two augmented ones (as written, gated)."""
    import yaml

    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    data = corpus["source"]
    if data.is_dir():
        cli("ingest", data, "-o", folder / "raw.parquet")
        data = folder / "raw.parquet"
    split = folder / "split.parquet"
    cli("split", data, "--label", "label", "--ratios", corpus["ratios"], "--seed", "0", "-o", split)
    recipe = yaml.safe_load(corpus["recipe"].read_text())
    gated = {**recipe, "gate": {**(recipe.get("gate") or {}), "label_preserving": GATE}}
    (folder / "gated.recipe.yaml").write_text(yaml.safe_dump(gated, sort_keys=False))
    cli("augment", split, "--recipe", corpus["recipe"], "-o", folder / "augmented", "--seed", "0")
    cli("augment", split, "--recipe", folder / "gated.recipe.yaml", "-o", folder / "gated", "--seed", "0")
    return {"none": split, "augmented": folder / "augmented" / "manifest.parquet",
            "gated": folder / "gated" / "manifest.parquet"}


def train_arms(arms: dict[str, Path], settings: dict, seeds: int, out: Path) -> dict[str, list[dict]]:
    from pipelines.train.run import train

    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    for seed in range(seeds):
        for arm, data in arms.items():
            rundir = out / f"{arm}_seed{seed}"
            metrics = rundir / "metrics.json"
            runs[arm].append(json.loads(metrics.read_text()) if metrics.is_file() else
                             train(str(data), label="label", out=rundir, device="cpu", seed=seed, **settings))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_label_gate"))
    parser.add_argument("--corpora", default=",".join(CORPORA))
    args = parser.parse_args()
    from pipelines.run.ablation import compare

    results = {}
    for name in args.corpora.split(","):
        corpus = CORPORA[name]
        arms = prepare(name, corpus, args.out)
        runs = train_arms(arms, corpus["train"], args.seeds, args.out / name / "runs")
        seeds = list(range(args.seeds))
        summary = json.loads((args.out / name / "gated" / "summary.json").read_text())
        results[name] = {
            "val_accuracy": {arm: spread([m["val"]["accuracy"] for m in r]) for arm, r in runs.items()},
            "gated_vs_augmented": compare({"with": runs["gated"], "without": runs["augmented"]}, seeds),
            "augmented_vs_none": compare({"with": runs["augmented"], "without": runs["none"]}, seeds),
            "gated_vs_none": compare({"with": runs["gated"], "without": runs["none"]}, seeds),
            "made": {"augmented": json.loads((args.out / name / "augmented" / "summary.json").read_text())["made"],
                     "gated": summary["made"]},
            "label_gate": summary["label_gate"],
        }
        report(name, results[name])
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out / 'results.json'}")


def spread(values: list[float]) -> dict:
    import numpy as np

    return {"per_seed": values, "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}


def report(name: str, r: dict) -> None:
    print(f"\n## {name}\n\n| arm | copies made | val accuracy (mean ± std over seeds) |\n|---|---|---|")
    made = {"none": 0, **r["made"]}
    for arm, figures in r["val_accuracy"].items():
        print(f"| {arm} | {made[arm]} | {figures['mean']:.3f} ± {figures['std']:.3f} |")
    for pair in ("gated_vs_augmented", "augmented_vs_none", "gated_vs_none"):
        c = r[pair]
        p = c["paired_test"]["pvalue"]
        print(f"\n{pair}: difference {c['difference']['mean']:+.3f} ± {c['difference']['std']:.3f}, "
              f"paired t-test p = {'n/a' if p is None else f'{p:.3f}'}: {c['verdict']}")
    gate = r["label_gate"]
    print(f"\nlabel gate: {gate['rejected']} of {gate['judged']} draws rejected ({gate['rejection_rate']:.1%}), "
          f"{gate['gave_up']} copies given up; {gate['sources_failing']} of {gate['sources']} sources rejected "
          "by the gate as they are (out of fold)")
    for cls, c in gate["per_class"].items():
        print(f"  {cls}: rejection rate {c['rejection_rate']:.1%} ({c['rejected']}/{c['judged']}), "
              f"gave up {c['gave_up']}, sources failing {c['sources_failing']}/{c['sources']}")


if __name__ == "__main__":
    main()
