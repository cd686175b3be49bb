"""How a fit's rows reach the model: :class:`DataFeed`, one path per split.

- **Held**: a split held in memory (``in_memory``) and not augmented moves to the device
  once; a batch is an index lookup there and costs no copy at all.
- **Loaded**: a streamed split, and the training split when it is augmented on the fly,
  is read by a torch ``DataLoader``. Its ``data_workers`` processes decode and augment the
  next batches while the model trains on this one; on CUDA each batch arrives in pinned
  host memory and is copied to the device with ``non_blocking=True``, so the copy
  overlaps the compute. One loader serves every split the fit reads this way, and its
  workers live as long as the fit (``persistent_workers``): a worker decodes its sources
  and builds its plugin once, not once an epoch.

A request names the split, the epoch and the row positions of one batch, so the batches
of an epoch are exactly the loop's plan, in its order, whatever the worker count, and a
worker needs no state from the main process. The loader seeds its workers from a
generator of its own: the run's torch random stream is the same on either path.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

import numpy as np
import torch

#: ``data_workers`` when not given, for a fit that decodes or augments rows per batch.
DEFAULT_WORKERS = 2
EVAL_BATCH = 512


def loaded(dataset: Any, *, augmented: bool) -> bool:
    """Whether ``dataset`` is read by the loader: streamed, or augmented on the fly."""
    return not getattr(dataset, "in_memory", True) or (augmented and getattr(dataset, "augmentation", None) is not None)


def resolve_workers(workers: int | None, needed: bool) -> int:
    """``data_workers``: as given, else :data:`DEFAULT_WORKERS` where rows are decoded or
    augmented per batch and none where every batch is an index lookup."""
    if workers is not None:
        return workers
    return DEFAULT_WORKERS if needed else 0


class _Requests(torch.utils.data.Dataset):
    """What the workers read: ``(split, epoch, positions)`` → ``(positions, X, y)``; the
    rows are augmented for ``epoch`` when the split is the augmented one and ``epoch`` is
    not None."""

    def __init__(self, splits: dict[str, Any], augmented: str | None):
        self.splits, self.augmented = splits, augmented

    def __len__(self) -> int:
        return sum(len(ds) for ds in self.splits.values())

    def __getitem__(self, request: tuple[str, int | None, np.ndarray]) -> tuple[torch.Tensor, ...]:
        name, epoch, idx = request
        dataset = self.splits[name]
        augment = name == self.augmented and epoch is not None
        x, y = dataset.batch(idx, epoch) if augment else dataset.rows(idx)
        return torch.from_numpy(idx), x, y


class _Plan(torch.utils.data.Sampler):
    """The requests of one pass, set by the main process before it iterates the loader."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int | None, np.ndarray]] = []

    def __iter__(self):
        return iter(self.requests)

    def __len__(self) -> int:
        return len(self.requests)


def _per_process(dataset: Any, processes: int) -> Any:
    """``dataset`` with its caches cut to a share of their budget: each of ``processes``
    keeps its own."""
    if not hasattr(dataset, "cache_bytes"):
        return dataset
    out = copy.copy(dataset)
    out.cache_bytes = dataset.cache_bytes // processes
    if getattr(dataset, "augmentation", None) is not None:
        out.augmentation = copy.copy(dataset.augmentation)
        out.augmentation.cache_bytes = dataset.augmentation.cache_bytes // processes
        out.augmentation._local = None
    return out


class DataFeed:
    """The splits of a fit (``{"train": ..., "val": ...}``) as batches on ``device``.

    ``augmented`` names the split whose items are augmented on the fly (the training
    split); every other read, of it too, is of the rows as they are. ``workers``: the
    loader's processes (None: :func:`resolve_workers`).
    """

    def __init__(self, splits: dict[str, Any], device: torch.device, *, augmented: str | None = None,
                 workers: int | None = None, batch_size: int = EVAL_BATCH):
        self.device, self.batch_size, self.augmented = device, batch_size, augmented
        through_loader = {name: loaded(ds, augmented=name == augmented) for name, ds in splits.items()}
        self.workers = resolve_workers(workers, any(through_loader.values()))
        self.lengths = {name: len(ds) for name, ds in splits.items()}
        self.held: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for name, ds in splits.items():
            if not through_loader[name]:
                self.held[name] = tuple(t.to(device) for t in ds.tensors())
        streamed = {name: _per_process(ds, self.workers + 1) for name, ds in splits.items() if through_loader[name]}
        self.splits = streamed
        self._plan = _Plan()
        self._loader = None
        if streamed:
            # no worker_init_fn capping OpenCV's threads: in a worker forked after this
            # process used OpenCV's pool, cv2.setNumThreads(1) never returns
            self._loader = torch.utils.data.DataLoader(
                _Requests(streamed, augmented), batch_size=None, sampler=self._plan, num_workers=self.workers,
                pin_memory=device.type == "cuda", persistent_workers=self.workers > 0,
                generator=torch.Generator())

    def close(self) -> None:
        """End the loader's workers (the fit is over, or was stopped)."""
        self._loader = None  # its iterator, the last reference to the workers, shuts them down

    def _load(self, requests: list[tuple[str, int | None, np.ndarray]]) -> Iterator[tuple[torch.Tensor, ...]]:
        self._plan.requests = requests
        for idx, x, y in self._loader:
            # pinned by the loader on CUDA: only then does a copy not block
            yield tuple(t.to(self.device, non_blocking=t.is_pinned()) for t in (idx, x, y))

    def train_batches(self, name: str, plan: list[np.ndarray], epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """``(positions, X, y)`` on the device for each batch of ``plan``, in order (augmented
        for ``epoch`` when ``name`` is the augmented split)."""
        if name in self.held:
            X, y = self.held[name]
            sizes = [len(b) for b in plan]
            order = torch.from_numpy(np.concatenate(plan)).to(self.device)  # one small copy an epoch
            for idx in order.split(sizes):
                yield idx, X[idx], y[idx]
            return
        yield from self._load([(name, epoch, np.asarray(b, dtype=np.int64)) for b in plan])

    def eval_batches(self, name: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(X, y)`` on the device for every row of ``name``, in order, never augmented."""
        if name in self.held:
            X, y = self.held[name]
            yield from zip(X.split(self.batch_size), y.split(self.batch_size))
            return
        n = self.lengths[name]
        requests = [(name, None, np.arange(start, min(start + self.batch_size, n)))
                    for start in range(0, n, self.batch_size)]
        for _, x, y in self._load(requests):
            yield x, y

    def spaced(self, name: str, rows: int) -> torch.Tensor:
        """At most ``rows`` rows of ``name`` evenly spaced from the first, never augmented,
        on the device: the same rows whichever path holds them."""
        step = -(-self.lengths[name] // rows)
        if name in self.held:
            return self.held[name][0][::step]
        return self.splits[name].rows(np.arange(0, self.lengths[name], step))[0].to(self.device)
