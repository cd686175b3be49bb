"""Figures rounded for people (the JSON keeps them whole)."""

from __future__ import annotations

import math
import re


def figure(x: float) -> str:
    """A measured value for people: about three significant digits, no exponent unless tiny.

    Examples
    --------
    >>> [figure(v) for v in (4199.416909620992, 12.3456, 0.57971, 0.0057971, 3.2e-07, 2.0, -0.0)]
    ['4199', '12.3', '0.58', '0.0058', '3.2e-07', '2', '0']
    """
    if x == 0:
        return "0"  # also -0.0: a mean of zero is not negative
    if not math.isfinite(x):
        return f"{x:g}"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= 2:
        return f"{x:.0f}"
    if magnitude >= -3:
        return f"{x:.{2 - magnitude}f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


_LONG_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{4,}(?:[eE][-+]?\d+)?(?![\w.])")


def share(x: float, signed: bool = False) -> str:
    """An accuracy or another share of 0..1 as every command prints it: three decimals
    (``1.000``, ``0.986``); ``signed`` for a difference (``+0.058``; never ``-0.000``).

    >>> share(1), share(0.98571), share(-0.00001, signed=True), share(0.0581, signed=True)
    ('1.000', '0.986', '+0.000', '+0.058')
    """
    text = f"{x:+.3f}" if signed else f"{x:.3f}"
    return text.replace("-0.000", "+0.000" if signed else "0.000")


def round_figures(text: str) -> str:
    """Round the long decimals in a message (``observed 4199.416909620992``) with :func:`figure`.

    >>> round_figures("mean_between (3500, 5000): observed 4199.416909620992; p=0.000123456")
    'mean_between (3500, 5000): observed 4199; p=0.000123'
    """
    return _LONG_DECIMAL.sub(lambda m: figure(float(m.group())), text)
