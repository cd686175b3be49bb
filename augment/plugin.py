"""The modality plugin contract and its registry.

A plugin turns one manifest row into augmented copies in separate steps, so that every
output can be replayed from its provenance and the runner never needs to know what a
sample is:

1. ``check(steps)`` -- refuse unknown transforms or parameters before any work starts;
2. ``load(row, ctx)`` -- read the source sample, once for all its copies;
3. ``draw(steps, rng, ctx, row)`` -- decide, from a per-sample ``numpy.random.Generator``
   alone, which transforms apply and with which parameters (the *plan*, plain JSON);
4. ``apply(sample, plan, seed, ctx)`` -- run the plan (backend randomness seeded by
   ``seed``) and return the new sample and what the backend drew; it must not change
   ``sample``, which the next copy starts from again;
5. ``output(sample, applied, path, ctx)`` -- encode the new sample as an :class:`Output`:
   its files (the one at ``path``, relative to the output folder, plus any side files such
   as a mask), the manifest columns it sets and its provenance. The default writes the
   bytes of ``save(sample, path, fmt)`` and sets no column.

Plugins are found by modality name in :data:`REGISTRY`. The built-in ones register
themselves with :func:`register_plugin`; a third-party package adds one through the
``curaug.plugins`` entry point group::

    [project.entry-points."curaug.plugins"]
    point_cloud = "mypkg.plugin:PointCloudPlugin"

Workers get the plugin class from the run: ``--workers`` forks the running process, and
Dask workers, fresh processes possibly on other machines, import the class's module. So a
plugin must be installed wherever the workers run, as a package with its entry point is.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from augment.recipe import Recipe
from curate.errors import CuraugError, did_you_mean
from curate.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from augment.magnitude import MagnitudeOp
    from augment.recipe import LoadedRecipe, Step


@dataclass
class Context:
    """What a plugin may consult: the recipe, the rows being augmented (for transforms that
    mix two samples, such as copy_paste) and where files live."""

    recipe: "Recipe"
    rows: "pd.DataFrame"          # usable rows of the modality being augmented, indexed by id
    label: str | None = "label"
    extra: dict[str, Any] = field(default_factory=dict)
    #: decoded sources by id (an object with ``get`` and ``put``), or None to decode each time
    sources: Any = None
    #: whether ``apply`` records what the backend drew (the corpus's provenance); training
    #: on the fly reads the pixels alone, and the pixels are the same either way
    provenance: bool = True

    def source(self, sample_id: str, load: "Callable[[dict[str, Any], Context], Any]") -> Any:
        """Row ``sample_id`` decoded by ``load`` (a plugin's), kept in :attr:`sources` when
        there is one: a copy_paste donor met again is not decoded again."""
        if self.sources is None:
            return load(self.record(sample_id), self)
        found = self.sources.get(sample_id)
        if found is None:
            found = load(self.record(sample_id), self)
            self.sources.put(sample_id, found)
        return found

    def record(self, sample_id: str) -> dict[str, Any]:
        """One row as a plain dict (with its ``id``): far cheaper than a pandas row."""
        records = self.extra.get("records")
        if records is None:
            records = self.extra["records"] = {str(k): {**v, "id": str(k)} for k, v in self.rows.to_dict("index").items()}
        return records[sample_id]

    def donors(self, label_value: Any) -> list[str]:
        """Ids of rows with the same label (candidates to blend with)."""
        if self.label is None or self.label not in self.rows.columns:
            return list(self.rows.index)
        cache = self.extra.setdefault("donors", {})
        if label_value not in cache:
            cache[label_value] = list(self.rows.index[self.rows[self.label].astype(str) == str(label_value)])
        return cache[label_value]


@dataclass
class Output:
    """One augmented sample, encoded: what it writes, what its manifest row says, what was drawn.

    ``files`` maps paths relative to the output folder to bytes; the first is the sample's
    own file (its row's ``path``), any others are side files that a column in ``columns``
    names. ``applied`` is what the backend drew while applying the plan (provenance).

    Examples
    --------
    >>> import tempfile
    >>> out = Output({"a/t0__aug0.txt": b"fox the", "a/t0__aug0.json": b'{"words": 2}'},
    ...              {"words": 2, "counts": "a/t0__aug0.json"})
    >>> out.describe()["files"]["a/t0__aug0.txt"]["size_bytes"]
    7
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "staging").mkdir()
    >>> out.save(folder, folder / "staging")
    >>> sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*")), list((folder / "staging").iterdir())
    (['a/t0__aug0.json', 'a/t0__aug0.txt'], [])
    """

    files: dict[str, bytes]  # empty for a sample held inline in its row (``columns``), e.g. a text cell
    columns: dict[str, Any] = field(default_factory=dict)
    applied: list[dict] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        """The bytes of the sample's own file."""
        return next(iter(self.files.values()))

    def describe(self) -> dict[str, Any]:
        """The record of this output a manifest row and a resumed run need: every file's
        hash and size (the first is the sample's own) and the columns it sets."""
        return {"files": {rel: {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
                          for rel, data in self.files.items()},
                "columns": self.columns}

    def save(self, outdir: str | os.PathLike, staging: str | os.PathLike) -> None:
        """Write every file under ``outdir`` atomically: bytes go to ``staging`` (a folder on
        the same file system) first, then are renamed into place, so an interruption leaves
        either the whole file or none of it. The sample's own file comes last: once it is
        in place, so are its side files."""
        outdir, staging = Path(outdir), Path(staging)
        items = list(self.files.items())
        for rel, data in items[1:] + items[:1]:
            target = outdir / rel
            tmp = staging / f"{os.getpid()}-{threading.get_ident()}-{target.name}"
            tmp.write_bytes(data)
            try:
                os.replace(tmp, target)
            except FileNotFoundError:  # the first file of its folder: make the folder only then
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)


class SkipSample(Exception):
    """Raised by :meth:`Plugin.apply` when a sample cannot be augmented as the recipe asks
    (a silent clip for a transform that sets an SNR): the job is skipped and its reason
    counted in the run summary, instead of failing the run."""


class Plugin:
    """Base class: subclasses set ``modality`` and implement the steps."""

    modality: str = ""
    #: The column that may hold a sample inline instead of a file (``text``); rows with no
    #: ``path`` are then usable, and their outputs set that column instead of writing a file.
    inline: str | None = None
    #: The recipe keys of this modality: :class:`~augment.recipe.Recipe` and the plugin's
    #: own (a subclass adding fields), checked when a recipe file is read.
    recipe_model: type[Recipe] = Recipe
    #: ``preset:`` names and the transform entries each starts a recipe with.
    presets: dict[str, list[Any]] = {}
    #: Recipe search's pool: name -> :class:`~augment.magnitude.MagnitudeOp` (how the
    #: magnitude 0-10 sets one transform's strength), and the names searched by default.
    magnitude_ops: dict[str, "MagnitudeOp"] = {}
    default_pool: tuple[str, ...] = ()

    def versions(self) -> dict[str, str]:
        return {}

    def check(self, steps: list["Step"]) -> None:
        raise NotImplementedError

    def prepare(self, loaded: "LoadedRecipe") -> None:
        """Called once per run, before :meth:`extension`, with the whole recipe (the audio
        plugin writes ``.npy`` when a step works on spectrograms); the default needs nothing."""

    def check_rows(self, rows: "pd.DataFrame") -> None:
        """Refuse rows a run would fail on (bad input, before any output is written); the
        default trusts them and lets :meth:`load` find out."""

    def draw(self, steps: list["Step"], rng: "np.random.Generator", ctx: Context, row: "dict[str, Any]") -> list[dict]:
        raise NotImplementedError

    def load(self, row: "dict[str, Any]", ctx: Context) -> Any:
        raise NotImplementedError

    def apply(self, sample: Any, plan: list[dict], seed: int, ctx: Context) -> tuple[Any, list[dict]]:
        raise NotImplementedError

    def save(self, sample: Any, path: str, fmt: str | None = None) -> bytes:
        raise NotImplementedError

    def output(self, sample: Any, applied: list[dict], path: str, ctx: Context) -> Output:
        """The sample encoded at ``path``; override to add side files or manifest columns."""
        return Output({path: self.save(sample, path, getattr(ctx.recipe, "format", None))}, applied=applied)

    def extension(self, row: "dict[str, Any]", fmt: str | None) -> str:
        raise NotImplementedError

    def gate(self, source: Any, sample: Any, rule, ctx: Context) -> str | None:
        """A reason to reject ``sample`` (then redrawn), or None."""
        return None

    def gate_features(self, sample: Any, ctx: Context) -> Any:
        """What the label-preserving gate's classifier reads of a sample
        (:mod:`augment.label_gate`): a string (TF-IDF) or a 1-d array of numbers."""
        raise CuraugError(f"gate.label_preserving: the {self.modality} plugin gives no features to classify "
                          "its samples by (Plugin.gate_features)")


class RegistryPlugin(Plugin):
    """A plugin whose recipe steps name transforms in one :class:`~curate.registry.Registry`
    (``transforms``): the check of names and parameters, and the built transforms cached
    per process, written once for every such plugin (text, audio).

    Hooks: :meth:`variants` (the parameter sets to validate, so every value a sample may
    draw is checked) and :meth:`check_resources` (what a transform needs on this machine).
    """

    transforms: "Registry"
    #: transforms kept per process ([lo, hi] parameters can make one per sample)
    max_cached = 512

    def __init__(self) -> None:
        self._transforms: dict[tuple[str, str], Any] = {}

    def variants(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [params]

    def check_resources(self, cls: type) -> None:
        """Raise :class:`CuraugError` when ``cls`` cannot run here (data it needs is missing)."""

    def check(self, steps: list["Step"], where: str = "transforms") -> None:
        for i, step in enumerate(steps):
            if step.is_group:
                self.check(step.children, f"{where}.{i}.{step.name}.transforms")
                continue
            here = f"{where}.{i}.{step.name}"
            if step.name not in self.transforms:
                names = self.transforms.names()
                raise CuraugError(f"{here}: unknown {self.transforms.kind} '{step.name}'"
                                  f"{did_you_mean(step.name, names)} (available: {', '.join(names)})")
            cls = self.transforms.get(step.name)
            self.check_resources(cls)
            accepted = list(cls.InitSchema.model_fields)
            for key in step.params:
                if key not in accepted:
                    raise CuraugError(f"{here}: unknown parameter '{key}' for {step.name}"
                                      f"{did_you_mean(key, accepted)} (takes: {', '.join(accepted)}, p)")
            try:
                for params in self.variants(step.name, step.params):
                    self.transform(step.name, params)
            except CuraugError as exc:
                raise CuraugError(f"{where}.{i}.{exc}") from None

    def transform(self, name: str, params: dict[str, Any]) -> Any:
        """The transform ``name`` with ``params`` validated, built once per process."""
        import json

        from pydantic import ValidationError

        from augment.params import describe_invalid

        key = (name, json.dumps(params, sort_keys=True))
        if key not in self._transforms:
            if len(self._transforms) >= self.max_cached:
                self._transforms.pop(next(iter(self._transforms)))
            try:
                self._transforms[key] = self.transforms.get(name)(**params)
            except ValidationError as exc:
                raise CuraugError(describe_invalid(name, exc)) from None
        return self._transforms[key]


#: Modality name -> plugin class: built-ins, then the ``curaug.plugins`` entry points.
REGISTRY: Registry[type[Plugin]] = Registry("augmentation plugin", entry_points="curaug.plugins",
                                            builtins=("augment.image.plugin", "augment.text.plugin",
                                                      "augment.audio.plugin"))


def register_plugin(cls: type[Plugin]) -> type[Plugin]:
    """Class decorator: register ``cls`` under its ``modality``."""
    REGISTRY.register(cls.modality, cls)
    return cls


def get_plugin(modality: str) -> Plugin:
    """A new instance of the plugin for ``modality``."""
    if modality not in REGISTRY:
        raise CuraugError(f"no augmentation plugin for modality '{modality}' "
                          f"(available: {', '.join(REGISTRY.names()) or 'none'})")
    return REGISTRY.get(modality)()
