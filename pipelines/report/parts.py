"""The pieces every section of the pipeline report is made of: a stage's figures, a line
saying what a section cannot show, a table, a cell, an embedded image, and the guard that
keeps one odd file from failing the whole page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

from pipelines.console.rounding import figure

#: What a section may meet in a partial or hand-edited run folder: the section says so and
#: the page is still written, because the report must never fail the run it describes.
ODD_FILES = (OSError, ValueError, KeyError, TypeError, IndexError)


def guarded(what: str, render: Callable[..., str], *args: Any) -> str:
    """``render(*args)``, or a line saying that ``what`` could not be drawn and why."""
    try:
        return render(*args)
    except ODD_FILES as exc:
        return missing(f"the {what} could not be drawn from the run's files ({type(exc).__name__}: {exc})")


def missing(text: str) -> str:
    """A line saying what a section could not show, and why."""
    return f"<p class='missing'>{html.escape(text)}</p>"


def figures_of(stages: dict[str, dict[str, Any]], name: str) -> dict[str, Any] | None:
    """A stage's figures file as the runner loaded it (None: stage absent or no file)."""
    return (stages.get(name) or {}).get("figures")


def data_uri_png(path: Path) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def table(header: list[str], rows: list[list[Any]], table_id: str | None = None) -> str:
    """An HTML table of escaped cells; numbers right-aligned and rounded for reading."""
    ident = f" id='{html.escape(table_id)}'" if table_id else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table{ident}><tr>{head}</tr>{body}</table>"


def cell(value: Any) -> str:
    """A table cell: a number rounded for reading and right-aligned, anything else escaped."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td class='num'>{html.escape(figure(value))}</td>"
    return f"<td>{html.escape('' if value is None else str(value))}</td>"
