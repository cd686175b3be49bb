"""nlpaug's RandomWordAug tests, ported to curaug's ``word_noise``.

Upstream: makcedward/nlpaug, test/augmenter/word/test_random_word.py (commit 63ca3ec8).
Each test names its upstream test; where curaug deliberately differs, the test asserts
curaug's behaviour and says why.
"""

from __future__ import annotations

from collections import Counter

import pytest

from curate.errors import CuraugError
from nlpaug_adapter import Aug

FOX = "The quick brown fox jumps over the lazy dog"


def test_swap():
    """Upstream ``test_swap`` (nlpaug's issue #77): ten swaps in a row keep every word as
    often as it was, and change the order."""
    aug = Aug("word_noise", action="swap")
    out = FOX
    for _ in range(10):
        out = aug.augment(out)[0]
    assert Counter(out.lower().split()) == Counter(FOX.lower().split())
    assert out != FOX


def test_substitute_without_target_word():
    """Upstream ``test_substitute_without_target_word``: the default target is "_"."""
    out = Aug("word_noise", action="substitute").augment(FOX)[0]
    assert "_" in out and out != FOX


def test_substitute_with_target_word():
    """Upstream ``test_substitute_with_target_word``."""
    targets = ["$", "#", "^^^"]
    out = Aug("word_noise", action="substitute", target_words=targets).augment(FOX)[0]
    assert any(t in out for t in targets) and out != FOX
    assert len(out.split()) == len(FOX.split())  # one target for one word


def test_delete():
    """Upstream ``test_delete``."""
    assert Aug("word_noise").augment(FOX)[0] != FOX


@pytest.mark.parametrize("action", ["swap", "delete", "crop"])
def test_one_token(action):
    """Upstream ``test_swap_one_token`` and ``test_delete_one_token`` (nlpaug's issue #76): a
    one-word text stays as it is. Also for ``crop``, which nlpaug does not test (it raises
    on one word, and crops every word with ``aug_p=1``): curaug never empties a text."""
    assert Aug("word_noise", action=action).augment("The") == ["The"]
    assert Aug("word_noise", action=action, aug_p=1.0).augment("The cat")[0] in ("The", "cat", "cat The")


def test_crop():
    """Upstream ``test_crop``."""
    out = Aug("word_noise", action="crop").augment(FOX)[0]
    assert len(out.split(" ")) < len(FOX.split(" "))


def test_empty():
    """Upstream ``test_empty`` (nlpaug's issue #252): nlpaug returns no output for '', None
    and []. curaug keeps one output per input row ('' stays ''), an empty list of rows
    gives no output, and a row with no text at all is bad input naming the row."""
    aug = Aug("word_noise")
    assert aug.augment("") == [""]
    assert aug.augment([]) == []
    with pytest.raises(CuraugError, match="row row0: no text"):
        aug.augment(None)
