"""Recipe search on the Dask engine gives the local engine's trials and recipe (kept apart
from test_recipe_search.py: starting a LocalCluster of worker processes takes most of its time)."""

from __future__ import annotations

import pandas as pd
import pytest

from curate.api import split
from pipelines.train.recipe_search import search_recipe

from conftest import SAMPLE


@pytest.fixture(scope="module")
def fortunes() -> pd.DataFrame:
    return split(pd.read_csv(SAMPLE / "text.csv"), "label", folds=2, seed=0)


def _search(df, folder, **kwargs):
    return search_recipe(df, label="label", folder=folder, recipe_out=folder / "recipe.yaml", n=[1, 2],
                         magnitude=[2, 8], trials=2, pool=["keyboard", "word_swap", "word_delete"],
                         train={"epochs": 2, "device": "cpu"}, seed=5, **kwargs)


def test_trials_on_a_dask_cluster_are_the_local_search(fortunes, tmp_path):
    local = _search(fortunes, tmp_path / "local")
    # the round's two trials at once, each a task in a worker process of a LocalCluster
    dask = _search(fortunes, tmp_path / "dask", engine="dask", workers=2)
    assert [(t["params"], t["folds"]) for t in dask["trials"]] == [(t["params"], t["folds"]) for t in local["trials"]]
    assert (tmp_path / "dask" / "recipe.yaml").read_bytes() == (tmp_path / "local" / "recipe.yaml").read_bytes()
