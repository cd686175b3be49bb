"""The Python API (``import curaug``): lazy, DataFrames in and out, Python parameter names
in errors, the same results as the CLI, and scikit-learn classes that work in scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import curaug

HEAVY = ["pandas", "sklearn", "torch", "albumentations", "great_expectations", "librosa", "nlpaug", "dask"]
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture
def penguins(sample):
    df = pd.read_csv(sample / "penguins.csv").dropna(subset=MEASURES).drop_duplicates().reset_index(drop=True)
    df.insert(0, "id", [f"p{i:03d}" for i in range(len(df))])
    return df


def test_import_curaug_loads_no_heavy_library():
    code = ("import sys, curaug; names = dir(curaug); err = curaug.CuraugError; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules)); print(names)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy, names = out.splitlines()
    assert heavy == "[]"
    for name in ("ingest", "profile", "validate", "clean", "split", "augment", "load_data", "save_manifest",
                 "CuraugError", "BalancedKFold", "RepeatedBalancedKFold", "LeaveOneOut", "LeaveOneGroupOut",
                 "ZScore", "MinMax", "PCAWhitener", "ZCAWhitener"):
        assert f"'{name}'" in names
    with pytest.raises(AttributeError, match="no attribute 'frobnicate'"):
        curaug.frobnicate


def test_library_errors_name_the_python_parameter_not_the_flag():
    df = pd.DataFrame({"label": list("aabbcc")})
    with pytest.raises(ValueError) as caught:
        curaug.split(df, ratios=(0.5, 0.5))
    assert isinstance(caught.value, curaug.CuraugError)
    assert caught.value.param == "ratios" and "ratios=" in str(caught.value) and "--ratios" not in str(caught.value)


def test_curaug_error_is_a_value_error_naming_the_python_parameter():
    assert issubclass(curaug.CuraugError, ValueError)
    df = pd.DataFrame({"label": list("aabbcc")})
    with pytest.raises(curaug.CuraugError, match=r"^data=int: expected a DataFrame") as caught:
        curaug.profile(42)
    assert caught.value.param == "data"
    with pytest.raises(curaug.CuraugError, match=r"^rules=list: expected the path of a rules file") as caught:
        curaug.validate(df, rules=["not_null"])
    assert caught.value.param == "rules"
    with pytest.raises(curaug.CuraugError, match="unknown key 'betwen' at columns.x.betwen.*did you mean 'between'"):
        curaug.validate(df, rules={"columns": {"x": {"betwen": [1, 2]}}})


def test_split_is_the_cli_split(cli, penguins, tmp_path):
    data = tmp_path / "penguins.csv"
    penguins.to_csv(data, index=False)
    before = penguins.copy()
    out, report = curaug.split(penguins, label="species", ratios=(0.6, 0.2, 0.2), folds=5, group="individual_id",
                               seed=3, return_report=True)
    pd.testing.assert_frame_equal(penguins, before)  # the caller's frame is untouched
    assert list(out.columns) == [*penguins.columns, "split", "fold"] and (out["id"] == penguins["id"]).all()
    assert (out.groupby("individual_id")["split"].nunique() == 1).all()
    assert report["sizes"] == out["split"].value_counts().to_dict()
    r = cli("split", data, "--label", "species", "--folds", "5", "--group", "individual_id", "--seed", "3",
            "-o", tmp_path / "cli.csv")
    assert r.code == 0, r.err
    from_cli = pd.read_csv(tmp_path / "cli.csv")
    assert from_cli["split"].tolist() == out["split"].tolist() and from_cli["fold"].tolist() == out["fold"].tolist()
    assert curaug.split(data, label="species", folds=5, group="individual_id", seed=3)["split"].tolist() \
        == out["split"].tolist()  # a path reads the same table


def test_split_leaves_corrupt_rows_unassigned():
    df = pd.DataFrame({"id": [f"r{i}" for i in range(12)], "label": list("ab") * 6,
                       "status": ["ok"] * 10 + ["corrupt"] * 2})
    out, report = curaug.split(df, return_report=True)
    assert out["split"].isna().tolist() == [False] * 10 + [True] * 2
    assert report["skipped_corrupt"] == 2


def test_validate_rules_as_file_or_mapping_and_the_default_roles(penguins, tmp_path):
    rules = {"label": "species", "columns": {"species": {"in_set": ["Adelie", "Gentoo"]}, "id": {"unique": True}}}
    (tmp_path / "rules.yaml").write_text(json.dumps(rules))
    from_mapping = curaug.validate(penguins, rules=rules)
    from_file = curaug.validate(penguins, rules=tmp_path / "rules.yaml")
    assert from_mapping.to_dict() == from_file.to_dict()
    in_set = next(c for c in from_mapping.checks if c.name == "in_set")
    chinstrap = penguins.loc[penguins["species"] == "Chinstrap", "id"].tolist()
    assert not from_mapping.success and in_set.observed["unexpected_count"] == len(chinstrap)
    assert in_set.observed["unexpected_ids"] == chinstrap[:len(in_set.observed["unexpected_ids"])]
    with_split = penguins.assign(split=["train", "val", "test"] * (len(penguins) // 3) + ["train"] * (len(penguins) % 3),
                                 label=penguins["species"])
    names = {c.name for c in curaug.validate(with_split).checks}
    assert {"split_ratios", "classes_in_every_split", "class_balance"} <= names  # split and label found


def test_clean_returns_the_data_and_its_log_and_reapplies_a_normaliser(penguins):
    dirty = pd.concat([penguins, penguins.head(2)], ignore_index=True)
    rules = {"clean": ["drop_duplicates"],
             "normalize": {"method": "zscore", "columns": ["bill_length_mm", "body_mass_g"]}}
    result = curaug.clean(dirty, rules=rules)
    assert len(result.data) == len(penguins) and len(dirty) == len(penguins) + 2
    dropped = next(e for e in result.log if e["step"] == "drop_duplicates")
    assert dropped["rows_dropped"] == 2
    assert result.data["body_mass_g"].mean() == pytest.approx(0, abs=1e-9)
    again = curaug.clean(penguins, apply=result.normalizer)
    np.testing.assert_allclose(again.data["body_mass_g"], result.data["body_mass_g"])
    assert again.log[-1]["action"] == "apply"
    with pytest.raises(curaug.CuraugError, match="rules=") as caught:
        curaug.clean(penguins)
    assert caught.value.param == "rules"
    with pytest.raises(curaug.CuraugError, match="apply=dict: not normaliser parameters"):
        curaug.clean(penguins, apply={"method": "zscore"})


def test_augment_with_a_recipe_mapping_writes_the_corpus(sample, tmp_path):
    manifest = curaug.ingest(sample / "images", use_cache=False).manifest
    digits = manifest[manifest["status"] == "ok"].head(6)
    out = curaug.split(digits, label="label", ratios=(1.0, 0.0, 0.0))
    recipe = {"modality": "image", "copies": 2, "transforms": [{"HorizontalFlip": {}}]}
    made, summary = curaug.augment(out, recipe, tmp_path / "aug", seed=1, return_summary=True)
    assert summary["made"] == 12 and len(made) == 6 + 12
    assert made["source_id"].dropna().value_counts().to_dict() == {i: 2 for i in digits["id"]}
    files = [p for p in (tmp_path / "aug").rglob("*.png")]
    assert len(files) == 12
    pd.testing.assert_frame_equal(curaug.load_data(tmp_path / "aug" / "manifest.parquet")[["id", "source_id"]],
                                  made[["id", "source_id"]])
    with pytest.raises(curaug.CuraugError, match="unknown key 'copys'"):
        curaug.augment(out, {"modality": "image", "copys": 2}, tmp_path / "bad")
    with pytest.raises(curaug.CuraugError, match="^recipe=int") as caught:
        curaug.augment(out, 3, tmp_path / "bad")
    assert caught.value.param == "recipe" and not (tmp_path / "bad").exists()
    unsplit = digits.drop(columns=["split"], errors="ignore")
    with pytest.raises(curaug.CuraugError, match="all_rows") as caught:
        curaug.augment(unsplit, recipe, tmp_path / "unsplit")
    assert not (tmp_path / "unsplit").exists()
    every = curaug.augment(unsplit, recipe, tmp_path / "unsplit", all_rows=True)
    assert every["source_id"].notna().sum() == 12


def test_profile_of_a_path_and_of_its_frame_agree(sample):
    from_path = curaug.profile(sample / "penguins.csv", label="species")
    from_frame = curaug.profile(pd.read_csv(sample / "penguins.csv"), label="species")
    assert from_path["source"] == str(sample / "penguins.csv") and from_frame["source"] is None
    assert {k: v for k, v in from_path.items() if k != "source"} == {k: v for k, v in from_frame.items() if k != "source"}
    assert from_path["label"]["counts"] == pd.read_csv(sample / "penguins.csv")["species"].value_counts().to_dict()


def test_cross_validators_work_in_scikit_learn(penguins):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    X, y = penguins[MEASURES].to_numpy(), penguins["species"].to_numpy()
    groups = penguins["individual_id"].to_numpy()
    model = make_pipeline(curaug.ZScore(), LogisticRegression(max_iter=500))
    scores = cross_val_score(model, X, y, groups=groups, cv=curaug.BalancedKFold(4, random_state=0))
    assert len(scores) == 4 and scores.min() > 0.9
    assert curaug.RepeatedBalancedKFold(3, n_repeats=2).get_n_splits() == 6


def test_leave_one_out_means_what_it_means_in_scikit_learn():
    small_y, small_groups = np.array(list("aabbcc")), np.array([1, 1, 2, 2, 3, 3])
    loo = list(curaug.LeaveOneOut().split(np.zeros((6, 1)), small_y, small_groups))
    assert [test.tolist() for _, test in loo] == [[i] for i in range(6)]  # scikit-learn's meaning: groups ignored
    logo = list(curaug.LeaveOneGroupOut().split(np.zeros((6, 1)), small_y, small_groups))
    assert sorted(test.tolist() for _, test in logo) == [[0, 1], [2, 3], [4, 5]]


def test_whiteners_decorrelate(penguins):
    X = penguins[MEASURES].to_numpy()
    for whitener in (curaug.ZCAWhitener(), curaug.PCAWhitener()):
        white = whitener.fit_transform(X)
        np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(4), atol=1e-6)
    scaled = curaug.MinMax().fit_transform(X)
    assert scaled.min(axis=0) == pytest.approx([0] * 4) and scaled.max(axis=0) == pytest.approx([1] * 4)
