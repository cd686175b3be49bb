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
    (replacing an earlier dataset folder there), on failure it is removed."""
    final = Path(output)
    if final.exists() and not final.is_dir():
        raise CuraugError(f"{final}: is a file; a partitioned table is written as a folder, give a folder path")
    if final.is_dir() and any(not (f.is_file() and f.suffix == ".parquet") for f in final.iterdir()):
        raise CuraugError(f"{final}: the folder holds other files than a Parquet dataset's; "
                          "give a new or empty folder")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_part(df: "pd.DataFrame", folder: str | os.PathLike, number: int, final: str | os.PathLike) -> None:
    """Partition ``number`` as ``folder/part.NNNNN.parquet``; roots relative to ``final``,
    the folder the dataset will have once swapped in."""
    from curate.io.manifest import relative_roots

    out = df
    if "root" in df.columns:
        out = df.copy()
        out["root"] = relative_roots(df["root"], Path(final).resolve())
    out.to_parquet(Path(folder) / PART_NAME.format(number), index=False)
