"""The pipeline report: ``out/report.html``, one self-contained page for a whole `curaug run`.

Verdict and stage table first, then the dataset profile, every check with its figures,
augmented samples beside their sources, training, and the ablation. A section whose stage
did not run says so in one line; a section whose files are missing or odd says what is
wrong, and the rest of the page is still written (a failed validation still gets its
report). Every image is a data: URI and the style is inline, so the page needs no network.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Callable

from pipelines.console.summaries import verdict_counts
from pipelines.report.html import _STYLE, _png, _pyplot, check_figures, checks_table
from pipelines.report.parts import figures_of, guarded, missing, table

_PAGE_STYLE = _STYLE + """
.missing{color:#666;font-style:italic} .pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}
.pair{border:1px solid #ddd;border-radius:6px;padding:.5rem} .pair ul{margin:.3rem 0;padding-left:1.1rem;font-size:.8em}
.pair p{margin:.2rem 0;font-size:.85em} ins{background:#d7f5dd;text-decoration:none} del{background:#fbd9d9}
.thumbs img{height:64px;image-rendering:pixelated;margin-right:.3rem} td.num{text-align:right}
"""

def write_pipeline_report(out_dir: str | os.PathLike, stages: dict[str, dict[str, Any]]) -> Path:
    """Write ``out_dir/report.html`` for the finished ``stages`` (shape: docs/pipelines.md)
    atomically, and return its path."""
    from curate.io.atomic import write_text_atomic

    path = Path(out_dir) / "report.html"
    write_text_atomic(path, render_pipeline_report(out_dir, stages))
    return path


def render_pipeline_report(out_dir: str | os.PathLike, stages: dict[str, dict[str, Any]]) -> str:
    """The report as one HTML string."""
    from pipelines.report.card import card_section
    from pipelines.report.pipeline_learning import learning_curve_section
    from pipelines.report.pipeline_samples import augmentation_section
    from pipelines.report.pipeline_search import recipe_search_section
    from pipelines.report.pipeline_train import ablation_section, training_section

    out = Path(out_dir)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>curaug pipeline report</title>"
             f"<style>{_PAGE_STYLE}</style></head><body>",
             f"<h1>Pipeline report</h1><p>{html.escape(str(out.resolve()))}</p>",
             _verdict(stages), _stage_table(stages)]
    sections: list[tuple[str, str, tuple[str, ...], Callable[..., str]]] = [
        ("profile", "Dataset profile", ("ingest",), _profile_section),
        ("checks", "Checks", ("validate", "validate_splits"), _checks_section),
        ("augmentation", "Augmentation", ("augment",), augmentation_section),
        ("training", "Training", ("train",), training_section),
        ("ablation", "Ablation: none, offline and online augmentation", ("ablation",), ablation_section),
        ("learning-curve", "Learning curve: would more data help?", ("learning_curve",), learning_curve_section),
        ("card", "Dataset card", ("card",), card_section),
    ]
    if "search_recipe" in stages:  # only pipelines that search have the section
        sections.insert(2, ("recipe-search", "Recipe search", ("search_recipe",), recipe_search_section))
    for anchor, title, needs, render in sections:
        parts.append(f"<section id='{anchor}'><h2>{title}</h2>")
        if not any(name in stages for name in needs):
            parts.append(f"<p class='missing'>Not shown: the {' and '.join(needs)} stage did not run.</p>")
        else:
            parts.append(guarded(f"{anchor} section", render, out, stages))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _stage_names(stages: dict[str, dict[str, Any]]) -> list[str]:
    """Every stage of a pipeline in run order (those this run never reached included)."""
    from pipelines.run.stages import STAGES

    names = [s.name for s in STAGES if s.name != "report"]
    return names + [n for n in stages if n not in names and n != "report"]


def _verdict(stages: dict[str, dict[str, Any]]) -> str:
    failed = [name for name, s in stages.items() if s.get("status") == "failed"]
    if failed:
        return (f"<div class='verdict fail' id='verdict'>FAILED: {html.escape(', '.join(failed))} failed; "
                "the stages after it did not run</div>")
    warned = sum(1 for name in ("validate", "validate_splits")
                 for c in (figures_of(stages, name) or {}).get("checks", []) if not c["success"])
    extra = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
    return f"<div class='verdict pass' id='verdict'>PASSED: every check passed{extra}</div>"


def _stage_table(stages: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name in _stage_names(stages):
        s = stages.get(name)
        if s is None:
            rows.append([name, "not run", "", None, ""])
            continue
        ran = "ran" if s.get("ran") else "skipped (unchanged)"
        rows.append([name, ran, "FAILED" if s.get("status") == "failed" else "ok", s.get("seconds"),
                     s.get("summary") or ""])
    return "<h2>Stages</h2>" + table(["stage", "this run", "result", "seconds", "summary"], rows, "stages")


def _profile_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    ingest = figures_of(stages, "ingest")
    if ingest is None:
        return missing("ingest.json is missing: no profile to show.")
    esc = html.escape
    modalities = ", ".join(f"{k} {v}" for k, v in (ingest.get("modalities") or {}).items()) or "none"
    counts, classes = _class_counts(out, stages)
    classes = ingest.get("classes", classes)  # a table's classes are known once its label is
    parts = [f"<p id='profile-rows'>{esc(str(ingest.get('source', '')))}: <b>{ingest['rows']}</b> rows, "
             + (f"{classes} classes, " if classes is not None else "")
             + f"modalities: {esc(modalities)}, "
             f"{ingest.get('corrupt', 0)} corrupt, {ingest.get('unlabelled', 0)} unlabelled.</p>"]
    if ingest.get("corrupt_examples"):
        parts.append("<h3>Corrupt rows</h3>" + table(["id", "reason"], [[e.get("id"), e.get("reason")]
                                                                       for e in ingest["corrupt_examples"]]))
    parts.append(counts)
    for name, title in (("clean", "Cleaning (every row, before the split)"),
                        ("clean_fitted", "Cleaning fitted on the train split (after the split)")):
        clean = figures_of(stages, name)
        if clean is None:
            continue
        parts.append(f"<h3>{title}</h3><p>{clean['rows_in']} rows in, {clean['rows_out']} out.</p>")
        log = [[e.get("step"), e.get("rows_dropped"), _fitted_on(e), e.get("reason"), _ids_text(e.get("ids") or [])]
               for e in clean.get("log") or []]
        if log:
            parts.append(table(["step", "rows dropped", "fitted on", "why", "ids"], log, f"{name}-log".replace("_", "-")))
    return "\n".join(parts)


def _fitted_on(entry: dict[str, Any]) -> str:
    """Which rows a step's statistic came from (``train (206 rows)``), or nothing."""
    if "fit_on" not in entry:
        return ""
    return f"{entry['fit_on']} ({entry['fitted_rows']} rows)" if "fitted_rows" in entry else str(entry["fit_on"])


def _ids_text(ids: list[Any], limit: int = 5) -> str:
    more = f" … (+{len(ids) - limit} more)" if len(ids) > limit else ""
    return ", ".join(str(i) for i in ids[:limit]) + more


def _class_counts(out: Path, stages: dict[str, dict[str, Any]]) -> tuple[str, int | None]:
    """Rows per class and the number of classes: per split after cleaning when the data
    was split, else the manifest's ``label`` column as ingested (None: not known)."""
    split = figures_of(stages, "split")
    if split and split.get("per_class"):
        names = list(split.get("sizes") or next(iter(split["per_class"].values())))
        rows = [[cls, *(counts.get(n, 0) for n in names), sum(counts.values())]
                for cls, counts in split["per_class"].items()]
        return ("<h3>Classes (after cleaning, per split)</h3>" + table(["class", *names, "total"], rows, "classes"),
                len(rows))
    manifest = out / "manifest.parquet"
    if not manifest.is_file():
        return missing("manifest.parquet is missing: no class counts."), None
    import pandas as pd

    df = pd.read_parquet(manifest)
    if "label" not in df.columns:
        return missing("the manifest has no label column: no class counts."), None
    counts = df["label"].value_counts(dropna=False)
    return ("<h3>Classes (as ingested)</h3>" + table(["class", "rows"], [[k, int(v)] for k, v in counts.items()],
                                                     "classes"), len(counts))


def _checks_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    split = figures_of(stages, "split")
    balance = _split_balance_plot(split) if split and split.get("per_class") else None
    parts = []
    for name, title in (("validate", "Data checks (validation.json)"),
                        ("validate_splits", "Split checks (splits.validation.json)")):
        if name not in stages:
            parts.append(f"<h3>{title}</h3>" + missing(f"Not shown: the {name} stage did not run."))
            continue
        result = figures_of(stages, name)
        if result is None:
            parts.append(f"<h3>{title}</h3>" + missing(f"the {name} stage's figures file is missing."))
            continue
        mark = "pass" if result["success"] else "fail"
        parts.append(f"<h3>{title}</h3><p class='verdict {mark}'>{'PASSED' if result['success'] else 'FAILED'}: "
                     f"{html.escape(verdict_counts(result))}</p>")
        parts.append(checks_table(result["checks"], table_id=f"checks-{name}"))
        parts += check_figures(result["checks"], level=4, balance=not (name == "validate_splits" and balance))
    if balance:
        parts.append(f"<h3>Class balance per split</h3><img id='split-balance' alt='rows per class in each split' "
                     f"src='{balance}'>")
    return "\n".join(parts)


def _split_balance_plot(split: dict[str, Any]) -> str:
    """Grouped bars: rows of each class in each split."""
    import numpy as np

    plt = _pyplot()
    classes = list(split["per_class"])
    names = list(split.get("sizes") or next(iter(split["per_class"].values())))
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(classes) * len(names) / 2 + 2), 2.8))
    for i, name in enumerate(names):
        counts = [split["per_class"][c].get(name, 0) for c in classes]
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width, counts, width, label=name)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, classes, rotation=45 if len(classes) > 8 else 0, fontsize=8)
    ax.set_xlabel("class", fontsize=8)
    ax.set_ylabel("rows", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
