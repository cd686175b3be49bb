"""Early stopping on a validation figure, keeping the best weights to restore at the end."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch


class EarlyStopping:
    """Stop when ``monitor`` has not improved by a relative ``min_delta`` for ``patience``
    epochs; :meth:`restore` puts the best epoch's weights back into the model.

    An improvement of a minimised value is ``value < best - min_delta * abs(best)`` (of a
    maximised one, ``value > best + min_delta * abs(best)``): the threshold always lies on
    the far side of ``best``, whatever its sign. skorch's ``best * (1 - min_delta)`` moves
    the threshold the wrong way for negative scores, and Lightning's absolute ``min_delta``
    means nothing across scales; neither restores the best weights by default.

    Examples
    --------
    >>> stop = EarlyStopping("val_loss", patience=2, min_delta=0.1)
    >>> [stop.step(v, epoch, None) for epoch, v in enumerate([-1.0, -1.05, -1.2, -1.25, -1.3], 1)]
    [False, False, False, False, True]
    >>> stop.best_epoch, stop.best
    (3, -1.2)
    """

    def __init__(self, monitor: str, patience: int, min_delta: float):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.maximise = monitor.endswith("accuracy")
        self.best: float = -math.inf if self.maximise else math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_weights: Optional[dict[str, torch.Tensor]] = None

    def improved(self, value: float) -> bool:
        if math.isinf(self.best):
            return not math.isnan(value)
        margin = self.min_delta * abs(self.best)
        return value > self.best + margin if self.maximise else value < self.best - margin

    def step(self, value: float, epoch: int, model: Optional[torch.nn.Module]) -> bool:
        """Record one epoch's ``value``; True when training should stop now."""
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if model is not None:
                self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        if self.best_weights is not None:
            model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights = state["best_weights"]
