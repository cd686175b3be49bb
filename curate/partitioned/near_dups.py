"""Near-duplicate images and texts across splits on a partitioned table: the searches of
:mod:`curate.checks.near_dups`, as Dask tasks.

Both searches bucket rows by keys: an image's perceptual hash cut into ``radius + 1``
chunks (multi-index hashing: two codes within ``radius`` bits agree on one chunk at
least), a text's MinHash signature cut into bands (LSH). So:

1. Each partition gives its rows' keys (one per chunk or band), each sent to one of ``R``
   bucket ranges by a hash of (chunk or band, key).
2. Each bucket range is one task: it gathers its keys from every partition and finds the
   pairs, across splits, among the rows that share a key. A pair whose rows agree on
   several chunks or bands is reported by the first of them only, so every pair comes out
   of exactly one task.
3. The pairs (few: they are the findings) are sorted here as the in-memory search sorts
   them; a last pass over the partitions names their rows (and, for texts, gives their
   signatures, whose share of equal values decides).

A task holds one partition's keys, or one bucket range's: :data:`RANGE_KEYS` at most on
average, whatever the size of the corpus. The pairs, their order and the unreadable files
are those of :func:`curate.checks.near_dups.near_duplicate_pairs` on the same table in
memory, whatever the partitioning.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from curate.checks.near_dups import (band_keys, bucket_pairs, chunk_keys, image_codes, pair_record, popcount,
                                     signature_similarity)
from curate.errors import CuraugError
from curate.io.hashes import minhash, shingles

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from curate.rules.schema import NearDuplicateRule

#: Keys (rows times chunks or bands) per bucket range on average: a few hundred bytes
#: each with the search's sort and index arrays, so a few hundred MB per task at most.
RANGE_KEYS = 1 << 20
#: LSH bands of a text signature, as :func:`curate.checks.near_dups.text_pairs` cuts them.
TEXT_BANDS = 16
#: Odd 64-bit constants of the key hash (Fibonacci hashing), spreading keys over the ranges.
_MIX_INDEX = np.uint64(0x9E3779B97F4A7C15)
_MIX_KEY = np.uint64(0xBF58476D1CE4E5B9)

Pieces = list[dict[str, np.ndarray]]


def near_duplicate_pairs_partitioned(ddf: "dd.DataFrame", split_col: str, rule: "NearDuplicateRule"
                                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """:func:`curate.checks.near_dups.near_duplicate_pairs` on ``ddf`` (index = position in
    the whole table, as :func:`curate.partitioned.table.open_table` gives it): the same
    near-duplicate image and text pairs across splits in the same order, and the names of
    the image rows whose files could not be read. Audio rows that the rule would compare
    are refused with one error line. Runs on the active engine
    (:func:`curate.partitioned.table.engine_scope`)."""
    from curate.partitioned.table import partition_lengths

    columns = [str(c) for c in ddf.columns]
    if split_col not in columns:
        raise CuraugError(f"split_col='{split_col}': no such column", param="split_col")
    media = "modality" in columns and {"root", "path"} <= set(columns)
    if rule.audio and media:
        _refuse_audio(ddf)
    rows = sum(partition_lengths(ddf))
    out: list[dict[str, Any]] = []
    unreadable: list[str] = []
    if rule.images and media:
        radius = rule.image_hamming
        missed, pairs = _search(ddf, functools.partial(_image_keys, split_col=split_col, radius=radius),
                                functools.partial(_image_accept, radius=radius), _ranges(rows, radius + 1))
        unreadable = [name for names in missed for name in names]
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0], pairs[:, 2]))]  # closest first, as in memory
        out += _records(ddf, split_col, "image", "hamming", pairs[:, 0], pairs[:, 1], pairs[:, 2])
    if rule.texts and "text" in columns:
        _, pairs = _search(ddf, functools.partial(_text_keys, split_col=split_col), _text_accept,
                           _ranges(rows, TEXT_BANDS))
        sig = _signatures(ddf, np.unique(pairs[:, :2]))
        sim = signature_similarity(np.array([sig[a] for a in pairs[:, 0]]), np.array([sig[b] for b in pairs[:, 1]]))
        keep = sim >= rule.text_similarity
        pairs, sim = pairs[keep], sim[keep]
        order = np.lexsort((pairs[:, 1], pairs[:, 0], -sim))  # most similar first, as in memory
        out += _records(ddf, split_col, "text", "similarity", pairs[order, 0], pairs[order, 1], sim[order])
    return out, unreadable


def _ranges(rows: int, keys_per_row: int) -> int:
    return max(1, -(-rows * keys_per_row // RANGE_KEYS))


def _refuse_audio(ddf: "dd.DataFrame") -> None:
    """One error line when the table holds audio rows (whose files the in-memory search
    reads and compares): audio is not searched partition-wise."""
    from curate.partitioned.context import reduce_partitions

    def count(part: "pd.DataFrame") -> int:
        return int(((part["modality"].astype(str) == "audio") & part["path"].notna()).sum())

    if reduce_partitions(ddf[["modality", "path"]], count, sum):
        raise CuraugError("near duplicates of audio rows are not searched on a partitioned table yet; set "
                          "near_duplicates.audio: false in the rules, or validate a sample that fits in memory "
                          "(one file, --engine local)", param="rule")


# ------------------------------------------------------------- the search


def _search(ddf: "dd.DataFrame", keys_of: Callable, accept_of: Callable, ranges: int
            ) -> tuple[list[Any], np.ndarray]:
    """``(what keys_of says of each partition besides its keys, pairs)``: ``pairs`` rows
    ``(position a, position b, measure)``, ``a < b``, found by the bucket-range tasks."""
    import dask

    keyed = [dask.delayed(_cut, nout=2)(part, keys_of, ranges) for part in ddf.to_delayed()]
    found = [dask.delayed(_range_pairs)([keys[1][r] for keys in keyed], accept_of) for r in range(ranges)]
    said, pairs = dask.compute([keys[0] for keys in keyed], found)
    return list(said), np.concatenate(pairs) if pairs else np.empty((0, 3), dtype=np.int64)


def _cut(part: "pd.DataFrame", keys_of: Callable, ranges: int) -> tuple[Any, Pieces]:
    """The partition's keys, cut into ``ranges`` bucket ranges by a hash of (index, key)."""
    said, rows, index, key, fields = keys_of(part)
    with np.errstate(over="ignore"):  # the hash multiplies modulo 2**64 on purpose
        mixed = (key ^ (index.astype(np.uint64) * _MIX_INDEX)) * _MIX_KEY
    bucket = (mixed >> np.uint64(32)) % np.uint64(ranges)
    order = np.argsort(bucket, kind="stable")
    starts = np.searchsorted(bucket[order], np.arange(ranges + 1, dtype=np.uint64))
    pieces = []
    for r in range(ranges):
        take = order[starts[r]:starts[r + 1]]
        member = rows[take]
        pieces.append({"index": index[take], "key": key[take], **{k: v[member] for k, v in fields.items()}})
    return said, pieces


def _range_pairs(pieces: Pieces, accept_of: Callable) -> np.ndarray:
    """``(position a, position b, measure)`` rows, ``a < b``, of the rows from different
    splits that share a key of this bucket range and pass ``accept_of``'s test, each pair
    from the first index (chunk or band) its rows agree on."""
    field = {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]} if pieces else {}
    found = [np.empty((0, 3), dtype=np.int64)]
    for c in np.unique(field.get("index", [])):
        mine = {name: values[field["index"] == c] for name, values in field.items()}
        accept, measure = accept_of(mine, int(c))
        i, j = bucket_pairs([mine["key"]], mine["split"], accept)
        a, b = mine["position"][i], mine["position"][j]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b), measure(i, j)], axis=1).astype(np.int64))
    return np.concatenate(found)


def _records(ddf: "dd.DataFrame", split_col: str, kind: str, measure: str, a: np.ndarray, b: np.ndarray,
             value: np.ndarray) -> list[dict[str, Any]]:
    rows = _named(ddf, split_col, np.unique(np.concatenate([a, b])))
    return [pair_record(kind, measure, [rows[x][0], rows[y][0]], [rows[x][1], rows[y][1]], v)
            for x, y, v in zip(a.tolist(), b.tolist(), value.tolist())]


def _named(ddf: "dd.DataFrame", split_col: str, positions: np.ndarray) -> dict[int, tuple[str, str]]:
    """``position -> (row name, split)`` for the given rows, read from their partitions."""
    from curate.checks.base import row_names
    from curate.partitioned.context import reduce_partitions

    if len(positions) == 0:
        return {}

    def partial(part: "pd.DataFrame") -> list[tuple[int, str, str]]:
        rows = part[np.isin(part.index.to_numpy(dtype=np.int64), positions)]
        return list(zip(rows.index.tolist(), row_names(rows).tolist(), rows[split_col].astype(str).tolist()))

    wanted = [c for c in ("id", split_col) if c in ddf.columns]
    found = reduce_partitions(ddf[wanted], partial, lambda pieces: [row for piece in pieces for row in piece])
    return {position: (name, split) for position, name, split in found}


# ------------------------------------------------------------- images


def _image_keys(part: "pd.DataFrame", split_col: str, radius: int):
    """The partition's unreadable image rows (names), and its image rows' chunk keys: row,
    chunk and key of each, with each row's position, split and code."""
    from curate.checks.base import row_names

    idx, codes, missed = image_codes(part, part["modality"].astype(str).to_numpy())
    keys = chunk_keys(codes, radius)
    fields = {"position": part.index.to_numpy(dtype=np.int64)[idx], "code": codes,
              "split": np.asarray(part[split_col].astype(str).to_numpy()[idx], dtype=str)}
    return (row_names(part.iloc[missed]).tolist(), np.tile(np.arange(len(codes)), len(keys)),
            np.repeat(np.arange(len(keys), dtype=np.int8), len(codes)), np.concatenate(keys), fields)


def _image_accept(mine: dict[str, np.ndarray], chunk: int, radius: int):
    """Codes within ``radius`` bits whose first agreeing chunk is ``chunk``; their distance."""
    code = mine["code"]

    def accept(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        differ = code[a] ^ code[b]
        first = np.argmax(np.stack([k == 0 for k in chunk_keys(differ, radius)]), axis=0)
        return (popcount(differ) <= radius) & (first == chunk)

    return accept, lambda i, j: popcount(code[i] ^ code[j])


# ------------------------------------------------------------- texts


def _text_keys(part: "pd.DataFrame", split_col: str):
    """The partition's text rows' band keys: row, band and key of each, with each row's
    position, split and every band key (to tell the first band a pair agrees on)."""
    idx = np.flatnonzero(part["text"].notna().to_numpy())
    sig = minhash(shingles(t) for t in part["text"].iloc[idx].astype(str).tolist())
    keys = band_keys(sig, TEXT_BANDS) if len(idx) else [np.empty(0, dtype=np.uint64)] * TEXT_BANDS
    fields = {"position": part.index.to_numpy(dtype=np.int64)[idx], "bands": np.stack(keys, axis=1),
              "split": np.asarray(part[split_col].astype(str).to_numpy()[idx], dtype=str)}
    return (None, np.tile(np.arange(len(idx)), TEXT_BANDS), np.repeat(np.arange(TEXT_BANDS, dtype=np.int8), len(idx)),
            np.concatenate(keys), fields)


def _text_accept(mine: dict[str, np.ndarray], band: int):
    """Texts whose first agreeing band is ``band``; similarity is decided later, from the
    signatures."""
    bands = mine["bands"]

    def accept(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.argmax(bands[a] == bands[b], axis=1) == band

    return accept, lambda i, j: np.zeros(len(i), dtype=np.int64)


def _signatures(ddf: "dd.DataFrame", positions: np.ndarray) -> dict[int, np.ndarray]:
    """``position -> MinHash signature`` of the given text rows, from their partitions."""
    from curate.partitioned.context import reduce_partitions

    if len(positions) == 0:
        return {}

    def partial(part: "pd.DataFrame") -> list[tuple[int, np.ndarray]]:
        rows = part[np.isin(part.index.to_numpy(dtype=np.int64), positions)]
        sig = minhash(shingles(t) for t in rows["text"].astype(str).tolist())
        return list(zip(rows.index.tolist(), sig))

    return dict(reduce_partitions(ddf[["text"]], partial, lambda pieces: [row for piece in pieces for row in piece]))
