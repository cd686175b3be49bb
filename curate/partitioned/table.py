"""Opening a table as ``dask.dataframe`` partitions, naming its rows, and choosing where the
graphs run.

Rows are named as the in-memory path names them: by the ``id`` column, else by their
position in the whole table (``0 .. n-1`` in file order, then row order), which is what
:func:`with_positions` puts in the index, whatever the partitioning.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from curate.errors import CuraugError
from curate.io.tables import TABLE_FORMATS

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from curate.io.frames import Partitioned

#: Rows per partition when a single CSV file is cut into partitions (about 64 MB of text).
CSV_BLOCKSIZE = "64MB"


def is_partitioned(path: str | os.PathLike) -> bool:
    """True for a Parquet dataset folder or a glob: inputs only the partitioned path reads."""
    text = str(path)
    return globlib.has_magic(text) or Path(text).is_dir()


def table_files(path: str | os.PathLike) -> tuple[list[str], str]:
    """``(files, format)`` behind a folder, a glob or one file, files sorted by name (the
    order rows are numbered in); one error line when there are none or formats mix."""
    text = str(path)
    if globlib.has_magic(text):
        files = sorted(f for f in globlib.glob(text) if Path(f).is_file())
        if not files:
            raise CuraugError(f"{text}: no file matches this pattern")
    elif Path(text).is_dir():
        files = sorted(str(f) for f in Path(text).iterdir()
                       if f.is_file() and f.suffix.lower() in TABLE_FORMATS and not f.name.startswith((".", "_")))
        if not files:
            raise CuraugError(f"{text}: the folder holds no .parquet, .csv or .jsonl file")
    elif Path(text).is_file():
        files = [text]
    else:
        raise CuraugError(f"{text}: no such file or folder")
    formats = {TABLE_FORMATS.get(Path(f).suffix.lower()) for f in files}
    if None in formats:
        odd = next(f for f in files if Path(f).suffix.lower() not in TABLE_FORMATS)
        raise CuraugError(f"{odd}: unknown table extension '{Path(odd).suffix or '(none)'}' "
                          f"(use one of {', '.join(sorted(set(TABLE_FORMATS)))})")
    if len(formats) > 1:
        raise CuraugError(f"{text}: mixes {' and '.join(sorted(formats))} files; use one format")
    return files, formats.pop()


def open_table(path: str | os.PathLike, *, columns: list[str] | None = None, encoding: str | None = None,
               blocksize: str | int = CSV_BLOCKSIZE) -> "dd.DataFrame":
    """``path`` (a Parquet dataset folder, a glob, or one file) as a lazy dask DataFrame
    with :func:`with_positions` in its index. Parquet is read one row group per partition,
    so a partition stays small whatever the files' sizes, and the partitions are the same
    whichever columns a computation reads."""
    return open_frame(path, columns=columns, encoding=encoding, blocksize=blocksize).ddf


def open_frame(path: str | os.PathLike, *, columns: list[str] | None = None, encoding: str | None = None,
               blocksize: str | int = CSV_BLOCKSIZE) -> "Partitioned":
    """:func:`open_table` as the :class:`curate.io.frames.Partitioned` that checks read,
    knowing its rows per partition: from the Parquet footers (nothing read), or counted
    once for CSV (the count its positions need anyway)."""
    from curate.io.frames import Partitioned

    files, fmt = table_files(path)
    try:
        import dask
        import dask.dataframe as dd
    except ImportError:
        raise CuraugError(f"{path}: a table read in partitions needs Dask: pip install 'curaug[dask]'") from None
    try:
        lengths = None
        if fmt == "parquet":
            # strings as pandas reads them (``str``, NaN for missing), not dask's ``string[NA]``:
            # the rules and checks must see the dtypes the in-memory path sees
            lengths, schema, gappy = _parquet_footers(files)
            with dask.config.set({"dataframe.convert-string": False}):
                ddf = dd.read_parquet(files, columns=columns, split_row_groups=True, index=False,
                                      **({"dataset": {"schema": schema}} if schema is not None else {}))
            gappy = [c for c in gappy if c in ddf.columns and ddf[c].dtype.kind in "iu"]
            if gappy:  # pandas reads the whole table's column as float when any row is missing
                ddf = ddf.astype({c: "float64" for c in gappy})
        elif fmt == "csv":
            # each block's column types as pandas infers them (a file of one block: the
            # whole file's); blocks that disagree are one error line when first read
            with dask.config.set({"dataframe.convert-string": False}):
                ddf = dd.read_csv(files, usecols=columns, blocksize=blocksize, encoding=encoding or "utf-8",
                                  low_memory=False)
        else:
            raise CuraugError(f"{path}: JSON lines cannot be read in partitions; convert to Parquet "
                              "(curaug clean or pandas) or use --engine local on one file")
        if "root" in ddf.columns:  # media roots are stored relative to the dataset's folder
            ddf = ddf.map_partitions(_absolute_roots, str(Path(files[0]).resolve().parent), meta=ddf._meta)
        if lengths is None or len(lengths) != ddf.npartitions:
            lengths = partition_lengths(ddf)
        return Partitioned(with_positions(ddf, lengths), lengths)
    except CuraugError:
        raise
    except Exception as exc:  # pyarrow and dask raise their own types on damaged or odd files
        if "Mismatched dtypes" in str(exc):
            raise CuraugError(f"{path}: the CSV's blocks disagree on column types (an integer column with a "
                              "missing value past the first block reads as float there); convert it to Parquet "
                              "first, or read one file with --engine local") from None
        raise CuraugError(f"{path}: cannot read as {fmt}: {' '.join(str(exc).split())[:300]}") from None


def _absolute_roots(part: "pd.DataFrame", base: str) -> "pd.DataFrame":
    from curate.io.manifest import absolute_roots

    return part.assign(root=absolute_roots(part["root"], base))


def partition_lengths(ddf: "dd.DataFrame") -> list[int]:
    """Rows in each partition. The graph is not optimised: an optimised one that reads
    fewer columns may fuse Parquet partitions, and the count would describe other
    partitions than the table's."""
    import dask

    return [int(n) for n in dask.compute(*[dask.delayed(len)(p) for p in ddf.to_delayed(optimize_graph=False)])]


def _parquet_footers(files: list[str]) -> tuple[list[int], "object | None", list[str]]:
    """From the files' footers, without the data: rows per row group, files in order (the
    partitions of ``split_row_groups=True``); the files' common schema when they differ (a
    column all missing in one file is stored as nulls there); and the integer columns with
    a missing value somewhere (its partitions alone would read as integers)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    metas = [pq.ParquetFile(f).metadata for f in files]
    lengths = [m.row_group(i).num_rows for m in metas for i in range(m.num_row_groups)]
    schemas = [m.schema.to_arrow_schema() for m in metas]
    gappy = set()
    for m, schema in zip(metas, schemas):
        for i in range(m.num_row_groups):
            group = m.row_group(i)
            for j in range(group.num_columns):
                column = group.column(j)
                stats = column.statistics
                name = column.path_in_schema
                if stats is not None and stats.has_null_count and stats.null_count and \
                        name in schema.names and pa.types.is_integer(schema.field(name).type):
                    gappy.add(name)
    common = None
    if not all(s.equals(schemas[0]) for s in schemas[1:]):
        try:
            common = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise CuraugError(f"{files[0]} and the others: the files' columns do not agree ({exc})") from None
    return lengths, common, sorted(gappy)


def with_positions(ddf: "dd.DataFrame", lengths: list[int] | None = None) -> "dd.DataFrame":
    """``ddf`` with each row's position in the whole table as its index (``lengths``: rows
    per partition when known). Mapping every partition also keeps later computations from
    fusing partitions, so partition ``i`` means the same rows in every pass."""
    import numpy as np
    import pandas as pd

    if lengths is None or len(lengths) != ddf.npartitions:
        lengths = partition_lengths(ddf)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(int)

    def place(part: "pd.DataFrame", partition_info=None) -> "pd.DataFrame":
        start = int(starts[partition_info["number"]]) if partition_info else 0
        return part.set_axis(pd.RangeIndex(start, start + len(part)), axis=0)

    meta = ddf._meta.set_axis(pd.RangeIndex(0, 0), axis=0)
    return ddf.map_partitions(place, meta=meta, align_dataframes=False)


#: Rows above which the local engine runs a partitioned table on a LocalCluster of this
#: machine's processes instead of threads: a threaded shuffle (unique values, duplicate
#: rows) holds more the larger the table; a cluster's shuffles spill to disk.
LOCAL_THREADS_MAX_ROWS = 10_000_000


def table_rows(path: str | os.PathLike) -> int | None:
    """Rows of a Parquet table from its footers (None for other formats: unknown unread)."""
    files, fmt = table_files(path)
    if fmt != "parquet":
        return None
    try:
        return sum(_parquet_footers(files)[0])
    except Exception:  # a damaged file: open_table says so in one line
        return None


@contextlib.contextmanager
def engine_scope(engine: str = "local", scheduler: str | None = None, workers: int | None = None,
                 rows: int | None = None) -> Iterator[None]:
    """Where every ``compute`` inside runs: ``local``, this process's threads (one per core
    unless ``workers``), or for a table of more than :data:`LOCAL_THREADS_MAX_ROWS` ``rows``
    a LocalCluster of as many processes; ``dask``, the cluster at ``scheduler`` or a
    LocalCluster of ``workers`` processes. The graphs, and so the results, are the same."""
    try:
        import dask
    except ImportError:
        raise CuraugError("a table read in partitions needs Dask: pip install 'curaug[dask]'") from None

    if engine not in ("local", "dask"):
        raise CuraugError(f"engine='{engine}': use 'local' or 'dask'", param="engine")
    if engine == "local" and (rows is None or rows <= LOCAL_THREADS_MAX_ROWS):
        # shuffles on disk, as without a cluster, even where this process holds a Dask client
        # (a notebook's): dask would pick its cluster shuffle, which threads cannot run
        with dask.config.set({"scheduler": "threads", "num_workers": workers or os.cpu_count() or 1,
                              "dataframe.shuffle.method": "disk"}):
            yield
        return
    from curate.engine import dask_client

    with dask_client(workers or os.cpu_count() or 1, scheduler) as (client, _):
        with dask.config.set(scheduler=client.get):
            yield
