"""One writer per output folder: an advisory lock held while a run writes the folder.

Two ``curaug augment`` (or ``run``) commands into one folder at once would interleave their
staging and progress files; the second is refused at once, naming the process that holds
the folder. The lock is an ``flock`` on a file in the folder's state folder: the operating
system drops it when the holder exits, however it exits, so a killed run never leaves the
folder locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

from curate.errors import CuraugError


@contextlib.contextmanager
def hold_folder(lock_file: str | os.PathLike, folder: str | os.PathLike, param: str = "outdir") -> Iterator[None]:
    """Hold ``lock_file`` (created with its folder) for as long as the block runs; raise a
    :class:`CuraugError` naming ``folder`` and the holder's process when another holds it."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # Windows: no flock; one writer per folder is then the user's care
        yield
        return
    path = Path(lock_file)
    made = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _locked(path, folder, param):
            yield
    finally:
        if made:  # a run that wrote nothing leaves no folder behind
            path.unlink(missing_ok=True)
            for d in made:
                with contextlib.suppress(OSError):
                    d.rmdir()  # only if empty


@contextlib.contextmanager
def _locked(path: Path, folder: str | os.PathLike, param: str) -> Iterator[None]:
    import fcntl

    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise CuraugError(f"{folder} is being written by {holder}; wait for it to finish or write "
                              "elsewhere", param=param) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"curaug process {os.getpid()} (started {time.strftime('%Y-%m-%d %H:%M:%S')})")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
