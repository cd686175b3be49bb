"""What keeps a word swap reading as English: the checks ``synonym``, ``contextual`` and
``rare_word`` share.

- Letters and acronyms are not words to swap: WordNet reads "C" as carbon or century and
  "R" as roentgen, never as the language or the variable the writer meant
  (:func:`letter_or_acronym`).
- A word inside one of WordNet's 64k multi-word lemmas ("eat up", "of course", "operating
  system"; also inflected: "eats up", "operating systems") belongs to the phrase: swapped
  alone it breaks the phrase ("corrode up", "of row"); :func:`phrase_spans` finds them and
  the transforms leave them alone.
- A word the tagger calls a noun that WordNet also knows as a verb, right before a
  determiner or an object pronoun ("light this candle", "book them"), is read as the verb
  it is there (:func:`read_as_verb`): the tagger's slips, not nouns to swap.
- The new sentence is tagged again and a swap whose slot changes part of speech is
  refused (:class:`Retagger`): "someone" -> "mortal" reads as an adjective.
- An inflected form made by rule is used only when it is a known word form
  (:func:`known_forms`): in WordNet's exception lists, in WordNet's glosses (the default
  LM's reference corpus), in the tagger's lexicon (Brown corpus and Penn Treebank) or in
  the rows being augmented. "grownest" (from "grown", a synonym of "big") is none of these.

>>> letter_or_acronym("C"), letter_or_acronym("COBOL"), letter_or_acronym("PCs"), letter_or_acronym("Code")
(True, True, True, False)
>>> text = "Of course the operating systems eat up memory."
>>> [text[a:b] for a, b in phrase_spans(text)]
['Of course', 'operating systems', 'eat up']
"""

from __future__ import annotations

import functools
from typing import Any

from augment.text.edits import TOKEN, WORD, Span

_INDEX_FILES = ("noun", "verb", "adj", "adv")
#: Tags after which a word the tagger calls a noun is read as a verb: a determiner, a
#: predeterminer, a possessive or an object pronoun ("light this candle", "eat them").
_OBJECT_TAGS = frozenset({"DT", "PDT", "PRP$"})
_OBJECT_PRONOUNS = frozenset({"me", "him", "us", "them", "it", "her", "you"})


def letter_or_acronym(word: str) -> bool:
    """A single character, or a word with two capitals or more ("IBM", "PCs", "COBOL")."""
    return len(word) == 1 or (not word.islower() and sum(c.isupper() for c in word) >= 2)


@functools.lru_cache(maxsize=None)
def _multiword_lemmas() -> tuple[frozenset[str], frozenset[str], dict[str, int]]:
    """WordNet's multi-word lemmas (``eat_up``), their first two words (``eat_up``,
    ``of_course``, ``hot_dog``: a run whose first two words are none of these is no lemma),
    and the most words a lemma starting with a given word has (``{"eat": 3, ...}``)."""
    from augment.text.wordnet import wordnet_dir

    lemmas: set[str] = set()
    longest: dict[str, int] = {}
    for name in _INDEX_FILES:
        with open(wordnet_dir() / f"index.{name}", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                lemma = line.split(" ", 1)[0]
                if "_" in lemma and not line.startswith("  "):
                    lemma = lemma.lower()
                    lemmas.add(lemma)
                    first, size = lemma.split("_", 1)[0], lemma.count("_") + 1
                    longest[first] = max(longest.get(first, 0), size)
    pairs = frozenset("_".join(lemma.split("_")[:2]) for lemma in lemmas)
    return frozenset(lemmas), pairs, longest


@functools.lru_cache(maxsize=65536)
def _base_forms(word: str) -> tuple[str, ...]:
    """``word`` and every lemma WordNet's morphy finds for it, in any part of speech."""
    from augment.text.wordnet import LOCK, reader

    wn = reader()
    with LOCK:
        found = {lemma for pos in ("n", "v", "a", "r") for lemma in wn._morphy(word, pos)}
    return (word, *sorted(found - {word}))


def phrase_spans(text: str) -> list[Span]:
    """Spans of the runs of words (separated by spaces only) that WordNet lists as one
    lemma, with the first or the last word possibly inflected ("eats up", "hot dogs")."""
    lemmas, pairs, longest = _multiword_lemmas()
    found = [m for m in WORD.finditer(text)]
    bases = [_base_forms(m.group().lower()) for m in found]
    spans = []
    for i in range(len(found) - 1):
        starts = [f for f in bases[i] if f in longest]
        # the second word as written (a middle word) or in its base form (a last word)
        if not any(f"{first}_{second}" in pairs for first in starts for second in bases[i + 1]):
            continue
        size = max(longest[f] for f in starts)
        end = i + 1
        while end < min(len(found), i + size) and not text[found[end - 1].end():found[end].start()].strip():
            end += 1
        for last in range(end - 1, i, -1):  # the longest phrase first
            middle = [b[0] for b in bases[i + 1:last]]
            if any("_".join([first, *middle, tail]) in lemmas for first in starts for tail in bases[last]):
                spans.append((found[i].start(), found[last].end()))
                break
    return spans


def read_as_verb(word: str, penn: str, next_word: str | None, next_penn: str | None) -> bool:
    """True when a word tagged as a noun is a verb WordNet knows and an object follows it
    ("light this candle"): the tagger's reading is not to be trusted there."""
    if not penn.startswith("NN") or next_penn is None:
        return False
    if next_penn not in _OBJECT_TAGS and (next_word or "").lower() not in _OBJECT_PRONOUNS:
        return False
    return _is_verb(word.lower())


@functools.lru_cache(maxsize=65536)
def _is_verb(word: str) -> bool:
    from augment.text.wordnet import LOCK, reader

    with LOCK:
        return bool(reader()._morphy(word, "v"))


def unswappable(text: str, tagged: list[tuple[int, int, str]]) -> set[Span]:
    """The words of ``text`` (``tagged``: :func:`augment.text.tagger.tag`'s spans and Penn
    tags) that no swap may replace: letters and acronyms, the words of a multi-word lemma,
    and nouns :func:`read_as_verb`."""
    in_phrase = {m.span() for a, b in phrase_spans(text) for m in WORD.finditer(text, a, b)}
    out = set()
    for k, (start, end, penn) in enumerate(tagged):
        word = text[start:end]
        after = tagged[k + 1] if k + 1 < len(tagged) else None
        if (start, end) in in_phrase or letter_or_acronym(word) \
                or (after is not None and read_as_verb(word, penn, text[after[0]:after[1]], after[2])):
            out.add((start, end))
    return out


@functools.lru_cache(maxsize=1)
def known_forms() -> frozenset[str]:
    """Word forms curaug knows without the rows (lower case): WordNet's exception lists,
    the words of WordNet's glosses and examples, and the tagger's lexicon. The words of
    the rows being augmented (:func:`corpus_vocabulary`) count too."""
    from augment.text.lm import tokens, wordnet_glosses
    from augment.text.tagger import lexicon
    from augment.text.wordnet import wordnet_dir

    folder = wordnet_dir()
    known: set[str] = set()
    for name in _INDEX_FILES:
        with open(folder / f"{name}.exc", encoding="utf-8", errors="replace") as fh:
            known.update(line.split(" ", 1)[0].lower() for line in fh if line.strip())
    for gloss in wordnet_glosses(folder):
        known.update(tokens(gloss))
    known.update(w.lower() for w in lexicon())
    return frozenset(known)


def corpus_vocabulary(ctx: Any) -> frozenset[str]:
    """The lower-cased words of the rows being augmented (empty without a context)."""
    if ctx is None or getattr(ctx, "rows", None) is None or ctx.rows.empty:
        return frozenset()
    key = "text_vocabulary"
    if key not in ctx.extra:
        from augment.text.transforms import corpus_texts

        ctx.extra[key] = frozenset(m.group().lower() for text in corpus_texts(ctx) for m in WORD.finditer(text))
    return ctx.extra[key]


class Retagger:
    """The tags of a text as swaps are accepted one by one: :meth:`keeps` says whether a new
    word in a slot is tagged with the same WordNet part of speech as the old one was (only
    the slot's sentence is tagged again: :func:`~augment.text.tagger.tag` tags each
    sentence on its own)."""

    def __init__(self, text: str):
        found = list(TOKEN.finditer(text))
        self.tokens = [m.group() for m in found]
        self.at = {m.start(): i for i, m in enumerate(found)}

    def keeps(self, start: int, new: str, pos: str) -> bool:
        """Whether ``new`` in the token starting at ``start`` is still tagged ``pos``."""
        from augment.text.tagger import _parser, sentence_bounds, wordnet_pos

        i = self.at[start]
        lo, hi = sentence_bounds(self.tokens, i)
        trial = [*self.tokens[lo:i], new, *self.tokens[i + 1:hi]]
        return wordnet_pos(_parser().find_tags(trial)[i - lo][1]) == pos

    def accept(self, start: int, new: str) -> None:
        self.tokens[self.at[start]] = new
