"""``ingest(..., output=)``: a folder's manifest is built and written a piece at a time
(``PIECE_ROWS`` rows; Parquet row groups of ``ROW_GROUP_ROWS``) and reads back exactly as
the manifest built in memory and saved whole."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import one_error_line
from curate.io import ingest as ingest_module
from curate.io import media
from curate.io.ingest import ingest
from curate.io.manifest import load_data, save_manifest


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of 16 rows, row groups of 50: the 144 sample images make nine pieces and
    three row groups (50, 50, 44), most of them cut across pieces."""
    monkeypatch.setattr(ingest_module, "PIECE_ROWS", 16)
    monkeypatch.setattr(ingest_module, "ROW_GROUP_ROWS", 50)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_streamed_file_is_byte_identical_to_the_whole_manifest_saved(sample, tmp_path, suffix):
    whole, streamed = tmp_path / f"whole{suffix}", tmp_path / f"streamed{suffix}"
    in_memory = ingest(sample / "images", workers=1, use_cache=False)
    save_manifest(in_memory.manifest, whole)
    written = ingest(sample / "images", workers=1, use_cache=False, output=streamed)
    assert written.manifest is None
    assert streamed.read_bytes() == whole.read_bytes()
    assert {k: v for k, v in written.summary.items() if k != "seconds"} == \
        {k: v for k, v in in_memory.summary.items() if k != "seconds"}


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_pieces_read_back_as_the_whole_manifest(sample, tmp_path, small_pieces, suffix):
    whole, streamed = tmp_path / "sub" / f"whole{suffix}", tmp_path / "sub" / f"streamed{suffix}"
    in_memory = ingest(sample / "images", workers=1, use_cache=False)
    save_manifest(in_memory.manifest, whole)
    written = ingest(sample / "images", workers=1, use_cache=False, output=streamed)
    pd.testing.assert_frame_equal(load_data(streamed), load_data(whole))
    assert written.summary["rows"] == 144 and written.summary["corrupt"] == 1
    assert written.summary["corrupt_examples"] == [{"id": "8/truncated_digit.png", "reason":
                                                    in_memory.summary["corrupt_examples"][0]["reason"]}]
    assert written.summary["classes"] == 4
    if suffix == ".parquet":
        meta = pq.ParquetFile(streamed).metadata
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [50, 50, 44]
        # the root is stored relative to the manifest's folder, as save_manifest stores it
        assert set(pd.read_parquet(streamed)["root"]) == set(pd.read_parquet(whole)["root"])
        assert not pd.read_parquet(streamed)["root"].iloc[0].startswith("/")


def test_in_memory_manifest_and_file_bytes_do_not_depend_on_the_piece_size(sample, tmp_path, small_pieces,
                                                                           monkeypatch):
    pieces = ingest(sample / "images", workers=1, use_cache=False).manifest
    ingest(sample / "images", workers=1, use_cache=False, output=tmp_path / "pieces.parquet")
    monkeypatch.setattr(ingest_module, "PIECE_ROWS", 1000)
    whole = ingest(sample / "images", workers=1, use_cache=False).manifest
    ingest(sample / "images", workers=1, use_cache=False, output=tmp_path / "whole.parquet")
    pd.testing.assert_frame_equal(pieces, whole)
    assert (tmp_path / "pieces.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_cache_written_in_pieces_serves_a_reingest(sample, tmp_path, small_pieces):
    first = ingest(sample / "images", workers=1, output=tmp_path / "a.parquet")
    again = ingest(sample / "images", workers=1, output=tmp_path / "b.parquet")
    assert first.summary["decoded"] == 144
    assert again.summary["cached"] == 144 and again.summary["decoded"] == 0
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_a_run_stopped_after_some_pieces_leaves_the_previous_output(cli, sample, tmp_path, small_pieces,
                                                                      monkeypatch):
    out = tmp_path / "m.parquet"
    assert cli("ingest", sample / "text.csv", "-o", out).code == 0
    before = out.read_bytes()
    probe, seen = media.probe_file, []

    def failing_late(path, kind, encoding=None):
        seen.append(path)
        if len(seen) == 120:  # two row groups are already written by now
            raise KeyboardInterrupt
        return probe(path, kind, encoding)

    monkeypatch.setattr(ingest_module, "probe_file", failing_late)
    r = cli("ingest", sample / "images", "-o", out, "--no-cache", "--workers", "1")
    assert r.code == 130 and len(seen) == 120
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_output_extension_is_refused_before_any_work(sample, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_module, "probe_file", lambda *a: pytest.fail("decoded a file"))
    with pytest.raises(ValueError, match="unknown table extension '.xlsx'"):
        ingest(sample / "images", output=tmp_path / "m.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_a_table_source_too(cli, sample, tmp_path):
    out = tmp_path / "t.parquet"
    assert cli("ingest", sample / "text.csv", "-o", out).code == 0
    whole = tmp_path / "whole.parquet"
    save_manifest(ingest(sample / "text.csv").manifest, whole)
    assert out.read_bytes() == whole.read_bytes()
    one_error_line(cli("ingest", sample / "text.csv", "-o", tmp_path / "t.xlsx"))
