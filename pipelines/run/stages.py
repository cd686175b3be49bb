"""The stages of a pipeline, in order: one small class each.

A stage says whether the pipeline file asks for it (:meth:`Stage.applies`), which
settings decide its output (:meth:`Stage.settings`: keyed, so changing one reruns it),
which files it reads (:meth:`Stage.inputs`: another stage's outputs, or the source) and
writes (:meth:`Stage.outputs`, under ``out/``), and how it runs. Settings that never
change the output (workers, the engine) are not keyed. Figures go to a JSON beside the
data (``validation.json``, ``split.json``...) without timings, so that a rerun writing the
same data writes the same bytes and nothing downstream reruns for nothing.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, ContextManager

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.run.schema import LoadedPipeline

#: Where the report stage's code lives; until it exists the stage is listed as not built.
REPORT_MODULE = "pipelines.report.pipeline"


def _quiet(*args: Any) -> ContextManager[None]:
    import contextlib

    return contextlib.nullcontext(None)


@dataclass
class Display:
    """How a run talks: one line at a time, a progress bar for media work, epoch lines
    for training. The defaults are silent (the Python API); the CLI draws on the terminal."""

    echo: Callable[[str], None] = lambda line: None
    bar: Callable[[str], ContextManager[Any]] = _quiet
    epochs: Callable[[], ContextManager[Any]] = _quiet


@dataclass
class StageContext:
    pipeline: "LoadedPipeline"
    present: list[str]            # the names of this pipeline's stages, in order
    engine: str = "local"
    scheduler: str | None = None
    display: Display = field(default_factory=Display)
    done: dict[str, dict] = field(default_factory=dict)  # stage name -> what the report gets

    @property
    def out(self) -> Path:
        return self.pipeline.out

    @property
    def label(self) -> str:
        return self.pipeline.config.label


@dataclass
class Outcome:
    """``success`` False: a check failed (the stages after it but the report do not run; exit 1)."""

    success: bool = True
    summary: str = ""


class Stage:
    name: ClassVar[str]
    #: the stage's figures (JSON, relative to ``out/``), handed to the report
    figures: ClassVar[str | None] = None

    def applies(self, p: "LoadedPipeline") -> bool:
        return True

    def built(self) -> bool:
        return True

    def settings(self, p: "LoadedPipeline") -> dict[str, Any]:
        return {}

    def inputs(self, p: "LoadedPipeline", present: list[str]) -> dict[str, Path]:
        """Files read, by the name the plan shows (relative to ``out/``, or the source as written)."""
        return {}

    def outputs(self, p: "LoadedPipeline") -> dict[str, Path]:
        return {}

    def listed_files(self, p: "LoadedPipeline") -> list[Path] | None:
        """Files the stage read that only its run could name (the media a source table
        lists): hashed after the run and keyed from then on."""
        return None

    def run(self, ctx: StageContext) -> Outcome:
        raise NotImplementedError


def _under(p: "LoadedPipeline", *names: str) -> dict[str, Path]:
    return {name: p.out / name.rstrip("/") for name in names}


def _load(path: Path) -> "pd.DataFrame":
    from curate.io.manifest import load_data

    return load_data(path)


def _write_figures(path: Path, figures: dict[str, Any], drop: tuple[str, ...] = ()) -> None:
    from curate.io.atomic import write_json_atomic

    write_json_atomic(path, {k: v for k, v in figures.items() if k not in drop})


def _label_or_none(df: "pd.DataFrame", label: str) -> str | None:
    return label if label in df.columns else None


class Ingest(Stage):
    name = "ingest"
    figures = "ingest.json"

    def settings(self, p):
        # the resolved source path is keyed: the manifest's roots point at it
        return {"source": str(p.source), "modality": p.config.modality}

    def inputs(self, p, present):
        return {p.config.source: p.source}

    def outputs(self, p):
        return _under(p, "manifest.parquet", "ingest.json")

    def listed_files(self, p):
        if not p.source.is_file():
            return None  # a folder's files are all hashed as its input
        from curate.io.manifest import media_file

        df = _load(p.out / "manifest.parquet")
        if "path" not in df.columns or "root" not in df.columns:
            return []
        rows = df[df["path"].notna() & df["root"].notna()]
        return [media_file(root, path) for root, path in zip(rows["root"], rows["path"])]

    def run(self, ctx):
        from curate.io.ingest import ingest

        with ctx.display.bar("decoding") as progress:
            result = ingest(ctx.pipeline.source, ctx.pipeline.config.modality, progress=progress,
                            engine=ctx.engine, scheduler=ctx.scheduler, output=ctx.out / "manifest.parquet")
        # cache hits and timings differ between identical runs: not figures of the data
        _write_figures(ctx.out / "ingest.json", result.summary, drop=("seconds", "per_second", "decoded", "cached"))
        return Outcome(True, f"{result.summary['rows']} rows")


class Validate(Stage):
    """The rules' column and dataset checks on the ingested manifest (the ``splits:``
    section waits for :class:`ValidateSplits`)."""

    name = "validate"
    figures = "validation.json"

    def applies(self, p):
        return p.rules is not None

    def settings(self, p):
        rules = {k: v for k, v in (p.rules_data or {}).items() if k not in ("splits", "clean", "normalize")}
        return {"rules": rules, "label": p.config.label}

    def inputs(self, p, present):
        return _under(p, "manifest.parquet")

    def outputs(self, p):
        return _under(p, "validation.json")

    def run(self, ctx):
        rules = ctx.pipeline.rules.model_copy(update={"splits": None, "clean": [], "normalize": None})
        return _validate(ctx, ctx.out / "manifest.parquet", rules, ctx.out / "validation.json")


def _validate(ctx: StageContext, data: Path, rules, target: Path) -> Outcome:
    """The checks in memory, or in partitions on the Dask engine (the same results) unless
    the rules ask for a check that reads the whole table at once: then in memory."""
    from curate.api import validate

    note = ""
    if ctx.engine == "dask":
        from curate.checks.validate import validate as validate_frame
        from curate.checks.validate import whole_table_checks
        from curate.partitioned.table import engine_scope, open_frame

        with engine_scope("dask", ctx.scheduler):
            frame = open_frame(data)
            label = ctx.label if ctx.label in frame.columns else None
            unsupported = whole_table_checks(frame, rules, label=label)
            if not unsupported:
                result = validate_frame(frame, rules, label=label, source=data.name)
        if unsupported:
            note = f" (in memory: {', '.join(unsupported)} reads the whole table at once)"
    if ctx.engine != "dask" or note:
        df = _load(data)
        result = validate(df, rules, label=_label_or_none(df, ctx.label))
    result.source = data.name
    payload = result.to_dict()
    _write_figures(target, payload)
    stats = payload["statistics"]
    return Outcome(result.success, f"{stats['successful']} of {stats['evaluated']} checks passed{note}")


def _clean_parts(p: "LoadedPipeline") -> "tuple[Any, Any, int]":
    """The rules' clean work as ``(before the split, after it, index of after's first
    step)``. With a split, every step that fits a statistic (imputation, IQR or percentile
    clipping) and the normaliser wait for it, so they are fitted on the train rows only;
    the row-level steps before the first of them run on every row first. Without a split
    everything runs before (on every row: there is no test split to leak)."""
    from curate.clean.steps import before_and_after_split

    if p.rules is None:
        return None, None, 0
    if p.config.split is None:
        return p.rules.model_copy(update={"splits": None}), None, 0
    return before_and_after_split(p.rules.model_copy(update={"splits": None}))


def _has_work(rules) -> bool:
    return rules is not None and bool(rules.clean or rules.normalize)


def _split_data(p: "LoadedPipeline", present: list[str]) -> str:
    """The split manifest the later stages read: cleaned after the split when that ran."""
    return "split.clean.parquet" if "clean_fitted" in present else "split.parquet"


def _clean_settings(p: "LoadedPipeline") -> dict[str, Any]:
    data = p.rules_data or {}
    return {"rules": {k: data.get(k) for k in ("label", "clean", "normalize")}, "label": p.config.label,
            "split": p.config.split is not None}


def _run_clean(ctx: StageContext, rules, source: Path, target: Path, figures: Path, *, split_col: str | None,
               first_index: int) -> "Outcome":
    from curate.clean.normalize import normalizer_params_path
    from curate.clean.steps import clean
    from curate.io.atomic import write_json_atomic
    from curate.io.manifest import save_manifest

    df = _load(source)
    result = clean(df, rules, label=_label_or_none(df, ctx.label), split_col=split_col, first_index=first_index)
    save_manifest(result.data, target)
    if result.normalizer is not None:
        write_json_atomic(normalizer_params_path(target), result.normalizer)
    fitted = sorted({e["fit_on"] for e in result.log if "fit_on" in e})
    _write_figures(figures, {"rows_in": len(df), "rows_out": len(result.data), "fit_on": fitted, "log": result.log})
    where = f"; fitted on {' and '.join(fitted)} rows" if fitted else ""
    return Outcome(True, f"{len(df)} rows in, {len(result.data)} out{where}")


class Clean(Stage):
    """The rules' clean steps that need no statistic, on every row before the split (all of
    them, and the normaliser, when the pipeline does not split)."""

    name = "clean"
    figures = "clean.json"

    def applies(self, p):
        return _has_work(_clean_parts(p)[0])

    def settings(self, p):
        return _clean_settings(p)

    def inputs(self, p, present):
        return _under(p, "manifest.parquet")

    def outputs(self, p):
        names = ["clean.parquet", "clean.json"] + (["clean.normalize.json"] if _clean_parts(p)[0].normalize else [])
        return _under(p, *names)

    def run(self, ctx):
        before, _, _ = _clean_parts(ctx.pipeline)
        return _run_clean(ctx, before, ctx.out / "manifest.parquet", ctx.out / "clean.parquet",
                          ctx.out / "clean.json", split_col=None, first_index=0)


class CleanFitted(Stage):
    """The clean steps that fit a statistic, the ones after them and the normaliser, on the
    split manifest: every median, clipping bound and normaliser comes from the train rows
    and is applied to every row (the course's "never let test data decide")."""

    name = "clean_fitted"
    figures = "clean_fitted.json"

    def applies(self, p):
        return _has_work(_clean_parts(p)[1])

    def settings(self, p):
        return _clean_settings(p)

    def inputs(self, p, present):
        return _under(p, "split.parquet")

    def outputs(self, p):
        normalizer = ["split.clean.normalize.json"] if _clean_parts(p)[1].normalize else []
        return _under(p, "split.clean.parquet", "clean_fitted.json", *normalizer)

    def run(self, ctx):
        _, after, first = _clean_parts(ctx.pipeline)
        return _run_clean(ctx, after, ctx.out / "split.parquet", ctx.out / "split.clean.parquet",
                          ctx.out / "clean_fitted.json", split_col="split", first_index=first)


class Split(Stage):
    name = "split"
    figures = "split.json"

    def applies(self, p):
        return p.config.split is not None

    def settings(self, p):
        return {"split": p.config.split.model_dump(mode="json"), "group": self._group(p), "label": p.config.label}

    @staticmethod
    def _group(p) -> str | None:
        """The split's own group, else the rules' leakage unit."""
        return p.config.split.group or (p.rules.group if p.rules is not None else None)

    def inputs(self, p, present):
        return _under(p, "clean.parquet" if "clean" in present else "manifest.parquet")

    def outputs(self, p):
        return _under(p, "split.parquet", "split.json")

    def run(self, ctx):
        from curate.io.manifest import save_manifest
        from curate.api import split

        (source,) = self.inputs(ctx.pipeline, ctx.present).values()
        section = ctx.pipeline.config.split
        settings = dict(ratios=section.ratios, folds=section.folds, group=self._group(ctx.pipeline),
                        seed=section.seed, stable=section.stable, multilabel_sep=section.multilabel_sep)
        if section.domain is not None:
            settings.update(domain=section.domain, target=section.target)
        # iterative stratification and domain splits run in memory (their partitioned form collects columns)
        if ctx.engine == "dask" and not section.multilabel_sep and section.domain is None:
            from curate.split.partitioned import split_partitioned
            from curate.partitioned.table import engine_scope, open_table

            with engine_scope("dask", ctx.scheduler):
                report = split_partitioned(open_table(source), ctx.label, ctx.out / "split.parquet", **settings)
        else:
            df, report = split(_load(source), ctx.label, return_report=True, **settings)
            save_manifest(df, ctx.out / "split.parquet")
        _write_figures(ctx.out / "split.json", report)
        sizes = report["sizes"]
        names = ("train", "train_val", "val", "test") if section.domain is not None else ("train", "val", "test")
        return Outcome(True, ", ".join(f"{name} {int(sizes.get(name, 0))}" for name in names))


class ValidateSplits(Stage):
    """The split checks: the rules' ``splits:`` section, else ratios as the split asked,
    no group in two splits, no duplicates across splits, every class in every split."""

    name = "validate_splits"
    figures = "splits.validation.json"

    def applies(self, p):
        return p.config.split is not None

    def settings(self, p):
        data = p.rules_data or {}
        return {"rules": {k: data.get(k) for k in ("label", "label_sep", "group", "splits")},
                "ratios": list(p.config.split.ratios), "group": Split._group(p), "label": p.config.label}

    def inputs(self, p, present):
        return _under(p, _split_data(p, present))

    def outputs(self, p):
        return _under(p, "splits.validation.json")

    def run(self, ctx):
        from curate.rules.schema import DomainRule, Rules, SplitRules

        p = ctx.pipeline
        own = p.rules or Rules()
        splits = own.splits or SplitRules(ratios=self._expected_ratios(ctx))
        section = p.config.split
        if section.domain is not None and splits.domain is None:
            splits = splits.model_copy(update={"domain": DomainRule(column=section.domain, target=section.target)})
        rules = Rules(label=own.label, label_sep=own.label_sep, group=Split._group(p), splits=splits)
        return _validate(ctx, ctx.out / _split_data(p, ctx.present), rules, ctx.out / "splits.validation.json")

    @staticmethod
    def _expected_ratios(ctx) -> dict[str, float]:
        """The split's ratios; for a domain split each of its four splits' share of all rows,
        from the rows of each domain (train:train_val and val:test as the ratios ask)."""
        section = ctx.pipeline.config.split
        if section.domain is None:
            return dict(zip(("train", "val", "test"), section.ratios))
        from curate.split.domain import expected_shares, target_mask

        df = _load(ctx.out / _split_data(ctx.pipeline, ctx.present))
        df = df[df["split"].notna().to_numpy()]
        in_target = target_mask(df, section.domain, section.target)
        return expected_shares(int((~in_target).sum()), int(in_target.sum()), section.ratios)


def _searched(p: "LoadedPipeline") -> bool:
    return p.config.augment is not None and p.config.augment.search is not None


class SearchRecipe(Stage):
    """``augment.search``: the recipe chosen on the folds (pipelines.train.recipe_search),
    written to ``out/recipe.yaml`` for the augment stage; the trials are kept in ``search/``."""

    name = "search_recipe"
    figures = "search/search.json"

    def applies(self, p):
        return _searched(p)

    def settings(self, p):
        return {"augment": p.config.augment.model_dump(mode="json", exclude={"workers"}),
                "train": self._train(p), "label": p.config.label, "online": self._online(p)}

    @staticmethod
    def _online(p) -> bool:
        """Trials augment as the train stage will: on the fly when it trains online."""
        return p.config.train is not None and p.train_augment() == "online"

    @staticmethod
    def _train(p) -> dict[str, Any]:
        settings = {k: v for k, v in p.train_settings().items() if k != "recipe"} if p.config.train is not None else {}
        epochs = p.config.augment.search.epochs
        return {**settings, "epochs": epochs} if epochs is not None else settings

    def inputs(self, p, present):
        return _under(p, _split_data(p, present))

    def outputs(self, p):
        return _under(p, "search/", "recipe.yaml")

    def run(self, ctx):
        from pipelines.train.recipe_search import search_recipe

        p = ctx.pipeline
        section = p.config.augment
        data = ctx.out / _split_data(p, ctx.present)
        result = search_recipe(_load(data), label=ctx.label, folder=ctx.out / "search",
                               recipe_out=ctx.out / "recipe.yaml", modality=section.modality,
                               base=section.recipe_mapping(), seed=section.seed, train=self._train(p),
                               base_dir=data.parent, engine=ctx.engine, scheduler=ctx.scheduler,
                               workers=section.workers, online=self._online(p), progress=ctx.display.echo,
                               **section.search.space())
        best, none = result["best"], result["none"]
        return Outcome(True, f"n={best['n']} magnitude={best['magnitude']} pool={'+'.join(best['pool'])}: val "
                             f"accuracy {best['score']:.3f} over {result['folds']} folds (none {none['score']:.3f})")


class Augment(Stage):
    name = "augment"
    figures = "augment.json"

    def applies(self, p):
        return p.config.augment is not None

    def settings(self, p):
        return {"augment": p.config.augment.model_dump(mode="json", exclude={"workers"}), "label": p.config.label}

    def inputs(self, p, present):
        return _under(p, _split_data(p, present), *(["recipe.yaml"] if _searched(p) else []))

    def outputs(self, p):
        return _under(p, "augmented/", "augment.json")

    def run(self, ctx):
        from augment.runner import augment_manifest

        section = ctx.pipeline.config.augment
        df = _load(ctx.out / _split_data(ctx.pipeline, ctx.present))
        if _searched(ctx.pipeline):
            from augment.recipe_file import load_recipe

            recipe = load_recipe(ctx.out / "recipe.yaml")
        else:
            recipe = ctx.pipeline.recipe
        with ctx.display.bar("augmenting") as progress:
            result = augment_manifest(df, recipe, ctx.out / "augmented", seed=section.seed,
                                      workers=section.workers, engine=ctx.engine, scheduler=ctx.scheduler,
                                      label=ctx.label, progress=progress)
        from augment.runner import RUN_FIGURES

        _write_figures(ctx.out / "augment.json", result.summary, drop=RUN_FIGURES)
        return Outcome(True, f"{result.summary['made']} samples from {result.summary['train_rows']} train rows")


class Train(Stage):
    name = "train"
    figures = "train/metrics.json"

    def applies(self, p):
        return p.config.train is not None

    def settings(self, p):
        settings = p.config.train.model_dump(mode="json", exclude={"label", "init"})
        recipe = p.online_recipe() if p.train_augment() == "online" else None
        # an online run draws the augment: recipe itself: a change to it retrains (files: by their inputs' hashes)
        return {"train": settings, "label": p.config.label, **({"online": recipe} if isinstance(recipe, dict) else {})}

    def inputs(self, p, present):
        found = _under(p, "augmented/" if _offline(p, present) else _split_data(p, present))
        if p.init is not None:
            found["train.init"] = p.init
        if p.train_recipe is not None:
            found["train.recipe"] = p.train_recipe
        elif p.train_augment() == "online" and _searched(p):
            found.update(_under(p, "recipe.yaml"))
        return found

    def outputs(self, p):
        return _under(p, "train/")

    def run(self, ctx):
        from pipelines.train.run import train

        data = ctx.out / _train_data(ctx.pipeline, ctx.present)
        try:
            with ctx.display.epochs() as callback:
                metrics = train(str(data), label=ctx.label, out=ctx.out / "train", progress=callback,
                                engine=ctx.engine, scheduler=ctx.scheduler, **ctx.pipeline.train_settings())
        except Exception as exc:
            from pipelines.train.monitor import SanityError  # imported only once training raised

            if isinstance(exc, SanityError):  # the model could not overfit a small subset: a failed check
                return Outcome(False, f"sanity check failed: {exc}")
            raise
        from pipelines.console.rounding import share

        if "test" not in metrics:
            return Outcome(True, "")
        interval = metrics["test"].get("interval")
        within = (f" ({interval['confidence'] * 100:g} % interval {share(interval['accuracy'][0])}-"
                  f"{share(interval['accuracy'][1])})" if interval else "")
        return Outcome(True, f"test accuracy {share(metrics['test']['accuracy'])}{within}")


def _offline(p: "LoadedPipeline", present: list[str]) -> bool:
    return "augment" in present and p.train_augment() == "offline"


def _train_data(p: "LoadedPipeline", present: list[str]) -> str:
    """What the train stage reads: the augmented corpus (offline), else the split rows."""
    return "augmented/manifest.parquet" if _offline(p, present) else _split_data(p, present)


class Ablation(Stage):
    """The training again, with and without the augmented rows, over ``ablation.seeds``
    seeds; compared on val (pipelines.run.ablation)."""

    name = "ablation"
    figures = "ablation.json"

    def applies(self, p):
        return p.config.ablation is not None

    def settings(self, p):
        return {"ablation": p.config.ablation.model_dump(mode="json"), **Train().settings(p)}

    def inputs(self, p, present):
        found = _under(p, *(["augmented/"] if "augment" in present else []), _split_data(p, present), "train/")
        if p.init is not None:
            found["train.init"] = p.init
        if p.train_recipe is not None:
            found["train.recipe"] = p.train_recipe
        return found

    def outputs(self, p):
        return _under(p, "ablation/", "ablation.json")

    def run(self, ctx):
        from pipelines.run.ablation import run_ablation

        p = ctx.pipeline
        split = ctx.out / _split_data(p, ctx.present)
        arms = {"none": (split, {})}
        if "augment" in ctx.present:
            arms["offline"] = (ctx.out / "augmented" / "manifest.parquet", {})
        arms["online"] = (split, {"recipe": p.online_recipe()})
        settings = {**p.train_settings(), "recipe": None}
        result = run_ablation(arms, ctx.out / "ablation", label=ctx.label, settings=settings,
                              seeds=p.config.ablation.seeds, trained=(p.train_augment(), ctx.out / "train"),
                              progress=ctx.display.echo)
        _write_figures(ctx.out / "ablation.json", result)
        diff, test, winner = result["difference"], result["paired_test"], result["winner"]
        p_value = f", p = {test['pvalue']:.3g}" if test["pvalue"] is not None else ""
        from pipelines.console.rounding import share

        within = "; within the intervals" if result.get("intervals", {}).get("within_intervals") else ""
        arm = result["with_arm"]
        return Outcome(True, f"{arm} augmentation {result['verdict']}: val accuracy {share(result['with']['mean'])} "
                             f"with, {share(result['without']['mean'])} without ({share(diff['mean'], signed=True)}"
                             f"{p_value}{within}); best on val: {winner['arm']} ({winner['verdict']})")


class LearningCurve(Stage):
    """The training again on growing subsets of train, and the power law fitted to the val
    errors (pipelines.train.learning_curve); the pipeline's own run is the full subset."""

    name = "learning_curve"
    figures = "learning_curve.json"

    def applies(self, p):
        return p.config.learning_curve is not None

    def settings(self, p):
        return {"learning_curve": p.config.learning_curve.model_dump(mode="json"), **Train().settings(p)}

    def inputs(self, p, present):
        return {**Train().inputs(p, present), **_under(p, "train/")}

    def outputs(self, p):
        from pipelines.train.learning_curve import FILES, FOLDER

        return _under(p, f"{FOLDER}/", *FILES)

    def run(self, ctx):
        from pipelines.train.learning_curve import learning_curve

        p, section = ctx.pipeline, ctx.pipeline.config.learning_curve
        data = ctx.out / ("augmented/manifest.parquet" if "augment" in ctx.present else _split_data(p, ctx.present))
        result = learning_curve(str(data), label=ctx.label, out=ctx.out, fractions=section.fractions,
                                seeds=section.seeds, target_error=section.target_error, trained=ctx.out / "train",
                                progress=ctx.display.echo, **p.train_settings())
        return Outcome(True, "; ".join(result["answers"][1:]))


class Card(Stage):
    """``out/card.md`` (and ``out/data/<split>.parquet``, the files its header names) from
    the curated data and every figure the stages before it wrote (curate.card)."""

    name = "card"

    def applies(self, p):
        return p.config.card is not None

    def settings(self, p):
        # the stages whose figures it reads: one removed from the file leaves its files behind
        stages = [s.name for s in STAGES if s.applies(p) and s.name not in (self.name, "report")]
        return {"card": p.config.card.model_dump(mode="json"), "label": p.config.label, "stages": stages}

    def inputs(self, p, present):
        found: dict[str, Path] = {}
        for stage in STAGES:
            if stage.name in present and stage.name not in (self.name, "report"):
                found.update(stage.outputs(p))
        return found

    def outputs(self, p):
        return _under(p, "card.md", *(["data/"] if p.config.split is not None else []))

    def run(self, ctx):
        from curate.card import write_card

        p = ctx.pipeline
        data = (_split_data(p, ctx.present) if p.config.split is not None
                else "clean.parquet" if "clean" in ctx.present else "manifest.parquet")
        write_card(ctx.out / data, ctx.out / "card.md", label=ctx.label, license=p.config.card.license,
                   description=p.config.card.description, run_dir=ctx.out, stages=ctx.present)
        return Outcome(True, f"from {data}")


class Report(Stage):
    """``out/report.html`` from every stage that finished, by
    ``pipelines.report.pipeline.write_pipeline_report(out, stages)`` (see docs/pipelines.md)."""

    name = "report"

    def built(self) -> bool:
        try:
            return importlib.util.find_spec(REPORT_MODULE) is not None
        except ModuleNotFoundError:
            return False

    def settings(self, p):
        return {}

    def inputs(self, p, present):
        found: dict[str, Path] = {}
        for stage in STAGES:
            if stage.name in present and stage.name != self.name:
                found.update(stage.outputs(p))
        return found

    def outputs(self, p):
        return _under(p, "report.html")

    def run(self, ctx):
        from importlib import import_module

        path = import_module(REPORT_MODULE).write_pipeline_report(ctx.out, dict(ctx.done))
        return Outcome(True, str(path))


STAGES: tuple[Stage, ...] = (Ingest(), Validate(), Clean(), Split(), CleanFitted(), ValidateSplits(), SearchRecipe(),
                             Augment(), Train(), Ablation(), LearningCurve(), Card(), Report())


def clear_outputs(stage: Stage, p: "LoadedPipeline") -> None:
    """Remove a stage's output folders before it reruns from scratch (files are replaced
    atomically when written; a folder would mix the old run's files with the new)."""
    for name, path in stage.outputs(p).items():
        if name.endswith("/"):
            shutil.rmtree(path, ignore_errors=True)
