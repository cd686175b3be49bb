""":func:`reduce_partitions`, which the partitioned split (:mod:`curate.partitioned.split`)
still reads partitions through; checks read tables through :class:`curate.io.frames.Frame`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd


def reduce_partitions(ddf: "dd.DataFrame", partial: Callable[["pd.DataFrame"], Any],
                      combine: Callable[[list[Any]], Any]) -> Any:
    """``combine([partial(p) for p in partitions])``, partitions in table order
    (:meth:`curate.io.frames.Frame.reduce`)."""
    from curate.io.frames import Partitioned

    return Partitioned(ddf).reduce(partial, combine)
