"""nlpaug's KeyboardAug tests, ported to curaug's ``keyboard``.

Upstream: makcedward/nlpaug, test/augmenter/char/test_keyboard.py (commit 63ca3ec8). Each
test names its upstream test; where curaug deliberately differs, the test asserts
curaug's behaviour and says why.
"""

from __future__ import annotations

import re

import pytest

from augment.text.noise import keyboard_table
from curate.errors import CuraugError
from nlpaug_adapter import Aug


def test_single_word():
    """Upstream ``test_single_word``."""
    aug = Aug("keyboard")
    for text in ("Zoology", "roku123456"):
        assert aug.augment(text)[0] != text


def test_multi_words():
    """Upstream ``test_multi_words``."""
    text = "The quick brown fox jumps over the lazy dog"
    assert Aug("keyboard").augment(text)[0] != text


def test_no_special_character():
    """Upstream ``test_no_special_character``."""
    text = "qwertyuioplmnbvcxza"
    aug = Aug("keyboard", include_special_char=False)
    for _ in range(10):
        out = aug.augment(text)[0]
        assert re.match("^[a-zA-Z0-9]*$", out) and out != text


@pytest.mark.parametrize("lang, text, expected", [
    ("de", "llllllllllllllllll lllllll", "öÖ"),       # upstream test_lang_de
    ("es", "llllllllllllllllll lllllll", "ñÑ"),       # upstream test_lang_es
    ("it", "llllllllllllllllll lllllll", "òç"),       # upstream test_lang_it
    ("pl", "kkkkkkkkkkkkkk kkkkkkkkk", "ńś"),         # upstream test_lang_pl
])
def test_lang_neighbours(lang, text, expected):
    """Upstream ``test_lang_de``, ``_es``, ``_it``, ``_pl``: within 10 tries a key of the
    language's own layout appears."""
    aug = Aug("keyboard", lang=lang)
    outputs = [aug.augment(text)[0] for _ in range(10)]
    assert all(o != text for o in outputs)
    assert any(c in o for o in outputs for c in expected)


def test_lang_fr():
    """Upstream ``test_lang_fr``: "à" is among "ç"'s neighbours (nlpaug asks its model;
    curaug's table is built from the same file)."""
    assert "à" in keyboard_table(lang="fr")["ç"]
    text = "ççççççççççç ççççççççç"
    assert Aug("keyboard", lang="fr").augment(text)[0] != text


@pytest.mark.parametrize("lang, text", [
    ("he", "את המערכה בתנופה"),            # upstream test_lang_he
    ("nl", "jjjjjjjjjjjjjjjjjjjjjjjjj jjjjjjjj"),  # upstream test_lang_nl
    ("th", "ฤฤฤฤ ฤฏณ"),                    # upstream test_lang_th
    ("uk", "планувалося провести"),         # upstream test_lang_uk
    ("tr", "çığırtkan"),                   # upstream test_lang_tr
])
def test_lang_changes_the_text(lang, text):
    """Upstream ``test_lang_he``, ``_nl``, ``_th``, ``_uk``, ``_tr``."""
    assert Aug("keyboard", lang=lang).augment(text)[0] != text


def test_non_support_lang():
    """Upstream ``test_non_support_lang``: a ValueError (curaug's recipe error is one)."""
    with pytest.raises(ValueError, match="non_exist"):
        Aug("keyboard", lang="non_exist")


@pytest.mark.parametrize("value", ["char_keyboard_custom_model.json", "test_load_custom_model_fail.json"])
def test_custom_model(value):
    """Upstream ``test_custom_model`` and ``test_load_custom_model_fail``: nlpaug reads a
    custom keyboard from ``model_path``. curaug's keyboard tables are nlpaug's own files,
    by ``lang``; an unknown parameter is a recipe error naming it, never ignored."""
    with pytest.raises(CuraugError, match="unknown parameter 'model_path' for keyboard"):
        Aug("keyboard", model_path=value)
