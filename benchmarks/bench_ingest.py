"""Ingest throughput against a plain Pillow + hashlib loop, measured in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--files 20000] [--runs 3] [--dask]
    .venv/bin/python benchmarks/bench_ingest.py --peak [--files 20000]

What each side does, per file:

- reference loop: read the bytes, sha256 them, fully decode the image (one core);
- reference loop + phash: the same, plus the perceptual hash ingest stores
  (``curate.io.hashes.phash``), the fair comparison for ingest;
- curaug ingest: the same work plus the scan of the tree, the manifest columns, the
  corrupt-file checks and the cache file; once with 1 worker, once with every core (the
  per-core figure divides by the cores), then a re-ingest of the unchanged tree (cache
  hits); with ``--dask``, as Dask tasks on a running LocalCluster of every core (the
  time to start it is printed apart).

Each figure is the best of ``--runs`` interleaved rounds. The CPU time per file of every
process (this one, the pool's or the cluster's workers) is printed too: on a machine
shared with other jobs, wall time per core understates what each core does, and CPU time
per file against the reference loop's is the per-core figure on idle cores.

``--peak`` prints instead the peak memory (RSS) of ``curaug ingest TREE -o m.parquet
--workers 1`` in a process of its own (one process does all the work), and of the same
process once the modules are imported (what any ingest starts from).

Modules (pandas, scipy, distributed) are imported before any timing: their one-off
cost is what ``curaug --help`` avoids, printed last.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.io.hashes import phash  # noqa: E402
from curate.io.ingest import ingest  # noqa: E402


def make_tree(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class_{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")


def reference_loop(root: Path, with_phash: bool) -> int:
    n = 0
    for path in sorted(root.rglob("*.png")):
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if with_phash:
                phash(im)
        n += 1
    return n


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class ProcessCPU:
    """CPU seconds of this process and of every process started under it while the
    context runs (pool workers under a fork server included), polled every 20 ms: a
    worker's last 20 ms may be missed, a few ms in seconds. The polling thread's own CPU
    is not counted."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.seen: dict[int, float] = {}
        self.start: dict[int, float] = {}
        self.stop = threading.Event()
        self.seconds = 0.0
        self.polling = 0.0

    def _children(self) -> dict[int, float]:
        import psutil

        found = {}
        for child in self.me.children(recursive=True):
            try:
                t = child.cpu_times()
                found[child.pid] = t.user + t.system
            except psutil.Error:  # ended between the listing and the reading
                pass
        return found

    def _poll(self) -> None:
        while not self.stop.wait(0.02):
            self.seen.update(self._children())
        self.polling = time.thread_time()

    def __enter__(self) -> "ProcessCPU":
        self.start = self._children()
        self.before = time.process_time()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.seen.update(self._children())
        self.stop.set()
        self.thread.join()
        children = sum(t - self.start.get(pid, 0.0) for pid, t in self.seen.items())
        self.seconds = time.process_time() - self.before - self.polling + children


def best(runs: int, **fns) -> dict[str, float]:
    """Best time of each function over ``runs`` interleaved rounds: on a shared machine the
    best is the run least slowed by the others' load."""
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: min(t) for name, t in times.items()}


def peak_rss(tree: Path, out: Path) -> tuple[float, float]:
    """Peak RSS in MiB of ``curaug ingest tree -o out --workers 1 --no-cache`` in a fresh
    process, and of that process once its modules are imported."""
    script = (
        "import resource, sys\n"
        "import pandas, pyarrow.parquet, PIL.Image, scipy.fft, curate.io.ingest, curate.io.media\n"
        "from pipelines.cli import cli\n"
        "imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    cli(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    print(imported, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, "ingest", str(tree), "-o", str(out), "--workers", "1",
                           "--no-cache"], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    imported, peak = done.stdout.split()[-2:]
    return int(imported) / 1024, int(peak) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; the best of each is shown")
    parser.add_argument("--dask", action="store_true", help="also time --engine dask on a LocalCluster")
    parser.add_argument("--peak", action="store_true", help="only the peak memory of one ingest (1 worker)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    n = args.files
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp) / "tree"
        out = Path(tmp) / "manifest.parquet"
        os.environ["CURAUG_CACHE_DIR"] = str(Path(tmp) / "cache")
        make_tree(root, n)
        if args.peak:
            imported, peak = peak_rss(root, out)
            print(f"files: {n}; curaug ingest --workers 1: peak RSS {peak:.0f} MiB, "
                  f"{peak - imported:.0f} MiB over its {imported:.0f} MiB of imported modules")
            return
        make_tree(Path(tmp) / "warm", 10)
        ingest(Path(tmp) / "warm", workers=1, use_cache=False)  # imports, outside the timings
        cpu: dict[str, list[float]] = {}  # CPU seconds: unlike wall time, not slowed by others' load

        def on_cpu(name: str, fn):
            def run() -> None:
                with ProcessCPU() as used:
                    fn()
                cpu.setdefault(name, []).append(used.seconds)
            return run

        fns = {
            "ref": lambda: reference_loop(root, with_phash=False),
            "refp": on_cpu("refp", lambda: reference_loop(root, with_phash=True)),
            "one": on_cpu("one", lambda: ingest(root, workers=1, use_cache=False, output=out)),
            "all": on_cpu("all", lambda: ingest(root, workers=cores, use_cache=False, output=out)),
        }
        t_start = None
        if args.dask:
            import logging

            from distributed import Client, LocalCluster

            start = time.perf_counter()
            cluster = stack.enter_context(LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.CRITICAL))
            t_start = time.perf_counter() - start
            client = stack.enter_context(Client(cluster))

            def dask_cpu() -> float:  # every worker's and this process's
                return sum(client.run(time.process_time).values()) + time.process_time()

            def on_dask() -> None:
                before = dask_cpu()
                ingest(root, use_cache=False, engine="dask", scheduler=cluster.scheduler_address, output=out)
                cpu.setdefault("dask", []).append(dask_cpu() - before)

            fns["dask"] = on_dask
        t = best(args.runs, **fns)
        ingest(root, workers=cores)  # fills the cache
        t_hit = best(args.runs, hit=lambda: ingest(root, workers=cores, output=out))["hit"]
    t_help = min(timed(lambda: subprocess.run([sys.executable, "-m", "pipelines.cli", "--help"],
                                              capture_output=True, check=True)) for _ in range(5))
    us = {name: min(seconds) / n * 1e6 for name, seconds in cpu.items()}
    print(f"files: {n} PNG 64x64 RGB, cores: {cores}, best of {args.runs}; "
          "CPU: per file, every process of the run, against the reference loop + phash's")
    print(f"reference loop (PIL+hashlib, 1 core):     {n / t['ref']:7.0f} files/s")
    print(f"reference loop + phash (1 core):          {n / t['refp']:7.0f} files/s  CPU {us['refp']:.0f} us")
    print(f"curaug ingest, 1 worker:                  {n / t['one']:7.0f} files/s  "
          f"vs reference+phash {t['refp'] / t['one']:.2f}, vs reference {t['ref'] / t['one']:.2f}  "
          f"CPU {us['one']:.0f} us: {us['refp'] / us['one']:.2f}x")
    print(f"curaug ingest, {cores} workers:                  {n / t['all']:7.0f} files/s  "
          f"per core vs reference+phash {t['refp'] / t['all'] / cores:.2f}  "
          f"CPU {us['all']:.0f} us: {us['refp'] / us['all']:.2f}x")
    if t_start is not None:
        print(f"curaug ingest --engine dask, {cores} workers:    {n / t['dask']:7.0f} files/s  "
              f"per core vs reference+phash {t['refp'] / t['dask'] / cores:.2f} "
              f"(on a running LocalCluster; starting it took {t_start:.1f} s)  "
              f"CPU {us['dask']:.0f} us: {us['refp'] / us['dask']:.2f}x")
    print(f"curaug re-ingest, unchanged (cache):      {n / t_hit:7.0f} files/s  ratio vs first ingest {t['all'] / t_hit:.1f}")
    print(f"curaug --help: {t_help * 1000:.0f} ms")


if __name__ == "__main__":
    main()
