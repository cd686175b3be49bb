from __future__ import annotations

import hashlib
import os
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import one_error_line
from curate.errors import CuraugError
from curate.io.ingest import ingest
from curate.io.manifest import load_data


def _png(path: Path, value: int = 128, size=(16, 12), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, (value,) * len(mode) if mode != "L" else value).save(path)


def _wav(path: Path, rate: int = 8000, seconds: float = 0.25) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 20000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


# ------------------------------------------------------------ sample data


def test_image_sample_tree(cli, sample, tmp_path):
    out = tmp_path / "m.parquet"
    r = cli("ingest", sample / "images", "-o", out)
    assert r.code == 0, r.err
    assert "1 corrupt" in r.out
    df = load_data(out)
    assert len(df) == 144
    assert set(df["label"]) == {"0", "1", "7", "8"}
    assert df["id"].is_unique and (df["id"] == df["path"]).all()
    corrupt = df[df["status"] == "corrupt"]
    assert corrupt["id"].tolist() == ["8/truncated_digit.png"]
    assert "truncated" in corrupt["reason"].iloc[0]
    ok = df[df["status"] == "ok"]
    assert (ok["width"] == 32).all() and (ok["height"] == 32).all() and (ok["channels"] == 1).all()
    assert set(ok["format"]) == {"PNG", "JPEG", "BMP"}
    row = df[df["id"] == "7/digit_0007.png"].iloc[0]
    data = (sample / "images" / row["path"]).read_bytes()
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["size_bytes"] == len(data)
    assert Path(row["root"]) == (sample / "images").resolve()


def test_audio_sample_tree(cli, sample, tmp_path):
    out = tmp_path / "a.csv"
    r = cli("ingest", sample / "audio", "-o", out, "--modality", "audio")
    assert r.code == 0, r.err
    df = load_data(out)
    assert len(df) == 36
    assert set(df["label"]) == {"yes", "no", "up", "down"}
    ok = df[df["status"] == "ok"]
    assert set(ok["sample_rate"]) == {16000, 22050}
    assert set(ok["format"]) == {"WAV", "FLAC", "OGG"}
    assert ok["duration_s"].between(0.1, 3.0).all()
    assert (ok["channels"] == 1).all()
    corrupt = df[df["status"] == "corrupt"]
    assert corrupt["id"].tolist() == ["no/no_truncated.wav"]
    assert "header declares" in corrupt["reason"].iloc[0]


def test_text_table_gets_content_ids(cli, sample, tmp_path):
    out = tmp_path / "t.jsonl"
    assert cli("ingest", sample / "text.csv", "-o", out).code == 0
    df = load_data(out)
    src = pd.read_csv(sample / "text.csv")
    assert len(df) == len(src) and (df["modality"] == "text").all()
    assert df["text"].tolist() == src["text"].tolist()
    assert df["id"].is_unique
    # the planted exact duplicate (row 157 repeats row 4) is told apart by a suffix
    assert df["id"].iloc[-2] == df["id"].iloc[3] + "-1"


def test_table_ids_survive_appends_and_reordering(tmp_path, sample):
    src = pd.read_csv(sample / "penguins.csv")
    src.to_csv(tmp_path / "a.csv", index=False)
    grown = pd.concat([src.iloc[::-1], src.head(3).assign(year=2030)], ignore_index=True)
    grown.to_csv(tmp_path / "b.csv", index=False)
    ids_a = ingest(tmp_path / "a.csv").manifest.set_index("id")
    ids_b = ingest(tmp_path / "b.csv").manifest.set_index("id")
    assert set(ids_a.index) <= set(ids_b.index)
    assert len(ids_b) == len(ids_a) + 3
    shared = ids_a.index
    pd.testing.assert_series_equal(ids_a.loc[shared, "body_mass_g"], ids_b.loc[shared, "body_mass_g"])


def test_table_keeps_its_own_unique_id_column(tmp_path, cli):
    pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}).to_csv(tmp_path / "t.csv", index=False)
    assert cli("ingest", tmp_path / "t.csv", "-o", tmp_path / "m.parquet").code == 0
    assert pd.read_parquet(tmp_path / "m.parquet")["id"].tolist() == ["a", "b"]
    pd.DataFrame({"id": ["a", "a"], "x": [1, 2]}).to_csv(tmp_path / "dup.csv", index=False)
    msg = one_error_line(cli("ingest", tmp_path / "dup.csv", "-o", tmp_path / "m2.parquet"))
    assert "'id' is not unique" in msg and "dup.csv" in msg


def test_text_folder_nested_and_unlabelled(tmp_path, cli):
    root = tmp_path / "txt"
    (root / "pos" / "2024").mkdir(parents=True)
    (root / "neg").mkdir()
    (root / "pos" / "2024" / "a.txt").write_text("  a fine day \n", encoding="utf-8")
    (root / "neg" / "b.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "neg" / "c.txt").write_text("\n\n")
    (root / "loose.txt").write_text("no class folder")
    (root / ".hidden.txt").write_text("ignored")
    out = tmp_path / "m.parquet"
    r = cli("ingest", root, "-o", out)
    assert r.code == 0, r.err
    df = load_data(out).set_index("id")
    assert df.loc["pos/2024/a.txt", "label"] == "pos"
    assert df.loc["pos/2024/a.txt", "text"] == "a fine day"
    assert pd.isna(df.loc["loose.txt", "label"])
    assert df.loc["neg/b.txt", "status"] == "corrupt" and "UTF-8" in df.loc["neg/b.txt", "reason"]
    assert df.loc["neg/c.txt", "reason"] == "text is empty"
    assert ".hidden.txt" not in df.index
    assert "pass --encoding" in df.loc["neg/b.txt", "reason"]
    # --encoding applies to a folder's text files as to tables (its own cache: no stale verdict)
    r = cli("ingest", root, "-o", out, "--encoding", "latin-1")
    assert r.code == 0, r.err
    df = load_data(out).set_index("id")
    assert df.loc["neg/b.txt", "status"] == "ok" and df.loc["neg/b.txt", "text"] == "caf\xe9"
    assert df.loc["pos/2024/a.txt", "text"] == "a fine day"
    assert "--encoding 'latin-9z': unknown text encoding" in one_error_line(
        cli("ingest", root, "-o", out, "--encoding", "latin-9z"))


def test_mixed_tree_and_modality_filter(tmp_path):
    _png(tmp_path / "d" / "cat" / "1.png")
    _wav(tmp_path / "d" / "cat" / "1.wav")
    (tmp_path / "d" / "cat" / "notes.md").write_text("x")
    both = ingest(tmp_path / "d")
    assert sorted(both.manifest["modality"]) == ["audio", "image"]
    assert both.summary["skipped"] == {"unrecognised": 1}
    only = ingest(tmp_path / "d", "image").manifest
    assert only["id"].tolist() == ["cat/1.png"]
    assert "sample_rate" not in only.columns


def test_rgba_and_formats(tmp_path):
    _png(tmp_path / "d" / "x" / "a.png", mode="RGBA", size=(7, 5))
    Image.new("RGB", (9, 4)).save(tmp_path / "d" / "x" / "b.webp")
    Image.new("L", (3, 3)).save(tmp_path / "d" / "x" / "c.tiff")
    df = ingest(tmp_path / "d").manifest.set_index("id")
    assert df.loc["x/a.png", ["width", "height", "channels"]].tolist() == [7, 5, 4]
    assert df.loc["x/b.webp", "format"] == "WEBP" and df.loc["x/c.tiff", "channels"] == 1


def test_corrupt_files_are_rows_not_failures(tmp_path, cli):
    _png(tmp_path / "d" / "a" / "good.png")
    (tmp_path / "d" / "a" / "garbage.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (tmp_path / "d" / "a" / "empty.png").write_bytes(b"")
    (tmp_path / "d" / "b" ).mkdir()
    (tmp_path / "d" / "b" / "noise.wav").write_bytes(os.urandom(300))
    r = cli("ingest", tmp_path / "d", "-o", tmp_path / "m.parquet")
    assert r.code == 0
    assert "3 corrupt" in r.out
    df = pd.read_parquet(tmp_path / "m.parquet").set_index("id")
    assert df.loc["a/good.png", "status"] == "ok"
    assert df.loc["a/empty.png", "reason"] == "empty file"
    assert df.loc["a/garbage.jpg", "status"] == "corrupt"
    assert "cannot decode audio" in df.loc["b/noise.wav", "reason"]
    # reasons are the same on every run: no memory address of the buffer a decoder read
    (tmp_path / "d" / "b" / "x.flac").write_bytes(b"garbage")
    assert cli("ingest", tmp_path / "d", "-o", tmp_path / "m1.parquet", "--no-cache").code == 0
    assert cli("ingest", tmp_path / "d", "-o", tmp_path / "m2.parquet", "--no-cache").code == 0
    assert (tmp_path / "m1.parquet").read_bytes() == (tmp_path / "m2.parquet").read_bytes()
    reasons = pd.read_parquet(tmp_path / "m1.parquet").set_index("id")["reason"]
    assert reasons["b/x.flac"] == "cannot decode audio: Error opening the file: Format not recognised."
    assert not reasons.str.contains("0x[0-9a-f]{6}", regex=True).fillna(False).any()


def test_ids_stable_across_runs_workers_and_roots(tmp_path, image_tree):
    first = ingest(image_tree, workers=1, use_cache=False).manifest
    second = ingest(image_tree, workers=2, use_cache=False).manifest
    pd.testing.assert_frame_equal(first, second)
    moved = image_tree.rename(tmp_path / "elsewhere")
    third = ingest(moved, use_cache=False).manifest
    pd.testing.assert_frame_equal(first.drop(columns="root"), third.drop(columns="root"))


def test_reingest_uses_cache_and_notices_changes(image_tree):
    first = ingest(image_tree)
    assert first.summary["decoded"] == 144 and first.summary["cached"] == 0
    again = ingest(image_tree)
    assert again.summary["decoded"] == 0 and again.summary["cached"] == 144
    pd.testing.assert_frame_equal(first.manifest, again.manifest)
    target = image_tree / "0" / "digit_0000.png"
    _png(target, value=3, size=(10, 10))
    changed = ingest(image_tree)
    assert changed.summary["decoded"] == 1
    row = changed.manifest.set_index("id").loc["0/digit_0000.png"]
    assert row["width"] == 10 and row["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_media_listing_table(tmp_path, cli):
    _png(tmp_path / "imgs" / "a.png")
    pd.DataFrame({"path": ["imgs/a.png", "imgs/missing.png"], "label": ["x", "y"]}).to_csv(
        tmp_path / "list.csv", index=False)
    assert cli("ingest", tmp_path / "list.csv", "-o", tmp_path / "m.parquet").code == 0
    df = load_data(tmp_path / "m.parquet").set_index("path")
    assert df.loc["imgs/a.png", "status"] == "ok" and df.loc["imgs/a.png", "width"] == 16
    assert df.loc["imgs/missing.png", "reason"] == "file not found"
    pd.DataFrame({"path": ["../../etc/passwd"]}).to_csv(tmp_path / "evil.csv", index=False)
    msg = one_error_line(cli("ingest", tmp_path / "evil.csv", "-o", tmp_path / "e.parquet"))
    assert "escapes its root" in msg and "../../etc/passwd" in msg


def test_symlink_leaving_the_tree_is_skipped(tmp_path):
    _png(tmp_path / "outside.png")
    _png(tmp_path / "d" / "a" / "in.png")
    (tmp_path / "d" / "a" / "link.png").symlink_to(tmp_path / "outside.png")
    result = ingest(tmp_path / "d")
    assert result.manifest["id"].tolist() == ["a/in.png"]
    assert result.summary["skipped"] == {"symlink outside root": 1}


# ------------------------------------------------------------ bad input


def test_missing_source(cli, tmp_path):
    msg = one_error_line(cli("ingest", tmp_path / "nope", "-o", tmp_path / "m.parquet"))
    assert "nope" in msg and "no such file or folder" in msg


def test_empty_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    msg = one_error_line(cli("ingest", tmp_path / "empty", "-o", tmp_path / "m.parquet"))
    assert "folder is empty" in msg
    assert not (tmp_path / "m.parquet").exists()


def test_folder_without_recognised_files(cli, tmp_path):
    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "a" / "x.docx").write_text("x")
    (tmp_path / "d" / "a" / "y.docx").write_text("y")
    msg = one_error_line(cli("ingest", tmp_path / "d", "-o", tmp_path / "m.parquet"))
    assert "no image, audio or text files" in msg and ".docx (2)" in msg


def test_modality_with_no_matching_files(cli, tmp_path):
    _png(tmp_path / "d" / "a" / "1.png")
    msg = one_error_line(cli("ingest", tmp_path / "d", "-o", tmp_path / "m.parquet", "--modality", "audio"))
    assert "no audio files" in msg


@pytest.mark.parametrize("name", ["data.xlsx", "data"])
def test_unknown_table_extension(cli, tmp_path, name):
    (tmp_path / name).write_text("a,b\n1,2\n")
    msg = one_error_line(cli("ingest", tmp_path / name, "-o", tmp_path / "m.parquet"))
    assert name in msg


def test_unknown_output_extension_writes_nothing(cli, sample, tmp_path):
    msg = one_error_line(cli("ingest", sample / "images", "-o", tmp_path / "m.xlsx"))
    assert "m.xlsx" in msg and ".parquet" in msg
    assert list(tmp_path.iterdir()) == []


def test_csv_in_wrong_encoding(cli, tmp_path):
    (tmp_path / "t.csv").write_bytes("name,city\nJosé,Montréal\n".encode("latin-1"))
    msg = one_error_line(cli("ingest", tmp_path / "t.csv", "-o", tmp_path / "m.parquet"))
    assert "t.csv" in msg and "UTF-8" in msg and "--encoding" in msg
    r = cli("ingest", tmp_path / "t.csv", "-o", tmp_path / "m.parquet", "--encoding", "latin-1")
    assert r.code == 0
    assert pd.read_parquet(tmp_path / "m.parquet")["city"].tolist() == ["Montréal"]


def test_damaged_parquet_and_empty_csv(cli, tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 garbage")
    assert "bad.parquet" in one_error_line(cli("ingest", tmp_path / "bad.parquet", "-o", tmp_path / "m.csv"))
    (tmp_path / "empty.csv").write_text("")
    assert "empty.csv" in one_error_line(cli("ingest", tmp_path / "empty.csv", "-o", tmp_path / "m.csv"))


def test_failed_run_keeps_the_previous_output(cli, sample, tmp_path):
    out = tmp_path / "m.parquet"
    assert cli("ingest", sample / "text.csv", "-o", out).code == 0
    before = out.read_bytes()
    (tmp_path / "empty").mkdir()
    one_error_line(cli("ingest", tmp_path / "empty", "-o", out))
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_python_api_raises_curaug_error(tmp_path):
    with pytest.raises(CuraugError, match="modality='video': unknown modality") as exc:
        ingest(tmp_path, "video")
    assert isinstance(exc.value, ValueError) and exc.value.param == "modality"


# ------------------------------------------------------------ pinned output

# sha256 of the sample manifests (all columns but the machine-specific `root`, as CSV),
# taken before ingest was made faster: a speed-up must not move one value.
PINNED = {
    "images": (144, "0f34dfa9f886a4de859d44d4e40c6626fd22e8d1f8092e2e9175fe6816e33119"),
    "audio": (36, "81358b7b33e2e91c3a109acbced38d327b17f04b1841798e1988111941943266"),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_sample_manifests_are_unchanged_value_for_value(sample, name):
    df = ingest(sample / name, workers=1, use_cache=False).manifest.drop(columns=["root"])
    rows, digest = PINNED[name]
    assert len(df) == rows
    assert hashlib.sha256(df.to_csv(index=False).encode()).hexdigest() == digest


def test_a_new_media_kind_plugs_into_the_one_registry(tmp_path, monkeypatch):
    """Ingest recognises files by the kinds in ``MEDIA_KINDS`` (a third party adds one
    through the ``curaug.media`` entry point group): its extensions, probe and columns."""
    from curate.io import media

    def probe(data, path, encoding=None):
        points = data.decode().split()
        if not points:
            raise media.Corrupt("no points")
        return {"format": "XYZ", "points": len(points)}

    monkeypatch.setitem(media.MEDIA_KINDS._items, "points", media.MediaKind("points", (".xyz",), ("points",), probe))
    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "a" / "p.xyz").write_text("1 2 3\n4 5 6\n")
    (tmp_path / "d" / "a" / "q.xyz").write_text("")
    df = ingest(tmp_path / "d", use_cache=False).manifest.set_index("id")
    assert df.loc["a/p.xyz", "modality"] == "points" and df.loc["a/p.xyz", "points"] == 6
    assert df.loc["a/q.xyz", "status"] == "corrupt" and df.loc["a/q.xyz", "reason"] == "empty file"
