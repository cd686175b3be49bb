"""Content hashes of the files a stage reads and writes.

A file's sha256 is read once and then cached by its path, size, mtime and inode in
``out/.curaug/hashes.json``: a source folder of 100k unchanged files costs one ``stat``
per file on the next run, not a read. (Every output is written by an atomic rename, which
gives it a new inode, so a rewrite within one mtime tick is still seen.) A folder's digest
is the sha256 of its non-hidden files' relative paths and hashes, in sorted order: hidden
files and folders (``.curaug/`` state, editor droppings) are not content.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CHUNK = 1 << 20


class FileHashes:
    """sha256 digests of files and folders, cached in ``cache_file`` across runs."""

    def __init__(self, cache_file: Path):
        self.cache_file = cache_file
        self.entries: dict[str, list] = {}
        self.read = 0  # files whose bytes were read this run (the cache missed)
        self._dirty = False
        try:
            loaded = json.loads(cache_file.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.entries = loaded
        except (OSError, ValueError):  # no cache yet, or a damaged one: it only saves time
            pass

    def file(self, path: str | os.PathLike) -> str:
        key = os.fspath(path)
        st = os.stat(key)
        signature = [st.st_size, st.st_mtime_ns, st.st_ino]
        cached = self.entries.get(key)
        if cached is not None and cached[:3] == signature:
            return cached[3]
        h = hashlib.sha256()
        with open(key, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
        self.entries[key] = [*signature, h.hexdigest()]
        self.read += 1
        self._dirty = True
        return h.hexdigest()

    def digest(self, path: str | os.PathLike) -> str | None:
        """The digest of a file or a folder tree; None when it does not exist."""
        path = Path(path)
        if path.is_file():
            return self.file(path)
        if not path.is_dir():
            return None
        h = hashlib.sha256()
        seen = set()
        for rel, full in sorted(_walk(str(path))):
            h.update(f"{rel}\0{self.file(full)}\n".encode("utf-8"))
            seen.add(full)
        self._forget_under(str(path) + os.sep, seen)
        return h.hexdigest()

    def digest_files(self, paths: list[str]) -> str:
        """The digest of a list of files (a missing one counts as missing, not as an error)."""
        h = hashlib.sha256()
        for path in paths:
            h.update(f"{path}\0{self.file(path) if os.path.isfile(path) else 'missing'}\n".encode("utf-8"))
        return h.hexdigest()

    def _forget_under(self, prefix: str, seen: set[str]) -> None:
        """Drop the entries of files that left a folder, so the cache does not grow forever."""
        gone = [key for key in self.entries if key.startswith(prefix) and key not in seen]
        for key in gone:
            del self.entries[key]
        self._dirty = self._dirty or bool(gone)

    def save(self) -> None:
        if not self._dirty:
            return
        from curate.io.atomic import write_text_atomic

        write_text_atomic(self.cache_file, json.dumps(self.entries, separators=(",", ":")))
        self._dirty = False


def _walk(root: str):
    """``(relative path, full path)`` of every non-hidden file under ``root``."""
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    stack.append((entry.path, prefix + entry.name + "/"))
                elif entry.is_file():
                    yield prefix + entry.name, entry.path
