"""``curaug split --domain COL --target VALUE``: splits for shifted data (issue 24, section 2).

train and train_val come from the source domain, val and test from the target domain; no
target row is ever in train, and the ratios, groups, stratification and folds work within
each domain as in any split.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

import curaug
from conftest import SAMPLE, one_error_line
from curate.errors import CuraugError


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "penguins.csv")


def test_penguins_of_biscoe_are_val_and_test_and_the_other_islands_train_and_train_val(penguins):
    out, report = curaug.split(penguins, label="species", domain="island", target="Biscoe", seed=0,
                               return_report=True)
    biscoe = out["island"] == "Biscoe"
    assert set(out.loc[biscoe, "split"]) == {"val", "test"}
    assert set(out.loc[~biscoe, "split"]) == {"train", "train_val"}
    # within each domain, every class is dealt in the ratios' proportion (train:val 3:1, val:test 1:1)
    counts = pd.crosstab([out["island"] == "Biscoe", out["species"]], out["split"])
    for (is_target, _), row in counts.iterrows():
        n = row.sum()
        if is_target:
            assert abs(row["val"] - n / 2) <= 1 and abs(row["test"] - n / 2) <= 1
        else:
            assert abs(row["train"] - 0.75 * n) <= 1 and abs(row["train_val"] - 0.25 * n) <= 1
    assert list(report["sizes"]) == ["train", "train_val", "val", "test"]
    assert report["sizes"] == out["split"].value_counts().reindex(list(report["sizes"])).to_dict()
    assert report["domain"] == {"column": "island", "target": "Biscoe", "source_values": ["Dream", "Torgersen"],
                                "rows": {"source": 176, "target": 169}, "ratios": [0.6, 0.2, 0.2]}
    # every class gets a count in every split, zeros included (Gentoo lives on Biscoe alone)
    assert report["per_class"]["Gentoo"] == {"train": 0, "train_val": 0, "val": 62, "test": 62}
    assert report["max_class_proportion_deviation"] < 0.02


def test_folds_cover_the_source_rows_only(penguins):
    out = curaug.split(penguins, label="species", domain="island", target="Dream", folds=4, seed=1)
    dream = (out["island"] == "Dream").to_numpy()
    assert (out.loc[dream, "fold"] == -1).all()
    source_folds = out.loc[~dream, "fold"]
    assert sorted(source_folds.unique()) == [0, 1, 2, 3]
    sizes = source_folds.value_counts()
    assert sizes.max() - sizes.min() <= 1


def test_groups_stay_whole_within_a_domain_and_a_group_in_both_domains_is_an_error():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"patient": np.repeat([f"p{i}" for i in range(40)], 3),
                       "hospital": np.repeat(["north"] * 25 + ["south"] * 15, 3),
                       "y": rng.choice(["sick", "well"], 120)})
    out = curaug.split(df, label="y", group="patient", domain="hospital", target="south", seed=0)
    assert out.groupby("patient")["split"].nunique().max() == 1
    assert set(out.loc[out["hospital"] == "south", "split"]) == {"val", "test"}
    df.loc[0, "hospital"] = "south"  # patient p0 now in both hospitals
    with pytest.raises(CuraugError, match=r"group='patient': 1 groups have rows in both domains .*p0"):
        curaug.split(df, label="y", group="patient", domain="hospital", target="south")


def test_a_numeric_domain_column_matches_the_target_as_a_number(penguins):
    out = curaug.split(penguins, label="species", domain="year", target="2009", seed=0)
    assert set(out.loc[out["year"] == 2009, "split"]) == {"val", "test"}
    assert not out.loc[out["year"] != 2009, "split"].isin(["val", "test"]).any()


def test_the_target_may_hold_a_single_class_but_the_source_must_hold_two(penguins):
    out = curaug.split(penguins, label="species", domain="island", target="Torgersen", seed=0)
    assert set(out.loc[out["island"] == "Torgersen", "species"]) == {"Adelie"}
    assert set(out.loc[out["island"] == "Torgersen", "split"]) == {"val", "test"}
    only_adelie = penguins[(penguins["species"] == "Adelie") | (penguins["island"] == "Biscoe")]
    with pytest.raises(CuraugError, match=r"^source domain \(island other than 'Biscoe', \d+ rows\): label='species' "
                                          r"has a single class in the source domain"):
        curaug.split(only_adelie, label="species", domain="island", target="Biscoe")


def test_a_class_too_small_for_the_target_is_named_with_its_domain_and_goes_to_val_not_train():
    df = pd.DataFrame({"y": ["a", "b"] * 20 + ["a", "b", "c"], "site": ["web"] * 40 + ["phone"] * 3})
    df.loc[df.index[:20], "site"] = "phone"
    with pytest.raises(CuraugError, match=r"^target domain \(site = 'phone', 23 rows\): class 'c' of label='y' has 1 "
                                          r"rows but must appear in 2 splits \(val, test\).*strict=False to put classes "
                                          r"this small in val"):
        curaug.split(df, label="y", domain="site", target="phone")
    out, report = curaug.split(df, label="y", domain="site", target="phone", strict=False, return_report=True)
    assert out.loc[out["y"] == "c", "split"].tolist() == ["val"]
    assert "target domain: classes with fewer than 2 rows (or groups) all go to val: c" in report["notes"]


def test_ratios_that_leave_a_domain_nowhere_to_go_are_an_error(penguins):
    with pytest.raises(CuraugError, match=r"ratios=\[0.0, 0.5, 0.5\]: a domain split trains on the source"):
        curaug.split(penguins, label="species", domain="island", target="Biscoe", ratios=(0, 0.5, 0.5))
    with pytest.raises(CuraugError, match=r"ratios=\[1.0, 0.0, 0.0\]: a domain split puts the target domain in val"):
        curaug.split(penguins, label="species", domain="island", target="Biscoe", ratios=(1, 0, 0))
    out = curaug.split(penguins, label="species", domain="island", target="Biscoe", ratios=(0.8, 0, 0.2))
    assert set(out["split"]) == {"train", "test"}


def test_bad_domain_input_is_one_error_line_with_exit_2(cli, tmp_path, penguins):
    data = SAMPLE / "penguins.csv"
    out = tmp_path / "out.parquet"
    line = one_error_line(cli("split", data, "--label", "species", "--domain", "isle", "--target", "Biscoe", "-o", out))
    assert line.startswith("error: --domain 'isle': no such column (columns: species, island,")
    line = one_error_line(cli("split", data, "--label", "species", "--domain", "island", "--target", "Bisco", "-o", out))
    assert line == "error: --target 'Bisco' is not a value of --domain 'island' (did you mean 'Biscoe'?)"
    line = one_error_line(cli("split", data, "--label", "species", "--domain", "island", "-o", out))
    assert line.startswith("error: --domain needs --target as well")
    line = one_error_line(cli("split", data, "--label", "species", "--target", "Biscoe", "-o", out))
    assert line.startswith("error: --target needs --domain as well")
    # 11 penguins have no sex: they would be in neither domain
    line = one_error_line(cli("split", data, "--label", "species", "--domain", "sex", "--target", "female", "-o", out))
    assert line.startswith("error: --domain 'sex': 11 of 345 rows have no value")
    assert not out.exists()


def test_the_cli_writes_the_split_the_report_and_a_lock_naming_the_domains(cli, tmp_path):
    out, lock, report = tmp_path / "out.parquet", tmp_path / "split.lock", tmp_path / "split.json"
    r = cli("split", SAMPLE / "penguins.csv", "--label", "species", "--domain", "island", "--target", "Biscoe",
            "-o", out, "--lock", lock, "--json", report)
    assert r.code == 0, r.err
    assert "domains of 'island': target 'Biscoe' (169 rows) in val and test, source (176 rows)" in r.out
    df = pd.read_parquet(out)
    assert not df.loc[df["island"] == "Biscoe", "split"].isin(["train", "train_val"]).any()
    settings = json.loads(lock.read_text())["settings"]
    assert (settings["domain"], settings["target"]) == ("island", "Biscoe")
    assert json.loads(report.read_text())["domain"]["target"] == "Biscoe"


def test_a_partitioned_domain_split_is_the_in_memory_one_with_its_lock(cli, tmp_path, penguins):
    folder = tmp_path / "parts"
    folder.mkdir()
    penguins.iloc[:200].to_parquet(folder / "part.0.parquet", index=False)
    penguins.iloc[200:].to_parquet(folder / "part.1.parquet", index=False)
    penguins.to_csv(tmp_path / "whole.csv", index=False)
    args = ["--label", "species", "--domain", "island", "--target", "Biscoe", "--small-classes-to-train"]
    r = cli("split", folder, *args, "-o", tmp_path / "out", "--lock", tmp_path / "p.lock")
    assert r.code == 0, r.err
    assert cli("split", tmp_path / "whole.csv", *args, "-o", tmp_path / "mem.csv", "--lock", tmp_path / "m.lock").code == 0
    got, want = pd.read_parquet(tmp_path / "out"), pd.read_csv(tmp_path / "mem.csv")
    assert got["split"].astype(object).tolist() == want["split"].tolist()
    assert set(got.loc[got["island"] == "Biscoe", "split"]) == {"val", "test"}
    locks = [json.loads((tmp_path / f).read_text()) for f in ("p.lock", "m.lock")]
    assert locks[0]["splits"] == locks[1]["splits"] and locks[0]["settings"]["target"] == "Biscoe"


@given(n_source=st.integers(4, 40), n_target=st.integers(2, 30), classes=st.integers(1, 3), seed=st.integers(0, 9),
       stable=st.booleans())
def test_no_target_row_is_ever_in_train_and_every_row_is_placed(n_source, n_target, classes, seed, stable):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(n_source) % 2, rng.integers(0, classes, n_target)]).astype(str)
    df = pd.DataFrame({"y": y, "d": ["s"] * n_source + ["t"] * n_target})
    out = curaug.split(df, label="y", domain="d", target="t", seed=seed, stable=stable, strict=False)
    target = (out["d"] == "t").to_numpy()
    assert out["split"].notna().all()
    assert out.loc[target, "split"].isin(["val", "test"]).all()
    assert out.loc[~target, "split"].isin(["train", "train_val"]).all()
