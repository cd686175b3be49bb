"""Recipe parameters shared by the modalities' own transforms: ``number()`` (a value or a
``[lo, hi]`` range within limits), ``choices()`` (one name or a list to draw from), and
:func:`describe_invalid`, the one-line message for a value pydantic refused
(``Rotate.limit: 'abc' is not a number or a [lo, hi] pair``).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, ValidationError


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
