"""Terminal output: rich tables for summaries and a progress bar that stays quiet off a TTY."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator


def stdout_console():
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not console.is_terminal:  # logs and CI: wide enough that tables do not fold every cell
        console = Console(soft_wrap=True, width=140)
    return console


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback drawing a bar on stderr when it is a TTY."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def print_ingest_summary(summary: dict[str, Any], output: str) -> None:
    console = stdout_console()
    parts = [f"{summary['rows']} rows"]
    if "ok" in summary:
        parts.append(f"{summary['ok']} ok, {summary['corrupt']} corrupt")
    if "classes" in summary:
        parts.append(f"{summary['classes']} classes")
    if summary.get("unlabelled"):
        parts.append(f"{summary['unlabelled']} unlabelled")
    modalities = ", ".join(f"{k} {v}" for k, v in summary.get("modalities", {}).items())
    console.print(f"ingested {summary['source']} ({summary['kind']}): {', '.join(parts)} [{modalities}]",
                  highlight=False)
    if summary.get("kind") == "folder":
        skipped = ", ".join(f"{v} {k}" for k, v in summary.get("skipped", {}).items()) or "none"
        console.print(f"  decoded {summary['decoded']}, from cache {summary['cached']}, skipped: {skipped}",
                      highlight=False)
    for row in summary.get("corrupt_examples", [])[:10]:
        console.print(f"  corrupt: {row['id']}: {row['reason']}", highlight=False, markup=False)
    console.print(f"  manifest -> {output} ({summary['seconds']:.2f} s)", highlight=False)


def print_profile(p: dict[str, Any]) -> None:
    from rich.table import Table

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


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")


def print_validation(result: dict[str, Any]) -> None:
    """Failed checks first, with their figures; one verdict line at the end."""
    from rich.table import Table

    console = stdout_console()
    table = Table(title=f"validate: {result.get('source') or 'data'}")
    for name in ("", "check", "column", "severity", "details"):
        table.add_column(name, overflow="fold")
    for c in result["checks"]:
        mark = "[green]pass[/]" if c["success"] else ("[red]FAIL[/]" if c["severity"] == "error" else "[yellow]warn[/]")
        from rich.markup import escape

        table.add_row(mark, c["name"], c.get("column") or "", c["severity"], escape(c.get("details", "")))
    console.print(table)
    stats = result["statistics"]
    verdict = "[green]PASSED[/]" if result["success"] else "[red]FAILED[/]"
    console.print(f"{verdict}: {stats['successful']} of {stats['evaluated']} checks passed, "
                  f"{stats['unsuccessful'] - stats['warnings']} failed, {stats['warnings']} warnings")


def print_clean_log(log: list[dict[str, Any]], rows_in: int, rows_out: int, output: str,
                    params: str | None = None) -> None:
    """One line per change: the step, what it did, the counts and why."""
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
    console.print(f"cleaned {rows_in} -> {rows_out} rows -> {output}", highlight=False)
    if params:
        console.print(f"  normaliser parameters -> {params}", highlight=False)


def print_split_report(report: dict[str, Any], output: str) -> None:
    from rich.table import Table

    console = stdout_console()
    sizes = {k: v for k, v in report["sizes"].items() if k != "none"}
    total = max(sum(sizes.values()), 1)
    table = Table(title=f"split -> {output}")
    table.add_column("class")
    for s in sizes:
        table.add_column(s, justify="right")
    for cls, counts in report["per_class"].items():
        table.add_row(cls, *(str(counts.get(s, 0)) for s in sizes))
    table.add_row("[b]all[/]", *(f"{n} ({n / total:.1%})" for n in sizes.values()))
    console.print(table)
    console.print(f"max class-proportion deviation from the whole: {report['max_class_proportion_deviation']:.4f}",
                  highlight=False)
    if report.get("folds"):
        console.print("folds: " + ", ".join(f"{k}: {v}" for k, v in report["folds"].items())
                      + f"; max class-proportion deviation across folds: {report['max_fold_deviation']:.4f}",
                      highlight=False)
    for kind in ("split", "fold"):
        if f"{kind}_label_distribution" in report:
            console.print(f"{kind}s: label distribution {report[f'{kind}_label_distribution']:.5f}, examples "
                          f"distribution {report[f'{kind}_examples_distribution']:.2f}, "
                          f"{report[f'{kind}s_with_zero_positives']} {kind}s missing some label", highlight=False)
    for kind in ("split", "fold"):
        if report.get(f"groups_per_{kind}"):
            console.print(f"groups per {kind}: " + ", ".join(f"{k} {v}" for k, v in report[f"groups_per_{kind}"].items()),
                          highlight=False)
    for note in report.get("notes", []):
        console.print(f"note: {note}", highlight=False, markup=False)


def print_augment_summary(summary: dict[str, Any], output: str) -> None:
    console = stdout_console()
    console.print(f"augmented {summary['made']} samples from {summary['train_rows']} train rows -> {output}",
                  highlight=False)
    if summary.get("made_per_class"):
        console.print("made per class: " + ", ".join(f"{k} {v}" for k, v in summary["made_per_class"].items()),
                      highlight=False, markup=False)
    extra = [f"{summary['passed_through']} rows passed through", f"{summary['corrupt_skipped']} corrupt skipped"]
    if summary.get("resumed"):
        extra.append(f"{summary['resumed']} already done (resumed)")
    if "gate_rejection_rate" in summary:
        extra.append(f"quality gate rejected {summary['gate_rejections']} draws "
                     f"({summary['gate_rejection_rate']:.1%}), gave up on {summary['gate_gave_up']}")
    if summary.get("per_second"):
        extra.append(f"{summary['per_second']} samples/s")
    console.print("; ".join(extra), highlight=False, markup=False)
