"""``curaug augment --engine dask`` on a long-lived cluster, as a team shares one: a
scheduler and two worker processes started here (``dask scheduler``, ``dask worker``;
loopback only, no dashboard, ports from a scheduler file), kept from run to run, the
workers in a folder of their own. Two runs of one recipe into two folders, a worker
killed mid-run, a stopped run, a lost scheduler: each run gives the local engine's bytes
or fails as a cluster failure (exit 3), and no run touches another's folder."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from augment.executors import Job
from augment.recipe_file import load_recipe
from augment.runner import Interrupted, augment_manifest, chunk_jobs
from conftest import one_internal_error_line
from curate.engine import dask_client
from curate.errors import ClusterError, CuraugError
from curate.io.manifest import load_data

ROOT = Path(__file__).resolve().parents[1]
#: Copies per train row of the sample digits: 86 rows make 344 jobs, in 11 chunks.
COPIES = 4
JOBS = 86 * COPIES


def wait_for(condition, what: str, seconds: float = 120):
    """Poll ``condition`` until it gives a true value (bounded: the test fails instead of hanging)."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)
    return value


def python_env() -> dict[str, str]:
    """This checkout first on the path: the workers import the code under test."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def start(args: list[str], folder: Path, log: str) -> subprocess.Popen:
    """``python -m args`` in ``folder``, in a process group of its own (a worker's nanny
    and the worker process it restarts end together)."""
    with open(folder / log, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=folder, env=python_env(),
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def start_scheduler(folder: Path) -> tuple[subprocess.Popen, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "scheduler.json"
    process = start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file)], folder, "scheduler.log")
    wait_for(lambda: file.is_file() and file.stat().st_size > 0 or process.poll() is not None, "the scheduler")
    assert process.poll() is None, (folder / "scheduler.log").read_text()
    return process, file


def end(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Cluster:
    """A scheduler and two nanny-supervised workers of one thread each (a killed worker
    process is restarted, as on a team's cluster), and a client of the test's own."""

    def __init__(self, folder: Path):
        from distributed import Client

        scheduler, file = start_scheduler(folder)
        self.processes = [scheduler]
        workdir = folder / "workers"  # not the folder the runs are started from
        workdir.mkdir()
        for i in range(2):
            self.processes.append(start(["distributed.cli.dask_worker", "--scheduler-file", str(file), "--nthreads",
                                         "1", "--no-dashboard", "--host", "127.0.0.1"], workdir, f"worker{i}.log"))
        self.client = Client(scheduler_file=str(file), timeout="30s")
        self.client.wait_for_workers(2, timeout=120)
        self.address = self.client.scheduler.address

    def close(self) -> None:
        self.client.close()
        end(self.processes)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def inputs(split_manifest):
    return load_data(split_manifest / "split.parquet"), load_recipe(split_manifest / "recipe.yaml")


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> dict[str, str]:
    """The local engine's output, in this process: what every cluster run must write."""
    out = tmp_path_factory.mktemp("local") / "aug"
    augment_manifest(*inputs, out, copies=COPIES)
    return outputs(out)


def outputs(folder: Path) -> dict[str, str]:
    """sha256 of every file a run writes for its user (its bookkeeping in .curaug aside)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".curaug" not in p.relative_to(folder).parts}


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``, bookkeeping included: its hash and modification time."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def records(out: Path) -> int:
    """Finished jobs the workers have logged (a record per job, and one more per retry)."""
    return sum(log.read_text().count("\n") for log in (out / ".curaug" / "progress").glob("*.jsonl"))


def augment_args(split_manifest: Path, out: Path, address: str) -> list[str]:
    return ["augment", split_manifest / "split.parquet", "--recipe", split_manifest / "recipe.yaml", "-o", out,
            "--copies", COPIES, "--engine", "dask", "--scheduler", address]


def runs_held(cluster: Cluster) -> set[int]:
    """How many Workers of runs each worker process still holds."""
    def held() -> int:
        from augment.executors import _run_workers

        return len(_run_workers)

    return set(cluster.client.run(held).values())


def test_two_runs_of_one_recipe_on_one_cluster_give_the_local_bytes_and_leave_each_other_alone(
        cluster, inputs, split_manifest, reference, tmp_path, monkeypatch, cli):
    df, recipe = inputs
    monkeypatch.chdir(tmp_path)
    # the first run through the Python API, its roots and folder relative to this folder:
    # the workers, started in another one, must still read and write here
    relative = df.assign(root=[os.path.relpath(root, tmp_path) for root in df["root"]])
    augment_manifest(relative, recipe, "aug_a", copies=COPIES, engine="dask", scheduler=cluster.address)
    first = snapshot(tmp_path / "aug_a")
    # the second through the CLI into another folder, with the same settings: the same
    # settings key, by which the workers once took it for the first run
    r = cli(*augment_args(split_manifest, tmp_path / "aug_b", cluster.address))
    assert r.code == 0, r.err
    assert snapshot(tmp_path / "aug_a") == first  # not a byte, not a log line, not a touch
    assert outputs(tmp_path / "aug_b") == reference
    made = {k: v for k, v in outputs(tmp_path / "aug_a").items() if k not in ("manifest.parquet", "summary.json")}
    assert made == {k: v for k, v in reference.items() if k not in ("manifest.parquet", "summary.json")}
    assert len(made) == JOBS
    added = [pd.read_parquet(folder / "manifest.parquet").dropna(subset=["source_id"])[["id", "sha256", "augment"]]
             .reset_index(drop=True) for folder in (tmp_path / "aug_a", tmp_path / "aug_b")]
    assert added[0].equals(added[1])
    assert runs_held(cluster) == {0}  # each run ended on every worker: none keeps its rows or an open log


def test_two_runs_of_one_recipe_at_once_on_one_cluster_each_give_the_local_bytes(cluster, inputs, reference,
                                                                                  tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    # two users, the same settings, the same moment: the worker threads take chunks of both
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(augment_manifest, *inputs, tmp_path / name, copies=COPIES, engine="dask",
                            scheduler=cluster.address) for name in ("aug_x", "aug_y")]
        assert [run.result().summary["made"] for run in runs] == [JOBS, JOBS]
    assert outputs(tmp_path / "aug_x") == outputs(tmp_path / "aug_y") == reference
    assert records(tmp_path / "aug_x") == records(tmp_path / "aug_y") == JOBS  # each logged its own jobs only
    assert runs_held(cluster) == {0}


@pytest.mark.parametrize("victims", [1, 2], ids=["one worker", "every worker"])
def test_workers_killed_mid_run_cost_only_their_chunks(cluster, inputs, reference, tmp_path, victims):
    """``kill -9`` of worker processes running chunks once half the jobs are back, when
    each worker has finished chunks. Killing every worker also loses every copy of the
    run's state, which the scheduler makes again."""
    out = tmp_path / "aug"
    killed = []

    def kill_busy_workers(done: int, total: int) -> None:
        if killed or done < total // 2:
            return
        busy = [w for w, keys in cluster.client.processing().items() if any("render_chunk" in k for k in keys)]
        assert len(busy) >= victims and done < total
        killed.append(records(out))
        for worker, pid in cluster.client.run(os.getpid, workers=busy[:victims]).items():
            os.kill(pid, signal.SIGKILL)

    result = augment_manifest(*inputs, out, copies=COPIES, engine="dask", scheduler=cluster.address,
                              progress=kill_busy_workers)
    assert killed and killed[0] < JOBS and result.summary["made"] == JOBS
    assert outputs(out) == reference
    # only the chunks the killed workers held were done again: the one each was running,
    # and at most one each had finished that was not back yet; none of those already back
    chunk = len(chunk_jobs([Job(str(i), 0, "") for i in range(JOBS)], 1)[0])
    assert JOBS <= records(out) <= JOBS + victims * 2 * chunk
    cluster.client.wait_for_workers(2, timeout=120)  # the nannies restarted them
    assert runs_held(cluster) == {0}


def test_ctrl_c_on_a_shared_cluster_writes_nothing_after_it_returns_and_the_rerun_resumes(
        cluster, inputs, reference, tmp_path):
    out = tmp_path / "aug"

    def ctrl_c_at_the_first_chunk(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        augment_manifest(*inputs, out, copies=COPIES, engine="dask", scheduler=cluster.address,
                         progress=ctrl_c_at_the_first_chunk)
    stopped = snapshot(out)

    def running() -> int:  # tasks still on a worker thread, cancelled ones included
        return sum(cluster.client.run(lambda dask_worker: len(dask_worker.state.executing)).values())

    wait_for(lambda: running() == 0, "the cancelled chunks to stop")
    assert snapshot(out) == stopped  # the chunks that were running wrote nothing after the stop
    assert runs_held(cluster) == {0}
    result = augment_manifest(*inputs, out, copies=COPIES, engine="dask", scheduler=cluster.address)
    assert 0 < result.summary["resumed"] < JOBS
    assert outputs(out) == reference


def test_a_task_error_of_its_own_stays_bad_input_on_a_cluster(cluster):
    from augment.plugin import get_plugin

    with dask_client(1, cluster.address) as (client, _):
        with pytest.raises(CuraugError, match="no augmentation plugin for modality 'nope'"):
            client.submit(get_plugin, "nope", pure=False).result()


def test_a_task_whose_workers_keep_dying_is_a_cluster_error():
    import dask

    # no second chance: the first worker that dies running the task gives Dask's KilledWorker
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with pytest.raises(ClusterError, match=r"the Dask cluster \(a LocalCluster\) failed: KilledWorker"):
            with dask_client(1, None) as (client, _):
                client.submit(os._exit, 1, pure=False).result()


def test_a_scheduler_lost_mid_run_is_exit_3_with_one_line(split_manifest, tmp_path, cli):
    from distributed import Client

    # a scheduler without workers: the run waits on its tasks until the scheduler is gone
    scheduler, file = start_scheduler(tmp_path / "cluster")
    address = json.loads(file.read_text())["address"]

    def kill_the_scheduler_under_the_run() -> None:
        try:
            with Client(address, timeout="30s") as client:
                wait_for(lambda: client.run_on_scheduler(
                    lambda dask_scheduler: any("render_chunk" in str(key) for key in dask_scheduler.tasks)),
                         "the run's tasks on the scheduler")
        finally:
            end([scheduler])

    killer = threading.Thread(target=kill_the_scheduler_under_the_run)
    killer.start()
    r = cli(*augment_args(split_manifest, tmp_path / "aug", address))
    killer.join()
    line = one_internal_error_line(r)
    assert line.startswith(f"internal error: ClusterError: the Dask cluster {address} failed: ")
    assert not (tmp_path / "aug").exists()  # nothing was made: no folder of bookkeeping left behind


def test_a_background_file_rewritten_between_two_runs_is_read_again(tmp_path):
    """A worker process outlives a run: what it cached of one run's files must not stand
    in for the next run's (here, two runs in this process)."""
    from augment.audio.transforms import AUDIO_TRANSFORMS

    def tone(freq: float, seconds: float) -> np.ndarray:
        return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)

    background = tmp_path / "room.wav"
    sf.write(background, tone(50, 0.3), 16000)
    clean = tone(440, 1.0)[None]
    transform = AUDIO_TRANSFORMS.get("background")(files=[str(background)], snr_db=10)

    def mixed() -> np.ndarray:
        drawn = transform.get_params(clean, 16000, np.random.default_rng(0))
        return transform.apply(clean, 16000, **drawn)

    hum = mixed()
    sf.write(background, tone(3000, 0.4), 16000)  # the team replaced the recording
    whistle = mixed()
    assert not np.array_equal(hum, whistle)
    spectrum = np.abs(np.fft.rfft(whistle[0] - clean[0]))
    assert abs(np.argmax(spectrum) * 16000 / len(clean[0]) - 3000) < 5  # the new file's tone, not the old
