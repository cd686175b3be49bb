"""One training run: manifest in, ``RUNDIR`` out (DESIGN.md, "Training run").

The order is the course's: prepare the data (encoders fitted on train only), optionally
check that the model can overfit a small subset (``sanity``), optionally select the
setting by cross-validation (``search``, never looking at test), fit with early stopping
on val (or retrain the selected setting on train+val), and only then evaluate the test
split, once, on the best weights. Then the errors on train, train_val (a domain split's
held-out source rows), val and test give the avoidable bias, variance and data mismatch
(:mod:`pipelines.train.gaps`). A CUDA out-of-memory error halves the batch and fits again
(:mod:`pipelines.train.memory`). Every file of the run folder is written atomically.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

from curate.errors import CuraugError

#: Files a run writes; a folder holding any of them and no checkpoint is a finished run.
RUN_FILES = ("metrics.json", "model.pt", "config.json")
CHECKPOINT = "checkpoint.pt"
#: The batch and learning rate an out-of-memory error led to, for a resumed run to start from.
MEMORY = "memory.json"
#: Training samples the activation/gradient histograms are recorded on.
PROBE_SIZE = 64
#: Epochs the histograms are recorded at (spread evenly over the run).
HISTOGRAM_EPOCHS = 6


def train(data: Any, *, label: str = "label", out: str | os.PathLike, progress=None, search_progress=None,
          engine: str = "local", scheduler: str | None = None, notice=None, **settings: Any) -> dict[str, Any]:
    """Train a baseline on the ``split`` column of ``data`` and write ``out`` (RUNDIR).

    ``data`` is a manifest DataFrame or a path to one; ``settings`` are the fields of
    :class:`~pipelines.train.config.TrainConfig` (``epochs=``, ``hard_mining=``,
    ``search=``...). Returns what ``metrics.json`` holds. A folder holding the checkpoint
    of an interrupted run with the same settings resumes it. ``engine="dask"`` runs the
    search's trials as Dask tasks, one worker process each (on ``scheduler``, else a
    LocalCluster of ``search_workers`` processes); the result is the local one.
    ``progress`` is a loop callback (one line per epoch); ``search_progress(done, total,
    score, best)`` is called after each search trial; ``notice(line)`` hears what the run
    changed on its own as it happens (a CUDA out-of-memory error halving the batch).
    """
    if engine not in ("local", "dask"):
        raise CuraugError(f"engine={engine!r}: choose 'local' or 'dask'", param="engine")
    if scheduler and engine != "dask":
        raise CuraugError(f"scheduler={scheduler!r} needs engine=dask", param="scheduler")
    from curate.io.manifest import load_data

    config = make_config(label=label, **settings)
    rundir = Path(out)
    _check_rundir(rundir)
    base_dir = Path(data).resolve().parent if isinstance(data, (str, os.PathLike)) else Path.cwd()
    df = load_data(data) if isinstance(data, (str, os.PathLike)) else data
    return TrainingRun(config, rundir, progress=progress, search_progress=search_progress, engine=engine,
                       scheduler=scheduler, notice=notice).run(df, base_dir)


def make_config(**settings: Any):
    """:class:`TrainConfig` from keyword settings; a bad value is a :class:`CuraugError`
    naming the parameter."""
    from pydantic import ValidationError

    from pipelines.train.config import TrainConfig

    unknown = sorted(set(settings) - set(TrainConfig.model_fields))
    if unknown:
        from curate.errors import did_you_mean

        raise CuraugError(f"unknown training setting {unknown[0]}={settings[unknown[0]]!r}"
                          f"{did_you_mean(unknown[0], TrainConfig.model_fields)}", param=unknown[0])
    try:
        return TrainConfig(**{k: v for k, v in settings.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else None
        value = settings.get(name) if name else None
        message = err["msg"].removeprefix("Value error, ")
        if name:
            raise CuraugError(f"{name}={value!r}: {message}", param=name) from None
        raise CuraugError(message) from None


def _check_rundir(rundir: Path) -> None:
    if rundir.exists() and not rundir.is_dir():
        raise CuraugError(f"out={str(rundir)!r} is a file; give a folder", param="out")
    if rundir.is_dir() and not (rundir / CHECKPOINT).exists() and any((rundir / f).exists() for f in RUN_FILES):
        raise CuraugError(f"out={str(rundir)!r} already holds a finished run; give a new folder", param="out")


class TrainingRun:
    """The steps of one run, sharing the config, the device and the run folder."""

    def __init__(self, config, rundir: Path, *, progress=None, search_progress=None, engine: str = "local",
                 scheduler: str | None = None, notice=None):
        from pipelines.train.device import resolve_device

        self.config = config
        self.rundir = rundir
        self.device = resolve_device(config.device)
        self.progress, self.search_progress, self.notice = progress, search_progress, notice
        self.engine, self.scheduler = engine, scheduler
        self.test_evaluations = 0
        self.sized: list[str] = []

    # ------------------------------------------------------------------ the run
    def run(self, df, base_dir: Path) -> dict[str, Any]:
        from pipelines.train.data import absent_from_train, prepare_data
        from pipelines.train.sizing import SIZED, size_to_data

        started = time.perf_counter()
        prepared = prepare_data(df, self.config, base_dir=base_dir)
        if self.config.recipe is not None:  # a recipe that cannot augment this data: refused before any file
            prepared.splits["train"].with_augmentation(self.config.recipe, seed=self.config.seed)
        # every later step (sanity, search, fit, histograms) and config.json see the sized settings
        self.sized = [name for name in SIZED if getattr(self.config, name) is None]
        if self.config.init and self.config.width is None:
            self.config = self.config.model_copy(update={"width": _checkpoint_width(self.config.init)})
            self.sized.remove("width")
        self.config = size_to_data(self.config, prepared.spec, len(prepared.splits["train"]))
        self.rundir.mkdir(parents=True, exist_ok=True)
        metrics: dict[str, Any] = {"device": self.device.type, "model": self._model_name(prepared.spec),
                                   "rows": {name: len(ds) for name, ds in prepared.splits.items()},
                                   "dropped": prepared.dropped, "data": self._data_path(prepared)}
        absent = absent_from_train(prepared.splits)
        if absent:
            metrics["classes_absent_from_train"] = absent
            metrics["warnings"] = [absent_warning(absent)]
        if "train_val" in prepared.splits and "val" in prepared.splits and prepared.spec.modality == "tabular":
            from pipelines.train.data.tabular import domain_markers

            for column, values in domain_markers(prepared.encoder, prepared.splits["val"].frame).items():
                metrics.setdefault("warnings", []).append(
                    f"column '{column}' has none of its val values ({', '.join(values[:3])}) in train: it marks the "
                    f"domain, not the class; leave it out with --exclude {column}")
        if self.config.sanity:
            metrics["sanity"] = self._sanity(prepared)
        config = self.config
        searched = retrain = None
        if config.search:
            searched = self._search(prepared, config)
            metrics["search"] = searched.record
            config = config.model_copy(update=searched.record["best"]["params"])
            # a domain split's val is the target domain: it never trains, so the gaps stay measurable
            retrain = None if "train_val" in prepared.splits else _retrain(prepared, searched)
        if config.folds:
            self._write_oof(prepared, config)
        histograms = self._histograms(prepared.splits["train"], retrain["epochs"] if retrain else config.epochs)
        model, result, config = self._fit_final(prepared, config, histograms, retrain, metrics)
        metrics.update(best_epoch=result.best_epoch, stopped_epoch=result.stopped_epoch, history=result.history)
        if retrain:
            metrics["retrain"] = retrain
        histograms.write_figures()
        metrics["histograms"] = histograms.summary()
        self._write_outputs(model, prepared, config, result, metrics, searched)
        metrics.update(self._validation(model, prepared, searched if retrain else None))
        if "test" in prepared.splits:
            metrics["test"] = self._test_once(model, prepared)
        metrics.update(self._gaps(model, prepared, metrics, config))
        from pipelines.train.metrics import add_intervals

        add_intervals(metrics, self.config.confidence)
        metrics["seconds"] = round(time.perf_counter() - started, 3)
        from curate.io.atomic import write_json_atomic
        from curate.io.jsonify import jsonable

        write_json_atomic(self.rundir / "metrics.json", jsonable(metrics, digits=6))
        (self.rundir / CHECKPOINT).unlink(missing_ok=True)
        (self.rundir / MEMORY).unlink(missing_ok=True)
        return metrics

    def _fit_final(self, prepared, config, histograms, retrain: dict[str, Any] | None, metrics: dict[str, Any]):
        """``(model, fit result, config)`` of the model that is tested: early-stopped on val,
        or, after a search, the selected setting retrained on train+val for the epochs the
        folds chose (no data is left to stop on). A CUDA out-of-memory error halves the
        batch and fits again (``metrics["memory"]`` and a warning say so); a resumed run
        starts from the batch the interrupted one had come down to."""
        from pipelines.train.data import concat
        from pipelines.train.loop import fit
        from pipelines.train.memory import describe, fit_within_memory

        train_set, val_set = prepared.splits["train"], prepared.splits.get("val")
        callbacks = self._callbacks(histograms)
        earlier = self._memory_record() if (self.rundir / CHECKPOINT).exists() else []
        if earlier:
            config = config.model_copy(update={earlier[-1]["setting"]: earlier[-1]["batch"][1],
                                               "lr": earlier[-1]["lr"][1]})

        def fit_once(config):
            histograms.load_state_dict({"epochs": {}})
            model = build(prepared.spec, config)
            if retrain is None:
                return model, fit(model, train_set, val_set, config, rundir=self.rundir, callbacks=callbacks)
            trainval = concat(train_set, val_set) if val_set is not None else train_set
            return model, fit(model, trainval, None, config, rundir=self.rundir, callbacks=callbacks,
                              epochs=retrain["epochs"])

        def on_halve(config, records):
            from curate.io.atomic import write_json_atomic

            # the abandoned try's checkpoint is of other settings: the new try starts afresh
            (self.rundir / CHECKPOINT).unlink(missing_ok=True)
            write_json_atomic(self.rundir / MEMORY, earlier + records)

        (model, result), config, records = fit_within_memory(fit_once, config, notice=self.notice,
                                                             on_halve=on_halve)
        if earlier + records:
            metrics["memory"] = earlier + records
            metrics.setdefault("warnings", []).extend(describe(r) for r in earlier + records)
        return model, result, config

    def _memory_record(self) -> list[dict[str, Any]]:
        import json

        try:
            return json.loads((self.rundir / MEMORY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []

    def _gaps(self, model, prepared, metrics: dict[str, Any], config) -> dict[str, Any]:
        """``train`` and ``train_val`` figures of the tested model (train: its original rows,
        augmented copies left out, so train and train_val are drawn alike) and ``gaps``:
        avoidable bias, variance and data mismatch from the four error rates."""
        import numpy as np

        from pipelines.train.gaps import error_gaps
        from pipelines.train.metrics import classification_metrics

        train_set = prepared.splits["train"]
        original = train_set.subset(np.flatnonzero(~np.asarray(train_set.augmented, dtype=bool)))
        workers = self.config.data_workers
        figures = {"train": classification_metrics(evaluate_on_model_device(model, original, workers),
                                                   prepared.spec.classes)}
        if "train_val" in prepared.splits:
            figures["train_val"] = classification_metrics(
                evaluate_on_model_device(model, prepared.splits["train_val"], workers), prepared.spec.classes)
        errors = {name: 1.0 - figures[name]["accuracy"] for name in ("train", "train_val") if name in figures}
        errors.update({name: 1.0 - metrics[name]["accuracy"] for name in ("val", "test") if name in metrics})
        if "val" not in errors:
            return figures
        return {**figures, "gaps": error_gaps(errors, config.human_error)}

    def _validation(self, model, prepared, searched) -> dict[str, Any]:
        """``val`` and ``errors`` (and ``errors.csv``): the tested model's on the val split;
        after a search, whose final model trained on val, the chosen trial's predictions on
        the rows its fits validated on, each from a fit that did not train on it."""
        from pipelines.train.metrics import classification_metrics
        from pipelines.train.monitor import write_errors

        classes = prepared.spec.classes
        if searched is not None:
            held = searched.held_out
            dataset, pred = held.dataset, held.predictions
            source = {"held_out": {"trial": searched.record["best"]["trial"], "fits": held.fits, "rows": len(dataset)}}
        elif "val" in prepared.splits:
            dataset = prepared.splits["val"]
            pred, source = evaluate_on_model_device(model, dataset, self.config.data_workers), {}
        else:
            return {}
        return {"val": {**classification_metrics(pred, classes), **source},
                "errors": write_errors(pred, dataset, classes, self.rundir / "errors.csv")}

    def _write_oof(self, prepared, config) -> None:
        from curate.io.atomic import atomic_path
        from pipelines.train.data import concat
        from pipelines.train.search import out_of_fold_probs

        oof = out_of_fold_probs(prepared, config, fit_fn=fit_fresh, evaluate_fn=evaluate_on_model_device,
                                concat=concat)
        with atomic_path(self.rundir / "oof_probs.parquet") as tmp:
            oof.to_parquet(tmp, index=False)

    # ------------------------------------------------------------------ pieces
    def _search(self, prepared, config):
        from pipelines.train.data import concat
        from pipelines.train.search import search

        def run(map_trials=None):
            return search(prepared, config, fit_fn=fit_fresh, evaluate_fn=evaluate_on_model_device, concat=concat,
                          n_trials=config.search, map_trials=map_trials, on_trial=self.search_progress)

        if self.engine != "dask":
            return run()
        from curate.engine import dask_client

        with dask_client(config.search_workers, self.scheduler) as (client, _):
            return run(functools.partial(_as_completed, client))

    def _model_name(self, spec) -> str:
        from pipelines.train.models import resolve_model_name

        return resolve_model_name(spec, self.config.model)

    def _data_path(self, prepared) -> dict[str, Any]:
        """``metrics.json``'s ``data``: where the rows lived and whether training augmented online."""
        from pipelines.train.feed import resolve_workers

        train = prepared.splits["train"]
        online = self.config.recipe is not None
        read = not train.in_memory or online or any(not ds.in_memory for ds in prepared.splits.values())
        return {**prepared.memory, "workers": resolve_workers(self.config.data_workers, read),
                "augment": "online" if online else ("offline" if train.augmented.any() else "none")}

    def _sanity(self, prepared) -> dict[str, Any]:
        from pipelines.train.monitor import sanity_check

        train = prepared.splits["train"]
        x, y = train.rows(range(min(len(train), PROBE_SIZE)))
        result = sanity_check(build(prepared.spec, self.config), x, y)
        return {**result, "samples": len(x)}

    def _histograms(self, train_set, epochs: int):
        from pipelines.train.monitor import ActivationHistograms

        x, y = train_set.rows(range(min(len(train_set), PROBE_SIZE)))
        # about six recorded epochs of the final fit: each costs a forward/backward pass and a drawn figure
        every = max(1, epochs // HISTOGRAM_EPOCHS)
        return ActivationHistograms(x, y, self.rundir / "histograms", every=every)

    def _callbacks(self, histograms) -> list:
        callbacks = [histograms]
        if self.progress is not None:
            callbacks.append(self.progress)
        return callbacks

    def _test_once(self, model, prepared) -> dict[str, Any]:
        """The test split, evaluated once, after every decision was made."""
        from pipelines.train.metrics import classification_metrics

        if self.test_evaluations:
            raise RuntimeError("the test split was about to be evaluated a second time")
        self.test_evaluations += 1
        pred = evaluate_on_model_device(model, prepared.splits["test"], self.config.data_workers)
        return classification_metrics(pred, prepared.spec.classes)

    def _write_outputs(self, model, prepared, config, result, metrics, searched) -> None:
        import io

        import torch

        from curate.io.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
        from curate.version import curaug_version
        from pipelines.train.monitor import write_curves

        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
        write_bytes_atomic(self.rundir / "model.pt", buffer.getvalue())
        write_json_atomic(self.rundir / "config.json", {
            "config": config.model_dump(mode="json"), "sized_to_data": self.sized,
            "model": metrics["model"], "spec": prepared.spec.to_json(),
            "encoder": prepared.encoder, "curaug": curaug_version(), "torch": torch.__version__})
        if "retrain" not in metrics:
            write_curves(result.history, self.rundir / "curves.png", best_epoch=result.best_epoch)
        else:  # the retrain has no val to plot: the chosen trial's fits are the run's curves
            retrain = metrics["retrain"]
            over = f"mean of {retrain['fits']} folds" if retrain["fits"] > 1 else "on val"
            write_curves(searched.record["best"]["history"], self.rundir / "curves.png", best_epoch=retrain["epochs"],
                         title=f"search trial {retrain['trial']} ({over}); retrained {retrain['epochs']} epochs on "
                               f"{'+'.join(retrain['splits'])}")
        if config.hard_mining != "none":
            import pandas as pd

            mined = pd.DataFrame(result.mined, columns=None if result.mined else ["epoch", "id", "label", "loss"])
            write_text_atomic(self.rundir / "hard_examples.csv", mined.to_csv(index=False))


def _retrain(prepared, searched) -> dict[str, Any]:
    """``metrics.json``'s ``retrain``: what the final model trained on after a search, and
    for how long (the median best epoch of the chosen trial's fits; at least one)."""
    splits = [name for name in ("train", "val") if name in prepared.splits]
    best = searched.record["best"]
    return {"splits": splits, "rows": sum(len(prepared.splits[name]) for name in splits),
            "epochs": max(1, int(best["epochs"])), "trial": best["trial"], "fits": searched.held_out.fits}


def _as_completed(client, fn, items):
    """``(index, fn(item))`` for Dask tasks, one per item, as each finishes."""
    from distributed import as_completed

    futures = client.map(fn, items, pure=False)
    index = {future.key: i for i, future in enumerate(futures)}
    for future, result in as_completed(futures, with_results=True):
        yield index[future.key], result


def absent_warning(absent: dict[str, dict[str, int]]) -> str:
    """One line naming the classes of val or test that train lacks, with their rows.

    >>> absent_warning({"c": {"test": 3}})
    "class 'c' is in test (3 rows) but not in train: the model cannot learn it, so each of its rows counts as an error"
    >>> absent_warning({"c": {"val": 1, "test": 2}, "d": {"test": 1}})
    "2 classes are in val or test but not in train: 'c' (val 1 row, test 2 rows), 'd' (test 1 row): the model cannot learn them, so each of their rows counts as an error"
    """
    def rows(n: int) -> str:
        return f"{n} row{'s' if n != 1 else ''}"

    if len(absent) == 1:
        (name, where), = absent.items()
        places = ", ".join(f"{split} ({rows(n)})" for split, n in where.items())
        return (f"class '{name}' is in {places} but not in train: the model cannot learn it, so each of its rows "
                "counts as an error")
    listed = ", ".join(f"'{name}' (" + ", ".join(f"{split} {rows(n)}" for split, n in where.items()) + ")"
                       for name, where in absent.items())
    return (f"{len(absent)} classes are in val or test but not in train: {listed}: the model cannot learn them, "
            "so each of their rows counts as an error")


def _checkpoint_width(init: str) -> int:
    """The width ``init`` was trained with: its run's ``config.json`` beside it, else the
    width of a large data set (a checkpoint from elsewhere)."""
    import json

    from pipelines.train.models import WIDTH

    beside = Path(init).parent / "config.json"
    try:
        width = json.loads(beside.read_text(encoding="utf-8"))["config"]["width"]
    except (OSError, ValueError, KeyError, TypeError):
        return WIDTH
    return int(width) if isinstance(width, int) else WIDTH


def build(spec, config):
    """The model of ``config`` for data of ``spec``, started from ``config.init`` if given."""
    from pipelines.train.models import build_model, load_init

    model = build_model(spec, config)
    if config.init:
        load_init(model, config.init)
    return model


def fit_fresh(config, train_set, val_set):
    """Fit a fresh model on ``train_set`` selecting on ``val_set``: what the search and
    ``--folds`` run per fold (no checkpoint; a CUDA out-of-memory error halves the batch,
    with a warning). Module-level, so Dask can ship it."""
    from pipelines.train.loop import fit
    from pipelines.train.memory import fit_within_memory

    def fit_once(config):
        model = build(train_set.spec, config)
        return model, fit(model, train_set, val_set, config)

    return fit_within_memory(fit_once, config)[0]


def evaluate_on_model_device(model, dataset, workers=None):
    from pipelines.train.loop import evaluate

    return evaluate(model, dataset, device=next(model.parameters()).device, workers=workers)
