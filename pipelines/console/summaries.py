"""The summaries of the data commands (ingest, profile, validate, clean, split, augment)
as rich tables; each also hands its figures to ``--json`` (:func:`pipelines.console.output.record_figures`)."""

from __future__ import annotations

from typing import Any

from pipelines.console.output import record_figures, stdout_console, wrote
from pipelines.console.rounding import figure, round_figures


def print_ingest_summary(summary: dict[str, Any]) -> None:
    console = stdout_console()
    parts = [f"{summary['rows']} rows"]
    if "ok" in summary:
        parts.append(f"{summary['ok']} ok, {summary['corrupt']} corrupt")
    if "classes" in summary:
        parts.append(f"{summary['classes']} classes")
    if summary.get("unlabelled"):
        parts.append(f"{summary['unlabelled']} unlabelled")
    modalities = ", ".join(f"{k} {v}" for k, v in summary.get("modalities", {}).items())
    console.print(f"ingested {summary['source']} ({summary['kind']}): {', '.join(parts)} [{modalities}] "
                  f"in {summary['seconds']:.2f} s", highlight=False, markup=False)
    if summary.get("kind") == "folder":
        skipped = ", ".join(f"{v} {k}" for k, v in summary.get("skipped", {}).items()) or "none"
        console.print(f"  decoded {summary['decoded']}, from cache {summary['cached']}, skipped: {skipped}",
                      highlight=False)
    for row in summary.get("corrupt_examples", [])[:10]:
        console.print(f"  corrupt: {row['id']}: {row['reason']}", highlight=False, markup=False)


def print_profile(p: dict[str, Any]) -> None:
    from rich.table import Table

    if record_figures(p):
        return
    console = stdout_console()
    overview = Table(title=f"profile: {p.get('source') or 'data'}", show_header=False)
    overview.add_row("rows", str(p["rows"]))
    overview.add_row("columns", str(len(p["columns"])))
    if "status" in p:
        overview.add_row("corrupt", str(p["status"]["corrupt"]))
    if "modalities" in p:
        overview.add_row("modalities", ", ".join(f"{k}: {v}" for k, v in p["modalities"].items()))
    dup = p["duplicates"]
    overview.add_row(f"exact duplicates (by {dup['by']})",
                     f"{dup['rows']} rows in {len(dup['groups'])} groups ({dup['extra_copies']} extra copies)")
    if "label" in p:
        lab = p["label"]
        ratio = "n/a" if lab["imbalance_ratio"] is None else f"{lab['imbalance_ratio']:.2f}"
        overview.add_row("classes", f"{lab['n_classes']} (imbalance ratio {ratio}, {lab['missing']} unlabelled)")
    console.print(overview)

    columns = Table(title="columns")
    for name in ("column", "dtype", "missing", "missing %", "unique"):
        columns.add_column(name, justify="right" if name not in ("column", "dtype") else "left")
    for c in p["columns"]:
        columns.add_row(c["name"], c["dtype"], str(c["missing"]), f"{100 * c['missing_fraction']:.1f}",
                        "" if c["unique"] is None else str(c["unique"]))
    console.print(columns)

    if "label" in p and p["label"]["counts"]:
        classes = Table(title=f"classes ({p['label']['column']})")
        classes.add_column("class")
        classes.add_column("count", justify="right")
        classes.add_column("share", justify="right")
        classes.add_column("")
        top = max(p["label"]["counts"].values())
        for k, v in p["label"]["counts"].items():
            classes.add_row(k, str(v), f"{100 * p['label']['shares'][k]:.1f}%", "█" * max(1, round(30 * v / top)))
        console.print(classes)

    media = p.get("media", {})
    if media:
        table = Table(title="media")
        table.add_column("modality")
        table.add_column("field")
        table.add_column("figures")
        for modality, fields in media.items():
            if modality == "size_bytes":
                table.add_row("all", "size_bytes", _describe(fields))
                continue
            for name, value in fields.items():
                table.add_row(modality, name, _describe(value))
        console.print(table)

    if p.get("numeric"):
        table = Table(title="numeric columns")
        for name in ("column", "count", "mean", "std", "min", "median", "max"):
            table.add_column(name, justify="left" if name == "column" else "right")
        for col, s in p["numeric"].items():
            table.add_row(col, *("" if s[k] is None else f"{s[k]:.4g}" for k in
                                 ("count", "mean", "std", "min", "median", "max")))
        console.print(table)


def _describe(value: dict[str, Any]) -> str:
    if "edges" in value:
        if not value["counts"]:
            return "none"
        return f"min {value['min']:.4g}, mean {value['mean']:.4g}, max {value['max']:.4g}; counts {value['counts']}"
    return ", ".join(f"{k}: {v}" for k, v in value.items())


def print_validation(result: dict[str, Any]) -> None:
    """Failed checks first, with their figures; one verdict line at the end."""
    from rich.markup import escape
    from rich.table import Table

    if record_figures(result):
        return
    console = stdout_console()
    table = Table(title=f"validate: {result.get('source') or 'data'}")
    for name in ("", "check", "column", "severity", "details"):
        table.add_column(name, overflow="fold")
    for c in result["checks"]:
        mark = "[green]pass[/]" if c["success"] else ("[red]FAIL[/]" if c["severity"] == "error" else "[yellow]warn[/]")
        table.add_row(mark, escape(c["name"]), escape(c.get("column") or ""), c["severity"],
                      escape(round_figures(c.get("details", ""))))
    console.print(table)
    for skipped in result.get("skipped", []):
        where = f"[{skipped['column']}]" if skipped.get("column") else ""
        console.print(f"[dim]skipped[/] {escape(skipped['name'] + where)}: {escape(skipped['reason'])}")
    verdict = "[green]PASSED[/]" if result["success"] else "[red]FAILED[/]"
    console.print(f"{verdict}: {verdict_counts(result)}")


def verdict_counts(result: dict[str, Any]) -> str:
    """``12 passed, 5 failed, 1 warning (18 checks)`` for a validation result.

    >>> verdict_counts({"statistics": {"evaluated": 3, "successful": 1, "unsuccessful": 2, "warnings": 1}})
    '1 passed, 1 failed, 1 warning (3 checks)'
    """
    stats = result["statistics"]
    failed = stats["unsuccessful"] - stats["warnings"]
    warnings = f"{stats['warnings']} warning" + ("" if stats["warnings"] == 1 else "s")
    return f"{stats['successful']} passed, {failed} failed, {warnings} ({stats['evaluated']} checks)"


def print_clean_log(log: list[dict[str, Any]], rows_in: int, rows_out: int, params: str | None = None) -> None:
    """One line per change: the step, what it did, the counts and why."""
    if params:
        wrote(params, "normaliser parameters")
    if record_figures({"rows_in": rows_in, "rows_out": rows_out, "rows_dropped": rows_in - rows_out,
                       "normalizer_params": params, "changes": log}):
        return
    console = stdout_console()
    for e in log:
        what = e.get("action", "")
        if "rows_dropped" in e:
            what += f": dropped {e['rows_dropped']} rows"
            if e.get("ids"):
                shown = ", ".join(e["ids"][:5]) + (" ..." if len(e["ids"]) > 5 else "")
                what += f" ({shown})"
        if e.get("cells_changed"):
            what += ": " + ", ".join(f"{c} {n} cells" for c, n in e["cells_changed"].items())
        if e.get("entities"):
            what += " [" + ", ".join(f"{k} {v}" for k, v in e["entities"].items()) + "]"
        if e.get("renamed"):
            what += ": " + ", ".join(f"{a} -> {b}" for a, b in e["renamed"].items())
        if e.get("columns_added"):
            what += ": added " + ", ".join(e["columns_added"])
        if e.get("rows_transformed") is not None:
            what += f": {e['rows_transformed']} rows"
        console.print(f"  {e['step']}: {what} — {e.get('reason', '')}", highlight=False, markup=False)
    console.print(f"cleaned {rows_in} -> {rows_out} rows", highlight=False)


def print_split_report(report: dict[str, Any]) -> None:
    from rich.table import Table

    if record_figures(report):
        return
    console = stdout_console()
    sizes = {k: v for k, v in report["sizes"].items() if k != "gap"}
    total = max(sum(sizes.values()), 1)
    table = Table(title="split")
    table.add_column("class")
    for s in sizes:
        table.add_column(s, justify="right")
    for cls, counts in report["per_class"].items():
        table.add_row(cls, *(str(counts.get(s, 0)) for s in sizes))
    table.add_row("[b]all[/]", *(f"{n} ({n / total:.1%})" for n in sizes.values()))
    console.print(table)
    if report.get("domain"):
        domain = report["domain"]
        console.print(f"domains of '{domain['column']}': target '{domain['target']}' ({domain['rows']['target']} rows) "
                      f"in val and test, source ({domain['rows']['source']} rows) in train and train_val; "
                      "class proportions are compared within each domain", highlight=False, markup=False)
    console.print(f"max class-proportion deviation from the whole: {figure(report['max_class_proportion_deviation'])}",
                  highlight=False)
    if report.get("folds"):
        console.print("folds: " + ", ".join(f"{k}: {v}" for k, v in report["folds"].items())
                      + f"; max class-proportion deviation across folds: {figure(report['max_fold_deviation'])}",
                      highlight=False)
    for kind in ("split", "fold"):
        if f"{kind}_label_distribution" in report:
            console.print(f"{kind}s: label distribution {figure(report[f'{kind}_label_distribution'])}, examples "
                          f"distribution {figure(report[f'{kind}_examples_distribution'])}, "
                          f"{report[f'{kind}s_with_zero_positives']} {kind}s missing some label", highlight=False)
    for kind in ("split", "fold"):
        if report.get(f"groups_per_{kind}"):
            console.print(f"groups per {kind}: " + ", ".join(f"{k} {v}" for k, v in report[f"groups_per_{kind}"].items()),
                          highlight=False)
    for note in report.get("notes", []):
        console.print(f"note: {note}", highlight=False, markup=False)
    if "error_bound" in report:
        print_bound(console, report["error_bound"])


def print_bound(console, check: dict[str, Any]) -> None:
    """The rows an error bound needs against the split's val and test, or a warning."""
    from curate.stats.bounds import shortfall_line

    if not check["enough"]:
        console.print(f"warning: {shortfall_line(check)}", highlight=False, markup=False)
        return
    rows = ", ".join(f"{name} {n} (±{check['achieved'][name]:g})" for name, n in check["rows"].items())
    console.print(f"error bound ±{check['epsilon']:g} at {check['confidence'] * 100:g} %: {check['rows_needed']} "
                  f"rows needed in each of val and test; {rows}", highlight=False, markup=False)


def print_augment_summary(summary: dict[str, Any], output: str) -> None:
    """What augment made, then where its manifest went (the new files are beside it)."""
    if not record_figures(summary):
        _print_augment_figures(summary)
    wrote(output, "manifest; the new files are in its folder")


def _print_augment_figures(summary: dict[str, Any]) -> None:
    console = stdout_console()
    console.print(f"augmented {summary['made']} samples from {summary['train_rows']} train rows", highlight=False)
    if summary.get("made_per_class"):
        console.print("made per class: " + ", ".join(f"{k} {v}" for k, v in summary["made_per_class"].items()),
                      highlight=False, markup=False)
    extra = [f"{summary['passed_through']} rows passed through", f"{summary['corrupt_skipped']} corrupt skipped"]
    if summary.get("resumed"):
        extra.append(f"{summary['resumed']} already done (resumed)")
    if "gate_rejection_rate" in summary:
        extra.append(f"quality gate rejected {summary['gate_rejections']} draws "
                     f"({summary['gate_rejection_rate']:.1%}), gave up on {summary['gate_gave_up']}")
    for reason, count in summary.get("skipped", {}).items():
        extra.append(f"{count} skipped: {reason}")
    if summary.get("per_second"):
        extra.append(f"{summary['per_second']} samples/s")
    console.print("; ".join(extra), highlight=False, markup=False)
    if summary.get("label_gate"):
        from pipelines.report.label_gate import label_gate_line

        console.print(label_gate_line(summary["label_gate"]), highlight=False, markup=False)
