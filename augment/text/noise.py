"""Noise: typos a keyboard or an OCR engine makes, random character and word edits.

The parameters are nlpaug's (``nlpaug/augmenter/char/*.py``, ``augmenter/word/random.py``),
with its defaults: ``aug_word_p`` of the tokens (at least ``aug_word_min``, at most
``aug_word_max``) are changed, and in each ``aug_char_p`` of its characters (between
``aug_char_min`` and ``aug_char_max``); tokens shorter than ``min_char`` and ``stopwords``
are left alone. A token is a word or, with ``include_special_char`` (nlpaug's default,
True), also each special character ("#", "!"), as nlpaug's tokenizer cuts them; without
it only words change. The keyboard and OCR tables are nlpaug's own files
(``res/char/``). Unlike nlpaug, every draw comes from the sample's
``numpy.random.Generator`` (nlpaug draws from the global ``random`` module), only
:meth:`TextSample.tokens` are edited, so entity mentions and ``protect:`` matches never
change, and no edit empties a token or a text: ``char_noise``'s delete keeps a
token's last character, ``word_noise``'s delete and crop keep at least one word (nlpaug
keeps a one-word text, its issue #76, but crops every word when ``aug_p`` asks it to).
"""

from __future__ import annotations

import functools
import json
import math
import string
from typing import Literal, Optional

import numpy as np
from pydantic import Field

from augment.params import choices, number
from augment.text.edits import WORD, Edit, Span
from augment.text.transforms import TEXT_TRANSFORMS, TextSample, TextTransform

# parameter types are module-level values, as in augment/image/own.py: a call inside an
# annotation would be read as a forward reference under `from __future__ import annotations`
Probability = number(ge=0, le=1)
CharAction = choices("insert", "substitute", "swap", "delete")
WordAction = choices("swap", "delete", "crop", "substitute")
Count = Optional[int]


def _count(size: int, p: float, low: int | None, high: int | None) -> int:
    """How many of ``size`` items to change: nlpaug's ``_generate_aug_cnt`` (``ceil(p *
    size)`` raised to ``low``, cut to ``high``), never more than there are."""
    if size == 0:
        return 0
    n = int(math.ceil(p * size))
    if low and n < low:
        n = low
    if high and n > high:
        n = high
    return min(n, size)


def _pick(rng: np.random.Generator, items: list, n: int) -> list:
    """``n`` of ``items`` without replacement, in their order: the ``n`` with the smallest
    random keys (one call to the generator; ``Generator.choice`` costs ten times more on
    the few words of a sentence)."""
    if n <= 0 or not items:
        return []
    if n >= len(items):
        return list(items)
    keys = rng.random(len(items)).tolist()
    return [items[i] for i in sorted(sorted(range(len(items)), key=keys.__getitem__)[:n])]


class WordSelection(TextTransform):
    """Which words a character-level transform edits (nlpaug's word-level parameters)."""

    class InitSchema(TextTransform.InitSchema):
        aug_char_p: Probability = 0.3
        aug_char_min: Count = Field(1, ge=0)
        aug_char_max: Count = Field(10, ge=0)
        aug_word_p: Probability = 0.3
        aug_word_min: Count = Field(1, ge=0)
        aug_word_max: Count = Field(10, ge=0)
        min_char: int = Field(4, ge=1)
        stopwords: list[str] = Field(default_factory=list)
        include_special_char: bool = True

    def draw(self, sample: TextSample, rng: np.random.Generator, ctx: object = None) -> list[Edit]:
        p = self.params
        spans = sample.tokens() if p.include_special_char else sample.words()
        stop = {w.lower() for w in p.stopwords}
        text = sample.text
        eligible = [s for s in spans if s[1] - s[0] >= p.min_char and text[s[0]:s[1]].lower() not in stop
                    and self.editable(text[s[0]:s[1]])]
        chosen = _pick(rng, eligible, _count(len(spans), p.aug_word_p, p.aug_word_min, p.aug_word_max))
        edits = []
        for a, b in chosen:
            new = self.edit_word(text[a:b], rng)
            if new != text[a:b]:
                edits.append(Edit(a, b, new, self.name))
        return edits

    def char_count(self, size: int) -> int:
        p = self.params
        return _count(size, p.aug_char_p, p.aug_char_min, p.aug_char_max)

    def editable(self, word: str) -> bool:
        return True

    def edit_word(self, word: str, rng: np.random.Generator) -> str:
        raise NotImplementedError


class TableSubstitution(WordSelection):
    """Characters replaced by one of their neighbours in a table (keyboard, OCR)."""

    def table(self) -> dict[str, list[str]]:
        raise NotImplementedError

    @functools.cached_property
    def _table(self) -> dict[str, list[str]]:
        return self.table()

    def editable(self, word: str) -> bool:
        table = self._table
        return any(c in table for c in word)

    def edit_word(self, word: str, rng: np.random.Generator) -> str:
        table = self._table
        positions = [i for i, c in enumerate(word) if c in table]
        chars = list(word)
        picked = _pick(rng, positions, self.char_count(len(word)))
        for i, u in zip(picked, rng.random(len(picked)).tolist()):
            options = table[chars[i]]
            chars[i] = options[int(u * len(options))]
        return "".join(chars)


def _nlpaug_res(*parts: str) -> dict[str, list[str]]:
    """One of nlpaug's character tables, read from its package data (not importing nlpaug)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("nlpaug")
    if spec is None or not spec.submodule_search_locations:
        from curate.errors import CuraugError

        raise CuraugError("the keyboard and ocr transforms read nlpaug's tables: pip install nlpaug")
    path = Path(list(spec.submodule_search_locations)[0], "res", "char", *parts)
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def keyboard_table(special_char: bool = True, numeric: bool = True, upper_case: bool = True,
                   lang: str = "en") -> dict[str, list[str]]:
    """QWERTY neighbours as nlpaug's ``model/char/keyboard.py`` builds them from its table."""
    def allowed(c: str) -> bool:
        return (numeric or not c.isdigit()) and (special_char or c.isalnum())

    result: dict[str, set[str]] = {}
    for key, values in _nlpaug_res("keyboard", f"{lang}.json").items():
        if not allowed(key):
            continue
        for k in {key, key.upper()} if upper_case else {key}:
            result.setdefault(k, set())
        for value in values:
            # one key per key: nlpaug's en.json lists ' t' among u's neighbours, a typo
            if len(value) != 1 or not allowed(value):
                continue
            result[key].add(value)
            if upper_case:
                result[key].add(value.upper())
                result[key.upper()] |= {value, value.upper()}
    return {k: sorted(v - {k}) for k, v in result.items() if v - {k}}


@functools.lru_cache(maxsize=None)
def ocr_table() -> dict[str, list[str]]:
    """nlpaug's OCR confusions, both ways (``model/char/ocr.py``: "0" <-> "o" ...)."""
    result: dict[str, list[str]] = {}
    mapping = _nlpaug_res("ocr", "en.json")
    for key, values in mapping.items():
        result.setdefault(key, [])
        result[key] += [v for v in values if v not in result[key]]
    for key, values in mapping.items():
        for v in values:
            result.setdefault(v, [])
            if key not in result[v]:
                result[v].append(key)
    return result


@TEXT_TRANSFORMS.register("keyboard")
class Keyboard(TableSubstitution):
    """A key replaced by a neighbour on a QWERTY keyboard (nlpaug's ``KeyboardAug``)."""

    name = "keyboard"

    class InitSchema(WordSelection.InitSchema):
        include_numeric: bool = True
        include_upper_case: bool = True
        lang: Literal["en", "de", "es", "fr", "he", "it", "nl", "pl", "th", "tr", "uk"] = "en"

    def table(self) -> dict[str, list[str]]:
        p = self.params
        return keyboard_table(p.include_special_char, p.include_numeric, p.include_upper_case, p.lang)


@TEXT_TRANSFORMS.register("ocr")
class Ocr(TableSubstitution):
    """A character an OCR engine confuses ("0" for "o", "l" for "1"; nlpaug's ``OcrAug``)."""

    name = "ocr"

    class InitSchema(WordSelection.InitSchema):
        aug_char_min: Count = Field(2, ge=0)
        min_char: int = Field(1, ge=1)

    def table(self) -> dict[str, list[str]]:
        return ocr_table()


@TEXT_TRANSFORMS.register("char_noise")
class CharNoise(WordSelection):
    """Random characters inserted, substituted, swapped or deleted (nlpaug's ``RandomCharAug``)."""

    name = "char_noise"

    class InitSchema(WordSelection.InitSchema):
        action: CharAction = "substitute"
        include_upper_case: bool = True
        include_lower_case: bool = True
        include_numeric: bool = True
        spec_char: str = "!@#$%^&*()_+"
        swap_mode: Literal["adjacent", "middle", "random"] = "adjacent"
        candidates: Optional[list[str]] = Field(None, min_length=1)

    def __init__(self, **params):
        super().__init__(**params)
        p = self.params
        self.pool = p.candidates or [
            *(string.ascii_uppercase if p.include_upper_case else ""),
            *(string.ascii_lowercase if p.include_lower_case else ""),
            *(string.digits if p.include_numeric else ""), *p.spec_char]

    def editable(self, word: str) -> bool:
        # an insertion or substitution needs characters to draw from; a swap needs two, and
        # a deletion too: it never empties a token ("#" alone stays)
        return bool(self.pool) if self.params.action in ("insert", "substitute") else len(word) > 1

    def edit_word(self, word: str, rng: np.random.Generator) -> str:
        chars = list(word)
        action = self.params.action
        picked = _pick(rng, list(range(len(chars))), self.char_count(len(chars)))
        pool = self.pool
        if action == "insert":
            for i, u in zip(reversed(picked), rng.random(len(picked)).tolist()):
                chars.insert(i, pool[int(u * len(pool))])
        elif action == "substitute":
            for i, u in zip(picked, rng.random(len(picked)).tolist()):
                chars[i] = pool[int(u * len(pool))]
        elif action == "delete":
            if len(picked) >= len(chars):  # never delete a whole token: word_noise deletes words
                picked = picked[:-1]
            chars = [c for i, c in enumerate(chars) if i not in set(picked)]
        else:
            for i in picked:
                j = self._swap_position(i, len(chars) - 1, rng)
                chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)

    def _swap_position(self, pos: int, last: int, rng: np.random.Generator) -> int:
        """nlpaug's ``_get_swap_position``: a neighbour, a middle character or any other."""
        mode = self.params.swap_mode
        if mode == "adjacent":
            return pos + 1 if pos == 0 else pos - 1 if pos == last else pos + (1 if rng.random() < 0.5 else -1)
        options = [i for i in range(last + 1) if i != pos and (mode == "random" or i not in (0, last))]
        return options[int(rng.integers(len(options)))] if options else pos


@TEXT_TRANSFORMS.register("word_noise")
class WordNoise(TextTransform):
    """Whole words swapped with their neighbour, deleted, a run of them cropped out, or
    replaced by one of ``target_words`` (nlpaug's ``RandomWordAug``, whose default target
    is ``_``)."""

    name = "word_noise"

    class InitSchema(TextTransform.InitSchema):
        action: WordAction = "delete"
        aug_p: Probability = 0.3
        aug_min: Count = Field(1, ge=0)
        aug_max: Count = Field(10, ge=0)
        stopwords: list[str] = Field(default_factory=list)
        target_words: list[str] = Field(default_factory=lambda: ["_"], min_length=1)

    def draw(self, sample: TextSample, rng: np.random.Generator, ctx: object = None) -> list[Edit]:
        p, text = self.params, sample.text
        stop = {w.lower() for w in p.stopwords}
        spans = [s for s in sample.words() if text[s[0]:s[1]].lower() not in stop]
        n = _count(len(spans), p.aug_p, p.aug_min, p.aug_max)
        if p.action == "swap":
            return self._swap(text, spans, n, rng)
        if p.action == "substitute":
            picked = _pick(rng, spans, n)
            targets = [p.target_words[int(u * len(p.target_words))] for u in rng.random(len(picked)).tolist()]
            return [Edit(a, b, new, self.name) for (a, b), new in zip(picked, targets) if new != text[a:b]]
        # deletions leave a word of the text standing: an empty text is no sample
        n = min(n, sum(1 for _ in WORD.finditer(text)) - 1)
        if p.action == "delete":
            runs: list[list[int]] = []
            for a, b in _pick(rng, spans, n):
                # neighbours go as one run ("cat sat"), so the spaces between them go once
                if runs and not text[runs[-1][1]:a].strip(" "):
                    runs[-1][1] = b
                else:
                    runs.append([a, b])
            return [Edit(a, b, "", self.name) for a, b in (self._with_space(text, (a, b)) for a, b in runs)
                    if not self._blocked(sample, a, b)]
        return self._crop(sample, spans, n, rng)

    def _swap(self, text: str, spans: list[Span], n: int, rng: np.random.Generator) -> list[Edit]:
        """Each drawn word trades places with the next one; a word moves once at most."""
        edits, used = [], set()
        for i in sorted(int(i) for i in rng.permutation(max(len(spans) - 1, 0))[:n]):
            if i in used or i + 1 in used or text[spans[i][0]:spans[i][1]] == text[spans[i + 1][0]:spans[i + 1][1]]:
                continue
            used |= {i, i + 1}
            (a1, b1), (a2, b2) = spans[i], spans[i + 1]
            edits += [Edit(a1, b1, text[a2:b2], self.name), Edit(a2, b2, text[a1:b1], self.name)]
        return edits

    def _crop(self, sample: TextSample, spans: list[Span], n: int, rng: np.random.Generator) -> list[Edit]:
        """One run of ``n`` consecutive words cut out; a run that would cut through an entity
        or a protected span is not drawn."""
        for size in range(n, 0, -1):
            starts = [int(k) for k in rng.permutation(len(spans) - size + 1)]
            for k in starts:
                a, b = self._with_space(sample.text, (spans[k][0], spans[k + size - 1][1]))
                if not self._blocked(sample, a, b):
                    return [Edit(a, b, "", self.name)]
        return []

    @staticmethod
    def _with_space(text: str, span: Span) -> Span:
        """A deleted word takes the spaces after it (before it when it ends the text)."""
        a, b = span
        end = b
        while end < len(text) and text[end] == " ":
            end += 1
        if end > b:
            return a, end
        while a > 0 and text[a - 1] == " ":
            a -= 1
        return a, b

    @staticmethod
    def _blocked(sample: TextSample, a: int, b: int) -> bool:
        from augment.text.edits import overlaps

        return overlaps(a, b, sample.blocked)
