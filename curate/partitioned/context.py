"""What a partitioned check sees, the registry partitioned checks plug into, and the
per-partition reduction they share.

A partitioned check has the name of an in-memory check (:mod:`curate.checks.base`) and
returns the same results, computed from one summary per partition: register it with
:func:`register_partitioned`. Which checks run, and which decide, is still the in-memory
registry's call (its ``asked`` and ``default``), so the two paths agree on that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from curate.checks.base import MAX_OFFENDERS, CheckResult
from curate.registry import Registry

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from curate.rules.schema import Rules


@dataclass
class PartitionedContext:
    """The usable rows (``status`` ok) of a partitioned table, index = position in the whole
    table (:func:`curate.partitioned.table.with_positions`); ``full``: every row."""

    ddf: "dd.DataFrame"
    rules: "Rules"
    label: str | None = None
    group: str | None = None
    split_col: str | None = None
    full: "dd.DataFrame | None" = None
    label_sep: str | None = None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.ddf.columns]


PartitionedCheckFn = Callable[[PartitionedContext], list[CheckResult]]

#: Partitioned implementations by check name; built-ins register on import.
PARTITIONED_CHECKS: Registry[PartitionedCheckFn] = Registry(
    "partitioned check", builtins=("curate.partitioned.checks", "curate.partitioned.split_checks"))


def register_partitioned(name: str) -> Callable[[PartitionedCheckFn], PartitionedCheckFn]:
    """Register the partitioned implementation of the in-memory check ``name``."""

    def wrap(fn: PartitionedCheckFn) -> PartitionedCheckFn:
        PARTITIONED_CHECKS.register(name, fn)
        return fn

    return wrap


def reduce_partitions(ddf: "dd.DataFrame", partial: Callable[["pd.DataFrame"], Any],
                      combine: Callable[[list[Any]], Any]) -> Any:
    """``combine([partial(p) for p in partitions])``, partitions in table order; ``partial``
    runs where the partitions are (threads or cluster workers), ``combine`` here."""
    import dask

    pieces = dask.compute(*[dask.delayed(partial)(p) for p in ddf.to_delayed()])
    return combine(list(pieces))


def first_names(ddf: "dd.DataFrame", mask: Callable[["pd.DataFrame"], "pd.Series"],
                limit: int = MAX_OFFENDERS) -> list[str]:
    """The first ``limit`` row names (``id``, else position) of the rows where ``mask``
    holds, in table order: as :meth:`CheckContext.ids` names them in memory."""
    from curate.checks.base import row_names

    def partial(part: "pd.DataFrame") -> list[str]:
        return row_names(part.loc[mask(part)]).head(limit).tolist()

    return reduce_partitions(ddf, partial, lambda pieces: [n for piece in pieces for n in piece][:limit])
