"""Augmentation as a Python function: ``curaug.augment`` is :func:`augment` (the CLI calls it
too). It takes a DataFrame (or the path of a manifest), a recipe (a file or a mapping) and
an output folder; bad input raises :class:`curate.errors.CuraugError` naming the Python
parameter."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Union

from curate.api import frame
from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

    from augment.recipe import LoadedRecipe

    Data = Union[pd.DataFrame, str, os.PathLike]
    FileOrMapping = Union[str, os.PathLike, Mapping[str, Any]]


def _recipe(recipe: Any) -> "LoadedRecipe":
    """A recipe file path, a mapping in the recipe file's shape, or a loaded recipe."""
    from augment.recipe import LoadedRecipe
    from augment.recipe_file import load_recipe

    if isinstance(recipe, LoadedRecipe):
        return recipe
    if not isinstance(recipe, (str, os.PathLike, Mapping)):
        raise CuraugError(f"recipe={type(recipe).__name__}: expected the path of a recipe file or a mapping",
                          param="recipe")
    return load_recipe(recipe)


def augment(data: Data, recipe: FileOrMapping, out: str | os.PathLike, *,
            copies: int | None = None, balance: bool = False, seed: int = 0, workers: int = 1,
            engine: str = "local", scheduler: str | None = None, label: str | None = "label",
            all_rows: bool = False, return_summary: bool = False):
    """Augment the train split of a manifest into ``out``.

    Each train row gets ``copies`` new samples (or, with ``balance``, each class is
    brought up to the largest); every sample's seed comes from (``seed``, sample id, copy)
    alone, so the files are the same for any ``workers`` and either ``engine``. The new
    files and ``out/manifest.parquet`` (every input row, then one row per new sample with
    ``source_id``, ``augment`` provenance and ``seed``) are written; a rerun resumes.

    Parameters
    ----------
    data : DataFrame or path
        A manifest with ``id``, ``root``, ``path`` (and ``split``) columns.
    recipe : path or mapping
        A recipe file (docs/recipes.md) or the same keys as a mapping.
    out : path
        Output folder.
    copies, balance, seed, workers, engine, scheduler, label
        As the ``curaug augment`` flags of the same names (docs/cli.md).
    all_rows : bool
        Augment every usable row, not only ``split == "train"`` (needed when ``data``
        has no split column: ``--all-rows``).
    return_summary : bool
        Also return the summary (counts made per class, resumed, gate rejections).

    Returns
    -------
    DataFrame, or (DataFrame, dict) with ``return_summary``
        The output manifest, as written to ``out/manifest.parquet``.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd, curaug
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "data").mkdir()
    >>> Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(root / "data" / "a.png")
    >>> df = pd.DataFrame({"id": ["a"], "root": [str(root / "data")], "path": ["a.png"], "split": ["train"]})
    >>> recipe = {"modality": "image", "copies": 2, "transforms": [{"HorizontalFlip": {}}]}
    >>> manifest = curaug.augment(df, recipe, root / "out", seed=0)
    >>> len(manifest), manifest["source_id"].dropna().tolist()
    (3, ['a', 'a'])
    """
    loaded = _recipe(recipe)
    if isinstance(data, (str, os.PathLike)):
        from pathlib import Path

        if Path(out, "manifest.parquet").resolve() == Path(data).resolve():
            raise CuraugError(f"out={os.fspath(out)}: would overwrite the input manifest {os.fspath(data)}",
                              param="out")
    df = frame(data)
    from augment.runner import augment_manifest

    result = augment_manifest(df, loaded, out, seed=seed, copies=copies, balance=balance, workers=workers,
                              engine=engine, scheduler=scheduler, label=label, all_rows=all_rows)
    return (result.manifest, result.summary) if return_summary else result.manifest
