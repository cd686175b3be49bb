"""nlpaug's call shape over curaug's text plugin, for the tests ported from nlpaug.

``Aug("keyboard", min_char=1).augment(text)`` runs what ``curaug augment`` runs for one
sample (:meth:`TextPlugin.apply`: the transform's draw from the sample's own generator,
``protect:`` spans, and the redraws when nothing changed) and returns a list, as
``nlpaug.augmenter.*.augment`` does (one text per input text, or ``n`` for one text).
Each call uses the next seed, where nlpaug draws from the global RNG again.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from augment.plugin import Context
from augment.recipe_file import load_recipe
from augment.text.plugin import TextPlugin


class Aug:
    def __init__(self, name: str, protect: tuple[str, ...] = (), **params: Any):
        loaded = load_recipe({"modality": "text", "protect": list(protect), "transforms": [{name: params}]})
        self.plugin = TextPlugin()
        self.ctx = Context(loaded.recipe, pd.DataFrame({"text": pd.Series([], dtype=str)}))
        self.plan = [{"name": name, "params": params}]
        self.seed = 0

    def augment(self, data: str | list[str], n: int = 1) -> list[str]:
        texts = [data] * n if isinstance(data, str) or data is None else list(data)
        return [self.one(text) for text in texts]

    def one(self, text: str | None, seed: int | None = None) -> str:
        if seed is None:
            seed, self.seed = self.seed, self.seed + 1
        sample = self.plugin.load({"id": "row0", "text": text}, self.ctx)
        return self.plugin.apply(sample, self.plan, seed, self.ctx)[0].text
