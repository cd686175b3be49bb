"""Edits: what every text transform draws, what provenance records and replay applies.

A text transform never rewrites a string itself: it draws a list of :class:`Edit`
(replace ``text[start:end]`` by ``new``), and :func:`apply_edits` applies them, shifts the
entity spans and returns the change records (offsets in the source text, old, new,
transform). So an output replays byte for byte from its provenance alone, and a transform
cannot touch a protected span unnoticed: :func:`apply_edits` refuses edits that overlap
one.

Examples
--------
>>> text = "The cat sat on the mat."
>>> new, spans, records = apply_edits(text, [Edit(4, 7, "dog", "synonym")], [(19, 22, "OBJ")])
>>> new, spans
('The dog sat on the mat.', [(19, 22, 'OBJ')])
>>> apply_edits(text, [Edit(0, 3, "A", "word_noise")], [(4, 7, "ANIMAL")])[1]
[(2, 5, 'ANIMAL')]
>>> records[0]
{'start': 4, 'end': 7, 'old': 'cat', 'new': 'dog', 'transform': 'synonym'}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

#: A word: letters or digits, with inner hyphens or apostrophes ("don't", "state-of-the-art").
WORD = re.compile(r"\w+(?:[-'’]\w+)*")
#: A token: a word, or one character that is neither a word character nor a space ("#", "!").
TOKEN = re.compile(WORD.pattern + r"|[^\w\s]")

Span = tuple[int, int]
Entity = tuple[int, int, str]


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` by ``new`` (an insertion has ``start == end``)."""

    start: int
    end: int
    new: str
    transform: str


def overlaps(start: int, end: int, spans: Iterable[Span]) -> bool:
    """True when ``[start, end)`` touches a span (an insertion inside a span counts)."""
    return any(start < b and end > a or (start == end and a < start < b) for a, b in spans)


def apply_edits(text: str, edits: Sequence[Edit], entities: Sequence[Entity] = (),
                protected: Sequence[Span] = ()) -> tuple[str, list[Entity], list[dict]]:
    """``(new text, shifted entity spans, change records)``.

    Edits must not overlap each other, an entity or a protected span (``ValueError``
    otherwise: a transform that does so is a bug, not bad input). Records are in source
    order with source offsets.
    """
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    guarded = [(a, b) for a, b, _ in entities] + list(protected)
    for prev, cur in zip(ordered, ordered[1:]):
        if cur.start < prev.end or (cur.start == prev.start and cur.end == prev.end):
            raise ValueError(f"overlapping edits {prev} and {cur}")
    pieces, records, at = [], [], 0
    for e in ordered:
        if not 0 <= e.start <= e.end <= len(text):
            raise ValueError(f"edit {e} outside the text (length {len(text)})")
        if overlaps(e.start, e.end, guarded):
            raise ValueError(f"edit {e} touches an entity or protected span")
        pieces += [text[at:e.start], e.new]
        records.append({"start": e.start, "end": e.end, "old": text[e.start:e.end], "new": e.new,
                        "transform": e.transform})
        at = e.end
    pieces.append(text[at:])
    return "".join(pieces), [(_shift(a, ordered), _shift(b, ordered), t) for a, b, t in entities], records


def _shift(pos: int, ordered: Sequence[Edit]) -> int:
    return pos + sum(len(e.new) - (e.end - e.start) for e in ordered if e.end <= pos)


def words(text: str, blocked: Sequence[Span] = ()) -> list[Span]:
    """Spans of the words of ``text`` that touch no ``blocked`` span.

    >>> words("Alice met Bob.", [(0, 5)])
    [(6, 9), (10, 13)]
    """
    return _spans(WORD, text, blocked)


def tokens(text: str, blocked: Sequence[Span] = ()) -> list[Span]:
    """Spans of the words and of the special characters of ``text`` (each a token of its
    own, as nlpaug's tokenizer cuts them) that touch no ``blocked`` span.

    >>> text = "Ask #42, now!"
    >>> [text[a:b] for a, b in tokens(text)]
    ['Ask', '#', '42', ',', 'now', '!']
    """
    return _spans(TOKEN, text, blocked)


def _spans(pattern: re.Pattern, text: str, blocked: Sequence[Span]) -> list[Span]:
    if not blocked:  # the common case: no entity or protected span, no test per token
        return [m.span() for m in pattern.finditer(text)]
    return [m.span() for m in pattern.finditer(text) if not overlaps(m.start(), m.end(), blocked)]


def protected_spans(text: str, patterns: Sequence[re.Pattern]) -> list[Span]:
    """Spans that the recipe's ``protect:`` regexes match (never modified).

    >>> protected_spans("call 555-0101 now", [re.compile(r"\\d{3}-\\d{4}")])
    [(5, 13)]
    """
    return [m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start()]
