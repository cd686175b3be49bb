"""Does the augmentation recipe help? The same training with and without it, over seeds.

Each seed trains twice with identical settings: once on the augmented manifest (train
rows plus their augmented copies), once on the split manifest alone. The comparison is
made on the **validation** split: whether to keep a recipe is a decision, and decisions
never look at test. Per seed the two runs share everything but the augmented rows, so the
differences are paired: the verdict comes from a paired t-test over seeds (scipy), and
"no clear difference" is the honest answer when the seeds disagree.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

#: p-value under which the paired difference counts as real.
ALPHA = 0.05
ARMS = ("with", "without")


def run_ablation(with_data: Path, without_data: Path, out: Path, *, label: str, settings: dict[str, Any],
                 seeds: int, trained: Path | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Train ``seeds`` pairs of runs under ``out/`` and compare their val figures.

    ``trained``: the pipeline's own training run (on ``with_data``, the first seed), reused
    as the first "with" run instead of training it again.
    """
    from pipelines.train.run import train

    base_seed = int(settings.get("seed", 0))
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for i in range(seeds):
        for arm, data in zip(ARMS, (with_data, without_data)):
            rundir = out / f"{arm}_seed{base_seed + i}"
            metrics = _finished(trained) if trained is not None and arm == "with" and i == 0 else None
            metrics = metrics or _finished(rundir)
            if metrics is None:
                progress(f"ablation: training {arm} augmentation, seed {base_seed + i}")
                metrics = train(str(data), label=label, out=rundir, **{**settings, "seed": base_seed + i})
            runs[arm].append(metrics)
    return compare(runs, [base_seed + i for i in range(seeds)])


def _finished(rundir: Path) -> dict[str, Any] | None:
    """A run of an earlier, interrupted ablation that finished (the rest resume or start)."""
    import json

    path = rundir / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def compare(runs: dict[str, list[dict[str, Any]]], seeds: list[int]) -> dict[str, Any]:
    """``ablation.json``: val accuracy and per-class F1 per arm, the paired difference and test.

    Examples
    --------
    >>> def m(acc, f1): return {"val": {"accuracy": acc, "per_class": {"a": {"f1": f1}}}}
    >>> r = compare({"with": [m(.9, .8), m(.92, .85), m(.91, .83)],
    ...              "without": [m(.8, .7), m(.83, .72), m(.81, .7)]}, [0, 1, 2])
    >>> r["verdict"], round(r["difference"]["mean"], 3), r["paired_test"]["pvalue"] < 0.05
    ('helps', 0.097, True)
    """
    import numpy as np

    result: dict[str, Any] = {"metric": "val", "seeds": seeds}
    for arm in ARMS:
        accuracy = [float(m["val"]["accuracy"]) for m in runs[arm]]
        classes = runs[arm][0]["val"]["per_class"]
        result[arm] = {
            "accuracy": accuracy, "mean": float(np.mean(accuracy)), "std": _std(accuracy),
            "per_class_f1": {c: {"mean": float(np.mean(f1)), "std": _std(f1)} for c in classes
                             for f1 in [[float(m["val"]["per_class"][c]["f1"]) for m in runs[arm]]]},
        }
    diff = [a - b for a, b in zip(result["with"]["accuracy"], result["without"]["accuracy"])]
    result["difference"] = {"mean": float(np.mean(diff)), "std": _std(diff), "per_seed": diff}
    result["paired_test"] = _paired_test(result["with"]["accuracy"], result["without"]["accuracy"])
    p = result["paired_test"]["pvalue"]
    if p is not None and p < ALPHA:
        result["verdict"] = "helps" if result["difference"]["mean"] > 0 else "hurts"
    else:
        result["verdict"] = "no clear difference"
    result.update(_intervals(result, runs))
    return result


def _intervals(result: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each arm's mean val accuracy with its exact interval on the val rows, and whether the
    two means differ by more than those intervals (``intervals``); nothing for runs without
    counts (metrics.json before intervals).

    >>> def m(acc): return {"val": {"accuracy": acc, "per_class": {}, "interval": {"n": 200, "confidence": 0.95}}}
    >>> r = {"with": {"mean": 0.9}, "without": {"mean": 0.87}}
    >>> _intervals(r, {"with": [m(.9)], "without": [m(.87)]})["intervals"]["within_intervals"]
    True
    """
    from curate.stats.intervals import accuracy_interval, compare as compare_figures

    counts = [m["val"].get("interval") for arm in ARMS for m in runs[arm]]
    if not counts or any(c is None for c in counts):
        return {}
    n, confidence = counts[0]["n"], counts[0]["confidence"]
    arms = {arm: accuracy_interval(round(result[arm]["mean"] * n), n, confidence) for arm in ARMS}
    comparison = compare_figures("with", arms["with"], "without", arms["without"])
    return {"intervals": {**comparison, "with": arms["with"], "without": arms["without"]}}


def _std(values: list[float]) -> float:
    import numpy as np

    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _paired_test(a: list[float], b: list[float]) -> dict[str, Any]:
    """Paired t-test over seeds; with one seed, or identical differences, there is none to make."""
    import numpy as np

    test: dict[str, Any] = {"name": "paired t-test", "statistic": None, "pvalue": None, "n": len(a)}
    diff = np.subtract(a, b)
    if len(a) < 2:
        return {**test, "note": "one seed: no test (give ablation.seeds >= 2)"}
    if np.allclose(diff, diff[0]):
        # every seed moved by the same amount: the t statistic is infinite (or 0/0)
        p = 0.0 if diff[0] != 0 else 1.0
        return {**test, "statistic": None, "pvalue": p, "note": "the same difference on every seed"}
    from scipy.stats import ttest_rel

    stat = ttest_rel(a, b)
    return {**test, "statistic": float(stat.statistic), "pvalue": float(stat.pvalue)
            if not math.isnan(stat.pvalue) else None}
