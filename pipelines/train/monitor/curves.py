"""``curves.png``: loss, accuracy and learning rate per epoch, the best epoch marked."""

from __future__ import annotations

import math
from pathlib import Path

from curate.errors import CuraugError
from curate.io.atomic import atomic_path


def _series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The epochs where ``key`` holds a finite number, and those numbers (a run without
    validation has no ``val_*`` values; a diverged one has NaN losses)."""
    points = [(row["epoch"], float(row[key])) for row in history
              if row.get(key) is not None and math.isfinite(float(row[key]))]
    return [e for e, _ in points], [v for _, v in points]


def best_epoch_of(history: list[dict]) -> int:
    """The epoch with the lowest validation loss (training loss when there is no
    validation): what the loop's early stopping restores under its default monitor."""
    for key in ("val_loss", "train_loss"):
        epochs, values = _series(history, key)
        if epochs:
            return epochs[values.index(min(values))]
    return history[-1]["epoch"]


def write_curves(history: list[dict], path: str | Path, *, best_epoch: int | None = None,
                 title: str | None = None) -> None:
    """Plot a run's history rows to ``path`` (PNG): loss (train and val), accuracy (train
    and val) and the learning rate in three panels sharing the epoch axis, with a dashed
    line at ``best_epoch`` (default: :func:`best_epoch_of`) and ``title`` above them
    (default: ``best epoch N``). Written atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "curves.png"
    >>> rows = [{"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "train_accuracy": 0.6,
    ...          "val_accuracy": 0.7, "lr": 0.01}]
    >>> write_curves(rows, out)
    >>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if not history:
        raise CuraugError("history is empty: there is no epoch to plot", param="history")
    if best_epoch is None:
        best_epoch = best_epoch_of(history)
    # Figure, not pyplot: no global figure registry, no display backend, safe from threads
    fig = Figure(figsize=(6.4, 7.2), layout="constrained")
    loss_ax, acc_ax, lr_ax = fig.subplots(3, 1, sharex=True)
    panels = ((loss_ax, "loss", "loss"), (acc_ax, "accuracy", "accuracy"))
    for ax, key, ylabel in panels:
        for split, style in (("train", "-"), ("val", "--")):
            epochs, values = _series(history, f"{split}_{key}")
            if epochs:
                ax.plot(epochs, values, style, marker="o", markersize=3, label=split)
        ax.set_ylabel(ylabel)
        if ax.has_data():
            ax.legend(loc="best", fontsize="small")
    epochs, values = _series(history, "lr")
    if epochs:
        lr_ax.plot(epochs, values, color="tab:green", marker="o", markersize=3)
        if min(values) > 0 and max(values) / min(values) > 100:
            lr_ax.set_yscale("log")  # step decay and cosine tails span decades
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("epoch")
    lr_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (loss_ax, acc_ax, lr_ax):
        ax.axvline(best_epoch, color="tab:red", linestyle=":", linewidth=1)
        ax.grid(alpha=0.3)
    loss_ax.set_title(title or f"best epoch {best_epoch}", fontsize="medium", color="tab:red")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
