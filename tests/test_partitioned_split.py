"""``curaug split`` of a partitioned table: row for row the in-memory split, for any number of
partitions, on threads here and on a real two-process LocalCluster; written as a Parquet
dataset folder (or one file) that appears whole or not at all."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import curaug
from conftest import one_error_line
from curate.errors import CuraugError
from curate.split.partitioned import split_partitioned
from curate.partitioned.table import engine_scope, open_table


def write_parts(df: pd.DataFrame, folder, parts: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in enumerate(np.array_split(np.arange(len(df)), parts)):
        df.iloc[rows].to_parquet(folder / f"f{i:03d}.parquet", index=False)


def table(n: int, seed: int, *, classes: int = 3, groups: bool = False, corrupt: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)],
                       "y": rng.choice([f"c{k}" for k in range(classes)], n, p=rng.dirichlet(np.ones(classes))),
                       "x": rng.normal(size=n)})
    if groups:
        df["g"] = rng.integers(0, max(4, n // 6), n).astype(str)
    if corrupt:
        df["status"] = np.where(rng.random(n) < 0.1, "corrupt", "ok")
    return df


def partitioned(df: pd.DataFrame, tmp_path, parts: int, **kwargs) -> tuple[pd.DataFrame, dict]:
    write_parts(df, tmp_path / "in", parts)
    report = split_partitioned(open_table(tmp_path / "in"), "y", tmp_path / "out", **kwargs)
    return pd.read_parquet(tmp_path / "out"), report


def assert_same(got: tuple, want: tuple) -> None:
    (out, report), (expected, expected_report) = got, want
    assert out["split"].astype(object).equals(expected["split"].astype(object))
    if "fold" in expected:
        assert out["fold"].astype(object).equals(expected["fold"].astype(object))
    assert json.dumps(report, sort_keys=True) == json.dumps(expected_report, sort_keys=True)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(20, 300), seed=st.integers(0, 10**6), parts=st.integers(1, 9),
       kind=st.sampled_from(["stratified", "grouped", "stable", "stable grouped"]),
       folds=st.sampled_from([0, 2, 3]), corrupt=st.booleans())
def test_any_partitioning_gives_the_in_memory_split(tmp_path_factory, n, seed, parts, kind, folds, corrupt):
    df = table(n, seed, groups="grouped" in kind, corrupt=corrupt)
    kwargs = dict(seed=seed % 100, folds=folds, strict=False, stable="stable" in kind,
                  group="g" if "grouped" in kind else None)
    try:
        want = curaug.split(df, "y", return_report=True, **kwargs)
    except CuraugError as exc:  # too few rows for the folds: the same error line
        with pytest.raises(CuraugError) as got:
            partitioned(df, tmp_path_factory.mktemp("t"), parts, **kwargs)
        assert str(got.value) == str(exc)
        return
    assert_same(partitioned(df, tmp_path_factory.mktemp("t"), parts, **kwargs), want)


def multilabel_table(n: int, seed: int, corrupt: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tags = ["cat", "dog", "bird", "fish"]
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)],
                       "tags": [";".join(sorted(rng.choice(tags, rng.integers(1, 3), replace=False))) for _ in range(n)],
                       "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n), unit="h"),
                       "x": rng.normal(size=n)})
    if corrupt:
        df["status"] = np.where(rng.random(n) < 0.1, "corrupt", "ok")
    return df


@settings(max_examples=12, deadline=None)
@given(n=st.integers(30, 200), seed=st.integers(0, 10**6), parts=st.integers(1, 7),
       kind=st.sampled_from(["multilabel", "time", "time gap"]), folds=st.sampled_from([0, 2]),
       corrupt=st.booleans())
def test_multilabel_and_time_splits_of_any_partitioning_are_the_in_memory_split(tmp_path_factory, n, seed, parts,
                                                                                   kind, folds, corrupt):
    df = multilabel_table(n, seed, corrupt)
    kwargs = dict(seed=seed % 100, folds=folds)
    kwargs.update(multilabel_sep=";") if kind == "multilabel" else kwargs.update(time="t")
    if kind == "time gap":
        kwargs["gap"] = "3h"
    label = "tags"
    try:
        want = curaug.split(df, label, return_report=True, **kwargs)
    except CuraugError as exc:
        with pytest.raises(CuraugError) as got:
            folder = tmp_path_factory.mktemp("t")
            write_parts(df, folder / "in", parts)
            split_partitioned(open_table(folder / "in"), label, folder / "out", **kwargs)
        assert str(got.value) == str(exc)
        return
    folder = tmp_path_factory.mktemp("t")
    write_parts(df, folder / "in", parts)
    report = split_partitioned(open_table(folder / "in"), label, folder / "out", **kwargs)
    out = pd.read_parquet(folder / "out")
    expected, expected_report = want
    assert out["split"].astype(object).equals(expected["split"].astype(object))
    if folds:
        assert out["fold"].astype(object).equals(expected["fold"].astype(object))
    assert out.drop(columns=["split", "fold"], errors="ignore").equals(df)
    note = report["notes"].pop()
    assert note.startswith("multilabel, time and domain splits order the whole table") and f"all {n} rows" in note
    assert json.dumps(report, sort_keys=True) == json.dumps(expected_report, sort_keys=True)


def test_list_labels_in_parquet_split_as_in_memory(tmp_path):
    df = multilabel_table(120, 5, corrupt=False)
    df["tags"] = df["tags"].str.split(";")
    write_parts(df, tmp_path / "in", 4)
    report = split_partitioned(open_table(tmp_path / "in"), "tags", tmp_path / "out", seed=3, folds=2)
    want, want_report = curaug.split(pd.read_parquet(tmp_path / "in"), "tags", seed=3, folds=2, return_report=True)
    assert pd.read_parquet(tmp_path / "out")["split"].astype(object).equals(want["split"].astype(object))
    assert report["sizes"] == want_report["sizes"]


@pytest.mark.parametrize("ids", [True, False])
def test_a_partitioned_split_writes_the_lock_of_the_in_memory_split_and_validate_checks_it(cli, tmp_path, ids):
    df = table(300, 4, groups=True)
    if not ids:
        df = df.drop(columns="id")
        df.loc[5] = df.loc[4]  # a repeated row: told apart by position, as in memory
    write_parts(df, tmp_path / "in", 3)
    df.to_csv(tmp_path / "whole.csv", index=False)
    args = ["--label", "y", "--group", "g", "--folds", "2", "--seed", "7"]
    assert cli("split", tmp_path / "in", *args, "-o", tmp_path / "out", "--lock", tmp_path / "p.lock").code == 0
    assert cli("split", tmp_path / "whole.csv", *args, "-o", tmp_path / "mem.csv", "--lock", tmp_path / "m.lock").code == 0
    part_lock, mem_lock = (json.loads((tmp_path / f).read_text()) for f in ("p.lock", "m.lock"))
    for key in ("splits", "folds", "labels", "assignment_sha256", "inputs_sha256", "rows"):
        assert part_lock[key] == mem_lock[key]
    assert part_lock["rows"] == 300
    ok = cli("validate", tmp_path / "out", "--label", "y", "--group", "g", "--lock", tmp_path / "p.lock", "--json",
             tmp_path / "ok.json")
    assert ok.code == (0 if ids else 1), ok.err  # without ids the repeated row also fails `duplicates`
    check = next(c for c in json.loads((tmp_path / "ok.json").read_text())["checks"] if c["name"] == "split_lock")
    assert check["success"] and check["observed"]["checked_rows"] == 300
    # move one locked row to another split in one partition: the partitioned validation names it
    moved = pd.read_parquet(tmp_path / "out")
    first = moved.index[moved["split"] == "train"][0]
    moved.loc[first, "split"] = "test"
    (tmp_path / "bad").mkdir()
    write_parts(moved, tmp_path / "bad", 3)
    bad = cli("validate", tmp_path / "bad", "--label", "y", "--group", "g", "--lock", tmp_path / "p.lock", "--json",
              tmp_path / "bad.json")
    assert bad.code == 1
    check = next(c for c in json.loads((tmp_path / "bad.json").read_text())["checks"] if c["name"] == "split_lock")
    assert not check["success"] and check["observed"]["moved"] == 1
    assert "1 locked rows changed split" in check["details"]


def test_a_large_class_is_cut_exactly_where_memory_cuts_it(tmp_path):
    # 60,000 rows: the cut windows hold a sliver of each class, not the class
    df = table(60_000, 7, classes=4)
    want = curaug.split(df, "y", folds=5, return_report=True, seed=3)
    assert_same(partitioned(df, tmp_path, 6, folds=5, seed=3), want)


@pytest.mark.parametrize("stable", [False, True])
def test_integer_groups_are_ordered_by_their_names_as_in_memory(tmp_path, stable):
    # groups 2 and 10: the in-memory split orders "10" before "2"; the partitioned one
    # groups by the integers and must still place them in that order
    df = table(2000, 9)
    df["g"] = np.random.default_rng(1).integers(0, 150, len(df))
    want = curaug.split(df, "y", group="g", folds=3, stable=stable, return_report=True)
    assert_same(partitioned(df, tmp_path, 5, group="g", folds=3, stable=stable), want)


def test_augmented_rows_follow_their_source_as_in_memory(tmp_path):
    df = table(300, 4)
    copies = df.sample(100, random_state=0).assign(source_id=lambda d: d["id"], id=lambda d: d["id"] + "_aug")
    manifest = pd.concat([df.assign(source_id=None), copies], ignore_index=True)
    want = curaug.split(manifest, "y", folds=2, return_report=True)
    got = partitioned(manifest, tmp_path, 4, folds=2)
    assert_same(got, want)
    assert "augmented rows follow their source (grouped by source_id)" in got[1]["notes"]


def test_small_classes_and_their_groups_go_to_train_with_the_same_notes(tmp_path):
    df = table(200, 1, groups=True)
    df.loc[:1, "y"] = "tiny"  # one class in two rows
    want = curaug.split(df, "y", group="g", strict=False, folds=2, return_report=True)
    got = partitioned(df, tmp_path, 4, group="g", strict=False, folds=2)
    assert_same(got, want)
    assert any("all go to train: tiny" in note for note in got[1]["notes"])


@pytest.mark.parametrize("group", [None, "g"])
def test_renamed_classes_of_equal_size_split_as_in_memory_and_as_before(tmp_path, group):
    # classes of equal size are dealt by their first row, which the partitions only know
    # together; renaming them (any one-to-one mapping) moves no row, here as in memory
    df = table(600, 2, classes=3, groups=True)
    df["y"] = np.random.default_rng(2).permutation(np.repeat(["a", "b", "c"], 200))
    kwargs = dict(folds=3, group=group, seed=4)
    want = partitioned(df, tmp_path / "base", 4, **kwargs)
    for k, names in enumerate((["b", "c", "a"], ["c", "a", "b"], ["z", "y", "x"])):
        renamed = df.assign(y=df["y"].map(dict(zip("abc", names))))
        got = partitioned(renamed, tmp_path / f"r{k}", 4, **kwargs)
        assert_same(got, curaug.split(renamed, "y", return_report=True, **kwargs))
        assert got[0]["split"].astype(object).equals(want[0]["split"].astype(object))
        assert got[0]["fold"].astype(object).equals(want[0]["fold"].astype(object))


@pytest.fixture(scope="module")
def scheduler():
    """One two-worker cluster for the module: starting one costs seconds."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("group", [None, "g"])
def test_a_dask_cluster_gives_the_same_files_as_threads_here(tmp_path, scheduler, group):
    df = table(3000, 5, groups=True)
    write_parts(df, tmp_path / "in", 5)
    kwargs = dict(folds=3, group=group, seed=11)
    with engine_scope("local"):
        split_partitioned(open_table(tmp_path / "in"), "y", tmp_path / "local", **kwargs)
    with engine_scope("dask", scheduler):
        split_partitioned(open_table(tmp_path / "in"), "y", tmp_path / "dask", **kwargs)
    local = sorted((tmp_path / "local").iterdir())
    assert [f.name for f in local] == [f"part.{i:05d}.parquet" for i in range(5)]
    assert [f.read_bytes() for f in local] == [(tmp_path / "dask" / f.name).read_bytes() for f in local]
    assert pd.read_parquet(tmp_path / "dask")["split"].astype(object).equals(
        curaug.split(df, "y", **kwargs)["split"].astype(object))


def test_cli_splits_a_folder_or_glob_into_a_folder_or_one_file(cli, tmp_path):
    df = table(400, 2)
    write_parts(df, tmp_path / "in", 3)
    assert cli("split", tmp_path / "in", "--label", "y", "--folds", "3", "-o", tmp_path / "out").code == 0
    r = cli("split", str(tmp_path / "in" / "*.parquet"), "--label", "y", "--folds", "3", "-o", tmp_path / "one.parquet")
    assert r.code == 0, r.err
    df.to_csv(tmp_path / "whole.csv", index=False)
    assert cli("split", tmp_path / "whole.csv", "--label", "y", "--folds", "3", "-o", tmp_path / "mem.csv").code == 0
    memory = pd.read_csv(tmp_path / "mem.csv")
    for got in (pd.read_parquet(tmp_path / "out"), pd.read_parquet(tmp_path / "one.parquet")):
        assert got["split"].astype(object).tolist() == memory["split"].tolist()
        assert got["fold"].astype(int).tolist() == memory["fold"].tolist()
    # a second run replaces the folder whole
    assert cli("split", tmp_path / "in", "--label", "y", "--seed", "1", "-o", tmp_path / "out").code == 0
    assert "fold" not in pd.read_parquet(tmp_path / "out").columns


def test_one_parquet_out_has_the_bytes_of_the_in_memory_split(cli, tmp_path, monkeypatch):
    from curate.partitioned import write

    df = table(450, 8, corrupt=True)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    write_parts(df, tmp_path / "in", 4)
    assert cli("split", tmp_path / "t.parquet", "--label", "y", "--folds", "2", "-o", tmp_path / "mem.parquet").code == 0
    assert cli("split", tmp_path / "in", "--label", "y", "--folds", "2", "-o", tmp_path / "part.parquet").code == 0
    assert (tmp_path / "part.parquet").read_bytes() == (tmp_path / "mem.parquet").read_bytes()
    # row groups of pandas' size, carried across partitions: 100 rows here
    monkeypatch.setattr(write, "MERGED_ROW_GROUP", 100)
    assert cli("split", tmp_path / "in", "--label", "y", "--folds", "2", "-o", tmp_path / "small.parquet").code == 0
    pd.read_parquet(tmp_path / "mem.parquet").to_parquet(tmp_path / "mem100.parquet", index=False, row_group_size=100)
    assert (tmp_path / "small.parquet").read_bytes() == (tmp_path / "mem100.parquet").read_bytes()


def test_cli_dask_engine_on_one_csv_matches_the_local_engine(cli, tmp_path, scheduler):
    table(500, 4).to_csv(tmp_path / "t.csv", index=False)
    assert cli("split", tmp_path / "t.csv", "--label", "y", "-o", tmp_path / "local.csv").code == 0
    r = cli("split", tmp_path / "t.csv", "--label", "y", "-o", tmp_path / "dask.parquet", "--engine", "dask",
            "--scheduler", scheduler)
    assert r.code == 0, r.err
    assert pd.read_parquet(tmp_path / "dask.parquet")["split"].astype(object).tolist() == \
        pd.read_csv(tmp_path / "local.csv")["split"].tolist()


@pytest.mark.parametrize("args, message", [
    (["--time", "x", "--group", "id"], "--time cannot be combined with --group"),
    (["--lock", "{tmp}/in"], "is a folder; give a file name"),
    (["--label", "nope"], "--label 'nope': no such column"),
    (["-o", "{tmp}/in"], "refusing to overwrite the input"),
    (["-o", "{tmp}/out.csv"], "Parquet dataset folder or one .parquet file"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --engine dask"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, args, message):
    write_parts(table(100, 3), tmp_path / "in", 2)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    base = ["split", tmp_path / "in", "--label", "y"] + (["-o", tmp_path / "out"] if "-o" not in args else [])
    r = cli(*base, *args)
    assert r.code == 2
    assert message in one_error_line(r)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
