"""One table, whatever holds it: a DataFrame in memory or a partitioned dask DataFrame.

A check or a column rule is written once, as a reduction (Dask's ``Aggregation`` shape):
what one partition yields (``partial``), how the partial results merge (``combine``), and
a finisher that turns the merged summary into a result. :class:`Frame` runs such a
reduction: :class:`InMemory` on its one partition, :class:`Partitioned` on every partition
where it lies (threads here or cluster workers). Work that must see every row of a key
together (repeated values, groups) goes through :meth:`Frame.by_key`: the whole table in
memory, hash pieces after a shuffle on a partitioned table. Rows are ordered and named
the same way on both: ``order`` is the row's position in the whole table, its name the
``id`` column, else its index label (a partitioned table's index is the position).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

#: The column that carries a row's position through :meth:`Frame.by_key`.
ORDER = "__curaug_order"


class Frame:
    """What checks read a table through (see the module docstring)."""

    #: The columns and dtypes (an empty DataFrame), with the table's ``attrs``.
    meta: "pd.DataFrame"

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.meta.columns]

    def reduce(self, partial: Callable[["pd.DataFrame"], Any], combine: Callable[[list[Any]], Any],
               columns: Sequence[str] | None = None) -> Any:
        """``combine([partial(p) for p in partitions])``, partitions in table order."""
        raise NotImplementedError

    def by_key(self, prepare: Callable[["pd.DataFrame"], "pd.DataFrame"], key: str,
               then: Callable[["pd.DataFrame"], Any], columns: Sequence[str] | None = None) -> list[Any]:
        """``then(piece)`` for pieces that each hold every row of the key values they hold:
        ``prepare`` cuts each partition down to what travels (it gets the rows with their
        position in :data:`ORDER`, and must keep ``key``)."""
        raise NotImplementedError

    def names_at(self, orders: Sequence[int]) -> list:
        """How results name the rows at these positions: ``id``, else the index label."""
        raise NotImplementedError

    def first_names(self, mask: Callable[["pd.DataFrame"], "pd.Series"], limit: int) -> list[str]:
        """The names of the first ``limit`` rows where ``mask`` holds, in table order."""
        from curate.checks.base import row_names

        return self.reduce(lambda part: row_names(part.loc[mask(part)]).head(limit).tolist(),
                           lambda pieces: [n for piece in pieces for n in piece][:limit])

    @property
    def rows(self) -> int:
        return self.reduce(len, sum)


class InMemory(Frame):
    """A DataFrame: one partition, no shuffle."""

    def __init__(self, df: "pd.DataFrame") -> None:
        self.df = df
        self.meta = df.iloc[:0]

    def reduce(self, partial, combine, columns=None):
        return combine([partial(self.df if columns is None else self.df[list(columns)])])

    def by_key(self, prepare, key, then, columns=None):
        import numpy as np

        part = self.df if columns is None else self.df[list(columns)]
        return [then(prepare(part.assign(**{ORDER: np.arange(len(part))})))]

    def names_at(self, orders):
        names = self.df["id"] if "id" in self.df.columns else self.df.index.to_series()
        return names.iloc[list(orders)].tolist()

    @property
    def rows(self) -> int:
        return len(self.df)


class Partitioned(Frame):
    """A dask DataFrame whose index is each row's position in the whole table
    (:func:`curate.partitioned.table.with_positions`)."""

    def __init__(self, ddf: "dd.DataFrame") -> None:
        self.ddf = ddf
        self.meta = ddf._meta

    def reduce(self, partial, combine, columns=None):
        import dask

        frame = self.ddf if columns is None else self.ddf[list(columns)]
        return combine(list(dask.compute(*[dask.delayed(partial)(p) for p in frame.to_delayed()])))

    def by_key(self, prepare, key, then, columns=None):
        import dask

        frame = self.ddf if columns is None else self.ddf[list(columns)]

        def travel(part: "pd.DataFrame") -> "pd.DataFrame":
            return prepare(part.assign(**{ORDER: part.index.to_numpy()}))

        meta = travel(frame._meta)
        pieces = frame.map_partitions(travel, meta=meta).shuffle(on=key, npartitions=max(frame.npartitions, 1))
        return list(dask.compute(*[dask.delayed(then)(p) for p in pieces.to_delayed()]))

    def names_at(self, orders):
        if not len(orders):
            return []
        if "id" not in self.columns:
            return list(orders)
        wanted = list(orders)

        def partial(part: "pd.DataFrame") -> dict:
            hit = part.index.isin(wanted)
            return dict(zip(part.index[hit].tolist(), part.loc[hit, "id"].tolist()))

        found = self.reduce(partial, lambda pieces: {k: v for d in pieces for k, v in d.items()}, ["id"])
        return [found[o] for o in wanted]


def frame_of(data: "pd.DataFrame | dd.DataFrame | Frame") -> Frame:
    """``data`` as a :class:`Frame` (a dask DataFrame must carry positions as its index)."""
    import pandas as pd

    if isinstance(data, Frame):
        return data
    if isinstance(data, pd.DataFrame):
        return InMemory(data)
    return Partitioned(data)


def order_of(part: "pd.DataFrame") -> "np.ndarray":
    """The positions :meth:`Frame.by_key` gave the rows of a piece."""
    return part[ORDER].to_numpy()
