"""Reading and writing tables by file extension (.parquet, .csv, .jsonl)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from curate.io.atomic import atomic_path
from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

TABLE_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_format(path: str | os.PathLike) -> str:
    """Return ``parquet``, ``csv`` or ``jsonl`` for a path, or raise naming the extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        known = ", ".join(sorted(set(TABLE_FORMATS)))
        raise CuraugError(f"{path}: unknown table extension '{suffix or '(none)'}' (use one of {known})")
    return TABLE_FORMATS[suffix]


def read_table(path: str | os.PathLike, encoding: str | None = None) -> "pd.DataFrame":
    """Read a table, turning every parse or encoding failure into a one-line CuraugError."""
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    if not path.exists():
        raise CuraugError(f"{path}: no such file")
    if path.is_dir():
        raise CuraugError(f"{path}: is a folder, expected a {fmt} file")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "csv":
            return pd.read_csv(path, encoding=encoding or "utf-8-sig", low_memory=False)
        return pd.read_json(path, lines=True, encoding=encoding or "utf-8", dtype=False)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise CuraugError(
            f"{path}: not valid {exc.encoding} text (byte 0x{bad} at offset {exc.start}); "
            "re-encode the file as UTF-8 or pass --encoding (e.g. latin-1)"
        ) from None
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise CuraugError(f"{path}: cannot read as {fmt}: {detail}") from None
    except Exception as exc:  # pyarrow raises its own exception types on damaged files
        if type(exc).__module__.startswith("pyarrow"):
            raise CuraugError(f"{path}: cannot read as {fmt}: {' '.join(str(exc).split())}") from None
        raise


def write_table(df: "pd.DataFrame", path: str | os.PathLike) -> None:
    """Write ``df`` atomically in the format named by the path's extension."""
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        elif fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", lines=True, force_ascii=False, date_format="iso")
