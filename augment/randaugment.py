"""RandAugment's two numbers for every modality: ``N`` transforms per sample, drawn from a
plugin's pool (:mod:`augment.magnitude`), each at the magnitude ``M`` (Cubuk et al. 2020).

:func:`build_recipe` turns ``(N, M, pool)`` into an ordinary recipe mapping (a ``SomeOf``
group of ``N`` of the pool's transforms), which :func:`augment.recipe_file.load_recipe`
reads like any recipe file, so a searched recipe is written, reviewed and rerun as a
hand-written one is.
"""

from __future__ import annotations

from typing import Any, Sequence

from augment.magnitude import MAX_MAGNITUDE, MagnitudeOp
from curate.errors import CuraugError, did_you_mean


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
        Names from the plugin's pool (``augment.randaugment.magnitude_ops(modality)``);
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
