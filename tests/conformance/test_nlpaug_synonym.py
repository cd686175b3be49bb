"""nlpaug's SynonymAug tests (its WordNet source), ported to curaug's ``synonym``.

Upstream: makcedward/nlpaug, test/augmenter/word/test_synonym.py (commit 63ca3ec8). Each
test names its upstream test; where curaug deliberately differs, the test asserts
curaug's behaviour and says why. The PPDB half of each upstream test (a downloaded
paraphrase database) and ``test_reload`` (WordNet then PPDB) have no curaug counterpart.
"""

from __future__ import annotations

import pytest

from curate.errors import CuraugError
from nlpaug_adapter import Aug

FOX = "The quick brown fox jumps over the lazy dog"


def test_substitute():
    """Upstream ``test_substitute``: within 10 tries the text changes (curaug: every try)."""
    aug = Aug("synonym")
    assert all(aug.augment(FOX)[0] != FOX for _ in range(10))


def test_stopwords():
    """Upstream ``test_stopwords``: with "quick", "brown", "fox" as the stopwords, the
    text still changes, and those three never do."""
    aug = Aug("synonym", stopwords=["quick", "brown", "fox"])
    for _ in range(10):
        out = aug.augment(FOX)[0]
        assert out != FOX and "quick brown fox" in out


def test_no_separator_for_wordnet():
    """Upstream ``test_no_separator_for_wordnet`` (nlpaug's pull #11): no "_" or "-" from
    WordNet's multi-word lemmas ends up in the text."""
    out = Aug("synonym").augment("linguistic")[0]
    assert out != "linguistic" and "_" not in out and "-" not in out


def test_single_word():
    """Upstream ``test_single_word`` (nlpaug's issue #10). nlpaug replaces "I" ("I a" ->
    "iodine a"); curaug never swaps a single letter (issue 21: "C" -> "Century", "R" ->
    "Roentgen"), and "a" is a stopword in both, so all three stay."""
    aug = Aug("synonym")
    for text in ("I a", "I", "a"):
        assert aug.augment(text) == [text]


def test_skip_punctuation():
    """Upstream ``test_skip_punctuation``."""
    text = ". . . . ! ? # @"
    assert Aug("synonym").augment(text) == [text]


def test_multilingual():
    """Upstream ``test_multilingual``: nlpaug reads the Open Multilingual WordNet (French,
    Spanish), which NLTK downloads. curaug reads Debian's English WordNet 3.0 and never
    downloads; ``lang`` is a recipe error naming it, never ignored."""
    with pytest.raises(CuraugError, match="unknown parameter 'lang' for synonym"):
        Aug("synonym", lang="fra")
