"""nlpaug's OcrAug tests, ported to curaug's ``ocr``.

Upstream: makcedward/nlpaug, test/augmenter/char/test_ocr.py (commit 63ca3ec8). Each test
names its upstream test; where curaug deliberately differs, the test asserts curaug's
behaviour and says why.
"""

from __future__ import annotations

import pytest

from curate.errors import CuraugError
from nlpaug_adapter import Aug


def test_ocr_single_word():
    """Upstream ``test_ocr_single_word``."""
    aug = Aug("ocr")
    for text in ("Zoology", "roku123456"):
        assert aug.augment(text)[0] != text


def test_ocr_single_word_nonexist_char():
    """Upstream ``test_ocr_single_word_nonexist_char``: no OCR confusion for "A" or "K"."""
    aug = Aug("ocr")
    for text in ("AAAAA", "KKKKK"):
        assert aug.augment(text)[0] == text


def test_ocr_multi_words():
    """Upstream ``test_ocr_multi_words``: nlpaug may need several tries; curaug redraws an
    unchanged sample itself, so every try changes the text."""
    text = "The quick brown fox jumps over the lazy dog"
    aug = Aug("ocr")
    assert all(aug.augment(text)[0] != text for _ in range(10))


@pytest.mark.parametrize("value", [{"0": ["2"]}, "res/common/sample.json"])
def test_ocr_model_from_dict_or_json(value):
    """Upstream ``test_ocr_model_from_dict`` and ``test_ocr_model_from_json``: nlpaug takes
    a custom OCR table (``dict_of_path``). curaug's table is nlpaug's own file, both ways;
    the parameter is a recipe error naming it, never ignored."""
    with pytest.raises(CuraugError, match="unknown parameter 'dict_of_path' for ocr"):
        Aug("ocr", dict_of_path=value)
