"""Does a split hold enough val and test rows for an error bound? (``curaug split --error-bound``)

Hoeffding, two-sided: a model's error measured on ``v`` held-out rows lies within
``epsilon`` of its true error with probability ``confidence`` once
``v >= log(2 / delta) / (2 epsilon^2)``. The requirement depends on ``v`` alone, so it is
known before training: the split either holds that many val and test rows or it cannot
give the bound. With ``per_class`` each class's val and test rows must hold it (a bound
on every class's error rate, not only the overall one).
"""

from __future__ import annotations

from typing import Any

from curate.stats.intervals import CONFIDENCE, check_confidence, hoeffding_epsilon, rows_for_error_bound

#: The splits whose figures a bound is about: val (decisions) and test (the final word).
HELD_OUT = ("val", "test")


def error_bound_check(report: dict[str, Any], epsilon: float, confidence: float = CONFIDENCE, *,
                      per_class: bool = False) -> dict[str, Any]:
    """The split report's ``error_bound``: rows needed, rows made, and what falls short.

    ``report`` is :func:`curate.api.split`'s report (its ``sizes`` and ``per_class``).

    Examples
    --------
    >>> r = {"sizes": {"train": 6000, "val": 5000, "test": 2000},
    ...      "per_class": {"a": {"val": 4000, "test": 1000}, "b": {"val": 1000, "test": 1000}}}
    >>> check = error_bound_check(r, 0.02)
    >>> check["rows_needed"], check["enough"], check["short"]
    (4612, False, [{'split': 'test', 'rows': 2000, 'needed': 4612}])
    >>> check["achieved"]["test"]
    0.0304
    """
    confidence = check_confidence(confidence)
    needed = rows_for_error_bound(epsilon, confidence)
    sizes = {name: int(report["sizes"].get(name, 0)) for name in HELD_OUT}
    short = [{"split": name, "rows": rows, "needed": needed} for name, rows in sizes.items() if rows < needed]
    if per_class:
        short += [{"split": name, "class": str(cls), "rows": int(counts.get(name, 0)), "needed": needed}
                  for cls, counts in report["per_class"].items() for name in HELD_OUT
                  if int(counts.get(name, 0)) < needed]
    return {"epsilon": float(epsilon), "confidence": confidence, "per_class": per_class, "rows_needed": needed,
            "rows": sizes, "achieved": {name: round(hoeffding_two_sided(rows, confidence), 4) if rows else None
                                        for name, rows in sizes.items()},
            "enough": not short, "short": short}


def hoeffding_two_sided(n: int, confidence: float) -> float:
    """The ``epsilon`` that ``n`` rows give for the two-sided bound (what the split achieves).

    >>> round(hoeffding_two_sided(4612, 0.95), 4)
    0.02
    """
    # log(2 / delta) = log(1 / delta') with delta' = delta / 2
    return hoeffding_epsilon(n, 1 - (1 - confidence) / 2)


def shortfall_line(check: dict[str, Any]) -> str:
    """One line naming each split (or class) short of rows for the bound.

    >>> shortfall_line({"epsilon": 0.02, "confidence": 0.95, "rows_needed": 4612, "achieved": {"val": 0.05},
    ...                 "short": [{"split": "val", "rows": 700, "needed": 4612},
    ...                           {"split": "test", "class": "b", "rows": 30, "needed": 4612}]})
    'an error bound of ±0.02 at 95 % needs 4612 rows in each of val and test; val has 700 (it bounds ±0.05), class b has 30 in test'
    """
    level = f"{check['confidence'] * 100:g} %"
    parts = []
    for item in check["short"]:
        if "class" in item:
            parts.append(f"class {item['class']} has {item['rows']} in {item['split']}")
        else:
            achieved = check["achieved"].get(item["split"])
            bounds = f" (it bounds ±{achieved:g})" if achieved is not None else ""
            parts.append(f"{item['split']} has {item['rows']}{bounds}")
    return (f"an error bound of ±{check['epsilon']:g} at {level} needs {check['rows_needed']} rows in each of val "
            f"and test; " + ", ".join(parts))
