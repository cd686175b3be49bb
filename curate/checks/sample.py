"""The rows a model-based check fits on: the whole table in memory; on a partitioned table
every row when it has at most :data:`MAX_FIT_ROWS`, else a stratified sample of that many,
which the check's result states (:func:`sample_note`).

The sample does not depend on the partitioning: each row is ranked by a hash of its
position in the table, and each stratum (a class, a split) keeps its rows of lowest rank,
as many as its share of the rows gives it (largest remainders). Two passes: counts per
stratum, then each partition's candidates, at most the sample's size per partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.io.frames import ORDER, InMemory

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from curate.io.frames import Frame

#: Rows a model is fitted on, at most, when the table is partitioned (any number in memory).
MAX_FIT_ROWS = 100_000
#: Odd 64-bit constants of the rank hash (SplitMix64's finaliser).
_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
#: What stands for a missing stratum value.
_MISSING = "\x00"


def fit_rows(frame: "Frame", columns: list[str], strata: str | None = None,
             limit: int | None = None) -> tuple["pd.DataFrame", dict[str, Any] | None]:
    """``(rows, sample)``: the rows of ``columns`` to fit on, indexed as the table names them
    (a partitioned table: by position), and what was sampled (None: every row)."""
    if isinstance(frame, InMemory):
        return frame.df, None
    import pandas as pd

    limit = MAX_FIT_ROWS if limit is None else limit
    columns = list(dict.fromkeys(columns + [strata] * bool(strata)))
    n = frame.rows
    if n <= limit:
        return frame.reduce(lambda part: part, pd.concat, columns), None

    def stratum(part: "pd.DataFrame") -> "pd.Series":
        if not strata:
            return pd.Series(_MISSING, index=part.index)
        return part[strata].astype("string").fillna(_MISSING).astype(str)

    counts = frame.reduce(lambda part: stratum(part).value_counts(sort=False),
                          lambda pieces: pd.concat(pieces).groupby(level=0).sum(), columns)
    quota = _quotas(counts, limit)

    def first_of_each(rows: "pd.DataFrame") -> "pd.DataFrame":
        rows = rows.sort_values("_rank")
        return rows[rows.groupby("_stratum", sort=False).cumcount().to_numpy() < rows["_stratum"].map(quota).to_numpy()]

    def candidates(part: "pd.DataFrame") -> "pd.DataFrame":
        return first_of_each(part.assign(_stratum=stratum(part).to_numpy(), _rank=_rank(part[ORDER].to_numpy())))

    kept = first_of_each(frame.reduce(candidates, pd.concat, columns, order=True))
    sample = kept.sort_values(ORDER).set_index(ORDER).rename_axis(None)[columns]
    return sample, {"rows": len(sample), "of": n, "max_rows": limit, "stratified_by": strata}


def sample_note(sample: dict[str, Any] | None) -> str:
    """What a result's details add when the model saw a sample."""
    if sample is None:
        return ""
    by = f", stratified by {sample['stratified_by']}" if sample["stratified_by"] else ""
    return f"; fitted on a sample of {sample['rows']} of {sample['of']} rows{by} (at most {sample['max_rows']})"


def _quotas(counts: "pd.Series", limit: int) -> "pd.Series":
    """Rows per stratum summing to ``limit``: each its share, rounded by largest remainders."""
    import numpy as np
    import pandas as pd

    counts = counts.sort_index()
    share = counts.to_numpy(dtype=float) * limit / counts.sum()
    quota = np.floor(share).astype(int)
    quota[np.argsort(-(share - quota), kind="stable")[:limit - quota.sum()]] += 1
    return pd.Series(quota, index=counts.index)


def _rank(positions: "np.ndarray") -> "np.ndarray":
    """A hash of each position (SplitMix64): the order rows enter the sample in."""
    import numpy as np

    with np.errstate(over="ignore"):  # modulo 2**64 on purpose
        z = positions.astype(np.uint64) * np.uint64(_MIX[0])
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX[1])
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX[2])
    return z ^ (z >> np.uint64(31))
