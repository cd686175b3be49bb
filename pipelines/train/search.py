"""Model selection (``--search N``) and out-of-fold probabilities (``--folds``).

:func:`search` is an Optuna study over a declared space (learning rate, weight decay,
dropout, width): the first half of the trials draw at random over the whole space
(*coarse*); with ``search_sampler="random"`` the rest draw at random inside a box around
the best coarse trial (*fine*), with ``"tpe"`` Optuna's Tree-structured Parzen Estimator
(Bergstra et al. 2011; multivariate) proposes them over the whole space from every trial
before, in rounds of :data:`TPE_ROUND` (a running trial counts as a poor one, Optuna's
*constant liar*, so a round's trials differ). Either way each trial is scored by K-fold
cross-validation over the manifest's ``fold`` column (fold k validates, the other folds
train), or on ``val`` when there are no folds, and on ``val`` for a domain split (its val
is the target domain, what the model is for; its folds cover the source rows). The test
split is never read. :func:`out_of_fold_probs` predicts every fold from a model trained on
the other folds, the probabilities the ``label_issues`` check reads (``label_issues:
{probs: PATH}``).

Neither function fits anything itself: the caller passes ``fit_fn(config, train, val) ->
(model, FitResult)``, ``evaluate_fn(model, dataset) -> Predictions`` and ``concat(a, b)``
(train + val rows as one dataset), so this module stays independent of the loop and data code.

The search keeps what the chosen trial's fits saw (:class:`HeldOut`): their curves and
their predictions on the rows they validated on, each row predicted by a fit that did not
train on it. The final model is retrained on train + val, so it has no validation data of
its own: these are the run's validation curves and errors.
"""

from __future__ import annotations

import functools
import math
import threading
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np
import optuna

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.config import TrainConfig
    from pipelines.train.data import Prepared
    from pipelines.train.types import Predictions

FitFn = Callable[["TrainConfig", Any, Any], tuple[Any, Any]]
EvaluateFn = Callable[[Any, Any], "Predictions"]
ConcatFn = Callable[[Any, Any], Any]
#: ``map_trials(fn, items)`` yields ``(index, fn(items[index]))`` as each finishes.
MapFn = Callable[[Callable[[Any], Any], list], Iterable[tuple[int, Any]]]
#: ``on_trial(done, total, score, best)`` after each finished trial: trials done of all
#: asked, that trial's cross-validated accuracy and the best so far.
TrialFn = Callable[[int, int, float, float], None]
#: History keys averaged over a trial's fits (not ``seconds``: it differs from run to run).
CURVE_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")

#: The declared search space: (low, high, log scale); width is an integer.
SPACE: dict[str, tuple[float, float, bool]] = {
    "lr": (1e-4, 1e-1, True),
    "weight_decay": (1e-6, 1e-2, True),
    "dropout": (0.0, 0.5, False),
    "width": (16, 256, True),
}
#: Half-widths of the fine box around the best coarse trial: decades for log-scale
#: floats, absolute for dropout, a factor for width.
FINE_STEP = {"lr": 0.5, "weight_decay": 0.5, "dropout": 0.1, "width": 2}

FOLDS_HINT = "split with `curaug split --folds K`"
#: TPE trials proposed at once: each round sees every trial of the rounds before, so the
#: trials depend on the seed alone, not on how many workers run a round
TPE_ROUND = 4


def derived_seed(seed: int, *keys: int | str) -> int:
    """A 32-bit seed for one trial (or one of its parameters) from the run's seed.

    >>> derived_seed(0, 3) == derived_seed(0, 3), derived_seed(0, 3) == derived_seed(0, 4)
    (True, False)
    """
    words = [seed] + [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def fine_box(best: dict[str, Any]) -> dict[str, tuple[float, float, bool]]:
    """The fine stage's space: the coarse space narrowed around ``best``, clipped to it.

    >>> box = fine_box({"lr": 1e-3, "weight_decay": 1e-6, "dropout": 0.45, "width": 200})
    >>> [round(v, 6) for v in box["lr"][:2]], box["weight_decay"][0], box["dropout"][:2], box["width"][:2]
    ([0.000316, 0.003162], 1e-06, (0.35, 0.5), (100, 256))
    """
    box = {}
    for name, (low, high, log) in SPACE.items():
        value, step = best[name], FINE_STEP[name]
        if name == "width":
            lo, hi = math.ceil(value / step), value * step
        elif log:
            lo, hi = value * 10 ** -step, value * 10 ** step
        else:
            lo, hi = value - step, value + step
        box[name] = (max(low, lo), min(high, hi), log)
    return box


@dataclass
class HeldOut:
    """The chosen trial's fits, as validation data of the run: ``dataset`` holds every row
    they validated on (train + val rows of the fold column, or the val split without
    folds), ``predictions`` each row's prediction by the fit that did not train on it, in
    ``dataset``'s order; ``fits`` how many fits made them (the folds, or 1)."""

    dataset: Any
    predictions: "Predictions"
    fits: int


@dataclass
class SearchResult:
    """``record``: DESIGN.md's ``search`` record (JSON); ``held_out``: the chosen trial's
    out-of-fold predictions."""

    record: dict[str, Any]
    held_out: HeldOut


@dataclass
class _Scored:
    """One trial's fits: accuracy, best epoch and history per fit, and the predictions on
    the rows validated (``rows``: positions in the pool, ascending; predictions in that order)."""

    scores: list[float]
    best_epochs: list[int]
    histories: list[list[dict[str, Any]]]
    rows: np.ndarray
    predictions: "Predictions"

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))


def search(prepared: "Prepared", config: "TrainConfig", *, fit_fn: FitFn, evaluate_fn: EvaluateFn,
           concat: ConcatFn, n_trials: int, map_trials: MapFn | None = None,
           on_trial: TrialFn | None = None) -> SearchResult:
    """Random search, coarse then fine (or TPE: ``config.search_sampler``), scored by
    cross-validation.

    Trials run ``config.search_workers`` at a time. A trial's parameters depend only on
    ``config.seed`` and its number (TPE: and the trials of the rounds before it), and its
    fits are seeded from both, so the result does not depend on how many run at once (as
    long as ``fit_fn`` draws from its own seeded generators). The record is ``{"sampler",
    "scored_on", "trials": [...], "best": {"trial", "params", "cv_mean", "cv_std", "interval",
    "epochs", "history", "runner_up"}}``: ``scored_on`` is ``folds`` or ``val``;
    ``interval`` the exact interval of the trial's accuracy over every validated row (each
    trial's record has one); ``runner_up`` the next best trial with the exact McNemar test
    of the two on the same rows (is the lead one the rows show?); ``epochs`` is the median best
    epoch over the best trial's folds, the length of the retraining on train + val;
    ``history`` its fits' curves, per epoch the mean over the fits that ran it (``fits``:
    how many did).

    ``map_trials(fn, configs)`` runs a stage's trials elsewhere (``curaug train --engine
    dask``: one task per trial, each in its own worker process), yielding ``(index,
    result)`` as each finishes; ``fn`` and ``fit_fn``/``evaluate_fn`` must then be
    picklable. ``on_trial(done, total, score, best)`` is called after each trial (a
    progress bar).
    """
    if n_trials < 1:
        raise CuraugError(f"search={n_trials}: needs at least one trial", param="search")
    config = _sized(prepared, config)
    plan = _Validation.plan(prepared, concat, need="--search")
    n_coarse = math.ceil(n_trials / 2)
    failures: dict[int, BaseException] = {}
    lock = threading.Lock()
    kept: dict[str, Any] = {"done": 0}  # trials finished, and the best one's key and fits

    def finished(number: int, scored: _Scored) -> None:
        with lock:
            kept["done"] += 1
            key = (scored.mean, -number)  # as _best ranks them
            if "key" not in kept or key > kept["key"]:
                kept.update(key=key, scored=scored)
            if on_trial is not None:
                on_trial(kept["done"], n_trials, scored.mean, kept["key"][0])

    def record(trial, stage: str, scored: _Scored) -> float:
        trial.set_user_attr("stage", stage)
        trial.set_user_attr("fold_scores", scored.scores)
        trial.set_user_attr("fold_best_epochs", scored.best_epochs)
        hits = scored.predictions.preds == np.asarray(scored.predictions.targets)
        # which rows the trial got right, packed: the paired test of the best against the next
        trial.set_user_attr("hits", {"n": int(hits.size), "bits": np.packbits(hits).tobytes().hex()})
        finished(trial.number, scored)
        return scored.mean

    def trial_config(trial: optuna.Trial, box: dict) -> "TrainConfig":
        params = {name: (trial.suggest_int(name, int(lo), int(hi), log=log) if name == "width"
                         else trial.suggest_float(name, lo, hi, log=log))
                  for name, (lo, hi, log) in box.items()}
        return config.model_copy(update={**params, "seed": derived_seed(config.seed, trial.number)})

    def run_stage(study: optuna.Study, stage: str, box: dict, n: int) -> None:
        if map_trials is not None:
            # ask, run every trial of the stage elsewhere, tell: a trial's parameters come
            # from its number alone, so this is the same search as the one below
            trials = [study.ask() for _ in range(n)]
            configs = [trial_config(trial, box) for trial in trials]
            results = map_trials(functools.partial(plan.cross_validate, fit_fn=fit_fn, evaluate_fn=evaluate_fn),
                                 configs)
            for index, scored in results:
                study.tell(trials[index], record(trials[index], stage, scored))
            return

        def objective(trial: optuna.Trial) -> float:
            trial_config_ = trial_config(trial, box)
            try:
                scored = plan.cross_validate(trial_config_, fit_fn, evaluate_fn)
            except Exception as exc:
                # Optuna would log the failure with a traceback; stop the study and raise
                # the error (the lowest failing trial's) once the running trials are done.
                with lock:
                    failures[trial.number] = exc
                study.stop()
                raise optuna.TrialPruned() from None
            return record(trial, stage, scored)

        study.optimize(objective, n_trials=n, n_jobs=config.search_workers)
        if failures:
            raise failures[min(failures)]

    def run_rounds(study: optuna.Study, stage: str, n: int) -> None:
        """The model-based trials: each round asked in turn (the sampler sees every
        finished trial), run at once, told in trial order."""
        scoring = functools.partial(plan.cross_validate, fit_fn=fit_fn, evaluate_fn=evaluate_fn)
        for start in range(0, n, TPE_ROUND):
            trials = [study.ask() for _ in range(min(TPE_ROUND, n - start))]
            configs = [trial_config(trial, SPACE) for trial in trials]
            scored = dict((map_trials or _thread_map(config.search_workers))(scoring, configs))
            for index, trial in enumerate(trials):
                study.tell(trial, record(trial, stage, scored[index]))

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="maximize", sampler=TrialSeededSampler(config.seed))
        run_stage(study, "coarse", SPACE, n_coarse)
        if n_trials > n_coarse and config.search_sampler == "tpe":
            study.sampler = tpe_sampler(config.seed, n_coarse)
            run_rounds(study, "tpe", n_trials - n_coarse)
        elif n_trials > n_coarse:
            run_stage(study, "fine", fine_box(_best(_records(study))["params"]), n_trials - n_coarse)
    finally:
        optuna.logging.set_verbosity(previous)
    trials = _records(study, config.confidence)
    best = _best(trials)
    chosen: _Scored = kept["scored"]
    held_out = HeldOut(plan.pool.subset(chosen.rows), chosen.predictions, len(chosen.scores))
    return SearchResult({"sampler": config.search_sampler, "scored_on": "folds" if plan.folds else "val",
                         "trials": trials,
                         "best": {"trial": best["number"], "params": best["params"], "cv_mean": best["cv_mean"],
                                  "cv_std": best["cv_std"], "interval": best["interval"],
                                  "epochs": int(np.median(best["fold_best_epochs"]) + 0.5),
                                  "history": mean_history(chosen.histories),
                                  **_against_runner_up(study, trials, best)}},
                        held_out)


def mean_history(histories: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per epoch, each figure of :data:`CURVE_KEYS` averaged over the fits that ran that
    epoch and recorded it (early stopping ends folds at different epochs), and how many
    fits ran it (``fits``).

    >>> mean_history([[{"epoch": 1, "val_loss": 0.5, "seconds": 2.0}, {"epoch": 2, "val_loss": 0.3}],
    ...               [{"epoch": 1, "val_loss": 0.7, "train_loss": None}]])
    [{'epoch': 1, 'fits': 2, 'val_loss': 0.6}, {'epoch': 2, 'fits': 1, 'val_loss': 0.3}]
    """
    rows: dict[int, list[dict[str, Any]]] = {}
    for history in histories:
        for row in history:
            rows.setdefault(int(row["epoch"]), []).append(row)
    out = []
    for epoch in sorted(rows):
        mean: dict[str, Any] = {"epoch": epoch, "fits": len(rows[epoch])}
        for key in CURVE_KEYS:
            values = [float(r[key]) for r in rows[epoch] if r.get(key) is not None]
            if values:
                mean[key] = float(np.mean(values))
        out.append(mean)
    return out


def out_of_fold_probs(prepared: "Prepared", config: "TrainConfig", *, fit_fn: FitFn, evaluate_fn: EvaluateFn,
                      concat: ConcatFn) -> "pd.DataFrame":
    """Class probabilities for every train/val row with a fold, each from a model trained on
    the other folds only (its early stopping watches the fold's own original rows, which it
    never trains on).

    Columns: ``id``, ``label``, ``fold``, then ``prob_<class>`` in sorted class order;
    rows in manifest order (train, then val).
    """
    import pandas as pd

    config = _sized(prepared, config)
    plan = _Validation.plan(prepared, concat, need="--folds")
    if plan.pool.folds is None:
        raise CuraugError(f"--folds needs a fold column: {FOLDS_HINT}", param="folds")
    if plan.folds is None:
        raise CuraugError(f"--folds needs at least two folds in the fold column of the train and val rows: "
                          f"{FOLDS_HINT}", param="folds")
    pool = plan.pool
    parts = []
    for k in plan.folds:
        model, _ = fit_fn(config, *plan.fold_datasets(k))
        rows = np.flatnonzero(pool.folds == k)
        pred = evaluate_fn(model, pool.subset(rows))
        parts.append((rows, pred.probs))
    rows = np.concatenate([r for r, _ in parts])
    probs = np.concatenate([p for _, p in parts])
    order = np.argsort(rows, kind="stable")
    rows, probs = rows[order], probs[order]
    classes = list(prepared.spec.classes)
    frame = pd.DataFrame({"id": [pool.ids[i] for i in rows],
                          "label": [classes[t] for t in np.asarray(pool.targets)[rows]],
                          "fold": np.asarray(pool.folds)[rows].astype(int)})
    for j in sorted(range(len(classes)), key=lambda j: classes[j]):
        frame[f"prob_{classes[j]}"] = probs[:, j]
    return frame


def tpe_sampler(seed: int, n_startup: int) -> optuna.samplers.TPESampler:
    """Optuna's TPE, seeded from the run's seed, modelling the parameters jointly, from the
    ``n_startup`` random trials before it on."""
    import warnings

    with warnings.catch_warnings():  # multivariate and constant_liar are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=derived_seed(seed, "tpe"), n_startup_trials=n_startup,
                                          multivariate=True, constant_liar=True)


def _thread_map(workers: int) -> MapFn:
    """``map_trials`` on this process's threads: results in the order they finish; a
    failing trial raises once every trial of the batch is done (the lowest failing one's error)."""
    def run(fn, items):
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            done = {futures[f]: f for f in as_completed(futures)}
        failed = sorted(i for i, f in done.items() if f.exception() is not None)
        if failed:
            raise done[failed[0]].exception()
        for i in sorted(done):
            yield i, done[i].result()

    return run


class TrialSeededSampler(optuna.samplers.RandomSampler):
    """Optuna's random sampler with one generator per trial and parameter, seeded from
    (seed, trial number, name): Optuna reseeds a shared sampler from the OS in every worker
    thread, so a plain seeded ``RandomSampler`` is not reproducible with ``n_jobs > 1``."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seed = seed

    def reseed_rng(self) -> None:
        """Nothing to reseed: each draw makes its own generator."""

    def sample_independent(self, study, trial, param_name, param_distribution):
        own = optuna.samplers.RandomSampler(seed=derived_seed(self.seed, trial.number, param_name))
        return own.sample_independent(study, trial, param_name, param_distribution)


def _sized(prepared: "Prepared", config: "TrainConfig") -> "TrainConfig":
    """``config`` sized to the whole training split, so every fold's fit gets the same settings."""
    from pipelines.train.sizing import size_to_data

    return size_to_data(config, prepared.spec, len(prepared.splits["train"]))


def _records(study: optuna.Study, confidence: float = 0.95) -> list[dict[str, Any]]:
    """One record per finished trial, in trial order; ``interval``: the exact interval of
    its accuracy over every row its fits validated on (out of fold)."""
    from curate.stats.intervals import accuracy_interval

    records = []
    for trial in _done(study):
        scores = trial.user_attrs["fold_scores"]
        epochs = trial.user_attrs["fold_best_epochs"]
        hits = _hits(trial)
        records.append({"number": trial.number, "stage": trial.user_attrs["stage"],
                        "params": {name: trial.params[name] for name in SPACE},
                        "cv_mean": float(np.mean(scores)), "cv_std": float(np.std(scores)),
                        "interval": accuracy_interval(int(hits.sum()), hits.size, confidence),
                        "fold_scores": scores, "fold_best_epochs": epochs,
                        "mean_best_epoch": float(np.mean(epochs))})
    return records


def _done(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(done, key=lambda t: t.number)


def _hits(trial: optuna.trial.FrozenTrial) -> np.ndarray:
    """Which validated rows the trial's fits got right (pool order)."""
    packed = trial.user_attrs["hits"]
    return np.unpackbits(np.frombuffer(bytes.fromhex(packed["bits"]), dtype=np.uint8), count=packed["n"]).astype(bool)


def _against_runner_up(study: optuna.Study, records: list[dict[str, Any]], best: dict[str, Any]) -> dict[str, Any]:
    """``runner_up``: the next best trial, and whether the best one's lead is a difference
    the validated rows show (the exact McNemar test on the same rows: every trial
    validates on the same ones); nothing with one trial."""
    from curate.stats.paired import mcnemar

    others = [r for r in records if r["number"] != best["number"]]
    if not others:
        return {}
    second = _best(others)
    hits = {t.number: _hits(t) for t in _done(study) if t.number in (best["number"], second["number"])}
    test = mcnemar(hits[best["number"]], hits[second["number"]])
    return {"runner_up": {"trial": second["number"], "cv_mean": second["cv_mean"],
                          "params": second["params"], "paired_test": test}}


def _best(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest cv_mean; ties go to the earlier trial."""
    return max(records, key=lambda r: (r["cv_mean"], -r["number"]))


class _Validation:
    """How a setting is scored: K folds over train + val rows, or a fit on train scored on val."""

    def __init__(self, pool: Any, folds: list[int] | None, train: Any, val: Any):
        self.pool, self.folds, self.train, self.val = pool, folds, train, val

    @classmethod
    def plan(cls, prepared: "Prepared", concat: ConcatFn, *, need: str) -> "_Validation":
        """A domain split (a ``train_val`` split) scores trials on val, the target domain,
        and takes out-of-fold probabilities over its folds, which cover train and train_val."""
        train, val = prepared.splits.get("train"), prepared.splits.get("val")
        domain = "train_val" in prepared.splits
        if train is None or len(train) == 0:
            raise CuraugError(f"{need} needs rows in the train split", param=need.lstrip("-"))
        if domain and need == "--folds":
            val = prepared.splits["train_val"]
        pool = concat(train, val) if val is not None and len(val) else train
        folds = None
        if pool.folds is not None and not (domain and need == "--search"):
            values = np.asarray(pool.folds)
            present = np.unique(values[values >= 0]).tolist()
            folds = present if len(present) >= 2 else None
        if domain and need == "--search" and (val is None or len(val) == 0):
            raise CuraugError("--search on a domain split scores trials on val, the target domain, and it has no "
                              "val rows: split with a val ratio above 0", param="search")
        if folds is None and need == "--search" and (val is None or len(val) == 0):
            raise CuraugError(f"--search needs a val split or a fold column to score trials on: {FOLDS_HINT}",
                              param="search")
        return cls(pool, folds, train, val)

    def validated_rows(self, k: int | None) -> np.ndarray:
        """The pool positions fold ``k`` validates on (fold k's original rows); without
        folds (``k`` None), the val split's, which follow train's in the pool."""
        if k is None:
            return np.arange(len(self.train), len(self.pool))
        folds = np.asarray(self.pool.folds)
        return np.flatnonzero((folds == k) & ~np.asarray(self.pool.augmented, dtype=bool))

    def fold_datasets(self, k: int) -> tuple[Any, Any]:
        """(train, val) for fold k: the other folds train; fold k's original rows validate
        (augmented rows carry their source's fold, so none of them trains while it validates)."""
        folds = np.asarray(self.pool.folds)
        return (self.pool.subset(np.flatnonzero((folds >= 0) & (folds != k))),
                self.pool.subset(self.validated_rows(k)))

    def cross_validate(self, config: "TrainConfig", fit_fn: FitFn, evaluate_fn: EvaluateFn) -> _Scored:
        """Accuracy, best epoch and history per fold, or of the one train → val fit without
        folds, and the predictions on every row validated."""
        from pipelines.train.types import join_predictions

        ks: list[int | None] = list(self.folds) if self.folds else [None]
        scores, epochs, histories, rows, preds = [], [], [], [], []
        for k in ks:
            train, val = self.fold_datasets(k) if k is not None else (self.train, self.val)
            model, result = fit_fn(config, train, val)
            pred = evaluate_fn(model, val)
            scores.append(float(np.mean(pred.preds == np.asarray(pred.targets))))
            epochs.append(int(result.best_epoch))
            histories.append(result.history)
            rows.append(self.validated_rows(k))
            preds.append(pred)
        order = np.argsort(np.concatenate(rows), kind="stable")
        return _Scored(scores, epochs, histories, np.concatenate(rows)[order], join_predictions(preds, order))
