"""The ``curaug`` command line.

Only click is imported at start-up; every command imports what it needs when it runs,
so ``curaug --help`` stays instant. Exit codes: 0 success, 1 checks failed, 2 bad input
or usage (one ``error: ...`` line on stderr, no traceback unless ``--debug``).
"""

from __future__ import annotations

import json
import os
import sys

import click

from curate.errors import CuraugError

MODALITY_CHOICE = click.Choice(["image", "audio", "text", "tabular"])


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="curaug", prog_name="curaug", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Curate, split, augment and baseline ML datasets from one manifest."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.argument("src", type=click.Path(path_type=str))
@click.option("-o", "--output", "output", required=True, metavar="MANIFEST",
              help="Manifest to write (.parquet, .csv or .jsonl).")
@click.option("--modality", type=MODALITY_CHOICE, help="Keep only this modality (folders) or declare a table's.")
@click.option("--workers", type=click.IntRange(min=1), help="Decoding processes [default: all cores].")
@click.option("--no-cache", is_flag=True, help="Decode every file even if unchanged since the last ingest.")
@click.option("--encoding", help="Text encoding of a CSV/JSONL table [default: utf-8].")
def ingest(src: str, output: str, modality: str | None, workers: int | None, no_cache: bool,
           encoding: str | None) -> None:
    """Build a manifest from a class-folder tree SRC/<label>/<file> or a table.

    Every media file is hashed and fully decoded (image size and channels, audio sample
    rate, duration and channels); damaged files get status=corrupt and a reason.
    """
    from curate.io.ingest import ingest as run_ingest
    from curate.io.manifest import save_manifest
    from curate.io.tables import table_format
    from pipelines.console import print_ingest_summary, progress_bar

    table_format(output)
    with progress_bar("decoding") as progress:
        result = run_ingest(src, modality, workers=workers, use_cache=not no_cache, encoding=encoding,
                            progress=progress)
    save_manifest(result.manifest, output)
    print_ingest_summary(result.summary, output)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--label", help="Label column [default: 'label' when present].")
@click.option("--json", "json_out", metavar="OUT", help="Write the profile as JSON ('-' for stdout).")
@click.option("--encoding", help="Text encoding of a CSV/JSONL table [default: utf-8].")
def profile(data: str, label: str | None, json_out: str | None, encoding: str | None) -> None:
    """Profile a manifest or table: rows, dtypes, missing values, duplicates, classes, media."""
    from curate.io.manifest import load_data
    from curate.profile import profile as run_profile
    from pipelines.console import print_profile

    df = load_data(data, encoding=encoding)
    try:
        result = run_profile(df, label=label, source=data)
    except CuraugError as exc:
        raise CuraugError(f"{data}: {exc}") from None
    if json_out == "-":
        click.echo(json.dumps(result, indent=2))
        return
    if json_out:
        from curate.io.atomic import write_text_atomic

        write_text_atomic(json_out, json.dumps(result, indent=2) + "\n")
    print_profile(result)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--rules", "rules_path", metavar="RULES.yaml", help="Rules file [default: the default checks].")
@click.option("--label", help="Label column (overrides the rules file's).")
@click.option("--group", help="Leakage-unit column (overrides the rules file's).")
@click.option("--split-col", help="Split column: adds the split checks [default: 'split' when present].")
@click.option("--multilabel-sep", metavar="SEP", help="Label cells hold several labels joined by SEP (e.g. ';').")
@click.option("--lock", "lock_path", metavar="SPLIT.lock", help="Fail when a row recorded by `split --lock` moved.")
@click.option("--json", "json_out", metavar="OUT", help="Write the result as JSON ('-' for stdout).")
@click.option("--report", metavar="OUT.html", help="Write a self-contained HTML report.")
@click.option("--junit", metavar="OUT.xml", help="Write JUnit XML, one testcase per check.")
@click.option("--export-gx", metavar="DIR", help="Also write the column rules as a GX expectation suite JSON.")
@click.option("--encoding", help="Text encoding of a CSV/JSONL table [default: utf-8].")
@click.pass_context
def validate(ctx: click.Context, data: str, rules_path: str | None, label: str | None, group: str | None,
             split_col: str | None, multilabel_sep: str | None, lock_path: str | None, json_out: str | None,
             report: str | None, junit: str | None, export_gx: str | None, encoding: str | None) -> None:
    """Check DATA against a rules file (or the default checks); exit 1 when an error-level check fails."""
    from curate.io.manifest import load_data
    from curate.rules.schema import Rules, load_rules
    from curate.checks.validate import validate as run_validate
    from pipelines.console import print_validation

    rules = load_rules(rules_path) if rules_path else Rules()
    for path in (json_out, junit):
        if path and path != "-":
            _check_output_suffix(path, (".json",) if path == json_out else (".xml",))
    if report:
        _check_output_suffix(report, (".html", ".htm"))
    lock = None
    if lock_path:
        from curate.split.lock import read_lock

        lock = read_lock(lock_path)
    df = load_data(data, encoding=encoding)
    if split_col is None and rules.splits is None and "split" in df.columns:
        split_col = "split"
    if label is None and rules.label is None and "label" in df.columns:
        label = "label"  # the manifest's own label column (folder datasets)
    result = run_validate(df, rules, label=label, group=group, split_col=split_col, label_sep=multilabel_sep,
                          lock=lock, source=data)
    payload = result.to_dict()
    if export_gx:
        from curate.rules.gx import export_suite

        export_suite(rules, export_gx)
    if junit:
        from pipelines.report.junit import write_junit

        write_junit(payload, junit)
    if report:
        from pipelines.report.html import write_validation_report

        write_validation_report(payload, df, report)
    if json_out == "-":
        click.echo(json.dumps(payload, indent=2))
    else:
        if json_out:
            from curate.io.atomic import write_text_atomic

            write_text_atomic(json_out, json.dumps(payload, indent=2) + "\n")
        print_validation(payload)
    ctx.exit(0 if result.success else 1)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--rules", "rules_path", metavar="RULES.yaml", help="Rules file with clean: and/or normalize:.")
@click.option("-o", "--output", "output", required=True, metavar="OUT", help="Cleaned table (.parquet, .csv, .jsonl).")
@click.option("--log", "log_path", metavar="LOG.jsonl", help="Write one JSON line per change.")
@click.option("--apply", "apply_path", metavar="PARAMS.json",
              help="Re-apply fitted normalisation parameters (written by an earlier clean).")
@click.option("--label", help="Label column (overrides the rules file's).")
@click.option("--split-col", default="split", show_default=True, help="Split column for fit_on.")
@click.option("--encoding", help="Text encoding of a CSV/JSONL table [default: utf-8].")
def clean(data: str, rules_path: str | None, output: str, log_path: str | None, apply_path: str | None,
          label: str | None, split_col: str, encoding: str | None) -> None:
    """Clean DATA with the rules file's steps (in file order) and normaliser; never touches DATA."""
    from curate.io.atomic import write_text_atomic
    from curate.clean.steps import CleanResult, apply_normalizer, clean as run_clean
    from curate.io.manifest import load_data, save_manifest
    from curate.rules.schema import load_rules
    from curate.io.tables import table_format
    from pipelines.console import print_clean_log

    if not rules_path and not apply_path:
        raise CuraugError("clean needs --rules RULES.yaml or --apply PARAMS.json")
    table_format(output)
    if log_path:
        _check_output_suffix(log_path, (".jsonl",))
    _refuse_overwrite(data, output)
    rules = load_rules(rules_path) if rules_path else None
    params = None
    if apply_path:
        params = _read_params(apply_path)
    df = load_data(data, encoding=encoding)
    result = run_clean(df, rules, label=label, split_col=split_col) if rules else CleanResult(df.copy())
    if params is not None:
        result.data = apply_normalizer(result.data, params)
        result.log.append({"step": "normalize", "action": "apply", "method": params["method"],
                           "columns": params["columns"], "rows_transformed": int(len(result.data)),
                           "reason": f"parameters from {apply_path}"})
    save_manifest(result.data, output)
    if result.normalizer is not None:
        write_text_atomic(normalizer_params_path(output), json.dumps(result.normalizer, indent=2) + "\n")
    if log_path:
        write_text_atomic(log_path, "".join(json.dumps(e, default=str) + "\n" for e in result.log))
    print_clean_log(result.log, rows_in=len(df), rows_out=len(result.data), output=output,
                    params=normalizer_params_path(output) if result.normalizer else None)


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--label", required=True, help="Label column to stratify on.")
@click.option("--group", help="Leakage unit: no group in two splits or two folds.")
@click.option("--ratios", default="0.6,0.2,0.2", show_default=True, help="train,val,test ratios.")
@click.option("--folds", type=int, default=0, show_default=True, help="K folds over train+val rows (fold -1: test).")
@click.option("--multilabel-sep", help="Separator of multilabel cells: iterative stratification (with --group too).")
@click.option("--stable", is_flag=True, help="A row's split depends only on a hash of its id (or group) and the seed.")
@click.option("--time", "time_col", metavar="COL", help="Time column: train before val before test (no shuffling).")
@click.option("--gap", metavar="GAP", help="With --time: leave out rows within GAP before each boundary (7D, 12h, or a number).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--strict", is_flag=True, help="Fail on classes too small for every split instead of putting them in train.")
@click.option("-o", "--output", "output", required=True, metavar="OUT", help="Output table with split (and fold).")
@click.option("--json", "json_out", metavar="OUT", help="Write the split report as JSON ('-' for stdout).")
@click.option("--lock", "lock_path", metavar="SPLIT.lock", help="Record the assignment for `validate --lock`.")
@click.option("--encoding", help="Text encoding of a CSV/JSONL table [default: utf-8].")
def split(data: str, label: str, group: str | None, ratios: str, folds: int, multilabel_sep: str | None,
          stable: bool, time_col: str | None, gap: str | None, seed: int, strict: bool, output: str,
          json_out: str | None, lock_path: str | None, encoding: str | None) -> None:
    """Add stratified (optionally grouped, multilabel or time-ordered) train/val/test splits and K folds to DATA."""
    from curate.io.manifest import load_data, ok_rows, save_manifest
    from curate.split.splitters import parse_ratios, split_frame
    from curate.io.tables import table_format
    from pipelines.console import print_split_report

    table_format(output)
    _refuse_overwrite(data, output)
    parse_ratios(ratios)
    df = load_data(data, encoding=encoding)
    usable = ok_rows(df)
    if lock_path:
        _refuse_overwrite(data, lock_path)
    result = split_frame(df[usable], label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                         multilabel_sep=multilabel_sep, strict=strict, time=time_col, gap=gap)
    out = df.copy()
    out["split"] = None
    out.loc[usable, "split"] = result.split
    out["split"] = out["split"].astype("string")
    if result.fold is not None:
        import pandas as pd

        out["fold"] = pd.array([pd.NA] * len(out), dtype="Int64")
        out.loc[usable, "fold"] = result.fold
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
    report = {**result.report, "notes": result.notes, "skipped_corrupt": int((~usable).sum())}
    if json_out == "-":
        click.echo(json.dumps(report, indent=2))
        return
    if json_out:
        from curate.io.atomic import write_text_atomic

        write_text_atomic(json_out, json.dumps(report, indent=2) + "\n")
    print_split_report(report, output)


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

    from augment.recipe import load_recipe
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


def normalizer_params_path(output: str) -> str:
    """Where clean writes the fitted normaliser: beside the output, ``<stem>.normalize.json``."""
    from pathlib import Path

    out = Path(output)
    return str(out.with_name(out.stem + ".normalize.json"))


def _read_params(path: str) -> dict:
    from pathlib import Path

    try:
        params = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CuraugError(f"{path}: no such parameters file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CuraugError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(params, dict) or "method" not in params or "columns" not in params:
        raise CuraugError(f"{path}: not a normaliser parameters file (needs 'method' and 'columns')")
    return params


def _refuse_overwrite(data: str, output: str) -> None:
    """Raw data on disk is read-only: an output may never replace its input."""
    from pathlib import Path

    if Path(output).resolve() == Path(data).resolve():
        raise CuraugError(f"{output}: refusing to overwrite the input; choose another -o")


def _check_output_suffix(path: str, suffixes: tuple[str, ...]) -> None:
    from pathlib import Path

    if Path(path).suffix.lower() not in suffixes:
        raise CuraugError(f"{path}: expected a {' or '.join(suffixes)} file")


def _not_yet(name: str, issue: int, summary: str) -> None:
    @cli.command(name=name, help=f"{summary} (not available yet: issue {issue}).",
                 context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise CuraugError(f"'curaug {name}' is not available yet in this version (planned in issue {issue})")


_not_yet("train", 9, "Train a baseline model with hard-example mining")
_not_yet("run", 10, "Run a whole pipeline from a YAML file")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: map every failure to an exit code and one ``error:`` line."""
    from pipelines.console import error_line

    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args or os.environ.get("CURAUG_DEBUG") == "1"
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
        if debug:
            raise
        error_line(str(exc))
        return 2
    except (KeyboardInterrupt, click.Abort):
        error_line("interrupted")
        return 130
    except OSError as exc:
        if debug:
            raise
        target = f"{exc.filename}: " if exc.filename else ""
        error_line(f"{target}{exc.strerror or exc}")
        return 2
    except Exception as exc:  # an unexpected failure still answers in one line
        if debug:
            raise
        error_line(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return 2


if __name__ == "__main__":
    sys.exit(main())
