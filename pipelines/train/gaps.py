"""Avoidable bias, variance and data mismatch: what to work on next, from four error rates.

The course's diagnosis for data whose training and target distributions differ (Ng,
"Structuring machine learning projects"): error on train, on ``train_val`` (held-out rows
of the training distribution), on val and on test (the target distribution), read as gaps
from the bottom up::

    human-level error ── avoidable bias ── train ── variance ── train_val ── data mismatch ── val

The largest gap names what to do next (:data:`REMEDIES`). Human-level error stands for the
Bayes error; without one (``human_error=None``) it is taken as 0, so the avoidable bias is
the train error itself. Without a ``train_val`` split (an ordinary split, val drawn like
train) variance is val minus train and data mismatch cannot be told apart from it.

Examples
--------
>>> gaps = error_gaps({"train": 0.02, "train_val": 0.05, "val": 0.30, "test": 0.31})
>>> gaps["avoidable_bias"], gaps["variance"], gaps["data_mismatch"], gaps["largest"]
(0.02, 0.03, 0.25, 'data_mismatch')
>>> error_gaps({"train": 0.20, "val": 0.22}, human_error=0.01)["largest"]
'avoidable_bias'
"""

from __future__ import annotations

from typing import Any

#: The gaps, from the bottom up, and the course's remedy for each.
REMEDIES = {
    "avoidable_bias": "a bigger model or longer training (more epochs, another optimizer or learning rate, "
                      "less regularisation)",
    "variance": "regularisation (weight decay, dropout), more training data, or augmentation",
    "data_mismatch": "make the training data more like the target: augmentation toward it, or target-domain rows "
                     "mixed into train",
}
#: How each gap reads for a person.
GAP_NAMES = {"avoidable_bias": "avoidable bias", "variance": "variance", "data_mismatch": "data mismatch"}


def error_gaps(errors: dict[str, float], human_error: float | None = None) -> dict[str, Any]:
    """The three gaps of ``errors`` (error rate per split: ``train`` and ``val`` at least,
    ``train_val`` and ``test`` when present), the largest positive one and its remedy.

    ``variance_on`` says which split variance was measured on: ``train_val``, or ``val``
    for an ordinary split (then ``data_mismatch`` is None). A gap of None could not be
    measured; ``largest`` is None when no gap is above 0.
    """
    train, val, held = errors.get("train"), errors.get("val"), errors.get("train_val")
    base = 0.0 if human_error is None else float(human_error)
    gaps: dict[str, float | None] = {
        "avoidable_bias": None if train is None else _round(train - base),
        "variance": None, "data_mismatch": None}
    if train is not None and held is not None:
        gaps["variance"] = _round(held - train)
        if val is not None:
            gaps["data_mismatch"] = _round(val - held)
    elif train is not None and val is not None:
        gaps["variance"] = _round(val - train)
    measured = {name: gap for name, gap in gaps.items() if gap is not None and gap > 0}
    largest = max(measured, key=lambda name: measured[name]) if measured else None
    return {"errors": {name: _round(e) for name, e in errors.items()}, "human_error": human_error, **gaps,
            "variance_on": "train_val" if held is not None else "val", "largest": largest,
            "remedy": REMEDIES[largest] if largest else None}


def _round(x: float) -> float:
    """Error rates are shares of rows: six digits keep differences exact enough to read."""
    return round(float(x), 6)


def gaps_line(gaps: dict[str, Any]) -> str:
    """One line for people: each measured gap, the largest marked, and its remedy.

    >>> gaps_line(error_gaps({"train": 0.02, "train_val": 0.05, "val": 0.30}))
    'gaps: avoidable bias 0.020, variance 0.030, data mismatch 0.250 (largest): make the training data more like the target: augmentation toward it, or target-domain rows mixed into train'
    """
    parts = [f"{GAP_NAMES[name]} {gaps[name]:.3f}" + (" (largest)" if name == gaps["largest"] else "")
             for name in GAP_NAMES if gaps.get(name) is not None]
    ending = f": {gaps['remedy']}" if gaps.get("remedy") else ": no gap above 0"
    return "gaps: " + ", ".join(parts) + ending
