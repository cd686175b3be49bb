"""``curaug ingest --engine dask``: the files decoded as Dask tasks on a real two-process
LocalCluster give the manifest of the local engine, byte for byte."""

from __future__ import annotations

import contextlib

import pytest

from conftest import one_error_line, one_internal_error_line
from curate.io import ingest as ingest_module
from curate.io.ingest import ingest


@pytest.fixture(scope="module")
def scheduler():
    """One two-worker cluster for the module: starting one costs seconds."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def small_tasks(monkeypatch):
    """Tasks of ~1 ms, so that the sample tree makes many tasks, not one."""
    monkeypatch.setattr(ingest_module, "TASK_SECONDS", 0.001)


@pytest.mark.parametrize("name", ["images", "audio"])
def test_dask_manifest_is_byte_identical_to_the_local_one(cli, sample, tmp_path, scheduler, small_tasks, name):
    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    assert cli("ingest", sample / name, "-o", local, "--no-cache").code == 0
    r = cli("ingest", sample / name, "-o", dask, "--no-cache", "--engine", "dask", "--scheduler", scheduler)
    assert r.code == 0, r.err
    assert dask.read_bytes() == local.read_bytes()


def test_manifest_streamed_in_row_groups_is_byte_identical_to_the_local_one(sample, tmp_path, scheduler,
                                                                            small_tasks, monkeypatch):
    import pyarrow.parquet as pq

    # pieces of 16 rows, row groups of 50, while tasks of a few files each finish in any order
    monkeypatch.setattr(ingest_module, "PIECE_ROWS", 16)
    monkeypatch.setattr(ingest_module, "ROW_GROUP_ROWS", 50)
    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    ingest(sample / "images", use_cache=False, workers=1, output=local)
    ingest(sample / "images", use_cache=False, engine="dask", scheduler=scheduler, output=dask)
    assert pq.ParquetFile(dask).metadata.num_row_groups == 3
    assert dask.read_bytes() == local.read_bytes()


def test_tasks_are_sized_from_a_probe_and_gathered_in_file_order(sample, scheduler, monkeypatch):
    from distributed import Client

    sizes = []  # files per task, seen as the tasks are submitted
    submit = Client.submit

    def recording(self, fn, batch, **kwargs):
        sizes.append(len(batch))
        return submit(self, fn, batch, **kwargs)

    monkeypatch.setattr(Client, "submit", recording)
    monkeypatch.setattr(ingest_module, "TASK_SECONDS", 0.003)
    seen = []
    result = ingest(sample / "images", use_cache=False, engine="dask", scheduler=scheduler,
                    progress=lambda done, total: seen.append((done, total)))
    local = ingest(sample / "images", use_cache=False, workers=1)
    assert result.manifest.equals(local.manifest)
    # 9 files probed here, the other 135 in several tasks of one size but the last
    assert ingest_module.PROBE_FILES + 1 + sum(sizes) == 144 and len(sizes) > 1
    assert len(set(sizes[:-1])) == 1 and sizes[-1] <= sizes[0]
    assert seen[0] == (0, 144) and seen[-1] == (144, 144)
    monkeypatch.undo()
    with Client(scheduler) as client:
        assert client.who_has() == {}  # nothing left behind on the cluster


def test_cached_files_need_no_cluster(sample, tmp_path):
    ingest(sample / "images", workers=1)
    # every file is a cache hit: no file to decode, so no scheduler is contacted at all
    again = ingest(sample / "images", engine="dask", scheduler="tcp://127.0.0.1:9")
    assert again.summary["cached"] == 144 and again.summary["decoded"] == 0


def test_unreachable_scheduler_is_one_line_and_writes_nothing(cli, sample, tmp_path):
    out = tmp_path / "m.parquet"
    # not the input's fault: a cluster failure, exit 3
    line = one_internal_error_line(cli("ingest", sample / "images", "-o", out, "--engine", "dask",
                                       "--scheduler", "tcp://127.0.0.1:9"))
    assert "ClusterError: cannot reach the Dask scheduler tcp://127.0.0.1:9" in line
    assert not out.exists()


def test_scheduler_without_dask_and_unknown_engine_are_refused(cli, sample, tmp_path):
    out = tmp_path / "m.parquet"
    assert "--scheduler needs --engine dask" in one_error_line(
        cli("ingest", sample / "images", "-o", out, "--scheduler", "tcp://127.0.0.1:9"))
    assert "'spark' is not one of 'local', 'dask'" in one_error_line(
        cli("ingest", sample / "images", "-o", out, "--engine", "spark"))
    assert not out.exists()


def test_ctrl_c_while_gathering_exits_130_with_one_line(cli, sample, tmp_path, scheduler, small_tasks, monkeypatch):
    import pipelines.console.progress

    @contextlib.contextmanager
    def interrupted_bar(label):
        def progress(done, total):
            if 0 < done < total:  # the first task came back: Ctrl-C now
                raise KeyboardInterrupt

        yield progress

    monkeypatch.setattr(pipelines.console.progress, "progress_bar", interrupted_bar)
    out = tmp_path / "m.parquet"
    r = cli("ingest", sample / "images", "-o", out, "--no-cache", "--engine", "dask", "--scheduler", scheduler)
    assert r.code == 130
    assert r.err.strip().splitlines() == ["error: interrupted"]
    assert not out.exists()


def test_python_api_refuses_an_unknown_engine_and_a_scheduler_without_dask(sample):
    from curate.errors import CuraugError

    with pytest.raises(CuraugError, match="unknown engine \\(local or dask\\)") as exc:
        ingest(sample / "images", engine="spark")
    assert exc.value.param == "engine"
    with pytest.raises(CuraugError, match="scheduler needs engine='dask'"):
        ingest(sample / "images", scheduler="tcp://127.0.0.1:9")
