"""How much decoded data a run may hold (``--data-memory``) and the bounded cache of what
streamed rows a process decoded last.

A split whose decoded rows fit what is left of the budget is decoded once and held as one
tensor (the in-memory path); the others stream: their rows are decoded from the manifest
batch by batch, and each process that reads them (the main one and every data worker)
keeps the most recently decoded ones in a :class:`BoundedCache` of its share of what the
in-memory splits left.

Examples
--------
>>> parse_size("2GiB"), parse_size("500 MB"), parse_size(1024), parse_size("1.5k")
(2147483648, 500000000, 1024, 1500)
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Hashable

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


def sizeof(value: Any) -> int:
    """The bytes a decoded sample holds: its arrays and strings, inside dicts, lists and
    dataclasses (an estimate for the cache, not an account of Python's overheads)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        return sum(sizeof(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(sizeof(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(sizeof(getattr(value, name)) for name in value.__dataclass_fields__)
    return 8


class BoundedCache:
    """The most recently used values, up to ``max_bytes`` in all (least recently used out
    first); a value larger than the whole budget is not kept.

    >>> cache = BoundedCache(32)
    >>> cache.put("a", np.zeros(2)); cache.put("b", np.zeros(2)); cache.get("a") is not None
    True
    >>> cache.put("c", np.zeros(1)); cache.get("b") is None, cache.used
    (True, 24)
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.used = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: Hashable, value: Any) -> None:
        size = sizeof(value)
        if size > self.max_bytes or key in self._items:
            return
        while self.used + size > self.max_bytes:
            _, (_, freed) = self._items.popitem(last=False)
            self.used -= freed
        self._items[key] = (value, size)
        self.used += size

    def __len__(self) -> int:
        return len(self._items)
