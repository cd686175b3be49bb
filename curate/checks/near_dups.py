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

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.errors import CuraugError
from curate.io.hashes import audio_fingerprint, minhash, phash, shingles

if TYPE_CHECKING:
    import pandas as pd


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


# ------------------------------------------------------------- on a manifest


def near_duplicate_pairs(df: "pd.DataFrame", split_col: str, rule) -> tuple[list[dict[str, Any]], list[str]]:
    """Near-duplicate pairs across splits, closest first within each kind, and the names of
    the image and audio rows whose files could not be read (left out of the search)."""
    split = df[split_col].astype(str).to_numpy()
    from curate.checks.base import row_names

    names = row_names(df).to_numpy()
    out = []
    unreadable: list[int] = []

    def emit(kind, idx, i, j, value, measure):
        order = np.argsort(value if measure != "similarity" else -value, kind="stable")
        for a, b, v in zip(i[order], j[order], value[order]):
            out.append(pair_record(kind, measure, [names[idx[a]], names[idx[b]]], [split[idx[a]], split[idx[b]]], v))

    modality = df["modality"].astype(str).to_numpy() if "modality" in df.columns else np.full(len(df), "")
    if rule.images:
        idx, codes, missed = image_codes(df, modality)
        unreadable += missed
        if len(idx) > 1:
            i, j, d = hamming_pairs(codes, rule.image_hamming, split[idx])
            emit("image", idx, i, j, d, "hamming")
    if rule.texts and "text" in df.columns:
        idx = np.flatnonzero(df["text"].notna().to_numpy())
        if len(idx) > 1:
            texts = df["text"].iloc[idx].astype(str).tolist()
            i, j, sim = text_pairs(texts, rule.text_similarity, split=split[idx])
            emit("text", idx, i, j, sim, "similarity")
    if rule.audio:
        idx, prints, missed = _audio_prints(df, modality)
        unreadable += missed
        if len(idx) > 1:
            i, j, err = audio_pairs(prints, rule.audio_ber, split[idx])
            emit("audio", idx, i, j, err, "bit_error_rate")
    return out, [str(names[k]) for k in sorted(unreadable)]


def pair_record(kind: str, measure: str, ids: list[str], splits: list[str], value) -> dict[str, Any]:
    """One near-duplicate pair as the check reports it."""
    return {"ids": ids, "splits": splits, "kind": kind, "measure": measure,
            "distance": int(value) if measure == "hamming" else round(float(value), 4)}


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
