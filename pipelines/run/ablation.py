"""Does augmentation help, and which way? The same training without augmentation, on the
augmented corpus (offline) and augmented on the fly (online), over seeds.

Each seed trains every arm with identical settings: ``none`` on the split manifest alone,
``offline`` on the augmented manifest (train rows plus their augmented copies), ``online``
on the split manifest with the recipe drawn afresh for every sample each epoch. The
comparison is made on the **validation** split: whether to keep a recipe is a decision,
and decisions never look at test. Per seed the arms share everything but the
augmentation, so the differences are paired: verdicts come from paired t-tests over seeds
(scipy), and "no clear difference" is the honest answer when the seeds disagree.
``with``/``without`` in ``ablation.json`` compare the arm the pipeline trains with
``none``; ``winner`` names the arm of the best mean and whether its paired test against
every other arm says it wins.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

#: p-value under which the paired difference counts as real.
ALPHA = 0.05


def run_ablation(arms: dict[str, tuple[Path, dict[str, Any]]], out: Path, *, label: str, settings: dict[str, Any],
                 seeds: int, trained: tuple[str, Path] | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Train ``seeds`` runs of each arm under ``out/`` and compare their val figures.

    ``arms``: name (``none``, ``offline``, ``online``) → (the manifest it trains on, the
    settings it adds: ``online``'s recipe). ``trained``: the pipeline's own training run
    (the arm it trained and its folder, the first seed), reused instead of training it again.
    """
    from pipelines.train.run import train

    base_seed = int(settings.get("seed", 0))
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    for i in range(seeds):
        for arm, (data, extra) in arms.items():
            rundir = out / f"{arm}_seed{base_seed + i}"
            metrics = _finished(trained[1]) if trained is not None and arm == trained[0] and i == 0 else None
            metrics = metrics or _finished(rundir)
            if metrics is None:
                progress(f"ablation: training {arm} augmentation, seed {base_seed + i}")
                metrics = train(str(data), label=label, out=rundir, **{**settings, **extra, "seed": base_seed + i})
            runs[arm].append(metrics)
    main = trained[0] if trained is not None and trained[0] != "none" else next(a for a in arms if a != "none")
    return compare(runs, [base_seed + i for i in range(seeds)], main=main)


def _finished(rundir: Path) -> dict[str, Any] | None:
    """A run of an earlier, interrupted ablation that finished (the rest resume or start)."""
    import json

    path = rundir / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def compare(runs: dict[str, list[dict[str, Any]]], seeds: list[int], *, main: str = "offline") -> dict[str, Any]:
    """``ablation.json``: val accuracy and per-class F1 per arm, each augmented arm against
    ``none`` (paired difference, test, verdict), ``with``/``without`` for the ``main`` arm
    against ``none``, and the ``winner``.

    Examples
    --------
    >>> def m(acc, f1): return {"val": {"accuracy": acc, "per_class": {"a": {"f1": f1}}}}
    >>> r = compare({"none": [m(.8, .7), m(.83, .72), m(.81, .7)],
    ...              "offline": [m(.9, .8), m(.92, .85), m(.91, .83)]}, [0, 1, 2])
    >>> r["verdict"], round(r["difference"]["mean"], 3), r["paired_test"]["pvalue"] < 0.05
    ('helps', 0.097, True)
    >>> r["winner"]["arm"], r["winner"]["verdict"]
    ('offline', 'wins')
    """
    result: dict[str, Any] = {"metric": "val", "seeds": seeds, "arms": {arm: _arm(runs[arm]) for arm in runs}}
    result["versus_none"] = {arm: _paired(result["arms"][arm], result["arms"]["none"])
                             for arm in runs if arm != "none"}
    main_arm = result["versus_none"][main]
    result.update({"with": result["arms"][main], "without": result["arms"]["none"], "with_arm": main,
                   "difference": main_arm["difference"], "paired_test": main_arm["paired_test"],
                   "verdict": main_arm["verdict"]})
    result["winner"] = _winner(result["arms"])
    result.update(_intervals(result, runs))
    return result


def _arm(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    accuracy = [float(m["val"]["accuracy"]) for m in metrics]
    classes = metrics[0]["val"]["per_class"]
    return {"accuracy": accuracy, "mean": float(np.mean(accuracy)), "std": _std(accuracy),
            "per_class_f1": {c: {"mean": float(np.mean(f1)), "std": _std(f1)} for c in classes
                             for f1 in [[float(m["val"]["per_class"][c]["f1"]) for m in metrics]]}}


def _paired(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Arm ``a`` against arm ``b``: the per-seed differences, the paired test, the verdict."""
    import numpy as np

    diff = [x - y for x, y in zip(a["accuracy"], b["accuracy"])]
    test = _paired_test(a["accuracy"], b["accuracy"])
    p = test["pvalue"]
    verdict = ("helps" if np.mean(diff) > 0 else "hurts") if p is not None and p < ALPHA else "no clear difference"
    return {"difference": {"mean": float(np.mean(diff)), "std": _std(diff), "per_seed": diff},
            "paired_test": test, "verdict": verdict}


def _winner(arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The arm of the best mean val accuracy; it ``wins`` when its paired test against
    every other arm is under :data:`ALPHA` (ties go to the arm listed first: none, then
    offline, then online, the cheaper)."""
    best = max(arms, key=lambda arm: arms[arm]["mean"])
    against = {arm: _paired(arms[best], arms[arm]) for arm in arms if arm != best}
    wins = bool(against) and all(c["verdict"] == "helps" for c in against.values())
    return {"arm": best, "mean": arms[best]["mean"], "std": arms[best]["std"],
            "against": {arm: {"difference": c["difference"]["mean"], "pvalue": c["paired_test"]["pvalue"]}
                        for arm, c in against.items()},
            "verdict": "wins" if wins else "no clear winner"}


def _intervals(result: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The mean val accuracy of the trained arm (``with``) and of ``none`` (``without``),
    each with its exact interval on the val rows, and whether the two differ by more than
    those intervals (``intervals``); nothing for runs without counts (metrics.json before
    intervals).

    >>> def m(acc): return {"val": {"accuracy": acc, "per_class": {}, "interval": {"n": 200, "confidence": 0.95}}}
    >>> r = {"with": {"mean": 0.9}, "without": {"mean": 0.87}, "with_arm": "offline"}
    >>> _intervals(r, {"offline": [m(.9)], "none": [m(.87)]})["intervals"]["within_intervals"]
    True
    """
    from curate.stats.intervals import accuracy_interval, compare as compare_figures

    counts = [m["val"].get("interval") for arm in (result["with_arm"], "none") for m in runs[arm]]
    if not counts or any(c is None for c in counts):
        return {}
    n, confidence = counts[0]["n"], counts[0]["confidence"]
    arms = {side: accuracy_interval(round(result[side]["mean"] * n), n, confidence) for side in ("with", "without")}
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
