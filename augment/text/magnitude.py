"""The text plugin's recipe-search pool: the share of words a transform changes, from none
at magnitude 0 to half of them at 10 (``aug_*_min: 0``, so that 0 really changes nothing).
``synonym`` needs WordNet on the machine (docs/recipes.md), so it is in the pool but not
in the default one."""

from augment.magnitude import MagnitudeOp

MAGNITUDE_OPS = {
    "keyboard": MagnitudeOp("keyboard", "aug_word_p", 0, 0.5, "value", {"aug_word_min": 0}),
    "ocr": MagnitudeOp("ocr", "aug_word_p", 0, 0.5, "value", {"aug_word_min": 0}),
    "char_noise": MagnitudeOp("char_noise", "aug_word_p", 0, 0.5, "value",
                              {"action": ["insert", "substitute", "swap", "delete"], "aug_word_min": 0}),
    "word_swap": MagnitudeOp("word_noise", "aug_p", 0, 0.5, "value", {"action": "swap", "aug_min": 0}),
    "word_delete": MagnitudeOp("word_noise", "aug_p", 0, 0.3, "value", {"action": "delete", "aug_min": 0}),
    "synonym": MagnitudeOp("synonym", "aug_p", 0, 0.5, "value", {"aug_min": 0}),
}
DEFAULT_POOL = ("keyboard", "ocr", "char_noise", "word_swap", "word_delete")
