"""The engine layer every stage shares: a Dask client on the cluster at a scheduler
address, or on a LocalCluster of this machine's processes when none is given, and a quick
stop of that cluster's workers when a run is interrupted.

Stages hand their own work to the client; this module only owns how the client is made
and torn down, so each stage does not grow its own.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from curate.errors import ClusterError


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[tuple]:
    """``(client, cluster)`` on the cluster at ``scheduler``, or on a new LocalCluster of
    ``workers`` processes (then ``cluster`` is that LocalCluster, else None). Python's
    global random state and the ``distributed`` log level are restored on exit.

    A failure of the cluster itself, on the way in or in the body, is a
    :class:`ClusterError`: a scheduler that cannot be reached or is lost, a task whose
    workers kept dying (Dask's ``KilledWorker``), a connection closed under a task. What
    a task raises of its own (bad input) comes through unchanged."""
    import logging
    import random

    from distributed import Client, LocalCluster

    where = scheduler or "(a LocalCluster)"
    with contextlib.ExitStack() as stack:  # closed in reverse: client, cluster, log levels
        # distributed draws from Python's global random (ports, worker choice): the
        # seed contract leaves the caller's global RNGs as they were
        stack.callback(random.setstate, random.getstate())
        # its log lines (a lost scheduler, failed reconnects) would come on top of the one
        # line the CLI prints for the ClusterError that follows them; the client's logger
        # has a level of its own
        for name in ("distributed", "distributed.client"):
            quiet = logging.getLogger(name)
            stack.callback(quiet.setLevel, quiet.level)
            quiet.setLevel(logging.CRITICAL)
        cluster = None
        try:
            if scheduler:
                client = stack.enter_context(Client(scheduler, timeout="5s"))
            else:
                # no dashboard, and the scheduler's HTTP routes on a free local port: the
                # default 8787 may be taken (another cluster), which prints a warning
                cluster = stack.enter_context(LocalCluster(
                    n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None,
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL, preload=[__name__]))
                client = stack.enter_context(Client(cluster))
        except (OSError, TimeoutError) as exc:
            what = f"reach the Dask scheduler {scheduler}" if scheduler else "start a Dask LocalCluster"
            raise ClusterError(f"cannot {what}: {exc}") from None
        try:
            yield client, cluster
        except _cluster_failures() as exc:
            raise ClusterError(f"the Dask cluster {where} failed: {type(exc).__name__}: {exc}") from exc


def _cluster_failures() -> tuple[type[BaseException], ...]:
    """What ``distributed`` raises in the client when the cluster fails under a task: the
    task was cancelled by the cluster (a lost scheduler, lost data), its workers kept
    dying, or a connection closed."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return CancelledError, KilledWorker, CommClosedError


def stop_dask(client, futures: list, cluster) -> None:
    """On a stopped run: cancel ``futures``, and end a LocalCluster's workers at once,
    running tasks and all."""
    import logging

    client.cancel(futures)
    if cluster is not None:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # its alarm at losing the workers we stop
        _stop_workers(cluster)


def _stop_workers(cluster) -> None:
    """End a LocalCluster's worker processes now: closing the cluster would first wait
    seconds for their running tasks."""
    import asyncio

    async def close_all() -> None:
        await asyncio.gather(*(nanny.close(timeout=0.2) for nanny in list(cluster.workers.values())))

    with contextlib.suppress(Exception):  # a quick stop only: the cluster's own close follows and ends them
        cluster.sync(close_all)


def dask_setup(worker) -> None:
    """Dask preload of the LocalCluster's workers (Dask calls it by this name as each
    starts). Ctrl-C in a terminal reaches the whole process group, but only the client acts
    on it (it stops the workers), as in a local pool."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
