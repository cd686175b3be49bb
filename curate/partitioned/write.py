"""Writing a partitioned table: a Parquet dataset folder, one file per partition, that
appears whole or not at all.

The files are written into a hidden folder beside the output and the output is swapped in
only when every partition is written, so a failure or Ctrl-C leaves the previous output (or
none) and never a folder with some partitions missing. A media manifest's ``root`` is stored
relative to the output folder, as :func:`curate.io.manifest.save_manifest` stores it relative
to a manifest file's folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

PART_NAME = "part.{:05d}.parquet"


@contextlib.contextmanager
def dataset_folder(output: str | os.PathLike) -> Iterator[Path]:
    """A fresh hidden folder to write the partitions into; on success it becomes ``output``
    (replacing an earlier dataset folder there), or, for an ``output`` ending in
    ``.parquet``, one file with a row group per partition, streamed; on failure it is removed."""
    final = Path(output)
    single = final.suffix.lower() in (".parquet", ".pq")
    if not single:
        if final.exists() and not final.is_dir():
            raise CuraugError(f"{final}: is a file; a partitioned table is written as a folder (or name a "
                              ".parquet file)")
        if final.suffix.lower() in (".csv", ".jsonl", ".ndjson"):
            raise CuraugError(f"{final}: a partitioned table is written as a Parquet dataset folder or one "
                              ".parquet file, not {final.suffix}")
        if final.is_dir() and any(not (f.is_file() and f.suffix == ".parquet") for f in final.iterdir()):
            raise CuraugError(f"{final}: the folder holds other files than a Parquet dataset's; "
                              "give a new or empty folder")
    elif final.is_dir():
        raise CuraugError(f"{final}: is a folder, expected a .parquet file")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        _harmonise(tmp)
        if single:
            _merge(tmp, final)
            return
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _harmonise(folder: Path) -> None:
    """Give every partition file the same schema: a column all missing in one partition is
    written there as nulls, which readers of the whole folder refuse to combine. Only the
    files that differ are rewritten, one at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(folder.glob("part.*.parquet"))
    schemas = [pq.read_schema(f) for f in files]
    if all(s.equals(schemas[0]) for s in schemas[1:]):
        return
    common = pa.unify_schemas(schemas, promote_options="permissive")
    for f, schema in zip(files, schemas):
        if not schema.equals(common):
            pq.write_table(pq.read_table(f).cast(common), f)


#: Rows per row group of one merged file: what ``pyarrow.parquet.write_table`` (and so
#: pandas' ``to_parquet``) writes, so a table split in partitions gives the in-memory
#: split's bytes.
MERGED_ROW_GROUP = 1024 * 1024


def _merge(folder: Path, path: Path) -> None:
    """The partition files of ``folder``, in order, as one Parquet file written atomically
    with row groups of :data:`MERGED_ROW_GROUP` rows, as ``DataFrame.to_parquet`` writes
    the whole table: at most one row group and one partition are in memory at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.io.atomic import atomic_path

    files = sorted(folder.glob("part.*.parquet"))
    schema = pq.read_schema(files[0]) if files else pa.schema([])
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        held: list = []
        rows = 0
        for f in files:
            table = pq.read_table(f)
            held.append(table)
            rows += table.num_rows
            while rows >= MERGED_ROW_GROUP:
                whole = pa.concat_tables(held)
                writer.write_table(whole.slice(0, MERGED_ROW_GROUP), row_group_size=MERGED_ROW_GROUP)
                held, rows = [whole.slice(MERGED_ROW_GROUP)], whole.num_rows - MERGED_ROW_GROUP
        if rows or not files:
            writer.write_table(pa.concat_tables(held) if held else schema.empty_table(),
                               row_group_size=MERGED_ROW_GROUP)


def write_part(df: "pd.DataFrame", folder: str | os.PathLike, number: int, final: str | os.PathLike) -> None:
    """Partition ``number`` as ``folder/part.NNNNN.parquet``; roots relative to the folder
    of ``final`` (the dataset folder, or the folder of one ``.parquet`` file)."""
    from curate.io.manifest import relative_roots

    out = df
    if "root" in df.columns:
        out = df.copy()
        final = Path(final).resolve()
        base = final.parent if final.suffix.lower() in (".parquet", ".pq") else final
        out["root"] = relative_roots(df["root"], base)
    out.to_parquet(Path(folder) / PART_NAME.format(number), index=False)
