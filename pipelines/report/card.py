"""The dataset card (``out/card.md``, curate.card) as a section of the pipeline report:
the same words, its YAML header shown as written and its Markdown drawn as HTML."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pipelines.report.parts import missing


def card_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    path = out / "card.md"
    if not path.is_file():
        return missing("card.md is missing: no dataset card to show.")
    meta, body = split_card(path.read_text(encoding="utf-8"))
    return (f"<p>The card written to {html.escape(str(path))}; its Hugging Face header:</p>"
            f"<pre id='card-header'>{html.escape(meta)}</pre><div id='card-body'>{markdown_html(body)}</div>")


def split_card(text: str) -> tuple[str, str]:
    """``(YAML header, Markdown body)`` of a card that starts with a ``---`` block."""
    if not text.startswith("---\n"):
        return "", text
    end = text.index("\n---\n", 3)
    return text[4:end + 1], text[end + 5:]


def markdown_html(body: str) -> str:
    """CommonMark with tables, raw HTML escaped (a class name or a path is never markup),
    headings moved two levels down so that the card nests under the section's ``<h2>``."""
    from markdown_it import MarkdownIt  # rich's own Markdown parser, installed with it

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(body)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
    return md.renderer.render(tokens, md.options, {})
