"""The ``curaug`` command line.

Only click is imported at start-up; every command imports what it needs when it runs,
so ``curaug --help`` stays instant. The commands are thin: they parse flags, call the
functions of :mod:`curate.api` and :mod:`augment.api` (or the library directly) and print. Exit codes: 0
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
    "card": ("output",),
}
OUTPUT_NAMES = {"ingest": "manifest", "clean": "cleaned table", "split": "table with split and fold",
                "card": "dataset card"}

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
        from pipelines.console.output import JSON_KEY

        outputs = {name: ctx.meta.get(JSON_KEY) if name == "json_out" else ctx.params.get(name)
                   for name in COMMAND_OUTPUTS.get(self.name, ())}
        outputs = {name: value for name, value in outputs.items() if value and value != "-"}
        try:
            for name, path in outputs.items():
                if name == "output" and self.name == "split" and partitioned_input(ctx.params["data"],
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
        from pipelines.console.output import FIGURES_KEY, JSON_KEY, wrote

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
    from pipelines.console.output import JSON_KEY

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


def option_group(*options):
    """One decorator applying click ``options`` in the order given (as stacked above a command)."""
    def apply(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


def partitioned_input(data: str, engine: str, encoding: str | None = None) -> bool:
    """A Parquet dataset folder, a glob, or any table with --engine dask: the partitioned path
    (which reads CSV as UTF-8 only)."""
    from curate.partitioned.table import is_partitioned

    partitioned = engine == "dask" or is_partitioned(data)
    if partitioned and encoding and encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        raise CuraugError(f"--encoding {encoding}: a table read in partitions must be UTF-8 (or Parquet); "
                          "convert it first, or use --engine local on one file")
    return partitioned


def refuse_overwrite(data: str, output: str) -> None:
    """Raw data on disk is read-only: an output may never replace its input."""
    if Path(output).resolve() == Path(data).resolve():
        raise CuraugError(f"{output}: refusing to overwrite the input; choose another -o")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: map every failure to an exit code and one line on stderr.

    2: bad input or usage (``error: ...``); 3: anything unexpected (``internal error:
    ...``); 130: interrupted. ``--debug`` (anywhere) or ``CURAUG_DEBUG=1`` also prints
    the traceback.
    """
    from pipelines.console.output import error_line, internal_error_line

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
