"""The modality plugin contract and its registry.

A plugin turns one manifest row into augmented copies in four separate steps, so that
every output can be replayed from its provenance:

1. ``check(steps)`` -- refuse unknown transforms or parameters before any work starts;
2. ``draw(steps, rng, ctx)`` -- decide, from a per-sample ``numpy.random.Generator``
   alone, which transforms apply and with which parameters (the *plan*, plain JSON);
3. ``apply(sample, plan, seed, ctx)`` -- run the plan (backend randomness seeded by
   ``seed``) and return the new sample and what the backend drew;
4. ``save(sample, path)`` -- encode the sample to bytes at ``path``.

``load(row, ctx)`` reads a source sample. Plugins are found by modality name in
:data:`REGISTRY`: the built-in ones register themselves with :func:`register_plugin`, and a
third-party package adds one through the ``curaug.plugins`` entry point group::

    [project.entry-points."curaug.plugins"]
    point_cloud = "mypkg.plugin:PointCloudPlugin"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curate.errors import CuraugError
from curate.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from augment.recipe import Recipe, Step


@dataclass
class Context:
    """What a plugin may consult: the recipe, the train rows (for transforms that mix two
    samples, such as copy_paste) and where files live."""

    recipe: "Recipe"
    rows: "pd.DataFrame"          # usable train rows of the modality, indexed by id
    label: str | None = "label"
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, sample_id: str) -> dict[str, Any]:
        """One train row as a plain dict (with its ``id``): far cheaper than a pandas row."""
        records = self.extra.get("records")
        if records is None:
            records = self.extra["records"] = {str(k): {**v, "id": str(k)} for k, v in self.rows.to_dict("index").items()}
        return records[sample_id]

    def donors(self, label_value: Any) -> list[str]:
        """Ids of train rows with the same label (candidates to blend with)."""
        if self.label is None or self.label not in self.rows.columns:
            return list(self.rows.index)
        cache = self.extra.setdefault("donors", {})
        if label_value not in cache:
            cache[label_value] = list(self.rows.index[self.rows[self.label].astype(str) == str(label_value)])
        return cache[label_value]


class Plugin:
    """Base class: subclasses set ``modality`` and implement the steps."""

    modality: str = ""

    def versions(self) -> dict[str, str]:
        return {}

    def check(self, steps: list["Step"]) -> None:
        raise NotImplementedError

    def draw(self, steps: list["Step"], rng: "np.random.Generator", ctx: Context, row: "dict[str, Any]") -> list[dict]:
        raise NotImplementedError

    def load(self, row: "dict[str, Any]", ctx: Context) -> Any:
        raise NotImplementedError

    def apply(self, sample: Any, plan: list[dict], seed: int, ctx: Context) -> tuple[Any, list[dict]]:
        raise NotImplementedError

    def save(self, sample: Any, path: str, fmt: str) -> bytes:
        raise NotImplementedError

    def extension(self, row: "dict[str, Any]", fmt: str | None) -> str:
        raise NotImplementedError

    def gate(self, source: Any, sample: Any, rule, ctx: Context) -> str | None:
        """A reason to reject ``sample`` (then redrawn), or None."""
        return None


#: Modality name -> plugin class: built-ins, then the ``curaug.plugins`` entry points.
REGISTRY: Registry[type[Plugin]] = Registry("augmentation plugin", entry_points="curaug.plugins",
                                            builtins=("augment.image.plugin",))


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
