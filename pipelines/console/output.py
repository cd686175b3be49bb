"""Where output goes: stdout or stderr, one ``wrote PATH (what)`` line per output, the
figures a command hands to its ``--json`` option, and the one-line error messages."""

from __future__ import annotations

import sys
from typing import Any


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


def stdout_console():
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not console.is_terminal:  # logs and CI: wide enough that tables do not fold every cell
        console = Console(soft_wrap=True, width=140)
    return console


def error_line(message: str) -> None:
    """Bad input or usage: ``error: <message>`` on one line of stderr."""
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")


def internal_error_line(exc: BaseException) -> None:
    """A failure that is not the user's: one line naming it, and how to see more."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    sys.stderr.write(f"internal error: {text} (rerun with --debug for the traceback)\n")
