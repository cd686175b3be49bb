"""Text transforms by name, and the sample they work on.

A text transform has the albumentations/audiomentations shape (STYLE.md): its parameters
are declared and validated by a pydantic ``InitSchema``; :meth:`TextTransform.draw` picks
this sample's changes from the sample's own ``numpy.random.Generator`` (never the global
RNGs) and returns them as :class:`~augment.text.edits.Edit` s, which
:func:`~augment.text.edits.apply_edits` applies purely. Entity mentions and ``protect:``
matches are never edited: :attr:`TextSample.blocked` lists them for the transform.

Transforms are found by the name a recipe uses in :data:`TEXT_TRANSFORMS`; a third-party
package adds one through the ``curaug.text_transforms`` entry point group::

    [project.entry-points."curaug.text_transforms"]
    emoji = "mypkg.text:EmojiSwap"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from curate.registry import Registry
from curate.strict import Strict

from augment.text.edits import Edit, Entity, Span, tokens, words


@dataclass
class TextSample:
    """One text: its entity mentions (``[start, end, type]``), the spans ``protect:``
    regexes match, and the row it came from (label, id)."""

    text: str
    entities: list[Entity] = field(default_factory=list)
    protected: list[Span] = field(default_factory=list)
    row: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> list[Span]:
        """Spans no transform may touch: entity mentions and protected matches."""
        return [(a, b) for a, b, _ in self.entities] + list(self.protected)

    def words(self) -> list[Span]:
        """Spans of the words a transform may change."""
        return words(self.text, self.blocked)

    def tokens(self) -> list[Span]:
        """Spans of the words and special characters a transform may change."""
        return tokens(self.text, self.blocked)

    def between_entities(self) -> Span | None:
        """The stretch between the first two entity mentions (relation extraction's
        "words between E1 and E2"), or None with fewer than two mentions."""
        if len(self.entities) < 2:
            return None
        (a1, b1, _), (a2, b2, _) = sorted(self.entities)[:2]
        return (b1, a2) if b1 <= a2 else None


class TextTransform:
    """Base of text transforms: set ``name``, declare ``InitSchema``, implement ``draw``."""

    name: ClassVar[str] = ""
    #: True when the transform reads WordNet: the recipe check then finds it (or names the
    #: fix) before any work starts.
    needs_wordnet: ClassVar[bool] = False

    class InitSchema(Strict):
        pass

    def __init__(self, **params: Any):
        self.params = self.InitSchema.model_validate(params)

    def draw(self, sample: TextSample, rng: "Any", ctx: "Any") -> list[Edit]:
        """This sample's edits, drawn from ``rng`` alone (plus read-only ``ctx`` resources)."""
        raise NotImplementedError


#: Text transform name -> class: built-ins, then the ``curaug.text_transforms`` entry points.
TEXT_TRANSFORMS: Registry[type[TextTransform]] = Registry(
    "text transform", entry_points="curaug.text_transforms",
    builtins=("augment.text.noise", "augment.text.synonym", "augment.text.contextual"))


def corpus_texts(ctx: Any) -> list[str]:
    """The texts of the rows being augmented (the training split): their ``text`` column, or
    the files their ``root``/``path`` name when the text is not inline."""
    rows = ctx.rows
    if "text" in rows.columns:
        return [str(t) for t in rows["text"].dropna()]
    from curate.io.manifest import media_file

    return [media_file(r, p).read_text(encoding="utf-8", errors="replace")
            for r, p in zip(rows["root"], rows["path"])]
