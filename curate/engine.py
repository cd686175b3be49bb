"""The engine layer every stage shares: a Dask client on the cluster at a scheduler
address, or on a LocalCluster of this machine's processes when none is given, and a quick
stop of that cluster's workers when a run is interrupted.

Stages hand their own work to the client; this module only owns how the client is made
and torn down, so each stage does not grow its own.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from curate.errors import CuraugError


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[tuple]:
    """``(client, cluster)`` on the cluster at ``scheduler``, or on a new LocalCluster of
    ``workers`` processes (then ``cluster`` is that LocalCluster, else None). Python's
    global random state and the ``distributed`` log level are restored on exit."""
    import logging
    import random

    from distributed import Client, LocalCluster

    quiet = logging.getLogger("distributed")
    with contextlib.ExitStack() as stack:  # closed in reverse: client, cluster, log level
        # distributed draws from Python's global random (ports, worker choice): the
        # seed contract leaves the caller's global RNGs as they were
        stack.callback(random.setstate, random.getstate())
        stack.callback(quiet.setLevel, quiet.level)
        quiet.setLevel(logging.ERROR)
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
            raise CuraugError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        yield client, cluster


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
