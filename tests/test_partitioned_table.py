"""Opening a partitioned table: the rows, names and dtypes the in-memory path sees, and one
error line for what cannot be read."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import curaug
from curate.errors import CuraugError
from curate.partitioned.table import engine_scope, open_table


def test_rows_are_numbered_through_the_files_whatever_columns_a_pass_reads(tmp_path):
    df = pd.DataFrame({"x": [0, 1, 2, 0, 1, 2, 3, 0, 2], "y": ["a"] * 9, "z": [1.5] * 9})
    for i, (start, stop) in enumerate([(0, 3), (3, 3), (3, 7), (7, 9)]):  # one file empty
        df.iloc[start:stop].to_parquet(tmp_path / f"f{i}.parquet", index=False)
    ddf = open_table(tmp_path)
    with engine_scope("local"):
        assert ddf.compute().index.tolist() == list(range(9))
        # one column: dask may fuse the partitions of a projected read; the positions hold
        assert ddf["y"].compute().index.tolist() == list(range(9))
        assert ddf[ddf["x"] >= 2].compute().index.tolist() == [2, 5, 6, 8]


def test_an_integer_column_missing_in_one_file_reads_as_the_whole_table_does(tmp_path):
    pq.write_table(pa.table({"k": pa.array([1, 2, 3], pa.int64()), "y": ["a", "b", "a"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"k": pa.array([1, None, 3], pa.int64()), "y": ["a", "b", "b"]}), tmp_path / "b.parquet")
    pq.write_table(pa.table({"k": pa.array([None, None], pa.null()), "y": ["a", "b"]}), tmp_path / "c.parquet")
    whole = pd.read_parquet(tmp_path)
    got = open_table(tmp_path).compute()
    assert whole["k"].dtype == got["k"].dtype == "float64"
    assert got["k"].equals(whole["k"])
    want = curaug.validate(whole, label="y").to_dict()
    have = curaug.validate(tmp_path, label="y").to_dict()
    assert {**want, "source": None} == {**have, "source": None}


def test_list_labels_are_multilabel_as_in_memory(tmp_path):
    df = pd.DataFrame({"tags": [["a", "b"], ["b"], ["a"], ["c", "a"]] * 5, "x": range(20)})
    df.iloc[:10].to_parquet(tmp_path / "a.parquet", index=False)
    df.iloc[10:].to_parquet(tmp_path / "b.parquet", index=False)
    want = curaug.validate(pd.read_parquet(tmp_path), label="tags").to_dict()
    have = curaug.validate(tmp_path, label="tags").to_dict()
    assert {**want, "source": None} == {**have, "source": None}
    assert any(c["name"] == "class_balance" and c["observed"].get("multilabel") for c in have["checks"])


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no file matches this pattern"),
    (lambda p: (p / "a.parquet").write_bytes(b"PAR1 not really"), "cannot read as parquet"),
    (lambda p: ((p / "a.csv").write_text("x\n1\n"), pd.DataFrame({"x": [1]}).to_parquet(p / "b.parquet")),
     "mixes csv and parquet files"),
    (lambda p: (p / "a.jsonl").write_text('{"x": 1}\n'), "JSON lines cannot be read in partitions"),
])
def test_what_cannot_be_read_is_one_error_line(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(CuraugError, match=message):
        open_table(tmp_path / "*.*")


def test_the_local_engine_takes_a_local_cluster_for_a_large_table_and_the_same_result(tmp_path, monkeypatch):
    from distributed import default_client

    from curate.partitioned import table as table_module

    df = pd.DataFrame({"y": list("aabbbccccd") * 30, "x": range(300)})
    for i in range(3):
        df.iloc[i * 100:(i + 1) * 100].to_parquet(tmp_path / f"f{i}.parquet", index=False)
    small = curaug.split(tmp_path, "y", output=tmp_path.parent / "small", return_report=True)
    assert table_module.table_rows(tmp_path) == 300
    with engine_scope("local", rows=300):
        with pytest.raises(ValueError):
            default_client()  # threads here: no cluster
    monkeypatch.setattr(table_module, "LOCAL_THREADS_MAX_ROWS", 100)
    with engine_scope("local", workers=2, rows=300):
        assert len(default_client().scheduler_info()["workers"]) == 2
    large = curaug.split(tmp_path, "y", output=tmp_path.parent / "large", workers=2)
    assert large == small
    assert pd.read_parquet(tmp_path.parent / "large").equals(pd.read_parquet(tmp_path.parent / "small"))


def test_a_csv_reads_with_the_types_pandas_gives_the_whole_file(tmp_path):
    pd.DataFrame({"year": [2007, 2008, 2009] * 50, "y": list("abc") * 50,
                  "x": [1.5, None, 2.0] * 50}).to_csv(tmp_path / "t.csv", index=False)
    rules = {"columns": {"year": {"dtype": "int"}, "y": {"in_set": ["a", "b"]}}}
    want = curaug.validate(pd.read_csv(tmp_path / "t.csv"), rules, label="y").to_dict()
    have = curaug.validate(tmp_path / "t.csv", rules, label="y", engine="dask", workers=1).to_dict()
    assert {**want, "source": None} == {**have, "source": None}
    assert open_table(tmp_path / "t.csv").dtypes.to_dict() == pd.read_csv(tmp_path / "t.csv").dtypes.to_dict()


def test_csv_blocks_that_disagree_on_a_type_are_one_error_line(tmp_path):
    lines = ["k,y"] + [f"{i},a" for i in range(50_000)]
    lines[40_001] = ",a"  # an integer column's first missing value, blocks after the first
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(CuraugError, match="blocks disagree on column types"):
        open_table(tmp_path / "t.csv", blocksize=50_000)
