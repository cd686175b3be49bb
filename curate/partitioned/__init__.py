"""Tables larger than memory: reading a table as ``dask.dataframe`` partitions, writing one.

A Parquet dataset folder, a glob (``data/*.parquet``) or any table with ``--engine dask``
is read lazily (:mod:`curate.partitioned.table`) as a :class:`curate.io.frames.Partitioned`
frame. The column rules (:mod:`curate.rules.evaluate`) and the checks (:mod:`curate.checks`)
are reductions over any frame, written once: each partition gives a small summary where it
is and the summaries combine, so memory is bounded by the partition size, not the table
size, and the results equal the in-memory path's on any table that fits, whatever the
partitioning. The split (:mod:`curate.split.partitioned`) runs in passes over the
partitions and writes a dataset folder (:mod:`curate.partitioned.write`). Which scheduler
runs the graphs is the engine layer's choice (:func:`curate.partitioned.table.engine_scope`):
threads in this process, or a Dask cluster.
"""
