"""Tables larger than memory: ``dask.dataframe`` partitions, computed per partition and combined.

A Parquet dataset folder, a glob (``data/*.parquet``) or any table with ``--engine dask``
is read lazily (:mod:`curate.partitioned.table`); the column rules
(:mod:`curate.rules.evaluate`), the dataset checks (:mod:`curate.partitioned.checks`,
:mod:`curate.partitioned.split_checks`) and the split (:mod:`curate.partitioned.split`) each
reduce every partition to a small summary and combine the summaries, so memory is bounded
by the partition size, not the table size. Their results equal the in-memory path's on any
table that fits, whatever the partitioning. Which scheduler runs the graphs is the engine
layer's choice (:func:`curate.partitioned.table.engine_scope`): threads in this process, or
a Dask cluster.
"""
