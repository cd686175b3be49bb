"""The summary of a training run: accuracies with their intervals, the held-out note,
the gaps, the warnings."""

from __future__ import annotations

from typing import Any

from pipelines.console.output import stdout_console, wrote
from pipelines.console.rounding import figure, share


def held_out_note(figures: dict[str, Any]) -> str:
    """How val figures after a search were made: the final model trained on val, so they
    are the chosen trial's predictions on the rows its fits held out.

    >>> held_out_note({"held_out": {"trial": 3, "fits": 5, "rows": 120}})
    " (search trial 3's out-of-fold predictions, 120 rows over 5 folds)"
    >>> held_out_note({"held_out": {"trial": 0, "fits": 1, "rows": 40}}), held_out_note({})
    (" (search trial 0's predictions, 40 val rows)", '')
    """
    held = figures.get("held_out")
    if not held:
        return ""
    if held["fits"] > 1:
        return f" (search trial {held['trial']}'s out-of-fold predictions, {held['rows']} rows over {held['fits']} folds)"
    return f" (search trial {held['trial']}'s predictions, {held['rows']} val rows)"


def interval_note(interval: dict[str, Any] | None) -> str:
    """`` (95 % interval 0.824-0.951 on 100 rows; Hoeffding: error at most 0.222)`` for an
    accuracy's ``interval``; nothing without one.

    >>> from curate.stats.intervals import accuracy_interval
    >>> interval_note(accuracy_interval(90, 100))
    ' (95 % interval 0.824-0.951 on 100 rows; Hoeffding: error at most 0.222)'
    """
    if not interval:
        return ""
    low, high = interval["accuracy"]
    return (f" ({interval['confidence'] * 100:g} % interval {share(low)}-{share(high)} on {interval['n']} rows; "
            f"Hoeffding: error at most {share(interval['hoeffding']['error_at_most'])})")


def print_training_summary(metrics: dict[str, Any], rundir: str) -> None:
    """Model, rows per split, where it stopped, val and test figures, then the run folder."""
    console = stdout_console()
    rows = ", ".join(f"{name} {count}" for name, count in metrics.get("rows", {}).items())
    retrain = metrics.get("retrain")
    epochs = "" if retrain else f"; best epoch {metrics['best_epoch']} of {metrics['stopped_epoch']}"
    console.print(f"trained {metrics['model']} on {metrics['device']} ({rows}) in {figure(metrics['seconds'])} s"
                  f"{epochs}", highlight=False, markup=False)
    if "sanity" in metrics:
        sanity = metrics["sanity"]
        console.print(f"sanity: the model overfit {sanity['samples']} training samples in {sanity['steps']} steps",
                      highlight=False, markup=False)
    if "search" in metrics:
        best = metrics["search"]["best"]
        params = ", ".join(f"{k}={figure(v) if isinstance(v, float) else v}" for k, v in best["params"].items())
        sampler = metrics["search"].get("sampler", "random")
        console.print(f"search: {len(metrics['search']['trials'])} trials ({sampler} sampler); best {params} "
                      f"(trial {best['trial']}, cv {figure(best['cv_mean'])} ± {figure(best['cv_std'])})",
                      highlight=False, markup=False)
        if "runner_up" in best:
            console.print(search_lead(best), highlight=False, markup=False)
        if retrain:
            fits = (f"the median best epoch of its {retrain['fits']} folds" if retrain["fits"] > 1
                    else "its best epoch on val")
            console.print(f"final model: trial {retrain['trial']}'s setting retrained on "
                          f"{'+'.join(retrain['splits'])} ({retrain['rows']} rows) for {retrain['epochs']} "
                          f"epoch{'s' if retrain['epochs'] != 1 else ''}, "
                          f"{fits}", highlight=False, markup=False)
    for split in ("val", "test"):
        if split in metrics:
            worst = min(metrics[split]["per_class"].items(), key=lambda kv: kv[1]["f1"], default=None)
            extra = f"; weakest class {worst[0]} (F1 {figure(worst[1]['f1'])})" if worst else ""
            console.print(f"{split} accuracy {share(metrics[split]['accuracy'])}"
                          f"{interval_note(metrics[split].get('interval'))}{held_out_note(metrics[split])}"
                          f"{extra}", highlight=False, markup=False)
    if "gaps" in metrics:
        from pipelines.train.gaps import gaps_line

        errors = metrics["gaps"]["errors"]
        console.print("error rates: " + ", ".join(f"{name} {share(e)}" for name, e in errors.items()),
                      highlight=False, markup=False)
        console.print(gaps_line(metrics["gaps"]), highlight=False, markup=False)
    if "val_vs_test" in metrics:
        console.print(metrics["val_vs_test"]["sentence"], highlight=False, markup=False)
    for warning in metrics.get("warnings", []):
        console.print(f"warning: {warning}", highlight=False, markup=False)
    histograms = metrics.get("histograms", {})
    for layer in histograms.get("flagged", []):
        console.print(f"warning: {layer}: more than half of its units are dead (see histograms/)", highlight=False,
                      markup=False)
    if histograms.get("advice"):
        console.print(f"advice: {histograms['advice']}", highlight=False, markup=False)
    wrote(rundir, "training run: metrics.json, model.pt, config.json, curves.png, errors.csv")


def search_lead(best: dict[str, Any]) -> str:
    """Whether the best trial's lead over the next is one its validated rows show.

    >>> best = {"trial": 7, "cv_mean": 0.95, "interval": {"accuracy": [0.93, 0.966], "confidence": 0.95},
    ...         "runner_up": {"trial": 3, "cv_mean": 0.945,
    ...                       "paired_test": {"only_a": 6, "only_b": 4, "pvalue": 0.7539, "shows": False}}}
    >>> search_lead(best)
    'search: best trial 7 vs the next best, trial 3 (cv 0.945): 6 rows only trial 7 got right, 4 only trial 3 (exact McNemar p = 0.754): not a lead these rows can show; 95 % interval of the best 0.930-0.966'
    """
    second, test = best["runner_up"], best["runner_up"]["paired_test"]
    verdict = "a lead these rows show" if test["shows"] else "not a lead these rows can show"
    low, high = best["interval"]["accuracy"]
    level = f"{best['interval']['confidence'] * 100:g} %"
    return (f"search: best trial {best['trial']} vs the next best, trial {second['trial']} "
            f"(cv {second['cv_mean']:.3f}): {test['only_a']} rows only trial {best['trial']} got right, "
            f"{test['only_b']} only trial {second['trial']} (exact McNemar p = {test['pvalue']:.3f}): {verdict}; "
            f"{level} interval of the best {low:.3f}-{high:.3f}")
