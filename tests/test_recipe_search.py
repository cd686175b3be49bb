"""Recipe search (pipelines/train/recipe_search.py): (N, M, pool) chosen on the validation
folds of the fortunes, reproducible for a seed, resumable, and refusing bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import pipelines.train.recipe_search as recipe_search
from augment.recipe_file import load_recipe
from curate.api import split
from curate.errors import CuraugError
from pipelines.train.recipe_search import search_recipe

from conftest import SAMPLE

FAST = {"epochs": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def fortunes() -> pd.DataFrame:
    return split(pd.read_csv(SAMPLE / "text.csv"), "label", folds=2, seed=0)


def _search(df, folder, trials=2, **kwargs):
    return search_recipe(df, label="label", folder=folder, recipe_out=folder / "recipe.yaml", n=[1, 2],
                         magnitude=[2, 8], trials=trials, pool=["keyboard", "word_swap", "word_delete"],
                         train=FAST, **kwargs)


def test_the_chosen_recipe_is_an_ordinary_recipe_file_and_test_rows_are_never_read(fortunes, tmp_path, monkeypatch):
    seen = []
    fit = recipe_search.fit_and_score
    monkeypatch.setattr(recipe_search, "fit_and_score",
                        lambda frame, *a: seen.append(frame) or fit(frame, *a))
    result = _search(fortunes, tmp_path / "s")
    loaded = load_recipe(tmp_path / "s" / "recipe.yaml")
    best = result["best"]
    assert loaded.recipe.modality == "text" and loaded.steps[0].n == best["n"]
    assert best["score"] == max(t["score"] for t in result["trials"])
    assert [t["number"] for t in result["trials"]] == [0, 1] and result["folds"] == 2
    assert (tmp_path / "s" / "recipe.yaml").read_text().startswith("# Chosen by curaug's recipe search")
    # none + 2 trials, 2 folds each; no test row in any fit, and a fold's val rows are originals
    test_ids = set(fortunes.index[fortunes["split"] == "test"].map(lambda i: f"row{i}"))
    assert len(seen) == 6
    for frame in seen:
        read = set(frame["id"]) | set(frame.get("source_id", pd.Series(dtype=object)).dropna())
        assert len(read) > 50 and not read & test_ids
        val = frame[frame["split"] == "val"]
        assert val["fold"].nunique() == 1 and ("source_id" not in val.columns or val["source_id"].isna().all())
    json.loads((tmp_path / "s" / "search.json").read_text())


def test_the_same_seed_gives_the_same_trials_and_recipe(fortunes, tmp_path):
    a, b = _search(fortunes, tmp_path / "a", seed=3), _search(fortunes, tmp_path / "b", seed=3)
    assert [(t["params"], t["score"]) for t in a["trials"]] == [(t["params"], t["score"]) for t in b["trials"]]
    assert (tmp_path / "a" / "recipe.yaml").read_bytes() == (tmp_path / "b" / "recipe.yaml").read_bytes()


def test_an_interrupted_search_keeps_its_finished_trials_and_ends_as_an_uninterrupted_one(fortunes, tmp_path,
                                                                                         monkeypatch):
    whole = _search(fortunes, tmp_path / "whole", trials=3)
    calls = []
    fit = recipe_search.fit_and_score

    def stop_at_the_seventh_fit(*args):
        calls.append(1)
        if len(calls) == 7:  # none (2 fits), trials 0 and 1 (2 each), then trial 2's first fit
            raise KeyboardInterrupt
        return fit(*args)

    monkeypatch.setattr(recipe_search, "fit_and_score", stop_at_the_seventh_fit)
    with pytest.raises(KeyboardInterrupt):
        _search(fortunes, tmp_path / "cut", trials=3)
    assert len((tmp_path / "cut" / "trials.jsonl").read_text().splitlines()) == 3
    calls.clear()
    resumed = _search(fortunes, tmp_path / "cut", trials=3)
    assert len(calls) == 2  # only trial 2 ran again
    assert [(t["params"], t["score"]) for t in resumed["trials"]] == \
        [(t["params"], t["score"]) for t in whole["trials"]]


def test_more_trials_continue_the_search(fortunes, tmp_path):
    _search(fortunes, tmp_path / "s", trials=1)
    more = _search(fortunes, tmp_path / "s", trials=2)
    whole = _search(fortunes, tmp_path / "w", trials=2)
    assert [t["params"] for t in more["trials"]] == [t["params"] for t in whole["trials"]]


def test_a_folder_of_another_search_is_refused(fortunes, tmp_path):
    _search(fortunes, tmp_path / "s", trials=1)
    with pytest.raises(CuraugError, match="holds the trials of a search with other settings"):
        _search(fortunes, tmp_path / "s", trials=1, seed=9)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": [3, 1]}, "n=[3, 1]: lo > hi; give [lo, hi] with 1 <= lo <= hi <= 3 (the pool's size)"),
    ({"magnitude": [2, 12]}, "magnitude=[2, 12]: outside 0-10; give [lo, hi] with 0 <= lo <= hi <= 10"),
    ({"magnitude": [6, 4]}, "magnitude=[6, 4]: lo > hi"),
    ({"trials": 0}, "trials=0: give at least 1 trial"),
])
def test_bad_ranges_name_the_parameter(fortunes, tmp_path, kwargs, message):
    settings = {"n": [1, 2], "magnitude": [2, 8], "trials": 2, **kwargs}
    with pytest.raises(CuraugError, match="^" + message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        search_recipe(fortunes, label="label", folder=tmp_path / "s", recipe_out=tmp_path / "r.yaml",
                      pool=["keyboard", "word_swap", "word_delete"], train=FAST, **settings)


def test_data_without_folds_is_refused(tmp_path):
    df = split(pd.read_csv(SAMPLE / "text.csv"), "label", seed=0)
    with pytest.raises(CuraugError, match="data has no 'fold' column.*curaug split --folds K"):
        _search(df, tmp_path / "s")



def test_online_trials_draw_each_recipe_on_the_fly_and_write_no_copies(fortunes, tmp_path, monkeypatch):
    """``online=True`` (a pipeline whose train stage augments online, or ``--search
    ...,augment=online``): every fold's fit gets the trial's recipe as ``recipe`` and the
    original rows only; the run without augmentation gets none."""
    seen = []
    fit = recipe_search.fit_and_score
    monkeypatch.setattr(recipe_search, "fit_and_score",
                        lambda frame, label, settings, base: seen.append((frame, settings)) or fit(frame, label,
                                                                                                 settings, base))
    result = _search(fortunes, tmp_path / "s", online=True)
    assert len(seen) == 6 and all("source_id" not in f.columns or f["source_id"].isna().all() for f, _ in seen)
    assert [s.get("recipe") is None for _, s in seen] == [True, True, False, False, False, False]
    drawn = [s["recipe"] for _, s in seen[2:]]
    assert [r["transforms"][0]["SomeOf"]["n"] for r in drawn[::2]] == [t["n"] for t in result["trials"]]
    assert json.loads((tmp_path / "s" / "settings.json").read_text())["online"] is True
    assert recipe_search.parse_search_option("n=1:2,magnitude=3,trials=2,augment=online")["augment"] == "online"
    with pytest.raises(CuraugError, match="augment='sometimes': choose online or offline"):
        recipe_search.parse_search_option("n=1:2,magnitude=3,trials=2,augment=sometimes")
