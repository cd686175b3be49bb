"""How much decoded data a run may hold (``--data-memory``) and the bounded cache of what
streamed rows a process decoded last.

A split whose decoded rows fit what is left of the budget is decoded once and held as one
tensor (the in-memory path); the others stream: their rows are decoded from the manifest
batch by batch, and each process that reads them (the main one and every data worker)
keeps the most recently decoded ones in a :class:`~curate.io.bounded_cache.BoundedCache` of its
share of what the in-memory splits left.

Examples
--------
>>> parse_size("2GiB"), parse_size("500 MB"), parse_size(1024), parse_size("1.5k")
(2147483648, 500000000, 1024, 1500)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from curate.errors import CuraugError

#: What ``--data-memory`` is when not given.
DEFAULT_DATA_MEMORY = "2GiB"
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(value: Any, param: str = "data_memory") -> int:
    """Bytes from an int or a string such as ``2GiB``, ``500MB``, ``1.5G`` (decimal units
    k, M, G, T; binary KiB, MiB, GiB, TiB; case does not matter).

    >>> parse_size("lots")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: data_memory='lots': not a size; give bytes or a number with a unit (2GiB, 500MB)
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    match = _SIZE.match(value) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise CuraugError(f"{param}={value!r}: not a size; give bytes or a number with a unit (2GiB, 500MB)",
                          param=param)
    return int(float(match.group(1)) * _UNITS[unit])
