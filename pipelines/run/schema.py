"""The pipeline file (DESIGN.md, "Pipeline file"), parsed and checked before anything runs.

Every key is a :class:`~curate.strict.Strict` model, like the rules and recipe files: an
unknown key or a bad value is one line naming the file, the line, the dotted key and,
for an unknown key, the closest known one. The ``augment:`` block is an inline recipe
(the recipe file's keys, checked by the same code and reported at their lines here) plus
the run's ``seed`` and ``workers``; ``train:`` takes the fields of
:class:`~pipelines.train.config.TrainConfig`. Relative paths resolve against the folder
of the pipeline file, so a pipeline runs the same from any working folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from augment.recipe import Recipe
from curate.errors import CuraugError
from curate.strict import Strict, describe_validation_error, read_yaml_mapping, where_in_file
from pipelines.train.config import TrainConfig

if TYPE_CHECKING:
    from augment.recipe import LoadedRecipe
    from curate.rules.schema import Rules


class SplitSection(Strict):
    """``curaug split``'s settings: ratios train,val,test; K folds over train+val (0: none);
    shifted data: ``domain`` (a column) and ``target`` (its target-domain value) put the
    target's rows in val and test and the others in train and train_val."""

    ratios: tuple[float, float, float] = (0.6, 0.2, 0.2)
    folds: int = Field(0, ge=0)
    seed: int = 0
    group: Optional[str] = None
    stable: bool = False
    multilabel_sep: Optional[str] = Field(None, min_length=1)
    domain: Optional[str] = Field(None, min_length=1)
    target: Optional[str] = None

    @field_validator("target", mode="before")
    @classmethod
    def _value_as_text(cls, v: Any) -> Any:
        # YAML reads `target: 2009` as a number; the split compares it with the column's values
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _domain_and_target(self) -> "SplitSection":
        if (self.domain is None) != (self.target is None):
            given, missing = ("domain", "target") if self.target is None else ("target", "domain")
            raise ValueError(f"{given} needs {missing} as well: a domain split names the column and the target "
                             "domain's value")
        return self

    @field_validator("ratios")
    @classmethod
    def _sum_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 for r in v):
            raise ValueError(f"ratios {list(v)} must be non-negative")
        if abs(sum(v) - 1) > 1e-6:
            raise ValueError(f"ratios {list(v)} sum to {sum(v):g}, not 1")
        return v

    @field_validator("folds")
    @classmethod
    def _not_one(cls, v: int) -> int:
        if v == 1:
            raise ValueError("1 fold is no cross-validation; give 0 (none) or at least 2")
        return v


class SearchSection(Strict):
    """``augment.search``: RandAugment's N and magnitude (0-10) ranges, the trial count, the
    pool (default: the plugin's) and the epochs of each trial's fits (default: train's)."""

    n: tuple[int, int] = (1, 2)
    magnitude: tuple[int, int] = (1, 10)
    trials: int = 12
    pool: Optional[list[str]] = None
    epochs: Optional[int] = Field(None, ge=1)

    def space(self) -> dict[str, Any]:
        return {"n": list(self.n), "magnitude": list(self.magnitude), "trials": self.trials, "pool": self.pool}


class AugmentSection(Recipe):
    """An inline recipe plus the run seed (each sample's seed derives from it) and the
    worker count (which never changes the files). The modality's own keys pass through
    here; :func:`augment.recipe_file.load_recipe` checks them with the plugin's model."""

    model_config = ConfigDict(extra="allow")

    gate: Optional[dict[str, Any]] = None  # the modality's own gate, checked with its recipe
    seed: int = 0
    workers: int = Field(1, ge=1)
    search: Optional[SearchSection] = None

    def recipe_mapping(self) -> dict[str, Any]:
        """The recipe part, as a recipe file would hold it (keys as written)."""
        return self.model_dump(mode="json", exclude={"seed", "workers", "search"}, exclude_unset=True)


class AblationSection(Strict):
    """Train with and without the augmentation stage over ``seeds`` seeds."""

    seeds: int = Field(3, ge=1)


class CardSection(Strict):
    """The dataset card's only hand-written words (everything else is measured)."""

    license: Optional[str] = None
    description: Optional[str] = None


class LearningCurveSection(Strict):
    """Train on growing shares of train over ``seeds`` seeds and fit val error = a n^-b + c."""

    fractions: tuple[float, ...] = (0.1, 0.2, 0.4, 0.7, 1.0)
    seeds: int = Field(3, ge=1)
    target_error: Optional[float] = Field(None, gt=0, lt=1)

    @field_validator("fractions")
    @classmethod
    def _increasing_shares(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        from pipelines.train.learning_curve import fractions_problem

        problem = fractions_problem(v)
        if problem:
            raise ValueError(f"fractions {list(v)}: {problem}")
        return v


class TrainSection(TrainConfig):
    """``train:``: the training settings plus where augmentation happens. ``offline``
    trains on the augment stage's corpus; ``online`` on the split rows, each drawn afresh
    every epoch from ``recipe`` (a recipe file) or else the ``augment:`` recipe. Unset:
    online when ``recipe`` is given, else offline."""

    augment: Optional[Literal["online", "offline"]] = None


class EngineSection(Strict):
    name: Literal["local", "dask"] = "local"
    scheduler: Optional[str] = None

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> "EngineSection":
        if self.scheduler and self.name != "dask":
            raise ValueError("a scheduler needs name: dask")
        return self


class Pipeline(Strict):
    out: str
    source: str
    label: str = "label"
    modality: Optional[Literal["image", "audio", "text", "tabular"]] = None
    rules: Optional[str] = None
    split: Optional[SplitSection] = None
    augment: Optional[AugmentSection] = None
    train: Optional[TrainSection] = None
    ablation: Optional[AblationSection] = None
    card: Optional[CardSection] = None
    learning_curve: Optional[LearningCurveSection] = None
    engine: EngineSection = Field(default_factory=EngineSection)


@dataclass
class LoadedPipeline:
    """A checked pipeline file with its paths resolved and its rules and recipe loaded."""

    path: Path
    config: Pipeline
    tree: Any
    out: Path
    source: Path
    rules: "Rules | None" = None
    rules_data: "dict[str, Any] | None" = None   # the rules file's keys, as written (comments aside)
    recipe: "LoadedRecipe | None" = None
    init: "Path | None" = None                   # train.init, resolved
    train_recipe: "Path | None" = None           # train.recipe, resolved

    def where(self, *loc: Any) -> str:
        """``FILE line N`` of a key path, for messages."""
        return where_in_file(str(self.path), self.tree, list(loc))

    def train_settings(self) -> dict[str, Any]:
        """The ``train:`` fields for :func:`pipelines.train.run.train` (label and paths
        resolved; an online run's recipe as it trains with it)."""
        settings = self.config.train.model_dump(mode="json", exclude={"label", "augment"})
        domain = self.config.split.domain if self.config.split is not None else None
        if domain is not None and domain not in settings["exclude"]:
            # the split's domain column says which domain a row is from, not its class: in val
            # and test it holds the one value training never sees
            settings["exclude"] = [*settings["exclude"], domain]
        if self.init is not None:
            settings["init"] = str(self.init)
        settings["recipe"] = self.online_recipe() if self.train_augment() == "online" else None
        return settings

    def train_augment(self) -> str:
        """Where the train stage augments: ``online``, ``offline`` or ``none``."""
        chosen = self.config.train.augment
        if chosen is not None:
            return chosen
        if self.train_recipe is not None:
            return "online"
        return "offline" if self.config.augment is not None else "none"

    def online_recipe(self) -> "str | dict[str, Any] | None":
        """The recipe drawn on the fly: ``train.recipe``'s file, else the ``augment:`` recipe
        (the one its search chose, ``out/recipe.yaml``, when it searches)."""
        if self.train_recipe is not None:
            return str(self.train_recipe)
        if self.config.augment is not None and self.config.augment.search is not None:
            return str(self.out / "recipe.yaml")
        return self.config.augment.recipe_mapping() if self.config.augment is not None else None


def load_pipeline(path: str | os.PathLike) -> LoadedPipeline:
    """Read and check a pipeline file; every error is a :class:`CuraugError` naming the
    file, the line and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "p.yaml").write_text("out: runs/x\\nsource: data.csv\\nsplit: {ratio: [0.5, 0.5, 0]}\\n")
    >>> load_pipeline(folder / "p.yaml")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: .../p.yaml line 3: unknown key 'ratio' at split.ratio (did you mean 'ratios'?)
    """
    source_name = str(path)
    _, data, tree = read_yaml_mapping(path, "pipeline file", "out, source, label, rules, split, augment, train, ...")
    try:
        config = Pipeline.model_validate(data)
    except ValidationError as exc:
        raise CuraugError(describe_validation_error(exc, source_name, tree, model=Pipeline)) from None
    base = Path(path).resolve().parent
    loaded = LoadedPipeline(Path(path), config, tree, out=(base / config.out).resolve(),
                            source=(base / config.source).resolve())
    _check_sections(loaded)
    _check_paths(loaded)
    if config.rules is not None:
        _load_rules(loaded, base)
    if config.augment is not None and config.augment.search is not None:
        _check_search(loaded)
    elif config.augment is not None:
        from augment.recipe_file import load_recipe

        loaded.recipe = load_recipe(config.augment.recipe_mapping(), within=(source_name, tree, ["augment"]))
    if config.train is not None and config.train.recipe is not None:
        loaded.train_recipe = (base / str(config.train.recipe)).resolve()
        if not loaded.train_recipe.is_file():
            raise CuraugError(f"{loaded.where('train', 'recipe')}: train.recipe: no such recipe file "
                              f"{loaded.train_recipe}")
    if config.train is not None:
        _check_train_augment(loaded)
    if config.train is not None and config.train.init is not None:
        loaded.init = (base / config.train.init).resolve()
        if not loaded.init.is_file():
            raise CuraugError(f"{loaded.where('train', 'init')}: train.init: no such checkpoint {loaded.init}")
    return loaded


def _check_sections(loaded: LoadedPipeline) -> None:
    """Sections that need another one: only the train split is augmented and trained on."""
    config = loaded.config
    for key in ("augment", "train"):
        if getattr(config, key) is not None and config.split is None:
            raise CuraugError(f"{loaded.where(key)}: {key}: needs a split: section (only the train split is "
                              f"{'augmented' if key == 'augment' else 'trained on'})")
    if config.ablation is not None and (config.train is None or (config.augment is None
                                                                  and config.train.recipe is None)):
        raise CuraugError(f"{loaded.where('ablation')}: ablation: compares training with and without "
                          "augmentation, so it needs train: and a recipe (augment:, or train.recipe)")
    if config.learning_curve is not None and config.train is None:
        raise CuraugError(f"{loaded.where('learning_curve')}: learning_curve: trains the train: section's model on "
                          "subsets of train, so it needs a train: section")
    if config.train is not None and "label" in config.train.model_fields_set:
        raise CuraugError(f"{loaded.where('train', 'label')}: train.label: the pipeline's label: is the "
                          "training label; remove train.label")


def _check_search(loaded: LoadedPipeline) -> None:
    """``augment.search``: a space the modality's pool allows, folds to score it on, and the
    recipe's other keys as a recipe file would take them (the searched transforms replace
    ``transforms``, so there are none to give)."""
    from augment.randaugment import build_recipe
    from augment.recipe_file import load_recipe
    from pipelines.train.recipe_search import check_space

    augment = loaded.config.augment
    if augment.transforms or augment.preset:
        key = "transforms" if augment.transforms else "preset"
        raise CuraugError(f"{loaded.where('augment', key)}: augment.{key}: the search chooses the transforms; "
                          f"give augment.search or augment.{key}, not both")
    if loaded.config.split.folds < 2:
        raise CuraugError(f"{loaded.where('augment', 'search')}: augment.search: scores each trial on validation "
                          "folds; give split.folds >= 2")
    try:
        space = check_space(augment.modality, **augment.search.space())
    except CuraugError as exc:
        raise CuraugError(f"{loaded.where('augment', 'search', exc.param or 'n')}: augment.search.{exc}") from None
    base = augment.recipe_mapping()
    load_recipe({**base, **build_recipe(augment.modality, 1, 0, space.pool, copies=base.get("copies") or 1),
                 **{k: v for k, v in base.items() if k not in ("transforms", "copies")}},
                within=(str(loaded.path), loaded.tree, ["augment"]))


def _check_train_augment(loaded: LoadedPipeline) -> None:
    """``train.augment`` against what the file gives it to augment with."""
    train, augment = loaded.config.train, loaded.config.augment
    if isinstance(train.recipe, dict):
        raise CuraugError(f"{loaded.where('train', 'recipe')}: train.recipe: give a recipe file (an inline "
                          "recipe is the augment: section, trained on with train.augment: online)")
    if train.augment == "offline" and train.recipe is not None:
        raise CuraugError(f"{loaded.where('train', 'augment')}: train.augment: offline trains on the augment: "
                          "corpus, but train.recipe is drawn online; remove one of them")
    if train.augment == "offline" and augment is None:
        raise CuraugError(f"{loaded.where('train', 'augment')}: train.augment: offline trains on the augment: "
                          "corpus; add an augment: section")
    if train.augment == "online" and train.recipe is None and augment is None:
        raise CuraugError(f"{loaded.where('train', 'augment')}: train.augment: online needs a recipe: "
                          "train.recipe, or an augment: section")


def _check_paths(loaded: LoadedPipeline) -> None:
    if not loaded.source.exists():
        raise CuraugError(f"{loaded.where('source')}: source: no such file or folder {loaded.source}")
    if loaded.out.exists() and not loaded.out.is_dir():
        raise CuraugError(f"{loaded.where('out')}: out: {loaded.out} is a file; give a folder")
    if loaded.source.is_dir() and (loaded.out == loaded.source or loaded.source in loaded.out.parents):
        # ingest would read the run's own outputs as new samples on the next run
        raise CuraugError(f"{loaded.where('out')}: out: {loaded.out} is inside the source folder; "
                          "write the run elsewhere")
    if loaded.out in loaded.source.parents:
        # the run's files would land among the user's data (the data is read-only)
        raise CuraugError(f"{loaded.where('out')}: out: {loaded.out} holds the source {loaded.source}; "
                          "write the run in a folder of its own (e.g. out: runs/NAME)")


def _load_rules(loaded: LoadedPipeline, base: Path) -> None:
    from curate.rules.schema import parse_rules

    rules_path = base / loaded.config.rules
    if not rules_path.is_file():
        raise CuraugError(f"{loaded.where('rules')}: rules: no such rules file {rules_path}")
    _, data, tree = read_yaml_mapping(rules_path, "rules file", "label, columns, dataset, ...")
    loaded.rules = parse_rules(data, source=str(rules_path), tree=tree)
    loaded.rules_data = data
