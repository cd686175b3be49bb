"""Ingest throughput against a plain Pillow + hashlib loop, measured in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--files 20000] [--runs 3] [--dask]

What each side does, per file:

- reference loop: read the bytes, sha256 them, fully decode the image (one core);
- reference loop + phash: the same, plus the perceptual hash ingest stores
  (``curate.io.hashes.phash``), the fair comparison for ingest;
- curaug ingest: the same work plus the scan of the tree, the manifest columns, the
  corrupt-file checks and the cache file; once with 1 worker, once with every core (the
  per-core figure divides by the cores), then a re-ingest of the unchanged tree (cache
  hits); with ``--dask``, as Dask tasks on a running LocalCluster of every core (the
  time to start it is printed apart).

Each figure is the best of ``--runs`` interleaved rounds. With ``--dask`` the CPU time per
file (the cluster's workers and this process) is printed too: on a machine shared with
other jobs, wall time per core understates what each core does.

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


def best(runs: int, **fns) -> dict[str, float]:
    """Best time of each function over ``runs`` interleaved rounds: on a shared machine the
    best is the run least slowed by the others' load."""
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; the best of each is shown")
    parser.add_argument("--dask", action="store_true", help="also time --engine dask on a LocalCluster")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    n = args.files
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp) / "tree"
        os.environ["CURAUG_CACHE_DIR"] = str(Path(tmp) / "cache")
        make_tree(Path(tmp) / "warm", 10)
        ingest(Path(tmp) / "warm", workers=1, use_cache=False)  # imports, outside the timings
        make_tree(root, n)
        fns = {
            "ref": lambda: reference_loop(root, with_phash=False),
            "refp": lambda: reference_loop(root, with_phash=True),
            "one": lambda: ingest(root, workers=1, use_cache=False),
            "all": lambda: ingest(root, workers=cores, use_cache=False),
        }
        t_start = None
        cpu = {"refp": [], "dask": []}  # CPU seconds: unlike wall time, not slowed by others' load

        def refp() -> None:
            before = time.process_time()
            reference_loop(root, with_phash=True)
            cpu["refp"].append(time.process_time() - before)

        fns["refp"] = refp
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
                ingest(root, use_cache=False, engine="dask", scheduler=cluster.scheduler_address)
                cpu["dask"].append(dask_cpu() - before)

            fns["dask"] = on_dask
        t = best(args.runs, **fns)
        ingest(root, workers=cores)  # fills the cache
        t_hit = best(args.runs, hit=lambda: ingest(root, workers=cores))["hit"]
    t_help = min(timed(lambda: subprocess.run([sys.executable, "-m", "pipelines.cli", "--help"],
                                              capture_output=True, check=True)) for _ in range(5))
    print(f"files: {n} PNG 64x64 RGB, cores: {cores}, best of {args.runs}")
    print(f"reference loop (PIL+hashlib, 1 core):     {n / t['ref']:7.0f} files/s")
    print(f"reference loop + phash (1 core):          {n / t['refp']:7.0f} files/s")
    print(f"curaug ingest, 1 worker:                  {n / t['one']:7.0f} files/s  "
          f"vs reference+phash {t['refp'] / t['one']:.2f}, vs reference {t['ref'] / t['one']:.2f}")
    print(f"curaug ingest, {cores} workers:                  {n / t['all']:7.0f} files/s  "
          f"per core vs reference+phash {t['refp'] / t['all'] / cores:.2f}")
    if t_start is not None:
        print(f"curaug ingest --engine dask, {cores} workers:    {n / t['dask']:7.0f} files/s  "
              f"per core vs reference+phash {t['refp'] / t['dask'] / cores:.2f} "
              f"(on a running LocalCluster; starting it took {t_start:.1f} s)")
        ref_us, dask_us = min(cpu["refp"]) / n * 1e6, min(cpu["dask"]) / n * 1e6
        print(f"  CPU per file: reference+phash {ref_us:.0f} us, dask (workers and client) {dask_us:.0f} us: "
              f"{ref_us / dask_us:.2f}x, the per-core figure on idle cores")
    print(f"curaug re-ingest, unchanged (cache):      {n / t_hit:7.0f} files/s  ratio vs first ingest {t['all'] / t_hit:.1f}")
    print(f"curaug --help: {t_help * 1000:.0f} ms")


if __name__ == "__main__":
    main()
