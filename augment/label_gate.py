"""The label-preserving gate: an augmented copy must still look like its source's class.

A copy that no longer belongs to its class teaches a wrong label ("Whom computers would
destroy", class computers, became "Whom problems would demolish"). Generation papers
filter such copies with a classifier fitted on the originals (Anaby-Tavor et al. 2020,
LAMBADA); ``gate: {label_preserving: {min_confidence: 0.5}}`` does it for any recipe.

The classifier is a logistic regression: on character n-gram TF-IDF for text, on
standardised features for other samples (what the plugin's
:meth:`~augment.plugin.Plugin.gate_features` reads of a sample: a small grey thumbnail for
an image, log-mel band statistics for audio). It is fitted **out of fold**: the sources
are dealt into ``folds`` folds (stratified by class, each source's place a hash of the run
seed and its id, so the folds do not depend on row order) and the model of fold k, fitted
on every other fold, judges the copies of fold k's sources. No copy is judged by a model
that saw its source.

A copy is rejected when the model's most likely class is not its source's, or its
probability of the source's class is under ``min_confidence``; the runner then draws it
again from the next seed of the copy's sequence, and gives the copy up (writes nothing)
after ``max_tries`` rejections. The same test on the originals themselves, out of fold,
says how far the gate can be trusted: a source the gate already rejects will have its
copies rejected too (``sources_failing`` in the summary).

``model: PATH`` judges with a finished ``curaug train`` run instead (its folder, or its
``model.pt``): each copy is encoded as that run encoded its rows and classified by its
network. Augmentation reaches it through the ``curaug.gate_models`` entry points
(:data:`GATE_MODELS`; curaug's own, ``run``, is :class:`pipelines.train.saved_run.SavedRun`),
never by importing the harness. Such a model was trained on the sources themselves, so it
is not out of fold: the summary says so (``out_of_fold``), and ``sources_failing`` is then
measured in sample.

The gate is fitted (or loaded) once, in the process that plans the run, and travels to the
workers with the run's state (forked, or shipped to a Dask cluster once).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from curate.errors import CuraugError
from curate.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from augment.plugin import Context, Plugin
    from augment.recipe import LabelPreserving

#: Classifiers a recipe's ``model: PATH`` loads, by kind: ``run`` (a ``curaug train`` run
#: folder) comes with curaug through its entry point.
GATE_MODELS: Registry[Any] = Registry("gate model", entry_points="curaug.gate_models")

#: The regularisation of every gate classifier: sharp enough that a clear member of its
#: class reaches a confidence of 0.5 among four classes on a hundred rows (the fortunes).
C = 10.0


@dataclass
class LabelGate:
    """The fitted gate: one classifier per fold, which fold each source is in, and the
    sources whose own sample the gate rejects (out of fold), with why. With a ``trained``
    model (``model: PATH``) it is the only classifier, and it encodes the samples itself."""

    min_confidence: float
    folds: int
    models: list[Any]
    fold_of: dict[str, int]
    label_of: dict[str, str]
    failing: dict[str, str]
    trained: Any = None

    def features(self, plugin: "Plugin", sample: Any, ctx: "Context") -> Any:
        """What the classifier reads of ``sample``."""
        return self.trained.encode(sample) if self.trained is not None else plugin.gate_features(sample, ctx)

    def judge(self, source_id: str, features: Any) -> str | None:
        """Why the copy of ``source_id`` with ``features`` is rejected, or None."""
        model = self.models[self.fold_of[source_id]]
        return self._verdict(model, model.predict_proba(_batch([features]))[0], self.label_of[source_id])

    def _verdict(self, model: Any, proba: "np.ndarray", label: str) -> str | None:
        classes = [str(c) for c in model.classes_]
        best = int(proba.argmax())
        confidence = float(proba[classes.index(label)]) if label in classes else 0.0
        if classes[best] != label:
            return (f"label gate: classified as '{classes[best]}' ({float(proba[best]):.2f}), "
                    f"not its source's '{label}' ({confidence:.2f})")
        if confidence < self.min_confidence:
            return f"label gate: confidence in '{label}' {confidence:.2f} < {self.min_confidence:g}"
        return None


def check_label(df: "pd.DataFrame", label: str | None) -> None:
    """The gate judges copies by their source's class: the manifest must have one."""
    if label is None or label not in df.columns:
        raise CuraugError(f"gate.label_preserving needs a label column, and label={label!r} is not a column of "
                          f"the manifest (columns: {', '.join(map(str, df.columns))})", param="label")


def fit_label_gate(plugin: "Plugin", rows: "pd.DataFrame", ctx: "Context", label: str, seed: int,
                   rule: "LabelPreserving") -> LabelGate:
    """Fit the gate of ``rule`` on the original ``rows`` (the sources of the run)."""
    import sklearn.linear_model  # noqa: F401  (loads the BLAS libraries, which the limit sees only once loaded)
    from threadpoolctl import threadpool_limits

    if rule.model != "auto":
        return _saved_model_gate(plugin, rows, ctx, label, rule)
    # a model this small fits fastest on one thread: BLAS threads only spin against each other
    with threadpool_limits(1):
        return _fit(plugin, rows, ctx, label, seed, rule)


def _saved_model_gate(plugin: "Plugin", rows: "pd.DataFrame", ctx: "Context", label: str,
                      rule: "LabelPreserving") -> LabelGate:
    """The gate of a trained run's model: one classifier for every source (in sample)."""
    from pathlib import Path

    from augment.executors import UNREADABLE_ERRORS

    if not Path(rule.model).exists():
        raise CuraugError(f"gate.label_preserving.model: {rule.model}: no such run folder or model.pt (give "
                          "'auto' or the folder of a curaug train run)", param="model")
    trained = GATE_MODELS.get("run")(rule.model)
    label_of = _labels(rows, label)
    unknown = sorted(set(label_of.values()) - set(trained.classes_))
    if unknown:
        raise CuraugError(f"gate.label_preserving.model: {rule.model} was trained on classes "
                          f"{', '.join(trained.classes_)}, not on {', '.join(unknown)} of '{label}'", param="model")
    gate = LabelGate(rule.min_confidence, 1, [trained], {i: 0 for i in label_of}, label_of, {}, trained)
    for source_id, cls in label_of.items():
        try:
            sample = plugin.load(ctx.record(source_id), ctx)
        except UNREADABLE_ERRORS:
            continue  # its copies are skipped by the run, which names it
        reason = gate.judge(source_id, gate.features(plugin, sample, ctx))
        if reason is not None:
            gate.failing[source_id] = reason
    return gate


def _labels(rows: "pd.DataFrame", label: str) -> dict[str, str]:
    """Each source's class; every source needs one, and there must be two classes."""
    labels = rows[label]
    if labels.isna().any():
        raise CuraugError(f"gate.label_preserving: {int(labels.isna().sum())} of {len(rows)} rows to augment have "
                          f"no '{label}'; label them or drop them first", param="label")
    label_of = {str(i): str(v) for i, v in zip(rows.index, labels)}
    counts = Counter(label_of.values())
    if len(counts) < 2:
        raise CuraugError(f"gate.label_preserving needs at least 2 classes in the rows to augment; "
                          f"'{label}' has {len(counts)} ({', '.join(counts)})", param="label")
    return label_of


def _fit(plugin: "Plugin", rows: "pd.DataFrame", ctx: "Context", label: str, seed: int,
         rule: "LabelPreserving") -> LabelGate:
    import numpy as np

    from augment.executors import UNREADABLE_ERRORS

    label_of = _labels(rows, label)
    counts = Counter(label_of.values())
    fold_of = _deal(label_of, rule.folds, seed)
    ids, features = [], []
    for source_id in label_of:
        try:
            sample = plugin.load(ctx.record(source_id), ctx)
        except UNREADABLE_ERRORS:
            continue  # its copies are skipped by the run, which names it
        ids.append(source_id)
        features.append(plugin.gate_features(sample, ctx))
    y = np.array([label_of[i] for i in ids])
    fold = np.array([fold_of[i] for i in ids])
    models, failing = [], {}
    gate = LabelGate(rule.min_confidence, rule.folds, models, fold_of, label_of, failing)
    for k in range(rule.folds):
        train, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        if len(set(y[train])) < 2:
            raise CuraugError(f"gate.label_preserving: fold {k} leaves one class to fit on; give fewer folds "
                              f"(folds={rule.folds}) or more rows ({dict(counts)})", param="folds")
        model = _classifier(features[0]).fit(_batch([features[i] for i in train]), y[train])
        models.append(model)
        if len(held):
            for i, proba in zip(held, model.predict_proba(_batch([features[i] for i in held]))):
                reason = gate._verdict(model, proba, y[i])
                if reason is not None:
                    failing[ids[i]] = reason
    return gate


def _deal(label_of: dict[str, str], folds: int, seed: int) -> dict[str, int]:
    """Each source's fold: within its class, sources in the order of a hash of (seed, id),
    dealt round-robin, so every fold has its share of every class whatever the row order."""
    by_class: dict[str, list[str]] = {}
    for source_id, cls in label_of.items():
        by_class.setdefault(cls, []).append(source_id)
    fold_of = {}
    for members in by_class.values():
        members.sort(key=lambda i: hashlib.sha256(f"{int(seed)}\x00gate\x00{i}".encode()).digest())
        fold_of.update((source_id, k % folds) for k, source_id in enumerate(members))
    return fold_of


def _batch(features: list[Any]) -> Any:
    """Features of several samples as the classifier takes them: texts as a list, vectors
    stacked into a matrix."""
    import numpy as np

    return list(features) if isinstance(features[0], str) else np.stack([np.asarray(f, dtype=float) for f in features])


def _classifier(example: Any) -> Any:
    """TF-IDF on character n-grams within words (robust to the typos text transforms make)
    for text; standardised features otherwise; a logistic regression on top."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    first = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True) \
        if isinstance(example, str) else StandardScaler()
    return make_pipeline(first, LogisticRegression(C=C, max_iter=2000))


def label_gate_summary(gate: LabelGate, records: Iterable[tuple[str, dict]]) -> dict[str, Any]:
    """The gate's figures for ``summary.json``: copies judged and rejected, overall and per
    class of their source, the copies given up, and the sources the gate itself rejects.
    ``records``: (source id, job record) of every job of the run."""
    per_class: dict[str, Counter] = {cls: Counter() for cls in sorted(set(gate.label_of.values()))}
    for source_id, record in records:
        counts = per_class[gate.label_of[source_id]]
        counts["judged"] += record.get("label_judged", 0)
        counts["rejected"] += record.get("label_rejected", 0)
        counts["gave_up"] += str(record.get("skipped", "")).startswith("quality gate: label gate")
    for source_id in gate.failing:
        per_class[gate.label_of[source_id]]["sources_failing"] += 1
    for source_id, cls in gate.label_of.items():
        per_class[cls]["sources"] += 1

    def figures(c: Counter) -> dict[str, Any]:
        return {"judged": c["judged"], "rejected": c["rejected"],
                "rejection_rate": round(c["rejected"] / c["judged"], 4) if c["judged"] else 0.0,
                "gave_up": c["gave_up"], "sources": c["sources"], "sources_failing": c["sources_failing"]}

    return {"min_confidence": gate.min_confidence, "folds": gate.folds,
            "model": gate.trained.source if gate.trained is not None else "auto",
            "out_of_fold": gate.trained is None,
            **figures(sum(per_class.values(), Counter())),
            "per_class": {cls: figures(c) for cls, c in per_class.items()}}
