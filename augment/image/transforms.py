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
import operator
import os
import warnings
from typing import Annotated, Any, Callable, Literal, Union

import numpy as np
from pydantic import AfterValidator, Field, ValidationError

from curate.errors import CuraugError, did_you_mean
from curate.registry import Registry
from curate.strict import Strict

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network: albumentations' version check off

#: Composition classes a recipe spells as groups (``OneOf``/``SomeOf``), never as transforms.
_NOT_TRANSFORMS = ("Compose", "OneOf", "SomeOf", "Sequential")

Sample = dict  # an image sample: "image" (H x W or H x W x C array), "mode", optional "mask", "bboxes"...
Load = Callable[[str], Sample]  # another train sample by id (copy_paste's donor)


def _ordered(pair: tuple[float, float]) -> tuple[float, float]:
    if pair[0] > pair[1]:
        raise ValueError(f"range [{pair[0]:g}, {pair[1]:g}] has lo > hi")
    return pair


#: ``[lo, hi]``: a value drawn uniformly per sample (integers when declared ``tuple[int, int]``).
Range = Annotated[tuple[float, float], AfterValidator(_ordered)]
_LIMITS = {"gt": (operator.gt, ">"), "ge": (operator.ge, ">="), "lt": (operator.lt, "<"), "le": (operator.le, "<=")}


def number(**limits: float) -> Any:
    """A numeric parameter: one value or a :data:`Range`, within ``limits`` (``gt=0``...)."""
    def within(pair: tuple[float, float]) -> tuple[float, float]:
        for key, limit in limits.items():
            test, sign = _LIMITS[key]
            if not (test(pair[0], limit) and test(pair[1], limit)):
                raise ValueError(f"both ends must be {sign} {limit:g}")
        return pair

    return Union[Annotated[float, Field(**limits)], Annotated[Range, AfterValidator(within)]]


def choices(*names: str) -> Any:
    """A parameter that takes one of ``names``, or a list of them (one drawn per sample)."""
    one = Literal[names]  # type: ignore[valid-type]
    return Union[one, Annotated[list[one], Field(min_length=1)]]


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


# ------------------------------------------------------------------ one-line parameter errors

#: pydantic error types that mean "wrong kind of value" -> what was expected instead
_EXPECTED = {"float_parsing": "a number", "float_type": "a number", "finite_number": "a finite number",
             "int_parsing": "an integer", "int_type": "an integer", "int_from_float": "an integer",
             "bool_parsing": "true or false", "bool_type": "true or false", "string_type": "a string",
             "list_type": "a list", "dict_type": "a mapping"}
_BOUNDS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}


def describe_invalid(name: str, exc: ValidationError) -> str:
    """``Transform.param: value reason`` for the first parameter pydantic refused.

    >>> from pydantic import BaseModel
    >>> class Schema(BaseModel):
    ...     limit: float | tuple[float, float]
    >>> try:
    ...     Schema(limit="abc")
    ... except ValidationError as exc:
    ...     print(describe_invalid("Rotate", exc))
    Rotate.limit: 'abc' is not a number or a [lo, hi] pair
    """
    errors = exc.errors()
    if not errors[0]["loc"]:  # a check across parameters (a model validator): no single one to name
        return f"{name}: {_first_line(errors[0]['msg'].removeprefix('Value error, '))}"
    param = errors[0]["loc"][0]
    mine = [e for e in errors if e["loc"][:1] == (param,)]
    if mine[0]["type"] == "missing" and len(mine[0]["loc"]) == 1:
        return f"{name}.{param}: required (it has no default)"
    value = _show(mine[0]["input"])
    # a value that fits one form of the parameter but breaks its limits says more than
    # the forms it does not fit: report the most specific such error
    limits = sorted((e for e in mine if e["type"] not in _EXPECTED and e["type"] not in _SHAPE),
                    key=lambda e: -len(e["loc"]))
    if limits:
        err = limits[0]
        if err["type"] in _BOUNDS:
            key = _BOUNDS[err["type"]]
            return f"{name}.{param}: {_show(err['input'])} must be {_LIMITS[key][1]} {err['ctx'][key]:g}"
        if err["type"] == "literal_error":
            return f"{name}.{param}: {_show(err['input'])} is not one of {err['ctx']['expected']}"
        reason = _first_line(err["msg"].removeprefix("Value error, "))
        return f"{name}.{param}: {reason}" + ("" if value in reason else f" (got {value})")
    expected: list[str] = []
    for err in mine:
        form = _form(err["loc"]) if err["type"] in _SHAPE else _EXPECTED.get(err["type"])
        if form and form not in expected:
            expected.append(form)
    expected.sort(key=lambda f: f not in ("a number", "an integer"))  # the plain form first
    return f"{name}.{param}: {value} is not {' or '.join(expected) or 'valid'}"


#: pydantic error types about a tuple's length or kind: the form is named from the union tag
_SHAPE = frozenset({"tuple_type", "too_short", "too_long", "missing"})


def _form(loc: tuple) -> str | None:
    """The form a tuple branch of a union stands for, read from pydantic's tag for it
    (``tuple[float, float]``, or wrapped: ``function-after[_ordered(), tuple[float, float]]``)."""
    tag = next((p for p in loc[1:] if isinstance(p, str) and "tuple[" in p), "")
    if not tag:
        return None
    inner = tag[tag.index("tuple[") + 6:].split("]")[0]
    return "a list of numbers" if "..." in inner else "a [lo, hi] pair" if inner.count(",") == 1 else "a list"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= 150 else line[:147] + "..."
