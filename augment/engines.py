"""Where the jobs of a run are done: the work of one job, and the engines that share the
jobs out (this process, a pool of forked processes, a Dask cluster).

A :class:`Worker` renders jobs on one thread: it loads each source once for all its copies
(a source that no longer loads has its copies skipped, the error in their records), draws
and applies each copy's plan from the copy's own seed, and has the plugin's
:class:`augment.plugin.Output` write the files, after appending the job's record to the
worker's own log (so a file in place always has its record). Engines only move chunks of
jobs and records; on any exception, Ctrl-C included, they stop everything at once.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, Callable

import numpy as np

from augment.plugin import Context, Plugin, SkipSample
from augment.seeds import sample_seed
from curate.engine import dask_client, stop_dask
from curate.errors import CuraugError

#: Draws in a row that may apply no transform at all before a plain copy is accepted.
EMPTY_REDRAWS = 20
#: What a plugin's ``load`` raises on a source it cannot read (a CuraugError of its own, or
#: the decoder's OSError, e.g. PIL's "image file is truncated"): the source is skipped.
UNREADABLE_ERRORS = (CuraugError, OSError)
#: The skip reason of every copy of such a source.
UNREADABLE = "source unreadable since ingest (changed, truncated or removed)"
Collect = Callable[[dict], None]


@dataclass(frozen=True)
class Job:
    source_id: str
    copy: int
    path: str  # relative to OUTDIR


class Worker:
    """Renders jobs in one worker thread: its own plugin instance and context, the run's
    fixed inputs (``state``) and its own append-only log of finished jobs."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        self.key = state["key"]
        self.pid = os.getpid()
        self.plugin: Plugin = state["plugin"]()
        self.ctx = Context(state["loaded"].recipe, state["rows"], state["label"])
        self.steps = state["loaded"].steps
        self.gate = state["loaded"].recipe.gate
        self._log = None

    def render_chunk(self, jobs: list[Job]) -> list[dict[str, Any]]:
        records = []
        for source_id, copies in groupby(jobs, key=lambda job: job.source_id):
            row = self.ctx.record(source_id)
            try:
                source = self.plugin.load(row, self.ctx)  # once for all its copies
            except UNREADABLE_ERRORS as exc:
                # changed or truncated since ingest checked it: its copies are skipped, the run goes on
                error = " ".join(str(exc).split()) or type(exc).__name__
                records += [self._log_record({"job": asdict(job), "skipped": UNREADABLE, "unreadable": error,
                                              "rejected": 0, "files": {}}) for job in copies]
                continue
            records += [self.render(job, row, source) for job in copies]
        return records

    def render(self, job: Job, row: dict[str, Any], source: Any) -> dict[str, Any]:
        """Draw, apply and write one job; return its record."""
        plugin, ctx, run_seed = self.plugin, self.ctx, self.state["run_seed"]
        rejected: list[str] = []
        empty = 0
        attempt = 0
        while True:
            seed = sample_seed(run_seed, job.source_id, job.copy, attempt)
            attempt += 1
            plan = plugin.draw(self.steps, np.random.default_rng(seed), ctx, row)
            if not plan and empty < EMPTY_REDRAWS:
                empty += 1  # no transform drawn: the copy would equal its source, so draw again
                continue
            try:
                sample, applied = plugin.apply(source, plan, seed, ctx)
            except SkipSample as exc:
                return self._log_record({"job": asdict(job), "skipped": str(exc), "rejected": 0, "files": {}})
            reason = plugin.gate(source, sample, self.gate, ctx) if self.gate else None
            if reason is None:
                break
            rejected.append(reason)
            if len(rejected) >= self.gate.max_tries:
                return self._log_record({"job": asdict(job), "skipped": f"quality gate: {rejected[-1]}",
                                         "rejected": len(rejected), "files": {}})
        attempt -= 1
        output = plugin.output(sample, applied, job.path, ctx)
        record = {"job": asdict(job), "seed": seed, "attempt": attempt, "rejected": len(rejected),
                  "empty_draws": empty, **output.describe(),
                  "provenance": {"plugin": plugin.modality, "seed": seed, "run_seed": run_seed, "copy": job.copy,
                                 "attempt": attempt, "plan": plan, "applied": output.applied,
                                 "recipe_sha256": self.state["recipe_sha256"], "versions": self.state["versions"]}}
        self._log_record(record)  # before the files: a file in place always has its record
        output.save(self.state["outdir"], self.state["staging"])
        return record

    def _log_record(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._log is None:
            import uuid

            self._log = open(Path(self.state["logs"]) / f"{uuid.uuid4().hex}.jsonl", "a", encoding="utf-8")
        self._log.write(json.dumps(record) + "\n")
        self._log.flush()
        return record

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


_local = threading.local()  # this thread's Worker (Dask runs tasks on threads)


def start_worker(state: dict[str, Any]) -> Worker:
    current = getattr(_local, "worker", None)
    if current is not None and current.pid == os.getpid():
        current.close()
    _local.worker = Worker(state)
    return _local.worker


def _pool_worker(state: dict[str, Any]) -> None:
    """Pool process start: Ctrl-C reaches the whole process group, but only the parent acts
    on it (it stops the pool); a worker that raised too would print its own traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start_worker(state)


def render_chunk(jobs: list[Job], state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Render ``jobs`` on this thread's worker (started from ``state`` when it is new here)."""
    worker = getattr(_local, "worker", None)
    if state is not None and (worker is None or worker.key != state["key"] or worker.pid != os.getpid()):
        worker = start_worker(state)
    return worker.render_chunk(jobs)


# ------------------------------------------------------------------ engines


class InProcess:
    """Jobs run one after another in this process."""

    def run(self, chunks: list[list[Job]], state: dict[str, Any], collect: Collect) -> None:
        worker = start_worker(state)
        try:
            for chunk in chunks:
                for record in worker.render_chunk(chunk):
                    collect(record)
        finally:
            worker.close()


class LocalPool:
    """Jobs run on ``workers`` processes forked from this one. On any exception here,
    Ctrl-C included, pending chunks are cancelled and the workers end at once."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, chunks: list[list[Job]], state: dict[str, Any], collect: Collect) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_pool_worker, initargs=(state,))
        try:
            futures = [pool.submit(render_chunk, chunk) for chunk in chunks]
            for future in as_completed(futures):
                for record in future.result():
                    collect(record)
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown()


def _terminate(pool) -> None:
    """Cancel the chunks not started and end the running ones now (a long sample must not
    keep a stopped run alive). Python 3.14 has this as ``terminate_workers()``; before, the
    executor's process table is the only handle on its workers."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


class DaskEngine:
    """Jobs run as tasks on a Dask cluster: the one at ``scheduler``, or a LocalCluster of
    ``workers`` processes. On any exception here, Ctrl-C included, pending tasks are
    cancelled, and a LocalCluster's workers end at once, running tasks and all."""

    def __init__(self, workers: int, scheduler: str | None):
        self.workers, self.scheduler = workers, scheduler

    def run(self, chunks: list[list[Job]], state: dict[str, Any], collect: Collect) -> None:
        from distributed import as_completed

        with dask_client(self.workers, self.scheduler) as (client, cluster):
            submitted = []  # every future of this run, the shared state too: all cancelled on a stop
            try:
                shared = client.scatter(state, broadcast=True)
                submitted.append(shared)
                tasks = [client.submit(render_chunk, chunk, shared, pure=False) for chunk in chunks]
                submitted += tasks
                for future in as_completed(tasks):
                    for record in future.result():
                        collect(record)
            except BaseException:
                stop_dask(client, submitted, cluster)
                raise


def make_engine(engine: str, workers: int, scheduler: str | None, jobs: int) -> InProcess | LocalPool | DaskEngine:
    if engine == "dask":
        return DaskEngine(workers, scheduler)
    if engine != "local":
        raise CuraugError(f"unknown engine '{engine}' (local or dask)", param="engine")
    return LocalPool(workers) if workers > 1 and jobs > 1 else InProcess()
