"""CUDA out of memory: halve the batch, scale the learning rate, fit again.

"Memory problems? Reduce the batch size": :func:`fit_within_memory` runs a fit and, when
torch raises ``torch.OutOfMemoryError``, frees what it can, halves the batch
(``batch_size``; for triplet mining the identities per P x K batch), scales the learning
rate to the smaller batch, says so and starts the fit again from a fresh model. The rate
follows the linear scaling rule (Goyal et al. 2017, "Accurate, large minibatch SGD"): half
the batch, half the rate, for SGD and AdamW alike, one rule that a reader can check in the
warning. A batch that cannot shrink further (batch norm trains on two samples at least) is
an error that says what else to try.

Out-of-memory almost always strikes in the first steps, where activations first reach
their peak, so starting again costs little; the weights and optimizer state of an
interrupted step are not reused.
"""

from __future__ import annotations

import gc
import warnings
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from curate.errors import CuraugError

if TYPE_CHECKING:
    from pipelines.train.config import TrainConfig

T = TypeVar("T")
#: the smallest batch a model with batch norm trains on
MIN_BATCH = 2


def halved(config: "TrainConfig") -> tuple["TrainConfig", dict[str, Any]]:
    """``config`` with half the batch and the learning rate scaled to it, and a record of
    the change (``setting``, ``batch``, ``lr``: [before, after], ``rule``). ``config``
    must be sized (:func:`pipelines.train.sizing.size_to_data`)."""
    triplet = config.hard_mining == "triplet"
    setting = "identities_per_batch" if triplet else "batch_size"
    before = getattr(config, setting)
    after = before // 2
    if after < MIN_BATCH:
        batch = before * config.samples_per_identity if triplet else before
        raise CuraugError(f"{setting}={before}: CUDA ran out of memory with batches of {batch} samples and the batch "
                          f"cannot be halved again; make the model smaller (width, image size) or train on the CPU",
                          param=setting)
    lr = config.base_lr
    scaled = lr * after / before
    record = {"setting": setting, "batch": [before, after], "lr": [lr, scaled], "rule": "linear"}
    return config.model_copy(update={setting: after, "lr": scaled}), record


def describe(record: dict[str, Any]) -> str:
    """One line saying what was done.

    >>> describe({"setting": "batch_size", "batch": [64, 32], "lr": [0.001, 0.0005], "rule": "linear"})
    'CUDA out of memory: batch_size halved from 64 to 32, learning rate 0.001 -> 0.0005 (linear scaling rule); fitting again from the start'
    """
    (b0, b1), (lr0, lr1) = record["batch"], record["lr"]
    return (f"CUDA out of memory: {record['setting']} halved from {b0} to {b1}, learning rate {lr0:.3g} -> {lr1:.3g} "
            f"({record['rule']} scaling rule); fitting again from the start")


def fit_within_memory(fit_once: Callable[["TrainConfig"], T], config: "TrainConfig", *,
                      notice: Callable[[str], None] | None = None,
                      on_halve: Callable[["TrainConfig", list[dict[str, Any]]], None] | None = None,
                      ) -> tuple[T, "TrainConfig", list[dict[str, Any]]]:
    """``fit_once(config)``, again with half the batch after each CUDA out-of-memory error:
    ``(its result, the config it succeeded with, one record per halving)``. ``notice(line)``
    says what was done (default: a ``RuntimeWarning``); ``on_halve(config, records)`` runs
    before each new try (a run folder records the settings a resumed run must use)."""
    import torch

    records: list[dict[str, Any]] = []
    while True:
        try:
            return fit_once(config), config, records
        except torch.OutOfMemoryError:
            pass  # leaving the handler drops the traceback, and with it the frames holding the fit's tensors
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        config, record = halved(config)
        records.append(record)
        (notice or _warn)(describe(record))
        if on_halve is not None:
            on_halve(config, records)


def _warn(line: str) -> None:
    warnings.warn(line, RuntimeWarning, stacklevel=3)
