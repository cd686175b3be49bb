"""One table, whatever holds it: a DataFrame in memory or a partitioned dask DataFrame.

A check or a column rule is written once, as a reduction (Dask's ``Aggregation`` shape):
what one partition yields (``partial``), how the partial results merge (``combine``), and
a finisher that turns the merged summary into a result. :class:`Frame` runs such a
reduction: :class:`InMemory` on its one partition, :class:`Partitioned` on every partition
where it lies (threads here or cluster workers). Work that must see every row of a key
together (repeated values, groups) goes through :meth:`Frame.by_key`: the whole table in
memory, hash pieces after a shuffle on a partitioned table; work keyed by something else
than a column (the buckets of a near-duplicate search) through :meth:`Frame.exchange`.
Rows are ordered and named the same way on both: ``order`` is the row's position in the
whole table, its name the ``id`` column, else its index label (a partitioned table's index
is the position). A partial reads only the ``columns`` it names: a partitioned table reads
nothing else from its files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

#: The column that carries a row's position (:meth:`Frame.by_key`, :meth:`Frame.exchange`,
#: :meth:`Frame.reduce` with ``order``).
ORDER = "__curaug_order"


def row_names(df: "pd.DataFrame") -> "pd.Series":
    """How results name rows: the ``id`` column, else the row labels, as strings."""
    return (df["id"] if "id" in df.columns else df.index.to_series(index=df.index)).astype(str)


class Frame:
    """What checks read a table through (see the module docstring)."""

    #: The columns and dtypes (an empty DataFrame), with the table's ``attrs``.
    meta: "pd.DataFrame"

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.meta.columns]

    @property
    def npartitions(self) -> int:
        return 1

    def reduce(self, partial: Callable[["pd.DataFrame"], Any], combine: Callable[[list[Any]], Any],
               columns: Sequence[str] | None = None, order: bool = False) -> Any:
        """``combine([partial(p) for p in partitions])``, partitions in table order (with
        ``order``, each partition gets its rows' positions in :data:`ORDER`)."""
        raise NotImplementedError

    def reduce_tree(self, partial: Callable[["pd.DataFrame"], Any], add: Callable[[list[Any]], Any],
                    columns: Sequence[str] | None = None, fan_in: int = 8) -> Any:
        """:meth:`reduce` for partials too large to hold all at once (histograms, values):
        ``add`` merges a few partials into one partial, ``fan_in`` at a time, where the
        partitions are; one partition's partial is the answer as it is."""
        raise NotImplementedError

    def by_key(self, prepare: Callable[["pd.DataFrame"], "pd.DataFrame"], key: str,
               then: Callable[["pd.DataFrame"], Any], columns: Sequence[str] | None = None) -> list[Any]:
        """``then(piece)`` for pieces that each hold every row of the key values they hold:
        ``prepare`` cuts each partition down to what travels (it gets the rows with their
        position in :data:`ORDER`, and must keep ``key``)."""
        raise NotImplementedError

    def exchange(self, cut: Callable[["pd.DataFrame"], tuple[Any, list[Any]]], ranges: int,
                 gather: Callable[[list[Any]], Any], columns: Sequence[str] | None = None) -> tuple[list, list]:
        """``(said, gathered)``: ``cut(partition)`` (its rows' positions in :data:`ORDER`)
        gives what it says of the partition and ``ranges`` pieces of it; ``gather`` runs once
        per range on that range's piece of every partition (in table order). ``said`` lists
        the partitions' words in table order, ``gathered`` the ranges' answers in range order."""
        raise NotImplementedError

    def filter(self, keep: Callable[["pd.DataFrame"], Any]) -> "Frame":
        """The rows where ``keep(partition)`` holds, with their positions and names."""
        raise NotImplementedError

    def map(self, fn: Callable[["pd.DataFrame"], "pd.DataFrame"], meta: "pd.DataFrame") -> "Frame":
        """``fn`` on every partition, which keeps its rows and their index and gives
        columns as ``meta`` (an empty frame) says."""
        raise NotImplementedError

    def names_at(self, orders: Sequence[int]) -> list:
        """How results name the rows at these positions: ``id``, else the index label."""
        raise NotImplementedError

    def first_names(self, mask: Callable[["pd.DataFrame"], "pd.Series"], limit: int,
                    columns: Sequence[str] | None = None) -> list[str]:
        """The names of the first ``limit`` rows where ``mask`` holds, in table order
        (``mask`` reads ``columns``: every column when None)."""
        return self.reduce(lambda part: row_names(part.loc[mask(part)]).head(limit).tolist(),
                           lambda pieces: [n for piece in pieces for n in piece][:limit],
                           None if columns is None else self.named(*columns))

    def named(self, *columns: str) -> list[str]:
        """``columns`` and the ``id`` column that names rows, where the table has one (at
        least one column: without ids rows are named by their index)."""
        names = list(dict.fromkeys([*(["id"] if "id" in self.columns else []), *columns]))
        return names or self.columns[:1]

    @property
    def rows(self) -> int:
        return self.reduce(len, sum, self.columns[:1])

    @property
    def rows_bound(self) -> int:
        """At least :attr:`rows`, known without reading where :attr:`rows` is not (a
        filtered partitioned table: the rows before the filter)."""
        return self.rows


class InMemory(Frame):
    """A DataFrame: one partition, no shuffle."""

    def __init__(self, df: "pd.DataFrame") -> None:
        self.df = df
        self.meta = df.iloc[:0]

    def _part(self, columns, order=False):
        import numpy as np

        part = self.df if columns is None else self.df[list(columns)]
        return part.assign(**{ORDER: np.arange(len(part))}) if order else part

    def reduce(self, partial, combine, columns=None, order=False):
        return combine([partial(self._part(columns, order))])

    def reduce_tree(self, partial, add, columns=None, fan_in=8):
        return partial(self._part(columns))

    def by_key(self, prepare, key, then, columns=None):
        return [then(prepare(self._part(columns, order=True)))]

    def exchange(self, cut, ranges, gather, columns=None):
        said, pieces = cut(self._part(columns, order=True))
        return [said], [gather([pieces[r]]) for r in range(ranges)]

    def filter(self, keep):
        return InMemory(self.df[keep(self.df)])

    def map(self, fn, meta):
        return InMemory(fn(self.df))

    def names_at(self, orders):
        names = self.df["id"] if "id" in self.df.columns else self.df.index.to_series()
        return names.iloc[list(orders)].tolist()

    @property
    def rows(self) -> int:
        return len(self.df)


class Partitioned(Frame):
    """A dask DataFrame whose index is each row's position in the whole table
    (:func:`curate.partitioned.table.with_positions`); ``lengths``, its rows per partition
    where known without reading them (:func:`curate.partitioned.table.open_frame` has them
    from the Parquet footers)."""

    def __init__(self, ddf: "dd.DataFrame", lengths: Sequence[int] | None = None, bound: int | None = None) -> None:
        self.ddf = ddf
        self.meta = ddf._meta
        self.lengths = None if lengths is None else [int(n) for n in lengths]
        self.bound = bound

    @property
    def npartitions(self) -> int:
        return self.ddf.npartitions

    def _frame(self, columns):
        return self.ddf if columns is None else self.ddf[list(columns)]

    def reduce(self, partial, combine, columns=None, order=False):
        import dask

        work = _with_order(partial) if order else partial
        return combine(list(dask.compute(*[dask.delayed(work)(p) for p in self._frame(columns).to_delayed()])))

    def reduce_tree(self, partial, add, columns=None, fan_in=8):
        import dask

        level = [dask.delayed(partial)(p) for p in self._frame(columns).to_delayed()]
        while len(level) > 1:
            level = [dask.delayed(add)(level[i:i + fan_in]) for i in range(0, len(level), fan_in)]
        return dask.compute(level[0])[0]

    def by_key(self, prepare, key, then, columns=None):
        import dask

        frame = self.ddf if columns is None else self.ddf[list(columns)]

        travel = _with_order(prepare)
        meta = travel(frame._meta)
        pieces = frame.map_partitions(travel, meta=meta).shuffle(on=key, npartitions=max(frame.npartitions, 1))
        return list(dask.compute(*[dask.delayed(then)(p) for p in pieces.to_delayed()]))

    def exchange(self, cut, ranges, gather, columns=None):
        import dask

        pieces = [dask.delayed(_with_order(cut), nout=2)(part) for part in self._frame(columns).to_delayed()]
        gathered = [dask.delayed(gather)([piece[1][r] for piece in pieces]) for r in range(ranges)]
        said, gathered = dask.compute([piece[0] for piece in pieces], gathered)
        return list(said), list(gathered)

    def filter(self, keep):
        bound = sum(self.lengths) if self.lengths is not None else self.bound
        return Partitioned(self.ddf.map_partitions(lambda part: part[keep(part)], meta=self.meta), bound=bound)

    def map(self, fn, meta):
        return Partitioned(self.ddf.map_partitions(fn, meta=meta), self.lengths, self.bound)

    @property
    def rows(self) -> int:
        if self.lengths is None:
            self.lengths = self.reduce(lambda part: [len(part)], lambda pieces: [n for p in pieces for n in p],
                                       self.columns[:1])
        return sum(self.lengths)

    @property
    def rows_bound(self) -> int:
        if self.lengths is None and self.bound is not None:
            return self.bound
        return self.rows

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


def _with_order(fn: Callable[["pd.DataFrame"], Any]) -> Callable[["pd.DataFrame"], Any]:
    """``fn`` given a partition with its rows' positions (its index) in :data:`ORDER`."""

    def work(part: "pd.DataFrame") -> Any:
        return fn(part.assign(**{ORDER: part.index.to_numpy()}))

    return work


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
