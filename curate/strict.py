"""Strict pydantic models read from YAML files, and errors that point into the file.

Every YAML file curaug reads (rules, recipes, pipelines) is a :class:`Strict` model:
unknown keys and wrong types are errors. :func:`describe_validation_error` turns the
first pydantic error into one line naming the file, the line, the dotted key and, for an
unknown key, the closest known one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from curate.errors import CuraugError, did_you_mean


class Strict(BaseModel):
    """A frozen model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml_mapping(path: str | os.PathLike, what: str, keys: str) -> tuple[str, dict[str, Any], Any]:
    """``(text, mapping, node tree)`` of a YAML file that must hold a mapping; bad input
    raises :class:`CuraugError` naming the file (and the line of a syntax error)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise CuraugError(f"{path}: no such {what}")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise CuraugError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CuraugError(f"{path}: a {what} is a mapping of keys ({keys})")
    return text, data, tree



def where_in_file(source: str, tree: Any, loc: list) -> str:
    line = _line_of(tree, loc)
    return f"{source}{f' line {line}' if line else ''}"


def describe_validation_error(exc: ValidationError, source: str, tree: Any = None,
                              prefix: list | None = None, model: type[BaseModel] | None = None) -> str:
    """One line for the first pydantic error: the key, its path in the file, line and file."""
    err = exc.errors()[0]
    own = [p for p in err["loc"] if not (isinstance(p, str) and _is_union_tag(p))]
    loc = list(prefix or []) + own
    key_path = ".".join(str(p) for p in loc) or "(top level)"
    where = where_in_file(source, tree, loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(model, own[:-1]) if model is not None else None
        hint = did_you_mean(loc[-1], parent.model_fields) if parent else ""
        return f"{where}: unknown key '{loc[-1]}' at {key_path}{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {key_path}: {msg}"


def _is_union_tag(part: str) -> bool:
    """pydantic names the union member it tried (``RuleOptions``, ``tuple[...]``) in ``loc``."""
    return part in _model_names() or "[" in part or part in ("bool", "str", "int", "float", "none")


def _model_at(model: type[BaseModel], loc: list) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (for 'did you mean')."""
    import typing

    current: Any = model
    mapping_key = False
    for part in loc:
        if isinstance(part, int) or current is None or mapping_key:
            mapping_key = False
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
            mapping_key = typing.get_origin(current) is dict
        args = [a for a in typing.get_args(current) if a is not type(None)]
        while args and not (isinstance(current, type) and issubclass(current, BaseModel)):
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                current = models[0]
                break
            nested = [a for a in args if typing.get_args(a)]
            if not nested:
                break
            current = nested[-1]
            args = [a for a in typing.get_args(current) if a is not type(None)]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _line_of(tree: Any, loc: list) -> int | None:
    """1-based line of the YAML node at ``loc`` (the key's own line when it exists)."""
    import yaml

    node, line = tree, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _model_names() -> set[str]:
    names, todo = set(), [Strict]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            names.add(sub.__name__)
            todo.append(sub)
    return names


def check_range(value: Any) -> Any:
    """``[lo, hi]`` with either end null (open); lo <= hi when both are given."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"expected [lo, hi], got {len(value)} values")
        lo, hi = value
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"lo {lo} is greater than hi {hi}")
    return value
