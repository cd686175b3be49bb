"""One ``name → implementation`` registry for every pluggable idea in curaug.

Checks, clean steps, normalisers, augmentation plugins and each plugin's own transforms
are all looked up by the name a YAML file or a flag gives. Each kind has one
:class:`Registry`: built-ins register themselves with :meth:`Registry.register` when their
module is imported (``builtins`` names those modules, imported on first lookup), and third
parties add theirs through a Python entry point group, loaded once, on the first lookup
of a name that is not built in. An unknown name raises :class:`CuraugError` with a
"did you mean" hint.

Examples
--------
>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def square(x):
...     return x * x
>>> shapes.get("square")(3)
9
>>> shapes.get("sqare")
Traceback (most recent call last):
...
curate.errors.CuraugError: unknown shape 'sqare' (did you mean 'square'?)
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable, Generic, TypeVar

from curate.errors import CuraugError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to implementations for one kind of thing (``kind`` names it in errors)."""

    def __init__(self, kind: str, *, entry_points: str | None = None, builtins: tuple[str, ...] = ()):
        self.kind = kind
        self.group = entry_points
        self.builtins = builtins
        self._items: dict[str, T] = {}
        self._builtins_loaded = not builtins
        self._entry_points_loaded = entry_points is None

    def register(self, name: str, item: T | None = None) -> Callable[[T], T] | T:
        """Register ``item`` under ``name``; without ``item``, a decorator that does."""
        if item is not None:
            self._items[name] = item
            return item

        def wrap(obj: T) -> T:
            self._items[name] = obj
            return obj

        return wrap

    def _load_builtins(self) -> None:
        if not self._builtins_loaded:
            self._builtins_loaded = True
            for module in self.builtins:
                import_module(module)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                continue
            try:
                self._items[ep.name] = ep.load()
            except Exception as exc:  # a broken third-party entry point must not break the others
                raise CuraugError(f"{self.kind} '{ep.name}' ({ep.value}) failed to load: {exc}") from None

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; unknown names raise with a hint."""
        self._load_builtins()
        if name not in self._items:
            self._load_entry_points()
        if name not in self._items:
            raise CuraugError(f"unknown {self.kind} '{name}'{did_you_mean(name, self.names())}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        if name not in self._items:
            self._load_entry_points()
        return name in self._items

    def names(self) -> list[str]:
        """Every registered name, built-ins in registration order, then entry points."""
        self._load_builtins()
        self._load_entry_points()
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        """``(name, implementation)`` pairs, in the order of :meth:`names`."""
        return [(name, self._items[name]) for name in self.names()]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} registered)"
