"""curaug: curate, split, augment and baseline ML datasets.

The public Python API, loaded lazily so ``import curaug`` stays cheap::

    import curaug
    result = curaug.ingest("sample_data/images")
    figures = curaug.profile(result.manifest)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from curate.version import curaug_version

__version__ = curaug_version()

_API = {
    "ingest": ("curate.io.ingest", "ingest"),
    "IngestResult": ("curate.io.ingest", "IngestResult"),
    "profile": ("curate.profile", "profile"),
    "load_data": ("curate.io.manifest", "load_data"),
    "save_manifest": ("curate.io.manifest", "save_manifest"),
    "CuraugError": ("curate.errors", "CuraugError"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'curaug' has no attribute '{name}'")
