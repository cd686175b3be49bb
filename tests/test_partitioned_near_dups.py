"""Near-duplicate images, texts and audio searched partition-wise: the pairs, their order
and the unreadable files of the search on the whole table in memory, whatever the
partitioning, the number of bucket ranges and the engine (threads here, or a real
two-process LocalCluster)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from curate.checks import near_dups as partitioned_near_dups
from curate.checks.near_dups import near_duplicate_pairs
from curate.errors import CuraugError
from curate.partitioned.table import engine_scope, open_table
from curate.rules.schema import NearDuplicateRule


WORDS = "the a cat dog sat ran on under mat rug red blue big small quick slow".split()


def _manifest(folder: Path, seed: int, rows: int, with_id: bool) -> pd.DataFrame:
    """Image rows in clusters of codes a few bits apart over three splits; a few rows have
    no stored hash (their files are hashed, one is missing) and some are not images. Most
    rows carry a text: variants of a few sentences, up to two words changed."""
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 2**63, size=max(1, rows // 4), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    flips = [sum(1 << int(b) for b in rng.choice(64, size=k, replace=False)) for k in rng.integers(0, 7, rows)]
    codes = [int(bases[c]) ^ f for c, f in zip(rng.integers(0, len(bases), rows), flips)]
    df = pd.DataFrame({
        "root": str(folder),
        "path": [f"img{i:04d}.png" for i in range(rows)],
        "modality": np.where(rng.random(rows) < 0.9, "image", "tabular"),
        "split": rng.choice(["train", "val", "test"], rows),
        "phash": [f"{c:016x}" for c in codes],
    })
    sentences = [list(rng.choice(WORDS, 14)) for _ in range(max(1, rows // 6))]
    df["text"] = [_variant(rng, sentences[rng.integers(len(sentences))]) if rng.random() < 0.8 else None
                  for _ in range(rows)]
    gradient = np.add.outer(np.arange(32), np.arange(32)).astype(np.uint8) * 4
    for k, row in enumerate(range(0, rows, max(1, rows // 5))):  # hashed from the file
        df.loc[row, ["phash", "modality"]] = [None, "image"]
        if k != 1:  # the second one's file is missing: unreadable
            Image.fromarray(np.roll(gradient, k % 2, axis=1)).save(folder / df.loc[row, "path"])
    if with_id:
        df.insert(0, "id", [f"row-{i}" for i in rng.permutation(rows)])
    return df


def _variant(rng: np.random.Generator, words: list[str]) -> str:
    words = list(words)
    for at in rng.integers(0, len(words), rng.integers(0, 3)):
        words[at] = str(rng.choice(WORDS))
    return " ".join(words)


def _write_parts(df: pd.DataFrame, folder: Path, cuts: list[int]) -> Path:
    """``df`` as a Parquet dataset folder, one file per piece between ``cuts``."""
    folder.mkdir(parents=True)
    edges = [0] + sorted(set(c for c in cuts if 0 < c < len(df))) + [len(df)]
    for n, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        df.iloc[a:b].to_parquet(folder / f"part-{n:03d}.parquet", index=False)
    return folder


def _both(tmp: Path, df: pd.DataFrame, cuts: list[int], rule: NearDuplicateRule):
    ddf = open_table(_write_parts(df, tmp / "table", cuts))
    return near_duplicate_pairs(df, "split", rule), near_duplicate_pairs(ddf, "split", rule)


@pytest.fixture(scope="module")
def cluster():
    """One two-worker LocalCluster for the module: starting one costs seconds."""
    with engine_scope("dask", workers=2):
        yield


def test_same_pairs_order_and_unreadable_on_a_two_worker_cluster(tmp_path, cluster, monkeypatch):
    monkeypatch.setattr(partitioned_near_dups, "RANGE_KEYS", 64)  # many bucket ranges, many tasks
    df = _manifest(tmp_path, seed=1, rows=300, with_id=True)
    expected, found = _both(tmp_path, df, [37, 120, 121, 250], NearDuplicateRule(image_hamming=4))
    assert found == expected
    pairs, unreadable = found
    images = [p for p in pairs if p["kind"] == "image"]
    texts = [p for p in pairs if p["kind"] == "text"]
    assert pairs == images + texts
    assert len(images) > 20 and len({p["distance"] for p in images}) > 2
    assert len(texts) > 20 and min(p["distance"] for p in texts) >= 0.8 and len({p["distance"] for p in texts}) > 2
    assert all(p["splits"][0] != p["splits"][1] for p in pairs)
    assert [p["distance"] for p in images] == sorted(p["distance"] for p in images)
    assert [p["distance"] for p in texts] == sorted((p["distance"] for p in texts), reverse=True)
    assert unreadable == [df.loc[60, "id"]]
    # the two files hashed from disk (the same picture, rows 0 and 120) pair up when in different splits
    from_files = {df.loc[0, "id"], df.loc[120, "id"]}
    assert any(set(p["ids"]) == from_files for p in pairs) == (df.loc[0, "split"] != df.loc[120, "split"])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(2, 120), radius=st.integers(0, 8),
       cuts=st.lists(st.integers(1, 119), max_size=6), range_keys=st.sampled_from([1, 7, 100, 1 << 21]),
       with_id=st.booleans(), similarity=st.sampled_from([0.5, 0.8, 1.0]))
def test_any_partitioning_and_bucket_ranges_give_the_in_memory_pairs(seed, rows, radius, cuts, range_keys, with_id,
                                                                     similarity):
    with tempfile.TemporaryDirectory() as tmp, engine_scope("local", workers=2):
        old = partitioned_near_dups.RANGE_KEYS
        partitioned_near_dups.RANGE_KEYS = range_keys
        try:
            df = _manifest(Path(tmp), seed, rows, with_id)
            rule = NearDuplicateRule(image_hamming=radius, text_similarity=similarity)
            expected, found = _both(Path(tmp), df, cuts, rule)
        finally:
            partitioned_near_dups.RANGE_KEYS = old
    assert found == expected


def test_kinds_turned_off_or_without_their_columns_find_nothing(tmp_path):
    df = _manifest(tmp_path, seed=3, rows=40, with_id=False)
    with engine_scope("local"):
        assert _both(tmp_path, df, [10], NearDuplicateRule(images=False, texts=False)) == (([], []), ([], []))
        expected, found = _both(tmp_path / "texts", df, [10], NearDuplicateRule(images=False))
        assert found == expected and found[0] and {p["kind"] for p in found[0]} == {"text"}
        ddf = open_table(_write_parts(df.drop(columns=["root", "text"]), tmp_path / "bare", [20]))
        assert near_duplicate_pairs(ddf, "split", NearDuplicateRule()) == ([], [])


def _audio_manifest(folder: Path, seed: int) -> pd.DataFrame:
    """Clips of noise bursts in three splits: some copied at -3 dB with faint noise (near
    duplicates), a few sharing a content hash (one fingerprint, cached), one file missing
    (unreadable), and image rows beside them."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sr, rows = 8000, []
    bases = [rng.normal(size=sr // 2) * np.repeat(rng.random(20), sr // 40) for _ in range(6)]
    for i in range(18):
        y = bases[i % 6] * (0.7 if i >= 6 else 1.0) + (rng.normal(scale=0.005, size=sr // 2) if i >= 6 else 0)
        sf.write(folder / f"clip{i:02d}.wav", (y / np.abs(y).max() * 0.9).astype(np.float32), sr)
        rows.append({"path": f"clip{i:02d}.wav", "modality": "audio", "sha256": f"{i % 15:064x}"})
    rows.append({"path": "gone.wav", "modality": "audio", "sha256": None})
    rows += [{"path": f"img{i}.png", "modality": "image", "sha256": None} for i in range(3)]
    df = pd.DataFrame(rows).assign(root=str(folder), split=rng.choice(["train", "val", "test"], len(rows)))
    df["sha256"] = df["sha256"].where(df.index != 16)  # one clip without a hash: fingerprinted, not cached
    return df.assign(id=[f"a{i:02d}" for i in rng.permutation(len(df))]).sample(frac=1, random_state=seed) \
        .reset_index(drop=True)


@pytest.mark.parametrize("cuts", [[], [5], [3, 9, 14, 20]])
def test_audio_pairs_are_the_direct_searchs_on_any_partitioning(tmp_path, cuts):
    from curate.checks.near_dups import _audio_prints, audio_pairs

    df = _audio_manifest(tmp_path, seed=len(cuts))
    rule = NearDuplicateRule(images=False, texts=False)
    with engine_scope("local", workers=2):
        expected, found = _both(tmp_path, df, cuts, rule)
    assert found == expected
    pairs, unreadable = found
    assert unreadable == [df.loc[df["path"] == "gone.wav", "id"].item()]
    # the bucket-range search finds what comparing every summary directly finds, in that order
    split = df["split"].astype(str).to_numpy()
    idx, prints, _ = _audio_prints(df, df["modality"].astype(str).to_numpy())
    i, j, err = audio_pairs(prints, rule.audio_ber, split[idx])
    order = np.argsort(err, kind="stable")
    direct = [([df["id"][idx[a]], df["id"][idx[b]]], round(float(e), 4)) for a, b, e in zip(i[order], j[order], err[order])]
    assert [(p["ids"], p["distance"]) for p in pairs] == direct
    assert len(pairs) >= 3 and {p["kind"] for p in pairs} == {"audio"}
    assert all(p["splits"][0] != p["splits"][1] and p["distance"] <= rule.audio_ber for p in pairs)


def test_missing_split_column_is_one_error_line(tmp_path):
    df = pd.DataFrame({"root": str(tmp_path), "path": ["a.wav", "b.png"], "modality": ["audio", "image"],
                       "split": ["train", "val"], "phash": [None, "00ff00ff00ff00ff"]})
    with engine_scope("local"):
        ddf = open_table(_write_parts(df, tmp_path / "audio", []))
        with pytest.raises(CuraugError, match="split_col='fold': no such column") as exc:
            near_duplicate_pairs(ddf, "fold", NearDuplicateRule())
        assert "\n" not in str(exc.value) and exc.value.param == "split_col"
