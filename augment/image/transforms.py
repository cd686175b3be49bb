"""Image transforms by name: curaug's own, then albumentations' as the fallback.

curaug's own transforms (``noise``, ``copy_paste`` and any a third party adds) have the
albumentations shape (``albumentations/core/transforms_interface.py``): the parameters a
recipe may give are declared, and validated, by a pydantic ``InitSchema``;
:meth:`ImageTransform.get_params` draws this sample's values from the sample's
``numpy.random.Generator``; :meth:`ImageTransform.apply` is pure given them. The drawn
values are the whole plan entry, so an output replays from its provenance alone.

They are found through one :class:`~curate.registry.Registry`, :data:`TRANSFORMS`, by the
snake_case name a recipe uses; a third-party package adds one through the
``curaug.image_transforms`` entry point group::

    [project.entry-points."curaug.image_transforms"]
    vignette = "mypkg.image:Vignette"

Any other name is an albumentations transform class (``HorizontalFlip``, ``Rotate``...).
A bad parameter value, for either kind, is one short line naming the transform, the
parameter and the value (``Rotate.limit: 'abc' is not a number or a [lo, hi] pair``)
instead of pydantic's dump.
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from typing import Any, Callable

import numpy as np
from pydantic import ValidationError

from augment.params import Range, _first_line, choices, describe_invalid, number
from curate.errors import CuraugError, did_you_mean
from curate.registry import Registry
from curate.strict import Strict

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network: albumentations' version check off

#: The parameter helpers live in augment.params (shared with the text and audio transforms);
#: they stay importable from here, where transforms written before the move import them.
__all__ = ["ImageTransform", "TRANSFORMS", "Range", "number", "choices", "describe_invalid", "check_step",
           "build_own", "build_albumentations", "albumentations", "albumentations_class", "albumentations_params",
           "own_transform", "known_names", "transform_class"]

#: Composition classes a recipe spells as groups (``OneOf``/``SomeOf``), never as transforms.
_NOT_TRANSFORMS = ("Compose", "OneOf", "SomeOf", "Sequential")

Sample = dict  # an image sample: "image" (H x W or H x W x C array), "mode", optional "mask", "bboxes"...
Load = Callable[[str], Sample]  # another train sample by id (copy_paste's donor)


class ImageTransform:
    """Base of curaug's own image transforms.

    A subclass declares its parameters in ``InitSchema`` (a field may hold a value, a
    ``[lo, hi]`` :data:`Range` or a list of choices) and implements :meth:`apply`.
    ``__init__`` only validates; :meth:`get_params` resolves ranges and choices with the
    sample's generator; :meth:`apply` is a static method, so it can read nothing but the
    values drawn, which is what lets a plan entry replay.
    """

    class InitSchema(Strict):
        """The parameters a recipe may give (``p`` belongs to the recipe, not here)."""

    def __init__(self, **params: Any):
        self.params = self.InitSchema(**params)

    def get_params(self, rng: np.random.Generator, **data: Any) -> dict[str, Any]:
        """This sample's parameters as plain JSON values. ``data`` carries what a transform
        may consult: ``row`` (the manifest row) and ``donors`` (train ids of its class)."""
        return {key: _draw(rng, value) for key, value in self.params}

    @staticmethod
    def apply(image: np.ndarray, **drawn: Any) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def apply_to_sample(cls, sample: Sample, drawn: dict[str, Any], load: Load) -> tuple[Sample, dict[str, Any]]:
        """The whole sample (image and targets) after the transform, and what to record
        about it. This default changes the image and keeps the targets where they were."""
        out = dict(sample)
        out["image"] = cls.apply(sample["image"], **drawn)
        return out, cls.measure(sample["image"], out["image"])

    @staticmethod
    def measure(before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
        """Figures about one application that go into the provenance (none by default)."""
        return {}


def _draw(rng: np.random.Generator, value: Any) -> Any:
    if isinstance(value, tuple):  # a range: integers when declared so (tuple[int, int])
        lo, hi = value
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(lo, hi))
    if isinstance(value, list):  # choices
        return value[int(rng.integers(len(value)))]
    return value


TRANSFORMS: Registry[type[ImageTransform]] = Registry(
    "image transform", entry_points="curaug.image_transforms", builtins=("augment.image.own",))


# ------------------------------------------------------------------ lookup by name


def albumentations():
    """The albumentations module (imported on first use: it pulls in OpenCV)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import albumentations as A
    return A


@functools.lru_cache(maxsize=None)
def albumentations_class(name: str) -> type | None:
    """The albumentations transform class called ``name``, or None."""
    A = albumentations()
    cls = getattr(A, name, None)
    if isinstance(cls, type) and issubclass(cls, A.BasicTransform) and not inspect.isabstract(cls) \
            and name not in _NOT_TRANSFORMS:
        return cls
    return None


def own_transform(name: str) -> type[ImageTransform] | None:
    """curaug's (or a third party's) transform registered as ``name``, or None."""
    if name not in TRANSFORMS:
        return None
    cls = TRANSFORMS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, ImageTransform)):  # a third party's mistake, said plainly
        raise CuraugError(f"image transform '{name}' is {cls!r}, not a subclass of "
                          "augment.image.transforms.ImageTransform")
    return cls


def known_names() -> list[str]:
    A = albumentations()
    return TRANSFORMS.names() + sorted(n for n in dir(A) if albumentations_class(n) is not None)


def transform_class(name: str) -> type:
    """The class a recipe name means: an own transform first, else albumentations'."""
    cls = own_transform(name) or albumentations_class(name)
    if cls is None:
        raise CuraugError(f"unknown image transform '{name}'{did_you_mean(name, known_names())}")
    return cls


# ------------------------------------------------------------------ checking a recipe step


def check_step(name: str, params: dict[str, Any], where: str) -> None:
    """Refuse an unknown transform, an unknown parameter or a bad value, in one line that
    starts with the step's dotted place in the recipe (``where``, e.g. ``transforms.0``)."""
    try:
        cls = transform_class(name)
    except CuraugError as exc:
        raise CuraugError(f"{where}.{name}: {exc}") from None
    own = issubclass(cls, ImageTransform)
    accepted = list(cls.InitSchema.model_fields) if own else \
        [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "args", "kwargs")]
    for key in params:
        if key not in accepted:
            raise CuraugError(f"{where}.{name}: unknown parameter '{key}' for {name}{did_you_mean(key, accepted)}"
                              + (f" (takes: {', '.join(accepted)}, p)" if own else ""))
    try:
        if own:
            build_own(name, params)
        else:
            build_albumentations(cls, albumentations_params(cls, params, None))
    except CuraugError as exc:
        raise CuraugError(f"{where}.{exc}") from None


def build_own(name: str, params: dict[str, Any]) -> ImageTransform:
    """curaug's transform ``name`` with ``params`` validated (bad values: one line)."""
    try:
        return TRANSFORMS.get(name)(**params)
    except ValidationError as exc:
        raise CuraugError(describe_invalid(name, exc)) from None


def build_albumentations(cls: type, params: dict[str, Any]):
    """An albumentations transform with ``p=1`` (curaug draws the recipe's ``p`` itself);
    bad values raise one line that starts with the transform's name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a deprecated or ignored argument is an error here
            return cls(**params, p=1.0)
    except ValueError as exc:  # albumentations wraps pydantic's ValidationError in a ValueError
        if isinstance(exc.__cause__, ValidationError):
            raise CuraugError(describe_invalid(cls.__name__, exc.__cause__)) from None
        raise CuraugError(f"{cls.__name__}: {_first_line(str(exc))}") from None
    except (TypeError, UserWarning) as exc:
        raise CuraugError(f"{cls.__name__}: {_first_line(str(exc))}") from None


@functools.lru_cache(maxsize=None)
def _takes_range(cls: type, param: str) -> bool:
    fields = getattr(getattr(cls, "InitSchema", None), "model_fields", {})
    return param in fields and "tuple" in str(fields[param].annotation)


def albumentations_params(cls: type, params: dict[str, Any], rng: np.random.Generator | None) -> dict[str, Any]:
    """Resolve ``[lo, hi]`` for an albumentations transform: a range it takes itself is
    passed through (it draws within it, seeded by curaug); any other is drawn here from
    ``rng`` (its ``lo`` when only checking, ``rng=None``)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            if _takes_range(cls, key):
                out[key] = tuple(value)
            elif rng is None:
                out[key] = value[0]
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                out[key] = int(rng.integers(value[0], value[1] + 1))
            else:
                out[key] = float(rng.uniform(value[0], value[1]))
        else:
            out[key] = value
    return out
