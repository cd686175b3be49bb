"""Ingest throughput against a plain Pillow + hashlib loop, measured in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--files 20000]

Prints files/s for: the reference loop (read, sha256, full decode, one core), curaug
ingest with 1 worker and with every core, and a re-ingest of the unchanged tree
(cache hits), plus the ratios between them and the time of `curaug --help`.
"""

from __future__ import annotations

import argparse
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

from curate.io.ingest import ingest  # noqa: E402


def make_tree(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class_{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")


def reference_loop(root: Path) -> int:
    n = 0
    for path in sorted(root.rglob("*.png")):
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        n += 1
    return n


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        os.environ["CURAUG_CACHE_DIR"] = str(Path(tmp) / "cache")
        make_tree(root, args.files)
        t_ref = timed(lambda: reference_loop(root))
        t_one = timed(lambda: ingest(root, workers=1, use_cache=False))
        t_all = timed(lambda: ingest(root, workers=cores, use_cache=True))
        t_hit = timed(lambda: ingest(root, workers=cores, use_cache=True))
    t_help = min(timed(lambda: subprocess.run([sys.executable, "-m", "pipelines.cli", "--help"],
                                              capture_output=True, check=True)) for _ in range(5))
    n = args.files
    print(f"files: {n} PNG 64x64 RGB, cores: {cores}")
    print(f"reference loop (PIL+hashlib, 1 core): {n / t_ref:9.0f} files/s")
    print(f"curaug ingest, 1 worker:              {n / t_one:9.0f} files/s  ratio vs reference {t_ref / t_one:.2f}")
    print(f"curaug ingest, {cores} workers:              {n / t_all:9.0f} files/s  ratio vs reference {t_ref / t_all:.2f}")
    print(f"curaug re-ingest, unchanged (cache):  {n / t_hit:9.0f} files/s  ratio vs first ingest {t_all / t_hit:.1f}")
    print(f"curaug --help: {t_help * 1000:.0f} ms")


if __name__ == "__main__":
    main()
