"""The corpus runner: rows of a manifest -> augmented files + OUTDIR/manifest.parquet.

What: usable rows of the recipe's modality in the train split (every usable row with
``all_rows=True``); every input row passes through unchanged. How: jobs are ``(source id,
copy index)`` pairs, each drawing from its own seed (:func:`augment.seeds.sample_seed`),
so the output is the same with any number of workers, in any order, on any engine of
:mod:`augment.executors`. A source is loaded once for all its copies. The plugin encodes each
copy as an :class:`augment.plugin.Output` that writes its own files: the runner never
looks inside.

``OUTDIR/.curaug`` holds the run's state: ``run.json`` (its settings), ``progress/``
(one append-only log per worker; a job's record is written before its files are renamed
into place, so every file on disk has its record) and ``staging/`` (bytes being written).
A rerun with the same settings skips every job whose record and files exist (resume); a
rerun with other settings is refused. A source that no longer loads (changed, cut short or
removed since ingest) has its copies skipped and is named in the summary
(``unreadable_sources``); a rerun tries it again. When no source loads, the run is a
:class:`CuraugError`. Ctrl-C stops the workers at once and raises
:class:`Interrupted` with the count of samples finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from augment.executors import Job, make_engine
from augment.plugin import Context, get_plugin
from curate.errors import ClusterError, CuraugError
from curate.io.folder_lock import hold_folder
from curate.version import curaug_version

if TYPE_CHECKING:
    import pandas as pd

    from augment.label_gate import LabelGate
    from augment.recipe import LoadedRecipe

STATE_DIR = ".curaug"
#: Figures of one run, not of the corpus it made: in the returned summary, not in summary.json.
RUN_FIGURES = ("seconds", "per_second", "resumed")
#: Bumped when the layout of OUTDIR/.curaug changes, so an older run is not resumed.
STATE_VERSION = 2
Progress = Callable[[int, int], None]


@dataclass
class AugmentResult:
    manifest: "pd.DataFrame"
    summary: dict[str, Any] = field(default_factory=dict)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; what it finished stays in OUTDIR and a rerun resumes from it."""

    def __init__(self, finished: int, total: int, outdir: Path):
        super().__init__(f"interrupted: {finished} of {total} samples written to {outdir}; "
                         "rerun the same command to resume")
        self.finished, self.total, self.outdir = finished, total, outdir


# ------------------------------------------------------------------ planning


def select_rows(df: "pd.DataFrame", modality: str, *, all_rows: bool = False,
                inline: str | None = None) -> "pd.DataFrame":
    """The rows to augment, indexed by id: usable rows of ``modality`` in the train split
    (every usable row with ``all_rows``). With ``inline`` (the plugin's column that can hold
    a sample itself, such as ``text``), a table with that column needs no root and path."""
    from curate.io.manifest import ok_rows

    if not {"root", "path"} <= set(df.columns) and not (inline and inline in df.columns):
        raise CuraugError("augment needs a manifest with root and path columns (run curaug ingest first)"
                          + (f", or a '{inline}' column holding each sample" if inline else ""))
    if not all_rows and "split" not in df.columns:
        raise CuraugError("the manifest has no 'split' column: only the train split is augmented; split it first "
                          "(curaug split), or set all_rows=True to augment every row", param="all_rows")
    usable = ok_rows(df)
    if "modality" in df.columns:
        usable &= df["modality"].astype(str) == modality
    rows = df[usable if all_rows else usable & (df["split"].astype(str) == "train")].copy()
    if rows.empty:
        found = ", ".join(sorted(map(str, df["modality"].dropna().unique()))) if "modality" in df.columns else "?"
        splits = ", ".join(sorted(map(str, df["split"].dropna().unique()))) if "split" in df.columns else "none"
        where = "rows" if all_rows else "rows in the train split"
        raise CuraugError(f"no usable {modality} {where} to augment ({len(df)} rows; modalities: {found}; "
                          f"splits: {splits})")
    if "id" not in rows.columns or rows["id"].duplicated().any():
        raise CuraugError("augment needs a unique 'id' column in the manifest")
    rows.index = rows["id"].astype(str)
    return rows


def plan_jobs(rows: "pd.DataFrame", *, copies: int | None, balance_target: int | str | None, label: str | None,
              seed: int, extension: Callable[[dict], str]) -> list[Job]:
    """Jobs for every row: ``copies`` each, or as many per class as bring every class to
    ``balance_target`` (``'max'``: the largest class). A source's jobs are consecutive."""
    per_source: dict[str, int] = {}
    if balance_target is not None:
        if not label or label not in rows.columns:
            raise CuraugError("balancing needs a label column", param="label")
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
    else:
        n = 1 if copies is None else int(copies)
        for i in rows.index:
            per_source[i] = n
    jobs = []
    for source_id, row in zip(rows.index, rows.to_dict("records")):
        # a sample held inline has no file name: its id names its outputs
        stem = os.path.splitext(str(row["path"]))[0] if _has_path(row) else str(source_id)
        ext = extension(row)
        for c in range(per_source.get(source_id, 0)):
            jobs.append(Job(str(source_id), c, f"{stem}__aug{c}{ext}"))
    return jobs


def _has_path(row: dict[str, Any]) -> bool:
    path = row.get("path")
    return isinstance(path, str) and path != ""


def with_ids(df: "pd.DataFrame") -> "pd.DataFrame":
    """A table without an ``id`` column (a plain text table) gets ``row<N>``, its position,
    so that every output row can name its source."""
    if "id" in df.columns:
        return df
    return df.assign(id=[f"row{i}" for i in range(len(df))])


def chunk_jobs(jobs: list[Job], workers: int) -> list[list[Job]]:
    """Jobs in chunks of up to 32 (about four per worker on small runs), never splitting a
    source's copies: a chunk loads each of its sources once."""
    size = max(1, min(32, len(jobs) // (workers * 4)))
    chunks: list[list[Job]] = []
    current: list[Job] = []
    for _, copies in groupby(jobs, key=lambda job: job.source_id):
        copies = list(copies)
        if current and len(current) + len(copies) > size:
            chunks.append(current)
            current = []
        current.extend(copies)
    if current:
        chunks.append(current)
    return chunks


# ------------------------------------------------------------------ resume state


class RunState:
    """``OUTDIR/.curaug``: the settings of the run that writes OUTDIR and what it finished."""

    def __init__(self, outdir: Path, key: str):
        self.outdir, self.key = outdir, key
        self.folder = outdir / STATE_DIR
        self.logs = self.folder / "progress"
        self.staging = self.folder / "staging"

    def finished(self) -> dict[str, dict]:
        """Records of the jobs whose files are all in place, from every worker's log, by path.

        A folder written with other settings is refused; a log line cut short by an
        interruption is skipped (its job is simply done again)."""
        run = self.folder / "run.json"
        if not run.is_file():
            return {}
        try:
            previous = json.loads(run.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
        if previous.get("key") != self.key:
            raise CuraugError(f"{self.outdir} holds an augmentation run with other settings "
                              "(recipe, seed, copies, label or rows); use a new output folder")
        records: dict[str, dict] = {}
        for log in sorted(self.logs.glob("*.jsonl")):
            for line in log.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if "unreadable" not in record:  # a source that did not load is tried again
                    records[record["job"]["path"]] = record
        return {path: record for path, record in records.items()
                if all((self.outdir / rel).is_file() for rel in record.get("files", ()))}

    def start(self, settings: dict[str, Any]) -> None:
        from curate.io.atomic import write_json_atomic

        self.logs.mkdir(parents=True, exist_ok=True)
        self.clear_staging()
        self.staging.mkdir()
        write_json_atomic(self.folder / "run.json", {"key": self.key, **settings})

    def clear_staging(self) -> None:
        """Bytes of files that never reached their place (a worker stopped mid-write)."""
        import shutil

        shutil.rmtree(self.staging, ignore_errors=True)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """``OUTDIR/summary.json``, beside the manifest, where users look for it: the
        figures of the corpus, without what differs between runs that made the same files
        (timings, how much was resumed), so that it has the same bytes too."""
        from curate.io.atomic import write_json_atomic

        write_json_atomic(self.outdir / "summary.json",
                          {k: v for k, v in summary.items() if k not in RUN_FIGURES})


def settings_key(loaded: "LoadedRecipe", settings: dict[str, Any], ids: Iterable[str]) -> str:
    """A hash of everything the corpus depends on: a resumed run must have the same."""
    h = hashlib.sha256()
    h.update(loaded.text.encode("utf-8"))
    h.update(json.dumps([STATE_VERSION, settings], sort_keys=True).encode())
    for i in ids:
        h.update(str(i).encode("utf-8") + b"\n")
    return h.hexdigest()


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The long-lived heap (pandas, the backend...) leaves the collector's scans for the
    run, and forked workers do not copy its pages by touching them. No collection first:
    it costs a fifth of a second on a big heap, and what garbage is frozen with the heap is
    collected after the run, once unfrozen."""
    import gc

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# ------------------------------------------------------------------ the run


def augment_manifest(df: "pd.DataFrame", loaded: "LoadedRecipe", outdir: str | os.PathLike, *, seed: int = 0,
                     copies: int | None = None, balance: bool = False, workers: int = 1, engine: str = "local",
                     scheduler: str | None = None, label: str | None = "label", all_rows: bool = False,
                     progress: Progress | None = None) -> AugmentResult:
    """Augment the train rows of ``df`` (every row with ``all_rows``) into ``outdir``; see
    the module docstring. Raises :class:`Interrupted` on Ctrl-C."""
    recipe = loaded.recipe
    plugin = get_plugin(recipe.modality)
    out = Path(outdir)
    _check_outdir(out)
    _refuse_source_folders(out, df)
    asked = label  # the gate names it when the manifest lacks it
    if label is not None and label not in df.columns:
        label = None
    if plugin.inline and plugin.inline in df.columns:
        df = with_ids(df)
    rows = select_rows(df, recipe.modality, all_rows=all_rows, inline=plugin.inline)
    plugin.check_rows(rows)
    plugin.prepare(loaded)
    label_gate = _label_gate(df, plugin, rows, recipe, asked, seed)
    if balance or (copies is None and recipe.balance is not None):
        copies, target = None, recipe.balance.target if recipe.balance else "max"
    else:
        copies, target = recipe.copies if copies is None else copies, None
    jobs = plan_jobs(rows, copies=copies, balance_target=target, label=label, seed=seed,
                           extension=lambda row: plugin.extension(row, getattr(recipe, "format", None)))
    settings = {"seed": int(seed), "copies": copies, "balance": target, "label": label, "all_rows": all_rows}
    fresh = not out.exists()
    with hold_folder(out / STATE_DIR / "lock", out):
        return _run(df, loaded, plugin, rows, jobs, settings, out, fresh, engine, workers, scheduler, progress,
                    label_gate)


def _label_gate(df: "pd.DataFrame", plugin, rows: "pd.DataFrame", recipe, label: str | None,
                seed: int) -> "LabelGate | None":
    """The recipe's label-preserving gate fitted on ``rows``, or None without one."""
    rule = recipe.gate.label_preserving if recipe.gate is not None else None
    if rule is None:
        return None
    from augment.label_gate import check_label, fit_label_gate

    check_label(df, label)
    return fit_label_gate(plugin, rows, Context(recipe, rows, label), label, seed, rule)


def _run(df: "pd.DataFrame", loaded: "LoadedRecipe", plugin, rows: "pd.DataFrame", jobs: list[Job],
         settings: dict[str, Any], out: Path, fresh: bool, engine: str, workers: int, scheduler: str | None,
         progress: Progress | None, label_gate: "LabelGate | None" = None) -> AugmentResult:
    """The run itself, once ``out`` is held (see :func:`augment_manifest`)."""
    recipe, seed, label = loaded.recipe, settings["seed"], settings["label"]
    run = RunState(out, settings_key(loaded, settings, rows.index))
    done = run.finished()
    todo = [job for job in jobs if job.path not in done]
    run.start({"recipe": loaded.text, **settings})
    # absolute paths: a Dask worker runs in a folder of its own
    state = {"loaded": loaded, "rows": _absolute_roots(rows), "label": label, "run_seed": int(seed),
             "plugin": type(plugin), "outdir": str(out.resolve()), "logs": str(run.logs.resolve()),
             "staging": str(run.staging.resolve()), "run_id": uuid.uuid4().hex,
             "recipe_sha256": hashlib.sha256(loaded.text.encode()).hexdigest(),
             "versions": {"curaug": curaug_version(), **plugin.versions()}, "label_gate": label_gate}

    def collect(record: dict) -> None:
        done[record["job"]["path"]] = record
        if progress:
            progress(len(done), len(jobs))

    started = time.perf_counter()
    try:
        with _frozen_heap():
            make_engine(engine, workers, scheduler, len(todo)).run(chunk_jobs(todo, workers), state, collect)
        unreadable = _unreadable(jobs, done)
        if unreadable and len(unreadable) == len({job.source_id for job in jobs}):
            source_id, error = next(iter(unreadable.items()))
            raise CuraugError(f"none of the {len(unreadable)} sources to augment could be read "
                              f"(first: {source_id}: {error}); run curaug ingest again on the changed files")
    except KeyboardInterrupt:
        # the workers' logs, not what reached this process, say what is finished
        raise Interrupted(len(run.finished()), len(jobs), out) from None
    except (CuraugError, ClusterError):
        if fresh and all("skipped" in r for r in done.values()):  # nothing was made: leave no output folder
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        run.clear_staging()
    elapsed = time.perf_counter() - started
    manifest = output_manifest(df, rows, jobs, done, out)
    from curate.io.manifest import save_manifest

    save_manifest(manifest, out / "manifest.parquet")
    summary = _summary(df, rows, jobs, todo, done, elapsed, gate=recipe.gate is not None, label=label)
    summary["unreadable_sources"] = unreadable
    if label_gate is not None:
        from augment.label_gate import label_gate_summary

        summary["label_gate"] = label_gate_summary(label_gate, [(job.source_id, done[job.path])
                                                                for job in jobs if job.path in done])
    run.write_summary(summary)
    return AugmentResult(manifest, summary)


def _absolute_roots(rows: "pd.DataFrame") -> "pd.DataFrame":
    """``rows`` with every root absolute and its symlinks resolved now: a worker elsewhere
    reads the same files, and one that outlives this run does not remember where a
    symlinked root pointed before."""
    if "root" not in rows.columns:
        return rows
    from curate.io.manifest import absolute_roots

    return rows.assign(root=absolute_roots(rows["root"], Path.cwd()))


def _unreadable(jobs: list[Job], done: dict[str, dict]) -> dict[str, str]:
    """Sources that did not load in this run (skipped with all their copies), in job order,
    with their error."""
    return {job.source_id: done[job.path]["unreadable"] for job in jobs
            if job.path in done and "unreadable" in done[job.path]}


def _refuse_source_folders(out: Path, df: "pd.DataFrame") -> None:
    """The output folder may not hold the data nor lie inside it: files written beside the
    raw samples would become samples at the next ingest (and the data is read-only)."""
    if "root" not in df.columns:
        return
    sources = df if "source_id" not in df.columns else df[df["source_id"].isna()]
    target = out.resolve()
    for root in sources["root"].dropna().unique():
        folder = Path(str(root)).resolve()
        if target == folder or folder in target.parents or target in folder.parents:
            where = "is" if target == folder else ("is inside" if folder in target.parents else "holds")
            raise CuraugError(f"{out}: the output folder {where} the data folder {folder}; write the "
                              "augmented corpus elsewhere (outside the data)", param="outdir")


def _check_outdir(out: Path) -> None:
    """The output folder, or the first of its parents that exists, must be a folder."""
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise CuraugError(f"{out}: {folder} is a file, not a folder; choose another output folder",
                                  param="outdir")
            return


def _summary(df, rows, jobs: list[Job], todo: list[Job], done: dict[str, dict], elapsed: float, *, gate: bool,
             label: str | None) -> dict[str, Any]:
    from curate.io.manifest import ok_rows

    records = [done[job.path] for job in jobs if job.path in done]
    # what was written, per class: a job the quality gate gave up on made nothing
    written = [job.source_id for job in jobs if job.path in done and "skipped" not in done[job.path]]
    made: Counter = Counter()
    if label:
        made.update({str(cls): 0 for cls in rows[label].dropna()})
        made.update(str(rows.at[source, label]) for source in written)
    skipped = sum("skipped" in r for r in records)
    # jobs the plugin could not augment (a silent clip for an SNR-based transform), by reason
    reasons = Counter(r["skipped"] for r in records if "skipped" in r and not r["skipped"].startswith("quality gate"))
    summary = {"train_rows": int(len(rows)), "jobs": len(jobs), "made": len(jobs) - skipped,
               "resumed": len(jobs) - len(todo), "made_per_class": dict(sorted(made.items())),
               "passed_through": int(len(df) - len(rows)), "corrupt_skipped": int((~ok_rows(df)).sum()),
               "gate_rejections": int(sum(r.get("rejected", 0) for r in records)),
               "gate_gave_up": skipped - sum(reasons.values()), "skipped": dict(reasons), "seconds": round(elapsed, 3),
               "per_second": round(len(todo) / elapsed, 2) if elapsed > 0 and todo else None}
    if gate:
        tries = summary["made"] + summary["gate_rejections"]
        summary["gate_rejection_rate"] = round(summary["gate_rejections"] / tries, 4) if tries else 0.0
    return summary


def output_manifest(df: "pd.DataFrame", rows: "pd.DataFrame", jobs: list[Job], done: dict[str, dict],
                    out: Path) -> "pd.DataFrame":
    """Every input row unchanged, then one row per augmented sample in job order. An
    augmented row keeps its source's columns (label, split, group...) except those that
    describe the source's file; its own file's hash and size and the columns its output
    set take their place."""
    import pandas as pd

    from curate.io.ingest import PROBE_FIELDS

    kept = [(job, done[job.path]) for job in jobs if job.path in done and "skipped" not in done[job.path]]
    if not kept:
        return df.copy()
    added = rows.loc[[job.source_id for job, _ in kept]].drop(columns=list(PROBE_FIELDS), errors="ignore")
    # the new columns in one dict and one DataFrame: a column set at a time costs pandas a
    # block insert each, which made this the largest fixed cost of a small run
    cols: dict[str, Any] = {name: values.reset_index(drop=True) for name, values in added.items()}
    # an output held inline (no file) has no path, root, hash or size: its columns hold it
    own = [next(iter(record["files"].values()), None) for _, record in kept]
    root = str(out.resolve())
    cols["id"] = [job.path for job, _ in kept]
    # a table of inline samples (no path column) gets none: its output rows have no file
    files = any(own) or "path" in df.columns
    if files:
        cols["path"] = [job.path if f else None for (job, _), f in zip(kept, own)]
        cols["root"] = [root if f else None for f in own]
    cols["status"] = "ok"
    if any(own):
        cols["sha256"] = [f["sha256"] if f else None for f in own]
        sizes = [f["size_bytes"] if f else None for f in own]
        cols["size_bytes"] = sizes if all(own) else pd.array(sizes, dtype="Int64")
    cols["source_id"] = [job.source_id for job, _ in kept]
    encode = json.JSONEncoder(sort_keys=True).encode  # one encoder for every row
    cols["augment"] = [encode(record["provenance"]) for _, record in kept]
    cols["seed"] = [record["seed"] for _, record in kept]
    columns = pd.DataFrame([record["columns"] for _, record in kept])
    for name in columns.columns:
        cols[name] = columns[name].to_numpy()
    added = pd.DataFrame(cols, index=pd.RangeIndex(len(kept)))
    out_df = pd.concat([df, added], ignore_index=True)
    for c in ("id", "status", "source_id", "augment") + (("path", "root") if files else ()) \
            + (("split",) if "split" in df.columns else ()):
        out_df[c] = out_df[c].astype("string")
    out_df["seed"] = pd.array(out_df["seed"], dtype="Int64")
    return out_df


def replay(outdir: str | os.PathLike, sample_id: str) -> dict[str, tuple[bytes, bytes | None]]:
    """Regenerate one augmented sample from its provenance: for each of its files (its own
    first), ``(new bytes, stored bytes or None when missing)``, then its manifest columns
    as JSON under the key ``columns`` (the cells the plugin fills: a cell
    edited in the manifest is a difference too). A sample held inline has no file: its
    columns come first."""
    import pandas as pd

    from curate.io.manifest import load_data

    out = Path(outdir)
    manifest_path = out / "manifest.parquet"
    if not manifest_path.is_file():
        raise CuraugError(f"{out}: no manifest.parquet (not an augmentation output folder)")
    df = load_data(manifest_path)
    hit = df[df["id"].astype(str) == sample_id]
    if hit.empty or "augment" not in df.columns or pd.isna(hit["augment"].iloc[0]):
        raise CuraugError(f"{sample_id}: not an augmented sample of {manifest_path}")
    row = hit.iloc[0]
    prov = json.loads(row["augment"])
    run = json.loads((out / STATE_DIR / "run.json").read_text(encoding="utf-8"))
    import yaml

    plugin = get_plugin(prov["plugin"])
    recipe = type(plugin).recipe_model.model_validate(yaml.safe_load(run["recipe"]))
    # the rows the run augmented, as it chose them: what a transform learns from them (a
    # text LM, rare words, copy_paste donors) must be what the run learned
    all_rows = bool(run.get("all_rows", "split" not in df.columns))
    sources = select_rows(df[df["augment"].isna()], recipe.modality, all_rows=all_rows, inline=plugin.inline)
    ctx = Context(recipe, sources, run.get("label"))
    sample = plugin.load(ctx.record(str(row["source_id"])), ctx)
    result, applied = plugin.apply(sample, prov["plan"], int(prov["seed"]), ctx)
    path = row.get("path")
    output = plugin.output(result, applied, str(row["id"] if path is None or pd.isna(path) else path), ctx)
    found = {rel: (data, (out / rel).read_bytes() if (out / rel).is_file() else None)
             for rel, data in output.files.items()}
    if output.columns or not found:
        from curate.io.jsonify import jsonable

        stored = {name: None if name not in row.index or _missing(row[name]) else row[name] for name in output.columns}
        found["columns"] = (_json_bytes(_whole(jsonable(output.columns))), _json_bytes(_whole(jsonable(stored))))
    return found


def _whole(columns: dict[str, Any]) -> dict[str, Any]:
    """Whole floats as ints: a column of ints with empty cells (the input rows') reads back
    from the manifest as floats, and 3.0 is the 3 that was written."""
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in columns.items()}


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")


def _missing(value: Any) -> bool:
    import pandas as pd

    return not isinstance(value, (list, dict)) and bool(pd.isna(value))

