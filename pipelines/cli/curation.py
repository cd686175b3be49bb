"""The curation commands: ``ingest``, ``profile``, ``validate``, ``clean``, ``split`` and
``card``, each a thin layer over :mod:`curate.api` with its flags next to it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from curate.errors import CuraugError
from pipelines.cli.app import LABEL_HELP, cli, option_group, partitioned_input, refuse_overwrite


MODALITY_CHOICE = click.Choice(["image", "audio", "text", "tabular"])
ENGINE_OPTION = click.option(
    "--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
    help="Where it runs: this machine (a Parquet folder or glob: partition by partition), or a Dask cluster.")
SCHEDULER_OPTION = click.option("--scheduler", metavar="ADDR",
                                help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")


def _check_scheduler(engine: str, scheduler: str | None) -> None:
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")


@cli.command()
@click.argument("src", type=click.Path(path_type=str))
@click.option("-o", "--output", "output", required=True, metavar="MANIFEST",
              help="Manifest to write (.parquet, .csv or .jsonl).")
@click.option("--modality", type=MODALITY_CHOICE, help="Keep only this modality (folders) or declare a table's.")
@click.option("--workers", metavar="N", type=click.IntRange(min=1), help="Decoding processes [default: all cores].")
@click.option("--no-cache", is_flag=True, help="Decode every file even if unchanged since the last ingest.")
@click.option("--encoding", metavar="NAME", help="Text encoding of a CSV/JSONL table or of the .txt files of a folder [default: utf-8].")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where files are decoded: this machine's cores, or tasks on a Dask cluster.")
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")
def ingest(src: str, output: str, modality: str | None, workers: int | None, no_cache: bool,
           encoding: str | None, engine: str, scheduler: str | None) -> None:
    """Build a manifest from a class-folder tree SRC/<label>/<file> or a table.

    Every media file is hashed and fully decoded (image size and channels, audio sample
    rate, duration and channels); damaged files get status=corrupt and a reason.
    """
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    from curate.io.ingest import ingest as run_ingest
    from curate.io.tables import table_format
    from pipelines.console.progress import progress_bar
    from pipelines.console.summaries import print_ingest_summary

    table_format(output)
    with progress_bar("decoding") as progress:
        result = run_ingest(src, modality, workers=workers, use_cache=not no_cache, encoding=encoding,
                            progress=progress, engine=engine, scheduler=scheduler, output=output)
    print_ingest_summary(result.summary)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--label", metavar="COL", help=LABEL_HELP + " Profiled when the column exists.")
@click.option("--encoding", metavar="NAME", help="Text encoding of a CSV/JSONL table [default: utf-8].")
def profile(data: str, label: str | None, encoding: str | None) -> None:
    """Profile a manifest or table: rows, dtypes, missing values, duplicates, classes, media."""
    from curate.io.manifest import load_data
    from curate.api import profile as run_profile
    from pipelines.console.summaries import print_profile

    df = load_data(data, encoding=encoding)
    try:
        result = run_profile(df, label=label)
    except CuraugError as exc:
        raise CuraugError(f"{data}: {exc}", param=exc.param) from None
    print_profile({**result, "source": data})


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--rules", "rules_path", metavar="RULES.yaml",
              help="Rules file: exactly its checks decide the exit code [default: the default checks].")
@click.option("--label", metavar="COL", help=LABEL_HELP + " Overrides the rules file's; used when the column exists.")
@click.option("--group", metavar="COL", help="Leakage-unit column (overrides the rules file's).")
@click.option("--split-col", metavar="COL", help="Split column: adds the split checks [default: 'split' when present].")
@click.option("--multilabel-sep", metavar="SEP", help="Label cells hold several labels joined by SEP (e.g. ';').")
@click.option("--lock", "lock_path", metavar="SPLIT.lock", help="Fail when a row recorded by `split --lock` moved.")
@click.option("--report", metavar="OUT.html", help="Write a self-contained HTML report.")
@click.option("--junit", metavar="OUT.xml", help="Write JUnit XML, one testcase per check.")
@click.option("--export-gx", metavar="DIR", help="Also write the column rules as a GX expectation suite JSON.")
@click.option("--executor", type=click.Choice(["curaug", "gx"]), default="curaug", show_default=True,
              help="What runs the column rules: curaug's vectorised conditions (any engine), or the suite "
              "through Great Expectations itself (in memory). The same results.")
@click.option("--encoding", metavar="NAME", help="Text encoding of a CSV/JSONL table [default: utf-8].")
@ENGINE_OPTION
@SCHEDULER_OPTION
@click.option("--workers", metavar="N", type=click.IntRange(min=1),
              help="Threads or LocalCluster processes for a partitioned table [default: all cores].")
@click.pass_context
def validate(ctx: click.Context, data: str, rules_path: str | None, label: str | None, group: str | None,
             split_col: str | None, multilabel_sep: str | None, lock_path: str | None,
             report: str | None, junit: str | None, export_gx: str | None, executor: str, encoding: str | None,
             engine: str, scheduler: str | None, workers: int | None) -> None:
    """Check DATA against a rules file (or the default checks); exit 1 when an error-level check fails.

    DATA may be a Parquet dataset folder or a glob (data/*.parquet): it is then checked
    partition by partition, as is any table with --engine dask.
    """
    from curate.clean.normalize import note_normalization
    from curate.io.manifest import load_data
    from curate.rules.schema import load_rules
    from curate.api import validate as run_validate
    from pipelines.console.output import wrote
    from pipelines.console.summaries import print_validation

    _check_scheduler(engine, scheduler)
    rules = load_rules(rules_path) if rules_path else None
    lock = None
    df = None
    if lock_path:
        from curate.split.lock import read_lock

        lock = read_lock(lock_path)
    if partitioned_input(data, engine, encoding):
        result = run_validate(data, rules, label=label, group=group, split_col=split_col,
                              multilabel_sep=multilabel_sep, engine=engine, scheduler=scheduler, workers=workers,
                              executor=executor, lock=lock)
    else:
        df = note_normalization(load_data(data, encoding=encoding), data)
        result = run_validate(df, rules, label=label, group=group, split_col=split_col,
                              multilabel_sep=multilabel_sep, lock=lock, executor=executor)
    result.source = data
    payload = result.to_dict()
    if export_gx:
        from curate.rules.gx import export_suite
        from curate.rules.schema import Rules

        wrote(export_suite(rules or Rules(), export_gx), "GX expectation suite")
    if junit:
        from pipelines.report.junit import write_junit

        write_junit(payload, junit)
    if report:
        from pipelines.report.html import write_validation_report

        write_validation_report(payload, df, report)
    print_validation(payload)
    ctx.exit(0 if result.success else 1)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--rules", "rules_path", metavar="RULES.yaml", help="Rules file with clean: and/or normalize:.")
@click.option("-o", "--output", "output", required=True, metavar="OUT", help="Cleaned table (.parquet, .csv, .jsonl).")
@click.option("--log", "log_path", metavar="LOG.jsonl", help="Write one JSON line per change.")
@click.option("--apply", "apply_path", metavar="PARAMS.json",
              help="Re-apply fitted normalisation parameters (written by an earlier clean).")
@click.option("--label", metavar="COL", help=LABEL_HELP + " Overrides the rules file's; used when the column exists.")
@click.option("--split-col", metavar="COL", default="split", show_default=True, help="Split column for fit_on.")
@click.option("--encoding", metavar="NAME", help="Text encoding of a CSV/JSONL table [default: utf-8].")
def clean(data: str, rules_path: str | None, output: str, log_path: str | None, apply_path: str | None,
          label: str | None, split_col: str, encoding: str | None) -> None:
    """Clean DATA with the rules file's steps (in file order) and normaliser; never touches DATA."""
    from curate.io.atomic import write_json_atomic, write_text_atomic
    from curate.io.manifest import load_data, save_manifest
    from curate.clean.normalize import normalizer_params_path
    from curate.io.tables import table_format
    from curate.rules.schema import load_rules
    from curate.api import clean as run_clean
    from pipelines.console.summaries import print_clean_log

    if not rules_path and not apply_path:
        raise CuraugError("clean needs --rules RULES.yaml or --apply PARAMS.json")
    table_format(output)
    refuse_overwrite(data, output)
    rules = load_rules(rules_path) if rules_path else None
    df = load_data(data, encoding=encoding)
    result = run_clean(df, rules, label=label, split_col=split_col, apply=apply_path)
    save_manifest(result.data, output)
    if result.normalizer is not None:
        write_json_atomic(normalizer_params_path(output), result.normalizer)
    if log_path:
        write_text_atomic(log_path, "".join(json.dumps(e, default=str) + "\n" for e in result.log))
    print_clean_log(result.log, rows_in=len(df), rows_out=len(result.data),
                    params=normalizer_params_path(output) if result.normalizer else None)


#: ``split``'s error-bound options: how many val and test rows a Hoeffding bound needs.
BOUND_OPTIONS = option_group(
    click.option("--error-bound", metavar="EPS", type=float,
                 help="Check that val and test each hold the rows for |measured - true error| <= EPS "
                 "(Hoeffding: log(2/delta)/(2 EPS^2)); a warning when they do not."),
    click.option("--confidence", type=float, default=0.95, show_default=True,
                 help="Probability the --error-bound holds with (1 - delta)."),
    click.option("--bound-per-class", is_flag=True, help="Require the --error-bound rows of every class in "
                 "val and test (a bound on each class's error)."),
    click.option("--strict-bound", is_flag=True, help="Fail (exit 1, the split still written) when the split "
                 "cannot give the --error-bound."),
)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--label", metavar="COL", default="label", show_default=True, help="Label column to stratify on.")
@click.option("--group", metavar="COL", help="Leakage unit: no group in two splits or two folds.")
@click.option("--ratios", metavar="TRAIN,VAL,TEST", default="0.6,0.2,0.2", show_default=True, help="train,val,test ratios.")
@click.option("--folds", metavar="K", type=int, default=0, show_default=True, help="K folds over train+val rows (fold -1: test).")
@click.option("--multilabel-sep", metavar="SEP", help="Separator of multilabel cells: iterative stratification (with --group too).")
@click.option("--stable", is_flag=True, help="A row's split depends only on a hash of its id (or group) and the seed.")
@click.option("--time", "time_col", metavar="COL", help="Time column: train before val before test (no shuffling).")
@click.option("--gap", metavar="GAP", help="With --time: leave out rows within GAP before each boundary (7D, 12h, or a number).")
@click.option("--domain", metavar="COL", help="Shifted data: the column telling the source and target domains apart (with --target).")
@click.option("--target", metavar="VALUE", help="With --domain: the target domain's value; its rows go to val and test, the others to train and train_val.")
@click.option("--seed", metavar="S", type=int, default=0, show_default=True, help="Random seed of the assignment.")
@click.option("--small-classes-to-train", "small_to_train", is_flag=True,
              help="Send classes too small for every split to train (named in the notes) instead of failing.")
@click.option("-o", "--output", "output", required=True, metavar="OUT", help="Output table with split (and fold).")
@click.option("--lock", "lock_path", metavar="SPLIT.lock", help="Record the assignment for `validate --lock`.")
@click.option("--encoding", metavar="NAME", help="Text encoding of a CSV/JSONL table [default: utf-8].")
@ENGINE_OPTION
@SCHEDULER_OPTION
@click.option("--workers", metavar="N", type=click.IntRange(min=1),
              help="Threads or LocalCluster processes for a partitioned table [default: all cores].")
@BOUND_OPTIONS
@click.pass_context
def split(ctx: click.Context, data: str, label: str, group: str | None, ratios: str, folds: int,
          multilabel_sep: str | None, stable: bool, time_col: str | None, gap: str | None, domain: str | None,
          target: str | None, seed: int, small_to_train: bool, output: str, lock_path: str | None,
          encoding: str | None, engine: str, scheduler: str | None, workers: int | None, **bound) -> None:
    """Add stratified (optionally grouped, multilabel or time-ordered) train/val/test splits and K folds to DATA.

    DATA may be a Parquet dataset folder or a glob (data/*.parquet): it is then split in
    passes over its partitions, row for row as in memory, as is any table with --engine
    dask; OUT is then written as a Parquet dataset folder (one file per partition), or as
    one file when it ends in .parquet.

    Shifted data (--domain COL --target VALUE): the target domain's rows go to val and
    test, every other row to train and train_val (error on train_val against val tells
    variance from data mismatch in `curaug train`).
    """
    from curate.io.manifest import load_data, save_manifest
    from curate.io.tables import table_format
    from curate.split.splitters import parse_ratios
    from curate.api import split as run_split
    from curate.split.lock import build_lock, write_lock

    _check_scheduler(engine, scheduler)
    _check_bound(**bound)
    settings = {"source": data, "label": label, "group": group, "ratios": ratios, "folds": folds, "seed": seed,
                "stable": stable, "multilabel_sep": multilabel_sep, "time": time_col, "gap": gap}
    if lock_path:
        refuse_overwrite(data, lock_path)
    if partitioned_input(data, engine, encoding):
        from curate.partitioned.table import engine_scope, open_frame

        _refuse_overwrite_inputs(data, output)
        if lock_path:
            _refuse_overwrite_inputs(data, lock_path)
        parse_ratios(ratios)
        report = run_split(data, label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                           multilabel_sep=multilabel_sep, strict=not small_to_train, time=time_col, gap=gap,
                           domain=domain, target=target, output=output, engine=engine, scheduler=scheduler,
                           workers=workers)
        if lock_path:  # read back from what was written: the lock holds what the files hold
            if domain is not None:
                settings.update(domain=domain, target=target, source_values=report["domain"]["source_values"])
            with engine_scope(engine, scheduler, workers):
                write_lock(lock_path, build_lock(open_frame(output), "split", settings, label))
        _split_bound(ctx, report, **bound)
        return
    table_format(output)
    refuse_overwrite(data, output)
    parse_ratios(ratios)
    df = load_data(data, encoding=encoding)
    out, report = run_split(df, label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                            multilabel_sep=multilabel_sep, strict=not small_to_train, time=time_col, gap=gap,
                            domain=domain, target=target, return_report=True)
    if lock_path and domain is not None:
        settings.update(domain=domain, target=target, source_values=report["domain"]["source_values"])
    lock = build_lock(out, "split", settings, label) if lock_path else None
    save_manifest(out, output)
    if lock is not None:
        write_lock(lock_path, lock)
    _split_bound(ctx, report, **bound)


def _check_bound(error_bound: float | None, confidence: float, bound_per_class: bool, strict_bound: bool) -> None:
    """Refuse a bad --error-bound or --confidence before any work (exit 2)."""
    if error_bound is not None:
        from curate.stats.intervals import rows_for_error_bound

        rows_for_error_bound(error_bound, confidence)
    elif bound_per_class or strict_bound:
        raise click.UsageError("--bound-per-class and --strict-bound need --error-bound EPS")


def _split_bound(ctx: click.Context, report: dict, error_bound: float | None, confidence: float,
                 bound_per_class: bool, strict_bound: bool) -> None:
    """The split report, with the val/test rows an error bound needs when one is asked;
    ``--strict-bound`` turns a shortfall into a failed check (exit 1, the split written)."""
    from pipelines.console.summaries import print_split_report

    if error_bound is not None:
        from curate.stats.bounds import error_bound_check, shortfall_line

        report["error_bound"] = check = error_bound_check(report, error_bound, confidence, per_class=bound_per_class)
    print_split_report(report)
    if error_bound is not None and strict_bound and not check["enough"]:
        click.echo(f"bound check failed: {shortfall_line(check)}", err=True)
        ctx.exit(1)


def _refuse_overwrite_inputs(data: str, output: str) -> None:
    """A partitioned output replaces a whole folder: never one holding an input file."""
    from curate.partitioned.table import table_files

    out = Path(output).resolve()
    for f in table_files(data)[0]:
        if out == Path(f).resolve() or out in Path(f).resolve().parents:
            raise CuraugError(f"{output}: refusing to overwrite the input ({f} is there); choose another -o")
