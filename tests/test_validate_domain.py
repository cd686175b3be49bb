"""``validate`` of a domain split (issue 24, section 2): no target-domain row in train or
train_val, only target rows in val and test, and only the source values the split saw;
the domains come from the split lock or the rules' ``splits: {domain: ...}``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import SAMPLE


@pytest.fixture
def locked_split(cli, tmp_path):
    """The sample penguins split with Biscoe as the target island, with a lock."""
    out, lock = tmp_path / "split.csv", tmp_path / "split.lock"
    r = cli("split", SAMPLE / "penguins.csv", "--label", "species", "--domain", "island", "--target", "Biscoe",
            "-o", out, "--lock", lock)
    assert r.code == 0, r.err
    return out, lock


def _domain_check(path) -> dict:
    return next(c for c in json.loads(path.read_text())["checks"] if c["name"] == "domain_split")


def test_an_untouched_domain_split_passes_with_the_domains_of_its_lock(cli, locked_split, tmp_path):
    data, lock = locked_split
    rules = tmp_path / "rules.yaml"
    # the contract: split checks and the lock (the penguins have gaps and a duplicate, and Gentoo lives on
    # Biscoe alone, so no class list is the same in every split of this split)
    rules.write_text("label: species\nsplits: {all_classes_in_each: false}\n")
    r = cli("validate", data, "--rules", rules, "--lock", lock, "--json", tmp_path / "v.json")
    check = _domain_check(tmp_path / "v.json")
    assert check["success"], check
    assert check["details"] == ("169 target-domain rows (island = 'Biscoe') all in val/test, 176 source rows all in "
                                "train/train_val")
    assert check["observed"]["source"] == ["Dream", "Torgersen"] and check["observed"]["from"] == "split lock"
    assert r.code == 0, r.out
    # drift is compared within each domain: between them it is the shift the split measures
    drift = [c["details"] for c in json.loads((tmp_path / "v.json").read_text())["checks"] if c["name"] == "drift"]
    assert [d.split(":")[0] for d in drift] == ["train vs train_val", "val vs test"]


def test_target_rows_moved_into_train_fail_the_check_with_their_ids(cli, locked_split, tmp_path):
    data, lock = locked_split
    df = pd.read_csv(data)
    moved = df.index[(df["island"] == "Biscoe")][:3]
    df.loc[moved, "split"] = ["train", "train_val", "train"]
    tampered = tmp_path / "tampered.csv"
    df.to_csv(tampered, index=False)
    rules = tmp_path / "rules.yaml"
    rules.write_text("label: species\nsplits:\n  domain: {column: island, target: Biscoe}\n")
    r = cli("validate", tampered, "--rules", rules, "--json", tmp_path / "v.json")
    assert r.code == 1
    check = _domain_check(tmp_path / "v.json")
    assert not check["success"]
    assert check["details"] == "3 target-domain rows (island = 'Biscoe') are in train or train_val"
    assert check["observed"]["target_in_source_splits"] == 3
    assert check["offenders"] == [str(i) for i in moved]
    assert "domain_split" in r.out


def test_a_source_row_in_test_and_a_new_island_in_train_fail_against_the_lock(cli, locked_split, tmp_path):
    data, lock = locked_split
    df = pd.read_csv(data)
    dream = df.index[(df["island"] == "Dream") & (df["split"] == "train")]
    df.loc[dream[0], "split"] = "test"
    df.loc[dream[1:3], "island"] = "Anvers"  # a third island mixed into train after the split
    tampered = tmp_path / "tampered.csv"
    df.to_csv(tampered, index=False)
    r = cli("validate", tampered, "--label", "species", "--lock", lock, "--json", tmp_path / "v.json")
    assert r.code == 1
    check = _domain_check(tmp_path / "v.json")
    assert check["details"] == ("1 source-domain rows (island other than 'Biscoe') are in val or test; 2 source rows "
                                "hold island values the split did not see (Anvers); declared: Dream, Torgersen")


def test_a_pipeline_domain_split_is_checked_by_validate_splits_and_its_gaps_reported(tmp_path):
    import curaug

    (tmp_path / "pipeline.yaml").write_text(
        f"out: {tmp_path / 'out'}\nsource: {SAMPLE / 'penguins.csv'}\nlabel: species\n"
        "split: {domain: year, target: 2009}\ntrain: {epochs: 3, device: cpu}\n")
    curaug.run(str(tmp_path / "pipeline.yaml"))
    split = pd.read_parquet(tmp_path / "out" / "split.parquet")
    assert set(split.loc[split["year"] == 2009, "split"]) == {"val", "test"}
    assert set(split.loc[split["year"] != 2009, "split"]) == {"train", "train_val"}
    check = _domain_check(tmp_path / "out" / "splits.validation.json")
    assert check["success"] and check["observed"]["column"] == "year" and check["observed"]["target"] == "2009"
    ratios = next(c for c in json.loads((tmp_path / "out" / "splits.validation.json").read_text())["checks"]
                  if c["name"] == "split_ratios")
    assert ratios["success"], ratios
    gaps = json.loads((tmp_path / "out" / "train" / "metrics.json").read_text())["gaps"]
    assert list(gaps["errors"]) == ["train", "train_val", "val", "test"] and gaps["variance_on"] == "train_val"
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<table id='error-rates'>" in page and "<table id='gaps'>" in page


def test_drift_of_a_domain_split_in_partitions_is_compared_within_each_domain_as_in_memory(cli, locked_split,
                                                                                           tmp_path):
    data, _ = locked_split
    df = pd.read_csv(data)
    folder = tmp_path / "parts"
    folder.mkdir()
    df.iloc[:200].to_parquet(folder / "part.0.parquet", index=False)
    df.iloc[200:].to_parquet(folder / "part.1.parquet", index=False)
    drift = {}
    for name, source in (("memory", data), ("partitions", folder)):
        cli("validate", source, "--label", "species", "--json", tmp_path / f"{name}.json")
        drift[name] = [c["details"] for c in json.loads((tmp_path / f"{name}.json").read_text())["checks"]
                       if c["name"] == "drift"]
    assert [d.split(":")[0] for d in drift["partitions"]] == ["train vs train_val", "val vs test"]
    assert drift["partitions"] == drift["memory"]
