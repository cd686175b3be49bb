"""Small stand-ins for the training harness's datasets and models, built in memory, so the
loop and mining tests run in about a second each."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipelines.train.types import DataSpec


class Points:
    """A dataset with the attributes and methods the loop uses (as ManifestDataset has)."""

    def __init__(self, X, y, classes, groups=None, prefix="r"):
        self.X = torch.as_tensor(X, dtype=torch.float32)
        self.targets = np.asarray(y, dtype=np.int64)
        self.ids = [f"{prefix}{i}" for i in range(len(self.targets))]
        self.folds = None
        self.groups = None if groups is None else np.asarray(groups).astype(str)
        self.augmented = np.zeros(len(self.targets), dtype=bool)
        self.sources = [None] * len(self.targets)
        self.spec = DataSpec("tabular", tuple(classes), (self.X.shape[1],))

    def __len__(self):
        return len(self.targets)

    def tensors(self):
        return self.X, torch.from_numpy(self.targets)

    def subset(self, indices):
        indices = np.asarray(indices)
        out = Points(self.X[indices], self.targets[indices], self.spec.classes,
                     None if self.groups is None else self.groups[indices])
        out.ids = [self.ids[i] for i in indices]
        return out


def blobs(n_per_class=(60, 60, 60), seed=0, spread=0.6, prefix="r"):
    """Gaussian blobs in 2-D around the vertices of a triangle, one per class."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 2], [-2, -1], [2, -1]], dtype=float)
    X = np.concatenate([rng.normal(centres[c], spread, size=(n, 2)) for c, n in enumerate(n_per_class)])
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    return Points(X, y, [f"c{c}" for c in range(len(n_per_class))], prefix=prefix)


class TinyNet(nn.Module):
    """An MLP with the Baseline interface: forward, embed and layer_groups."""

    def __init__(self, n_in=2, n_classes=3, width=16, dropout=0.1):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.middle = nn.Sequential(nn.Linear(width, width), nn.ReLU())
        self.head = nn.Linear(width, n_classes)

    def embed(self, x):
        return self.middle(self.body(x))

    def forward(self, x):
        return self.head(self.embed(x))

    def layer_groups(self):
        return [[self.body], [self.middle], [self.head]]


def tiny_net(seed=0, **kwargs) -> TinyNet:
    """A TinyNet initialised from its own seed (the caller's RNG untouched)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TinyNet(**kwargs)


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

