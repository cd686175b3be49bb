"""Re-inflect a WordNet lemma to a Penn tag ("automobile", NNS -> "automobiles";
"sprint", VBD -> "sprinted"), so a synonym keeps its word's inflection.

WordNet's morphy goes one way (inflected form -> lemma) with suffix rules plus the
exception lists ``noun.exc``, ``verb.exc`` and ``adj.exc`` (``mice mouse``, ``ran run``,
``running run``, ``bigger big``). The way back here is those lists reversed, then the
regular rules; every form made is checked by running morphy on it, so a form WordNet would
not read back as the lemma is never produced (:func:`inflect` returns None and the caller
skips that synonym). Adjectives get -er/-est only when listed or short (one syllable, or
two ending in -y: "quicker", "happier"); longer ones take "more", which is two words, so
they are skipped. Adverbs are replaced in their base form only.

>>> inflect("automobile", "NNS"), inflect("sprint", "VBD"), inflect("dash", "VBG")
('automobiles', 'sprinted', 'dashing')
>>> inflect("glad", "JJR"), inflect("felicitous", "JJR")
('gladder', None)
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict

from augment.text.wordnet import reader, wordnet_dir

#: Tags whose form is the lemma itself.
BASE_TAGS = frozenset({"NN", "VB", "VBP", "JJ", "RB"})
_SIBILANT = ("s", "x", "z", "ch", "sh")
_VOWELS = "aeiou"


@functools.lru_cache(maxsize=None)
def irregular(pos: str) -> dict[str, tuple[str, ...]]:
    """lemma -> its irregular forms, from ``<pos>.exc`` reversed (``run`` -> ``ran``,
    ``running``)."""
    name = {"n": "noun", "v": "verb", "a": "adj"}[pos]
    forms: dict[str, list[str]] = defaultdict(list)
    with open(wordnet_dir() / f"{name}.exc", encoding="utf-8") as fh:
        for line in fh:
            form, *lemmas = line.split()
            for lemma in lemmas:
                forms[lemma].append(form)
    return {lemma: tuple(fs) for lemma, fs in forms.items()}


def _plural(lemma: str) -> str:
    """The regular -s form (plural noun, third person singular verb)."""
    if lemma.endswith(_SIBILANT):
        return lemma + "es"
    if lemma.endswith("y") and len(lemma) > 1 and lemma[-2] not in _VOWELS:
        return lemma[:-1] + "ies"
    return lemma + "s"


def _past(lemma: str) -> str:
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and len(lemma) > 1 and lemma[-2] not in _VOWELS:
        return lemma[:-1] + "ied"
    return lemma + "ed"


def _gerund(lemma: str) -> str:
    if lemma.endswith("ie"):
        return lemma[:-2] + "ying"
    if lemma.endswith("e") and not lemma.endswith(("ee", "ye", "oe")) and len(lemma) > 2:
        return lemma[:-1] + "ing"
    return lemma + "ing"


def _graded(lemma: str, penn: str) -> str | None:
    """The comparative (JJR) or superlative (JJS) of a short adjective, else None."""
    listed = [f for f in irregular("a").get(lemma, ()) if f.endswith("r" if penn == "JJR" else "st")]
    if listed:
        return listed[0]
    syllables = len(re.findall(r"[aeiouy]+", lemma[:-1] if lemma.endswith("e") else lemma))
    if syllables == 2 and lemma.endswith("y") and lemma[-2] not in _VOWELS:
        return lemma[:-1] + ("ier" if penn == "JJR" else "iest")
    if syllables == 1 and "-" not in lemma:
        stem = lemma[:-1] if lemma.endswith("e") else lemma
        return stem + ("er" if penn == "JJR" else "est")
    return None


def _irregular_verb(lemma: str, penn: str, forms: tuple[str, ...]) -> str | None:
    """The irregular form for ``penn`` among ``forms``; None when the list leaves it
    ambiguous (``lay``/``lain`` is clear, ``came`` as a participle is not)."""
    if penn == "VBG":
        ing = [f for f in forms if f.endswith("ing")]
        return ing[0] if ing else _gerund(lemma)
    if penn == "VBZ":
        # "goes", "echoes": verbs in -o take -es (nouns in -o that do are in noun.exc)
        return lemma + "es" if lemma.endswith("o") else _plural(lemma)
    past = [f for f in forms if not f.endswith("ing") and f != _plural(lemma)]
    if not past:
        # "splitting" listed but no past form: the past is the lemma ("split", "cut")
        if lemma.endswith(("t", "d")) and lemma + lemma[-1] + "ing" in forms:
            return lemma
        return _past(lemma)
    if len(past) == 1:
        # one listed form: "abetted"/"taught" serve both tags; "molten" only as the
        # participle and "ran"/"came" only as the simple past
        form = past[0]
        if form.endswith(("d", "t")):
            return form
        return form if (penn == "VBN") == form.endswith("en") else None
    if len(past) == 2:
        # "ate"/"eaten", "saw"/"seen": the participle is the one in -n
        ends_n = [f for f in past if f.endswith("n")]
        if len(ends_n) == 1:
            other = past[1 - past.index(ends_n[0])]
            return ends_n[0] if penn == "VBN" else other
    return None


def _form(lemma: str, penn: str) -> str | None:
    if penn in BASE_TAGS:
        return lemma
    if penn == "NNS":
        forms = irregular("n").get(lemma)
        return forms[0] if forms else _plural(lemma)
    if penn in ("VBD", "VBN", "VBG", "VBZ"):
        return _irregular_verb(lemma, penn, irregular("v").get(lemma, ()))
    if penn in ("JJR", "JJS"):
        return _graded(lemma, penn)
    return None


@functools.lru_cache(maxsize=65536)
def inflect(lemma: str, penn: str) -> str | None:
    """``lemma`` in the form of Penn tag ``penn``, or None when curaug cannot be sure of
    it (WordNet's morphy must read the form back as ``lemma``)."""
    form = _form(lemma, penn)
    if form is None:
        return None
    if form != lemma:
        pos = {"N": "n", "V": "v", "J": "a"}[penn[0]]
        # every lemma morphy finds, not just its first: "larger" is a lemma of its own
        if lemma not in reader()._morphy(form, pos):
            return None
    return form
