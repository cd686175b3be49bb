"""A recipe file read and checked: its keys by the modality's plugin's recipe model, its
transforms by the plugin itself.

Every error names the file, the line, the dotted key and what is wrong with it, like the
rules file's: ``recipe.yaml line 4: transforms.0.Rotate.limit: ...``. A key (or a value)
that belongs to another modality says which (``'clip_guard' is for audio recipes``).
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from pydantic import TypeAdapter, ValidationError

from augment.plugin import REGISTRY, Plugin
from augment.recipe import LoadedRecipe, Recipe, Step, StepError, leaves, parse_steps
from curate.errors import CuraugError, did_you_mean
from curate.strict import describe_validation_error, read_yaml_mapping, where_in_file


def load_recipe(source: str | os.PathLike | Mapping[str, Any], *,
                within: tuple[str, Any, list] | None = None) -> LoadedRecipe:
    """Read a recipe file (or take a mapping) and check it all: keys and types by the
    modality's recipe model, the transform names and parameters by its plugin. Errors
    name file and line.

    ``within=(file, yaml_tree, key_path)`` says that a mapping sits inside another file
    (a pipeline file's ``augment:``), so that errors name that file, line and full key.

    Examples
    --------
    >>> loaded = load_recipe({"modality": "image", "copies": 2, "transforms": [{"HorizontalFlip": {"p": 0.5}}]})
    >>> loaded.recipe.copies, [(s.name, s.p) for s in loaded.steps]
    (2, [('HorizontalFlip', 0.5)])
    >>> load_recipe({"modality": "image", "transforms": []})
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: recipe: transforms: empty; list at least one transform or choose a preset (light, medium, heavy)
    """
    import yaml

    prefix: list = []
    if isinstance(source, Mapping):
        name, data, tree = "recipe", dict(source), None
        text = yaml.safe_dump(data, sort_keys=False)
        if within is not None:
            name, tree, prefix = within[0], within[1], list(within[2])
    else:
        name = str(source)
        text, data, tree = read_yaml_mapping(source, "recipe file", "modality, copies, transforms, ...")
    plugin = _plugin(data, name, tree, prefix)
    model = type(plugin).recipe_model
    try:
        recipe = model.model_validate(data)
    except ValidationError as exc:
        raise CuraugError(_other_modality(exc, data, name, tree, prefix)
                          or describe_validation_error(exc, name, tree, prefix, model=model)) from None
    presets = type(plugin).presets
    if recipe.preset is not None and recipe.preset not in presets:
        hint = did_you_mean(recipe.preset, list(presets)) if presets else f" ({recipe.modality} recipes have none)"
        raise CuraugError(f"{where_in_file(name, tree, [*prefix, 'preset'])}: {'.'.join([*prefix, 'preset'])}: "
                          f"unknown preset '{recipe.preset}'{hint}")
    try:
        steps = (parse_steps(presets[recipe.preset], (*prefix, "preset")) if recipe.preset else []) \
            + parse_steps(list(recipe.transforms), (*prefix, "transforms"))
    except StepError as exc:
        raise CuraugError(f"{where_in_file(name, tree, exc.loc)}: {exc}") from None
    if not steps:
        hint = f" or choose a preset ({', '.join(presets)})" if presets else ""
        raise CuraugError(f"{where_in_file(name, tree, [*prefix, 'transforms'])}: "
                          f"{'.'.join([*prefix, 'transforms'])}: empty; list at least one transform{hint}")
    _check_steps(plugin, steps, name, tree)
    return LoadedRecipe(recipe, steps, text, name)


def _plugin(data: dict, name: str, tree: Any, prefix: list) -> Plugin:
    """The plugin of the recipe's ``modality`` (checked as every recipe's key first)."""
    modality = data.get("modality")
    if not isinstance(modality, str):
        try:
            Recipe.model_validate(data)
        except ValidationError as exc:
            raise CuraugError(describe_validation_error(exc, name, tree, prefix, model=Recipe)) from None
    if modality not in REGISTRY:
        raise CuraugError(f"{where_in_file(name, tree, [*prefix, 'modality'])}: {'.'.join([*prefix, 'modality'])}: "
                          f"no augmentation plugin for '{modality}'{did_you_mean(str(modality), REGISTRY.names())}")
    return REGISTRY.get(modality)()


def _other_modality(exc: ValidationError, data: dict, name: str, tree: Any, prefix: list) -> str | None:
    """``'clip_guard' is for audio recipes`` when the first error is a top-level key (or its
    value) that this modality lacks and another modality's recipe takes."""
    err = exc.errors()[0]
    if len(err["loc"]) != 1 or err["loc"][0] not in data:
        return None
    key, value = str(err["loc"][0]), data[err["loc"][0]]
    owners = []
    for modality, cls in REGISTRY.items():
        field = cls.recipe_model.model_fields.get(key)
        if modality == data.get("modality") or field is None:
            continue
        try:
            TypeAdapter(field.annotation).validate_python(value)
        except ValidationError:
            continue
        owners.append(modality)
    if not owners:
        return None
    what = f"'{key}'" if err["type"] == "extra_forbidden" else f"'{key}: {value}'"
    return (f"{where_in_file(name, tree, [*prefix, key])}: {'.'.join(map(str, [*prefix, key]))}: {what} is for "
            f"{' and '.join(owners)} recipes (this one is {data.get('modality')})")


def _check_steps(plugin: Plugin, steps: list[Step], source: str, tree: Any) -> None:
    """Let the plugin judge each transform on its own first, so that an error can be put
    at its line, then the whole list (for rules across transforms)."""
    for leaf in leaves(steps):
        try:
            plugin.check([leaf])
        except CuraugError as exc:
            raise CuraugError(_at_step(str(exc), leaf, source, tree)) from None
    try:
        plugin.check(steps)
    except CuraugError as exc:
        raise CuraugError(f"{source}: {exc}") from None


def _at_step(message: str, leaf: Step, source: str, tree: Any) -> str:
    """The plugin's message about ``leaf`` at the leaf's place in the file.

    The plugin saw a list holding only this transform, so a position it names
    (``transforms.0.``) is dropped for the real one; a parameter it names
    (``Rotate.limit``) takes the line of that parameter."""
    message = " ".join(re.sub(r"^transforms\.\d+\.", "", message).split())
    loc = list(leaf.loc)
    named = re.search(rf"(?<![\w.]){re.escape(leaf.name)}\.(\w+)", message)
    if named and named.group(1) in leaf.params:
        loc.append(named.group(1))
    where = where_in_file(source, tree, loc)
    if re.match(rf"{re.escape(leaf.name)}[.:]", message):
        return f"{where}: {'.'.join(map(str, leaf.loc[:-1]))}.{message}"
    return f"{where}: {'.'.join(map(str, leaf.loc))}: {message}"
