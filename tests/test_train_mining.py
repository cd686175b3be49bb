"""Hard-example mining: OHEM's top-k, replay's pool and batches, triplet P x K batches and
the batch-hard loss (small in-memory data, about a second per test)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipelines.train.batches import identity_batches
from pipelines.train.config import TrainConfig
from pipelines.train.loop import evaluate, fit, predict
from pipelines.train.mining import OHEM, Replay, Triplet, batch_hard_triplet, ohem_loss
from train_loop_standins import Points, blobs, same_weights, tiny_net, weights

CONFIG = dict(epochs=4, batch_size=32, lr=0.01, device="cpu")
CPU = torch.device("cpu")


# OHEM ------------------------------------------------------------------------------------

def test_ohem_backpropagates_exactly_the_top_k_losses():
    losses = torch.tensor([0.1, 2.0, 0.5, 3.0, 0.2, 1.0, 0.05], requires_grad=True)
    top = ohem_loss(losses, 0.4)  # ceil(0.4 * 7) = 3
    top.values.mean().backward()
    assert sorted(top.indices.tolist()) == [1, 3, 5]
    assert losses.grad.tolist() == pytest.approx([0, 1 / 3, 0, 1 / 3, 0, 1 / 3, 0])


def test_ohem_step_gradient_is_that_of_the_hardest_samples_only():
    train = blobs()
    config = TrainConfig(**CONFIG | {"hard_mining": "ohem", "ohem_fraction": 0.25})
    miner = OHEM(config, train, CPU)
    X, y = train.tensors()
    idx = torch.arange(40)
    model = tiny_net(dropout=0.0).eval()  # eval: the two passes below see the same network
    loss, _, losses = miner.loss(model, X[idx], y[idx], idx)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    hardest = losses.detach().argsort(descending=True)[:10]
    reference = F.cross_entropy(model(X[hardest]), y[hardest])
    for got, want in zip(grads, torch.autograd.grad(reference, list(model.parameters()))):
        assert torch.allclose(got, want, atol=1e-6)
    rows = miner.end_epoch(model, 1, None)
    assert sorted(r["id"] for r in rows) == sorted(train.ids[i] for i in hardest.tolist())
    assert [r["loss"] for r in rows] == sorted((r["loss"] for r in rows), reverse=True)


# replay ----------------------------------------------------------------------------------

def test_replay_pool_holds_the_smallest_margins_of_the_training_split():
    train = blobs(spread=1.3)
    model = tiny_net()
    fit(model, train, None, TrainConfig(**CONFIG | {"epochs": 2}))
    config = TrainConfig(**CONFIG | {"hard_mining": "replay", "replay_fraction": 0.1})
    miner = Replay(config, train, CPU)
    rows = miner.end_epoch(model, 3, lambda m: predict(m, *train.tensors()))

    pred = evaluate(model, train, device="cpu")
    p_true = pred.probs[np.arange(len(train)), train.targets]
    others = pred.probs.copy()
    others[np.arange(len(train)), train.targets] = -1
    margin = p_true - others.max(axis=1)
    assert len(rows) == len(miner.pool) == math.ceil(0.1 * len(train))
    assert sorted(miner.pool.tolist()) == sorted(np.argsort(margin, kind="stable")[:18].tolist())
    assert [r["margin"] for r in rows] == pytest.approx(np.sort(margin)[:18], abs=1e-5)
    assert all(r["epoch"] == 3 for r in rows)
    misclassified = (pred.preds != train.targets).sum()
    assert 0 < misclassified and all(r["margin"] < 0 for r in rows[:min(misclassified, 18)])


def test_replay_mixes_the_pool_into_the_next_epochs_batches_in_the_asked_share():
    train = blobs()
    config = TrainConfig(**CONFIG | {"hard_mining": "replay", "replay_fraction": 0.25})
    miner = Replay(config, train, CPU)
    rng = np.random.default_rng(0)
    plain = miner.plan(rng, 1)
    assert sorted(np.concatenate(plain).tolist()) == list(range(len(train)))  # no pool yet: plain shuffle
    miner.pool = np.arange(0, 180, 10)  # 18 mined rows
    batches = miner.plan(rng, 2)
    assert sum(len(b) for b in batches) == len(train)
    for batch in batches:
        share = round(0.25 * len(batch))
        assert set(batch[:share].tolist()) <= set(miner.pool.tolist())
    drawn = np.concatenate([b[:round(0.25 * len(b))] for b in batches])
    assert len(drawn) == pytest.approx(0.25 * len(train), abs=len(batches))
    assert set(drawn.tolist()) == set(miner.pool.tolist())  # the pool is cycled through, not resampled


def test_replay_fit_mines_only_the_training_split():
    train, val = blobs(spread=1.0), blobs(seed=1, spread=1.0, prefix="v")
    config = TrainConfig(**CONFIG | {"hard_mining": "replay", "replay_fraction": 0.2, "patience": 10})
    result = fit(tiny_net(), train, val, config)
    assert len(result.mined) == 4 * math.ceil(0.2 * len(train))
    assert {r["epoch"] for r in result.mined} == {1, 2, 3, 4}
    assert {r["id"] for r in result.mined} <= set(train.ids)
    assert not any(r["id"].startswith("v") for r in result.mined)
    assert set(result.mined[0]) == {"epoch", "id", "label", "loss", "margin"}
    assert {r["label"] for r in result.mined} <= set(train.spec.classes)


# triplet ---------------------------------------------------------------------------------

def test_identity_batches_are_p_by_k_and_seeded():
    identities = np.repeat(np.arange(10), [5, 5, 4, 4, 3, 3, 2, 2, 6, 6])
    batches = identity_batches(np.random.default_rng(3), identities, len(identities), 4, 3)
    assert len(batches) == len(identities) // 12
    for batch in batches:
        ids, counts = np.unique(identities[batch], return_counts=True)
        assert len(batch) == 12 and len(ids) == 4 and counts.tolist() == [3, 3, 3, 3]
    same = identity_batches(np.random.default_rng(3), identities, len(identities), 4, 3)
    other = identity_batches(np.random.default_rng(4), identities, len(identities), 4, 3)
    assert all(np.array_equal(a, b) for a, b in zip(batches, same))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))


def test_single_sample_identities_are_left_out_with_a_warning():
    train = blobs()
    train.groups = np.array([f"g{i // 4}" for i in range(176)] + ["solo1", "solo2", "solo3", "solo4"])
    config = TrainConfig(**CONFIG | {"hard_mining": "triplet"})
    with pytest.warns(UserWarning, match="4 of 48 identities have a single sample"):
        miner = Triplet(config, train, CPU)
    drawn = np.concatenate(miner.plan(np.random.default_rng(0), 1))
    assert not set(drawn.tolist()) & {176, 177, 178, 179}


def test_batch_hard_triplet_agrees_with_pytorch_metric_learning():
    from pytorch_metric_learning import losses, miners, reducers

    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(12, 5, generator=generator)
    identities = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    ours, negative, valid = batch_hard_triplet(embeddings, identities, 0.2)
    triplets = miners.BatchHardMiner()(F.normalize(embeddings), identities)
    theirs = losses.TripletMarginLoss(margin=0.2, reducer=reducers.DoNothingReducer())(
        embeddings, identities, triplets)["loss"]["losses"]
    assert valid.all()
    assert torch.equal(negative, triplets[2])
    assert torch.allclose(ours, theirs, atol=1e-5)
    # the negative is the nearest sample of another identity: the "doppelganger"
    z = F.normalize(embeddings)
    dist = torch.cdist(z, z) + torch.where(identities[:, None] == identities[None, :], 9.0, 0.0)
    assert torch.equal(negative, dist.argmin(dim=1))


def test_a_batch_without_positive_pairs_has_no_valid_anchor():
    from pytorch_metric_learning import miners

    embeddings, identities = torch.randn(4, 3), torch.tensor([0, 1, 2, 3])
    _, _, valid = batch_hard_triplet(embeddings, identities, 0.2)
    assert not valid.any()
    assert len(miners.BatchHardMiner()(embeddings, identities)[0]) == 0  # theirs: an empty set, silently


def test_batches_without_a_valid_triplet_are_skipped_with_a_warning():
    train = blobs()
    train.groups = np.array(["same"] * len(train))  # one identity: no negative anywhere
    model = tiny_net()
    before = weights(model)
    config = TrainConfig(**CONFIG | {"hard_mining": "triplet", "epochs": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(model, train, None, config)
    messages = [str(w.message) for w in caught]
    # one identity: batches of 1 x 4 samples, 180 // 4 of them per epoch
    assert messages == [f"triplet mining, epoch {e}: 45 of 45 batches had no valid triplet (an anchor needs "
                        "another sample of its identity and a sample of another identity); their steps "
                        "were skipped" for e in (1, 2)]
    assert same_weights(weights(model), before)
    assert [r["train_loss"] for r in result.history] == [None, None]


def test_triplet_fit_learns_and_records_doppelgangers():
    train, val = blobs(), blobs(seed=1, prefix="v")
    config = TrainConfig(**CONFIG | {"hard_mining": "triplet", "identities_per_batch": 3, "margin": 0.5})
    model = tiny_net()
    result = fit(model, train, val, config)
    assert result.history[-1]["val_accuracy"] > 0.9
    assert result.mined and set(result.mined[0]) == {"epoch", "id", "label", "loss", "negative"}
    label = dict(zip(train.ids, (train.spec.classes[t] for t in train.targets)))
    assert all(label[r["negative"]] != r["label"] for r in result.mined)
    assert all(r["loss"] > 0 for r in result.mined)


def test_identities_come_from_the_group_column_when_there_is_one():
    train = blobs()
    groups = np.arange(len(train)) // 6  # 30 identities of 6, across classes
    train.groups = groups.astype(str)
    miner = Triplet(TrainConfig(**CONFIG | {"hard_mining": "triplet"}), train, CPU)
    batch = miner.plan(np.random.default_rng(0), 1)[0]
    assert len(np.unique(groups[batch])) == 8 and len(batch) == 32


def _penguin_rows():
    import curaug
    from pipelines.train.data import ManifestDataset
    from conftest import SAMPLE

    manifest = curaug.ingest(str(SAMPLE / "penguins.csv"), use_cache=False).manifest
    manifest = manifest.dropna(subset=["bill_length_mm"]).assign(group=lambda d: d["individual_id"])
    split = curaug.split(manifest, label="species", folds=3, seed=0)
    return ManifestDataset.from_manifest(split, label="species", split="train")


@pytest.mark.parametrize("make", [_penguin_rows, lambda: blobs(n_per_class=(5, 4, 6))],
                         ids=["ManifestDataset", "Points"])
def test_points_stand_in_matches_the_dataset_interface(make):
    """What the loop and the miners read of a dataset (ids, targets, folds, groups,
    augmented, sources, spec, tensors, subset), held to the same assertions on the real
    ManifestDataset and on the stand-in the other tests use, so the two cannot drift."""
    data = make()
    n = len(data)
    assert n > 6 and isinstance(data.ids, list) and all(isinstance(i, str) for i in data.ids)
    assert len(set(data.ids)) == n and len(data.sources) == n
    assert data.targets.dtype == np.int64 and data.targets.shape == (n,)
    assert set(np.unique(data.targets)) <= set(range(len(data.spec.classes)))
    assert data.augmented.dtype == bool and data.augmented.shape == (n,)
    assert data.folds is None or data.folds.shape == (n,)
    assert data.groups is None or (data.groups.shape == (n,) and all(isinstance(g, str) for g in data.groups))
    X, y = data.tensors()
    assert X.dtype == torch.float32 and X.shape == (n, *data.spec.input_shape)
    assert y.dtype == torch.int64 and torch.equal(y, torch.from_numpy(data.targets))
    part = data.subset([5, 0, 2])
    assert len(part) == 3 and part.ids == [data.ids[5], data.ids[0], data.ids[2]]
    assert part.targets.tolist() == data.targets[[5, 0, 2]].tolist() and part.spec == data.spec
    assert torch.equal(part.tensors()[0], X[[5, 0, 2]])
    assert part.groups is None or part.groups.tolist() == data.groups[[5, 0, 2]].tolist()
