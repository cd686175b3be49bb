"""The card as text: a Hugging Face YAML header, then Markdown that renders on GitHub.

Each section is a function of :class:`~curate.card.facts.CardFacts` that returns its lines,
or none when nothing in it was measured: then the section is left out, heading and all.
The only words not derived from a measurement are the user's ``license`` and
``description``.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from curate.card.facts import CardFacts

#: Hugging Face's ``size_categories`` bins (hub-docs datasetcard.md): upper bound, name.
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
                   (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"),
                   (1_000_000_000_000, "100B<n<1T")]
#: A labelled manifest's modality -> the Hugging Face task category it serves.
TASKS = {"image": "image-classification", "text": "text-classification", "audio": "audio-classification",
         "tabular": "tabular-classification"}


def size_category(rows: int) -> str:
    """Hugging Face's size bin of ``rows``.

    >>> size_category(999), size_category(1000), size_category(345_000)
    ('n<1K', '1K<n<10K', '100K<n<1M')
    """
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "n>1T")


def header(facts: CardFacts, *, license: str | None, data_files: dict[str, str]) -> dict[str, Any]:
    """The YAML metadata: ``license`` only when given; the task from the modalities found
    when there is a label (a table without a ``modality`` column: text when it has a
    ``text`` column, else tabular, as ``curaug ingest`` decides)."""
    meta: dict[str, Any] = {}
    if license:
        meta["license"] = license
    if facts.label is not None:
        columns = {c["name"] for c in facts.profile["columns"]}
        modalities = list(facts.profile.get("modalities") or {}) or ["text" if "text" in columns else "tabular"]
        meta["task_categories"] = [TASKS[m] for m in modalities if m in TASKS]
    meta["size_categories"] = [size_category(int(facts.profile["rows"]))]
    if data_files:
        meta["configs"] = [{"config_name": "default",
                            "data_files": [{"split": s, "path": p} for s, p in data_files.items()]}]
    return meta


def render_card(facts: CardFacts, *, license: str | None = None, description: str | None = None,
                data_files: dict[str, str] | None = None, version: str | None = None) -> str:
    """The whole card: ``---`` YAML ``---`` then the sections that have something to say."""
    import yaml

    meta = yaml.safe_dump(header(facts, license=license, data_files=data_files or {}), sort_keys=False,
                          allow_unicode=True)
    lines = [f"# Dataset card: {text(facts.data)}", ""]
    if description:
        lines += [description.strip(), ""]
    made_by = f"curaug {version}" if version else "curaug"
    lines += [f"Written by {made_by} from what it measured on `{facts.data}`{_from_files(facts)}; "
              "a figure it did not measure is left out.", ""]
    for title, section in SECTIONS:
        body = section(facts)
        if body:
            lines += [f"## {title}", "", *body, ""]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip()
    return f"---\n{meta}---\n\n{body}\n"


def _from_files(facts: CardFacts) -> str:
    from curate.card.facts import RUN_FILES

    names = [RUN_FILES[k] for k in RUN_FILES if k in facts.run]
    return f" and the run's {', '.join(f'`{n}`' for n in names)}" if names else ""


# --- formatting ---------------------------------------------------------------------------

_MARKUP = re.compile(r"([\\`*_\[\]<>|#])")


def text(value: Any) -> str:
    """Plain text in Markdown: markup characters escaped, one line."""
    return _MARKUP.sub(r"\\\1", " ".join(str(value).split()))


def code(value: Any) -> str:
    """An id, path or value as a code span (never markup, even with backticks inside); a
    value with spaces at its ends is quoted, since a code span would drop them (``'F '``)."""
    raw = str(value)
    s = " ".join((repr(raw) if raw != raw.strip() else raw).split()).replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    return f"{fence} {s} {fence}" if fence == "``" else f"`{s}`"


def pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f}%"


def num(x: Any) -> str:
    """A figure at 4 significant digits (counts stay whole)."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{float(x):.4g}"


def table(head: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return []
    out = ["", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _ids(ids: list[Any], limit: int = 10) -> str:
    shown = ", ".join(code(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _imbalance(counts: list[int]) -> str:
    """Largest class / smallest, as the profile computes it; a class absent from the split: ∞."""
    return num(max(counts) / min(counts)) if min(counts) else "∞ (a class is absent)"


def _named(facts: CardFacts, *names: str) -> list[dict[str, Any]]:
    return [c for c in facts.checks if c["name"] in names]


def _verdict(check: dict[str, Any]) -> str:
    if check.get("success"):
        return "passed"
    return "FAILED" if check.get("severity") == "error" else "warning"


# --- sections -----------------------------------------------------------------------------

def provenance(facts: CardFacts) -> list[str]:
    lines = []
    ingest = facts.run.get("ingest")
    if ingest:
        how = {"folder": "one row per media file found in its class folders (`SOURCE/<label>/<file>`), "
                         "labelled by the folder name",
               "table": "one row per row of the table"}.get(ingest.get("kind"), text(ingest.get("kind")))
        lines.append(f"- Source: {code(ingest['source'])} ({text(ingest.get('kind'))}): {how}; "
                     f"{ingest['rows']} rows ingested.")
        if ingest.get("skipped"):
            lines.append("- Skipped at ingest: " + ", ".join(f"{n} {text(k)}" for k, n in ingest["skipped"].items())
                         + ".")
    if facts.roots:
        lines.append(f"- Media read from: {_ids(facts.roots)}.")
    modalities = facts.profile.get("modalities")
    if modalities:
        lines.append("- Rows per modality: " + ", ".join(f"{text(m)} {n}" for m, n in modalities.items()) + ".")
    digest = facts.digest
    lines.append(f"- Content digest (SHA-256 of every row's {digest['by']}, order-free, {digest['rows']} rows): "
                 f"`{digest['sha256']}`.")
    if facts.formats:
        lines += ["", "Files per format:", ""]
        lines += table(["format", "files"], [[code(k), v] for k, v in facts.formats.items()])
    status = facts.profile.get("status") or {}
    corrupt = status.get("corrupt_rows") or []
    if status:
        lines += ["", f"Decoded: {status.get('ok', 0)} files; corrupt: {status.get('corrupt', 0)}"
                  + (" (kept in the manifest with `status = corrupt`; later stages skip them):" if corrupt else "."),
                  ""]
        lines += table(["id", "why"], [[code(r["id"]), text(r["reason"])] for r in corrupt])
    return lines


def composition(facts: CardFacts) -> list[str]:
    p = facts.profile
    lines = [f"{p['rows']} rows, {len(p['columns'])} columns.", ""]
    lines += table(["column", "type", "missing", "missing share", "distinct"],
                   [[code(c["name"]), code(c["dtype"]), c["missing"], pct(c["missing_fraction"]),
                     num(c.get("unique"))] for c in p["columns"]])
    dups = p.get("duplicates")
    if dups:
        lines.append(f"- Exact duplicates (by {text(dups['by'])}): {dups['extra_copies']} extra copies, "
                     f"{dups['rows']} rows involved in {len(dups.get('groups') or [])} groups.")
    for check in _named(facts, "duplicates_across_splits"):
        near = check["observed"].get("near_pairs") or {}
        lines.append(f"- Near and exact duplicates across splits ({code(check['source'])}): "
                     f"{check['observed'].get('exact_groups_across_splits', 0)} exact groups, "
                     + ", ".join(f"{n} near {text(m)} pairs" for m, n in near.items()) + ".")
    label = p.get("label")
    if label:
        lines += ["", f"Label column {code(label['column'])}: {label['n_classes']} classes, "
                      f"imbalance ratio {num(label['imbalance_ratio'])} (largest class / smallest)"
                      + (f", {label['missing']} rows without a label" if label.get("missing") else "") + ".", ""]
        lines += table(["class", "rows", "share"],
                       [[code(c), n, pct(label["shares"][c])] for c, n in label["counts"].items()])
    if facts.split_sizes:
        splits = list(facts.split_sizes)
        lines += ["", f"Per split (column {code(facts.split_col)}):", ""]
        rows = [[code(c), *(counts[s] for s in splits)] for c, counts in facts.per_split_classes.items()]
        rows.append(["**all rows**", *(facts.split_sizes[s] for s in splits)])
        if facts.per_split_classes:
            rows.append(["**imbalance ratio**", *(_imbalance([c[s] for c in facts.per_split_classes.values()])
                                                  for s in splits)])
        lines += table(["class", *map(text, splits)], rows)
    return lines


def _clean_rows(log: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for e in log:
        changed = e.get("cells_changed") or {}
        what = [text(e["reason"])] if e.get("reason") else []
        if e.get("entities"):
            what.append("PII replaced: " + ", ".join(f"{n} {text(k)}" for k, n in e["entities"].items()))
        if e.get("fit_on"):
            fitted = f" ({e['fitted_rows']})" if "fitted_rows" in e else ""
            what.append(f"fitted on {text(e['fit_on'])} rows{fitted}")
        rows.append([e.get("index", ""), code(e.get("step", "")), code(e.get("action", "")), e.get("rows_dropped", 0),
                     sum(changed.values()) if isinstance(changed, dict) else changed, "; ".join(what)])
    return rows


def preprocessing(facts: CardFacts) -> list[str]:
    lines = []
    logged = any(e.get("action") == "normalize" for k in ("clean", "clean_fitted")
                 for e in (facts.run.get(k) or {}).get("log", []))
    n = facts.normalized
    if n and not logged:
        lines.append(f"- Normaliser {code(n['method'])} on {', '.join(code(c) for c in n['columns'])}: fitted on "
                     f"{text(n['fit_on'])} rows (the parameters `curaug clean` stored with the data).")
    for key, when in (("clean", "before the split, on every row"),
                      ("clean_fitted", "after the split (statistics fitted on train rows)")):
        figures = facts.run.get(key)
        if not figures:
            continue
        lines += ["", f"Clean steps {when} (`{key}.json`): {figures['rows_in']} rows in, {figures['rows_out']} out.",
                  ""]
        lines += table(["#", "step", "action", "rows dropped", "cells changed", "detail"], _clean_rows(figures["log"]))
        for e in figures["log"]:
            if e.get("action") == "normalize":
                lines.append(f"- Normaliser {code(e['method'])} on {', '.join(code(c) for c in e['columns'])}: "
                             f"fitted on {text(e['fit_on'])} rows ({e['fitted_rows']}), applied to "
                             f"{e['rows_transformed']} rows.")
    return lines


def _split_method(settings: dict[str, Any], group: str | None) -> str:
    """The strategy curate.split.splitters picks for these settings, in words."""
    if settings.get("stable"):
        return "stable hash placement of each " + (f"{code(group)} group" if group else "row id")
    if settings.get("multilabel_sep"):
        return "iterative stratification of the label sets" + (f", groups of {code(group)} kept whole" if group else "")
    if group:
        return f"groups of {code(group)} kept whole (each group in one split), placed class by class"
    return "stratified by the label"


def splits(facts: CardFacts) -> list[str]:
    if not facts.split_sizes:
        return []
    lines = []
    recorded = facts.settings.get("split") or {}
    settings = recorded.get("split")
    if settings:
        method = _split_method(settings, recorded.get("group") or settings.get("group"))
        lines.append(f"- Method: {method}, ratios requested {', '.join(num(r) for r in settings['ratios'])} "
                     f"(train, val, test), seed {settings['seed']}"
                     + (f", {settings['folds']} folds over train+val" if settings.get("folds") else "")
                     + (", stable assignment" if settings.get("stable") else "") + ".")
    total = sum(facts.split_sizes.values())
    lines.append("- Achieved: " + ", ".join(f"{text(s)} {n} rows ({pct(n / total)})"
                                             for s, n in facts.split_sizes.items()) + ".")
    report = facts.run.get("split") or {}
    if "max_class_proportion_deviation" in report:
        lines.append(f"- Largest gap between a class's share in a split and overall: "
                     f"{pct(report['max_class_proportion_deviation'])}.")
    if report.get("groups_per_split"):
        lines.append("- Groups per split: " + ", ".join(f"{text(s)} {n}" for s, n in report["groups_per_split"].items())
                     + ".")
    if report.get("skipped_corrupt"):
        lines.append(f"- Corrupt rows left without a split: {report['skipped_corrupt']}.")
    for note in report.get("notes") or []:
        lines.append(f"- Note: {text(note)}")
    checks = _named(facts, "split_ratios", "group_overlap", "duplicates_across_splits", "classes_in_every_split",
                    "split_lock")
    if checks:
        lines += ["", "Leakage and split checks:", ""]
        lines += table(["check", "result", "details"], [[code(c["name"]), _verdict(c), text(c["details"])]
                                                      for c in checks])
    drift = _named(facts, "drift", "domain_classifier_auc")
    if drift:
        lines += ["", "Drift between splits:", ""]
        lines += table(["check", "splits", "result", "drifted features", "details"],
                       [[code(c["name"]), " vs ".join(map(text, c["observed"].get("pair") or [])), _verdict(c),
                         ", ".join(code(f) for f in c["observed"].get("drifted") or []) or "none", text(c["details"])]
                        for c in drift])
    return lines


def bias(facts: CardFacts) -> list[str]:
    lines = []
    for check in _named(facts, "bias"):
        o = check["observed"]
        lines += ["", f"Sensitive attribute {code(check['column'])} ({code(check['source'])}): "
                  f"parity difference {num(o.get('parity_difference'))}"
                  + (f" (worst class {code(o['worst_class'])})" if o.get("worst_class") is not None else "")
                  + f", verdict **{_verdict(check)}**: {text(check['details'])}.", ""]
        classes = sorted({c for g in o["groups"].values() for c in g.get("label_rates", {})})
        lines += table(["group", "rows", "share", *(f"rate {text(c)}" for c in classes)],
                       [[code(g), v["count"], pct(v["share"]), *(pct(v["label_rates"].get(c)) for c in classes)]
                        for g, v in o["groups"].items()])
    for check in _named(facts, "label_issues"):
        o = check["observed"]
        lines += ["", f"Label-noise suspects ({code(check['source'])}): {o['issues']} ({pct(o['fraction'])}), "
                  f"verdict **{_verdict(check)}**.", ""]
        lines += table(["id", "given", "suggested", "confidence in given"],
                       [[code(s["id"]), code(s["given"]), code(s["suggested"]), num(s["self_confidence"])]
                        for s in o.get("suspects") or []])
    for check in _named(facts, "conflicting_labels"):
        o = check["observed"]
        lines.append(f"- Identical samples with different labels ({code(check['source'])}): "
                     f"{o['conflicting_groups']} groups, {o['rows']} rows; verdict **{_verdict(check)}**.")
    return lines


def augmentation(facts: CardFacts) -> list[str]:
    import yaml

    lines = []
    recipe = (facts.settings.get("augment") or {}).get("augment")
    if recipe and "augment" in facts.run:
        recipe = {k: v for k, v in recipe.items() if v is not None}
        lines += ["Recipe (the run's `augment:` settings):", "", "```yaml",
                  yaml.safe_dump(recipe, sort_keys=False, default_flow_style=None).rstrip(), "```", ""]
    summary = facts.run.get("augment")
    if summary:
        lines.append(f"- {summary['made']} samples made from {summary['train_rows']} train rows; per class: "
                     + ", ".join(f"{code(c)} {n}" for c, n in (summary.get("made_per_class") or {}).items()) + ".")
        if summary.get("gate_rejections"):
            lines.append(f"- Gate: {summary['gate_rejections']} outputs drawn again, {summary['gate_gave_up']} "
                         "given up.")
    ablation = facts.run.get("ablation")
    if ablation:
        test = ablation.get("paired_test") or {}
        lines.append(f"- Ablation over {len(ablation['seeds'])} seeds ({text(ablation['metric'])} accuracy): "
                     f"{ablation['with']['mean']:.3f} with augmentation, {ablation['without']['mean']:.3f} without "
                     f"(difference {ablation['difference']['mean']:+.3f}"
                     + (f", {text(test['name'])} p = {num(test['pvalue'])}" if test.get("pvalue") is not None else "")
                     + f"): augmentation **{text(ablation['verdict'])}**.")
    metrics = facts.run.get("metrics")
    if metrics and "test" in metrics:
        t = metrics["test"]
        rows = metrics.get("rows") or {}
        lines += [f"- Baseline {code(metrics.get('model'))} test accuracy {num(t['accuracy'])} on "
                  f"{rows.get('test', '–')} test rows (trained on {rows.get('train', '–')} rows).", ""]
        lines += table(["class", "precision", "recall", "f1", "support"],
                       [[code(c), num(v["precision"]), num(v["recall"]), num(v["f1"]), v["support"]]
                        for c, v in t["per_class"].items()])
    return lines


def limitations(facts: CardFacts) -> list[str]:
    lines = []
    for check in facts.checks:
        if check.get("success"):
            continue
        where = f" on {code(check['column'])}" if check.get("column") else ""
        lines.append(f"- **{_verdict(check)}** {code(check['name'])}{where} ({code(check['source'])}): "
                     f"{text(check['details'])}.")
    for warning in (facts.run.get("metrics") or {}).get("warnings") or []:
        lines.append(f"- **training** {text(warning)}.")
    if not lines and facts.checks:
        return [f"Every one of the {len(facts.checks)} checks curaug ran passed."]
    return lines


SECTIONS: list[tuple[str, Callable[[CardFacts], list[str]]]] = [
    ("Provenance", provenance), ("Composition", composition), ("Preprocessing", preprocessing),
    ("Splits", splits), ("Bias and label noise", bias), ("Augmentation and baseline", augmentation),
    ("Known limitations", limitations),
]
