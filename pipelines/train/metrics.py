"""Class-wise figures of a model's predictions (scikit-learn's definitions)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from pipelines.train.types import Predictions


def classification_metrics(pred: Predictions, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, mean loss, per-class precision/recall/F1/support and the confusion matrix
    (rows: true class, columns: predicted, in the order of ``classes``).

    Every class of ``classes`` has its row, even one absent from ``pred`` (support 0,
    figures 0 rather than a warning), so runs on different splits line up.

    Examples
    --------
    >>> import numpy as np
    >>> p = Predictions(["a", "b", "c"], np.array([0, 1, 1]),
    ...                 np.array([[.9, .1], [.2, .8], [.6, .4]]), np.array([.1, .2, .9]))
    >>> m = classification_metrics(p, ["x", "y"])
    >>> m["accuracy"], m["confusion"], m["per_class"]["y"]["recall"]
    (0.6666666666666666, [[1, 0], [1, 1]], 0.5)
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(classes)))
    targets, preds = np.asarray(pred.targets), pred.preds
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, preds, labels=labels, zero_division=0)
    confusion = confusion_matrix(targets, preds, labels=labels)
    per_class = {str(c): {"precision": float(precision[i]), "recall": float(recall[i]),
                          "f1": float(f1[i]), "support": int(support[i])} for i, c in enumerate(classes)}
    return {"accuracy": float((preds == targets).mean()) if len(targets) else 0.0,
            "loss": float(np.mean(pred.losses)) if len(targets) else 0.0,
            "per_class": per_class, "confusion": confusion.tolist(), "labels": [str(c) for c in classes]}


def add_intervals(metrics: dict[str, Any], confidence: float) -> None:
    """Give ``metrics``' val and test figures their ``interval`` (exact and Hoeffding, from
    the confusion matrix's counts), and ``val_vs_test``: whether their difference is within
    those intervals.

    >>> m = {"val": {"confusion": [[45, 5], [5, 45]]}, "test": {"confusion": [[40, 10], [10, 40]]}}
    >>> add_intervals(m, 0.95)
    >>> m["val"]["interval"]["accuracy"], m["val_vs_test"]["within_intervals"]
    ([0.8238, 0.951], True)
    """
    from curate.stats.intervals import accuracy_interval, compare

    for split in ("val", "test"):
        confusion = np.asarray(metrics.get(split, {}).get("confusion", []))
        if confusion.size and confusion.sum():
            metrics[split]["interval"] = accuracy_interval(int(np.trace(confusion)), int(confusion.sum()), confidence)
    if all("interval" in metrics.get(split, {}) for split in ("val", "test")):
        metrics["val_vs_test"] = compare("val", metrics["val"]["interval"], "test", metrics["test"]["interval"])
