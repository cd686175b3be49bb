"""The augmentation recipe (DESIGN.md, "Augmentation recipe"): the keys every recipe has,
and its transform entries parsed into steps.

A transform entry is ``Name: {param: value, ..., p: 0.5}``; a scalar is fixed and a
two-element list ``[lo, hi]`` is drawn per sample (where the backend takes a range
itself, e.g. albumentations' ``Rotate.limit``, the range is passed through and the value
it drew is recorded). ``OneOf: {transforms: [...], p}`` applies one of its children
(weighted by their ``p``); ``SomeOf: {n: 2, transforms: [...], p}`` applies ``n`` of them.
``preset: NAME`` starts from a list the modality's plugin declares, which ``transforms``
extends; one of the two must name at least one transform.

:class:`Recipe` holds the keys of every modality; a plugin's own keys (an image recipe's
``targets``, an audio recipe's ``resample``...) are the fields of the plugin's subclass of
it (:attr:`augment.plugin.Plugin.recipe_model`), and its presets its own
(:attr:`augment.plugin.Plugin.presets`): a new modality adds a folder and touches no shared
file. :mod:`augment.recipe_file` reads and checks a recipe file against its plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Optional, Union

from pydantic import Field, model_validator

from curate.errors import CuraugError
from curate.strict import Strict

if TYPE_CHECKING:
    import numpy as np


class Balance(Strict):
    target: Union[Literal["max"], int] = "max"


class LabelPreserving(Strict):
    """The label-preserving test (:mod:`augment.label_gate`): a classifier fitted on the
    original rows, out of fold, must still put an output in its source's class with at
    least ``min_confidence``. ``max_tries`` here is the gate's own, spelt where the test is.
    ``model``: ``auto`` (that classifier), or the folder of a ``curaug train`` run (or its
    ``model.pt``), relative to the working folder, judging every copy itself."""

    min_confidence: float = Field(0.5, ge=0, le=1)
    max_tries: Optional[int] = Field(None, ge=1, le=50)
    model: str = Field("auto", min_length=1)
    folds: int = Field(5, ge=2, le=20)


class Gate(Strict):
    """Reject an output and redraw it (another seed attempt) when it fails the plugin's test
    (:meth:`augment.plugin.Plugin.gate`) or, with ``label_preserving``, the label test; a
    plugin's subclass adds its test's limits."""

    max_tries: int = Field(5, ge=1, le=50)
    label_preserving: Optional[LabelPreserving] = None

    @model_validator(mode="after")
    def _one_max_tries(self) -> "Gate":
        own = self.label_preserving.max_tries if self.label_preserving else None
        if own is not None and "max_tries" in self.model_fields_set and own != self.max_tries:
            raise ValueError(f"max_tries is given twice ({self.max_tries} and label_preserving.max_tries {own}); "
                             "give it once")
        return self

    @property
    def tries(self) -> int:
        """Draws a copy gets before it is given up on."""
        own = self.label_preserving.max_tries if self.label_preserving else None
        return self.max_tries if own is None else own


class Recipe(Strict):
    """The keys of every recipe (a plugin's subclass adds its own)."""

    modality: str  # a registered plugin's name: image, text, audio or a third party's
    copies: Optional[int] = Field(None, ge=0)
    balance: Optional[Balance] = None
    preset: Optional[str] = None
    transforms: list[Any] = Field(default_factory=list)
    gate: Optional[Gate] = None

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


@dataclass
class LoadedRecipe:
    recipe: Recipe
    steps: list[Step]
    text: str  # the file as written (goes into provenance hashes)
    source: str = "recipe"  # the file it came from, for messages
