"""The ``curaug`` command line.

Only click is imported at start-up; every command imports what it needs when it runs,
so ``curaug --help`` stays instant. The commands are thin: they parse flags, call the
functions of :mod:`curaug.api` (or the library directly) and print. Exit codes: 0
success, 1 checks failed, 2 bad input or usage (one ``error: ...`` line on stderr),
3 an internal error (one ``internal error: ...`` line); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import click

from curate.errors import CuraugError

MODALITY_CHOICE = click.Choice(["image", "audio", "text", "tabular"])
LABEL_HELP = "Label column [default: label]."

#: Commands that compute figures: each takes ``--json OUT`` and writes what it printed.
FIGURE_COMMANDS = ("profile", "validate", "clean", "split", "augment")

#: Output options by parameter name: what they hold, whether a file or a folder, the
#: accepted suffixes, and whether the footer announces them (the others say it themselves).
OUTPUTS: dict[str, tuple[str, str, tuple[str, ...], bool]] = {
    "output": ("output table", "file", (), True),
    "outdir": ("augmented files", "folder", (), False),
    "rundir": ("training run", "folder", (), False),
    "json_out": ("JSON figures", "file", (".json",), True),
    "report": ("HTML report", "file", (".html", ".htm"), True),
    "junit": ("JUnit XML", "file", (".xml",), True),
    "log_path": ("change log", "file", (".jsonl",), True),
    "lock_path": ("split lock", "file", (), True),
    "export_gx": ("GX expectation suite", "folder", (), False),
}
#: Which options each command writes to (``validate --lock`` reads a lock; ``split --lock`` writes one).
COMMAND_OUTPUTS = {
    "ingest": ("output",),
    "profile": ("json_out",),
    "validate": ("json_out", "report", "junit", "export_gx"),
    "clean": ("output", "json_out", "log_path"),
    "split": ("output", "json_out", "lock_path"),
    "augment": ("outdir", "json_out"),
    "train": ("rundir",),
}
OUTPUT_NAMES = {"ingest": "manifest", "clean": "cleaned table", "split": "table with split and fold"}

#: Python parameter names whose flag is not ``--<name>`` (library errors name the former).
FLAG_ALIASES = {"out": "--output", "from_stage": "--from"}
#: Python settings that are a flag of their own on the command line.
FLAG_PHRASES = {"strict=False": "--small-classes-to-train"}
#: Library parameters that hold the command's input table: the CLI names its file instead.
DATA_PARAMS = ("df", "data")


class Command(click.Command):
    """Every curaug command: ``--debug`` after the command too, ``--json OUT`` where it
    computes figures, one check of every output path before any work, library errors
    rewritten from Python parameters to flags, and one line per output written."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.name in FIGURE_COMMANDS:
            self.params.append(click.Option(
                ["--json", "json_out"], metavar="OUT", expose_value=False, callback=_remember_json,
                help="Write the figures shown as JSON ('-': to stdout instead of the summary)."))
        self.params.append(click.Option(["--debug"], is_flag=True, expose_value=False,
                                        help="Show the full traceback of an error."))

    def invoke(self, ctx: click.Context):
        from pipelines.console import JSON_KEY

        outputs = {name: ctx.meta.get(JSON_KEY) if name == "json_out" else ctx.params.get(name)
                   for name in COMMAND_OUTPUTS.get(self.name, ())}
        outputs = {name: value for name, value in outputs.items() if value and value != "-"}
        try:
            for name, path in outputs.items():
                if name == "output" and self.name == "split" and _partitioned(ctx.params["data"],
                                                                               ctx.params["engine"]):
                    continue  # a folder or one file: curate.partitioned.write checks it
                _check_output(self, name, path)
            try:
                result = super().invoke(ctx)
            except click.exceptions.Exit as done:  # exit 1 (checks failed): outputs are written
                if done.exit_code in (0, 1):
                    self._finish(ctx, outputs)
                raise
        except CuraugError as exc:
            message = str(exc)
            data = ctx.params.get("data")
            if exc.param in DATA_PARAMS and data:
                message = re.sub(rf"^({'|'.join(DATA_PARAMS)})\b:?", f"{data}:", message)
            exc.args = (flag_message(message, exc.param, self),)
            raise
        self._finish(ctx, outputs)
        return result

    def _finish(self, ctx: click.Context, outputs: dict[str, str]) -> None:
        from pipelines.console import FIGURES_KEY, JSON_KEY, wrote

        figures = ctx.meta.get(FIGURES_KEY)
        target = ctx.meta.get(JSON_KEY)
        if target and figures is not None:
            from curate.io.jsonify import jsonable

            text = json.dumps(jsonable(figures), indent=2) + "\n"
            if target == "-":
                click.echo(text, nl=False)
            else:
                from curate.io.atomic import write_text_atomic

                write_text_atomic(target, text)
        elif "json_out" in outputs:
            del outputs["json_out"]  # this run computed no figures (augment --replay)
        for name, path in outputs.items():
            what, _, _, announce = OUTPUTS[name]
            if announce:
                wrote(path, OUTPUT_NAMES.get(self.name, what) if name == "output" else what)


class Group(click.Group):
    """The command list in pipeline order, with whole one-sentence summaries."""

    command_class = Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name, cmd in self.commands.items()
                if not cmd.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _remember_json(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from pipelines.console import JSON_KEY

    if value is not None:
        ctx.meta[JSON_KEY] = value


def _flag(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return param.human_readable_name
    longs = [o for o in param.opts if o.startswith("--")]
    return longs[0] if longs else param.opts[0]


def _flag_for(name: str, command: click.Command) -> str | None:
    """The flag (or argument) of ``command`` that a library parameter ``name`` stands for."""
    wanted = FLAG_ALIASES.get(name, "--" + name.replace("_", "-"))
    for param in command.params:
        if isinstance(param, click.Argument) and param.name == name:
            return _flag(param)
        if isinstance(param, click.Option) and wanted in param.opts:
            return wanted
    return None


def flag_message(message: str, param: str | None, command: click.Command) -> str:
    """A library message in Python terms (``ratios=(0.5, 0.5) ...``) in the command's terms
    (``--ratios (0.5, 0.5) ...``). Only errors that say which parameter they are about
    (``CuraugError.param``) are rewritten, and then every parameter they name that the
    command has a flag for.

    Examples
    --------
    >>> cmd = click.Command("split", params=[click.Option(["--ratios"]), click.Option(["--multilabel-sep"]),
    ...                                      click.Option(["-o", "--output"])])
    >>> flag_message("ratios=(0.5, 0.5) must have three values", "ratios", cmd)
    '--ratios (0.5, 0.5) must have three values'
    >>> flag_message("out='a.csv/b.csv' is under a file; multilabel_sep=';' ...", "out", cmd)
    "--output 'a.csv/b.csv' is under a file; --multilabel-sep ';' ..."
    >>> flag_message("or pass strict=False", "label",
    ...              click.Command("split", params=[click.Option(["--small-classes-to-train"])]))
    'or pass --small-classes-to-train'
    >>> flag_message("ratios=(1,) is wrong", None, cmd)
    'ratios=(1,) is wrong'
    """
    if not param:
        return message
    for phrase, flag in FLAG_PHRASES.items():
        if flag in {o for p in command.params for o in getattr(p, "opts", ())}:
            message = message.replace(phrase, flag)

    def swap(match: re.Match) -> str:
        flag = _flag_for(match.group(1), command)
        return f"{flag} " if flag else match.group(0)

    return re.sub(r"(?<![\w-])([a-z][a-z0-9_]*)=(?!=)", swap, message)


def _check_output(command: click.Command, name: str, path: str) -> None:
    """Refuse an output path that cannot be written before any work is done: one under an
    existing file (``-o data.csv/out.parquet``), a file where a folder is wanted or the
    other way round, or the wrong kind of file."""
    what, kind, suffixes, _ = OUTPUTS[name]
    flag = next((_flag(p) for p in command.params if p.name == name), name)
    target = Path(path)
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CuraugError(f"{flag} {path}: {parent} is a file, so nothing can be written under it")
            break
    if kind == "file" and target.is_dir():
        raise CuraugError(f"{flag} {path}: is a folder; give a file name")
    if kind == "folder" and target.exists() and not target.is_dir():
        raise CuraugError(f"{flag} {path}: is a file; give a folder")
    if suffixes and target.suffix.lower() not in suffixes:
        raise CuraugError(f"{flag} {path}: expected a {' or '.join(suffixes)} file")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="curaug", prog_name="curaug", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error (also accepted after the command).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Curate, split, augment and baseline ML datasets from one manifest."""
    ctx.obj = {"debug": debug}


ENGINE_OPTION = click.option(
    "--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
    help="Where it runs: this machine (a Parquet folder or glob: partition by partition), or a Dask cluster.")
SCHEDULER_OPTION = click.option("--scheduler", metavar="ADDR",
                                help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")


def _check_scheduler(engine: str, scheduler: str | None) -> None:
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")


def _partitioned(data: str, engine: str, encoding: str | None = None) -> bool:
    """A Parquet dataset folder, a glob, or any table with --engine dask: the partitioned path
    (which reads CSV as UTF-8 only)."""
    from curate.partitioned.table import is_partitioned

    partitioned = engine == "dask" or is_partitioned(data)
    if partitioned and encoding and encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        raise CuraugError(f"--encoding {encoding}: a table read in partitions must be UTF-8 (or Parquet); "
                          "convert it first, or use --engine local on one file")
    return partitioned


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
    from pipelines.console import print_ingest_summary, progress_bar

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
    from curaug.api import profile as run_profile
    from pipelines.console import print_profile

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
    from curaug.api import validate as run_validate
    from pipelines.console import print_validation, wrote

    _check_scheduler(engine, scheduler)
    rules = load_rules(rules_path) if rules_path else None
    lock = None
    df = None
    if _partitioned(data, engine, encoding):
        if lock_path:
            raise CuraugError("--lock compares every row with the lock in one process and does not run on a "
                              "partitioned table; validate one file with --engine local")
        result = run_validate(data, rules, label=label, group=group, split_col=split_col,
                              multilabel_sep=multilabel_sep, engine=engine, scheduler=scheduler, workers=workers,
                              executor=executor)
    else:
        if lock_path:
            from curate.split.lock import read_lock

            lock = read_lock(lock_path)
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
    from curaug.api import clean as run_clean
    from pipelines.console import print_clean_log

    if not rules_path and not apply_path:
        raise CuraugError("clean needs --rules RULES.yaml or --apply PARAMS.json")
    table_format(output)
    _refuse_overwrite(data, output)
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
def split(data: str, label: str, group: str | None, ratios: str, folds: int, multilabel_sep: str | None,
          stable: bool, time_col: str | None, gap: str | None, seed: int, small_to_train: bool, output: str,
          lock_path: str | None, encoding: str | None, engine: str, scheduler: str | None,
          workers: int | None) -> None:
    """Add stratified (optionally grouped, multilabel or time-ordered) train/val/test splits and K folds to DATA.

    DATA may be a Parquet dataset folder or a glob (data/*.parquet): it is then split in
    passes over its partitions, row for row as in memory, as is any table with --engine
    dask; OUT is then written as a Parquet dataset folder (one file per partition), or as
    one file when it ends in .parquet.
    """
    from curate.io.manifest import load_data, save_manifest
    from curate.io.tables import table_format
    from curate.split.splitters import parse_ratios
    from curaug.api import split as run_split
    from pipelines.console import print_split_report

    _check_scheduler(engine, scheduler)
    if _partitioned(data, engine, encoding):
        if lock_path:
            raise CuraugError("--lock records every row in one file and does not run on a partitioned table; "
                              "split one file with --engine local")
        _refuse_overwrite_inputs(data, output)
        parse_ratios(ratios)
        report = run_split(data, label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                           multilabel_sep=multilabel_sep, strict=not small_to_train, time=time_col, gap=gap,
                           output=output, engine=engine, scheduler=scheduler, workers=workers)
        print_split_report(report)
        return
    table_format(output)
    _refuse_overwrite(data, output)
    if lock_path:
        _refuse_overwrite(data, lock_path)
    parse_ratios(ratios)
    df = load_data(data, encoding=encoding)
    out, report = run_split(df, label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                            multilabel_sep=multilabel_sep, strict=not small_to_train, time=time_col, gap=gap, return_report=True)
    lock = None
    if lock_path:
        from curate.split.lock import build_lock

        settings = {"source": data, "label": label, "group": group, "ratios": ratios, "folds": folds, "seed": seed,
                    "stable": stable, "multilabel_sep": multilabel_sep, "time": time_col, "gap": gap}
        lock = build_lock(out, "split", settings, label)
    save_manifest(out, output)
    if lock is not None:
        from curate.split.lock import write_lock

        write_lock(lock_path, lock)
    print_split_report(report)


@cli.command()
@click.argument("manifest", type=click.Path(path_type=str))
@click.option("--recipe", "recipe_path", metavar="RECIPE.yaml", help="Augmentation recipe (not needed with --replay).")
@click.option("-o", "--output", "outdir", required=True, metavar="OUTDIR", help="Folder for the new files and manifest.parquet.")
@click.option("--copies", type=click.IntRange(min=0), help="Augmented copies per train sample [default: the recipe's, else 1].")
@click.option("--balance", is_flag=True, help="Augment minority classes up to the largest (or the recipe's balance.target).")
@click.option("--all-rows", is_flag=True, help="Augment every usable row, whatever its split (needed when there is no split column).")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed (with sample id and copy: each sample's seed).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")
@click.option("--label", default="label", show_default=True, help="Label column (balancing, copy_paste donors).")
@click.option("--replay", "replay_id", metavar="ID", help="Regenerate one augmented sample of OUTDIR and compare bytes.")
@click.pass_context
def augment(ctx: click.Context, manifest: str, recipe_path: str | None, outdir: str, copies: int | None, balance: bool,
            all_rows: bool, seed: int, workers: int, engine: str, scheduler: str | None, label: str,
            replay_id: str | None) -> None:
    """Augment the train split of MANIFEST into OUTDIR (other rows pass through unchanged).

    Ctrl-C stops at once (exit 130) and says how many samples were written; rerunning the
    same command resumes without redoing them.
    """
    from pathlib import Path

    from augment.recipe_file import load_recipe
    from curate.io.manifest import load_data
    from pipelines.console import print_augment_summary, progress_bar, stdout_console

    if replay_id:
        import hashlib

        from augment.runner import replay

        files = replay(outdir, replay_id)
        same = all(fresh == stored for fresh, stored in files.values())
        fresh, stored = next(iter(files.values()))  # the sample's own file; side files count in `same`
        stored_sha = hashlib.sha256(stored).hexdigest()[:16] if stored is not None else "missing"
        stdout_console().print(f"replay {replay_id}: {'identical' if same else 'DIFFERENT'} "
                               f"(sha256 {hashlib.sha256(fresh).hexdigest()[:16]}, stored {stored_sha})",
                               highlight=False, markup=False)
        ctx.exit(0 if same else 1)
    if recipe_path is None:
        raise click.UsageError("Missing option '--recipe'")
    if copies is not None and balance:
        raise click.UsageError("give --copies or --balance, not both")
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    loaded = load_recipe(recipe_path)
    _refuse_overwrite(manifest, str(Path(outdir) / "manifest.parquet"))
    df = load_data(manifest)
    from augment.runner import Interrupted, augment_manifest

    try:
        with progress_bar("augmenting") as progress:
            result = augment_manifest(df, loaded, outdir, seed=seed, copies=copies, balance=balance, workers=workers,
                                      engine=engine, scheduler=scheduler, label=label, all_rows=all_rows,
                                      progress=progress)
    except Interrupted as stop:
        click.echo(str(stop), err=True)
        ctx.exit(130)
    except CuraugError as exc:
        if exc.param != "all_rows":
            raise
        # the library's message names its parameter (all_rows=True); this one names the flag
        raise CuraugError(f"{manifest}: no 'split' column, and only the train split is augmented; split it first "
                          "(curaug split), or pass --all-rows to augment every row") from None
    print_augment_summary(result.summary, str(Path(outdir) / "manifest.parquet"))

@cli.command()
@click.argument("manifest", type=click.Path(path_type=str))
@click.option("--label", default="label", show_default=True, metavar="COL", help="Label column.")
@click.option("-o", "--output", "rundir", required=True, metavar="RUNDIR",
              help="Run folder: metrics.json, model.pt, config.json, curves.png, errors.csv...")
@click.option("--model", type=click.Choice(["auto", "mlp", "cnn", "rnn", "bow"]), default="auto", show_default=True,
              help="Baseline; auto picks by modality (tabular mlp, image cnn, audio 1-D cnn, text bag of n-grams).")
@click.option("--epochs", type=click.IntRange(min=1), help="Most epochs [default: enough for 500 optimizer "
              "steps, 30 to 100].")
@click.option("--batch-size", type=click.IntRange(min=1), help="[default: an eighth of the train rows, 16 to 64].")
@click.option("--lr", type=float, help="Base learning rate [default: 1e-3 AdamW, 0.05 SGD; 10x for the text bow].")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), default="adamw", show_default=True,
              help="AdamW, or SGD with Nesterov momentum 0.9.")
@click.option("--weight-decay", type=float, help="[default: 1e-4; 0.3 for the text bow].")
@click.option("--schedule", type=click.Choice(["cosine", "step", "none"]), default="cosine", show_default=True)
@click.option("--balanced", is_flag=True, help="Class-balanced mini-batches.")
@click.option("--patience", type=click.IntRange(min=1),
              help="Epochs without relative improvement before stopping [default: a tenth of the epochs, 5 to 20].")
@click.option("--min-delta", type=float, default=0.01, show_default=True,
              help="Relative improvement that counts (0.01: 1 %% of the best value, whatever its sign).")
@click.option("--monitor", type=click.Choice(["val_loss", "val_accuracy"]), default="val_loss", show_default=True)
@click.option("--hard-mining", type=click.Choice(["none", "ohem", "replay", "triplet"]), default="none",
              show_default=True, help="Hard-example mining (see docs/training.md).")
@click.option("--search", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Random search of N settings (coarse, then fine), scored by K-fold CV over the fold column.")
@click.option("--workers", "--search-workers", "search_workers", type=click.IntRange(min=1), default=1,
              show_default=True, help="Search trials run at once (--search-workers: the old name).")
@click.option("--oof-probs", "--folds", "folds", is_flag=True,
              help="Write out-of-fold class probabilities over the fold column (oof_probs.parquet) for the "
              "label_issues check (--folds: the old name; split's --folds is a number of folds).")
@click.option("--init", metavar="CHECKPOINT", help="Start from these weights (fine-tuning: lower rates for early layers).")
@click.option("--freeze", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Freeze the first N layer groups.")
@click.option("--sanity", is_flag=True, help="First check that the model can overfit a small subset (exit 1 if not).")
@click.option("--width", type=click.IntRange(min=4), help="Model width [default: 64; image and audio CNNs "
              "16 under 2,000 train rows, 32 under 20,000].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True)
@click.option("--image-size", type=click.IntRange(min=8), help="Resize images to this square size "
              "[default: the median train size, at most 64].")
@click.option("--recipe", metavar="RECIPE.yaml", help="Augment every training sample afresh each epoch with this "
              "recipe (seeded by seed, epoch and row id); val and test are never augmented.")
@click.option("--data-memory", metavar="SIZE", help="Decoded rows held in memory, splits together (2GiB, 500MB); "
              "a split past it streams from the manifest [default: 2GiB].")
@click.option("--data-workers", type=click.IntRange(min=0), metavar="N", help="Loader processes that decode "
              "streamed rows and augment [default: 2 where rows are decoded or augmented per batch, else 0].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where --search runs its trials: threads here, or one Dask task per trial.")
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")
@click.pass_context
def train(ctx: click.Context, manifest: str, label: str, rundir: str, **settings) -> None:
    """Train a baseline on the train split of MANIFEST, select on val, test once at the end.

    Ctrl-C keeps the last epoch's checkpoint: rerunning the same command resumes it.
    """
    from pipelines.console import print_training_summary, search_progress, training_progress
    from pipelines.train.monitor import SanityError
    from pipelines.train.run import train as run_train

    try:
        with training_progress() as progress, search_progress() as on_trial:
            metrics = run_train(manifest, label=label, out=rundir, progress=progress, search_progress=on_trial,
                                **settings)
    except SanityError as exc:
        click.echo(f"sanity check failed: {exc}", err=True)
        ctx.exit(1)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the last finished epoch is checkpointed in {rundir}; "
                   "rerun the same command to resume", err=True)
        ctx.exit(130)
    print_training_summary(metrics, rundir)


def _refuse_overwrite_inputs(data: str, output: str) -> None:
    """A partitioned output replaces a whole folder: never one holding an input file."""
    from curate.partitioned.table import table_files

    out = Path(output).resolve()
    for f in table_files(data)[0]:
        if out == Path(f).resolve() or out in Path(f).resolve().parents:
            raise CuraugError(f"{output}: refusing to overwrite the input ({f} is there); choose another -o")


def _refuse_overwrite(data: str, output: str) -> None:
    """Raw data on disk is read-only: an output may never replace its input."""
    if Path(output).resolve() == Path(data).resolve():
        raise CuraugError(f"{output}: refusing to overwrite the input; choose another -o")


@cli.command()
@click.argument("pipeline", metavar="PIPELINE.yaml", type=click.Path(path_type=str))
@click.option("--from", "from_stage", metavar="STAGE",
              help="Run this stage and every one after it, changed or not (the ones before are not run).")
@click.option("--only", metavar="STAGE", help="Run just this stage (what it reads must exist).")
@click.option("--force", is_flag=True, help="Run every stage, changed or not.")
@click.option("--engine", type=click.Choice(["local", "dask"]),
              help="Where augmentation runs [default: the file's engine:, else local].")
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler tcp://HOST:PORT [default: the file's, else a LocalCluster].")
@click.pass_context
def run(ctx: click.Context, pipeline: str, from_stage: str | None, only: str | None, force: bool,
        engine: str | None, scheduler: str | None) -> None:
    """Run a pipeline file's stages in order, skipping every stage whose settings and inputs are unchanged.

    The stages: ingest, validate, clean, split, clean_fitted, validate_splits, augment, train, ablation, report.
    The plan (which stages run, and why) comes first. Exit 1 when a validation stage fails;
    Ctrl-C (exit 130) keeps what finished and the same command resumes.
    """
    from pipelines.console import progress_bar, stdout_console, training_progress
    from pipelines.run.runner import PipelineInterrupted, run_pipeline
    from pipelines.run.stages import Display

    console = stdout_console()
    display = Display(echo=lambda line: console.print(line, highlight=False, markup=False),
                      bar=progress_bar, epochs=training_progress)
    try:
        result = run_pipeline(pipeline, from_stage=from_stage, only=only, force=force, engine=engine,
                              scheduler=scheduler, display=display)
    except PipelineInterrupted as stop:
        click.echo(str(stop), err=True)
        ctx.exit(130)
    ctx.exit(0 if result.success else 1)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: map every failure to an exit code and one line on stderr.

    2: bad input or usage (``error: ...``); 3: anything unexpected (``internal error:
    ...``); 130: interrupted. ``--debug`` (anywhere) or ``CURAUG_DEBUG=1`` also prints
    the traceback.
    """
    from pipelines.console import error_line, internal_error_line

    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args[:args.index("--")] if "--" in args else "--debug" in args
    debug = debug or os.environ.get("CURAUG_DEBUG") == "1"
    try:
        code = cli.main(args=args, prog_name="curaug", standalone_mode=False)
        return int(code or 0)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
        error_line(f"{where}{exc.format_message()} (see --help)")
        return 2
    except click.ClickException as exc:
        error_line(exc.format_message())
        return 2
    except CuraugError as exc:
        _traceback(debug)
        error_line(str(exc))
        return 2
    except (KeyboardInterrupt, click.Abort):
        error_line("interrupted")
        return 130
    except OSError as exc:
        _traceback(debug)
        if exc.filename is None:  # not about a path the user gave
            internal_error_line(exc)
            return 3
        error_line(f"{exc.filename}: {exc.strerror or exc}")
        return 2
    except Exception as exc:
        _traceback(debug)
        internal_error_line(exc)
        return 3


def _traceback(debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
