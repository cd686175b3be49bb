"""Near-duplicate images across splits on a partitioned table: the multi-index Hamming
search of :mod:`curate.checks.near_dups`, as Dask tasks.

1. Each partition gives its image rows' perceptual hashes (from the ``phash`` column, else
   from the files) and cuts every code into the ``radius + 1`` chunks that multi-index
   hashing buckets by; each (chunk, value) key goes to one of ``R`` bucket ranges by a
   hash of the key.
2. Each bucket range is one task: it gathers its keys from every partition and finds the
   pairs within ``radius`` bits, across splits, among the codes that share a key. A pair
   whose codes agree on several chunks is reported by the first of them only, so every
   pair comes out of exactly one task.
3. The pairs (few: they are the findings) are sorted here as the in-memory search sorts
   them, and a last pass over the partitions names their rows.

A task holds one partition's keys, or one bucket range's: :data:`RANGE_KEYS` at most on
average, whatever the size of the corpus. The pairs, their order and the unreadable files
are those of :func:`curate.checks.near_dups.near_duplicate_pairs` on the same table in
memory, whatever the partitioning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.checks.near_dups import bucket_pairs, chunk_keys, image_codes, pair_record, popcount
from curate.errors import CuraugError

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from curate.rules.schema import NearDuplicateRule

#: Keys (rows times ``radius + 1``) per bucket range on average: about 50 bytes each, with
#: the search's sort and index arrays a few hundred MB per task at most.
RANGE_KEYS = 1 << 21
#: Odd 64-bit constants of the key hash (Fibonacci hashing), spreading keys over the ranges.
_MIX_CHUNK = np.uint64(0x9E3779B97F4A7C15)
_MIX_KEY = np.uint64(0xBF58476D1CE4E5B9)


def near_duplicate_pairs_partitioned(ddf: "dd.DataFrame", split_col: str, rule: "NearDuplicateRule"
                                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """:func:`curate.checks.near_dups.near_duplicate_pairs` on ``ddf`` (index = position in
    the whole table, as :func:`curate.partitioned.table.open_table` gives it): the same
    near-duplicate image pairs across splits in the same order, and the names of the image
    rows whose files could not be read. Text and audio rows that the rule would compare
    are refused with one error line. Runs on the active engine
    (:func:`curate.partitioned.table.engine_scope`)."""
    import dask

    from curate.partitioned.table import partition_lengths

    if split_col not in ddf.columns:
        raise CuraugError(f"split_col='{split_col}': no such column", param="split_col")
    _refuse_other_kinds(ddf, rule)
    columns = [str(c) for c in ddf.columns]
    if not rule.images or "modality" not in columns or not {"root", "path"} <= set(columns):
        return [], []
    radius = rule.image_hamming
    ranges = max(1, -(-sum(partition_lengths(ddf)) * (radius + 1) // RANGE_KEYS))
    keyed = [dask.delayed(_partition_keys, nout=2)(part, split_col, radius, ranges) for part in ddf.to_delayed()]
    found = [dask.delayed(_range_pairs)([keys[1][r] for keys in keyed], radius) for r in range(ranges)]
    unreadable, pairs = dask.compute([keys[0] for keys in keyed], found)
    pairs = np.concatenate(pairs) if pairs else np.empty((0, 3), dtype=np.int64)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0], pairs[:, 2]))]  # as the in-memory search: closest first
    rows = _named(ddf, split_col, np.unique(pairs[:, :2]))
    out = [pair_record("image", "hamming", [rows[a][0], rows[b][0]], [rows[a][1], rows[b][1]], d)
           for a, b, d in pairs.tolist()]
    return out, [name for names in unreadable for name in names]


def _refuse_other_kinds(ddf: "dd.DataFrame", rule: "NearDuplicateRule") -> None:
    """One error line when the rule would compare texts or audio clips (not searched
    partition-wise): two texts or more, or one audio row (whose file the search reads)."""
    from curate.partitioned.context import reduce_partitions

    columns = [str(c) for c in ddf.columns]
    texts = rule.texts and "text" in columns
    audio = rule.audio and "modality" in columns and {"root", "path"} <= set(columns)
    if not (texts or audio):
        return

    def count(part: "pd.DataFrame") -> tuple[int, int]:
        n_texts = int(part["text"].notna().sum()) if texts else 0
        n_audio = int(((part["modality"].astype(str) == "audio") & part["path"].notna()).sum()) if audio else 0
        return n_texts, n_audio

    wanted = (["text"] if texts else []) + (["modality", "path"] if audio else [])
    n_texts, n_audio = reduce_partitions(ddf[wanted], count, lambda pieces: tuple(map(sum, zip(*pieces))))
    kinds = [kind for kind, n, least in (("text", n_texts, 2), ("audio", n_audio, 1)) if n >= least]
    if kinds:
        flags = " and ".join(f"near_duplicates.{'texts' if k == 'text' else 'audio'}: false" for k in kinds)
        raise CuraugError(f"near duplicates of {' and '.join(kinds)} rows are not searched on a partitioned table "
                          f"yet; set {flags} in the rules, or validate a sample that fits in memory "
                          "(one file, --engine local)", param="rule")


def _partition_keys(part: "pd.DataFrame", split_col: str, radius: int, ranges: int
                    ) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """The names of the partition's unreadable image rows, and its image rows' chunk keys
    cut into ``ranges`` bucket ranges (position, chunk, key, code and split of each)."""
    from curate.checks.base import row_names

    modality = part["modality"].astype(str).to_numpy()
    idx, codes, missed = image_codes(part, modality)
    unreadable = row_names(part.iloc[missed]).tolist() if missed else []
    positions = part.index.to_numpy(dtype=np.int64)[idx]
    splits = np.asarray(part[split_col].astype(str).to_numpy()[idx], dtype=str)
    keys = chunk_keys(codes, radius)
    chunk = np.repeat(np.arange(len(keys), dtype=np.int8), len(codes))
    key = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):  # the hash multiplies modulo 2**64 on purpose
        mixed = (key ^ (chunk.astype(np.uint64) * _MIX_CHUNK)) * _MIX_KEY
    bucket = (mixed >> np.uint64(32)) % np.uint64(ranges)
    rows = np.tile(np.arange(len(codes)), len(keys))
    pieces = []
    for r in range(ranges):
        take = np.flatnonzero(bucket == np.uint64(r))
        member = rows[take]
        pieces.append({"position": positions[member], "chunk": chunk[take], "key": key[take],
                       "code": codes[member], "split": splits[member]})
    return unreadable, pieces


def _range_pairs(pieces: list[dict[str, np.ndarray]], radius: int) -> np.ndarray:
    """``(position a, position b, distance)`` rows, ``a < b``, of the code pairs within
    ``radius`` bits from different splits that share a key of this bucket range, each
    from the first chunk their codes agree on."""
    if not pieces:
        return np.empty((0, 3), dtype=np.int64)
    field = {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}
    found = []
    for c in np.unique(field["chunk"]):
        mine = np.flatnonzero(field["chunk"] == c)
        code = field["code"][mine]

        def accept(a: np.ndarray, b: np.ndarray, code=code, c=int(c)) -> np.ndarray:
            differ = code[a] ^ code[b]
            agree = np.stack([k == 0 for k in chunk_keys(differ, radius)])
            return (popcount(differ) <= radius) & (np.argmax(agree, axis=0) == c)

        i, j = bucket_pairs([field["key"][mine]], field["split"][mine], accept)
        a, b = field["position"][mine][i], field["position"][mine][j]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b), popcount(code[i] ^ code[j])], axis=1))
    return np.concatenate(found).astype(np.int64) if found else np.empty((0, 3), dtype=np.int64)


def _named(ddf: "dd.DataFrame", split_col: str, positions: np.ndarray) -> dict[int, tuple[str, str]]:
    """``position -> (row name, split)`` for the given rows, read from their partitions."""
    from curate.checks.base import row_names
    from curate.partitioned.context import reduce_partitions

    if len(positions) == 0:
        return {}
    wanted = [c for c in ("id", split_col) if c in ddf.columns]

    def partial(part: "pd.DataFrame") -> list[tuple[int, str, str]]:
        rows = part[np.isin(part.index.to_numpy(dtype=np.int64), positions)]
        return list(zip(rows.index.tolist(), row_names(rows).tolist(), rows[split_col].astype(str).tolist()))

    found = reduce_partitions(ddf[wanted], partial, lambda pieces: [row for piece in pieces for row in piece])
    return {position: (name, split) for position, name, split in found}
