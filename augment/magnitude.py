"""A transform's strength on RandAugment's 0-10 magnitude scale (Cubuk et al. 2020).

Each plugin declares its pool (:attr:`augment.plugin.Plugin.magnitude_ops`, name ->
:class:`MagnitudeOp`) and the default subset of it (``default_pool``); a
:class:`MagnitudeOp` maps ``M`` onto one parameter of one recipe transform, linearly from
its identity-ish value at 0 to its strongest at 10. :mod:`augment.randaugment` builds
recipes from the pools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

#: The magnitude scale (RandAugment's).
MAX_MAGNITUDE = 10.0

Form = Literal["value", "point", "symmetric", "around_one", "reciprocal"]


@dataclass(frozen=True)
class MagnitudeOp:
    """One pool entry: ``transform``'s ``param`` at ``at_0`` for M = 0 (no visible change)
    moving linearly to ``at_10`` for M = 10; ``fixed`` are its other parameters.

    ``form`` says how the value ``v`` is written: ``value`` (``v``), ``point`` (``[v, v]``),
    ``symmetric`` (``[-v, v]``: a random sign and size up to ``v``), ``around_one``
    (``[1 - v, 1 + v]``: scale factors) or ``reciprocal`` (``[1 / v, v]``: rates).

    Examples
    --------
    >>> rotate = MagnitudeOp("Affine", "rotate", 0, 30, "symmetric", {"border_mode": 1})
    >>> rotate.entry(0), rotate.entry(5)
    ({'Affine': {'rotate': [0.0, 0.0], 'border_mode': 1}}, {'Affine': {'rotate': [-15.0, 15.0], 'border_mode': 1}})
    >>> MagnitudeOp("time_stretch", "rate", 1, 1.25, "reciprocal").entry(10)
    {'time_stretch': {'rate': [0.8, 1.25]}}
    """

    transform: str
    param: str
    at_0: float
    at_10: float
    form: Form = "value"
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def value(self, magnitude: float) -> float:
        """The parameter's value ``v`` at ``magnitude`` (before ``form`` writes it)."""
        return round(self.at_0 + (self.at_10 - self.at_0) * float(magnitude) / MAX_MAGNITUDE, 4)

    def entry(self, magnitude: float) -> dict[str, dict[str, Any]]:
        """The recipe's transform entry at ``magnitude``."""
        v = self.value(magnitude)
        return {self.transform: {self.param: _written(v, self.form), **self.fixed}}


def _written(v: float, form: Form) -> Any:
    if form == "point":
        return [v, v]
    if form == "symmetric":
        return [-v if v else 0.0, v]
    if form == "around_one":
        return [round(1 - v, 4), round(1 + v, 4)]
    if form == "reciprocal":
        return [round(1 / v, 4), v]
    return v
