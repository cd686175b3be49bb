"""The corpus runner: the train split of a manifest -> augmented files + OUTDIR/manifest.parquet.

Only usable rows with ``split == train`` (all usable rows when there is no split column)
of the recipe's modality are augmented; every input row passes through unchanged.
Jobs are ``(source id, copy index)`` pairs; each draws from its own seed
(:func:`augment.seeds.sample_seed`), so the output is the same with any number of
workers, in any order, on the local pool or on Dask. Finished jobs are appended to
``OUTDIR/.curaug/progress.jsonl``; a rerun with the same settings skips them (resume), a
rerun with other settings is refused. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from augment.plugin import Context, get_plugin
from augment.seeds import sample_seed
from curate.errors import CuraugError
from curate.version import curaug_version

if TYPE_CHECKING:
    import pandas as pd

    from augment.recipe import LoadedRecipe

STATE_DIR = ".curaug"
#: Draws in a row that may apply no transform at all before a plain copy is accepted.
EMPTY_REDRAWS = 20
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    source_id: str
    copy: int
    path: str  # relative to OUTDIR


@dataclass
class AugmentResult:
    manifest: "pd.DataFrame"
    summary: dict[str, Any] = field(default_factory=dict)


def plan_jobs(rows: "pd.DataFrame", *, copies: int | None, balance_target: int | str | None, label: str | None,
              seed: int, extension: Callable[[dict], str]) -> tuple[list[Job], dict[str, int]]:
    """Jobs for every train row: ``copies`` each, or as many per class as bring every class
    to ``balance_target`` (``'max'``: the largest class). Returns the jobs and the number
    made per class."""
    per_source: dict[str, int] = {}
    made: dict[str, int] = {}
    if balance_target is not None:
        if not label or label not in rows.columns:
            raise CuraugError("--balance needs a label column (--label)")
        counts = rows[label].astype(str).value_counts()
        target = int(counts.max()) if balance_target == "max" else int(balance_target)
        for cls, n in counts.items():
            need = max(0, target - int(n))
            members = list(rows.index[rows[label].astype(str) == cls])
            # who gets the extra copies is a hash of (seed, id): stable and order-free
            members.sort(key=lambda i: hashlib.sha256(f"{seed}\x00{i}".encode()).digest())
            base, extra = divmod(need, len(members))
            for k, member in enumerate(members):
                per_source[member] = base + (1 if k < extra else 0)
            made[str(cls)] = need
    else:
        n = 1 if copies is None else int(copies)
        for i in rows.index:
            per_source[i] = n
        if label and label in rows.columns:
            made = {str(k): int(v) * n for k, v in rows[label].astype(str).value_counts().items()}
    jobs = []
    for source_id, row in zip(rows.index, rows.to_dict("records")):
        stem, _ = os.path.splitext(str(row["path"]))
        ext = extension(row)
        for c in range(per_source.get(source_id, 0)):
            jobs.append(Job(str(source_id), c, f"{stem}__aug{c}{ext}"))
    return jobs, made


# ------------------------------------------------------------------ the work of one job

_STATE: dict[str, Any] = {}
_MADE_DIRS: set[str] = set()  # folders this process made already (one mkdir each)


def _init_worker(state: dict[str, Any]) -> None:
    _MADE_DIRS.clear()
    _STATE.clear()
    _STATE.update(state)
    _STATE["plugin"] = get_plugin(state["loaded"].recipe.modality)
    _STATE["ctx"] = Context(state["loaded"].recipe, state["rows"], state["label"])


def _write_atomic(path: Path, data: bytes) -> None:
    parent = str(path.parent)
    if parent not in _MADE_DIRS:
        path.parent.mkdir(parents=True, exist_ok=True)
        _MADE_DIRS.add(parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render(job: Job) -> dict[str, Any]:
    """Draw, apply and write one job; return its manifest record."""
    plugin, ctx, loaded = _STATE["plugin"], _STATE["ctx"], _STATE["loaded"]
    row = ctx.record(job.source_id)
    source = plugin.load(row, ctx)
    gate = loaded.recipe.gate
    rejected: list[str] = []
    empty = 0
    attempt = 0
    while True:
        seed = sample_seed(_STATE["run_seed"], job.source_id, job.copy, attempt)
        attempt += 1
        plan = plugin.draw(_STATE["steps"], np.random.default_rng(seed), ctx, row)
        if not plan and _STATE["steps"] and empty < EMPTY_REDRAWS:
            empty += 1  # no transform drawn: the copy would equal its source, so draw again
            continue
        out, applied = plugin.apply(source, plan, seed, ctx)
        reason = plugin.gate(source, out, gate, ctx) if gate else None
        if reason is None:
            break
        rejected.append(reason)
        if len(rejected) >= gate.max_tries:
            return {"job": asdict(job), "skipped": f"quality gate: {rejected[-1]}", "rejected": len(rejected)}
    attempt -= 1
    data = plugin.save(out, job.path)
    record = {"job": asdict(job), "seed": seed, "attempt": attempt, "rejected": len(rejected), "empty_draws": empty,
              "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
              "provenance": {"plugin": plugin.modality, "seed": seed, "run_seed": _STATE["run_seed"],
                             "copy": job.copy, "attempt": attempt, "plan": plan, "applied": applied,
                             "recipe_sha256": _STATE["recipe_sha256"], "versions": _STATE["versions"]},
              "shape": list(np.asarray(out["image"]).shape) if isinstance(out, dict) and "image" in out else None}
    targets = loaded.recipe.targets
    if isinstance(out, dict) and "mask" in out and targets.mask:
        record["mask_path"] = os.path.splitext(job.path)[0] + "_mask.png"
        _write_atomic(Path(_STATE["outdir"]) / record["mask_path"], plugin.encode_mask(out["mask"]))
    if isinstance(out, dict) and targets.bboxes and "bboxes" in out:
        record["bboxes"] = json.dumps([list(map(lambda v: round(v, 3), b)) + [lab]
                                       for b, lab in zip(out["bboxes"], out.get("bbox_labels", []))])
    if isinstance(out, dict) and targets.keypoints and "keypoints" in out:
        record["keypoints"] = json.dumps([[round(x, 3), round(y, 3)] for x, y in out["keypoints"]])
    _write_atomic(Path(_STATE["outdir"]) / job.path, data)
    return record


def _render_chunk(jobs: list[Job], state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    if state is not None and _STATE.get("key") != state["key"]:
        _init_worker(state)
    return [render(j) for j in jobs]


# ------------------------------------------------------------------ the run


def _settings_key(loaded: "LoadedRecipe", seed: int, copies, balance, ids: Iterable[str]) -> str:
    h = hashlib.sha256()
    h.update(loaded.text.encode("utf-8"))
    h.update(json.dumps([seed, copies, balance]).encode())
    for i in ids:
        h.update(str(i).encode("utf-8") + b"\n")
    return h.hexdigest()


def augment_manifest(df: "pd.DataFrame", loaded: "LoadedRecipe", outdir: str | os.PathLike, *, seed: int = 0,
                     copies: int | None = None, balance: bool = False, workers: int = 1, engine: str = "local",
                     scheduler: str | None = None, label: str | None = "label",
                     progress: Progress | None = None) -> AugmentResult:
    """Augment the train rows of ``df`` into ``outdir`` (see the module docstring)."""
    from curate.io.manifest import ok_rows

    recipe = loaded.recipe
    plugin = get_plugin(recipe.modality)
    if not {"root", "path"} <= set(df.columns):
        raise CuraugError("augment needs a manifest with root and path columns (run curaug ingest first)")
    if label is not None and label not in df.columns:
        label = None
    usable = ok_rows(df)
    if "modality" in df.columns:
        usable &= df["modality"].astype(str) == recipe.modality
    train = usable & (df["split"].astype(str) == "train") if "split" in df.columns else usable
    rows = df[train].copy()
    if rows.empty:
        found = ", ".join(sorted(map(str, df["modality"].dropna().unique()))) if "modality" in df.columns else "?"
        raise CuraugError(f"no usable {recipe.modality} rows in the train split to augment "
                          f"({len(df)} rows; modalities: {found}; splits: "
                          f"{', '.join(sorted(map(str, df['split'].dropna().unique()))) if 'split' in df.columns else 'none'})")
    if "id" not in rows.columns or rows["id"].duplicated().any():
        raise CuraugError("augment needs a unique 'id' column in the manifest")
    rows.index = rows["id"].astype(str)
    copies = recipe.copies if copies is None and not balance and recipe.balance is None else copies
    target = (recipe.balance.target if recipe.balance else "max") if balance or recipe.balance else None
    jobs, made = plan_jobs(rows, copies=copies, balance_target=target, label=label, seed=seed,
                           extension=lambda r: plugin.extension(r, recipe.format))
    out = Path(outdir)
    state_dir = out / STATE_DIR
    key = _settings_key(loaded, seed, copies, target, rows.index)
    done = _resume(state_dir, key)
    todo = [j for j in jobs if j.path not in done or not (out / j.path).is_file()]
    state = {"loaded": loaded, "steps": loaded.steps, "rows": rows, "label": label, "run_seed": int(seed),
             "outdir": str(out), "recipe_sha256": hashlib.sha256(loaded.text.encode()).hexdigest(),
             "versions": {"curaug": curaug_version(), **plugin.versions()}, "key": key}
    fresh = not out.exists()
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "run.json").write_text(json.dumps({"key": key, "recipe": loaded.text, "seed": seed,
                                                    "copies": copies, "balance": target, "label": label}))
    started = time.perf_counter()
    import gc

    gc.collect()
    gc.freeze()  # the long-lived heap (pandas, albumentations...) leaves the collector's scans
    with open(state_dir / "progress.jsonl", "a", encoding="utf-8") as log:
        last_flush = [time.monotonic()]

        def record(rec: dict) -> None:
            done[rec["job"]["path"]] = rec
            log.write(json.dumps(rec) + "\n")
            if time.monotonic() - last_flush[0] > 0.5:  # an interruption loses at most 0.5 s of records,
                log.flush()                              # whose files are then redrawn identically
                last_flush[0] = time.monotonic()
            if progress:
                progress(len(done), len(jobs))

        try:
            if engine == "dask":
                _run_dask(todo, state, workers, scheduler, record)
            elif workers > 1 and len(todo) > 1:
                _run_pool(todo, state, workers, record)
            else:
                _init_worker(state)
                for job in todo:
                    record(render(job))
        except CuraugError:
            if fresh and not done:  # nothing was made: leave no output folder behind
                import shutil

                log.close()
                shutil.rmtree(out, ignore_errors=True)
            raise
    gc.unfreeze()
    elapsed = time.perf_counter() - started
    manifest = _output_manifest(df, rows, jobs, done, out, recipe.targets)
    from curate.io.manifest import save_manifest

    save_manifest(manifest, out / "manifest.parquet")
    skipped = [r for r in done.values() if "skipped" in r]
    summary = {"train_rows": int(len(rows)), "jobs": len(jobs), "made": len(jobs) - len(skipped),
               "resumed": len(jobs) - len(todo), "made_per_class": made,
               "passed_through": int(len(df) - len(rows)), "corrupt_skipped": int((~ok_rows(df)).sum()),
               "gate_rejections": int(sum(r.get("rejected", 0) for r in done.values())),
               "gate_gave_up": len(skipped), "seconds": round(elapsed, 3),
               "per_second": round(len(todo) / elapsed, 2) if elapsed > 0 and todo else None}
    if recipe.gate:
        tries = summary["made"] + summary["gate_rejections"]
        summary["gate_rejection_rate"] = round(summary["gate_rejections"] / tries, 4) if tries else 0.0
    (state_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return AugmentResult(manifest, summary)


def _resume(state_dir: Path, key: str) -> dict[str, dict]:
    """Records of finished jobs from an earlier run with the same settings."""
    run = state_dir / "run.json"
    if not run.is_file():
        return {}
    try:
        previous = json.loads(run.read_text())
    except ValueError:
        previous = {}
    if previous.get("key") != key:
        raise CuraugError(f"{state_dir.parent} holds an augmentation run with other settings "
                          "(recipe, seed, copies or rows); use a new output folder")
    done = {}
    progress = state_dir / "progress.jsonl"
    if progress.is_file():
        for line in progress.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interruption
            done[rec["job"]["path"]] = rec
    return done


def _chunks(jobs: list[Job], n: int) -> list[list[Job]]:
    size = max(1, min(32, len(jobs) // (n * 4) or 1))
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


def _run_pool(jobs: list[Job], state: dict, workers: int, record: Callable[[dict], None]) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(state,)) as pool:
        futures = [pool.submit(_render_chunk, chunk) for chunk in _chunks(jobs, workers)]
        for fut in as_completed(futures):
            for rec in fut.result():
                record(rec)


def _run_dask(jobs: list[Job], state: dict, workers: int, scheduler: str | None,
              record: Callable[[dict], None]) -> None:
    import logging

    from distributed import Client, LocalCluster, as_completed

    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="5s")
        else:
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise CuraugError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    try:
        shared = client.scatter(state, broadcast=True)
        futures = [client.submit(_render_chunk, chunk, shared, pure=False) for chunk in _chunks(jobs, workers)]
        for fut in as_completed(futures):
            for rec in fut.result():
                record(rec)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _output_manifest(df: "pd.DataFrame", rows: "pd.DataFrame", jobs: list[Job], done: dict[str, dict],
                     out: Path, targets) -> "pd.DataFrame":
    """Every input row unchanged, then one row per augmented sample in job order; an
    augmented row keeps its source's columns (label, split, group...) but the per-file ones."""
    import pandas as pd

    kept = [(job, done[job.path]) for job in jobs if job.path in done and "skipped" not in done[job.path]]
    if not kept:
        return df.copy()
    per_file = ["sha256", "size_bytes", "phash", "format", "width", "height", "channels", "reason"]
    added = rows.loc[[job.source_id for job, _ in kept]].drop(columns=per_file, errors="ignore")
    added = added.reset_index(drop=True)
    paths = [job.path for job, _ in kept]
    added["id"], added["path"], added["root"], added["status"] = paths, paths, str(out.resolve()), "ok"
    added["sha256"] = [rec["sha256"] for _, rec in kept]
    added["size_bytes"] = [rec["size_bytes"] for _, rec in kept]
    added["source_id"] = [job.source_id for job, _ in kept]
    added["augment"] = [json.dumps(rec["provenance"], sort_keys=True) for _, rec in kept]
    added["seed"] = [rec["seed"] for _, rec in kept]
    shapes = [rec.get("shape") or [None, None] for _, rec in kept]
    if any(s[0] is not None for s in shapes):
        added["height"] = [s[0] for s in shapes]
        added["width"] = [s[1] for s in shapes]
        added["channels"] = [(s[2] if len(s) > 2 else 1) if s[0] is not None else None for s in shapes]
    for key, column in (("mask_path", targets.mask), ("bboxes", targets.bboxes), ("keypoints", targets.keypoints)):
        if column:
            added[column] = [rec.get(key) for _, rec in kept]
    out_df = pd.concat([df, added], ignore_index=True)
    for c in ("id", "path", "root", "status", "source_id", "augment") + (("split",) if "split" in df.columns else ()):
        out_df[c] = out_df[c].astype("string")
    out_df["seed"] = pd.array(out_df["seed"], dtype="Int64")
    return out_df


def replay(outdir: str | os.PathLike, sample_id: str) -> tuple[bytes, bytes]:
    """Regenerate one augmented sample from its provenance; return ``(new bytes, stored bytes)``."""
    import pandas as pd

    from augment.recipe import Recipe
    from curate.io.manifest import load_data

    out = Path(outdir)
    manifest_path = out / "manifest.parquet"
    if not manifest_path.is_file():
        raise CuraugError(f"{out}: no manifest.parquet (not an augmentation output folder)")
    df = load_data(manifest_path)
    hit = df[df["id"].astype(str) == sample_id]
    if hit.empty or pd.isna(hit["augment"].iloc[0]):
        raise CuraugError(f"{sample_id}: not an augmented sample of {manifest_path}")
    row = hit.iloc[0]
    prov = json.loads(row["augment"])
    run = json.loads((out / STATE_DIR / "run.json").read_text())
    import yaml

    data = yaml.safe_load(run["recipe"])
    recipe = Recipe.model_validate(data)
    sources = df[df["augment"].isna() & (df["id"].astype(str) != "")].copy()
    sources.index = sources["id"].astype(str)
    plugin = get_plugin(prov["plugin"])
    ctx = Context(recipe, sources, run.get("label"))
    sample = plugin.load(ctx.record(str(row["source_id"])), ctx)
    result, _ = plugin.apply(sample, prov["plan"], int(prov["seed"]), ctx)
    fresh = plugin.save(result, str(row["path"]))
    stored = (out / str(row["path"])).read_bytes()
    return fresh, stored
