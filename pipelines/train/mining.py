"""Hard-example mining (``--hard-mining``): what each epoch's batches hold and what loss
they backpropagate.

A miner is a small object the loop calls at three points: :meth:`Miner.plan` (the index
batches of an epoch), :meth:`Miner.loss` (one batch's loss) and :meth:`Miner.end_epoch`
(the rows of ``hard_examples.csv`` for the epoch). Its state goes into the checkpoint.

Only the training split is ever mined. Validation rows must never be trained on, mined or
not: validation selects the epoch (early stopping) and the settings (search), and a model
trained on its hardest rows would be scored on what it was fitted to, so both choices
would look better than they are and the test score would not hold up.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from pipelines.train.batches import balanced_batches, cycle_rows, identity_batches, shuffled_batches
from pipelines.train.config import MINERS, TrainConfig

#: predict(model) -> (probs [n, C], per-sample losses [n]) over the whole training split
Predict = Callable[[torch.nn.Module], tuple[torch.Tensor, torch.Tensor]]


class Miner:
    """No mining: shuffled (or class-balanced) batches, the mean cross-entropy."""

    def __init__(self, config: TrainConfig, train, device: torch.device):
        self.config, self.device = config, device
        self.ids = np.array(list(train.ids), dtype=object)
        self.classes = np.array(train.spec.classes, dtype=object)
        self.targets = np.asarray(train.targets)

    def plan(self, rng: np.random.Generator, epoch: int) -> list[np.ndarray]:
        if self.config.balanced:
            return balanced_batches(rng, self.targets, self.config.batch_size)
        return shuffled_batches(rng, len(self.targets), self.config.batch_size)

    def loss(self, model, xb, yb, idx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss to backpropagate, logits, per-sample cross-entropy)."""
        logits = model(xb)
        losses = F.cross_entropy(logits.float(), yb, reduction="none")
        return losses.mean(), logits, losses

    def end_epoch(self, model, epoch: int, predict: Predict) -> list[dict[str, Any]]:
        return []

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def _rows(self, epoch: int, index: np.ndarray, losses: np.ndarray, **extra: np.ndarray) -> list[dict]:
        """hard_examples.csv rows for dataset rows ``index`` (one per row, highest loss kept)."""
        order = np.argsort(-losses, kind="stable")
        index, losses = index[order], losses[order]
        extra = {k: v[order] for k, v in extra.items()}
        _, first = np.unique(index, return_index=True)
        keep = np.sort(first)
        cols = {"epoch": [epoch] * len(keep), "id": self.ids[index[keep]].tolist(),
                "label": self.classes[self.targets[index[keep]]].tolist(),
                "loss": losses[keep].tolist(), **{k: v[keep].tolist() for k, v in extra.items()}}
        return [dict(zip(cols, values)) for values in zip(*cols.values())]


class OHEM(Miner):
    """Online hard-example mining: each batch backpropagates the mean of its
    ``ceil(ohem_fraction * B)`` highest per-sample losses."""

    def __init__(self, config, train, device):
        super().__init__(config, train, device)
        self._picked: list[tuple[torch.Tensor, torch.Tensor]] = []

    def loss(self, model, xb, yb, idx):
        logits = model(xb)
        losses = F.cross_entropy(logits.float(), yb, reduction="none")
        top = ohem_loss(losses, self.config.ohem_fraction)
        self._picked.append((idx[top.indices], top.values.detach()))
        return top.values.mean(), logits, losses

    def end_epoch(self, model, epoch, predict):
        if not self._picked:
            return []
        index = torch.cat([i for i, _ in self._picked]).cpu().numpy()
        losses = torch.cat([v for _, v in self._picked]).float().cpu().numpy()
        self._picked = []
        return self._rows(epoch, index, losses)


def ohem_loss(losses: torch.Tensor, fraction: float):
    """The top ``ceil(fraction * len(losses))`` losses (``torch.topk`` result)."""
    return torch.topk(losses, max(1, math.ceil(fraction * len(losses))))


class Replay(Miner):
    """After each epoch, one evaluation pass over the training split ranks its rows by
    margin (p_true - max p_other; misclassified rows have negative margins and come
    first); the hardest ``replay_fraction * len(train)`` form the pool, and
    ``replay_fraction`` of every batch of the next epoch is drawn from it (cycling through
    it in shuffled order), the rest fresh as without mining."""

    def __init__(self, config, train, device):
        super().__init__(config, train, device)
        self.pool = np.zeros(0, dtype=np.int64)

    def plan(self, rng, epoch):
        batches = super().plan(rng, epoch)
        if not len(self.pool):
            return batches
        share = [round(self.config.replay_fraction * len(b)) for b in batches]
        drawn = np.split(cycle_rows(rng, self.pool, sum(share)), np.cumsum(share)[:-1])
        return [np.concatenate([d, b[len(d):]]) for d, b in zip(drawn, batches)]

    def end_epoch(self, model, epoch, predict):
        probs, losses = predict(model)
        targets = torch.as_tensor(self.targets, device=probs.device)
        p_true = probs.gather(1, targets[:, None])[:, 0]
        p_other = probs.scatter(1, targets[:, None], -1.0).max(dim=1).values
        margin = (p_true - p_other).float().cpu().numpy()
        keep = max(1, math.ceil(self.config.replay_fraction * len(margin)))
        hardest = np.argsort(margin, kind="stable")[:keep]
        self.pool = hardest.astype(np.int64)
        rows = self._rows(epoch, hardest, losses.float().cpu().numpy()[hardest], margin=margin[hardest])
        return sorted(rows, key=lambda r: r["margin"])

    def state_dict(self):
        return {"pool": torch.from_numpy(self.pool)}

    def load_state_dict(self, state):
        self.pool = state["pool"].numpy()


class Triplet(Miner):
    """Metric learning for identity-like data: seeded P x K batches (``identities_per_batch``
    identities, ``samples_per_identity`` samples each), loss = cross-entropy + the
    batch-hard triplet loss on the L2-normalised ``model.embed(x)``: each anchor's farthest
    positive against its nearest other-identity sample (the "doppelganger").

    Identities come from the dataset's group column when it has one, else the labels. A
    batch with no valid triplet is skipped (no step) with a warning once per epoch, where
    pytorch-metric-learning's miners silently return an empty triplet set.
    """

    def __init__(self, config, train, device):
        super().__init__(config, train, device)
        groups = train.groups if train.groups is not None else self.targets
        names, self.identities = np.unique(np.asarray(groups), return_inverse=True)
        self.identities = self.identities.astype(np.int64)
        single = int((np.bincount(self.identities) < 2).sum())
        if single:
            warnings.warn(f"triplet mining: {single} of {len(names)} identities have a single sample, "
                          "which cannot form a positive pair; they are left out of the batches", stacklevel=3)
        self._identities_dev = torch.as_tensor(self.identities, device=device)
        self._mined: list[tuple[torch.Tensor, ...]] = []

    def plan(self, rng, epoch):
        p, k = self.config.identities_per_batch, self.config.samples_per_identity
        batches = identity_batches(rng, self.identities, len(self.identities), p, k)
        valid = [b for b in batches if len(np.unique(self.identities[b])) >= 2]
        # with no identity of two samples the sampler has nothing to draw: every step is skipped
        total = len(batches) or max(1, len(self.identities) // (p * k))
        skipped = total - len(valid)
        if skipped:
            warnings.warn(f"triplet mining, epoch {epoch}: {skipped} of {total} batches "
                          "had no valid triplet (an anchor needs another sample of its identity and a sample "
                          "of another identity); their steps were skipped", stacklevel=2)
        return valid

    def loss(self, model, xb, yb, idx):
        logits = model(xb)
        losses = F.cross_entropy(logits.float(), yb, reduction="none")
        anchor_loss, negative, valid = batch_hard_triplet(model.embed(xb).float(), self._identities_dev[idx],
                                                          self.config.margin)
        # masked sums, not boolean indexing: indexing would wait for the device every batch
        triplet = (anchor_loss * valid).sum() / valid.sum().clamp_min(1)
        self._mined.append((idx, (anchor_loss * valid).detach(), idx[negative]))
        return losses.mean() + triplet, logits, losses

    def end_epoch(self, model, epoch, predict):
        if not self._mined:
            return []
        index, losses, negative = (torch.cat(parts).cpu().numpy() for parts in zip(*self._mined))
        self._mined = []
        active = losses > 0  # invalid anchors carry a loss of 0
        negative_ids = self.ids[negative[active]]
        return self._rows(epoch, index[active], losses[active].astype(float), negative=negative_ids)


def batch_hard_triplet(embeddings: torch.Tensor, identities: torch.Tensor, margin: float):
    """Batch-hard triplet loss.

    Returns (loss of each anchor, index of each anchor's hardest negative, valid mask); an
    anchor is valid when the batch holds another sample of its identity and a sample of
    another identity; only valid anchors' losses and negatives mean anything.
    """
    z = F.normalize(embeddings, dim=1)
    # unit vectors: |a - b|^2 = 2 - 2 a.b; the clamp keeps sqrt's gradient finite at 0
    dist = (2 - 2 * z @ z.T).clamp_min(1e-12).sqrt()
    same = identities[:, None] == identities[None, :]
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    positive = same & ~eye
    valid = positive.any(dim=1) & (~same).any(dim=1)
    hardest_positive = dist.masked_fill(~positive, -1.0).max(dim=1).values
    hardest_negative, negative = dist.masked_fill(same, math.inf).min(dim=1)
    return F.relu(hardest_positive - hardest_negative + margin), negative, valid


for _name, _miner in (("none", Miner), ("ohem", OHEM), ("replay", Replay), ("triplet", Triplet)):
    MINERS.register(_name, _miner)


def make_miner(config: TrainConfig, train, device: torch.device) -> Miner:
    return MINERS.get(config.hard_mining)(config, train, device)
