"""The augmentation recipe (DESIGN.md, "Augmentation recipe"), parsed and checked.

A transform entry is ``Name: {param: value, ..., p: 0.5}``; a scalar is fixed and a
two-element list ``[lo, hi]`` is drawn per sample (where the backend takes a range
itself, e.g. albumentations' ``Rotate.limit``, the range is passed through and the value
it drew is recorded). ``OneOf: {transforms: [...], p}`` applies one of its children
(weighted by their ``p``); ``SomeOf: {n: 2, transforms: [...], p}`` applies ``n`` of them.
``preset: light | medium | heavy`` starts from a tested list that ``transforms`` extends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from pydantic import Field, ValidationError, model_validator

from curate.errors import CuraugError
from curate.strict import Strict, describe_validation_error, read_yaml_mapping


class Balance(Strict):
    target: Union[Literal["max"], int] = "max"


class Gate(Strict):
    """Reject an output and redraw it (another seed attempt) when it fails a test."""

    min_std: float = Field(1.0, ge=0)             # near-constant images (pixel std, 0-255 scale)
    max_box_area_loss: float = Field(0.5, ge=0, le=1)  # share of box area lost to crops/moves
    max_tries: int = Field(5, ge=1, le=50)


class Targets(Strict):
    """Manifest columns that travel with the image through geometric transforms."""

    mask: Optional[str] = None        # column holding a mask file path (relative to root)
    bboxes: Optional[str] = None      # column holding boxes as JSON [[x1, y1, x2, y2, label], ...]
    bbox_format: Literal["pascal_voc", "coco", "yolo", "albumentations"] = "pascal_voc"
    keypoints: Optional[str] = None   # column holding points as JSON [[x, y], ...]


class Recipe(Strict):
    modality: Literal["image", "text", "audio"]
    copies: Optional[int] = Field(None, ge=0)
    balance: Optional[Balance] = None
    preset: Optional[Literal["light", "medium", "heavy"]] = None
    transforms: list[Any] = Field(default_factory=list)
    gate: Optional[Gate] = None
    targets: Targets = Field(default_factory=Targets)
    format: Optional[Literal["png", "jpg", "webp", "same"]] = "same"

    @model_validator(mode="after")
    def _one_mode(self) -> "Recipe":
        if self.copies is not None and self.balance is not None:
            raise ValueError("give either 'copies' or 'balance', not both")
        return self


@dataclass
class Step:
    """One parsed transform entry (a leaf, or a OneOf/SomeOf group of steps)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    p: float = 1.0
    children: list["Step"] = field(default_factory=list)
    n: int = 1
    replace: bool = False

    @property
    def is_group(self) -> bool:
        return self.name in ("OneOf", "SomeOf")


def parse_steps(entries: list[Any], where: str = "transforms") -> list[Step]:
    """Parse transform entries into :class:`Step` trees (names are checked by the plugin)."""
    steps = []
    for i, entry in enumerate(entries):
        here = f"{where}.{i}"
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise CuraugError(f"{here}: expected one mapping 'Name: {{params}}'")
        (name, params), = entry.items()
        params = dict(params or {})
        if not isinstance(params, dict):
            raise CuraugError(f"{here}.{name}: parameters must be a mapping")
        p = params.pop("p", 1.0)
        if not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise CuraugError(f"{here}.{name}.p: must be a number in [0, 1], got {p!r}")
        if name in ("OneOf", "SomeOf"):
            children = params.pop("transforms", None)
            if not isinstance(children, list) or not children:
                raise CuraugError(f"{here}.{name}: needs 'transforms: [...]'")
            n = params.pop("n", 1)
            replace = params.pop("replace", False)
            if params:
                raise CuraugError(f"{here}.{name}: unknown key(s) {', '.join(map(str, params))} "
                                  "(a group takes transforms, p, and for SomeOf n and replace)")
            kids = parse_steps(children, f"{here}.{name}.transforms")
            if name == "SomeOf" and (not isinstance(n, int) or not 1 <= n <= (len(kids) if not replace else 10**6)):
                raise CuraugError(f"{here}.SomeOf.n: must be an integer from 1 to {len(kids)}, got {n!r}")
            steps.append(Step(name, {}, float(p), kids, int(n) if name == "SomeOf" else 1, bool(replace)))
        else:
            for key, value in params.items():
                if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value) \
                        and value[0] > value[1]:
                    raise CuraugError(f"{here}.{name}.{key}: range [{value[0]}, {value[1]}] has lo > hi")
            steps.append(Step(str(name), params, float(p)))
    return steps


PRESETS: dict[str, list[Any]] = {
    "light": [
        {"HorizontalFlip": {"p": 0.5}},
        {"RandomBrightnessContrast": {"brightness_limit": 0.1, "contrast_limit": 0.1, "p": 0.5}},
    ],
    "medium": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"scale": [0.9, 1.1], "translate_percent": [-0.05, 0.05], "rotate": [-15, 15], "p": 0.7}},
        {"RandomBrightnessContrast": {"brightness_limit": 0.2, "contrast_limit": 0.2, "p": 0.5}},
        {"OneOf": {"transforms": [{"GaussianBlur": {"blur_limit": [3, 5]}}, {"noise": {"psnr": [28, 36]}}],
                   "p": 0.3}},
    ],
    "heavy": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"scale": [0.8, 1.2], "translate_percent": [-0.1, 0.1], "rotate": [-30, 30], "shear": [-10, 10],
                    "p": 0.9}},
        {"RandomBrightnessContrast": {"brightness_limit": 0.3, "contrast_limit": 0.3, "p": 0.7}},
        {"SomeOf": {"n": 2, "transforms": [{"GaussianBlur": {"blur_limit": [3, 7]}}, {"noise": {"psnr": [22, 32]}},
                                           {"CoarseDropout": {"num_holes_range": [1, 4]}},
                                           {"ElasticTransform": {"alpha": 30, "sigma": 5}}], "p": 0.6}},
    ],
}


@dataclass
class LoadedRecipe:
    recipe: Recipe
    steps: list[Step]
    text: str  # the file as written (goes into provenance hashes)


def load_recipe(path: str | os.PathLike) -> LoadedRecipe:
    """Read and check a recipe file (keys and types; transform names are the plugin's job)."""
    text, data, tree = read_yaml_mapping(path, "recipe file", "modality, copies, transforms, ...")
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise CuraugError(describe_validation_error(exc, str(path), tree, model=Recipe)) from None
    try:
        steps = (parse_steps(PRESETS[recipe.preset], f"preset {recipe.preset}") if recipe.preset else []) \
            + parse_steps(list(recipe.transforms))
    except CuraugError as exc:
        raise CuraugError(f"{path}: {exc}") from None
    return LoadedRecipe(recipe, steps, text)
