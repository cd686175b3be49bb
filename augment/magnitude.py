"""RandAugment's two numbers for every modality: ``N`` transforms per sample, drawn from a
pool, each at one strength, the magnitude ``M`` on a 0-10 scale (Cubuk et al. 2020).

Each plugin declares its pool (:attr:`augment.plugin.Plugin.magnitude_ops`, name ->
:class:`MagnitudeOp`) and the default subset of it (``default_pool``); a
:class:`MagnitudeOp` maps ``M`` onto one parameter of one recipe transform, linearly from
its identity-ish value at 0 to its strongest at 10. :func:`build_recipe` turns
``(N, M, pool)`` into an ordinary recipe mapping (a ``SomeOf`` group of ``N`` of the pool's
transforms), which :func:`augment.recipe_file.load_recipe` reads like any recipe file, so a
searched recipe is written, reviewed and rerun as a hand-written one is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from curate.errors import CuraugError, did_you_mean

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


def magnitude_ops(modality: str) -> tuple[dict[str, MagnitudeOp], tuple[str, ...]]:
    """The pool a modality's plugin declares and its default subset."""
    from augment.plugin import REGISTRY, get_plugin

    plugin = type(get_plugin(modality))
    if not plugin.magnitude_ops:
        raise CuraugError(f"modality={modality!r}: its plugin declares no magnitude pool (those that do: "
                          f"{', '.join(n for n, c in REGISTRY.items() if c.magnitude_ops)})", param="modality")
    return dict(plugin.magnitude_ops), tuple(plugin.default_pool)


def check_pool(modality: str, pool: Sequence[str] | None) -> tuple[str, ...]:
    """``pool`` checked against the modality's ops (None: the plugin's default pool)."""
    ops, default = magnitude_ops(modality)
    if pool is None:
        return default
    if not pool:
        raise CuraugError(f"pool=[]: name at least one of {', '.join(ops)}", param="pool")
    for name in pool:
        if name not in ops:
            raise CuraugError(f"pool: unknown {modality} magnitude transform '{name}'"
                              f"{did_you_mean(str(name), list(ops))} (available: {', '.join(ops)})", param="pool")
    if len(set(pool)) != len(pool):
        raise CuraugError(f"pool={list(pool)} names a transform twice", param="pool")
    return tuple(pool)


def build_recipe(modality: str, n: int, magnitude: float, pool: Sequence[str] | None = None, *,
                 copies: int = 1) -> dict[str, Any]:
    """The recipe applying ``n`` transforms of ``pool`` (drawn per sample) at ``magnitude``.

    Parameters
    ----------
    modality : str
        ``image``, ``text``, ``audio`` (or a plugin that declares a magnitude pool).
    n : int
        Transforms per sample, 1 to the pool's size.
    magnitude : float
        Strength on RandAugment's 0-10 scale: 0 changes (almost) nothing, 10 is the
        strongest each transform goes.
    pool : list of str, optional
        Names from the plugin's pool (``augment.magnitude.magnitude_ops(modality)``);
        default: the plugin's default pool.
    copies : int
        Augmented copies per training sample.

    Returns
    -------
    dict
        A recipe mapping in the recipe file's shape.

    Examples
    --------
    >>> recipe = build_recipe("text", 1, 4, ["keyboard", "word_swap"])
    >>> recipe["transforms"][0]["SomeOf"]["n"], recipe["transforms"][0]["SomeOf"]["transforms"][1]
    (1, {'word_noise': {'aug_p': 0.2, 'action': 'swap', 'aug_min': 0}})
    >>> build_recipe("text", 3, 4, ["keyboard", "word_swap"])
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: n=3: the pool has 2 transforms (keyboard, word_swap); give n from 1 to 2
    """
    names = check_pool(modality, pool)
    ops, _ = magnitude_ops(modality)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(names):
        raise CuraugError(f"n={n!r}: the pool has {len(names)} transforms ({', '.join(names)}); "
                          f"give n from 1 to {len(names)}", param="n")
    if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)) \
            or not 0 <= magnitude <= MAX_MAGNITUDE:
        raise CuraugError(f"magnitude={magnitude!r}: must be a number from 0 to {MAX_MAGNITUDE:g}",
                          param="magnitude")
    entries = [ops[name].entry(magnitude) for name in names]
    return {"modality": modality, "copies": int(copies),
            "transforms": [{"SomeOf": {"n": int(n), "transforms": entries}}]}
