"""``--sanity``: the course's first check before a long run: can the model overfit a
small batch? One that cannot reach 100 % training accuracy on a few dozen examples has a
bug in its labels, its input scaling or its learning rate, and a long run would only
hide it."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from curate.errors import CuraugError

#: the largest batch the check accepts: small enough that any working model memorises it
MAX_SAMPLES = 64


class SanityError(RuntimeError):
    """The model could not overfit the sanity batch: the data or the set-up is broken,
    not the user's command line (the CLI prints the message and exits 1)."""


def sanity_check(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 300,
                 lr: float = 1e-2, seed: int = 0) -> dict[str, Any]:
    """Train a copy of ``model``, dropout disabled, with Adam on the batch ``(x, y)``
    (2 to 64 samples) until it classifies every sample right, for at most ``steps``
    steps. Returns ``{"steps", "accuracy", "loss"}`` (the updates it took to reach 100 %);
    raises :class:`SanityError` when it cannot. The caller's model, its gradients and the
    global RNG are left as they were.
    """
    if not 2 <= len(x) <= MAX_SAMPLES or len(x) != len(y):
        raise CuraugError(f"the sanity batch must hold 2 to {MAX_SAMPLES} samples with one label each "
                          f"(got {len(x)} inputs, {len(y)} labels)", param="x")
    if steps < 1 or not lr > 0:
        raise CuraugError(f"steps={steps} and lr={lr} must be positive", param="steps")
    device = next(model.parameters()).device
    rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices), torch.enable_grad():
        torch.manual_seed(seed)
        probe = _without_dropout(copy.deepcopy(model))
        params = [p for p in probe.parameters() if p.requires_grad]
        if not params:
            raise CuraugError("every parameter of the model is frozen: there is nothing to train", param="freeze")
        for param in params:
            param.grad = None
        optimizer = torch.optim.Adam(params, lr=lr)
        x, y = x.to(device), y.to(device)
        for step in range(steps + 1):  # step k checks the model after k updates
            logits = probe(x)
            loss = nn.functional.cross_entropy(logits, y)
            accuracy = (logits.argmax(dim=1) == y).double().mean().item()
            if not math.isfinite(loss.item()):
                raise SanityError(f"sanity check failed: the loss became {loss.item()} after {step} Adam "
                                  f"steps on {len(x)} samples; check the inputs for NaN or infinite values "
                                  f"and lower the learning rate (lr={lr:g})")
            if accuracy == 1.0:
                return {"steps": step, "accuracy": accuracy, "loss": loss.item()}
            if step < steps:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    raise SanityError(f"sanity check failed: after {steps} Adam steps (lr={lr:g}) the model still "
                      f"misclassifies {round((1 - accuracy) * len(x))} of the {len(x)} samples it "
                      f"trains on (loss {loss.item():.3g}); a model that cannot memorise a small "
                      f"batch will not learn: check that the labels match their inputs, that the "
                      f"inputs are scaled (standardised or in [0, 1]) and the learning rate")


def _without_dropout(model: nn.Module) -> nn.Module:
    """``model`` in train mode (batch norm uses batch statistics) with every dropout off."""
    model.train()
    for module in model.modules():
        if isinstance(module, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                               nn.FeatureAlphaDropout)):
            module.eval()  # dropout in eval mode is the identity
        elif isinstance(module, nn.RNNBase):
            module.dropout = 0.0
    return model
