"""The augmentation recipe (DESIGN.md, "Augmentation recipe"), parsed and checked.

A transform entry is ``Name: {param: value, ..., p: 0.5}``; a scalar is fixed and a
two-element list ``[lo, hi]`` is drawn per sample (where the backend takes a range
itself, e.g. albumentations' ``Rotate.limit``, the range is passed through and the value
it drew is recorded). ``OneOf: {transforms: [...], p}`` applies one of its children
(weighted by their ``p``); ``SomeOf: {n: 2, transforms: [...], p}`` applies ``n`` of them.
``preset: light | medium | heavy`` starts from a tested list that ``transforms`` extends;
one of the two must name at least one transform.

Every error names the file, the line, the dotted key and what is wrong with it, like the
rules file's: ``recipe.yaml line 4: transforms.0.Rotate.limit: ...``. The transform names
and parameters are the plugin's to judge (:meth:`augment.plugin.Plugin.check`); this module
puts its answer at its place in the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Literal, Mapping, Optional, Union

from pydantic import AfterValidator, Field, ValidationError, model_validator

from augment.plugin import REGISTRY, Plugin
from curate.errors import CuraugError, did_you_mean
from curate.strict import Strict, describe_validation_error, read_yaml_mapping, where_in_file

if TYPE_CHECKING:
    import numpy as np


class Balance(Strict):
    target: Union[Literal["max"], int] = "max"


class Gate(Strict):
    """Reject an output and redraw it (another seed attempt) when it fails a test."""

    min_std: float = Field(1.0, ge=0)             # near-constant images (pixel std, 0-255 scale)
    max_box_area_loss: float = Field(0.5, ge=0, le=1)  # share of box area lost to crops/moves
    max_tries: int = Field(5, ge=1, le=50)
    # bounds on an output's similarity to its source (text: character 3-gram Jaccard), e.g.
    # min 0.5 drops copies too garbled to keep their label, max 0.98 drops near-copies
    min_similarity: float = Field(0.0, ge=0, le=1)
    max_similarity: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> "Gate":
        if self.min_similarity > self.max_similarity:
            raise ValueError(f"min_similarity {self.min_similarity:g} > max_similarity {self.max_similarity:g}")
        return self


class Targets(Strict):
    """Manifest columns that travel with the image through geometric transforms."""

    mask: Optional[str] = None        # column holding a mask file path (relative to root)
    bboxes: Optional[str] = None      # column holding boxes as JSON [[x1, y1, x2, y2, label], ...]
    bbox_format: Literal["pascal_voc", "coco", "yolo", "albumentations"] = "pascal_voc"
    keypoints: Optional[str] = None   # column holding points as JSON [[x, y], ...]


def _regex(pattern: str) -> str:
    """A ``protect:`` entry: a regular expression whose matches no transform may change."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from None
    return pattern


class LogMel(Strict):
    """Log-mel spectrogram parameters (``augment.audio.spectrogram.log_mel``)."""

    n_mels: int = Field(64, ge=1, le=512)
    n_fft: int = Field(1024, ge=16, le=65536)
    hop_length: int = Field(256, ge=1, le=65536)


class Recipe(Strict):
    modality: str  # a registered plugin's name: image, text, audio or a third party's
    copies: Optional[int] = Field(None, ge=0)
    balance: Optional[Balance] = None
    preset: Optional[Literal["light", "medium", "heavy"]] = None
    transforms: list[Any] = Field(default_factory=list)
    gate: Optional[Gate] = None
    targets: Targets = Field(default_factory=Targets)
    format: Optional[Literal["png", "jpg", "webp", "wav", "flac", "same"]] = "same"
    # audio: what to write (a waveform, or a .npy log-mel array computed with ``log_mel``),
    # the sample rate to resample to (kept when not given), and how a copy past full scale
    # is kept from clipping (scaled to a 0.999 peak, or a soft limiter above -1 dBFS)
    output: Optional[Literal["waveform", "spectrogram"]] = None
    log_mel: Optional[LogMel] = None
    resample: Optional[int] = Field(None, gt=0, le=384000)
    clip_guard: Optional[Literal["peak", "limit"]] = None
    protect: list[Annotated[str, AfterValidator(_regex)]] = Field(default_factory=list)  # never changed

    @model_validator(mode="after")
    def _one_mode(self) -> "Recipe":
        if self.copies is not None and self.balance is not None:
            raise ValueError("give either 'copies' or 'balance', not both")
        audio_only = {"wav": self.format in ("wav", "flac"), "output": self.output is not None,
                      "log_mel": self.log_mel is not None, "resample": self.resample is not None,
                      "clip_guard": self.clip_guard is not None}
        if self.modality != "audio" and any(audio_only.values()):
            key = next(k for k, v in audio_only.items() if v)
            raise ValueError(f"'{'format: ' + str(self.format) if key == 'wav' else key}' is for audio recipes "
                             f"(this one is {self.modality})")
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
    loc: tuple = ()  # where the entry sits in the recipe: ("transforms", 0, "Rotate")

    @property
    def is_group(self) -> bool:
        return self.name in ("OneOf", "SomeOf")


def draw_plan(steps: list[Step], rng: "np.random.Generator", draw_leaf: "Callable[[Step], dict]") -> list[dict]:
    """The plan of one sample: each step runs with its ``p``; a ``OneOf`` group runs one
    child (weighted by the children's ``p``), a ``SomeOf`` group ``n`` of them; a leaf's
    plan entry is ``draw_leaf(step)``. Draws come from ``rng`` alone, in recipe order."""
    import numpy as np

    plan: list[dict] = []
    for step in steps:
        if rng.random() >= step.p:
            continue
        if step.name == "OneOf":
            weights = np.array([c.p for c in step.children], dtype=float)
            weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1 / len(weights))
            chosen = [step.children[int(rng.choice(len(step.children), p=weights))]]
            plan += draw_plan([_always(c) for c in chosen], rng, draw_leaf)
        elif step.name == "SomeOf":
            idx = rng.choice(len(step.children), size=step.n, replace=step.replace)
            plan += draw_plan([_always(step.children[int(i)]) for i in sorted(idx)], rng, draw_leaf)
        else:
            plan.append(draw_leaf(step))
    return plan


def _always(step: Step) -> Step:
    """A group's chosen child runs for sure (the group's own p was already drawn)."""
    from dataclasses import replace

    return replace(step, p=1.0)


class StepError(CuraugError):
    """A transform entry that cannot be parsed; ``loc`` is its key path in the recipe."""

    def __init__(self, loc: list, message: str):
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc = loc


def parse_steps(entries: list[Any], where: tuple = ("transforms",)) -> list[Step]:
    """Parse transform entries into :class:`Step` trees (names are checked by the plugin)."""
    steps = []
    for i, entry in enumerate(entries):
        here = [*where, i]
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise StepError(here, "expected one mapping 'Name: {params}'")
        (name, params), = entry.items()
        here.append(str(name))
        if not isinstance(params or {}, dict):
            raise StepError(here, "parameters must be a mapping")
        params = dict(params or {})
        p = params.pop("p", 1.0)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise StepError([*here, "p"], f"must be a number in [0, 1], got {p!r}")
        if name in ("OneOf", "SomeOf"):
            children = params.pop("transforms", None)
            if not isinstance(children, list) or not children:
                raise StepError(here, "needs 'transforms: [...]'")
            n = params.pop("n", 1)
            replace = params.pop("replace", False)
            if params:
                raise StepError(here, f"unknown key(s) {', '.join(map(str, params))} "
                                      "(a group takes transforms, p, and for SomeOf n and replace)")
            kids = parse_steps(children, (*here, "transforms"))
            if name == "SomeOf" and (not isinstance(n, int) or not 1 <= n <= (len(kids) if not replace else 10**6)):
                raise StepError([*here, "n"], f"must be an integer from 1 to {len(kids)}, got {n!r}")
            steps.append(Step(name, {}, float(p), kids, int(n) if name == "SomeOf" else 1, bool(replace), tuple(here)))
        else:
            for key, value in params.items():
                if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value) \
                        and value[0] > value[1]:
                    raise StepError([*here, key], f"range [{value[0]}, {value[1]}] has lo > hi")
            steps.append(Step(str(name), params, float(p), loc=tuple(here)))
    return steps


def leaves(steps: list[Step]) -> Iterator[Step]:
    """Every transform of ``steps``, groups opened, in file order."""
    for step in steps:
        if step.is_group:
            yield from leaves(step.children)
        else:
            yield step


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
    source: str = "recipe"  # the file it came from, for messages


def load_recipe(source: str | os.PathLike | Mapping[str, Any], *,
                within: tuple[str, Any, list] | None = None) -> LoadedRecipe:
    """Read a recipe file (or take a mapping) and check it all: keys and types here, the
    transform names and parameters by the modality's plugin. Errors name file and line.

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
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise CuraugError(describe_validation_error(exc, name, tree, prefix, model=Recipe)) from None
    if recipe.modality not in REGISTRY:
        known = REGISTRY.names()
        raise CuraugError(f"{where_in_file(name, tree, [*prefix, 'modality'])}: {'.'.join([*prefix, 'modality'])}: "
                          f"no augmentation plugin for '{recipe.modality}'{did_you_mean(recipe.modality, known)}")
    try:
        steps = (parse_steps(PRESETS[recipe.preset], (*prefix, "preset")) if recipe.preset else []) \
            + parse_steps(list(recipe.transforms), (*prefix, "transforms"))
    except StepError as exc:
        raise CuraugError(f"{where_in_file(name, tree, exc.loc)}: {exc}") from None
    if not steps:
        raise CuraugError(f"{where_in_file(name, tree, [*prefix, 'transforms'])}: "
                          f"{'.'.join([*prefix, 'transforms'])}: empty; list at least one "
                          f"transform or choose a preset ({', '.join(PRESETS)})")
    _check_steps(REGISTRY.get(recipe.modality)(), steps, name, tree)
    return LoadedRecipe(recipe, steps, text, name)


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
