"""nlpaug's RandomCharAug tests, ported to curaug's ``char_noise``.

Upstream: makcedward/nlpaug, test/augmenter/char/test_random_char.py (commit 63ca3ec8).
Each test names its upstream test; where curaug deliberately differs, the test asserts
curaug's behaviour and says why.
"""

from __future__ import annotations

import pytest

from augment.text.edits import tokens
from nlpaug_adapter import Aug

WORDS = ("Zoology", "roku123456")
FOX = "The quick brown fox jumps over the lazy dog"


def _changed_tokens(text: str, out: str) -> int:
    return sum(a != b for a, b in zip([text[s:e] for s, e in tokens(text)], [out[s:e] for s, e in tokens(out)]))


def test_insert_single_word():
    """Upstream ``test_insert_single_word``."""
    aug = Aug("char_noise", action="insert", min_char=1)
    for text in WORDS:
        out = aug.augment(text)[0]
        assert out != text and len(text) < len(out)


def test_insert_multi_words():
    """Upstream ``test_insert_multi_words``."""
    aug = Aug("char_noise", action="insert", min_char=1)
    out = aug.augment(FOX)[0]
    assert 0 < _changed_tokens(FOX, out) <= len(tokens(FOX))
    assert out != FOX and len(FOX) < len(out)


def test_substitute_single_word():
    """Upstream ``test_substitute_single_word``."""
    aug = Aug("char_noise", action="substitute", min_char=1)
    for text in WORDS:
        assert aug.augment(text)[0] != text


def test_substitute_multi_words():
    """Upstream ``test_substitute_multi_words``."""
    aug = Aug("char_noise", action="substitute", min_char=1)
    out = aug.augment(FOX)[0]
    assert 0 < _changed_tokens(FOX, out) <= len(tokens(FOX)) and out != FOX


def test_swap():
    """Upstream ``test_swap`` (nlpaug's issue #77: ten swaps in a row still change the
    text). Stronger here: swaps keep every character."""
    aug = Aug("char_noise", action="swap", min_char=1)
    for text in (FOX, "testing"):
        out = text
        for _ in range(10):
            out = aug.augment(out)[0]
        assert out != text and sorted(out) == sorted(text)


def test_delete():
    """Upstream ``test_delete``."""
    aug = Aug("char_noise", action="delete", min_char=1)
    for text in WORDS:
        out = aug.augment(text)[0]
        assert out != text and len(out) < len(text)


@pytest.mark.parametrize("action", ["insert", "swap", "substitute", "delete"])
def test_min_char(action):
    """Upstream ``test_min_char``: no word reaches ``min_char=20``, so nothing changes."""
    aug = Aug("char_noise", action=action, min_char=20)
    for text in WORDS:
        assert aug.augment(text) == [text]


@pytest.mark.parametrize("mode", ["middle", "random"])
def test_swap_middle_and_random(mode):
    """Upstream ``test_swap_middle`` and ``test_swap_random``."""
    text = "quick brown jumps over lazy"
    out = Aug("char_noise", action="swap", swap_mode=mode, min_char=4).augment(text)[0]
    assert out != text and sorted(out) == sorted(text)


def test_candidates():
    """Upstream ``test_candidates``: substitutions come from ``candidates`` (strings of any
    length)."""
    candidates = ["AAA", "11", "===", "中文"]
    text = "quick brown jumps over lazy"
    out = Aug("char_noise", min_char=4, candidates=candidates).augment(text)[0]
    assert out != text and any(c in out for c in candidates)
