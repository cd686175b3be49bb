"""curaug's version, read once from the installed distribution."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def curaug_version() -> str:
    """The installed curaug version, or ``0+unknown`` in a source tree never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("curaug")
    except PackageNotFoundError:
        return "0+unknown"
