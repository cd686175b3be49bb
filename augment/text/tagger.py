"""Part-of-speech tags offline: textblob's pattern tagger (MIT) over curaug's own words.

The tagger's lexicon ships inside the textblob wheel, so nothing is downloaded; its
``TextBlob(...).tags`` path would want NLTK's punkt data, so curaug calls the pattern
parser's ``find_tags`` on tokens it cuts itself: the words of
:data:`augment.text.edits.WORD` and each punctuation mark (punctuation helps the tagger's
context rules, and only words get a tag back). Each sentence (up to a ".", "!" or "?") is
tagged on its own, as pattern's own parser does: its first word is looked up in lower
case too ("See" is the verb "see"), and a sentence's tags never depend on another's.

>>> [(text[a:b], t) for text in ["The cars ran fast."] for a, b, t in tag(text)]
[('The', 'DT'), ('cars', 'NNS'), ('ran', 'VBD'), ('fast', 'RB')]
"""

from __future__ import annotations

import functools

from augment.text.edits import TOKEN, WORD

#: Penn Treebank tag -> WordNet part of speech (n, v, a, r). Proper nouns (NNP*) and
#: graded adverbs (RBR, RBS: "faster", "most") map to none: a WordNet synonym would not
#: keep a name a name, and graded adverbs are few and mostly function words.
PENN_TO_WORDNET = {"NN": "n", "NNS": "n", "VB": "v", "VBD": "v", "VBG": "v", "VBN": "v",
                   "VBP": "v", "VBZ": "v", "JJ": "a", "JJR": "a", "JJS": "a", "RB": "r"}


@functools.lru_cache(maxsize=1)
def _parser():
    from augment.seeds import global_rngs_kept

    with global_rngs_kept():  # textblob's lexicon loading draws from Python's global RNG
        from textblob.en import parser

        parser.find_tags(["warm", "up"])  # loads the lexicon now, under the guard
    return parser


def lexicon() -> dict[str, str]:
    """The tagger's lexicon: word form -> its most frequent Penn tag (Brown corpus, Penn
    Treebank), loaded without touching the global RNGs."""
    return _parser().lexicon


#: Tokens that end a sentence.
SENTENCE_ENDS = frozenset(".!?")


def sentence_bounds(tokens: list[str], i: int) -> tuple[int, int]:
    """``(lo, hi)``: the sentence of token ``i`` is ``tokens[lo:hi]`` (its end mark included)."""
    lo = i
    while lo > 0 and tokens[lo - 1] not in SENTENCE_ENDS:
        lo -= 1
    hi = i
    while hi < len(tokens) and tokens[hi] not in SENTENCE_ENDS:
        hi += 1
    return lo, min(hi + 1, len(tokens))


def tag_tokens(tokens: list[str]) -> list[str]:
    """The Penn tag of each token (punctuation included), sentence by sentence."""
    parser = _parser()
    tags: list[str] = []
    while len(tags) < len(tokens):
        _, hi = sentence_bounds(tokens, len(tags))
        tags += [t for _, t in parser.find_tags(tokens[len(tags):hi])]
    return tags


def tag(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, Penn tag)`` for each word of ``text`` (punctuation left out)."""
    tokens = [m for m in TOKEN.finditer(text)]
    tags = tag_tokens([m.group() for m in tokens])
    return [(m.start(), m.end(), t) for m, t in zip(tokens, tags) if WORD.fullmatch(m.group())]


def wordnet_pos(penn: str) -> str | None:
    """The WordNet part of speech of a Penn tag, or None where curaug replaces nothing."""
    return PENN_TO_WORDNET.get(penn)
