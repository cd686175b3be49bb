"""The training loop: early stopping, checkpoints and exact resumes, seeds, batches,
optimizer groups, devices and metrics (small in-memory data, about a second per test)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.errors import CuraugError
from pipelines.train.batches import balanced_batches, shuffled_batches
from pipelines.train.config import TrainConfig
from pipelines.train.device import autocast_context, resolve_device
from pipelines.train.early_stopping import EarlyStopping
from pipelines.train.loop import Callback, evaluate, fit
from pipelines.train.metrics import classification_metrics
from pipelines.train.optim import build_optimizer
from pipelines.train.types import Predictions
from train_loop_standins import Points, blobs, same_weights, tiny_net, weights

CONFIG = dict(epochs=6, batch_size=32, lr=0.01, device="cpu")


def relabelled(points: Points, shift: int = 1) -> Points:
    """The same points with every label moved to the next class: a validation set the
    model gets worse on the better it fits the training set."""
    out = points.subset(np.arange(len(points)))
    out.targets = (out.targets + shift) % len(points.spec.classes)
    return out


class Recorder(Callback):
    """Keeps each epoch's weights and counts its calls (its count is checkpointed)."""

    def __init__(self, stop_after=None):
        self.weights, self.calls, self.stop_after = {}, 0, stop_after

    def on_epoch_end(self, epoch, model, history_row):
        self.weights[epoch] = weights(model)
        self.calls += 1
        if epoch == self.stop_after:
            raise KeyboardInterrupt

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, state):
        self.calls = state["calls"]


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# early stopping ------------------------------------------------------------------------

def test_patience_counts_epochs_without_improvement():
    stop = EarlyStopping("val_loss", patience=3, min_delta=0.0)
    steps = [stop.step(v, e, None) for e, v in enumerate([1.0, 0.9, 0.95, 0.92, 0.91], 1)]
    assert steps == [False, False, False, False, True]
    assert (stop.best_epoch, stop.best) == (2, 0.9)


@pytest.mark.parametrize("monitor, values, best_epoch", [
    # minimised, positive: 0.95 is within 10 % of 1.0, 0.85 is not
    ("val_loss", [1.0, 0.95, 0.85], 3),
    # minimised, negative: best - 10 % of |best| = -1.1; -1.05 is no improvement
    # (skorch's best * (1 - delta) = -0.9 would count it), -1.15 is
    ("val_loss", [-1.0, -1.05, -1.15], 3),
    ("val_loss", [-1.0, -1.05, -1.08], 1),
    # maximised, positive and negative: best + 10 % of |best|
    ("val_accuracy", [0.5, 0.54, 0.56], 3),
    ("val_accuracy", [-2.0, -1.9, -1.7], 3),
    ("val_accuracy", [-2.0, -1.9, -1.85], 1),
])
def test_relative_threshold_is_right_for_either_sign(monitor, values, best_epoch):
    stop = EarlyStopping(monitor, patience=5, min_delta=0.1)
    for epoch, value in enumerate(values, 1):
        stop.step(value, epoch, None)
    assert stop.best_epoch == best_epoch


@settings(max_examples=80, deadline=None)
@given(st.floats(-1e6, 1e6).filter(lambda b: abs(b) > 1e-9), st.floats(0.001, 0.5), st.booleans())
def test_the_threshold_lies_beyond_best_whatever_its_sign(best, delta, maximise):
    stop = EarlyStopping("val_accuracy" if maximise else "val_loss", patience=1, min_delta=delta)
    stop.step(best, 1, None)
    direction = 1 if maximise else -1
    assert not stop.improved(best)
    assert not stop.improved(best + direction * 0.5 * delta * abs(best))
    assert stop.improved(best + direction * 2 * delta * abs(best))
    assert not stop.improved(best - direction * abs(best))  # a worse value never counts


def test_early_stopping_restores_the_best_epochs_weights():
    train = blobs()
    model, recorder = tiny_net(), Recorder()
    result = fit(model, train, relabelled(blobs(seed=1)), TrainConfig(**CONFIG | {"epochs": 20, "patience": 2}),
                 callbacks=[recorder])
    losses = [row["val_loss"] for row in result.history]
    assert result.stopped_epoch == result.best_epoch + 2 < 20
    assert result.best_epoch == 1 + int(np.argmin(losses))
    assert same_weights(weights(model), recorder.weights[result.best_epoch])
    assert not same_weights(weights(model), recorder.weights[result.stopped_epoch])


def test_without_validation_every_epoch_runs_and_the_last_weights_stay():
    model, recorder = tiny_net(), Recorder()
    result = fit(model, blobs(), None, TrainConfig(**CONFIG), callbacks=[recorder])
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4, 5, 6]
    assert result.best_epoch == result.stopped_epoch == 6
    assert all(r["val_loss"] is None for r in result.history)
    assert same_weights(weights(model), recorder.weights[6])


def test_history_rows_and_learning():
    result = fit(tiny_net(), blobs(), blobs(seed=1), TrainConfig(**CONFIG))
    assert list(result.history[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                       "lr", "seconds"]
    assert result.history[-1]["val_accuracy"] > 0.9
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.seconds == pytest.approx(sum(r["seconds"] for r in result.history))


# checkpoints -----------------------------------------------------------------------------

@pytest.mark.parametrize("mining", ["none", "replay"])
def test_a_resumed_run_ends_bit_identical_to_an_uninterrupted_one(tmp_path, mining):
    train, val = blobs(), blobs(seed=1)
    config = TrainConfig(**CONFIG | {"hard_mining": mining, "patience": 10})
    straight = tiny_net()
    expected = fit(straight, train, val, config, rundir=tmp_path / "a", callbacks=[Recorder()])

    interrupted = Recorder(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_net(), train, val, config, rundir=tmp_path / "b", callbacks=[interrupted])
    resumed_model, resumed_cb = tiny_net(seed=7), Recorder()  # other initial weights: the checkpoint wins
    resumed = fit(resumed_model, train, val, config, rundir=tmp_path / "b", callbacks=[resumed_cb])

    assert same_weights(weights(resumed_model), weights(straight))
    assert without_seconds(resumed.history) == without_seconds(expected.history)
    assert resumed.mined == expected.mined
    assert sorted(resumed_cb.weights) == [2, 3, 4, 5, 6]  # epoch 1 came from the checkpoint
    assert resumed_cb.calls == 6


def test_a_finished_run_is_not_trained_again(tmp_path):
    config = TrainConfig(**CONFIG)
    first_model = tiny_net()
    first = fit(first_model, blobs(), blobs(seed=1), config, rundir=tmp_path)
    again_model, recorder = tiny_net(seed=3), Recorder()
    again = fit(again_model, blobs(), blobs(seed=1), config, rundir=tmp_path, callbacks=[recorder])
    assert recorder.calls == 0
    assert same_weights(weights(again_model), weights(first_model))
    assert (again.best_epoch, again.history) == (first.best_epoch, first.history)


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"epochs": 2}), rundir=tmp_path)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(CuraugError, match="holds a checkpoint of other settings; use a new -o folder") as err:
        fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"epochs": 2, "lr": 0.02}), rundir=tmp_path)
    assert err.value.param == "out"
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CuraugError, match="checkpoint.pt: not a curaug checkpoint"):
        fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG), rundir=tmp_path)


# seeds -----------------------------------------------------------------------------------

def test_the_same_seed_gives_identical_weights_and_another_does_not():
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        model = tiny_net()
        fit(model, blobs(), blobs(seed=1), TrainConfig(**CONFIG | {"seed": seed}))
        runs[name] = weights(model)
    assert same_weights(runs["a"], runs["b"])
    assert not same_weights(runs["a"], runs["c"])


def test_the_callers_random_states_are_left_as_they_were():
    torch.manual_seed(11)
    np.random.seed(12)
    random.seed(13)
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    fit(tiny_net(), blobs(), blobs(seed=1), TrainConfig(**CONFIG | {"hard_mining": "replay"}))
    assert torch.equal(torch.get_rng_state(), states[0])
    after = np.random.get_state()
    assert after[0] == states[1][0] and np.array_equal(after[1], states[1][1]) and after[2:] == states[1][2:]
    assert random.getstate() == states[2]


# batches ---------------------------------------------------------------------------------

def test_balanced_batches_have_equal_class_counts_on_an_imbalanced_set():
    targets = np.repeat([0, 1, 2], [150, 40, 10])
    batches = balanced_batches(np.random.default_rng(0), targets, 32)
    assert sum(len(b) for b in batches) == len(targets)
    for batch in batches:
        counts = np.bincount(targets[batch], minlength=3)
        assert counts.max() - counts.min() <= 1, counts
    seen = Counter(np.concatenate(batches).tolist())
    assert len([i for i in seen if targets[i] == 2]) == 10  # the minority rows are all used, repeated
    again = balanced_batches(np.random.default_rng(0), targets, 32)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=2, max_size=6), st.integers(2, 70), st.integers(0, 2**16))
def test_balanced_batches_are_balanced_for_any_class_sizes(sizes, batch_size, seed):
    targets = np.repeat(np.arange(len(sizes)), sizes)
    batches = balanced_batches(np.random.default_rng(seed), targets, batch_size)
    assert len(targets) - 1 <= sum(len(b) for b in batches) <= len(targets)
    for batch in batches:
        counts = np.bincount(targets[batch], minlength=len(sizes))
        assert counts.max() - counts.min() <= 1


def test_shuffled_batches_cover_every_row_once_per_epoch():
    rng = np.random.default_rng(1)
    first, second = shuffled_batches(rng, 100, 32), shuffled_batches(rng, 100, 32)
    assert [len(b) for b in first] == [32, 32, 32, 4]
    assert sorted(np.concatenate(first).tolist()) == list(range(100))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    assert [len(b) for b in shuffled_batches(rng, 65, 32)] == [32, 32]  # no batch of one for batch norm


def test_balanced_fit_learns_the_minority_class():
    train = blobs(n_per_class=(150, 40, 6), spread=1.2)
    test = blobs(n_per_class=(0, 0, 60), seed=2, spread=1.2)
    recall = {}
    for balanced in (False, True):
        model = tiny_net()
        fit(model, train, None, TrainConfig(**CONFIG | {"balanced": balanced, "epochs": 8}))
        recall[balanced] = (evaluate(model, test, device="cpu").preds == 2).mean()
    assert recall[False] < 0.2 and recall[True] > 0.8


# optimizer -------------------------------------------------------------------------------

def test_freeze_leaves_the_first_groups_weights_unchanged():
    model = tiny_net()
    before = weights(model)
    fit(model, blobs(), None, TrainConfig(**CONFIG | {"freeze": 1}))
    after = weights(model)
    for name in ("body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"):
        assert torch.equal(before[name], after[name]), name
    for name in ("middle.0.weight", "head.weight", "head.bias"):
        assert not torch.equal(before[name], after[name]), name


def test_freezing_every_group_is_refused():
    with pytest.raises(CuraugError, match="freeze=3 would freeze every layer group .* at most 2") as err:
        fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"freeze": 3}))
    assert err.value.param == "freeze"


def rates_by_module(optimizer, model):
    owner = {id(p): name.split(".")[0] for name, p in model.named_parameters()}
    rates = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            rates.setdefault(owner[id(p)], set()).add(group["lr"])
    return rates


def test_fine_tuning_uses_discriminative_rates_per_group():
    model = tiny_net()
    optimizer, _ = build_optimizer(model, TrainConfig(lr=0.1, init="pretrained.pt"), 5)
    assert rates_by_module(optimizer, model) == {"body": {0.001}, "middle": {0.01}, "head": {0.1}}
    optimizer, _ = build_optimizer(tiny_net(), TrainConfig(lr=0.1), 5)
    assert {g["lr"] for g in optimizer.param_groups} == {0.1}


def test_no_weight_decay_on_biases_and_norm_weights():
    model = tiny_net()
    optimizer, _ = build_optimizer(model, TrainConfig(weight_decay=0.05, optimizer="sgd"), 5)
    decay = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    names = dict(model.named_parameters())
    assert decay[id(names["body.0.weight"])] == 0.05
    assert decay[id(names["body.0.bias"])] == decay[id(names["body.1.weight"])] == 0.0
    assert all(g["momentum"] == 0.9 and g["nesterov"] for g in optimizer.param_groups)


@pytest.mark.parametrize("schedule, factors", [
    ("step", [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01]),
    ("none", [1] * 8),
])
def test_learning_rate_schedules(schedule, factors):
    result = fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"epochs": 8, "schedule": schedule}))
    assert [r["lr"] for r in result.history] == pytest.approx([0.01 * f for f in factors])


def test_cosine_schedule_goes_from_the_base_rate_to_a_hundredth():
    lrs = [r["lr"] for r in fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"epochs": 5})).history]
    assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.0001)
    assert lrs == sorted(lrs, reverse=True)


# device and evaluation -------------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(CuraugError) as err:
        resolve_device("cuda")
    assert err.value.param == "device"
    assert "no CUDA device is available (torch " in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(CuraugError, match="no CUDA device"):
        fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"device": "cuda"}))


def test_cpu_runs_in_float32_without_a_scaler():
    precision = autocast_context(resolve_device("cpu"), "fp16")
    assert (precision.dtype, precision.scaler) == (torch.float32, None)


def test_evaluate_keeps_the_dataset_order_and_the_models_mode():
    train, val = blobs(), blobs(seed=1)
    model = tiny_net()
    fit(model, train, None, TrainConfig(**CONFIG))
    model.train()
    pred = evaluate(model, val, device="cpu")
    assert model.training
    assert pred.ids == val.ids and np.array_equal(pred.targets, val.targets)
    assert pred.probs.shape == (len(val), 3) and np.allclose(pred.probs.sum(axis=1), 1, atol=1e-5)
    expected = -np.log(pred.probs[np.arange(len(val)), val.targets])
    assert np.allclose(pred.losses, expected, atol=1e-4)
    assert (pred.preds == val.targets).mean() > 0.9


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    targets = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    preds = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 0])
    probs = np.eye(4)[preds] * 0.7 + 0.075  # class 3 ("d") never occurs
    pred = Predictions([str(i) for i in range(10)], targets, probs, np.linspace(0.1, 1.0, 10))
    metrics = classification_metrics(pred, ["a", "b", "c", "d"])
    p, r, f, s = precision_recall_fscore_support(targets, preds, labels=[0, 1, 2, 3], zero_division=0)
    assert metrics["accuracy"] == pytest.approx(0.7)
    assert metrics["loss"] == pytest.approx(0.55)
    assert metrics["labels"] == ["a", "b", "c", "d"]
    assert metrics["confusion"] == confusion_matrix(targets, preds, labels=[0, 1, 2, 3]).tolist()
    assert metrics["confusion"][0] == [3, 1, 0, 0]
    for i, name in enumerate("abcd"):
        assert metrics["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})
    assert metrics["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert metrics["per_class"]["d"]["support"] == 0


def test_a_callback_without_state_methods_is_accepted(tmp_path):
    class Epochs:
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, epoch, model, history_row):
            self.seen.append((epoch, history_row["epoch"]))

    plain = Epochs()
    fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG | {"epochs": 3}), rundir=tmp_path, callbacks=[plain])
    assert plain.seen == [(1, 1), (2, 2), (3, 3)]


def test_zero_epochs_is_refused():
    with pytest.raises(CuraugError, match="epochs=0 must be at least 1") as err:
        fit(tiny_net(), blobs(), None, TrainConfig(**CONFIG), epochs=0)
    assert err.value.param == "epochs"
