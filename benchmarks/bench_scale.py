"""The scale benchmark (issue 16): every stage on the local engine and on Dask, the same
outputs from both, and the peak memory of every process.

    .venv/bin/python benchmarks/bench_scale.py [--quick] [--images N] [--rows M]
        [--only images|table] [--workers K] [--scheduler tcp://HOST:8786] [--data DIR] [--keep]

Two parts, each run once with ``--engine local`` and once with ``--engine dask`` (a
LocalCluster of ``--workers`` processes that each command starts itself, or the cluster at
``--scheduler``):

- images: a corpus of N 32x32 PNGs in 10 classes (default 100,000), then
  ``curaug ingest``, ``validate``, ``split`` and ``augment`` (HorizontalFlip + GaussNoise,
  one copy of each train image);
- table: a Parquet dataset folder of M rows (default 50,000,000; files of up to 2M rows:
  id, an imbalanced 10-class label, ~M/20 groups, two float features, a colour with a few
  missing values), then ``curaug validate --rules`` (not_null, between, in_set, unique id,
  mean_between, dataset limits), ``curaug split --group`` into a dataset folder, and
  ``curaug validate --split-col`` of that folder against a rules file of every split check
  (ratios, group overlap, duplicates across splits, classes in every split, drift).

Each engine writes under its own folder (``local/``, ``dask/``) at the same depth, so the
manifests' relative roots match and the outputs compare byte for byte (sha256 of every
file; augment's run state in ``OUTDIR/.curaug/``, a resume journal with timings, is left
out). The validate steps of both engines read the local engine's input, since their JSON
names the file they read. Each step prints its wall time, throughput and the peak RSS of every process of the
command (polled every 50 ms: the command, a LocalCluster's worker processes, a local pool's
processes); with ``--scheduler`` the workers are not children of the command, so each
worker polls its own RSS (a thread started through the client). The table steps must keep
every process under 2 GiB. Exit status 1 when a step fails, the engines' outputs differ or
a table step goes over 2 GiB.

The generated corpus and table are cached under ``--data`` (default: curaug's cache
folder, ``bench_scale/``) and reused: generation is not what is measured. The steps'
outputs are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from curate.io.cache import cache_dir  # noqa: E402

GIB = 1 << 30
LIMIT = 2 * GIB  # issue 16: a table step's every process
POLL_S = 0.05
CLASSES = [f"c{k}" for k in range(10)]
COLOURS = ["red", "green", "blue", "yellow", "black"]
IMAGE_SIZE = 32
#: augment's run state in OUTDIR (resume journal, timings): bookkeeping, not output
RUN_STATE = ".curaug"
IMAGE_RECIPE = """modality: image
copies: 1
transforms:
  - HorizontalFlip: {p: 0.5}
  - GaussNoise: {std_range: [0.02, 0.1], p: 1.0}
"""


# ---------------------------------------------------------------------------- data


def _write_images(root: str, start: int, stop: int) -> int:
    """PNGs ``start .. stop-1``: a class-coloured square on a noisy grey field, each drawn
    from its own seed so a chunk gives the same files whichever process writes it."""
    from PIL import Image

    for i in range(start, stop):
        label = i % len(CLASSES)
        rng = np.random.default_rng([0, i])
        image = rng.normal(100, 25, (IMAGE_SIZE, IMAGE_SIZE, 3))
        x, y = rng.integers(0, IMAGE_SIZE // 2, 2)
        image[y:y + IMAGE_SIZE // 2, x:x + IMAGE_SIZE // 2] += np.array([(label * 37) % 128, (label * 71) % 128,
                                                                        (label * 13) % 128])
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
            Path(root) / f"class_{label}" / f"img_{i:07d}.png")
    return stop - start


def make_images(root: Path, n: int, workers: int) -> None:
    """A class-folder tree of ``n`` PNGs, reused when a finished one is there."""
    done = root.with_name(root.name + ".done")
    if done.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    for label in range(len(CLASSES)):
        (root / f"class_{label}").mkdir(parents=True)
    step = 2000
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_write_images, [str(root)] * len(range(0, n, step)), range(0, n, step),
                      [min(n, s + step) for s in range(0, n, step)]))
    done.write_text(f"{n}\n")
    print(f"generated {n} images in {time.perf_counter() - start:.1f} s: {root}")


def _write_table_file(path: str, index: int, start: int, rows: int, total: int) -> int:
    """Rows ``start .. start+rows-1`` of the table, from the file's own seed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng([1, index])
    position = np.arange(start, start + rows, dtype=np.int64)
    # an odd multiplier is a bijection modulo 2**40: unique ids, not in row order
    ids = (position * 2654435761) % (1 << 40)
    shares = 0.7 ** np.arange(len(CLASSES))  # largest / smallest class: about 25
    labels = rng.choice(len(CLASSES), rows, p=shares / shares.sum())
    colours = rng.choice(len(COLOURS), rows)
    colour = pa.DictionaryArray.from_arrays(pa.array(colours, mask=rng.random(rows) < 0.001),
                                            pa.array(COLOURS)).cast(pa.string())
    table = pa.table({
        "id": ids,
        "label": pa.DictionaryArray.from_arrays(pa.array(labels), pa.array(CLASSES)).cast(pa.string()),
        "group": rng.integers(0, max(1, total // 20), rows),
        "f1": rng.normal(0.0, 1.0, rows),
        "f2": rng.uniform(0.0, 100.0, rows),
        "colour": colour,
    })
    pq.write_table(table, path, row_group_size=1 << 20)
    return rows


def make_table(folder: Path, rows: int, rows_per_file: int, workers: int) -> None:
    """A Parquet dataset folder of ``rows`` rows, reused when a finished one is there."""
    done = folder.with_name(folder.name + ".done")
    if done.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    starts = list(range(0, rows, rows_per_file))
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_write_table_file, [str(folder / f"part-{i:05d}.parquet") for i in range(len(starts))],
                      range(len(starts)), starts, [min(rows_per_file, rows - s) for s in starts],
                      [rows] * len(starts)))
    done.write_text(f"{rows}\n")
    print(f"generated {rows:,} rows in {len(starts)} files in {time.perf_counter() - start:.1f} s: {folder}")


def table_rules(rows: int) -> str:
    return f"""label: label
columns:
  id: {{not_null: true, unique: true}}
  label: {{in_set: [{', '.join(CLASSES)}]}}
  group: {{not_null: true, between: [0, {max(1, rows // 20)}]}}
  f1: {{not_null: true, between: [-10, 10], mean_between: [-0.05, 0.05]}}
  f2: {{between: [0, 100], mean_between: [45, 55]}}
  colour: {{in_set: [{', '.join(COLOURS)}]}}
dataset:
  min_rows: {rows}
  max_missing_fraction: 0.01
  class_balance: {{max_ratio: 40}}
"""


#: The split gate: the table's own dataset limits (its classes are imbalanced and its colour
#: has gaps, which the defaults would fail) and every split check.
SPLIT_RULES = """label: label
group: group
dataset:
  max_missing_fraction: 0.01
  class_balance: {max_ratio: 40}
splits:
  column: split
  ratios: {train: 0.6, val: 0.2, test: 0.2}
  no_group_overlap: true
  no_duplicates_across: true
  all_classes_in_each: true
  max_drift: {psi: 0.2, ks_pvalue: 0.001}
"""


# ---------------------------------------------------------------------------- memory


class TreePeaks:
    """Peak RSS of a process and all its descendants, polled from a thread and keyed by
    pid: a worker that lives 200 ms still shows."""

    def __init__(self, root_pid: int):
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(root_pid)
        self.peaks: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreePeaks":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.poll()
            if self._stop.wait(POLL_S):
                return

    def poll(self) -> None:
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except self._psutil.NoSuchProcess:
            return
        for proc in procs:
            try:
                rss = proc.memory_info().rss
                if proc.pid not in self.roles:
                    self.roles[proc.pid] = self._role(proc)
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
            self.peaks[proc.pid] = max(rss, self.peaks.get(proc.pid, 0))

    def _role(self, proc) -> str:
        if proc.pid == self.root.pid:
            return "command"
        line = " ".join(proc.cmdline())
        for marker, role in (("resource_tracker", "resource tracker"), ("forkserver", "fork server")):
            # a forkserver's forked children keep its command line: only the direct child is the server
            if marker in line and (role != "fork server" or proc.ppid() == self.root.pid):
                return role
        return "worker"

    def table(self) -> list[tuple[str, int, int]]:
        """``(role, pid, peak bytes)``, workers numbered in pid order."""
        rows, count = [], 0
        for pid in sorted(self.peaks):
            role = self.roles.get(pid, "worker")
            if role == "worker":
                count += 1
                role = f"worker {count}"
            rows.append((role, pid, self.peaks[pid]))
        return rows


def _start_own_peak(dask_worker=None) -> int:
    """Run on each worker of a remote cluster: reset its peak RSS, polling from a thread."""
    import threading as _threading

    import psutil

    proc = psutil.Process()
    dask_worker._bench_peak = proc.memory_info().rss
    if not getattr(dask_worker, "_bench_polling", False):
        dask_worker._bench_polling = True

        def poll() -> None:
            while True:
                dask_worker._bench_peak = max(dask_worker._bench_peak, proc.memory_info().rss)
                time.sleep(POLL_S)

        _threading.Thread(target=poll, daemon=True).start()
    return proc.pid


def _own_peak(dask_worker=None) -> tuple[int, int]:
    import psutil

    return psutil.Process().pid, max(dask_worker._bench_peak, psutil.Process().memory_info().rss)


# ---------------------------------------------------------------------------- steps


@dataclass
class Step:
    part: str
    name: str
    engine: str
    seconds: float
    units: float
    unit: str
    rc: int
    output: Path
    processes: list[tuple[str, int, int]] = field(default_factory=list)
    identical: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0  # the generated data is made to pass every check: 1 is a failure too

    @property
    def peak(self) -> int:
        return max((p for _, _, p in self.processes), default=0)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        self.steps: list[Step] = []
        self.client = None
        if args.scheduler:
            from distributed import Client

            self.client = Client(args.scheduler, timeout="10s")

    def env(self) -> dict[str, str]:
        env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", CURAUG_CACHE_DIR=str(self.work / "curaug-cache"))
        env.pop("COLUMNS", None)
        return env

    def engine_flags(self, engine: str) -> list[str]:
        flags = ["--engine", engine, "--workers", str(self.args.workers)]
        if engine == "dask" and self.args.scheduler:
            flags += ["--scheduler", self.args.scheduler]
        return flags

    def run(self, part: str, name: str, engine: str, argv: list[str], output: Path, units,
            unit: str) -> Step:
        """``curaug ARGV --engine ENGINE`` with its processes' peak RSS; its stdout and
        stderr go to a log beside its output."""
        if output.is_dir():
            shutil.rmtree(output)
        elif output.exists():
            output.unlink()
        output.parent.mkdir(parents=True, exist_ok=True)
        argv = argv + self.engine_flags(engine)
        log = output.with_name(output.name + ".log")
        remote = self.client is not None and engine == "dask"
        if remote:
            self.client.run(_start_own_peak)
        with open(log, "w") as out:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *argv], cwd=REPO, stdout=out,
                                    stderr=subprocess.STDOUT, env=self.env())
            with TreePeaks(proc.pid) as peaks:
                rc = proc.wait()
            seconds = time.perf_counter() - start
        processes = peaks.table()
        if remote:
            processes += [(f"worker {addr}", pid, peak)
                          for addr, (pid, peak) in sorted(self.client.run(_own_peak).items())]
        units = units(output) if callable(units) else units
        step = Step(part, name, engine, seconds, units, unit, rc, output, processes)
        if not step.ok:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            step.note = f"exit {rc}: " + " | ".join(tail)
        self.steps.append(step)
        self.show(step)
        return step

    def show(self, step: Step) -> None:
        rate = step.units / step.seconds if step.seconds else 0.0
        print(f"{step.part:6s} {step.name:20s} {step.engine:5s} {step.seconds:8.1f} s  "
              f"{rate:12,.0f} {step.unit}/s  exit {step.rc}", flush=True)
        for role, pid, peak in step.processes:
            print(f"    peak RSS {peak / 2**20:8.0f} MiB  pid {pid:<7d} {role}")
        if step.note:
            print(f"    {step.note}")

    def compare(self, local: Step, dask: Step, local_out: Path, dask_out: Path) -> None:
        """Whether the two engines wrote the same bytes (every file of a folder)."""
        if not (local.ok and dask.ok):
            verdict = "not compared (a run failed)"
        else:
            a, b = fingerprints(local_out), fingerprints(dask_out)
            if a == b:
                verdict = f"identical ({len(a)} file{'s' if len(a) != 1 else ''}, sha256)"
            elif set(a) != set(b):
                verdict = f"DIFFERENT: files only in one: {sorted(set(a) ^ set(b))[:3]}"
            else:
                differ = sorted(name for name in a if a[name] != b[name])
                verdict = f"DIFFERENT bytes in {len(differ)} of {len(a)} files, e.g. {differ[0] or local_out.name}"
        dask.identical = local.identical = verdict
        print(f"    local vs dask: {verdict}", flush=True)


def fingerprints(path: Path) -> dict[str, str]:
    """sha256 of a file, or of every file under a folder keyed by its relative path."""
    def sha(p: Path) -> str:
        digest = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    if path.is_file():
        return {"": sha(path)}
    if not path.is_dir():
        return {}
    files = (p.relative_to(path) for p in sorted(path.rglob("*")) if p.is_file())
    return {f.as_posix(): sha(path / f) for f in files if f.parts[0] != RUN_STATE}


def engines_of(bench: Bench, part: str, name: str, argv_for, output_for, units, unit: str) -> None:
    """One step on both engines, then the comparison of their outputs; ``units`` is a count,
    or a function of the output when only the output knows it."""
    runs = {engine: bench.run(part, name, engine, argv_for(engine), output_for(engine), units, unit)
            for engine in ("local", "dask")}
    bench.compare(runs["local"], runs["dask"], output_for("local"), output_for("dask"))


def augmented_rows(outdir: Path) -> int:
    """Rows of ``OUTDIR/manifest.parquet`` that are augmented samples."""
    import pyarrow.parquet as pq

    manifest = outdir / "manifest.parquet"
    if not manifest.exists():
        return 0
    column = pq.read_table(manifest, columns=["source_id"]).column("source_id")
    return len(column) - column.null_count


def image_part(bench: Bench, images: Path, n: int) -> None:
    """Each engine reads its own chain of outputs, except validate: its JSON names the file
    it read, so both engines validate the local manifest (the same bytes as the other)."""
    out = {e: bench.work / e for e in ("local", "dask")}
    manifest = {e: out[e] / "images.parquet" for e in out}
    recipe = bench.work / "image.recipe.yaml"
    recipe.write_text(IMAGE_RECIPE)
    engines_of(bench, "images", "ingest", lambda e: ["ingest", str(images), "-o", str(manifest[e]), "--no-cache"],
               manifest.get, n, "files")
    engines_of(bench, "images", "validate",
               lambda e: ["validate", str(manifest["local"]), "--label", "label",
                          "--json", str(out[e] / "images.validation.json")],
               lambda e: out[e] / "images.validation.json", n, "rows")
    engines_of(bench, "images", "split",
               lambda e: ["split", str(manifest[e]), "--label", "label", "-o", str(out[e] / "images.split.parquet")],
               lambda e: out[e] / "images.split.parquet", n, "rows")
    engines_of(bench, "images", "augment",
               lambda e: ["augment", str(out[e] / "images.split.parquet"), "--recipe", str(recipe),
                          "-o", str(out[e] / "augmented")],
               lambda e: out[e] / "augmented", augmented_rows, "files")


def table_part(bench: Bench, table: Path, rows: int) -> None:
    """As :func:`image_part`: both engines validate the local split (the same bytes as the other)."""
    out = {e: bench.work / e for e in ("local", "dask")}
    rules = bench.work / "table.rules.yaml"
    rules.write_text(table_rules(rows))
    gate = bench.work / "table.split.rules.yaml"
    gate.write_text(SPLIT_RULES)
    engines_of(bench, "table", "validate --rules",
               lambda e: ["validate", str(table), "--rules", str(rules),
                          "--json", str(out[e] / "table.validation.json")],
               lambda e: out[e] / "table.validation.json", rows, "rows")
    engines_of(bench, "table", "split --group",
               lambda e: ["split", str(table), "--label", "label", "--group", "group",
                          "-o", str(out[e] / "table_split")],
               lambda e: out[e] / "table_split", rows, "rows")
    engines_of(bench, "table", "validate --split-col",
               lambda e: ["validate", str(out["local"] / "table_split"), "--rules", str(gate), "--split-col", "split",
                          "--json", str(out[e] / "table_split.validation.json")],
               lambda e: out[e] / "table_split.validation.json", rows, "rows")


def summary(bench: Bench) -> bool:
    """Print the summary table; True when every step ran, matched and kept to its limit."""
    print()
    print(f"{'part':6s} {'step':20s} {'engine':6s} {'seconds':>8s} {'throughput':>18s} {'procs':>5s} "
          f"{'peak RSS':>10s}  {'< 2 GiB':7s} local vs dask")
    good = True
    for s in bench.steps:
        rate = f"{s.units / s.seconds:,.0f} {s.unit}/s" if s.seconds else "-"
        bounded = "" if s.part != "table" else ("yes" if s.peak < LIMIT else "NO")
        good &= s.ok and s.identical.startswith("identical") and bounded != "NO"
        print(f"{s.part:6s} {s.name:20s} {s.engine:6s} {s.seconds:8.1f} {rate:>18s} {len(s.processes):5d} "
              f"{s.peak / 2**20:6.0f} MiB  {bounded:7s} {s.identical if s.ok else s.note}")
    for s in bench.steps:
        if s.name.startswith("validate") and s.engine == "local" and s.output.is_file():
            stats = json.loads(s.output.read_text()).get("statistics", {})
            print(f"{s.part} {s.name}: exit {s.rc} (0: every check passed), {stats}")
    return good


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=100_000, help="images in the generated corpus")
    ap.add_argument("--rows", type=int, default=50_000_000, help="rows in the generated Parquet table")
    ap.add_argument("--quick", action="store_true", help="2,000 images and 1,000,000 rows")
    ap.add_argument("--only", choices=["images", "table"], help="run one part")
    ap.add_argument("--scheduler", metavar="ADDR", help="run --engine dask on this cluster (tcp://HOST:8786)")
    ap.add_argument("--workers", type=int, default=2,
                    help="--workers of every command: pool processes, a partitioned table's threads on the local "
                    "engine, LocalCluster processes")
    ap.add_argument("--data", type=Path, default=cache_dir() / "bench_scale",
                    help="where the generated data is cached and the outputs are written")
    ap.add_argument("--keep", action="store_true", help="keep the steps' outputs (the generated data is always kept)")
    args = ap.parse_args()
    if args.quick:
        args.images, args.rows = 2000, 1_000_000
    cores = os.cpu_count() or 1
    work = args.data / f"run-{os.getpid()}"
    work.mkdir(parents=True)
    bench = Bench(args, work)
    print(f"cores: {cores}, workers: {args.workers}, dask: {args.scheduler or 'a LocalCluster per command'}, "
          f"data: {args.data}")
    try:
        if args.only in (None, "images"):
            images = args.data / f"images_{args.images}"
            make_images(images, args.images, cores)
            image_part(bench, images, args.images)
        if args.only in (None, "table"):
            table = args.data / f"table_{args.rows}"
            make_table(table, args.rows, min(2_000_000, max(100_000, args.rows // 10)), cores)
            table_part(bench, table, args.rows)
        good = summary(bench)
    finally:
        if bench.client is not None:
            bench.client.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"outputs kept in {work}")
    print("PASS: every step ran, the engines agree, every table step under 2 GiB per process" if good else
          "FAIL: see the steps above")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
