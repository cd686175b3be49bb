"""How fast Ctrl-C stops `curaug augment`, on one process, a local pool and Dask.

    .venv/bin/python benchmarks/bench_interrupt.py [--images 300 --copies 10 --after 200]

Each run starts `curaug augment` in its own session, waits until ``--after`` files are
written, then sends SIGINT to the whole process group, as a terminal's Ctrl-C does. It
prints the seconds until the one-line report and until the process has exited, the exit
code, the number of stderr lines, and whether unfinished bytes were left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
RECIPE = """modality: image
copies: {copies}
transforms:
  - HorizontalFlip: {{p: 0.5}}
  - Rotate: {{limit: [-20, 20], p: 0.8}}
  - RandomBrightnessContrast: {{brightness_limit: 0.2, p: 0.5}}
"""


def make_manifest(root: Path, n: int, size: int = 128) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        rel = f"c{i % 3}/img_{i:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / rel)
        rows.append({"id": rel, "label": f"c{i % 3}", "root": str(root), "path": rel, "modality": "image",
                     "status": "ok", "split": "train"})
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet")
    return root / "manifest.parquet"


def stop_once(manifest: Path, recipe: Path, out: Path, after: int, extra: list[str]) -> str:
    cmd = [sys.executable, "-m", "pipelines.cli", "augment", str(manifest), "--recipe", str(recipe), "-o", str(out),
           *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    while not out.exists() or sum(1 for _ in out.rglob("*.png")) < after:
        if proc.poll() is not None:
            return f"finished before {after} files were written: {proc.stderr.read().strip()}"
        time.sleep(0.02)
    start = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    first = proc.stderr.readline()
    reported = time.perf_counter() - start
    rest = proc.stderr.read()
    proc.wait()
    exited = time.perf_counter() - start
    left = sum(1 for p in out.rglob("*") if p.is_file() and ("staging" in p.parts or p.name.endswith(".tmp")))
    return (f"exit {proc.returncode}, reported after {reported:.2f} s, exited after {exited:.2f} s, "
            f"{len(first.splitlines()) + len(rest.splitlines())} stderr line(s), {left} unfinished file(s) left: "
            f"{first.strip()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--after", type=int, default=200, help="files written before Ctrl-C")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = make_manifest(tmp / "src", a.images)
        (tmp / "recipe.yaml").write_text(RECIPE.format(copies=a.copies))
        engines = {"one process": [], "local pool, 2 workers": ["--workers", "2"],
                   "Dask LocalCluster, 2 workers": ["--engine", "dask", "--workers", "2"]}
        print(f"{a.images * a.copies} samples planned; Ctrl-C after {a.after} files; cores: {os.cpu_count()}")
        for k, (name, extra) in enumerate(engines.items()):
            print(f"{name}: {stop_once(manifest, tmp / 'recipe.yaml', tmp / f'out{k}', a.after, extra)}")


if __name__ == "__main__":
    main()
