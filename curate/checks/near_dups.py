"""Near-duplicate detection across splits: images, texts and audio.

- Images: a 64-bit perceptual hash (pHash: DCT of a 32x32 grey thumbnail, the 8x8 lowest
  frequencies against their median), compared by Hamming distance.
- Audio: Haitsma-Kalker frame fingerprints (32 bits per hop), compared by bit error rate
  over small time shifts; candidates come from a 64-bit summary. Robust to gain and mild
  noise: a copy at -3 dB with added noise reads ~1% bit errors, two renderings of one
  word by a speech synthesiser 4% or more.
- Texts: MinHash signatures of character 5-gram shingles with LSH banding; candidate pairs
  are confirmed by their exact Jaccard similarity.

Hamming search uses multi-index hashing: a 64-bit code is cut into ``radius + 1`` chunks,
and two codes within ``radius`` bits agree exactly on at least one chunk (pigeonhole), so
only codes sharing a chunk are compared. 100k images compare in about a second instead of
5e9 pairs.

Files that cannot be read (moved or damaged since ingest) cannot be compared: they are
counted, and the check says how many were left out of the search.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from curate.errors import CuraugError
from curate.io.frames import ORDER, frame_of
from curate.io.hashes import audio_fingerprint, minhash, phash, shingles

if TYPE_CHECKING:
    import pandas as pd

    from curate.io.frames import Frame
    from curate.rules.schema import NearDuplicateRule


def frame_bit_error(a: np.ndarray, b: np.ndarray, max_shift: float = 0.1) -> float:
    """Smallest fraction of differing fingerprint bits over time shifts of up to ``max_shift``
    of the clip (with at least 80% of the shorter clip overlapping)."""
    shortest = min(a.shape[1], b.shape[1])
    if shortest == 0:
        return 1.0
    reach = max(1, int(max_shift * max(a.shape[1], b.shape[1])))
    best = 1.0
    for k in range(-reach, reach + 1):
        x, y = a[:, max(0, k):], b[:, max(0, -k):]
        n = min(x.shape[1], y.shape[1])
        if n >= 0.8 * shortest:
            best = min(best, float((x[:, :n] != y[:, :n]).mean()))
    return best


def audio_pairs(fingerprints: list[tuple[int, np.ndarray]], max_ber: float = 0.03, split: np.ndarray | None = None,
                candidate_radius: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, bit error rate)`` of clips whose frame fingerprints differ in at most
    ``max_ber`` of their bits; candidates come from the summaries within ``candidate_radius``."""
    summaries = np.array([f[0] for f in fingerprints], dtype=np.uint64)
    i, j, _ = hamming_pairs(summaries, candidate_radius, split)
    err = np.array([frame_bit_error(fingerprints[a][1], fingerprints[b][1]) for a, b in zip(i, j)])
    keep = err <= max_ber
    return i[keep], j[keep], err[keep] if len(err) else np.array([], dtype=float)


#: Set bits of every byte value: popcount where numpy < 2 has no ``bitwise_count``.
_BYTE_BITS = np.array([bin(b).count("1") for b in range(256)], dtype=np.uint8)


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each 64-bit value (``np.bitwise_count`` on numpy >= 2, a byte table before).

    >>> popcount(np.array([0, 1, 0xFF, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 8, 64]
    """
    x = np.ascontiguousarray(x, dtype=np.uint64)
    count = getattr(np, "bitwise_count", None)
    if count is not None:
        return count(x).astype(np.int64)
    return popcount_by_table(x)


def popcount_by_table(x: np.ndarray) -> np.ndarray:
    """:func:`popcount` from a 256-entry table of byte bit counts (any numpy)."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    return _BYTE_BITS[x.view(np.uint8)].reshape(x.shape + (8,)).sum(axis=-1, dtype=np.int64)


def hamming_pairs(codes: np.ndarray, radius: int, split: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``(i, j, distance)``, ``i < j``, of 64-bit codes within ``radius`` bits
    (only pairs from different splits when ``split`` is given)."""
    codes = np.asarray(codes, dtype=np.uint64)
    i, j = bucket_pairs(chunk_keys(codes, radius), split, lambda a, b: popcount(codes[a] ^ codes[b]) <= radius)
    return i, j, popcount(codes[i] ^ codes[j]).astype(int)


def chunk_keys(codes: np.ndarray, radius: int) -> list[np.ndarray]:
    """The ``radius + 1`` chunks of each 64-bit code that multi-index hashing buckets by:
    two codes within ``radius`` bits agree on at least one of them.

    >>> [k.tolist() for k in chunk_keys(np.array([0xFF00], dtype=np.uint64), 1)]
    [[65280], [0]]
    """
    codes = np.asarray(codes, dtype=np.uint64)
    edges = np.linspace(0, 64, radius + 2).astype(int)
    return [(codes >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1) for lo, hi in zip(edges[:-1], edges[1:])]


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def bucket_pairs(keys: list[np.ndarray], split: np.ndarray | None, accept=None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs ``i < j`` that share a key in any of ``keys`` (one key array per index),
    lie in different splits (when ``split`` is given) and pass ``accept(i, j)``."""
    side = None if split is None else np.unique(np.asarray(split, dtype=str), return_inverse=True)[1]
    found = []
    for key in keys:
        order = np.argsort(key, kind="stable")
        k = key[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        sizes = np.diff(np.r_[starts, len(k)])
        for size in _sorted_unique(sizes[sizes > 1]):  # every bucket of one size at once
            first = starts[sizes == size]
            members = order[first[:, None] + np.arange(size)[None, :]]
            a, b = np.triu_indices(size, 1)
            i, j = members[:, a].ravel(), members[:, b].ravel()
            keep = np.ones(len(i), dtype=bool) if side is None else side[i] != side[j]
            if accept is not None:
                keep[keep] = accept(i[keep], j[keep])
            found.append(np.minimum(i[keep], j[keep]) * (1 << 32) + np.maximum(i[keep], j[keep]))
    pair = _sorted_unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)
    return pair >> 32, pair & ((1 << 32) - 1)


def text_pairs(texts: list[str], threshold: float = 0.8, bands: int = 16, split: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, similarity)`` of texts whose estimated shingle Jaccard similarity
    (share of equal MinHash values) is at least ``threshold``; only across splits when
    ``split`` is given."""
    sig = minhash(shingles(t) for t in texts)
    i, j = bucket_pairs(band_keys(sig, bands), split)
    sim = signature_similarity(sig[i], sig[j])
    keep = sim >= threshold
    return i[keep], j[keep], sim[keep]


def signature_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal values of each pair of MinHash signatures (rows of ``a`` and ``b``),
    100,000 pairs at a time."""
    return np.concatenate([(a[s:s + 100_000] == b[s:s + 100_000]).mean(axis=1)
                           for s in range(0, len(a), 100_000)]) if len(a) else np.array([], dtype=float)


def band_keys(sig: np.ndarray, bands: int) -> list[np.ndarray]:
    """One 64-bit key per signature (row) and band: the LSH buckets. A row's keys depend
    on that row only."""
    import pandas as pd

    rows = sig.shape[1] // bands
    return [pd.util.hash_pandas_object(pd.DataFrame(sig[:, b * rows:(b + 1) * rows]), index=False).to_numpy()
            for b in range(bands)]


# ------------------------------------------------------------- on a table


#: Keys (rows times chunks or bands) per bucket range on average: a few hundred bytes
#: each with the search's sort and index arrays, so a few hundred MB per task at most.
RANGE_KEYS = 1 << 20
#: LSH bands of a text signature, as :func:`text_pairs` cuts them.
TEXT_BANDS = 16
#: Bits within which two audio summaries make a candidate pair, as :func:`audio_pairs` has it.
AUDIO_CANDIDATE_RADIUS = 12
#: What the audio search reads: the files, and their hash that keys the fingerprint cache.
_AUDIO_COLUMNS = ("modality", "root", "path", "sha256")
#: Odd 64-bit constants of the key hash (Fibonacci hashing), spreading keys over the ranges.
_MIX_INDEX = np.uint64(0x9E3779B97F4A7C15)
_MIX_KEY = np.uint64(0xBF58476D1CE4E5B9)

Pieces = list[dict[str, np.ndarray]]


def near_duplicate_pairs(data: "pd.DataFrame | Frame", split_col: str, rule: "NearDuplicateRule"
                         ) -> tuple[list[dict[str, Any]], list[str]]:
    """Near-duplicate pairs across splits, closest first within each kind (images, texts,
    audio), and the names of the image and audio rows whose files could not be read (left
    out of the search), in table order.

    Every search buckets rows by keys: an image's perceptual hash (an audio clip's summary
    code) cut into ``radius + 1`` chunks, a text's MinHash signature cut into bands. Each
    partition gives its rows' keys, each sent to one of ``R`` bucket ranges by a hash of
    (chunk or band, key); each range is one task that finds the pairs across splits among
    the rows sharing a key (:meth:`curate.io.frames.Frame.exchange`), a pair from the first
    chunk or band its rows agree on only. The pairs found are few (they are the findings):
    they are sorted here, and a last pass names their rows (and gives the texts' signatures
    and the clips' frame fingerprints, which decide). A task holds one partition's keys, or
    one range's: :data:`RANGE_KEYS` at most on average, whatever the size of the corpus.
    """
    frame = frame_of(data)
    if split_col not in frame.columns:
        raise CuraugError(f"split_col='{split_col}': no such column", param="split_col")
    media = "modality" in frame.columns and {"root", "path"} <= set(frame.columns)
    out: list[dict[str, Any]] = []
    unreadable: list[int] = []
    if rule.images and media:
        radius = rule.image_hamming
        missed, pairs = _search(frame, functools.partial(_image_keys, split_col=split_col, radius=radius),
                                functools.partial(_code_accept, radius=radius), _ranges(frame.rows_bound, radius + 1),
                                _present(frame, split_col, "modality", "root", "path", "phash"))
        unreadable += [k for positions in missed for k in positions]
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0], pairs[:, 2]))]  # closest first
        out += _records(frame, split_col, "image", "hamming", pairs[:, 0], pairs[:, 1], pairs[:, 2])
    if rule.texts and "text" in frame.columns:
        _, pairs = _search(frame, functools.partial(_text_keys, split_col=split_col), _text_accept,
                           _ranges(frame.rows_bound, TEXT_BANDS), [split_col, "text"])
        sig = _signatures(frame, np.unique(pairs[:, :2]))
        sim = signature_similarity(np.array([sig[a] for a in pairs[:, 0]]), np.array([sig[b] for b in pairs[:, 1]]))
        keep = sim >= rule.text_similarity
        pairs, sim = pairs[keep], sim[keep]
        order = np.lexsort((pairs[:, 1], pairs[:, 0], -sim))  # most similar first
        out += _records(frame, split_col, "text", "similarity", pairs[order, 0], pairs[order, 1], sim[order])
    if rule.audio and media:
        radius = AUDIO_CANDIDATE_RADIUS
        missed, pairs = _search(frame, functools.partial(_audio_keys, split_col=split_col, radius=radius),
                                functools.partial(_code_accept, radius=radius), _ranges(frame.rows_bound, radius + 1),
                                _present(frame, split_col, *_AUDIO_COLUMNS))
        unreadable += [k for positions in missed for k in positions]
        prints = _fingerprints(frame, np.unique(pairs[:, :2]))
        err = np.array([frame_bit_error(prints[a][1], prints[b][1]) for a, b in pairs[:, :2].tolist()])
        keep = err <= rule.audio_ber if len(err) else np.zeros(0, dtype=bool)
        pairs, err = pairs[keep], err[keep]
        order = np.lexsort((pairs[:, 1], pairs[:, 0], err))  # fewest bit errors first
        out += _records(frame, split_col, "audio", "bit_error_rate", pairs[order, 0], pairs[order, 1], err[order])
    names = _named(frame, split_col, np.array(sorted(unreadable), dtype=np.int64))
    return out, [names[k][0] for k in sorted(unreadable)]


def pair_record(kind: str, measure: str, ids: list[str], splits: list[str], value) -> dict[str, Any]:
    """One near-duplicate pair as the check reports it."""
    return {"ids": ids, "splits": splits, "kind": kind, "measure": measure,
            "distance": int(value) if measure == "hamming" else round(float(value), 4)}


def _ranges(rows: int, keys_per_row: int) -> int:
    return max(1, -(-rows * keys_per_row // RANGE_KEYS))


def _search(frame: "Frame", keys_of: Callable, accept_of: Callable, ranges: int,
            columns: list[str]) -> tuple[list[Any], np.ndarray]:
    """``(what keys_of says of each partition besides its keys, pairs)``: ``pairs`` rows
    ``(position a, position b, measure)``, ``a < b``, found by the bucket-range tasks;
    ``keys_of`` reads ``columns``."""
    said, pairs = frame.exchange(functools.partial(_cut, keys_of=keys_of, ranges=ranges), ranges,
                                 functools.partial(_range_pairs, accept_of=accept_of), columns)
    return said, np.concatenate(pairs) if pairs else np.empty((0, 3), dtype=np.int64)


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


def _records(frame: "Frame", split_col: str, kind: str, measure: str, a: np.ndarray, b: np.ndarray,
             value: np.ndarray) -> list[dict[str, Any]]:
    rows = _named(frame, split_col, np.unique(np.concatenate([a, b])))
    return [pair_record(kind, measure, [rows[x][0], rows[y][0]], [rows[x][1], rows[y][1]], v)
            for x, y, v in zip(a.tolist(), b.tolist(), value.tolist())]


def _at(part: "pd.DataFrame", positions: np.ndarray) -> "pd.DataFrame":
    """The rows of a partition at some of the table's ``positions``."""
    return part[np.isin(part[ORDER].to_numpy(dtype=np.int64), positions)]


def _named(frame: "Frame", split_col: str, positions: np.ndarray) -> dict[int, tuple[str, str]]:
    """``position -> (row name, split)`` for the given rows, read from their partitions."""
    from curate.io.frames import row_names

    if len(positions) == 0:
        return {}

    def partial(part: "pd.DataFrame") -> list[tuple[int, str, str]]:
        rows = _at(part, positions)
        return list(zip(rows[ORDER].tolist(), row_names(rows).tolist(), rows[split_col].astype(str).tolist()))

    found = frame.reduce(partial, lambda pieces: [row for piece in pieces for row in piece],
                         frame.named(split_col), order=True)
    return {position: (name, split) for position, name, split in found}


def _present(frame: "Frame", *columns: str) -> list[str]:
    return [c for c in columns if c in frame.columns]


def _split_of(part: "pd.DataFrame", split_col: str, idx: np.ndarray) -> np.ndarray:
    return np.asarray(part[split_col].astype(str).to_numpy()[idx], dtype=str)


# ------------------------------------------------------------- images and audio


def _image_keys(part: "pd.DataFrame", split_col: str, radius: int):
    """The partition's unreadable image rows (positions), and its image rows' chunk keys:
    row, chunk and key of each, with each row's position, split and code."""
    idx, codes, missed = image_codes(part, part["modality"].astype(str).to_numpy())
    return _code_keys(part, split_col, radius, idx, codes, missed)


def _audio_keys(part: "pd.DataFrame", split_col: str, radius: int):
    """:func:`_image_keys` of the audio rows, on their fingerprints' summary codes."""
    idx, prints, missed = _audio_prints(part, part["modality"].astype(str).to_numpy())
    return _code_keys(part, split_col, radius, idx, np.array([p[0] for p in prints], dtype=np.uint64), missed)


def _code_keys(part: "pd.DataFrame", split_col: str, radius: int, idx: np.ndarray, codes: np.ndarray,
               missed: list[int]):
    positions = part[ORDER].to_numpy(dtype=np.int64)
    keys = chunk_keys(codes, radius)
    fields = {"position": positions[idx], "code": codes, "split": _split_of(part, split_col, idx)}
    return (positions[missed].tolist(), np.tile(np.arange(len(codes)), len(keys)),
            np.repeat(np.arange(len(keys), dtype=np.int8), len(codes)), np.concatenate(keys), fields)


def _code_accept(mine: dict[str, np.ndarray], chunk: int, radius: int):
    """Codes within ``radius`` bits whose first agreeing chunk is ``chunk``; their distance."""
    code = mine["code"]

    def accept(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        differ = code[a] ^ code[b]
        first = np.argmax(np.stack([k == 0 for k in chunk_keys(differ, radius)]), axis=0)
        return (popcount(differ) <= radius) & (first == chunk)

    return accept, lambda i, j: popcount(code[i] ^ code[j])


def _fingerprints(frame: "Frame", positions: np.ndarray) -> dict[int, tuple[int, np.ndarray]]:
    """``position -> frame fingerprint`` of the given audio rows (from the cache that the
    search filled, else decoded again), read from their partitions."""
    if len(positions) == 0:
        return {}

    def partial(part: "pd.DataFrame") -> list[tuple[int, tuple[int, np.ndarray]]]:
        rows = _at(part, positions)
        idx, prints, _ = _audio_prints(rows, rows["modality"].astype(str).to_numpy())
        return list(zip(rows[ORDER].to_numpy()[idx].tolist(), prints))

    return dict(frame.reduce(partial, lambda pieces: [row for piece in pieces for row in piece],
                             _present(frame, *_AUDIO_COLUMNS), order=True))


# ------------------------------------------------------------- texts


def _text_keys(part: "pd.DataFrame", split_col: str):
    """The partition's text rows' band keys: row, band and key of each, with each row's
    position, split and every band key (to tell the first band a pair agrees on)."""
    idx = np.flatnonzero(part["text"].notna().to_numpy())
    sig = minhash(shingles(t) for t in part["text"].iloc[idx].astype(str).tolist())
    keys = band_keys(sig, TEXT_BANDS) if len(idx) else [np.empty(0, dtype=np.uint64)] * TEXT_BANDS
    fields = {"position": part[ORDER].to_numpy(dtype=np.int64)[idx], "bands": np.stack(keys, axis=1),
              "split": _split_of(part, split_col, idx)}
    return (None, np.tile(np.arange(len(idx)), TEXT_BANDS), np.repeat(np.arange(TEXT_BANDS, dtype=np.int8), len(idx)),
            np.concatenate(keys), fields)


def _text_accept(mine: dict[str, np.ndarray], band: int):
    """Texts whose first agreeing band is ``band``; similarity is decided later, from the
    signatures."""
    bands = mine["bands"]

    def accept(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.argmax(bands[a] == bands[b], axis=1) == band

    return accept, lambda i, j: np.zeros(len(i), dtype=np.int64)


def _signatures(frame: "Frame", positions: np.ndarray) -> dict[int, np.ndarray]:
    """``position -> MinHash signature`` of the given text rows, from their partitions."""
    if len(positions) == 0:
        return {}

    def partial(part: "pd.DataFrame") -> list[tuple[int, np.ndarray]]:
        rows = _at(part, positions)
        sig = minhash(shingles(t) for t in rows["text"].astype(str).tolist())
        return list(zip(rows[ORDER].tolist(), sig))

    return dict(frame.reduce(partial, lambda pieces: [row for piece in pieces for row in piece], ["text"],
                             order=True))


# ------------------------------------------------------------- media files


def _media_rows(df: "pd.DataFrame", modality, kind: str):
    if not {"root", "path"} <= set(df.columns):
        return np.array([], dtype=int)
    return np.flatnonzero((modality == kind) & df["path"].notna().to_numpy())


def image_codes(df: "pd.DataFrame", modality: np.ndarray):
    """``(rows, codes, unreadable rows)``: pHash per image row, from the manifest's ``phash`` column
    (written by ingest), else computed from the file; files that cannot be read are left out
    and counted."""
    from PIL import Image

    from curate.io.manifest import media_file

    idx = _media_rows(df, modality, "image")
    if len(idx) == 0:
        return idx, np.array([], dtype=np.uint64), []
    stored = df["phash"].iloc[idx].to_numpy(dtype=object) if "phash" in df.columns else [None] * len(idx)
    roots, paths = df["root"].iloc[idx].to_numpy(dtype=object), df["path"].iloc[idx].to_numpy(dtype=object)
    codes, keep = [], []
    for k, cached, root, path in zip(idx, stored, roots, paths):
        try:
            if isinstance(cached, str):
                codes.append(int(cached, 16))
            else:
                with Image.open(media_file(root, path)) as im:
                    codes.append(phash(im))
            keep.append(k)
        except (OSError, ValueError, SyntaxError, CuraugError):
            continue
    return np.asarray(keep, dtype=int), np.asarray(codes, dtype=np.uint64), sorted(set(idx.tolist()) - set(keep))


def _audio_prints(df: "pd.DataFrame", modality):
    """``(rows, fingerprints, unreadable rows)`` of the audio rows, from a cache keyed by the file's
    sha256 (in curaug's cache folder, next to ingest's) or decoded and computed once and then
    cached; files that cannot be read are left out and counted."""
    from curate.io.manifest import media_file

    idx = _media_rows(df, modality, "audio")
    if len(idx) == 0:
        return idx, [], []
    import soundfile as sf

    cache = _FingerprintCache()
    hashes = df["sha256"].iloc[idx].to_numpy(dtype=object) if "sha256" in df.columns else [None] * len(idx)
    codes, keep = [], []
    for k, sha, row in zip(idx, hashes, df.iloc[idx][["root", "path"]].itertuples(index=False)):
        found = cache.get(sha)
        if found is None:
            try:
                data, sr = sf.read(str(media_file(row.root, row.path)), dtype="float32", always_2d=True)
            except (OSError, RuntimeError, ValueError, CuraugError):
                continue
            found = audio_fingerprint(data.mean(axis=1), sr)
            cache.put(sha, found)
        codes.append(found)
        keep.append(k)
    cache.save()
    return np.asarray(keep, dtype=int), codes, sorted(set(idx.tolist()) - set(keep))


class _FingerprintCache:
    """sha256 -> audio fingerprint, one Parquet file in curaug's cache folder."""

    VERSION = 1

    def __init__(self) -> None:
        import pandas as pd

        from curate.io.cache import cache_dir

        self.path = cache_dir() / f"audio-fingerprints-v{self.VERSION}.parquet"
        self.entries: dict[str, tuple[int, np.ndarray]] = {}
        self.dirty = False
        try:
            table = pd.read_parquet(self.path)
        except (OSError, ValueError):
            return  # no cache yet, or an unreadable one: recompute
        for sha, summary, frames, n in zip(table["sha256"], table["summary"], table["frames"], table["n"]):
            bits = np.unpackbits(np.frombuffer(frames, np.uint8).reshape(4, -1), axis=0)[:, :n].astype(bool)
            self.entries[sha] = (int(np.int64(summary).view(np.uint64)), bits)

    def get(self, sha) -> tuple[int, np.ndarray] | None:
        return self.entries.get(sha) if isinstance(sha, str) else None

    def put(self, sha, value: tuple[int, np.ndarray]) -> None:
        if isinstance(sha, str):
            self.entries[sha] = value
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        import pandas as pd

        from curate.io.atomic import atomic_path

        rows = [{"sha256": sha, "summary": int(np.uint64(summary).view(np.int64)),
                 "frames": np.packbits(bits, axis=0).tobytes(), "n": bits.shape[1]}
                for sha, (summary, bits) in self.entries.items()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp:
                pd.DataFrame(rows).to_parquet(tmp)
        except OSError:
            pass  # a cache that cannot be written only costs time
