"""``synonym``: replace words by WordNet synonyms of the same part of speech and the same
inflection ("cars" -> "automobiles", "ran" -> "sprinted"), offline.

Parameters follow nlpaug's ``SynonymAug``: ``aug_p`` of the words (at least ``aug_min``,
at most ``aug_max``) are replaced, never a stopword, an entity mention or a ``protect:``
match; ``pos`` picks the WordNet parts of speech to replace (n, v, a, r).

How a word is replaced: textblob's pattern tagger gives its Penn tag
(:mod:`augment.text.tagger`), WordNet's morphy its lemma, every synset of that lemma and
part of speech gives candidate lemmas, and :func:`augment.text.inflect.inflect` puts each
in the word's form; capitalisation follows the word ("Cars" -> "Automobiles"). Candidates
are single words (hyphenated ones included): WordNet's multiword lemmas ("motor_car") are
left out, so one word always becomes one word and the words around it keep their tags.
Proper nouns and graded adverbs are never replaced, nor graded adjectives that would
need "more" ("more felicitous" is two words). No word sense
disambiguation: like nlpaug, every sense of the lemma contributes.

What keeps the new sentence English (:mod:`augment.text.fluency`): letters and acronyms
("C", "COBOL") and the words of WordNet's multi-word lemmas ("eat up", "of course") are
left alone, and so is a "noun" right before an object ("light this candle": a verb); an
inflected synonym is used only when it is a known word form ("grownest" is not); the new
sentence is tagged again, and a synonym whose slot is then tagged with another part of
speech is refused ("someone" -> "mortal") and another one drawn.

>>> from augment.text.edits import apply_edits
>>> import numpy as np
>>> sample = TextSample("Alice drove the cars home.", entities=[(0, 5, "PER")])
>>> edits = Synonym(aug_p=1.0).draw(sample, np.random.default_rng(0), None)
>>> [sample.text[e.start:e.end] for e in edits]
['drove', 'cars', 'home']
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from augment.text.edits import Edit, words
from augment.text.fluency import Retagger, corpus_vocabulary, known_forms, unswappable
from augment.text.inflect import BASE_TAGS, inflect
from augment.text.tagger import tag, wordnet_pos
from augment.text.transforms import TEXT_TRANSFORMS, TextSample, TextTransform
from augment.text.wordnet import LOCK, reader

#: English function words (NLTK's English list, with the contractions' halves), never replaced.
ENGLISH_STOPWORDS = tuple("""
a about above after again against ain all am an and any are aren aren't as at be because
been before being below between both but by can couldn couldn't d did didn didn't do does
doesn doesn't doing don don't down during each few for from further had hadn hadn't has
hasn hasn't have haven haven't having he he'd he'll he's her here hers herself him himself
his how i i'd i'll i'm i've if in into is isn isn't it it'd it'll it's its itself just ll
m ma me mightn mightn't more most mustn mustn't my myself needn needn't no nor not now o
of off on once only or other our ours ourselves out over own re s same shan shan't she
she'd she'll she's should should've shouldn shouldn't so some such t than that that'll the
their theirs them themselves then there these they they'd they'll they're they've this
those through to too under until up ve very was wasn wasn't we we'd we'll we're we've were
weren weren't what when where which while who whom why will with won won't wouldn
wouldn't y you you'd you'll you're you've your yours yourself yourselves
""".split())

PartOfSpeech = Literal["n", "v", "a", "r"]


@TEXT_TRANSFORMS.register("synonym")
class Synonym(TextTransform):
    """Replace words by WordNet synonyms of the same part of speech and inflection."""

    needs_wordnet = True

    name: ClassVar[str] = "synonym"

    class InitSchema(TextTransform.InitSchema):
        aug_p: float = Field(0.3, ge=0, le=1, description="share of the words to replace")
        aug_min: int = Field(1, ge=0, description="replace at least this many (when possible)")
        aug_max: int = Field(10, ge=1, description="replace at most this many")
        stopwords: tuple[str, ...] = Field(ENGLISH_STOPWORDS, description="never replaced (case-blind)")
        pos: tuple[PartOfSpeech, ...] = Field(("n", "v", "a", "r"), min_length=1,
                                               description="WordNet parts of speech to replace")

        @model_validator(mode="after")
        def _min_below_max(self):
            if self.aug_min > self.aug_max:
                raise ValueError(f"aug_min={self.aug_min} cannot be greater than aug_max={self.aug_max}")
            return self

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._stop = frozenset(w.lower() for w in self.params.stopwords)

    def draw(self, sample: TextSample, rng: Any, ctx: Any) -> list[Edit]:
        """Pick ``ceil(aug_p * words)`` (clamped to ``[aug_min, aug_max]``) replaceable
        words and one synonym for each, from ``rng`` alone."""
        p = self.params
        text = sample.text
        free = set(words(text, sample.blocked))
        vocabulary, known = corpus_vocabulary(ctx), known_forms()
        tagged = tag(text)
        swappable = free - unswappable(text, tagged)  # "a" is no word to swap, but an article to fix
        candidates = []
        for a, b, penn in tagged:
            word = text[a:b]
            pos = wordnet_pos(penn)
            if (a, b) not in swappable or word.lower() in self._stop or pos not in p.pos:
                continue
            options = synonyms(word.lower(), penn)
            if penn not in BASE_TAGS:
                options = tuple(o for o in options if o in known or o in vocabulary)
            if options:
                candidates.append((a, b, pos, options))
        count = min(len(candidates), max(p.aug_min, min(p.aug_max, math.ceil(p.aug_p * len(words(text))))))
        if count == 0:
            return []
        picked = sorted(rng.choice(len(candidates), size=count, replace=False))
        retag = Retagger(text)
        edits = []
        for i in picked:
            a, b, pos, options = candidates[i]
            left = list(options)
            while left:
                new = match_case(text[a:b], left.pop(int(rng.integers(len(left)))))
                if retag.keeps(a, new, pos):
                    break
            else:
                continue  # every synonym reads as another part of speech here
            retag.accept(a, new)
            article = _article_before(text, a, new, free)
            if article:
                retag.accept(article.start, article.new)
                edits.append(article)
            edits.append(Edit(a, b, new, self.name))
        return edits


@functools.lru_cache(maxsize=65536)
def synonyms(word: str, penn: str) -> tuple[str, ...]:
    """WordNet synonyms of lower-case ``word`` (tagged ``penn``) in the word's own form,
    in WordNet's order (senses by frequency, then lemmas), without repeats."""
    pos = wordnet_pos(penn)
    if pos is None:
        return ()
    wn = reader()
    lemmas = wn._morphy(word, pos)  # every reading, not just morphy's first
    others = [lemma for lemma in lemmas if lemma != word]
    if penn in ("JJR", "JJS") or (penn not in BASE_TAGS and others):
        # an inflected word's lemma is the other reading: "saw"/VBD is "see", not "saw";
        # "larger" and "better" are lemmas too, but graded ones stand for "large", "good"
        lemmas = others
    lemma = lemmas[0] if lemmas else None
    # a base tag on an inflected word ("cars"/NN) is a tagging slip: its form is unknown
    if lemma is None or (penn in BASE_TAGS and lemma != word):
        return ()
    found: dict[str, None] = {}
    with LOCK:
        senses = wn.synsets(lemma, pos)
    for synset in senses:
        for name in synset.lemma_names():
            # single words only, no proper names ("Ford") for a common word, no digits
            # ("seven" has "7" among its lemmas: only letters read as words)
            if "_" in name or name == lemma or name != name.lower() or not name.replace("-", "").isalpha():
                continue
            form = inflect(name, penn)
            # a noun in -ing ("locating") stands for a verb: its plural never reads right
            if penn == "NNS" and name.endswith("ing"):
                continue
            if form and form != word:
                found[form] = None
    return tuple(found)


_ARTICLE = re.compile(r"\b(an?)\s+$", re.IGNORECASE)


def _article_before(text: str, start: int, new: str, free: set) -> Edit | None:
    """The edit turning "a" into "an" (or back) before a replaced word, so "an adequate"
    becomes "a decent", not "an decent"; None when nothing changes. Only an article that
    agreed with the old word by spelling is touched ("an hour" is left to the writer)."""
    m = _ARTICLE.search(text, 0, start)
    # the tagger tags "a"/"an" DT, so an article is never a replaced word itself
    if not m or m.span(1) not in free:
        return None
    article = m.group(1)
    if (article.lower() == "an") != _vowel(text[start]):
        return None
    want = "an" if _vowel(new[0]) else "a"
    if article.lower() == want:
        return None
    return Edit(m.start(1), m.end(1), match_case(article, want), Synonym.name)


def _vowel(char: str) -> bool:
    return char.lower() in "aeiou"


def match_case(word: str, new: str) -> str:
    """``new`` capitalised like ``word`` ("CARS" -> "AUTOS", "Cars" -> "Autos").

    >>> match_case("CARS", "autos"), match_case("Cars", "autos"), match_case("cars", "autos")
    ('AUTOS', 'Autos', 'autos')
    """
    if len(word) > 1 and word.isupper():
        return new.upper()
    if word[:1].isupper():
        return new[:1].upper() + new[1:]
    return new
