"""Two classifiers scored on the same rows: the exact McNemar test.

Two settings of a search (or two models) that validate on the same rows differ only
where one is right and the other wrong; the rows both get right or both get wrong say
nothing about which is better. McNemar's exact test asks whether the discordant rows split
further from half and half than chance would: a two-sided binomial test of ``b`` (only the
first right) among ``b + c`` at p = 0.5 (McNemar 1947; Dietterich 1998 recommends it for
comparing two learners on one test set). It is the paired test the rows allow, far
sharper than comparing the two accuracies' own intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curate.errors import CuraugError

#: Level under which a difference is reported as one the rows show.
ALPHA = 0.05


def mcnemar(a_correct: "np.ndarray | list[bool]", b_correct: "np.ndarray | list[bool]",
            alpha: float = ALPHA) -> dict[str, Any]:
    """The exact McNemar test of two classifiers' per-row correctness on the same rows.

    ``only_a``/``only_b``: rows only that one got right; ``pvalue`` the two-sided exact
    binomial p-value (1.0 when no row is discordant); ``shows`` whether it is under ``alpha``.

    >>> a = [True] * 90 + [False] * 10
    >>> b = [True] * 80 + [False] * 20
    >>> r = mcnemar(a, b)
    >>> r["only_a"], r["only_b"], r["pvalue"], r["shows"]
    (10, 0, 0.002, True)
    >>> mcnemar(a, a)["pvalue"]
    1.0
    """
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise CuraugError(f"the two classifiers were scored on different rows ({a.shape} vs {b.shape})",
                          param="rows")
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    if only_a + only_b == 0:
        p = 1.0
    else:
        from scipy.stats import binomtest

        p = float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {"test": "exact McNemar", "rows": int(a.size), "only_a": only_a, "only_b": only_b,
            "pvalue": round(min(1.0, p), 4), "alpha": alpha, "shows": bool(p < alpha)}
