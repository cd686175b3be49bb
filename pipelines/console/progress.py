"""Progress while work runs: a bar that stays quiet off a TTY, the search's trials, the
epoch lines of training."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from pipelines.console.rounding import figure, share


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[..., None]]:
    """Yield a ``progress(done, total, note="")`` callback drawing a bar on stderr when it
    is a TTY; ``note`` is shown after the bar (a search's scores)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total, note="": None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[note]}"), console=console, transient=True) as bar:
        task = bar.add_task(description, total=None, note="")

        def update(done: int, total: int, note: str = "") -> None:
            bar.update(task, completed=done, total=total, note=note)

        yield update


def trial_note(score: float, best: float) -> str:
    """What the search's bar shows after a trial: its cross-validated accuracy and the best so far.

    >>> trial_note(0.9, 0.95125)
    'last trial cv 0.900, best 0.951'
    """
    return f"last trial cv {share(score)}, best {share(best)}"


@contextlib.contextmanager
def search_progress() -> Iterator[Callable[[int, int, float, float], None]]:
    """Yield ``on_trial(done, total, score, best)`` for ``train --search``: a bar of trials
    done with the last one's score and the best so far, on stderr when it is a TTY. The
    bar goes away after the last trial, before the final fit prints its epochs."""
    with contextlib.ExitStack() as stack:
        bar = None

        def on_trial(done: int, total: int, score: float, best: float) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(progress_bar("search trials"))
            bar(done, total, trial_note(score, best))
            if done == total:
                stack.close()

        yield on_trial


class EpochLines:
    """A training callback printing one line per epoch on a terminal (quiet in logs)."""

    def __init__(self, console):
        self.console = console

    def on_epoch_end(self, epoch: int, model: Any, row: dict[str, Any]) -> None:
        parts = [f"epoch {epoch}"] + [f"{key} {figure(row[key])}" for key in
                                      ("train_loss", "val_loss", "val_accuracy", "lr", "seconds")
                                      if row.get(key) is not None]
        self.console.print("  ".join(parts), highlight=False, markup=False)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


@contextlib.contextmanager
def training_progress() -> Iterator[EpochLines | None]:
    """Yield the epoch-line callback on a terminal, None elsewhere."""
    from rich.console import Console

    console = Console(stderr=True)
    yield EpochLines(console) if console.is_terminal else None
