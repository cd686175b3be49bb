"""The label-preserving gate's figures (``summary.json``'s ``label_gate``) in words and as
a table: for the console after ``curaug augment`` and for the pipeline report."""

from __future__ import annotations

import html
from typing import Any

from pipelines.report.parts import table


def label_gate_line(gate: dict[str, Any]) -> str:
    """One sentence: what the gate rejected, per class, and how far it can be trusted.

    >>> print(label_gate_line({"min_confidence": 0.5, "judged": 10, "rejected": 4, "rejection_rate": 0.4,
    ...                        "gave_up": 1, "sources": 6, "sources_failing": 2,
    ...                        "per_class": {"a": {"rejection_rate": 0.5}, "b": {"rejection_rate": 0.25}}}))
    ... # doctest: +NORMALIZE_WHITESPACE
    label gate (min confidence 0.5) rejected 4 of 10 draws (40.0%; a 50.0%, b 25.0%), gave up on 1;
    it rejects 2 of 6 sources as they are
    """
    per_class = ", ".join(f"{cls} {c['rejection_rate']:.1%}" for cls, c in gate["per_class"].items())
    return (f"label gate (min confidence {gate['min_confidence']:g}) rejected {gate['rejected']} of {gate['judged']} "
            f"draws ({gate['rejection_rate']:.1%}; {per_class}), gave up on {gate['gave_up']}; "
            f"it rejects {gate['sources_failing']} of {gate['sources']} sources as they are")


def label_gate_html(gate: dict[str, Any]) -> str:
    """The sentence and a per-class table, for the augmentation section of the report."""
    rows = [[cls, c["judged"], c["rejected"], c["rejection_rate"], c["gave_up"], c["sources_failing"], c["sources"]]
            for cls, c in gate["per_class"].items()]
    return (f"<p>{html.escape(label_gate_line(gate))} (out of fold: {gate['folds']} folds).</p>"
            + table(["class", "draws judged", "rejected", "rejection rate", "copies given up",
                     "sources it rejects", "sources"], rows, "label-gate"))
