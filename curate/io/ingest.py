"""``curaug ingest``: turn a class-folder tree or a table into a manifest.

Folder trees: ``SRC/<label>/.../<file>``; every recognised file is hashed and decoded on
all cores, or as tasks on a Dask cluster (``engine='dask'``). A per-source cache keyed by
(path, size, mtime) lets a re-ingest of an unchanged tree skip decoding. Tables keep their
columns and gain stable ids.

A folder's manifest is built :data:`PIECE_ROWS` rows at a time, in file order, as the
decoded files come back; given an ``output`` it is written piece by piece, Parquet in row
groups of :data:`ROW_GROUP_ROWS`, and never held whole, so the file depends on the rows
only, not on the engine or the size of its tasks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import unicodedata
import itertools
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple

from curate.errors import CuraugError
from curate.io.cache import cache_dir
from curate.io.manifest import MODALITIES, check_paths, media_file, save_manifest, stored_roots
from curate.io.rowkeys import row_digests
from curate.io.media import MEDIA_KINDS, extension_modality, modality_of, probe_batch, probe_file
from curate.io.tables import TABLE_FORMATS, read_table, table_format

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[int, int], None]
CACHE_VERSION = 2  # 2: images carry a perceptual hash
#: What a probe gives every file, then what each media kind adds (curate.io.media.MEDIA_KINDS).
PROBE_FIELDS = tuple(dict.fromkeys(("sha256", "size_bytes", "status", "reason", "format")
                                   + tuple(f for _, kind in MEDIA_KINDS.items() for f in kind.fields)))
INT_FIELDS = ("size_bytes", "width", "height", "channels", "sample_rate")
ENGINES = ("local", "dask")
#: Work per Dask task: the Dask docs advise tasks of about 100 ms, long enough that the
#: scheduler's own cost per task (about 1 ms) stays small, short enough to balance.
TASK_SECONDS = 0.1
#: Files decoded here first to time one file and so size the Dask tasks.
PROBE_FILES = 8
#: Batches handed to each pool worker at a time: enough that none waits for the next.
POOL_BATCHES_PER_WORKER = 4
#: Rows per row group of a Parquet manifest. Fixed, so the output's bytes do not depend on
#: the engine or its task sizes.
ROW_GROUP_ROWS = 65_536
#: Manifest rows built at a time: as DataFrames they take about 3 kB a row, as the Arrow
#: columns a row group collects about 0.3 kB.
PIECE_ROWS = 8_192
#: Corrupt files the summary names (it counts them all).
MAX_CORRUPT_EXAMPLES = 20


@dataclass
class IngestResult:
    """The manifest (None when ingest wrote it to its ``output``) and a summary of what
    ingest saw (counts, skips, cache hits)."""

    manifest: "pd.DataFrame | None"
    summary: dict[str, Any] = field(default_factory=dict)


class _FileEntry(NamedTuple):  # one per file: a tuple is made in a third of a frozen dataclass's time
    rel: str
    label: str | None
    modality: str
    size: int
    mtime_ns: int


def ingest(src: str | os.PathLike, modality: str | None = None, *, workers: int | None = None,
           use_cache: bool = True, encoding: str | None = None,
           progress: Progress | None = None, engine: str = "local",
           scheduler: str | None = None, output: str | os.PathLike | None = None) -> IngestResult:
    """Build a manifest from a class-folder tree or a table file.

    Parameters
    ----------
    src : path
        A folder ``SRC/<label>/<file>`` or a ``.csv``/``.parquet``/``.jsonl`` table.
    modality : {'image', 'audio', 'text', 'tabular'}, optional
        Keep only files of this modality (folders) or declare what a table holds.
    workers : int, optional
        Processes used to decode files (with ``engine='dask'`` and no scheduler, the
        LocalCluster's workers); defaults to every core.
    use_cache : bool
        Reuse the results of an earlier ingest for files whose size and mtime are unchanged.
    progress : callable, optional
        Called as ``progress(done, total)`` while files are decoded.
    engine : {'local', 'dask'}
        ``dask`` decodes the files as tasks of about 100 ms each on a Dask cluster; the
        manifest is the same as the local engine's.
    scheduler : str, optional
        The Dask scheduler's address (``tcp://HOST:PORT``); by default a LocalCluster.
    output : path, optional
        Write the manifest there (``.parquet``, ``.csv`` or ``.jsonl``; atomically, roots
        relative to its folder as :func:`curate.io.manifest.save_manifest` stores them)
        instead of returning it: a folder's rows go out :data:`PIECE_ROWS` at a time as
        they are decoded. The result's ``manifest`` is then None.
    """
    if engine not in ENGINES:
        raise CuraugError(f"engine='{engine}': unknown engine (local or dask)", param="engine")
    if scheduler and engine != "dask":
        raise CuraugError("scheduler needs engine='dask'", param="scheduler")
    run = _Run(workers, engine, scheduler, progress)
    if modality is not None and modality not in MODALITIES:
        raise CuraugError(f"modality='{modality}': unknown modality (use one of {', '.join(MODALITIES)})",
                          param="modality")
    if output is not None:
        table_format(output)
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CuraugError(f"encoding='{encoding}': unknown text encoding (e.g. utf-8, latin-1, cp1252)",
                              param="encoding") from None
    src = Path(src)
    if not src.exists():
        raise CuraugError(f"{src}: no such file or folder", param="src")
    started = time.perf_counter()
    if src.is_dir():
        result = _ingest_folder(src, modality, run, use_cache, output, encoding)
    else:
        result = _ingest_table(src, modality, run, encoding)
        if output is not None:
            save_manifest(result.manifest, output)
            result.manifest = None
    result.summary["seconds"] = round(time.perf_counter() - started, 3)
    return result


# ---------------------------------------------------------------- folders


@dataclass(frozen=True)
class _Run:
    """How the files of one ingest are decoded."""

    workers: int | None
    engine: str
    scheduler: str | None
    progress: Progress | None


def _ingest_folder(src: Path, modality: str | None, run: _Run, use_cache: bool,
                   output: str | os.PathLike | None, encoding: str | None = None) -> IngestResult:
    if modality == "tabular":
        raise CuraugError(f"{src}: modality='tabular' needs a table file, not a folder", param="modality")
    entries, skipped, other_ext = _scan_tree(src, modality)
    if not entries:
        raise CuraugError(_nothing_found_message(src, modality, skipped, other_ext))
    root = str(src.resolve())
    cache_file = _cache_file(root, encoding) if use_cache else None
    cached = _load_cache(cache_file)
    todo = [e for e in entries if (e.rel, e.size, e.mtime_ns) not in cached]
    columns = _columns({e.modality for e in entries})
    tally = _Tally(src, "folder")
    pieces: list["pd.DataFrame"] = []
    with contextlib.ExitStack() as stack:
        # closed on an error: its pool or cluster stops at once, not when collected
        probed = stack.enter_context(contextlib.closing(_probe_many(_FolderJobs(root, todo, encoding), run)))
        if output is None:
            write = pieces.append
        else:
            to_file = stack.enter_context(_table_stream(output))

            def write(piece: "pd.DataFrame") -> None:
                to_file(piece.assign(root=stored_roots(piece["root"], output)))

        to_cache = stack.enter_context(_CacheStream(cache_file)) if cache_file is not None else None
        for start in range(0, len(entries), PIECE_ROWS):
            some = entries[start:start + PIECE_ROWS]
            records = []
            for e in some:
                key = (e.rel, e.size, e.mtime_ns)
                fields = cached[key] if key in cached else next(probed)
                records.append({"id": unicodedata.normalize("NFC", e.rel), "label": e.label, "root": root,
                                "path": e.rel, "modality": e.modality, **fields})
            piece = _frame(records, columns)
            del records  # not held while the piece is written
            tally.add(piece)
            write(piece)
            if to_cache is not None:
                to_cache.write(piece, some)
        next(probed, None)  # every file is in: the generator ends, closing its pool or cluster normally
    summary = tally.summary()
    summary.update(decoded=len(todo), cached=len(entries) - len(todo), skipped=skipped)
    if other_ext:
        summary["unrecognised_extensions"] = dict(other_ext.most_common(10))
    return IngestResult(_concat(pieces) if output is None else None, summary)


def _concat(pieces: list["pd.DataFrame"]) -> "pd.DataFrame":
    import pandas as pd

    return pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)


@contextlib.contextmanager
def _table_stream(path: str | os.PathLike) -> Iterator[Callable[["pd.DataFrame"], None]]:
    """``write(piece)`` appending DataFrames of the same columns and dtypes to one table
    file, atomically (nothing at ``path`` until the last piece is in). Parquet gets row
    groups of :data:`ROW_GROUP_ROWS` whatever the pieces' sizes; CSV and JSON lines the
    bytes ``write_table`` gives the whole."""
    from curate.io.atomic import atomic_path

    fmt = table_format(path)
    with atomic_path(path) as tmp, contextlib.ExitStack() as stack:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            waiting: list[pa.Table] = []  # rows short of a full row group

            def flush(last: bool) -> None:
                nonlocal waiting
                held = sum(len(t) for t in waiting)
                full = held if last else held - held % ROW_GROUP_ROWS
                if full:
                    table = pa.concat_tables(waiting)
                    writer.write_table(table.slice(0, full), row_group_size=ROW_GROUP_ROWS)
                    waiting = [table.slice(full)] if full < held else []

            def write(piece: "pd.DataFrame") -> None:
                nonlocal writer
                table = pa.Table.from_pandas(piece, preserve_index=False,
                                             schema=writer.schema if writer is not None else None)
                if writer is None:
                    writer = stack.enter_context(pq.ParquetWriter(tmp, table.schema))
                waiting.append(table)
                flush(last=False)
        else:
            handle = stack.enter_context(open(tmp, "w", encoding="utf-8", newline=""))
            first = True

            def write(piece: "pd.DataFrame") -> None:
                nonlocal first
                if fmt == "csv":
                    piece.to_csv(handle, index=False, header=first)
                else:
                    piece.to_json(handle, orient="records", lines=True, force_ascii=False, date_format="iso")
                first = False

        yield write
        if fmt == "parquet":
            flush(last=True)


class _FolderJobs(Sequence):
    """``(full path, modality, text encoding)`` of each file to decode, made as they are
    asked for: a million paths are not held at once."""

    def __init__(self, root: str, entries: list[_FileEntry], encoding: str | None = None) -> None:
        self.root, self.entries, self.encoding = root, entries, encoding

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, at):
        if isinstance(at, slice):
            return [self._job(e) for e in self.entries[at]]
        return self._job(self.entries[at])

    def __iter__(self) -> Iterator[tuple[str, str, str | None]]:
        return map(self._job, self.entries)

    def _job(self, e: _FileEntry) -> tuple[str, str, str | None]:
        return self.root + os.sep + e.rel, e.modality, self.encoding  # os.path.join costs four times this


def _scan_tree(src: Path, modality: str | None) -> tuple[list[_FileEntry], dict[str, int], Counter]:
    """Walk ``src`` in sorted order; return recognised files, skip counts, other extensions.

    Uses ``os.scandir`` and plain strings: on trees of tens of thousands of files,
    ``pathlib`` objects cost more than the stat calls themselves.
    """
    entries: list[_FileEntry] = []
    skipped: Counter = Counter()
    other_ext: Counter = Counter()
    real_root = os.path.realpath(src) + os.sep
    modality_by_extension = extension_modality()
    stack = [(str(src), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            listing = sorted(it, key=lambda e: e.name)
        subfolders = []
        for entry in listing:
            name = entry.name
            if name.startswith("."):
                skipped["hidden"] += 1
                continue
            rel = prefix + name
            if entry.is_dir(follow_symlinks=False):
                subfolders.append((entry.path, rel + "/"))
                continue
            dot = name.rfind(".")  # os.path.splitext's, for names not starting with a dot, at a third of its cost
            ext = name[dot:].lower() if dot > 0 else ""
            kind = modality_by_extension.get(ext)
            if kind is None:
                skipped["unrecognised"] += 1
                other_ext[ext or "(none)"] += 1
            elif modality is not None and kind != modality:
                skipped[f"not {modality}"] += 1
            elif entry.is_symlink() and not os.path.realpath(entry.path).startswith(real_root):
                skipped["symlink outside root"] += 1
            else:
                try:
                    st = entry.stat()
                except OSError:
                    skipped["unreadable"] += 1
                    continue
                label = rel.split("/", 1)[0] if "/" in rel else None
                entries.append(_FileEntry(rel, label, kind, st.st_size, st.st_mtime_ns))
        stack.extend(reversed(subfolders))
    return entries, dict(skipped), other_ext


def _nothing_found_message(src: Path, modality: str | None, skipped: dict, other_ext: Counter) -> str:
    wanted = f"{modality} files" if modality else "image, audio or text files"
    total = sum(skipped.values())
    if total == 0:
        return f"{src}: folder is empty"
    detail = []
    if other_ext:
        exts = ", ".join(f"{ext} ({n})" for ext, n in other_ext.most_common(5))
        detail.append(f"unrecognised extensions: {exts}")
    if modality and skipped.get(f"not {modality}"):
        detail.append(f"{skipped[f'not {modality}']} files of another modality")
    known = " ".join(sorted(extension_modality()))
    return f"{src}: no {wanted} found ({'; '.join(detail) or f'{total} hidden or unreadable files'}; recognised: {known})"


def _probe_many(jobs: Sequence[tuple[str, str, str | None]], run: _Run) -> Iterator[dict]:
    """Probe files in a process pool (serially when few) or on Dask; yield their fields in
    input order as they come back. The pool is given :data:`POOL_BATCHES_PER_WORKER`
    batches per worker at a time, so the files waiting and the results not yet taken stay
    few whatever the tree's size."""
    total, progress = len(jobs), run.progress
    workers = max(1, run.workers or os.cpu_count() or 1)
    if run.engine == "dask" and jobs:
        yield from _probe_dask(jobs, workers, run.scheduler, progress)
        return
    if progress:
        progress(0, total)
    if workers == 1 or total < 32:
        for i, job in enumerate(jobs, 1):
            yield probe_file(*job)
            if progress:
                progress(i, total)
        return
    import multiprocessing

    # forkserver: a fork of this process could inherit locks held by a progress-bar thread.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    if context.get_start_method() == "forkserver":
        # the decoders are imported once in the fork server, not once per worker: workers
        # each importing scipy and Pillow added about 0.4 s to every pooled ingest
        context.set_forkserver_preload(["curate.io.media", "curate.io.hashes", "PIL.Image", "scipy.fft", "soundfile"])
    chunk = max(1, min(64, total // (workers * 8)))
    left = iter(jobs)
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running: deque = deque()

        def submit() -> None:
            batch = list(itertools.islice(left, chunk))
            if batch:
                running.append(pool.submit(probe_batch, batch))

        for _ in range(workers * POOL_BATCHES_PER_WORKER):
            submit()
        while running:
            part = running.popleft().result()
            submit()
            yield from part
            done += len(part)
            if progress:
                progress(done, total)


def _probe_dask(jobs: Sequence[tuple[str, str, str | None]], workers: int, scheduler: str | None,
                progress: Progress | None) -> Iterator[dict]:
    """Probe files as Dask tasks of about :data:`TASK_SECONDS` each; yield their fields in
    input order (a task that finishes early waits here for those before it).

    A few files are probed here first: their time sizes the tasks (one file's cost varies
    a thousandfold between a thumbnail and a photo, so no fixed count fits). A
    LocalCluster gets no more workers than there are tasks."""
    from distributed import as_completed

    from curate.engine import dask_client, stop_dask

    total = len(jobs)
    if progress:
        progress(0, total)
    first = [probe_file(*job) for job in jobs[:1]]  # the first also loads the decoders
    started = time.perf_counter()
    first += [probe_file(*job) for job in jobs[1:PROBE_FILES + 1]]
    per_file = (time.perf_counter() - started) / max(1, len(first) - 1)
    size = max(1, round(TASK_SECONDS / max(per_file, 1e-6)))
    rest = jobs[len(first):]
    batches = [rest[i:i + size] for i in range(0, len(rest), size)]
    done = len(first)
    if progress:
        progress(done, total)
    yield from first
    with dask_client(max(1, min(workers, len(batches))), scheduler) as (client, cluster):
        futures = []
        try:
            futures = [client.submit(probe_batch, batch, pure=False) for batch in batches]
            order = {future.key: i for i, future in enumerate(futures)}
            waiting: dict[int, list[dict]] = {}
            following = 0
            for future, part in as_completed(futures, with_results=True):
                index = order[future.key]
                waiting[index] = part
                futures[index] = None  # its result is here now: let the cluster drop it
                done += len(part)
                if progress:
                    progress(done, total)
                while following in waiting:
                    yield from waiting.pop(following)
                    following += 1
        except BaseException:
            stop_dask(client, [f for f in futures if f is not None], cluster)
            raise


def _columns(modalities: set[str]) -> list[str]:
    """The manifest's columns, in a fixed order, for files of these modalities."""
    extra = [c for m, kind in MEDIA_KINDS.items() if m in modalities for c in kind.fields]
    columns = ["id", "label", "root", "path", "modality", "sha256", "size_bytes", "status", "reason", "format"]
    return columns + list(dict.fromkeys(extra))


def _frame(records: list[dict], columns: list[str]) -> "pd.DataFrame":
    """Records to a DataFrame of ``columns`` (missing fields are missing values), typed."""
    import pandas as pd

    df = pd.DataFrame.from_records(records)
    for c in columns:
        if c not in df.columns:
            df[c] = None
    df = df[columns]
    for c in INT_FIELDS:
        if c in df.columns:
            df[c] = pd.array(df[c].astype("Float64"), dtype="Int64")
    if "duration_s" in df.columns:
        df["duration_s"] = df["duration_s"].astype("float64")
    for c in ("id", "label", "root", "path", "modality", "sha256", "status", "reason", "format"):
        df[c] = df[c].astype("string")
    for c in ("text", "phash"):
        if c in df.columns:
            df[c] = df[c].astype("string")
    return df


# ---------------------------------------------------------------- cache


def _cache_file(root: str, encoding: str | None = None) -> Path:
    """One cache per folder, and per text encoding asked for (a file decodes otherwise)."""
    digest = hashlib.sha256((root + (f"\0{encoding}" if encoding else "")).encode("utf-8")).hexdigest()[:16]
    return cache_dir() / f"ingest-v{CACHE_VERSION}-{digest}.parquet"


def _load_cache(cache_file: Path | None) -> dict[tuple, dict]:
    if cache_file is None or not cache_file.exists():
        return {}
    import pandas as pd

    try:
        table = pd.read_parquet(cache_file)
    except Exception:  # a damaged cache only costs a re-decode
        return {}
    fields = [c for c in PROBE_FIELDS if c in table.columns]
    keys = zip(table["path"], table["cache_size"], table["cache_mtime_ns"])
    values = table[fields].astype(object).where(table[fields].notna(), None).to_dict("records")
    return {(p, int(s), int(m)): v for (p, s, m), v in zip(keys, values)}


class _CacheStream:
    """The cache file of one folder ingest, written a piece of the manifest at a time. A
    cache that cannot be written (a read-only cache folder) must not fail the ingest: it
    is then left as it was."""

    def __init__(self, cache_file: Path) -> None:
        self.stack = contextlib.ExitStack()
        self.cache_file = cache_file
        self.write_table: Callable[["pd.DataFrame"], None] | None = None

    def __enter__(self) -> "_CacheStream":
        try:
            self.write_table = self.stack.enter_context(_table_stream(self.cache_file))
        except OSError:
            pass
        return self

    def write(self, piece: "pd.DataFrame", entries: list[_FileEntry]) -> None:
        if self.write_table is None:
            return
        table = piece[["path"] + [c for c in PROBE_FIELDS if c in piece.columns]].copy()
        table["cache_size"] = [e.size for e in entries]
        table["cache_mtime_ns"] = [e.mtime_ns for e in entries]
        try:
            self.write_table(table)
        except OSError as exc:
            self.write_table = None
            with contextlib.suppress(OSError):  # abandons the partial file, keeps the old cache
                self.stack.__exit__(type(exc), exc, exc.__traceback__)

    def __exit__(self, *exc_info) -> bool:
        try:
            return self.stack.__exit__(*exc_info)
        except OSError:
            return False


# ---------------------------------------------------------------- tables


def _ingest_table(src: Path, modality: str | None, run: _Run, encoding: str | None) -> IngestResult:
    import pandas as pd

    if src.suffix.lower() not in TABLE_FORMATS:
        kind = modality_of(src)
        hint = f" (a single {kind} file: put it in a class folder and ingest the folder)" if kind else ""
        raise CuraugError(f"{src}: not a folder or a table (.csv, .parquet, .jsonl){hint}")
    df = read_table(src, encoding=encoding)
    if df.empty:
        raise CuraugError(f"{src}: table has no rows")
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    ids = _table_ids(df, src)
    if "path" in df.columns and modality not in ("tabular", "text"):
        return _ingest_media_table(df, ids, src, modality, run)
    if modality is None:
        modality = "text" if "text" in df.columns else "tabular"
    if modality == "text" and "text" not in df.columns:
        raise CuraugError(f"{src}: modality='text' needs a 'text' column (columns: {', '.join(df.columns)})",
                          param="modality")
    if modality in ("image", "audio"):
        raise CuraugError(f"{src}: modality='{modality}' needs a 'path' column listing the files", param="modality")
    out = df.drop(columns=["id"], errors="ignore")
    out.insert(0, "id", ids)
    if "modality" not in out.columns:
        out.insert(1, "modality", pd.array([modality] * len(out), dtype="string"))
    return IngestResult(out, _Tally(src, "table").add(out).summary())


def _table_ids(df: "pd.DataFrame", src: Path) -> "pd.Series":
    """The table's own ``id`` column when valid, else ids hashed from row content.

    Content ids do not move when rows are appended or reordered; exact duplicate rows are
    told apart by an occurrence suffix (``-1``, ``-2``...).
    """
    if "id" in df.columns:
        ids = df["id"]
        if ids.isna().any():
            raise CuraugError(f"{src}: column 'id' has {int(ids.isna().sum())} missing values")
        ids = ids.astype(str)
        dup = ids[ids.duplicated()]
        if len(dup):
            raise CuraugError(
                f"{src}: column 'id' is not unique ({len(dup)} repeated values, e.g. '{dup.iloc[0]}'); "
                "rename the column or drop the repeats"
            )
        return ids.astype("string").reset_index(drop=True)
    digests = row_digests(df).reset_index(drop=True)
    repeat = digests.groupby(digests).cumcount()
    ids = digests.where(repeat == 0, digests + "-" + repeat.astype(str))
    return ids.astype("string")


def _ingest_media_table(df: "pd.DataFrame", ids: "pd.Series", src: Path, modality: str | None,
                        run: _Run) -> IngestResult:
    """A table whose ``path`` column lists media files (relative to its folder or ``root``)."""
    import pandas as pd

    base = src.resolve().parent
    if "root" in df.columns:
        df["root"] = df["root"].map(lambda r: str((base / str(r)).resolve()), na_action="ignore")
        df["root"] = df["root"].fillna(str(base))
    else:
        df["root"] = str(base)
    df["path"] = df["path"].astype("string")
    check_paths(df, src)
    kinds = [modality or modality_of(p) for p in df["path"]]
    jobs, missing = [], {}
    for i, (root, rel, kind) in enumerate(zip(df["root"], df["path"], kinds)):
        if kind is None:
            missing[i] = {"status": "corrupt", "reason": f"unrecognised file extension in '{rel}'"}
            continue
        try:
            full = media_file(root, rel)
        except CuraugError as exc:
            raise CuraugError(f"{src}: row {i}: {exc}") from None
        if not full.is_file():
            missing[i] = {"status": "corrupt", "reason": "file not found"}
            continue
        jobs.append((i, str(full), kind))
    probed = dict(zip([j[0] for j in jobs], list(_probe_many([j[1:] for j in jobs], run))))
    records = [probed.get(i) or missing[i] for i in range(len(df))]
    fields = _frame(records, _columns({k for k in kinds if k}))
    fields = fields.drop(columns=["id", "label", "root", "path"])
    fields["modality"] = pd.array(kinds, dtype="string")
    out = df.drop(columns=["id"] + [c for c in fields.columns if c in df.columns], errors="ignore")
    out = pd.concat([out.reset_index(drop=True), fields.reset_index(drop=True)], axis=1)
    out.insert(0, "id", ids)
    return IngestResult(out, _Tally(src, "table").add(out).summary())


# ---------------------------------------------------------------- summary


class _Tally:
    """The summary of a manifest, counted a piece at a time."""

    def __init__(self, src: Path, kind: str) -> None:
        self.src, self.kind = src, kind
        self.rows = 0
        self.modalities: Counter = Counter()
        self.corrupt = 0
        self.corrupt_examples: list[dict[str, str]] = []
        self.has_status = False
        self.labels: set = set()
        self.unlabelled = 0

    def add(self, piece: "pd.DataFrame") -> "_Tally":
        self.rows += len(piece)
        self.modalities.update({str(k): int(v) for k, v in piece["modality"].value_counts(dropna=False).items()})
        if "status" in piece.columns:
            self.has_status = True
            corrupt = piece[piece["status"] == "corrupt"]
            self.corrupt += len(corrupt)
            room = MAX_CORRUPT_EXAMPLES - len(self.corrupt_examples)
            self.corrupt_examples += [{"id": str(i), "reason": str(r)}
                                      for i, r in zip(corrupt["id"].head(room), corrupt["reason"].head(room))]
        if "label" in piece.columns and self.kind == "folder":
            self.labels.update(piece["label"].dropna().unique().tolist())
            self.unlabelled += int(piece["label"].isna().sum())
        return self

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"source": str(self.src), "kind": self.kind, "rows": self.rows,
                                   "modalities": dict(self.modalities.most_common())}
        if self.has_status:
            summary.update(ok=self.rows - self.corrupt, corrupt=self.corrupt, corrupt_examples=self.corrupt_examples)
        if self.kind == "folder":
            summary.update(classes=len(self.labels), unlabelled=self.unlabelled)
        return summary
