"""Model selection (``--search``) and out-of-fold probabilities (``--folds``) (issue 14).

The search sees the data only through the callables it is given, so these tests hand it
a stand-in dataset (the shape of ``ManifestDataset``), a scikit-learn MLP fitted epoch by
epoch with early stopping (the shape of the loop's ``fit``) and recorders of which rows
every fit trained and validated on.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass

import numpy as np
import optuna
import pytest

from curate.errors import CuraugError
from pipelines.train.config import TrainConfig
from pipelines.train.search import FINE_STEP, SPACE, fine_box, out_of_fold_probs, search
from pipelines.train.data import Prepared
from pipelines.train.types import DataSpec, Predictions

CLASSES = ("cat", "ant", "bee")  # not sorted: the probability columns must be


@dataclass
class TableSet:
    """A stand-in for ManifestDataset: rows of features with ids, targets, folds."""

    ids: list[str]
    X: np.ndarray
    targets: np.ndarray
    folds: np.ndarray | None
    augmented: np.ndarray
    spec: DataSpec

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices) -> "TableSet":
        idx = np.asarray(indices, dtype=int)
        return TableSet([self.ids[i] for i in idx], self.X[idx], self.targets[idx],
                        None if self.folds is None else self.folds[idx], self.augmented[idx], self.spec)

    def tensors(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X, self.targets


def concat(a: TableSet, b: TableSet) -> TableSet:
    folds = None if a.folds is None or b.folds is None else np.concatenate([a.folds, b.folds])
    return TableSet(a.ids + b.ids, np.vstack([a.X, b.X]), np.concatenate([a.targets, b.targets]), folds,
                    np.concatenate([a.augmented, b.augmented]), a.spec)


def prepared(*, folds: int | None = 4, n: int = 180, seed: int = 0) -> Prepared:
    """Three separable blobs; train/val/test 60/20/20 with folds over train + val (-1 for
    test) and, in train, an augmented copy (same fold, ``source`` id + "_aug") of 20 rows."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n, n_features=6, centers=3, cluster_std=3.0, random_state=seed)
    ids = [f"s{i:03d}" for i in range(n)]
    split = np.array(["train"] * int(n * 0.6) + ["val"] * int(n * 0.2) + ["test"] * (n - int(n * 0.8)))
    fold = np.where(split == "test", -1, np.arange(n) % folds) if folds else None
    spec = DataSpec("tabular", CLASSES, (6,))
    whole = TableSet(ids, X.astype(np.float32), y.astype(np.int64), fold, np.zeros(n, bool), spec)
    parts = {name: whole.subset(np.flatnonzero(split == name)) for name in ("train", "val", "test")}
    train = parts["train"]
    copies = train.subset(np.arange(20))
    copies.ids = [i + "_aug" for i in copies.ids]
    copies.X = copies.X + 0.1
    copies.augmented[:] = True
    parts["train"] = concat(train, copies)
    return Prepared(spec, parts, encoder={})


@dataclass
class FitResult:
    best_epoch: int
    history: list[dict]


class Recorder:
    """fit_fn / evaluate_fn for the search: a small MLP trained epoch by epoch, the best
    epoch on val kept; every call's row ids recorded (from several threads)."""

    def __init__(self):
        self.fits: list[dict] = []
        self.evaluated: list[dict] = []
        self.lock = threading.Lock()

    def fit(self, config: TrainConfig, train: TableSet, val: TableSet):
        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier((config.width,), alpha=config.weight_decay, learning_rate_init=config.base_lr,
                              batch_size=32, random_state=config.seed)
        best, best_epoch, best_score, history = None, 0, -1.0, []
        for epoch in range(1, config.epochs + 1):
            model.partial_fit(train.X, train.targets, classes=np.arange(len(CLASSES)))
            score = model.score(val.X, val.targets)
            history.append({"epoch": epoch, "val_accuracy": score, "seconds": 0.1 * epoch})
            if score > best_score:
                best, best_epoch, best_score = copy.deepcopy(model), epoch, score
        return self.record(config, train, val, best, best_epoch, history)

    def record(self, config: TrainConfig, train: TableSet, val: TableSet, best, best_epoch: int, history):
        """Keep what a fit saw; the model remembers its training ids."""
        best.trained_on = frozenset(train.ids)
        with self.lock:
            self.fits.append({"train": list(train.ids), "val": list(val.ids), "config": config,
                              "history": history})
        return best, FitResult(best_epoch, history)

    def evaluate(self, model, dataset: TableSet) -> Predictions:
        probs = model.predict_proba(dataset.X)
        with self.lock:
            self.evaluated.append({"ids": list(dataset.ids), "trained_on": model.trained_on})
        losses = -np.log(probs[np.arange(len(dataset)), dataset.targets] + 1e-12)
        return Predictions(list(dataset.ids), dataset.targets, probs, losses)


def run_search(data: Prepared, *, n_trials: int = 6, workers: int = 1, seed: int = 0, recorder=None,
               on_trial=None) -> dict:
    """The search record."""
    return full_search(data, n_trials=n_trials, workers=workers, seed=seed, recorder=recorder,
                       on_trial=on_trial).record


def full_search(data: Prepared, *, n_trials: int = 6, workers: int = 1, seed: int = 0, recorder=None,
                on_trial=None):
    recorder = recorder or Recorder()
    config = TrainConfig(epochs=4, seed=seed, search_workers=workers)
    return search(data, config, fit_fn=recorder.fit, evaluate_fn=recorder.evaluate, concat=concat,
                  n_trials=n_trials, on_trial=on_trial)


def test_same_seed_same_trials_with_one_and_two_workers():
    data = prepared()
    one, two = run_search(data, workers=1), run_search(data, workers=2)
    assert one == two
    assert len(one["trials"]) == 6 and [t["number"] for t in one["trials"]] == list(range(6))
    assert len({t["params"]["lr"] for t in one["trials"]}) == 6  # six distinct settings
    other = run_search(data, seed=1)
    assert [t["params"] for t in other["trials"]] != [t["params"] for t in one["trials"]]


class TorchRecorder(Recorder):
    """A tiny torch MLP that draws its initial weights, batches and dropout masks from its
    own seeded Generator (never torch's global RNG, which trials in threads would share):
    the contract a fit_fn needs for a search that does not depend on search_workers."""

    def fit(self, config: TrainConfig, train: TableSet, val: TableSet):
        import torch

        g = torch.Generator().manual_seed(config.seed)
        hidden = torch.nn.Linear(6, config.width)
        head = torch.nn.Linear(config.width, len(CLASSES))
        for layer in (hidden, head):
            torch.nn.init.kaiming_uniform_(layer.weight, generator=g)
            torch.nn.init.zeros_(layer.bias)
        model = torch.nn.Sequential(hidden, torch.nn.ReLU(), head)
        opt = torch.optim.AdamW(model.parameters(), lr=config.base_lr, weight_decay=config.weight_decay)
        X, y = torch.from_numpy(train.X), torch.from_numpy(train.targets)
        Xv, yv = torch.from_numpy(val.X), torch.from_numpy(val.targets)
        best, best_epoch, best_score, history = None, 0, -1.0, []
        for epoch in range(1, config.epochs + 1):
            for batch in torch.randperm(len(X), generator=g).split(32):
                h = torch.relu(hidden(X[batch]))
                keep = (torch.rand(h.shape, generator=g) >= config.dropout).float() / (1 - config.dropout)
                loss = torch.nn.functional.cross_entropy(head(h * keep), y[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                score = float((model(Xv).argmax(1) == yv).float().mean())
            history.append({"epoch": epoch, "val_accuracy": score})
            if score > best_score:
                best, best_epoch, best_score = copy.deepcopy(model), epoch, score
        return self.record(config, train, val, best, best_epoch, history)

    def evaluate(self, model, dataset: TableSet) -> Predictions:
        import torch

        with torch.no_grad():
            probs = torch.softmax(model(torch.from_numpy(dataset.X)), 1).numpy()
        with self.lock:
            self.evaluated.append({"ids": list(dataset.ids), "trained_on": model.trained_on})
        return Predictions(list(dataset.ids), dataset.targets, probs, np.zeros(len(dataset)))


def test_torch_trials_in_threads_give_the_same_scores_as_one_at_a_time():
    data = prepared(folds=2)
    one = run_search(data, n_trials=4, workers=1, recorder=TorchRecorder())
    three = run_search(data, n_trials=4, workers=3, recorder=TorchRecorder())
    assert one == three
    assert len({t["cv_mean"] for t in one["trials"]}) > 1  # the settings make a difference


def test_coarse_then_fine_inside_the_box_around_the_best_coarse_trial():
    result = run_search(prepared(), n_trials=7)
    stages = [t["stage"] for t in result["trials"]]
    assert stages == ["coarse"] * 4 + ["fine"] * 3  # ceil(7 / 2) coarse
    coarse = [t for t in result["trials"] if t["stage"] == "coarse"]
    best = max(coarse, key=lambda t: (t["cv_mean"], -t["number"]))
    for trial in result["trials"]:
        for name, (low, high, _) in SPACE.items():
            assert low <= trial["params"][name] <= high
        assert isinstance(trial["params"]["width"], int)
    for trial in result["trials"][4:]:
        p, b = trial["params"], best["params"]
        for name in ("lr", "weight_decay"):
            assert abs(math.log10(p[name]) - math.log10(b[name])) <= FINE_STEP[name] + 1e-9
        assert abs(p["dropout"] - b["dropout"]) <= 0.1 + 1e-9
        assert b["width"] / 2 <= p["width"] <= b["width"] * 2
    box = fine_box({"lr": 0.09, "weight_decay": 2e-6, "dropout": 0.0, "width": 20})
    assert box["lr"][1] == 0.1 and box["weight_decay"][0] == 1e-6  # clipped to the space
    assert box["dropout"][:2] == (0.0, 0.1) and box["width"][:2] == (16, 40)


def test_trial_scores_are_cross_validated_over_the_folds():
    recorder = Recorder()
    data = prepared()
    result = run_search(data, n_trials=3, recorder=recorder)
    assert len(recorder.fits) == 3 * 4  # 4 folds per trial
    for trial in result["trials"]:
        scores = trial["fold_scores"]
        assert len(scores) == 4 and all(0 <= s <= 1 for s in scores)
        assert trial["cv_mean"] == pytest.approx(np.mean(scores))
        assert trial["cv_std"] == pytest.approx(np.std(scores))
        assert trial["mean_best_epoch"] == pytest.approx(np.mean(trial["fold_best_epochs"]))
        assert all(1 <= e <= 4 for e in trial["fold_best_epochs"])
    best = max(result["trials"], key=lambda t: t["cv_mean"])
    assert {k: v for k, v in result["best"].items() if k not in ("history", "runner_up")} == {
        "trial": best["number"], "params": best["params"], "cv_mean": best["cv_mean"], "cv_std": best["cv_std"],
        "interval": best["interval"], "epochs": int(np.median(best["fold_best_epochs"]) + 0.5)}
    assert result["best"]["cv_mean"] > 0.8  # blobs are easy: the scores are real accuracies
    # each trial runs under its own seed, and with its own parameters
    seeds = {fit["config"].seed for fit in recorder.fits}
    assert len(seeds) == 3
    assert {(fit["config"].lr, fit["config"].width) for fit in recorder.fits} == \
        {(t["params"]["lr"], t["params"]["width"]) for t in result["trials"]}


def test_each_trial_has_the_interval_of_its_out_of_fold_accuracy_and_the_lead_its_paired_test():
    """All trials validate on the same rows (train + val, each once): a trial's interval is
    over those rows, and the best one's lead over the next best is tested pairwise on them."""
    from curate.stats.intervals import accuracy_interval
    from curate.stats.paired import mcnemar

    data = prepared()
    searched = full_search(data, n_trials=4)
    result = searched.record
    rows = len(data.splits["train"]) - 20 + len(data.splits["val"])  # augmented copies never validate
    for trial in result["trials"]:
        interval = trial["interval"]
        assert interval["n"] == rows and interval["confidence"] == 0.95
        # the pooled out-of-fold accuracy is the fold mean weighted by fold sizes (4 near-equal folds)
        assert interval["correct"] / rows == pytest.approx(trial["cv_mean"], abs=0.02)
        assert interval["accuracy"][0] <= interval["correct"] / rows <= interval["accuracy"][1]
    best = result["best"]
    chosen = searched.held_out.predictions
    hits = chosen.preds == np.asarray(chosen.targets)
    assert best["interval"] == accuracy_interval(int(hits.sum()), hits.size)  # the chosen trial's own predictions
    runner_up = best["runner_up"]
    others = [t for t in result["trials"] if t["number"] != best["trial"]]
    second = max(others, key=lambda t: (t["cv_mean"], -t["number"]))
    assert runner_up["trial"] == second["number"] and runner_up["cv_mean"] == second["cv_mean"]
    test = runner_up["paired_test"]
    assert test["rows"] == rows and test["test"] == "exact McNemar" and 0 <= test["pvalue"] <= 1
    # the discordant rows are the difference in correct rows, exactly
    assert test["only_a"] - test["only_b"] == best["interval"]["correct"] - second["interval"]["correct"]
    assert mcnemar(hits, hits)["pvalue"] == 1.0
    assert "runner_up" not in run_search(data, n_trials=1)["best"]  # one trial: nothing to compare


def test_the_test_split_never_reaches_fit_or_evaluate_and_folds_do_not_leak():
    data = prepared()
    test_ids = set(data.splits["test"].ids)
    recorder = Recorder()
    run_search(data, n_trials=2, workers=2, recorder=recorder)
    out_of_fold_probs(data, TrainConfig(epochs=2), fit_fn=recorder.fit, evaluate_fn=recorder.evaluate,
                      concat=concat)
    pool = concat(data.splits["train"], data.splits["val"])
    fold_of = dict(zip(pool.ids, pool.folds))
    for fit in recorder.fits:
        assert not test_ids & (set(fit["train"]) | set(fit["val"]))
        assert not set(fit["train"]) & set(fit["val"])
        (k,) = {fold_of[i] for i in fit["val"]}  # one fold validates...
        assert k not in {fold_of[i] for i in fit["train"]}  # ...and never trains
        assert not any(i.endswith("_aug") for i in fit["val"])  # augmented rows only train
    assert any(i.endswith("_aug") for fit in recorder.fits for i in fit["train"])
    for call in recorder.evaluated:
        assert not test_ids & set(call["ids"])


def test_without_folds_trials_are_scored_on_val():
    data = prepared(folds=None)
    recorder = Recorder()
    result = run_search(data, n_trials=2, recorder=recorder)
    assert len(recorder.fits) == 2
    for fit in recorder.fits:
        assert fit["train"] == data.splits["train"].ids and fit["val"] == data.splits["val"].ids
    for trial in result["trials"]:
        assert len(trial["fold_scores"]) == 1 and trial["cv_std"] == 0.0


def test_search_needs_val_or_folds_and_a_trial():
    data = prepared(folds=None)
    del data.splits["val"]
    with pytest.raises(CuraugError, match="--search needs a val split or a fold column") as err:
        run_search(data)
    assert err.value.param == "search"
    with pytest.raises(CuraugError, match="needs at least one trial"):
        run_search(prepared(), n_trials=0)


def test_a_failing_fit_raises_its_own_error_and_optuna_logging_is_restored():
    optuna.logging.set_verbosity(optuna.logging.INFO)
    calls = []

    def broken(config, train, val):
        calls.append(config.seed)
        raise CuraugError("--init model.pt: shapes do not match", param="init")

    try:
        with pytest.raises(CuraugError, match="shapes do not match"):
            search(prepared(), TrainConfig(search_workers=2), fit_fn=broken, evaluate_fn=None, concat=concat,
                   n_trials=6)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
        assert len(calls) < 6  # the study stopped at the first failure
        run_search(prepared(), n_trials=1)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_out_of_fold_probabilities_come_from_models_that_never_saw_the_row():
    data = prepared()
    recorder = Recorder()
    oof = out_of_fold_probs(data, TrainConfig(epochs=4, lr=0.01), fit_fn=recorder.fit, evaluate_fn=recorder.evaluate,
                            concat=concat)
    assert list(oof.columns) == ["id", "label", "fold", "prob_ant", "prob_bee", "prob_cat"]
    pool = concat(data.splits["train"], data.splits["val"])
    assert oof["id"].tolist() == pool.ids  # every train/val row, augmented ones too, once, in order
    assert oof["fold"].tolist() == pool.folds.tolist()
    assert oof["label"].tolist() == [CLASSES[t] for t in pool.targets]
    probs = oof[["prob_ant", "prob_bee", "prob_cat"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    predicted = np.array(["ant", "bee", "cat"])[probs.argmax(axis=1)]
    assert (predicted == oof["label"]).mean() > 0.8  # the columns carry the right classes
    assert len(recorder.fits) == 4
    for call in recorder.evaluated:
        assert not set(call["ids"]) & call["trained_on"]
    assert sorted(i for call in recorder.evaluated for i in call["ids"]) == sorted(pool.ids)


def test_out_of_fold_probs_need_a_fold_column():
    recorder = Recorder()
    with pytest.raises(CuraugError) as err:
        out_of_fold_probs(prepared(folds=None), TrainConfig(), fit_fn=recorder.fit,
                          evaluate_fn=recorder.evaluate, concat=concat)
    assert str(err.value) == "--folds needs a fold column: split with `curaug split --folds K`"
    assert err.value.param == "folds" and recorder.fits == []
    one_fold = prepared(folds=1)
    with pytest.raises(CuraugError, match="--folds needs at least two folds in the fold column"):
        out_of_fold_probs(one_fold, TrainConfig(), fit_fn=recorder.fit, evaluate_fn=recorder.evaluate,
                          concat=concat)
    # a single fold is no cross-validation: the search scores on val instead
    result = run_search(one_fold, n_trials=1, recorder=recorder)
    assert len(result["trials"][0]["fold_scores"]) == 1
    assert recorder.fits[-1]["val"] == one_fold.splits["val"].ids


def test_each_trial_reports_its_score_and_the_best_so_far():
    """Issue 22 item 11: ``--search`` printed nothing for ~40 s; a progress callback now
    hears of every trial (done, total, its score, the best so far), from any thread."""
    calls = []
    result = run_search(prepared(), n_trials=5, workers=2, on_trial=lambda *args: calls.append(args))
    assert [(done, total) for done, total, _, _ in calls] == [(i, 5) for i in range(1, 6)]
    assert sorted(score for _, _, score, _ in calls) == sorted(t["cv_mean"] for t in result["trials"])
    running = np.maximum.accumulate([score for _, _, score, _ in calls])
    assert [best for *_, best in calls] == running.tolist()
    assert calls[-1][3] == result["best"]["cv_mean"]


def test_the_chosen_trial_keeps_its_curves_and_out_of_fold_predictions():
    """Issue 22 item 11: after a search the final model is retrained on train+val, so the
    run's curves and val errors come from the chosen trial's fold fits, each row predicted
    by the fit that did not train on it."""
    data = prepared()
    recorder = Recorder()
    result = full_search(data, n_trials=3, recorder=recorder)
    best = result.record["best"]
    held = result.held_out
    pool = concat(data.splits["train"], data.splits["val"])
    originals = [i for i in pool.ids if not i.endswith("_aug")]
    assert held.fits == 4 and held.dataset.ids == originals == held.predictions.ids
    assert held.predictions.targets.tolist() == held.dataset.targets.tolist()
    chosen = [fit for fit in recorder.fits if fit["config"].lr == best["params"]["lr"]]
    assert len(chosen) == 4
    assert sorted(i for fit in chosen for i in fit["val"]) == sorted(originals)  # each row held out once
    # pooled, the held-out predictions score what the folds scored
    accuracy = float(np.mean(held.predictions.preds == held.predictions.targets))
    assert accuracy == pytest.approx(np.average(best_scores(result), weights=[len(f["val"]) for f in chosen]))
    # the curves: per epoch the mean over the four folds, without the seconds of any run
    assert [row["epoch"] for row in best["history"]] == [1, 2, 3, 4]
    assert all(row["fits"] == 4 and "seconds" not in row for row in best["history"])
    for epoch, row in enumerate(best["history"], start=1):
        assert row["val_accuracy"] == pytest.approx(np.mean([f["history"][epoch - 1]["val_accuracy"] for f in chosen]))


def best_scores(result) -> list[float]:
    return next(t["fold_scores"] for t in result.record["trials"] if t["number"] == result.record["best"]["trial"])


def test_tpe_and_random_samplers_score_on_the_same_folds_and_never_see_test():
    data = prepared(folds=3)
    test_ids = set(data.splits["test"].ids)
    records, folds_seen = {}, {}
    for sampler in ("random", "tpe"):
        recorder = Recorder()
        config = TrainConfig(epochs=3, seed=0, search_sampler=sampler)
        records[sampler] = search(data, config, fit_fn=recorder.fit, evaluate_fn=recorder.evaluate, concat=concat,
                                  n_trials=8).record
        assert all(not (set(f["train"]) | set(f["val"])) & test_ids for f in recorder.fits)
        assert all(not set(e["ids"]) & test_ids for e in recorder.evaluated)
        folds_seen[sampler] = sorted({(tuple(sorted(f["train"])), tuple(sorted(f["val"]))) for f in recorder.fits})
    assert len(folds_seen["random"]) == 3 and folds_seen["random"] == folds_seen["tpe"]
    random, tpe = records["random"], records["tpe"]
    assert (random["sampler"], tpe["sampler"]) == ("random", "tpe")
    assert random["scored_on"] == tpe["scored_on"] == "folds"
    assert [t["stage"] for t in tpe["trials"]] == ["coarse"] * 4 + ["tpe"] * 4
    assert [t["stage"] for t in random["trials"]] == ["coarse"] * 4 + ["fine"] * 4
    # the same coarse half; then TPE proposes over the whole space, not the box around the best
    assert [t["params"] for t in tpe["trials"][:4]] == [t["params"] for t in random["trials"][:4]]
    assert [t["params"] for t in tpe["trials"][4:]] != [t["params"] for t in random["trials"][4:]]


def test_tpe_trials_do_not_depend_on_the_number_of_workers():
    data = prepared(folds=2)
    runs = [search(data, TrainConfig(epochs=2, seed=3, search_sampler="tpe", search_workers=w),
                   fit_fn=Recorder().fit, evaluate_fn=Recorder().evaluate, concat=concat, n_trials=7).record
            for w in (1, 3)]
    assert runs[0] == runs[1]


def test_a_domain_split_scores_trials_on_val_the_target_and_leaves_train_val_and_test_alone():
    data = prepared(folds=3)
    source = data.splits["train"]
    every_fourth = np.arange(len(source)) % 4 == 0
    held = source.subset(np.flatnonzero(every_fourth & ~source.augmented))  # the source's held-out rows
    train = source.subset(np.flatnonzero(~every_fourth | source.augmented))
    data.splits["train"], data.splits["train_val"] = train, held
    test_ids, held_ids = set(data.splits["test"].ids), set(held.ids)
    recorder = Recorder()
    record = search(data, TrainConfig(epochs=2, seed=0, search_sampler="tpe"), fit_fn=recorder.fit,
                    evaluate_fn=recorder.evaluate, concat=concat, n_trials=6).record
    assert record["scored_on"] == "val"
    assert {tuple(f["val"]) for f in recorder.fits} == {tuple(data.splits["val"].ids)}
    assert all(not (set(f["train"]) | set(f["val"])) & (test_ids | held_ids) for f in recorder.fits)
    assert all(set(f["train"]) == set(train.ids) for f in recorder.fits)  # val never trains
