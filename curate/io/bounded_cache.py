"""A cache bounded by the bytes it holds: the most recently used decoded samples.

Training keeps the rows a process decoded last in one (``--data-memory``,
:mod:`pipelines.train.data_memory`), and augmentation the sources and copy_paste donors
it decoded (:class:`augment.plugin.Context`'s ``sources``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

import numpy as np


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
