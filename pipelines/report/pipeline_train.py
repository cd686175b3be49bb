"""The training and ablation sections of the pipeline report.

Training: the curves the run drew, a confusion heat map per evaluated split, per-class
precision/recall/F1, the hardest examples (top of ``errors.csv``, thumbnails for images),
the activation histograms' flagged layers with the advice for them, and the error rate
per split with the avoidable-bias, variance and data-mismatch gaps and the remedy for the
largest. After a search the final model was retrained on train+val: the curves, val
figures and errors are the chosen trial's folds', and the section says so. Ablation:
accuracy with and without augmentation per seed with mean ± std, per-class F1, the
paired test and its verdict.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pipelines.console.rounding import figure

from pipelines.console.training import held_out_note, interval_note
from pipelines.report.html import _png, _pyplot
from pipelines.report.parts import cell, data_uri_png, figures_of, guarded, missing, table

#: Rows of errors.csv and hard_examples.csv shown (the highest losses).
HARDEST = 10


def training_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    metrics = figures_of(stages, "train")
    train = out / "train"
    if metrics is None:
        return missing("train/metrics.json is missing: training did not finish.")
    retrain = metrics.get("retrain")
    fitted = (f"search trial {retrain['trial']}'s setting retrained {retrain['epochs']} epochs on "
              f"{'+'.join(retrain['splits'])} ({retrain['rows']} rows)" if retrain else
              f"best epoch {metrics.get('best_epoch')}, stopped at {metrics.get('stopped_epoch')}")
    parts = [f"<p id='train-summary'>{html.escape(str(metrics.get('model', '')))} on "
             f"{html.escape(str(metrics.get('device', '')))}: {html.escape(fitted)}"
             + "".join(f"; {split} accuracy <b>{metrics[split]['accuracy']:.3f}</b>"
                       + html.escape(interval_note(metrics[split].get("interval")) + held_out_note(metrics[split]))
                       for split in ("val", "test") if split in metrics) + ".</p>"]
    if "val_vs_test" in metrics:
        parts.append(f"<p id='val-vs-test'>{html.escape(metrics['val_vs_test']['sentence'])}.</p>")
    best = (metrics.get("search") or {}).get("best") or {}
    if "runner_up" in best:
        from pipelines.console.training import search_lead

        parts.append(f"<p id='search-lead'>{html.escape(search_lead(best).removeprefix('search: '))}.</p>")
    parts += [f"<p class='warn'>warning: {html.escape(str(w))}</p>" for w in metrics.get("warnings") or []]
    curves = train / "curves.png"
    parts.append(f"<h3>{html.escape(_curves_title(metrics))}</h3>"
                 f"<img id='curves' alt='loss and accuracy per epoch' src='{data_uri_png(curves)}'>"
                 if curves.is_file() else missing("train/curves.png is missing."))
    if metrics.get("gaps"):
        parts.append(guarded("error gaps", _gaps, metrics["gaps"]))
    for split in ("test", "val"):
        if split in metrics:
            parts.append(guarded(f"{split} evaluation", _evaluation, split, metrics[split]))
    parts.append(guarded("hardest examples", _hardest, train, out, metrics))
    parts.append(guarded("activation summary", _histograms, metrics.get("histograms"), retrain is not None))
    return "\n".join(parts)


def _curves_title(metrics: dict[str, Any]) -> str:
    """The curves' heading: after a search they are the chosen trial's, not the final model's.

    >>> _curves_title({"retrain": {"trial": 3, "fits": 5, "epochs": 8, "splits": ["train", "val"]}})
    'Curves of search trial 3 (mean of its 5 folds; the final model: 8 epochs on train+val, no val left)'
    >>> _curves_title({})
    'Curves'
    """
    retrain = metrics.get("retrain")
    if not retrain:
        return "Curves"
    over = f"mean of its {retrain['fits']} folds" if retrain["fits"] > 1 else "on val"
    return (f"Curves of search trial {retrain['trial']} ({over}; the final model: {retrain['epochs']} epochs on "
            f"{'+'.join(retrain['splits'])}, no val left)")


def _evaluation(split: str, result: dict[str, Any]) -> str:
    labels = [str(label) for label in result["labels"]]
    heat = _confusion_plot(result["confusion"], labels, split)
    rows = [[cls, m.get("precision"), m.get("recall"), m.get("f1"), m.get("support")]
            for cls, m in result["per_class"].items()]
    notes = interval_note(result.get("interval")) + held_out_note(result)
    return (f"<h3>{split}: accuracy {result['accuracy']:.3f}{html.escape(notes)}</h3>"
            f"<img id='confusion-{split}' alt='{split} confusion matrix' src='{heat}'>"
            + table(["class", "precision", "recall", "F1", "support"], rows, f"per-class-{split}"))


def _confusion_plot(confusion: list[list[int]], labels: list[str], split: str) -> str:
    """A heat map of counts: true class down, predicted class across, each cell labelled."""
    import numpy as np

    plt = _pyplot()
    grid = np.asarray(confusion, dtype=int)
    side = 1.6 + 0.45 * len(labels)
    fig, ax = plt.subplots(figsize=(side + 0.8, side))
    im = ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 6 else 0, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted class", fontsize=8)
    ax.set_ylabel("true class", fontsize=8)
    ax.set_title(f"{split} confusion matrix", fontsize=9)
    high = grid.max() / 2 if grid.size else 0
    for i, j in np.ndindex(grid.shape):
        ax.text(j, i, str(grid[i, j]), ha="center", va="center", fontsize=7,
                color="white" if grid[i, j] > high else "black")
    fig.colorbar(im, ax=ax, fraction=0.05)
    return _png(fig)


def _hardest(train: Path, out: Path, metrics: dict[str, Any]) -> str:
    import pandas as pd

    from pipelines.report.pipeline_samples import sample_thumbnails

    parts = ["<h3>Hardest examples</h3>"]
    confusions = (metrics.get("errors") or {}).get("top_confusions") or []
    if confusions:
        parts.append("<p>Most confused: " + html.escape(", ".join(
            f"{c['label']} → {c['prediction']} ({c['count']})" for c in confusions)) + "</p>")
    for name, what in (("errors.csv", "failed validation examples"), ("hard_examples.csv", "mined hard examples")):
        path = train / name
        if not path.is_file():
            if name == "errors.csv":
                parts.append(missing("train/errors.csv is missing."))
            continue
        rows = pd.read_csv(path, dtype={"id": str, "label": str, "prediction": str})
        if rows.empty:
            parts.append(f"<p>No {what}.</p>")
            continue
        top = rows.sort_values("loss", ascending=False).head(HARDEST)
        thumbs = sample_thumbnails(list(top["id"]), out)
        columns = [c for c in top.columns if c != "id"]
        body = "".join(
            "<tr><td>" + (f"<img alt='' src='{thumbs[r['id']]}'>" if r["id"] in thumbs else "") + "</td>"
            + f"<td>{html.escape(str(r['id']))}</td>" + "".join(cell(r[c]) for c in columns) + "</tr>"
            for _, r in top.iterrows())
        head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", "id", *columns])
        parts.append(f"<p>{len(top)} of {len(rows)} {what}, highest loss first ({name}).</p>"
                     f"<table class='thumbs' id='hardest-{name.split('.')[0]}'><tr>{head}</tr>{body}</table>")
    return "\n".join(parts)


def _histograms(summary: dict[str, Any] | None, retrained: bool = False) -> str:
    if not summary or not summary.get("dead_relu"):
        return "<h3>Activations</h3>" + missing("no activation histograms were recorded.")
    flagged = set(summary.get("flagged") or [])
    rows = [[layer, fraction, "FLAGGED: mostly dead" if layer in flagged else "ok"]
            for layer, fraction in summary["dead_relu"].items()]
    verdict = (f"{len(flagged)} layer{'s' if len(flagged) != 1 else ''} flagged: {', '.join(sorted(flagged))}"
               if flagged else "no layer flagged")
    of = " of the final retrain" if retrained else ""
    advice = f"<p id='dead-advice'>{html.escape(summary['advice'])}.</p>" if summary.get("advice") else ""
    return (f"<h3>Activations (epoch {summary.get('epoch')}{of})</h3><p id='dead-layers'>{html.escape(verdict)}.</p>"
            + advice + table(["layer", "dead ReLU fraction", ""], rows, "histograms"))


def _gaps(gaps: dict[str, Any]) -> str:
    """Error per split, the three gaps and the remedy for the largest (:mod:`pipelines.train.gaps`)."""
    from pipelines.train.gaps import GAP_NAMES

    errors = table(list(gaps["errors"]), [list(gaps["errors"].values())], "error-rates")
    rows = [[GAP_NAMES[name], gaps[name], "largest" if name == gaps.get("largest") else ""]
            for name in GAP_NAMES if gaps.get(name) is not None]
    verdict = (f"Largest gap: {GAP_NAMES[gaps['largest']]}. Next: {gaps['remedy']}." if gaps.get("largest")
               else "No gap above 0.")
    base = gaps.get("human_error") or 0
    return (f"<h3>Error rates and gaps</h3>{errors}"
            f"<p id='gaps-verdict'>{html.escape(verdict)} (avoidable bias measured from a human-level error of "
            f"{base:g}; variance on {html.escape(str(gaps.get('variance_on')))}.)</p>"
            + table(["gap", "size", ""], rows, "gaps"))


def ablation_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    result = figures_of(stages, "ablation")
    if result is None:
        return missing("ablation.json is missing: the ablation did not finish.")
    with_, without = result["with"], result["without"]
    diff, test = result["difference"], result["paired_test"]
    metric = html.escape(str(result.get("metric", "val")))
    seeds = result["seeds"]
    sentence = (f"Augmentation {html.escape(_verdict_words(result['verdict']))}: {metric} accuracy "
                f"{_pm(with_['mean'], with_['std'])} with vs {_pm(without['mean'], without['std'])} without "
                f"(difference {'+' if diff['mean'] > 0 else ''}{figure(diff['mean'])} ± {figure(diff['std'])} over {len(seeds)} seeds; "
                f"{html.escape(str(test['name']))} statistic {_maybe(test.get('statistic'))}, "
                f"p = {_maybe(test.get('pvalue'))}).")
    classes = list(dict.fromkeys([*(with_.get("per_class_f1") or {}), *(without.get("per_class_f1") or {})]))
    rows = [[cls, _pm_of(with_, cls), _pm_of(without, cls)] for cls in classes]
    per_seed = table(["seed", "with", "without", "difference"],
                     [[s, a, b, d] for s, a, b, d in zip(seeds, with_["accuracy"], without["accuracy"],
                                                         diff.get("per_seed") or [None] * len(seeds))],
                     "ablation-seeds")
    if "intervals" in result:
        sentence += f" Means: {html.escape(result['intervals']['sentence'])}."
    return (f"<p id='ablation-verdict' class='verdict {_verdict_class(result['verdict'])}'>{sentence}</p>"
            f"<img id='ablation-plot' alt='{metric} accuracy with and without augmentation per seed' "
            f"src='{_ablation_plot(result)}'>" + per_seed
            + "<h3>Per-class F1</h3>" + table(["class", "with augmentation", "without"], rows, "ablation-f1")
            + _winner_part(result))


def _winner_part(result: dict[str, Any]) -> str:
    """None, offline and online side by side per seed, and the arm that wins on val."""
    winner, arms = result.get("winner"), result.get("arms")
    if not winner or not arms:
        return ""  # an ablation.json of two arms only, written before the online arm existed
    against = "; ".join(f"against {html.escape(arm)} {'+' if c['difference'] > 0 else ''}{figure(c['difference'])}, "
                        f"p = {_maybe(c['pvalue'])}" for arm, c in winner["against"].items())
    words = "wins" if winner["verdict"] == "wins" else "has the best mean, but no clear win"
    sentence = (f"Best on {html.escape(str(result.get('metric', 'val')))}: {html.escape(winner['arm'])} "
                f"{words}, accuracy {_pm(winner['mean'], winner['std'])} (paired t-test {against}).")
    names = list(arms)
    per_seed = table(["seed", *names], [[seed, *(arms[a]["accuracy"][i] for a in names)]
                                        for i, seed in enumerate(result["seeds"])], "ablation-arms")
    mark = "pass" if winner["verdict"] == "wins" else "warn"
    return (f"<h3>None, offline and online</h3><p id='ablation-winner' class='verdict {mark}'>{sentence}</p>"
            + per_seed)


def _verdict_words(verdict: str) -> str:
    return {"helps": "helps", "hurts": "hurts", "no clear difference": "makes no clear difference"}.get(
        verdict, verdict)


def _verdict_class(verdict: str) -> str:
    return {"helps": "pass", "hurts": "fail"}.get(verdict, "warn")


def _pm(mean: float, std: float) -> str:
    return f"{figure(mean)} ± {figure(std)}"


def _pm_of(arm: dict[str, Any], cls: str) -> str:
    f1 = (arm.get("per_class_f1") or {}).get(cls)
    return _pm(f1["mean"], f1["std"]) if f1 else "n/a"


def _maybe(value: float | None) -> str:
    """A test statistic, or n/a where the test had none (all differences equal)."""
    return "n/a" if value is None else html.escape(figure(value))


def _ablation_plot(result: dict[str, Any]) -> str:
    """Accuracy per seed (points, one line per seed joining its two runs) and each arm's
    mean ± std (bar and error bar)."""
    plt = _pyplot()
    arms = [("with", "with augmentation", "#4c78a8"), ("without", "without", "#f58518")]
    fig, ax = plt.subplots(figsize=(4.5, 3))
    for x, (key, label, colour) in enumerate(arms):
        arm = result[key]
        ax.bar(x, arm["mean"], 0.6, color=colour, alpha=0.35, label=f"{label}: mean ± std")
        ax.errorbar(x, arm["mean"], yerr=arm["std"], color="black", capsize=6)
    for seed, a, b in zip(result["seeds"], result["with"]["accuracy"], result["without"]["accuracy"]):
        ax.plot([0, 1], [a, b], "o-", color="#555", linewidth=0.8, markersize=4)
        ax.annotate(f"seed {seed}", (1, b), xytext=(6, 0), textcoords="offset points", fontsize=7, va="center")
    low = min(result["with"]["accuracy"] + result["without"]["accuracy"])
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    ax.set_xticks([0, 1], [label for _, label, _ in arms], fontsize=8)
    ax.set_xlim(-0.6, 1.8)
    ax.set_ylabel(f"{result.get('metric', 'val')} accuracy", fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return _png(fig)
