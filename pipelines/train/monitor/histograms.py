"""Per-layer activation and gradient histograms, and dead-ReLU fractions, once per epoch.

:class:`ActivationHistograms` is a loop callback: after an epoch it runs one forward and
backward pass over a fixed probe batch and records, for every activation module and every
Linear/Conv output, a histogram of the values, one of the gradient flowing back into
them, and (for Linear/Conv) one of the weight gradient. Histogram ranges come from the
data: fastai's ``ActivationStats`` bins into a fixed 0-10 range, which hides exactly the
exploding or negative values one is looking for.

A layer whose units mostly never fire on the probe batch is flagged, and the summary's
``advice`` recommends an activation whose units cannot die: LeakyReLU or maxout.

The probe is invisible to training: it runs under :func:`torch.random.fork_rng` (dropout
draws do not advance the run's RNG stream), and the model's gradients, buffers (batch-norm
running statistics) and per-module train/eval modes are put back as they were.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from curate.errors import CuraugError
from curate.io.atomic import atomic_path, write_json_atomic
from pipelines.train.models import Maxout

BINS = 40
#: a layer with more dead units than this share is flagged
DEAD_LIMIT = 0.5
#: what the summary recommends when a layer is flagged
DEAD_ADVICE = ("units that never fire learn nothing: try --activation leaky_relu (a small slope below zero) or "
               "--activation maxout (the maximum of affine pieces), whose units cannot die, or a lower learning rate")

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU,
               nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardtanh, nn.Tanh, nn.Sigmoid, nn.Softplus, Maxout)
#: the dimension that holds a layer's units: features are last for Linear, channels second for Conv
WEIGHTED = {nn.Linear: -1, nn.Conv1d: 1, nn.Conv2d: 1, nn.Conv3d: 1}


def histogram(values: torch.Tensor) -> dict[str, Any]:
    """A 40-bin histogram of a tensor's finite values over their own [min, max], with
    their mean and standard deviation; ``nonfinite`` counts NaN and infinite values (a
    diverging layer shows there rather than breaking the histogram).

    >>> h = histogram(torch.tensor([0.0, 50.0, 200.0]))
    >>> h["edges"][0], h["edges"][-1], sum(h["counts"]), h["nonfinite"]
    (0.0, 200.0, 3, 0)
    """
    flat = values.detach().reshape(-1).double().cpu().numpy()
    finite = flat[np.isfinite(flat)]
    nonfinite = int(flat.size - finite.size)
    if finite.size == 0:
        return {"edges": [], "counts": [], "mean": None, "std": None, "nonfinite": nonfinite}
    lo, hi = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=BINS, range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))
    return {"edges": edges.tolist(), "counts": counts.tolist(), "mean": float(finite.mean()),
            "std": float(finite.std()), "nonfinite": nonfinite}


def dead_fraction(activations: torch.Tensor, unit_dim: int) -> float | None:
    """The share of units (features or channels along ``unit_dim``) that are exactly zero
    for every sample and position of the batch; None for an output without a unit axis."""
    if activations.dim() < 2:
        return None
    units = activations.detach().movedim(unit_dim, -1).reshape(-1, activations.shape[unit_dim])
    return float(1.0 - (units != 0).any(dim=0).double().mean().item())


class _Recorder:
    """Forward hooks on the layers of one probe pass, and what they saw."""

    def __init__(self, model: nn.Module):
        self.layers: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, int] = {}
        # an activation module's units lie along the axis of the Linear/Conv that ran last
        self._unit_dim = 1
        self._handles = []
        for name, module in model.named_modules():
            if isinstance(module, ACTIVATIONS) or type(module) in WEIGHTED:
                self._handles.append(module.register_forward_hook(self._hook(name or type(module).__name__)))

    def _hook(self, name: str):
        def record(module: nn.Module, inputs, output) -> None:
            if not isinstance(output, torch.Tensor):
                return
            calls = self._calls[name] = self._calls.get(name, 0) + 1
            key = name if calls == 1 else f"{name}#{calls}"  # one module applied at several places
            weighted = type(module) in WEIGHTED
            if weighted:
                self._unit_dim = WEIGHTED[type(module)]
            # a clone: an in-place activation after this layer would overwrite its output
            entry = {"type": type(module).__name__, "module": module, "output": output.detach().clone(),
                     "unit_dim": self._unit_dim, "weighted": weighted, "grad": None}
            if output.requires_grad:
                output.register_hook(lambda grad: entry.__setitem__("grad", grad.detach().clone()))
            self.layers[key] = entry
        return record

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


class ActivationHistograms:
    """Record per-layer histograms on a fixed probe batch after every ``every``-th epoch
    (epochs 1, 1 + every, ...) into ``outdir/histograms.json``; :meth:`write_figures`
    draws the first and last of them as ``outdir/epoch_NNN.png``.

    Parameters
    ----------
    probe_x, probe_y : torch.Tensor
        A small fixed batch (inputs and int64 class indices), e.g. 64 training samples.
    outdir : path
        Where the JSON and the PNGs go (created when first written).
    every : int
        Record one epoch in ``every``.
    """

    def __init__(self, probe_x: torch.Tensor, probe_y: torch.Tensor, outdir: str | Path, *, every: int = 1):
        if every < 1:
            raise CuraugError(f"every={every} must be at least 1", param="every")
        if len(probe_x) != len(probe_y) or len(probe_x) < 2:
            raise CuraugError(f"the probe batch needs at least 2 samples and one label per sample "
                              f"(got {len(probe_x)} inputs, {len(probe_y)} labels)", param="probe_x")
        self.probe_x, self.probe_y = probe_x, probe_y
        self.outdir = Path(outdir)
        self.every = every
        self.epochs: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ callback

    def on_epoch_end(self, epoch: int, model: nn.Module, history_row: dict | None = None) -> None:
        """Probe ``model`` if ``epoch`` is one to record; write the JSON."""
        if (epoch - 1) % self.every:
            return
        layers = self.probe(model)
        self.epochs[str(epoch)] = layers
        # compact: 40 edges and 40 counts per histogram, three per layer, every epoch
        write_json_atomic(self.outdir / "histograms.json",
                          {"bins": BINS, "dead_limit": DEAD_LIMIT, "epochs": self.epochs}, indent=None)

    def write_figures(self) -> list[Path]:
        """Draw the first and the last recorded epochs (``epoch_NNN.png``): where the
        layers started and where they ended. Drawing is the costly part (about 0.3 s a
        figure), so it waits for the end of training; every epoch stays in the JSON."""
        if not self.epochs:
            return []
        epochs = sorted({min(self.epochs, key=int), max(self.epochs, key=int)}, key=int)
        paths = [self.outdir / f"epoch_{int(epoch):03d}.png" for epoch in epochs]
        for epoch, path in zip(epochs, paths):
            write_grid(self.epochs[epoch], path, title=f"epoch {epoch}")
        return paths

    def state_dict(self) -> dict[str, Any]:
        # a recorded epoch is never changed afterwards: sharing the records is safe (and a
        # deep copy of every histogram, every epoch, was a tenth of the checkpoint's cost)
        return {"epochs": dict(self.epochs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = copy.deepcopy(dict(state["epochs"]))

    def summary(self) -> dict[str, Any]:
        """The last recorded epoch's dead-unit fraction per activation layer, the layers
        over the limit and, when there are any, what to do about them: ``{"epoch",
        "dead_relu": {layer: fraction}, "flagged": [...], "advice"}`` (``advice`` None when
        no layer is flagged)."""
        if not self.epochs:
            return {"epoch": None, "dead_relu": {}, "flagged": [], "advice": None}
        last = max(self.epochs, key=int)
        layers = self.epochs[last]
        flagged = [name for name, layer in layers.items() if layer["flagged"]]
        return {"epoch": int(last),
                "dead_relu": {name: layer["dead_fraction"] for name, layer in layers.items()
                              if layer["dead_fraction"] is not None},
                "flagged": flagged, "advice": DEAD_ADVICE if flagged else None}

    # ------------------------------------------------------------------ the probe

    def probe(self, model: nn.Module) -> dict[str, dict[str, Any]]:
        """One forward and backward pass on the probe batch in train mode; the histograms
        of every hooked layer. ``model`` is left exactly as it was."""
        device = next(model.parameters()).device
        modes = [(module, module.training) for module in model.modules()]
        buffers = [(buf, buf.detach().clone()) for buf in model.buffers()]
        params = list(model.parameters())
        grads = [param.grad for param in params]
        recorder = _Recorder(model)
        rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] \
            if device.type == "cuda" else []
        try:
            for param in params:
                param.grad = None
            with torch.random.fork_rng(devices=rng_devices), torch.enable_grad():
                model.train()
                logits = model(self.probe_x.to(device))
                loss = nn.functional.cross_entropy(logits, self.probe_y.to(device))
                if loss.requires_grad:
                    loss.backward()
            return {name: _layer_record(entry) for name, entry in recorder.layers.items()}
        finally:
            recorder.remove()
            for param, grad in zip(params, grads):
                param.grad = grad
            with torch.no_grad():
                for buf, saved in buffers:
                    buf.copy_(saved)
            for module, training in modes:
                module.training = training


def _layer_record(entry: dict[str, Any]) -> dict[str, Any]:
    weighted = entry["weighted"]
    dead = None if weighted else dead_fraction(entry["output"], entry["unit_dim"])
    weight = getattr(entry["module"], "weight", None)
    return {
        "type": entry["type"],
        "activations": histogram(entry["output"]),
        "gradients": histogram(entry["grad"]) if entry["grad"] is not None else None,
        "weight_gradients": histogram(weight.grad) if weighted and weight is not None and weight.grad is not None
        else None,
        "dead_fraction": dead,
        "flagged": dead is not None and dead > DEAD_LIMIT,
    }


def write_grid(layers: dict[str, dict[str, Any]], path: Path, *, title: str) -> None:
    """One row per layer: its activation histogram, then the histogram of the gradient
    flowing back into it; flagged layers are titled in red with their dead share."""
    from matplotlib.figure import Figure

    rows = max(len(layers), 1)
    height = 0.8 + 1.25 * rows  # inches: a title band, a row per layer, room for the last ticks
    fig = Figure(figsize=(7.0, height))
    axes = fig.subplots(rows, 2, squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 0.5 / height, bottom=0.3 / height, hspace=0.9, wspace=0.2)
    fig.suptitle(title, fontsize="medium")
    for (name, layer), (act_ax, grad_ax) in zip(layers.items(), axes):
        label = f"{name} ({layer['type']})"
        if layer["dead_fraction"] is not None:
            label += f", dead {layer['dead_fraction']:.0%}"
        color = "tab:red" if layer["flagged"] else "black"
        for ax, hist, what, face in ((act_ax, layer["activations"], "activations", "tab:blue"),
                                     (grad_ax, layer["gradients"], "gradients", "tab:orange")):
            if hist and hist["counts"]:
                ax.stairs(hist["counts"], hist["edges"], fill=True, color=face)
            ax.set_title(f"{label}: {what}", fontsize=7, color=color, loc="left")
            ax.tick_params(labelsize=6)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
