"""LM-driven word swaps: ``contextual`` (a conditional swap between entity mentions) and
``rare_word`` (Fadaee et al. 2017).

Both score words in context with :mod:`augment.text.lm` (by default curaug's own
Kneser-Ney trigram model over the rows being augmented plus WordNet's glosses), find
parts of speech with the shared offline tagger (``augment.text.tagger``), and draw only
from the sample's generator.

Inflection: a plural noun is replaced by plural nouns only (the WordNet lemma's regular
plural, kept when the LM corpus contains it) and a singular one by singular nouns; a verb,
adjective or adverb is a target only in its base form (``run``, ``big``), since the
vocabulary is WordNet's lemmas, so ``ran`` or ``bigger`` are left as they are.

English (:mod:`augment.text.fluency`): letters and acronyms, the words of WordNet's
multi-word lemmas ("operating system", "eat up") and "nouns" right before an object
("light this candle") are no slots; single letters are no candidates; and the new
sentence is tagged again: a word whose slot then reads as another part of speech is
refused and another of the ``top_k`` drawn.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

import numpy as np
from pydantic import Field, model_validator

from augment.text.edits import WORD, Edit, Span
from augment.text.fluency import Retagger, letter_or_acronym, unswappable
from augment.text.tagger import PENN_TO_WORDNET
from augment.text.transforms import TEXT_TRANSFORMS, TextSample, TextTransform, corpus_texts

POS = Literal["n", "v", "a", "r"]
_INDEX_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}


def tag(text: str) -> list[tuple[int, int, str | None]]:
    """``(start, end, WordNet POS or None)`` per word, by the shared offline tagger
    (:mod:`augment.text.tagger`). Proper nouns get None: swapping a name for a common noun
    is not a paraphrase."""
    from augment.text.tagger import tag as penn_tags, wordnet_pos

    return [(start, end, wordnet_pos(penn)) for start, end, penn in penn_tags(text)]


@functools.lru_cache(maxsize=None)
def _wordnet_lemmas(pos: str) -> frozenset[str]:
    """WordNet's one-word lemmas of a part of speech (``index.noun``...)."""
    from augment.text.wordnet import wordnet_dir

    with open(wordnet_dir() / f"index.{_INDEX_FILES[pos]}", encoding="utf-8", errors="replace") as fh:
        return frozenset(w for w in (line.split(" ", 1)[0] for line in fh if not line.startswith("  "))
                         if w.isalpha())


@functools.lru_cache(maxsize=None)
def _noun_exceptions() -> dict[str, str]:
    from augment.text.wordnet import wordnet_dir

    with open(wordnet_dir() / "noun.exc", encoding="utf-8", errors="replace") as fh:
        return dict(line.split()[:2] for line in fh if len(line.split()) >= 2)


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _form(word: str, pos: str) -> str | None:
    """The inflection class of ``word`` (lower case) that candidates must share: ``base`` or,
    for nouns, ``plural``; None when it is an inflected form curaug does not produce."""
    from textblob.en import lexicon

    lemmas = _wordnet_lemmas(pos)
    if pos == "n":
        if _noun_exceptions().get(word, word) != word:  # "mice"; "gas gas" says gas is also its own plural
            return "plural"
        # "talks" is a lemma of its own and the plural of "talk": the tagger's lexicon decides
        if (word not in lemmas or lexicon.get(word) == "NNS") and any(
                word.endswith(s) and word[:-len(s)] + r in lemmas for s, r in (("ies", "y"), ("es", ""), ("s", ""))):
            return "plural"
    return "base" if word in lemmas else None


def match_case(model: str, word: str) -> str:
    """``word`` with the capitalisation of ``model`` (``Cars`` -> ``Automobiles``)."""
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@dataclass
class Candidates:
    """Replacement words of one part of speech and form, with their LM ids."""

    words: list[str]
    ids: np.ndarray


class Resources:
    """What the LM transforms share per run: the LM and candidate arrays per (POS, form)."""

    MIN_COUNT = 2      # a candidate the LM saw once has no reliable context statistics
    MAX_CANDIDATES = 5000

    def __init__(self, texts: list[str], lm: Any, corpus: Optional[str]):
        from augment.text.lm import NgramLM, load_lm, ngram_lm

        self.texts = texts
        self.lm = load_lm(lm, texts, corpus)  # first: a missing package fails before any training
        self._is_ngram = isinstance(self.lm, NgramLM)
        self.ngram = self.lm if self._is_ngram else ngram_lm(texts, corpus)  # the vocabulary
        self._candidates: dict[tuple[str, str], Candidates] = {}

    def candidates(self, pos: str, form: str) -> Candidates:
        key = (pos, form)
        if key not in self._candidates:
            from textblob.en import lexicon

            lemmas = sorted(_wordnet_lemmas(pos))
            if form == "plural":
                irregular = [k for k, v in _noun_exceptions().items() if k != v]
                words = sorted({_plural(w) for w in lemmas}.union(irregular))
            else:
                words = lemmas
            # WordNet lists "or", "like", "being" as nouns too; the tagger's lexicon knows
            # their usual part of speech, and a swap should not turn a noun into a conjunction
            # "talks" is a WordNet lemma but reads as a plural: the lexicon's tag decides the form
            usual = {("n", "base"): "NN", ("n", "plural"): "NNS"}.get(key)
            words = [w for w in words if len(w) > 1 and (w not in lexicon
                     or (lexicon[w] == usual if usual else PENN_TO_WORDNET.get(lexicon[w]) == pos))]
            counts = np.array([self.ngram.count(w) for w in words], dtype=np.float64)
            keep = np.flatnonzero(counts >= self.MIN_COUNT)
            keep = keep[np.argsort(-counts[keep], kind="stable")[:self.MAX_CANDIDATES]]
            ids = self.ngram.ids([words[i] for i in keep])
            order = np.argsort(ids)  # increasing ids make the LM's count look-ups sequential
            self._candidates[key] = Candidates([words[keep[i]] for i in order], ids[order])
        return self._candidates[key]

    def score(self, left: list[str], cands: Candidates, right: list[str]) -> np.ndarray:
        return self.lm.score(left, cands.ids if self._is_ngram else cands.words, right)


def resources(ctx: Any, lm: Any, corpus: Optional[str]) -> Resources:
    """The run's :class:`Resources`, built once per context and LM choice."""
    key = ("text_lm", repr(lm), corpus)
    if key not in ctx.extra:
        ctx.extra[key] = Resources(corpus_texts(ctx), lm, corpus)
    return ctx.extra[key]


def _inside(span: Span, region: Span | None) -> bool:
    return region is None or (region[0] <= span[0] and span[1] <= region[1])


def _slots(sample: TextSample, pos: list[str], region: Span | None) -> list[tuple[int, int, str, str]]:
    """``(start, end, pos, form)`` of the words a swap may replace."""
    from augment.text.tagger import tag as penn_tags, wordnet_pos

    text = sample.text
    tagged = penn_tags(text)
    free = set(sample.words()) - unswappable(text, tagged)
    out = []
    for start, end, penn in tagged:
        p = wordnet_pos(penn)
        if p in pos and (start, end) in free and _inside((start, end), region):
            form = _form(text[start:end].lower(), p)
            if form is not None:
                out.append((start, end, p, form))
    return out


def _context(sample: TextSample, start: int, end: int) -> tuple[list[str], list[str]]:
    """The lower-cased words before and after ``[start, end)`` (entities included: they are
    context even though they are never changed)."""
    left = [m.group().lower() for m in WORD.finditer(sample.text, 0, start)][-2:]
    right = [m.group().lower() for m in WORD.finditer(sample.text, end)][:2]
    return left, right


class _LMParams(TextTransform.InitSchema):
    lm: Union[Literal["ngram"], dict[Literal["path"], str]] = "ngram"
    corpus: Optional[str] = None  # a text file (one sentence a line) instead of WordNet's glosses


@TEXT_TRANSFORMS.register("contextual")
class ContextualSwap(TextTransform):
    """Replace words of the chosen parts of speech by words the LM ranks highly in context.

    With two or more entity mentions only the words between the first two change (the
    relation-extraction recipe: the relation's wording varies, the arguments and label do
    not). Per target, every candidate of the same part of speech and form is scored in one
    batch; one of the ``top_k`` best (never the word itself) is drawn from the sample's
    generator. ``aug_p`` of the targets change, at least ``aug_min``, at most ``aug_max``.
    """

    name = "contextual"
    needs_wordnet = True

    class InitSchema(_LMParams):
        aug_p: float = Field(0.3, ge=0, le=1)
        aug_min: int = Field(1, ge=0)
        aug_max: int = Field(10, ge=0)
        top_k: int = Field(20, ge=1)
        pos: list[POS] = Field(default_factory=lambda: ["n"], min_length=1)

        @model_validator(mode="after")
        def _min_below_max(self):
            if self.aug_min > self.aug_max:
                raise ValueError(f"aug_min={self.aug_min} cannot be greater than aug_max={self.aug_max}")
            return self

    def draw(self, sample: TextSample, rng: np.random.Generator, ctx: Any) -> list[Edit]:
        p = self.params
        region = sample.between_entities()
        if len(sample.entities) >= 2 and region is None:  # overlapping mentions: nothing lies between
            return []
        slots = _slots(sample, p.pos, region)
        n = min(len(slots), max(p.aug_min, min(p.aug_max, math.ceil(p.aug_p * len(slots)))))
        if n == 0:
            return []
        res = resources(ctx, p.lm, p.corpus)
        retag = Retagger(sample.text)
        edits = []
        for i in np.sort(rng.choice(len(slots), size=n, replace=False)):
            start, end, pos, form = slots[i]
            cands = res.candidates(pos, form)
            old = sample.text[start:end]
            left, right = _context(sample, start, end)
            scores = res.score(left, cands, right)
            scores[cands.ids == res.ngram.ids([old])[0]] = -np.inf  # never the word itself
            k = min(p.top_k, int(np.isfinite(scores).sum()))
            if k == 0:
                continue
            top = np.argpartition(-scores, k - 1)[:k]
            best = list(top[np.lexsort((top, -scores[top]))])  # ties in id order: a draw depends on the seed alone
            while best:
                new = match_case(old, cands.words[best.pop(int(rng.integers(len(best))))])
                if retag.keeps(start, new, pos):
                    retag.accept(start, new)
                    edits.append(Edit(start, end, new, self.name))
                    break
        return edits


@TEXT_TRANSFORMS.register("rare_word")
class RareWordSubstitution(TextTransform):
    """Place a word that is rare in the training texts into this sample (Fadaee et al. 2017,
    "Data augmentation for low-resource neural machine translation").

    Rare words are words seen at most ``max_count`` times in the rows being augmented; one
    is drawn from the sample's generator, and put in the host sentence's slot of the same
    part of speech and form where the LM likes it best compared with the word already
    there. The host keeps its label and entity mentions (blocked spans never change).

    When it is right: the rare word does not decide the label (topic or intent
    classification, NER and relation extraction outside the mentions, translation with the
    aligned target word substituted alike), and the goal is to give the model more contexts
    for words it has barely seen. When it is not: the rare word carries the label
    (sentiment words, a class's keywords, negations): the new sentence keeps the host's label
    while its meaning may now belong to another class, which teaches the model noise.
    """

    name = "rare_word"
    needs_wordnet = True

    class InitSchema(_LMParams):
        max_count: int = Field(2, ge=1)
        pos: list[POS] = Field(default_factory=lambda: ["n"], min_length=1)

    def draw(self, sample: TextSample, rng: np.random.Generator, ctx: Any) -> list[Edit]:
        p = self.params
        slots = _slots(sample, p.pos, None)
        if not slots:
            return []
        res = resources(ctx, p.lm, p.corpus)
        rare = _rare_words(ctx, p.max_count, tuple(p.pos))
        host_words = {sample.text[a:b].lower() for a, b, *_ in slots}
        kinds = {(pos, form) for *_, pos, form in slots}
        pool = [(w, pos, form) for w, pos, form in rare if (pos, form) in kinds and w not in host_words]
        if not pool:
            return []
        word, pos, form = pool[rng.integers(len(pool))]
        placed = Candidates([word], res.ngram.ids([word]))
        gains = []
        for start, end, p_, f_ in slots:
            if (p_, f_) != (pos, form):
                gains.append(-np.inf)
                continue
            left, right = _context(sample, start, end)
            here = Candidates([sample.text[start:end].lower()], res.ngram.ids([sample.text[start:end].lower()]))
            gains.append(float(res.score(left, placed, right)[0] - res.score(left, here, right)[0]))
        retag = Retagger(sample.text)
        for i in np.argsort(-np.asarray(gains), kind="stable"):
            start, end, slot_pos, _ = slots[i]
            new = match_case(sample.text[start:end], word)
            if np.isfinite(gains[i]) and retag.keeps(start, new, slot_pos):
                return [Edit(start, end, new, self.name)]
        return []


def _rare_words(ctx: Any, max_count: int, pos: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """``(word, pos, form)`` of the words seen at most ``max_count`` times in the rows being
    augmented, tagged in their own sentences; sorted, so a draw depends on the seed alone."""
    key = ("text_rare", max_count, pos)
    if key not in ctx.extra:
        texts = corpus_texts(ctx)
        counts: dict[str, int] = {}
        for text in texts:
            for m in WORD.finditer(text):
                w = m.group().lower()
                counts[w] = counts.get(w, 0) + 1
        found: dict[str, tuple[str, str]] = {}
        for text in texts:
            for start, end, p in tag(text):
                w = text[start:end].lower()
                if p in pos and w.isalpha() and len(w) > 2 and counts.get(w, 0) <= max_count and w not in found \
                        and not letter_or_acronym(text[start:end]):
                    form = _form(w, p)
                    if form is not None:
                        found[w] = (p, form)
        ctx.extra[key] = sorted((w, p, f) for w, (p, f) in found.items())
    return ctx.extra[key]

