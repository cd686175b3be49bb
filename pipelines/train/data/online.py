"""Augmentation on the fly: a recipe drawn afresh for every training sample each epoch.

The same recipes ``curaug augment`` writes a corpus with, through the same plugin steps:
the sample at row ``id`` in epoch ``e`` is what the corpus runner makes as copy ``e`` of
that row (:func:`augment.executors.draw_copy`: the seed
:func:`~augment.seeds.sample_seed` of (run seed, row id, epoch), redrawn as the runner
redraws), then encoded as the split's other rows are
(:meth:`~pipelines.train.data.encoder.Encoder.encode_sample`). A sample therefore depends
on the run seed, its id and the epoch alone: a run is reproducible, resumes exactly (there
is no state to save beyond the epoch) and gives the same samples in any process, with any
number of loader workers, in any order. Where the plugin cannot augment a sample (its
quality gate rejected every draw, or a silent clip meets an SNR transform) the epoch
trains on the sample as it is. A recipe's ``copies`` and ``balance`` are the corpus's:
online, every row is drawn once an epoch.

An :class:`OnlineAugmentation` pickles without its plugin: each process (a DataLoader
worker) builds its own plugin instance and context on first use, and keeps the sources
it decoded in a :class:`~curate.io.bounded_cache.BoundedCache`.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

    from augment.recipe import LoadedRecipe


def load_training_recipe(recipe: "str | os.PathLike | dict[str, Any] | LoadedRecipe") -> "LoadedRecipe":
    """A recipe file, a recipe mapping or a loaded recipe, checked by its plugin."""
    from augment.recipe import LoadedRecipe
    from augment.recipe_file import load_recipe

    if isinstance(recipe, LoadedRecipe):
        return recipe
    return load_recipe(recipe if isinstance(recipe, dict) else os.fspath(recipe))


class _Local:
    """What one process builds for itself: the plugin, its context, the decoded sources."""

    def __init__(self, owner: "OnlineAugmentation"):
        from augment.plugin import Context, get_plugin
        from curate.io.bounded_cache import BoundedCache

        self.pid = os.getpid()
        self.plugin = get_plugin(owner.loaded.recipe.modality)
        self.plugin.prepare(owner.loaded)
        # the rows' own sources and copy_paste's donors, decoded once while they fit
        self.ctx = Context(owner.loaded.recipe, owner.rows, owner.label, sources=BoundedCache(owner.cache_bytes),
                           provenance=False)


class OnlineAugmentation:
    """``loaded`` applied to the rows of ``frame`` (``ids`` name them; roots absolute),
    drawn from the run ``seed``; ``label`` is the label column (donors for copy_paste).
    ``cache_bytes``: the decoded sources each process keeps."""

    def __init__(self, loaded: "LoadedRecipe", frame: "pd.DataFrame", ids: list[str], *, label: str | None,
                 seed: int, cache_bytes: int = 0):
        self.loaded, self.label, self.seed, self.cache_bytes = loaded, label, int(seed), int(cache_bytes)
        self.rows = frame.set_axis(list(ids), axis=0)
        self._local: _Local | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_local": None}

    @property
    def key(self) -> str:
        """What the samples depend on besides the rows: the recipe's text and the seed."""
        return hashlib.sha256(f"{self.seed}\x00{self.loaded.text}".encode()).hexdigest()[:16]

    def on(self, frame: "pd.DataFrame", ids: list[str]) -> "OnlineAugmentation":
        """The same recipe and seed over other rows (a subset's: its own donors)."""
        return OnlineAugmentation(self.loaded, frame, ids, label=self.label, seed=self.seed,
                                  cache_bytes=self.cache_bytes)

    def check(self, modality: str) -> None:
        """Refuse a recipe of another modality, and rows the plugin cannot take."""
        recipe = self.loaded.recipe
        if recipe.modality != modality:
            raise CuraugError(f"recipe={self.loaded.source!r} augments {recipe.modality} but the data is {modality}: "
                              f"give a recipe with modality: {modality}", param="recipe")
        self._state().plugin.check_rows(self.rows)

    def _state(self) -> _Local:
        if self._local is None or self._local.pid != os.getpid():  # a forked worker builds its own
            self._local = _Local(self)
        return self._local

    def sample(self, row_id: str, epoch: int) -> Any:
        """Row ``row_id`` as augmented in ``epoch`` (the plugin's sample)."""
        from augment.executors import UNREADABLE_ERRORS, draw_copy

        local = self._state()
        row = local.ctx.record(row_id)
        try:
            source = local.ctx.source(row_id, local.plugin.load)
        except UNREADABLE_ERRORS as exc:
            raise CuraugError(f"row {row_id}: cannot load it to augment ({' '.join(str(exc).split())})",
                              param="data") from None
        recipe = self.loaded.recipe
        copy = draw_copy(local.plugin, self.loaded.steps, recipe.gate, local.ctx, row, source, self.seed,
                         row_id, epoch)
        return source if copy.skipped is not None else copy.sample
