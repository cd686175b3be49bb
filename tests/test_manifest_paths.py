from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from conftest import one_error_line
from curate.io.ingest import ingest
from curate.io.manifest import load_data, save_manifest, unsafe_path_reason


@pytest.mark.parametrize("path", ["../../etc/passwd", "a/../../x", "/etc/passwd", "C:\\Windows\\x",
                                  "..\\..\\secret", ".."])
def test_escaping_paths_are_rejected_on_load(cli, tmp_path, path):
    pd.DataFrame({"id": ["x"], "modality": ["image"], "root": ["."], "path": [path]}).to_parquet(
        tmp_path / "m.parquet")
    msg = one_error_line(cli("profile", tmp_path / "m.parquet"))
    assert "m.parquet" in msg and "row 0 (id 'x')" in msg and path in msg


def test_path_without_root_is_rejected(cli, tmp_path):
    pd.DataFrame({"id": ["x"], "root": [None], "path": ["a.png"]}).to_csv(tmp_path / "m.csv", index=False)
    assert "no root" in one_error_line(cli("profile", tmp_path / "m.csv"))


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "c.png"]), min_size=1, max_size=6))
def test_inside_paths_stay_inside(parts):
    import posixpath

    path = "/".join(parts)
    depth_ok = all(posixpath.normpath("/".join(parts[:i + 1])) != ".." and
                   not posixpath.normpath("/".join(parts[:i + 1])).startswith("../")
                   for i in range(len(parts)))
    if unsafe_path_reason(path) is None:
        assert not posixpath.normpath(path).startswith("..")
    if depth_ok:
        assert unsafe_path_reason(path) is None


def test_roots_are_stored_relative_and_resolved_on_load(tmp_path, sample):
    manifest = ingest(sample / "audio").manifest
    out = tmp_path / "deep" / "m.parquet"
    save_manifest(manifest, out)
    stored = pd.read_parquet(out)["root"].unique().tolist()
    assert len(stored) == 1 and not stored[0].startswith("/")
    loaded = load_data(out)
    assert loaded["root"].iloc[0] == str((sample / "audio").resolve())
    pd.testing.assert_frame_equal(loaded.drop(columns="root"), manifest.drop(columns="root"),
                                  check_dtype=False)


def test_names_with_dots_inside_the_root_load(tmp_path):
    paths = ["a..b/c.png", "x/../y.png", "v1.2/..hidden.png", "plain/d.png"]
    pd.DataFrame({"id": paths, "root": ["."] * 4, "path": paths}).to_parquet(tmp_path / "m.parquet")
    loaded = load_data(tmp_path / "m.parquet")
    assert loaded["path"].tolist() == paths and (loaded["root"] == str(tmp_path.resolve())).all()
