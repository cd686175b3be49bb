"""Exceptions that carry a user-facing message, and the "did you mean" hint they share."""

from __future__ import annotations

from typing import Iterable


class CuraugError(ValueError):
    """Bad input or usage: the CLI prints ``error: <message>`` on one line and exits 2.

    The message must name what is at fault (file, column, key, value) and, where it
    helps, what would be accepted instead. Library calls name the Python parameter
    (``ratios=``); ``param`` records it so the CLI can say ``--ratios`` instead.

    Examples
    --------
    >>> err = CuraugError("ratios=(0.5, 0.5) must have three values", param="ratios")
    >>> isinstance(err, ValueError), err.param
    (True, 'ratios')
    """

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


class ClusterError(RuntimeError):
    """The Dask cluster failed, not the input: its scheduler could not be reached or was
    lost, or its workers kept dying while running a task. Not bad input, so the CLI
    prints ``internal error: ClusterError: <message>`` and exits 3; what a stage finished
    before stays where it is (a rerun of ``augment`` resumes from it).

    Examples
    --------
    >>> isinstance(ClusterError("lost the scheduler"), ValueError)
    False
    """


def did_you_mean(name: object, options: Iterable[str]) -> str:
    """A hint for an unknown name: the closest option, else the known ones.

    >>> did_you_mean("HorizontalFlp", ["HorizontalFlip", "VerticalFlip"])
    " (did you mean 'HorizontalFlip'?)"
    >>> did_you_mean("zz", ["a", "b"])
    ' (known: a, b)'
    """
    import difflib

    options = list(options)
    close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if len(options) > 30:
        return f" ({len(options)} known names; see the docs)"
    return f" (known: {', '.join(options)})" if options else ""
