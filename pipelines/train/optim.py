"""The optimizer and learning-rate schedule of a run: parameter groups, freezing and the
discriminative rates of fine-tuning."""

from __future__ import annotations

import math

import torch
from torch import nn

from curate.errors import CuraugError
from pipelines.train.config import TrainConfig


def layer_parameters(model: nn.Module) -> list[list[nn.Parameter]]:
    """The model's parameters by ``layer_groups()`` (input → head); parameters outside
    every group join the head's group."""
    groups, seen = [], set()
    for modules in model.layer_groups():
        params = [p for m in modules for p in m.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        groups.append(params)
    groups[-1].extend(p for p in model.parameters() if id(p) not in seen)
    return groups


def group_rates(n_groups: int, config: TrainConfig) -> list[float]:
    """Per group learning rates: the base rate everywhere, or when fine-tuning (``init``
    set) the course's discriminative rates: the head at the base rate, the group before it
    1/10 of it, earlier groups 1/100, since early layers hold the most general features.

    >>> group_rates(4, TrainConfig(lr=0.1, init="w.pt"))
    [0.001, 0.001, 0.01, 0.1]
    """
    base = config.base_lr
    if config.init is None:
        return [base] * n_groups
    return [base / 100] * max(0, n_groups - 2) + [base / 10] * min(1, n_groups - 1) + [base]


def build_optimizer(model: nn.Module, config: TrainConfig, epochs: int):
    """(optimizer, scheduler) for ``model``; ``config.freeze`` first groups are frozen.

    Biases and normalisation weights (the one-dimensional parameters) get no weight
    decay: shrinking them toward 0 fights the normalisation rather than regularising.
    """
    from pipelines.train.sizing import WEIGHT_DECAY

    # fit sizes the config first; a direct call with weight_decay=None gets the general default
    weight_decay = WEIGHT_DECAY if config.weight_decay is None else config.weight_decay
    groups = layer_parameters(model)
    if config.freeze >= len(groups):
        raise CuraugError(f"freeze={config.freeze} would freeze every layer group of the model "
                          f"(it has {len(groups)}); use at most {len(groups) - 1}", param="freeze")
    for params in groups[:config.freeze]:
        for p in params:
            p.requires_grad_(False)
    # one optimizer group per (rate, decay): each group costs its own update kernels, which
    # shows on small models; dicts keep insertion order, so the head's rate comes last
    merged: dict[tuple[float, float], list[nn.Parameter]] = {}
    for params, lr in list(zip(groups, group_rates(len(groups), config)))[config.freeze:]:
        for p in params:
            merged.setdefault((lr, weight_decay if p.ndim > 1 else 0.0), []).append(p)
    param_groups = [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in merged.items()]
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(param_groups, lr=config.base_lr, momentum=0.9, nesterov=True)
    else:
        optimizer = torch.optim.AdamW(param_groups, lr=config.base_lr)
    factor = _schedule(config.schedule, epochs)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _schedule(name: str, epochs: int):
    """The learning-rate factor of epoch ``e`` (0-based), stepped once per epoch."""
    if name == "cosine":
        # from 1 at the first epoch to 0.01 at the last: a rate of exactly 0 wastes an epoch
        return lambda e: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(e, epochs - 1) / max(1, epochs - 1)))
    if name == "step":
        milestones = (epochs // 2, (3 * epochs) // 4)
        return lambda e: 0.1 ** sum(e >= m for m in milestones if m > 0)
    return lambda e: 1.0
