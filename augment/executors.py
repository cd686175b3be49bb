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
import threading
from dataclasses import asdict, dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Callable

import numpy as np

from augment.plugin import Context, Output, Plugin, SkipSample
from augment.seeds import sample_seed
from curate.engine import dask_client, stop_dask
from curate.errors import CuraugError
from curate.io.bounded_cache import BoundedCache

#: Draws in a row that may apply no transform at all before a plain copy is accepted.
EMPTY_REDRAWS = 20
#: What a plugin's ``load`` raises on a source it cannot read (a CuraugError of its own, or
#: the decoder's OSError, e.g. PIL's "image file is truncated"): the source is skipped.
UNREADABLE_ERRORS = (CuraugError, OSError)
#: The skip reason of every copy of such a source.
UNREADABLE = "source unreadable since ingest (changed, truncated or removed)"
#: Decoded sources a corpus worker keeps (its own rows' and copy_paste's donors), in bytes.
DECODED_CACHE_BYTES = 128 * 2**20
Collect = Callable[[dict], None]


@dataclass(frozen=True)
class Job:
    source_id: str
    copy: int
    path: str  # relative to OUTDIR


@dataclass
class Copy:
    """One copy of a source as drawn and applied: the new sample (None when ``skipped``
    says why there is none), the plan, what the backend drew, the seed and attempt that
    made it, the gate's rejections before it, the draws that applied nothing, and the
    label-preserving gate's counts (``label_judged``, ``label_rejected``) when one ran."""

    sample: Any
    plan: list[dict]
    applied: list[dict]
    seed: int
    attempt: int
    rejected: list[str]
    empty: int
    skipped: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)


def draw_copy(plugin: Plugin, steps: list, gate: Any, ctx: Context, row: dict[str, Any], source: Any,
              run_seed: int, source_id: str, copy: int, label_gate: Any = None) -> Copy:
    """Copy ``copy`` of ``source``: drawn from :func:`~augment.seeds.sample_seed` of (run
    seed, source id, copy, attempt), redrawn (next attempt) while the plan applies nothing
    (up to :data:`EMPTY_REDRAWS` times) or the recipe's gate, then ``label_gate``
    (:class:`augment.label_gate.LabelGate`), rejects the output (up to the gate's
    ``tries``). What the corpus runner writes and what training draws on the fly."""
    rejected: list[str] = []
    counts = {"label_judged": 0, "label_rejected": 0} if label_gate is not None else {}
    empty = 0
    attempt = 0
    while True:
        seed = sample_seed(run_seed, source_id, copy, attempt)
        attempt += 1
        plan = plugin.draw(steps, np.random.default_rng(seed), ctx, row)
        if not plan and empty < EMPTY_REDRAWS:
            empty += 1  # no transform drawn: the copy would equal its source, so draw again
            continue
        try:
            sample, applied = plugin.apply(source, plan, seed, ctx)
        except SkipSample as exc:
            # the record of a skipped sample counts no rejection: the skip is its outcome
            return Copy(None, plan, [], seed, attempt - 1, [], empty, skipped=str(exc), label_counts=counts)
        reason = plugin.gate(source, sample, gate, ctx) if gate else None
        if reason is None and label_gate is not None:
            counts["label_judged"] += 1
            reason = label_gate.judge(source_id, label_gate.features(plugin, sample, ctx))
            counts["label_rejected"] += reason is not None
        if reason is None:
            return Copy(sample, plan, applied, seed, attempt - 1, rejected, empty, label_counts=counts)
        rejected.append(reason)
        if len(rejected) >= gate.tries:
            return Copy(None, plan, [], seed, attempt - 1, rejected, empty, skipped=f"quality gate: {rejected[-1]}",
                        label_counts=counts)


class RunEnded(Exception):
    """The run this Worker belongs to has ended (stopped by its client): nothing more of it
    is written."""


class Worker:
    """Renders jobs in one worker thread: its own plugin instance and context, the run's
    fixed inputs (``state``) and its own append-only log of finished jobs. Once closed it
    writes nothing more: a job of a stopped run still running on a cluster the client does
    not own cannot write after the run's end."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        self.plugin: Plugin = state["plugin"]()
        # the sources this worker decoded, so a copy_paste donor met again is not decoded again
        self.ctx = Context(state["loaded"].recipe, state["rows"], state["label"],
                           sources=BoundedCache(DECODED_CACHE_BYTES))
        self.steps = state["loaded"].steps
        self.gate = state["loaded"].recipe.gate
        self.label_gate = state.get("label_gate")  # augment.label_gate.LabelGate, fitted once for the run
        self._log = None
        self._closed = False
        self._writing = threading.Lock()  # held from a job's record to its last file, and by close

    def render_chunk(self, jobs: list[Job]) -> list[dict[str, Any]]:
        records = []
        for source_id, copies in groupby(jobs, key=lambda job: job.source_id):
            row = self.ctx.record(source_id)
            try:
                # once for all its copies, and for the copies it is a donor to (kept while they fit)
                source = self.ctx.source(source_id, self.plugin.load)
            except UNREADABLE_ERRORS as exc:
                # changed or truncated since ingest checked it: its copies are skipped, the run goes on
                error = " ".join(str(exc).split()) or type(exc).__name__
                records += [self._commit({"job": asdict(job), "skipped": UNREADABLE, "unreadable": error,
                                          "rejected": 0, "files": {}}) for job in copies]
                continue
            records += [self.render(job, row, source) for job in copies]
        return records

    def render(self, job: Job, row: dict[str, Any], source: Any) -> dict[str, Any]:
        """Draw, apply and write one job; return its record."""
        run_seed = self.state["run_seed"]
        copy = draw_copy(self.plugin, self.steps, self.gate, self.ctx, row, source, run_seed, job.source_id, job.copy,
                         label_gate=self.label_gate)
        if copy.skipped is not None:
            return self._commit({"job": asdict(job), "skipped": copy.skipped, "rejected": len(copy.rejected),
                                 **copy.label_counts, "files": {}})
        output = self.plugin.output(copy.sample, copy.applied, job.path, self.ctx)
        record = {"job": asdict(job), "seed": copy.seed, "attempt": copy.attempt, "rejected": len(copy.rejected),
                  **copy.label_counts, "empty_draws": copy.empty, **output.describe(),
                  "provenance": {"plugin": self.plugin.modality, "seed": copy.seed, "run_seed": run_seed,
                                 "copy": job.copy, "attempt": copy.attempt, "plan": copy.plan,
                                 "applied": output.applied, "recipe_sha256": self.state["recipe_sha256"],
                                 "versions": self.state["versions"]}}
        return self._commit(record, output)

    def _commit(self, record: dict[str, Any], output: Output | None = None) -> dict[str, Any]:
        """Append ``record`` to this worker's log, then write ``output``'s files: a file in
        place always has its record."""
        with self._writing:
            if self._closed:
                raise RunEnded(self.state["outdir"])
            if self._log is None:
                import uuid

                self._log = open(Path(self.state["logs"]) / f"{uuid.uuid4().hex}.jsonl", "a", encoding="utf-8")
            self._log.write(json.dumps(record) + "\n")
            self._log.flush()
            if output is not None:
                output.save(self.state["outdir"], self.state["staging"])
        return record

    def close(self) -> None:
        """Close the log once the job being written (if any) is in place; write nothing after."""
        with self._writing:
            self._closed = True
            if self._log is not None:
                self._log.close()
                self._log = None


#: A pool process's Worker: one run per pool, whose processes end with the run.
_process_worker: Worker | None = None
#: Dask runs tasks on threads of long-lived processes, which a cluster shared by a team keeps
#: from run to run (two runs may even share a thread at once): a Worker per run and thread,
#: kept until :func:`end_run`. Keyed by the run's own id, never by its settings: two runs of
#: one recipe into two folders are two runs.
_run_workers: dict[tuple[str, int], Worker] = {}
#: Runs ended here: a task of one that reaches this process after its end (cancelled on its
#: way) starts nothing.
_ended_runs: set[str] = set()
_run_workers_lock = threading.Lock()


def _pool_worker(state: dict[str, Any]) -> None:
    """Pool process start: Ctrl-C reaches the whole process group, but only the parent acts
    on it (it stops the pool); a worker that raised too would print its own traceback."""
    import signal

    global _process_worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _process_worker = Worker(state)


def _pool_render(jobs: list[Job]) -> list[dict[str, Any]]:
    return _process_worker.render_chunk(jobs)


def render_chunk(jobs: list[Job], state: dict[str, Any]) -> list[dict[str, Any]]:
    """A Dask task: render ``jobs`` on this thread's Worker of the run ``state`` describes
    (started when the run is new on this thread)."""
    key = (state["run_id"], threading.get_ident())
    with _run_workers_lock:
        if state["run_id"] in _ended_runs:
            raise RunEnded(state["outdir"])
        worker = _run_workers.get(key)
        if worker is None:
            worker = _run_workers[key] = Worker(state)
    return worker.render_chunk(jobs)


def end_run(run_id: str) -> None:
    """Close and drop this process's Workers of run ``run_id`` (its log files, its rows),
    keeping only its id. Dask calls it on every worker as the run ends."""
    with _run_workers_lock:
        _ended_runs.add(run_id)
        ended = [_run_workers.pop(key) for key in [key for key in _run_workers if key[0] == run_id]]
    for worker in ended:
        worker.close()


# ------------------------------------------------------------------ engines


class InProcess:
    """Jobs run one after another in this process."""

    def run(self, chunks: list[list[Job]], state: dict[str, Any], collect: Collect) -> None:
        worker = Worker(state)
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
            futures = [pool.submit(_pool_render, chunk) for chunk in chunks]
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
    cancelled, and a LocalCluster's workers end at once, running tasks and all.

    On a cluster it does not own, the run ends on every worker as it returns or stops
    (:func:`end_run`): the workers keep nothing of it, and a task of a stopped run that is
    still running writes nothing more. The run's state goes to the cluster as a task, not
    as scattered data: when every worker that held it dies, the scheduler makes it again,
    so a killed worker costs only the tasks it was running.
    """

    def __init__(self, workers: int, scheduler: str | None):
        self.workers, self.scheduler = workers, scheduler

    def run(self, chunks: list[list[Job]], state: dict[str, Any], collect: Collect) -> None:
        import warnings

        from distributed import as_completed

        with dask_client(self.workers, self.scheduler) as (client, cluster):
            pending = {}  # the state and the chunks not back yet: all cancelled on a stop
            try:
                with warnings.catch_warnings():  # that the state is large: sent once, on purpose
                    warnings.filterwarnings("ignore", message="Sending large graph")
                    shared = client.submit(_shared, state, pure=False)
                pending[shared.key] = shared
                tasks = [client.submit(render_chunk, chunk, shared, pure=False) for chunk in chunks]
                pending.update((task.key, task) for task in tasks)
                completed = as_completed(tasks)
                del tasks  # from here on only pending holds a chunk until it is back
                for future in completed:
                    records = future.result()
                    # its records are here: the cluster forgets it, so a worker lost later
                    # does not make it again
                    del pending[future.key]
                    future.release()
                    for record in records:
                        collect(record)
            except BaseException:
                stop_dask(client, list(pending.values()), cluster)
                raise
            finally:
                if cluster is None:
                    _end_everywhere(client, state["run_id"])


def _shared(state: dict[str, Any]) -> dict[str, Any]:
    """The run's state as a task's result, which the scheduler can make again."""
    return state


def _end_everywhere(client, run_id: str) -> None:
    """:func:`end_run` on every worker of the cluster. Best effort: the run's outcome is
    already decided, and a worker that cannot be reached runs none of its tasks."""
    import contextlib

    with contextlib.suppress(Exception):
        client.run(end_run, run_id, on_error="ignore")


def make_engine(engine: str, workers: int, scheduler: str | None, jobs: int) -> InProcess | LocalPool | DaskEngine:
    if engine == "dask":
        return DaskEngine(workers, scheduler)
    if engine != "local":
        raise CuraugError(f"unknown engine '{engine}' (local or dask)", param="engine")
    return LocalPool(workers) if workers > 1 and jobs > 1 else InProcess()
