"""Terminal output: rich tables for summaries, a progress bar that stays quiet off a TTY,
one line per output written, and figures rounded for people (the JSON keeps them whole).

Each ``print_*`` summary also hands its figures to the command's ``--json`` option
(:func:`record_figures`); with ``--json -`` the JSON replaces the summary on stdout and
the lines saying where outputs went move to stderr.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
from typing import Any, Callable, Iterator

#: ``click.Context.meta`` keys: the figures a command computed, and where ``--json`` sends them.
FIGURES_KEY = "curaug.figures"
JSON_KEY = "curaug.json"


def _meta() -> dict[str, Any]:
    import click

    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def record_figures(payload: dict[str, Any]) -> bool:
    """Keep ``payload`` for ``--json``; True when it goes to stdout instead of the summary."""
    meta = _meta()
    meta[FIGURES_KEY] = payload
    return meta.get(JSON_KEY) == "-"


def wrote(path: Any, what: str) -> None:
    """Say where one output went: ``wrote PATH (what)``."""
    stderr = _meta().get(JSON_KEY) == "-"  # stdout carries the JSON
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True) if stderr else stdout_console()
    console.print(f"wrote {path} ({what})", highlight=False, markup=False)


def figure(x: float) -> str:
    """A measured value for people: about three significant digits, no exponent unless tiny.

    Examples
    --------
    >>> [figure(v) for v in (4199.416909620992, 12.3456, 0.57971, 0.0057971, 3.2e-07, 2.0, -0.0)]
    ['4199', '12.3', '0.58', '0.0058', '3.2e-07', '2', '0']
    """
    if x == 0:
        return "0"  # also -0.0: a mean of zero is not negative
    if not math.isfinite(x):
        return f"{x:g}"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= 2:
        return f"{x:.0f}"
    if magnitude >= -3:
        return f"{x:.{2 - magnitude}f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


_LONG_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{4,}(?:[eE][-+]?\d+)?(?![\w.])")


def share(x: float, signed: bool = False) -> str:
    """An accuracy or another share of 0..1 as every command prints it: three decimals
    (``1.000``, ``0.986``); ``signed`` for a difference (``+0.058``; never ``-0.000``).

    >>> share(1), share(0.98571), share(-0.00001, signed=True), share(0.0581, signed=True)
    ('1.000', '0.986', '+0.000', '+0.058')
    """
    text = f"{x:+.3f}" if signed else f"{x:.3f}"
    return text.replace("-0.000", "+0.000" if signed else "0.000")


def round_figures(text: str) -> str:
    """Round the long decimals in a message (``observed 4199.416909620992``) with :func:`figure`.

    >>> round_figures("mean_between (3500, 5000): observed 4199.416909620992; p=0.000123456")
    'mean_between (3500, 5000): observed 4199; p=0.000123'
    """
    return _LONG_DECIMAL.sub(lambda m: figure(float(m.group())), text)


def stdout_console():
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not console.is_terminal:  # logs and CI: wide enough that tables do not fold every cell
        console = Console(soft_wrap=True, width=140)
    return console


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[..., None]]:
    """Yield a ``progress(done, total, note="")`` callback drawing a bar on stderr when it
    is a TTY; ``note`` is shown after the bar (a search's scores)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total, note="": None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[note]}"), console=console, transient=True) as bar:
        task = bar.add_task(description, total=None, note="")

        def update(done: int, total: int, note: str = "") -> None:
            bar.update(task, completed=done, total=total, note=note)

        yield update


def trial_note(score: float, best: float) -> str:
    """What the search's bar shows after a trial: its cross-validated accuracy and the best so far.

    >>> trial_note(0.9, 0.95125)
    'last trial cv 0.900, best 0.951'
    """
    return f"last trial cv {share(score)}, best {share(best)}"


@contextlib.contextmanager
def search_progress() -> Iterator[Callable[[int, int, float, float], None]]:
    """Yield ``on_trial(done, total, score, best)`` for ``train --search``: a bar of trials
    done with the last one's score and the best so far, on stderr when it is a TTY. The
    bar goes away after the last trial, before the final fit prints its epochs."""
    with contextlib.ExitStack() as stack:
        bar = None

        def on_trial(done: int, total: int, score: float, best: float) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(progress_bar("search trials"))
            bar(done, total, trial_note(score, best))
            if done == total:
                stack.close()

        yield on_trial


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


def error_line(message: str) -> None:
    """Bad input or usage: ``error: <message>`` on one line of stderr."""
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")


def internal_error_line(exc: BaseException) -> None:
    """A failure that is not the user's: one line naming it, and how to see more."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    sys.stderr.write(f"internal error: {text} (rerun with --debug for the traceback)\n")


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


class EpochLines:
    """A training callback printing one line per epoch on a terminal (quiet in logs)."""

    def __init__(self, console):
        self.console = console

    def on_epoch_end(self, epoch: int, model: Any, row: dict[str, Any]) -> None:
        parts = [f"epoch {epoch}"] + [f"{key} {figure(row[key])}" for key in
                                      ("train_loss", "val_loss", "val_accuracy", "lr", "seconds")
                                      if row.get(key) is not None]
        self.console.print("  ".join(parts), highlight=False, markup=False)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


@contextlib.contextmanager
def training_progress() -> Iterator[EpochLines | None]:
    """Yield the epoch-line callback on a terminal, None elsewhere."""
    from rich.console import Console

    console = Console(stderr=True)
    yield EpochLines(console) if console.is_terminal else None


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
        if retrain:
            fits = (f"the median best epoch of its {retrain['fits']} folds" if retrain["fits"] > 1
                    else "its best epoch on val")
            console.print(f"final model: trial {retrain['trial']}'s setting retrained on "
                          f"{'+'.join(retrain['splits'])} ({retrain['rows']} rows) for {retrain['epochs']} epochs, "
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

