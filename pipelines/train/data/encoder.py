"""What every modality's encoder shares: the protocol, the registry, parallel decoding.

An encoder turns manifest rows into one fixed-shape array per row. It is fitted on the
training split alone (:meth:`Encoder.fit` also returns the training rows encoded, so media
are decoded once), applied unchanged to every other split (:meth:`Encoder.transform`), and
its :meth:`Encoder.state` is plain JSON from which :meth:`Encoder.from_state` rebuilds the
same transform for new data.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, TypeVar

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
    input_shape: tuple[int, ...]
    vocab_size: int = 0

    @classmethod
    @abstractmethod
    def fit(cls, train: "pd.DataFrame", config: "TrainConfig") -> tuple["Encoder", np.ndarray]:
        """The encoder fitted on ``train`` and ``train`` encoded by it."""

    @abstractmethod
    def transform(self, frame: "pd.DataFrame") -> np.ndarray:
        """``frame``'s rows encoded: ``(len(frame), *input_shape)``."""

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


def channel_stats(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``axes`` in float64; a constant channel gets std 1
    (standardising it then yields zeros instead of NaNs)."""
    mean = x.mean(axis=axes, dtype=np.float64)
    std = x.std(axis=axes, dtype=np.float64)
    return mean, np.where(std > 1e-12, std, 1.0)


def median_int(values: Iterable[float]) -> int:
    return int(round(float(np.median(np.fromiter(values, dtype=np.float64)))))
