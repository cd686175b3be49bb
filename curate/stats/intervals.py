"""How far a measured accuracy may be from the true one, and how many rows a bound needs.

An accuracy measured on ``n`` held-out rows is a binomial proportion ``k / n``. Two
answers are given for it, as the course does:

- the exact (Clopper-Pearson) interval: the proportions whose binomial test at level
  ``1 - confidence`` would not reject ``k`` successes in ``n`` trials (two-sided, never
  narrower than it should be);
- Hoeffding's bound for one model scored on ``v`` rows it never saw:
  ``R(g) <= R_v(g) + sqrt(log(1 / delta) / (2 v))`` with probability ``1 - delta``.
  It needs no assumption beyond independence, and its width depends on ``v`` alone, which
  is what makes it usable before any data is labelled (:func:`rows_for_error_bound`).

Two figures whose exact intervals overlap are "within the intervals": these row counts
cannot tell them apart, and a report must not call the difference real.
"""

from __future__ import annotations

import math
from typing import Any

from curate.errors import CuraugError

CONFIDENCE = 0.95


def check_confidence(confidence: float, *, param: str = "confidence") -> float:
    """``confidence`` as a float strictly between 0 and 1, else a :class:`CuraugError`."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise CuraugError(f"{param}={confidence!r} is not a number; give a level in (0, 1) such as 0.95",
                          param=param) from None
    if not 0 < value < 1:
        raise CuraugError(f"{param}={confidence!r} must lie strictly between 0 and 1 (such as 0.95)", param=param)
    return value


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact two-sided interval of a proportion with ``k`` successes in ``n`` trials.

    Examples
    --------
    >>> [round(x, 4) for x in clopper_pearson(8, 10)]
    [0.4439, 0.9748]
    >>> clopper_pearson(0, 5)[0], clopper_pearson(5, 5)[1]
    (0.0, 1.0)
    """
    from scipy.stats import beta

    _check_counts(k, n)
    alpha = 1 - check_confidence(confidence)
    # the beta quantiles are nan at the ends (a Beta(0, .) has no mass to place): the bound is exact there
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def hoeffding_epsilon(n: int, confidence: float = CONFIDENCE) -> float:
    """``sqrt(log(1 / delta) / (2 n))``: how far above the measured error the true error of
    one model may lie, with probability ``confidence = 1 - delta``.

    >>> round(hoeffding_epsilon(1000), 4)
    0.0387
    """
    if n < 1:
        raise CuraugError(f"n={n} rows: a bound needs at least one", param="n")
    return math.sqrt(math.log(1 / (1 - check_confidence(confidence))) / (2 * n))


def rows_for_error_bound(epsilon: float, confidence: float = CONFIDENCE) -> int:
    """The fewest held-out rows ``v`` for which ``|R_v - R| <= epsilon`` holds with
    probability ``confidence`` by Hoeffding (two-sided): ``v >= log(2 / delta) / (2 eps^2)``.

    >>> rows_for_error_bound(0.02), rows_for_error_bound(0.05, 0.99)
    (4612, 1060)
    """
    eps = _check_epsilon(epsilon)
    delta = 1 - check_confidence(confidence)
    return math.ceil(math.log(2 / delta) / (2 * eps * eps))


def accuracy_interval(k: int, n: int, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """``metrics.json``'s ``interval`` of an accuracy of ``k`` correct out of ``n`` rows.

    ``accuracy`` and ``error`` are the Clopper-Pearson intervals of each figure;
    ``hoeffding`` the one-sided bounds (true error at most, true accuracy at least).

    >>> i = accuracy_interval(90, 100)
    >>> i["accuracy"], i["hoeffding"]["error_at_most"]
    ([0.8238, 0.951], 0.2224)
    """
    low, high = clopper_pearson(k, n, confidence)
    eps = hoeffding_epsilon(n, confidence)
    accuracy = k / n
    return {"method": "clopper-pearson", "confidence": float(confidence), "correct": int(k), "n": int(n),
            "accuracy": [round(low, 4), round(high, 4)], "error": [round(1 - high, 4), round(1 - low, 4)],
            "hoeffding": {"epsilon": round(eps, 4), "error_at_most": round(min(1.0, 1 - accuracy + eps), 4),
                          "accuracy_at_least": round(max(0.0, accuracy - eps), 4)}}


def within_intervals(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two figures' exact intervals overlap: their difference is then one these row
    counts cannot show.

    >>> within_intervals(accuracy_interval(90, 100), accuracy_interval(85, 100))
    True
    >>> within_intervals(accuracy_interval(99, 100), accuracy_interval(60, 100))
    False
    """
    (a_low, a_high), (b_low, b_high) = a["accuracy"], b["accuracy"]
    return a_low <= b_high and b_low <= a_high


def compare(name_a: str, a: dict[str, Any], name_b: str, b: dict[str, Any]) -> dict[str, Any]:
    """The difference of two accuracies with whether it is within their intervals, and the
    sentence that says so.

    >>> compare("val", accuracy_interval(90, 100), "test", accuracy_interval(85, 100))["sentence"]
    'val 0.900 vs test 0.850: the difference (+0.050) is within the 95 % intervals, not one these row counts can show'
    """
    diff = a["correct"] / a["n"] - b["correct"] / b["n"]
    within = within_intervals(a, b)
    level = f"{a['confidence'] * 100:g} %"
    head = f"{name_a} {a['correct'] / a['n']:.3f} vs {name_b} {b['correct'] / b['n']:.3f}: the difference ({diff:+.3f})"
    sentence = (f"{head} is within the {level} intervals, not one these row counts can show" if within
                else f"{head} is beyond the {level} intervals")
    return {"between": [name_a, name_b], "difference": round(diff, 6), "within_intervals": within,
            "sentence": sentence}


def _check_counts(k: int, n: int) -> None:
    if n < 1:
        raise CuraugError(f"n={n} rows: an interval needs at least one", param="n")
    if not 0 <= k <= n:
        raise CuraugError(f"k={k} successes out of n={n} rows: k must lie in 0..n", param="k")


def _check_epsilon(epsilon: float) -> float:
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise CuraugError(f"error_bound={epsilon!r} is not a number; give a width in (0, 1) such as 0.02",
                          param="error_bound") from None
    if not 0 < value < 1:
        raise CuraugError(f"error_bound={epsilon!r} must lie strictly between 0 and 1 (such as 0.02)",
                          param="error_bound")
    return value
