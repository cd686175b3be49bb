"""What every modality's encoder shares: the protocol, the registry, parallel decoding.

An encoder turns manifest rows into one fixed-shape array per row. It is fitted on the
training split alone (:meth:`Encoder.fit` also returns the training rows encoded when they
fit the memory it is given, so media are decoded once; otherwise it gathers its statistics
chunk by chunk and keeps none of them), applied unchanged to every other split and to any
slice of rows (:meth:`Encoder.transform`: a row encodes the same alone or among others), and
its :meth:`Encoder.state` is plain JSON from which :meth:`Encoder.from_state` rebuilds the
same transform for new data. :meth:`Encoder.encode_sample` encodes what the modality's
augmentation plugin made of a row (online augmentation).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator, TypeVar

import numpy as np

from curate.errors import CuraugError
from curate.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.config import TrainConfig

T = TypeVar("T")
R = TypeVar("R")


class Encoder(ABC):
    """Manifest rows → an array ``(rows, *input_shape)``, fitted on the training split."""

    modality: ClassVar[str]
    #: the type of an encoded row's values
    dtype: ClassVar[type] = np.float32
    input_shape: tuple[int, ...]
    vocab_size: int = 0

    @classmethod
    @abstractmethod
    def fit(cls, train: "pd.DataFrame", config: "TrainConfig",
            memory: int | None = None) -> tuple["Encoder", np.ndarray | None]:
        """The encoder fitted on ``train``, and ``train`` encoded by it when that takes at
        most ``memory`` bytes (None: any), else None."""

    @abstractmethod
    def transform(self, frame: "pd.DataFrame") -> np.ndarray:
        """``frame``'s rows encoded: ``(len(frame), *input_shape)``."""

    def encode_sample(self, sample: Any) -> np.ndarray:
        """One sample as the modality's augmentation plugin loads and applies it, encoded
        as :meth:`transform` encodes a row: ``input_shape``."""
        raise CuraugError(f"{self.modality} data has no augmentation plugin to augment it with", param="recipe")

    @property
    def row_bytes(self) -> int:
        """The bytes of one encoded row."""
        return int(np.prod(self.input_shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON-able settings and fitted statistics (``modality`` included)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> "Encoder":
        """The encoder :meth:`state` describes."""


ENCODERS: Registry[type[Encoder]] = Registry("modality", builtins=(
    "pipelines.train.data.image", "pipelines.train.data.audio",
    "pipelines.train.data.text", "pipelines.train.data.tabular"))


def encoder_from_state(state: dict[str, Any]) -> Encoder:
    """Rebuild a fitted encoder from :meth:`Encoder.state` (e.g. ``Prepared.encoder``)."""
    return ENCODERS.get(state["modality"]).from_state(state)


def parallel_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` over ``items`` in threads, in order: Pillow, libsndfile and numpy release the
    GIL while decoding, so threads overlap the work without a process pool's start-up."""
    items = list(items)
    workers = min(8, os.cpu_count() or 1, max(1, len(items)))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def media_files(frame: "pd.DataFrame") -> list[str]:
    """Each row's file (absolute roots expected), checked to stay inside its root."""
    from curate.io.manifest import media_file

    if not {"root", "path"} <= set(frame.columns):
        raise CuraugError("media rows need root and path columns (run `curaug ingest` first)", param="data")
    return [str(media_file(r, p)) for r, p in zip(frame["root"].tolist(), frame["path"].tolist())]


#: Rows decoded at a time where a split is read in chunks (fitting statistics, streaming).
CHUNK_ROWS = 256


def chunks(n: int, size: int = CHUNK_ROWS) -> Iterator[slice]:
    """Consecutive slices of ``range(n)``, ``size`` rows each (the last may be shorter).

    >>> [(s.start, s.stop) for s in chunks(5, 2)]
    [(0, 2), (2, 4), (4, 5)]
    """
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


class Moments:
    """Mean and standard deviation over ``axes``, gathered chunk by chunk in float64 (Chan,
    Golub and LeVeque's pairwise update): the statistics of a split too large to hold,
    and the same figures, chunk for chunk, for one that is held whole.

    >>> x = np.random.default_rng(0).normal(3.0, 2.0, size=(10, 2, 4)).astype(np.float32)
    >>> m = Moments((0, 2))
    >>> for part in (x[:3], x[3:]): m.add(part)
    >>> mean, std = m.result()
    >>> np.allclose(mean, x.mean(axis=(0, 2), dtype=np.float64)), np.allclose(std, x.std(axis=(0, 2), dtype=np.float64))
    (True, True)
    """

    def __init__(self, axes: tuple[int, ...]):
        self.axes = axes
        self.count = 0
        self.mean: np.ndarray | float = 0.0
        self.m2: np.ndarray | float = 0.0

    def add(self, x: np.ndarray) -> None:
        n = int(np.prod([x.shape[a] for a in self.axes], dtype=np.int64))
        if n == 0:
            return
        mean = x.mean(axis=self.axes, dtype=np.float64)
        m2 = np.square(x - np.expand_dims(mean, self.axes), dtype=np.float64).sum(axis=self.axes)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + np.square(delta) * (self.count * n / total)
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and (population) standard deviation; a constant channel gets std 1
        (standardising it then yields zeros instead of NaNs)."""
        std = np.sqrt(np.asarray(self.m2) / max(self.count, 1))
        return np.asarray(self.mean, dtype=np.float64), np.where(std > 1e-12, std, 1.0)


def held_stats(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """:class:`Moments` of an array held whole, over the same chunks a streamed fit reads."""
    moments = Moments(axes)
    for part in chunks(len(x)):
        moments.add(x[part])
    return moments.result()


def fits(rows: int, row_bytes: int, memory: int | None) -> bool:
    """Whether ``rows`` encoded rows of ``row_bytes`` each fit in ``memory`` bytes (None: any)."""
    return memory is None or rows * row_bytes <= memory


def median_int(values: Iterable[float]) -> int:
    return int(round(float(np.median(np.fromiter(values, dtype=np.float64)))))
