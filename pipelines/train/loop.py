"""Fitting a model: :func:`fit` (epochs, early stopping, checkpoints, mining) and
:func:`evaluate` (a model's predictions on a dataset).

Batches are index arrays drawn from a seeded numpy Generator (the miner's plan); the rows
reach the model through a :class:`~pipelines.train.feed.DataFeed`: a split held in memory
is one tensor moved to the device once (a batch is an index lookup there), a streamed or
augmented one comes through a DataLoader whose workers decode and augment ahead of the
model. The loop reads one figure back from the device per epoch, so on held data it runs
as fast as a hand-written torch loop. With ``config.recipe`` the training split is
augmented on the fly (:mod:`pipelines.train.data.online`), never the validation split.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from curate.errors import CuraugError
from pipelines.train.checkpoint import load_checkpoint, save_checkpoint
from pipelines.train.config import TrainConfig
from pipelines.train.device import Precision, autocast_context, resolve_device
from pipelines.train.early_stopping import EarlyStopping
from pipelines.train.feed import EVAL_BATCH, DataFeed
from pipelines.train.mining import Miner, make_miner
from pipelines.train.optim import build_optimizer
from pipelines.train.types import Predictions
#: an epoch of fewer batches than this leaves batch norm's running statistics (momentum
#: 0.1) mostly those of earlier weights (0.9**k of them after k batches): they are
#: recomputed on the training split before the model is evaluated
FRESH_STATISTICS_BATCHES = 50
#: the training rows those statistics are recomputed on: a mean and variance per channel
#: need no more, and a pass over every row cost 60 % of a training epoch
STATISTICS_ROWS = 512


@dataclass
class FitResult:
    """What a fit did: one history row per epoch, the epoch whose weights the model holds
    now (``best_epoch``), the last epoch run, the mined examples and the time taken."""

    history: list[dict[str, Any]]
    best_epoch: int
    stopped_epoch: int
    mined: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


class Callback:
    """A hook called after every epoch (after validation, before the checkpoint).

    ``state_dict`` must return tensors, numbers, strings and containers of them: it is
    saved in the checkpoint and given back to ``load_state_dict`` when a run resumes. Any
    object with ``on_epoch_end`` is accepted; one without the two state methods is
    resumed with the state it was built with.
    """

    def on_epoch_end(self, epoch: int, model: torch.nn.Module, history_row: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def fit(model: torch.nn.Module, train, val, config: TrainConfig, *, rundir: Optional[Path] = None,
        callbacks: Sequence[Callback] = (), epochs: Optional[int] = None) -> FitResult:
    """Train ``model`` in place on ``train``, selecting the epoch on ``val``.

    With ``val`` the model ends with the weights of its best epoch on ``config.monitor``
    (early stopping after ``config.patience`` epochs without a relative improvement of
    ``config.min_delta``); with ``val=None`` it trains all ``epochs`` (default
    ``config.epochs``) and keeps the last. With ``rundir`` every epoch is checkpointed to
    ``rundir/checkpoint.pt`` and a later call with the same settings resumes from it,
    ending with the same weights as an uninterrupted run.

    Settings left None are sized to ``train`` (:func:`~pipelines.train.sizing.size_to_data`).
    Runs under its own torch RNG seeded with ``config.seed``: two fits of the same model
    with the same seed give identical weights on CPU, and the caller's torch, numpy and
    ``random`` states are as they were.
    """
    from pipelines.train.sizing import size_to_data

    config = size_to_data(config, train.spec, len(train))
    epochs = config.epochs if epochs is None else epochs
    if epochs < 1:
        raise CuraugError(f"epochs={epochs} must be at least 1", param="epochs")
    device = resolve_device(config.device)
    precision = autocast_context(device, config.amp)
    if config.recipe is not None:
        train = train.with_augmentation(config.recipe, seed=config.seed)
    online = getattr(train, "augmentation", None)
    fingerprint = config.fingerprint(epochs, len(train), len(val) if val is not None else None,
                                     *([online.key] if online is not None else []))
    saved = load_checkpoint(rundir, fingerprint)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    benchmark = torch.backends.cudnn.benchmark
    devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    run = None
    try:
        with torch.random.fork_rng(devices=devices):
            # cudnn picks the fastest kernels for fixed shapes; CPU runs stay deterministic
            torch.backends.cudnn.benchmark = device.type == "cuda"
            torch.manual_seed(config.seed)
            run = _Fit(model, train, val, config, device, precision, epochs, rundir, callbacks, fingerprint)
            return run.resume(saved) if saved is not None and saved["done"] else run.run(saved)
    finally:
        if run is not None:
            run.feed.close()
        np.random.set_state(numpy_state)
        random.setstate(python_state)
        torch.backends.cudnn.benchmark = benchmark


class _Fit:
    """The state of one fit: what the checkpoint saves and the epoch loop over it."""

    def __init__(self, model, train, val, config, device, precision: Precision, epochs, rundir, callbacks,
                 fingerprint):
        self.model = model.to(device)
        self.config, self.device, self.precision, self.epochs = config, device, precision, epochs
        self.rundir, self.callbacks, self.fingerprint = rundir, list(callbacks), fingerprint
        self.optimizer, self.scheduler = build_optimizer(self.model, config, epochs)
        self.miner: Miner = make_miner(config, train, device)
        self.stopper = EarlyStopping(config.monitor, config.patience, config.min_delta) if val is not None else None
        self.rng = np.random.default_rng(config.seed)
        self.feed = DataFeed({"train": train, **({"val": val} if val is not None else {})}, device,
                             augmented="train", workers=config.data_workers)
        self.has_val = val is not None
        self.history: list[dict] = []
        self.mined: list[dict] = []
        self.steps = 0  # the optimizer steps of the last epoch

    def state(self, epoch: int, done: bool) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "epoch": epoch, "done": done,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.precision.scaler.state_dict() if self.precision.scaler else None,
                "early_stopping": self.stopper.state_dict() if self.stopper else None,
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
                "miner": self.miner.state_dict(),
                "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else {} for cb in self.callbacks],
                "history": self.history, "mined": self.mined}

    def load(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        if self.precision.scaler and saved["scaler"]:
            self.precision.scaler.load_state_dict(saved["scaler"])
        if self.stopper:
            self.stopper.load_state_dict(saved["early_stopping"])
        self.rng.bit_generator.state = saved["rng"]
        torch.set_rng_state(saved["torch_rng"])
        if self.device.type == "cuda" and saved["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        self.miner.load_state_dict(saved["miner"])
        for cb, state in zip(self.callbacks, saved["callbacks"]):
            if hasattr(cb, "load_state_dict"):
                cb.load_state_dict(state)
        self.history, self.mined = saved["history"], saved["mined"]

    def result(self) -> FitResult:
        last = self.history[-1]["epoch"] if self.history else 0
        best = self.stopper.best_epoch if self.stopper and self.stopper.best_epoch else last
        return FitResult(self.history, best, last, self.mined, sum(r["seconds"] for r in self.history))

    def resume(self, saved: dict[str, Any]) -> FitResult:
        """A finished run: its final weights and record, nothing trained again."""
        self.load(saved)
        return self.result()

    def run(self, saved: Optional[dict[str, Any]]) -> FitResult:
        start = 1
        if saved is not None:
            self.load(saved)
            start = saved["epoch"] + 1
        for epoch in range(start, self.epochs + 1):
            began = time.perf_counter()
            lr = self.optimizer.param_groups[-1]["lr"]
            train_loss, train_accuracy = self.train_epoch(epoch)
            if train_loss is None:
                with warnings.catch_warnings():
                    # the schedule is per epoch and advances even when the miner skipped every
                    # step of this one; torch would warn that the optimizer has not stepped yet
                    warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()`"))
                    self.scheduler.step()
            else:
                self.scheduler.step()
            if 0 < self.steps < FRESH_STATISTICS_BATCHES:
                recompute_batch_norm(self.model, self.feed.spaced("train", STATISTICS_ROWS), precision=self.precision)
            val_loss = val_accuracy = None
            if self.has_val:
                probs, losses, targets = predict_batches(self.model, self.feed.eval_batches("val"),
                                                         precision=self.precision)
                total, right = torch.stack([losses.double().sum(), (probs.argmax(1) == targets).sum().double()]
                                           ).tolist()
                val_loss, val_accuracy = total / len(losses), right / len(losses)
            self.mined += self.miner.end_epoch(self.model, epoch, self.predict_train)
            row = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
                   "val_loss": val_loss, "val_accuracy": val_accuracy, "lr": lr,
                   "seconds": time.perf_counter() - began}
            self.history.append(row)
            stop = self.stopper.step(row[self.config.monitor], epoch, self.model) if self.stopper else False
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, self.model, row)
            done = stop or epoch == self.epochs
            if done and self.stopper:
                self.stopper.restore(self.model)
            if self.rundir is not None:
                save_checkpoint(self.rundir, self.state(epoch, done))
            if done:
                break
        return self.result()

    def predict_train(self, model) -> tuple[torch.Tensor, torch.Tensor]:
        return predict_batches(model, self.feed.eval_batches("train"), precision=self.precision)[:2]

    def train_epoch(self, epoch: int) -> tuple[Optional[float], Optional[float]]:
        batches = self.miner.plan(self.rng, epoch)
        self.steps = len(batches)
        if not batches:  # every batch was unusable (the miner said why): no step this epoch
            return None, None
        self.model.train()
        sizes = [len(b) for b in batches]
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        scaler = self.precision.scaler
        for idx, xb, yb in self.feed.train_batches("train", batches, epoch):
            with self.precision.autocast():
                loss, logits, losses = self.miner.loss(self.model, xb, yb, idx)
            self.optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(self.optimizer)
                scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            loss_sum += losses.detach().sum()
            correct += (logits.detach().argmax(1) == yb).sum()
        total, right = torch.stack([loss_sum, correct.float()]).tolist()  # the epoch's one sync
        return total / sum(sizes), right / sum(sizes)


@torch.no_grad()
def recompute_batch_norm(model: torch.nn.Module, X: torch.Tensor, *, precision: Optional[Precision] = None,
                         rows: int = STATISTICS_ROWS) -> None:
    """Batch norm's running statistics recomputed on at most ``rows`` rows of ``X``, evenly
    spaced, in one batch (PreciseBN: Wu & Johnson, "Rethinking 'Batch' in BatchNorm",
    2021), every other layer in eval mode so that the statistics are those the evaluated
    model sees (no dropout); the model's mode and each layer's momentum are left as they
    were. Draws no random numbers."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or len(X) < 2:
        return
    was_training = model.training
    momenta = [norm.momentum for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: of the one batch below, its statistics
        norm.train()
    autocast = precision.autocast if precision is not None else contextlib.nullcontext
    with autocast():
        rows_x = X[::-(-len(X) // rows)]
        model(rows_x.to(next(model.parameters()).device, non_blocking=rows_x.is_pinned()))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.train(was_training)


@torch.no_grad()
def predict(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, *, precision: Optional[Precision] = None,
            batch_size: int = EVAL_BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """(class probabilities, per-sample cross-entropy) of ``model`` in eval mode; X may sit
    on another device than the model (each batch is copied, without blocking where X is
    pinned)."""
    batches = zip(X.split(batch_size), y.split(batch_size))
    return predict_batches(model, batches, precision=precision)[:2]


@torch.no_grad()
def predict_batches(model: torch.nn.Module, batches, *, precision: Optional[Precision] = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(class probabilities, per-sample cross-entropy, targets) of ``model`` in eval mode
    over ``(X, y)`` batches, on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    autocast = precision.autocast if precision is not None else contextlib.nullcontext
    logits, targets = [], []
    for xb, yb in batches:
        with autocast():
            logits.append(model(xb.to(device, non_blocking=xb.is_pinned())).float())
        targets.append(yb.to(device, non_blocking=yb.is_pinned()))
    model.train(was_training)
    logits, y = torch.cat(logits), torch.cat(targets)
    return logits.softmax(dim=1), F.cross_entropy(logits, y, reduction="none"), y


def evaluate(model: torch.nn.Module, dataset, *, device, batch_size: int = EVAL_BATCH,
             workers: Optional[int] = None) -> Predictions:
    """``model``'s predictions on every row of ``dataset`` (eval mode, no gradients, float32),
    in the dataset's order, never augmented; the model's train/eval mode is left as it was.
    A streamed dataset is read by ``workers`` loader processes (None: the default)."""
    device = torch.device(device)
    model.to(device)
    feed = DataFeed({"eval": dataset}, device, workers=workers, batch_size=batch_size)
    try:
        probs, losses, y = predict_batches(model, feed.eval_batches("eval"))
    finally:
        feed.close()
    return Predictions(list(dataset.ids), y.cpu().numpy().astype(np.int64), probs.cpu().numpy(),
                       losses.cpu().numpy())
