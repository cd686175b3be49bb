"""nlpaug's shared character-augmenter tests, ported to curaug's ``keyboard``, ``ocr`` and
``char_noise`` (nlpaug's KeyboardAug, OcrAug and RandomCharAug).

Upstream: makcedward/nlpaug, test/augmenter/char/test_char.py (commit 63ca3ec8). Each
test names its upstream test; where curaug deliberately differs, the test asserts
curaug's behaviour and says why.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from augment.text.edits import tokens
from curate.errors import CuraugError
from nlpaug_adapter import Aug

CHAR_AUGS = ("ocr", "keyboard", "char_noise")
FOX = "The quick brown fox jumps over the lazy dog."


def test_empty():
    """Upstream ``test_empty``: nlpaug returns no output for '' and None. curaug keeps one
    output per input row, so '' stays '' (a row is never dropped unnoticed), and a row with
    no text at all is bad input naming the row."""
    for name in ("ocr", "keyboard"):
        assert Aug(name).augment("") == [""]
        with pytest.raises(CuraugError, match="row row0: no text"):
            Aug(name).augment(None)


def test_tokenizer():
    """Upstream ``test_tokenizer``: nlpaug's ``split_sentence`` tokens, stripped of the
    spaces it keeps, are curaug's tokens (words, and each special character on its own).
    curaug has no ``tokenizer`` parameter: its edits keep the text's own spacing, so there
    is no reverse tokenizer to pair with one."""
    cases = {
        "The quick brown fox, jumps over lazy dog.":
            ["The", " quick", " brown", " fox", ", ", "jumps", " over", " lazy", " dog", "."],
        "The quick !brown fox, jumps # over lazy dog .":
            ["The", " quick", " !", "brown", " fox", ", ", "jumps", " # ", "over", " lazy", " dog", " ."],
    }
    for text, expected in cases.items():
        assert [text[a:b] for a, b in tokens(text)] == [t.strip() for t in expected]


def test_no_aug():
    """Upstream ``test_no_aug``: a table row of short tokens has nothing to change. nlpaug's
    output differs from its input by spaces (its reverse tokenizer); curaug's is the input,
    byte for byte."""
    text = "| 4 ||  || ½ || 0 || ½ || - || 1 || 1 || 1 || 0 || 0 || 0 || 1 || 1 || 1 || 1 || 1 || 1 || 10 || 67.75"
    assert Aug("keyboard", aug_word_min=0, aug_word_p=0.05).augment(text) == [text]


def test_multi_thread():
    """Upstream ``test_multi_thread``: ``n`` outputs, also from several threads. curaug has
    no ``num_thread`` (workers are a run setting); threads give the same texts as one,
    since every draw comes from the sample's own seed."""
    for name in ("keyboard", "char_noise"):
        aug = Aug(name)
        outputs = aug.augment(FOX, n=3)
        assert len(outputs) == 3 and all(o != FOX for o in outputs)
        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(lambda seed: aug.one(FOX, seed), range(3))) == [aug.one(FOX, s) for s in range(3)]


def test_multi_inputs():
    """Upstream ``test_multi_inputs``: one output per input text."""
    texts = [FOX, FOX, "nac KeyboardAug ( tokenizer = text_tokenizer . split_sentence )",
             "nac KeyboardAug ( tokenizer = text_tokenizer . split_sentence )"]
    for name in ("keyboard", "char_noise"):
        outputs = Aug(name).augment(texts)
        assert len(outputs) == len(texts) and all(o != t for o, t in zip(outputs, texts))


@pytest.mark.parametrize("name", CHAR_AUGS)
def test_stopwords(name):
    """Upstream ``test_stopwords``: the words that are not stopwords change. Stronger here:
    the stopwords themselves never change (curaug matches them case-blind)."""
    aug = Aug(name, stopwords=["The", "brown", "fox", "jumps", "the", "dog"])
    for _ in range(10):
        out = aug.augment(FOX)[0]
        assert "quick" not in out or "over" not in out or "lazy" not in out
        assert out.split()[2:4] == ["brown", "fox"] and out.startswith("The ") and "dog" in out


@pytest.mark.parametrize("name, params", [("char_noise", {"action": "delete"}), ("keyboard", {}), ("ocr", {})])
def test_stopwords_regex(name, params):
    """Upstream ``test_stopwords_regex``: curaug's ``protect:`` regexes (on the text, not on
    each token) play nlpaug's ``stopwords_regex``; the same pattern protects the same words."""
    regex = "( [a-zA-Z]{1}ox | [a-z]{1}og|(brown)|[a-zA-z]{1}he)|[a-z]{2}mps "
    aug = Aug(name, protect=(regex,), **params)
    for _ in range(10):
        out = aug.augment(FOX)[0]
        assert "quick" not in out or "over" not in out or "lazy" not in out
        assert all(w in out for w in ("The", "brown", " fox ", "jumps ", " dog"))


@pytest.mark.parametrize("name", CHAR_AUGS)
def test_min_char(name):
    """Upstream ``test_min_char``: with ``min_char=5`` only "apple" may change, and it does."""
    aug = Aug(name, min_char=5)
    outputs = [aug.augment("He eats apple")[0] for _ in range(10)]
    assert any("apple" not in o for o in outputs)
    assert all(o.startswith("He eats ") for o in outputs)


def test_special_char():
    """Upstream ``test_special_char``: "#" is a token of its own and has neighbours on the
    keyboard; "~" has none on the keyboard nor in the OCR table, so it stays. The same for
    ``char_noise`` (RandomCharAug also takes special characters: include_special_char)."""
    assert Aug("keyboard", min_char=1).augment("#") != ["#"]
    assert Aug("char_noise", min_char=1).augment("#") != ["#"]
    for name in ("keyboard", "ocr"):
        assert Aug(name, min_char=1).augment("~") == ["~"]


def test_empty_input_for_insert():
    """Upstream ``test_empty_input_for_insert``: nothing is inserted into an empty or blank
    text."""
    texts = ["", "           "]
    aug = Aug("char_noise", action="insert")
    for text in texts:
        assert aug.augment(text) == [text]
    assert [o.strip() for o in aug.augment(texts)] == ["", ""]


@pytest.mark.parametrize("name, params", [("char_noise", {"action": "substitute"}), ("keyboard", {}), ("ocr", {})])
def test_empty_input_for_substitute(name, params):
    """Upstream ``test_empty_input_for_substitute``."""
    texts = ["", "           "]
    aug = Aug(name, **params)
    for text in texts:
        assert aug.augment(text) == [text]
    assert [o.strip() for o in aug.augment(texts)] == ["", ""]
