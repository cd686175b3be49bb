"""Recipe search from the command line and in a pipeline file: `curaug augment --search`,
`augment: {search: ...}` with its report section, and bad input as one line, exit 2."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from augment.recipe_file import load_recipe
from curate.api import split

from conftest import SAMPLE

SEARCH = {"n": [1, 2], "magnitude": [2, 8], "trials": 1, "epochs": 2, "pool": ["keyboard", "word_swap"]}


@pytest.fixture(scope="module")
def fortunes(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "fortunes.parquet"
    split(pd.read_csv(SAMPLE / "text.csv"), "label", folds=2, seed=0).to_parquet(path)
    return path


def test_augment_search_writes_the_chosen_recipe_then_augments_with_it(cli, fortunes, tmp_path):
    out = tmp_path / "out"
    result = cli("augment", str(fortunes), "--search", "n=1:2,magnitude=2:8,trials=1,epochs=2,pool=keyboard+word_swap",
                 "--copies", "2", "-o", str(out))
    assert result.code == 0, result.err
    recipe = load_recipe(out / "recipe.yaml")
    assert recipe.recipe.copies == 2 and recipe.steps[0].name == "SomeOf"
    manifest = pd.read_parquet(out / "manifest.parquet")
    train = (pd.read_parquet(fortunes)["split"] == "train").sum()
    assert manifest["source_id"].notna().sum() == 2 * train
    assert "recipe search: trial 1/1" in result.err
    assert (out / "search" / "trials.jsonl").is_file()


@pytest.mark.parametrize("spec, message", [
    ("n=3:1,magnitude=2:8,trials=4", "error: --search: n=[3, 1]: lo > hi"),
    ("n=1:2,magnitude=2:11,trials=4", "error: --search: magnitude=[2, 11]: outside 0-10"),
    ("n=1:2,magnitude=2:8,trials=0", "error: --search: trials=0: give at least 1 trial"),
    ("n=1:2,magnitude=2:8", "error: --search 'n=1:2,magnitude=2:8': missing trials="),
])
def test_a_bad_search_is_one_line_and_exit_2(cli, fortunes, tmp_path, spec, message):
    result = cli("augment", str(fortunes), "--search", spec, "-o", str(tmp_path / "out"))
    assert result.code == 2 and result.err.startswith(message) and result.err.count("\n") == 1, result.err
    assert not (tmp_path / "out").exists()


def test_data_without_a_fold_column_is_one_line_and_exit_2(cli, tmp_path):
    data = tmp_path / "nofold.parquet"
    split(pd.read_csv(SAMPLE / "text.csv"), "label", seed=0).to_parquet(data)
    result = cli("augment", str(data), "--search", "n=1:2,magnitude=2:8,trials=2", "-o", str(tmp_path / "out"))
    assert result.code == 2 and result.err.count("\n") == 1
    assert "data has no 'fold' column" in result.err and "curaug split --folds K" in result.err


def _pipeline(tmp_path, **changes):
    config = {"out": "run", "source": str(SAMPLE / "text.csv"), "label": "label",
              "split": {"ratios": [0.6, 0.2, 0.2], "folds": 2, "seed": 0},
              "augment": {"modality": "text", "copies": 1, "search": SEARCH},
              "train": {"epochs": 2, "device": "cpu"}, "ablation": {"seeds": 2}, **changes}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_a_pipeline_searches_uses_the_recipe_and_reports_trials_and_ablation(cli, tmp_path):
    result = cli("run", str(_pipeline(tmp_path)))
    assert result.code == 0, result.err
    run = tmp_path / "run"
    recipe = load_recipe(run / "recipe.yaml")
    assert recipe.steps[0].name == "SomeOf"
    page = (run / "report.html").read_text()
    assert "<h2>Recipe search</h2>" in page and "id='search-grid'" in page and "id='search-trials'" in page
    assert "id='search-recipe'" in page and "id='ablation-verdict'" in page
    assert "search_recipe: done" in result.out + result.err
    again = cli("run", str(_pipeline(tmp_path)))
    assert "nothing to do" in again.out + again.err


@pytest.mark.parametrize("changes, message", [
    ({"split": {"ratios": [0.6, 0.2, 0.2], "folds": 0}}, "augment.search: scores each trial on validation folds"),
    ({"augment": {"modality": "text", "search": {**SEARCH, "magnitude": [2, 12]}}},
     "augment.search.magnitude=[2, 12]: outside 0-10"),
    ({"augment": {"modality": "text", "transforms": [{"keyboard": {}}], "search": SEARCH}},
     "augment.transforms: the search chooses the transforms"),
])
def test_a_bad_search_section_names_the_file_and_line(cli, tmp_path, changes, message):
    result = cli("run", str(_pipeline(tmp_path, **changes)))
    assert result.code == 2 and "pipeline.yaml line" in result.err and message in result.err, result.err
