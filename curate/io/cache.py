"""curaug's cache folder (ingest probes, audio fingerprints): ``$CURAUG_CACHE_DIR``,
else ``$XDG_CACHE_HOME/curaug``, else ``~/.cache/curaug``. A cache only saves time:
losing it changes no result."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("CURAUG_CACHE_DIR"):
        return Path(os.environ["CURAUG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "curaug"
