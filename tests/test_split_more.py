"""Iterative stratification, time splits, split locks, near duplicates across splits and
the scikit-learn cross-validators (issue 6)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import one_error_line
from curate.errors import CuraugError
from curate.split.cv import BalancedKFold, LeaveOneGroupOut, LeaveOneOut, RepeatedBalancedKFold
from curate.split.cv import train_val_test_indices
from curate.split.splitters import split_frame


def _multilabel_frame(n: int, labels: int, seed: int, groups: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = 0.02 + 0.4 * rng.random(labels) ** 3
    Y = rng.random((n, labels)) < p
    tags = [";".join(f"L{j}" for j in np.flatnonzero(row)) for row in Y]
    df = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "tags": tags})
    if groups:
        df["g"] = rng.integers(0, groups, n)
    return df


def _label_share_deviation(df: pd.DataFrame, assign: np.ndarray) -> float:
    ind = df["tags"].str.get_dummies(sep=";")
    overall = ind.mean()
    return float(ind.groupby(assign).mean().sub(overall, axis=1).abs().max().max())


def test_iterative_stratification_beats_random_and_keeps_groups_whole():
    df = _multilabel_frame(3000, 12, 0)
    res = split_frame(df, "tags", multilabel_sep=";", folds=5, seed=0)
    rng = np.random.default_rng(0)
    random = rng.choice(["train", "val", "test"], len(df), p=[0.6, 0.2, 0.2])
    assert _label_share_deviation(df, res.split) < _label_share_deviation(df, random) / 3
    assert res.report["folds_with_zero_positives"] == 0 and res.report["splits_with_zero_positives"] == 0
    assert res.report["split_label_distribution"] < 0.01
    assert abs(res.report["sizes"]["train"] - 1800) <= 5
    grouped = _multilabel_frame(3000, 12, 1, groups=300)
    res = split_frame(grouped, "tags", multilabel_sep=";", group="g", folds=4, seed=0)
    assert (pd.Series(res.split).groupby(grouped["g"].to_numpy()).nunique() == 1).all()
    dev = res.fold >= 0
    assert (pd.Series(res.fold[dev]).groupby(grouped["g"].to_numpy()[dev]).nunique() == 1).all()
    assert _label_share_deviation(grouped, res.split) < 0.03


@settings(max_examples=25, deadline=None)
@given(st.integers(10, 200), st.integers(1, 6), st.integers(0, 2**16), st.sampled_from([None, 5, 30]))
def test_multilabel_split_is_a_partition_and_deterministic(n, labels, seed, groups):
    df = _multilabel_frame(n, labels, seed, groups)
    res = split_frame(df, "tags", multilabel_sep=";", group="g" if groups else None, folds=3, seed=seed, strict=False)
    assert len(res.split) == n and set(res.split) <= {"train", "val", "test"}
    assert ((res.fold == -1) == (res.split == "test")).all()
    again = split_frame(df, "tags", multilabel_sep=";", group="g" if groups else None, folds=3, seed=seed, strict=False)
    assert (again.split == res.split).all() and (again.fold == res.fold).all()
    rare = df["tags"].str.get_dummies(sep=";").drop(columns="", errors="ignore").sum()  # '' : a row with no tag
    if (rare < 3).any():  # a label on fewer rows than splits: named, and an error unless accepted
        assert any(f"{rare.idxmin()}" in note for note in res.notes)
        with pytest.raises(CuraugError, match="is on .* rows but must appear in 3 splits"):
            split_frame(df, "tags", multilabel_sep=";", seed=seed)


def test_time_split_orders_splits_and_leaves_a_gap(cli, tmp_path):
    days = pd.date_range("2024-01-01", periods=100, freq="D")
    df = pd.DataFrame({"day": np.repeat(days, 3).astype(str), "y": ["a", "b", "c"] * 100})
    res = split_frame(df, "y", time="day", folds=4)
    when = pd.to_datetime(df["day"])
    assert when[res.split == "train"].max() < when[res.split == "val"].min()
    assert when[res.split == "val"].max() < when[res.split == "test"].min()
    assert (res.split == "train").sum() == 180 and (res.split == "test").sum() == 60
    fold = res.fold.to_numpy(dtype=int)
    dev = fold >= 0
    assert (np.diff(fold[dev][np.argsort(when[dev].to_numpy(), kind="stable")]) >= 0).all()  # contiguous blocks
    gapped = split_frame(df, "y", time="day", gap="7D", folds=3)
    left_out = gapped.split == "gap"
    assert left_out.sum() == 2 * 7 * 3  # a week before val and before test
    assert (when[gapped.split == "val"].min() - when[gapped.split == "train"].max()).days == 8
    assert gapped.fold[left_out].isna().all()  # no fold: -1 would mean test
    assert (gapped.fold[gapped.split == "test"] == -1).all() and (gapped.fold[gapped.split == "train"] >= 0).all()
    assert gapped.report["sizes"] == {"train": 159, "val": 39, "test": 60, "gap": 42}
    data, out = tmp_path / "t.csv", tmp_path / "o.csv"
    df.to_csv(data, index=False)
    assert "needs --time" in one_error_line(cli("split", data, "--label", "y", "--gap", "3", "-o", out))
    assert "duration" in one_error_line(cli("split", data, "--label", "y", "--time", "day", "--gap", "soon", "-o", out))
    assert "neither numbers nor dates" in one_error_line(cli("split", data, "--label", "y", "--time", "y", "-o", out))
    assert not out.exists()
    assert cli("split", data, "--label", "y", "--time", "day", "--gap", "2D", "--folds", "3", "-o", out).code == 0
    written = pd.read_csv(out)
    assert (written["split"] == "gap").sum() == 2 * 2 * 3 and written["split"].notna().all()
    assert written.loc[written["split"] == "gap", "fold"].isna().all()
    r = cli("validate", out, "--label", "y", "--json", "-")  # gap rows are no split of their own
    checks = {c["name"]: c for c in json.loads(r.out)["checks"]}
    assert checks["split_ratios"]["observed"]["counts"]["gap"] == 12
    assert checks["classes_in_every_split"]["success"]
    assert {tuple(c["observed"]["pair"]) for c in json.loads(r.out)["checks"] if c["name"] == "drift"} == \
        {("train", "val"), ("train", "test"), ("val", "test")}


def test_split_lock_catches_moved_rows_and_allows_stable_appends(cli, sample, tmp_path):
    raw = pd.read_csv(sample / "penguins.csv").drop_duplicates().reset_index(drop=True)
    raw.insert(0, "id", [f"p{i}" for i in range(len(raw))])
    data, out, lock = tmp_path / "p.csv", tmp_path / "s.parquet", tmp_path / "split.lock"
    raw.to_csv(data, index=False)
    assert cli("split", data, "--label", "species", "--stable", "--folds", "3", "-o", out, "--lock", lock).code == 0
    r = cli("validate", out, "--label", "species", "--lock", lock, "--json", "-")
    check = next(c for c in json.loads(r.out)["checks"] if c["name"] == "split_lock")
    assert check["success"] and check["observed"]["checked_rows"] == len(raw)
    moved = pd.read_parquet(out)
    moved.loc[moved["id"] == "p5", "split"] = "test" if moved.loc[moved["id"] == "p5", "split"].item() != "test" else "train"
    moved.to_parquet(tmp_path / "moved.parquet")
    r = cli("validate", tmp_path / "moved.parquet", "--label", "species", "--lock", lock, "--json", "-")
    assert r.code == 1
    check = next(c for c in json.loads(r.out)["checks"] if c["name"] == "split_lock")
    assert not check["success"] and check["observed"]["moved"] == 1 and check["observed"]["examples"][0]["id"] == "p5"
    grown = pd.concat([raw, raw.head(40).assign(id=[f"new{i}" for i in range(40)])], ignore_index=True)
    grown.to_csv(tmp_path / "grown.csv", index=False)
    assert cli("split", tmp_path / "grown.csv", "--label", "species", "--stable", "--folds", "3",
               "-o", tmp_path / "g.parquet").code == 0
    r = cli("validate", tmp_path / "g.parquet", "--label", "species", "--lock", lock, "--json", "-")
    check = next(c for c in json.loads(r.out)["checks"] if c["name"] == "split_lock")
    assert check["success"] and check["observed"]["new_rows"] == 40
    edited = json.loads(lock.read_text())
    edited["splits"]["train"].append("intruder")
    (tmp_path / "bad.lock").write_text(json.dumps(edited))
    assert "does not match its hash" in one_error_line(cli("validate", out, "--lock", tmp_path / "bad.lock"))



def test_split_lock_checks_labels_and_roles(cli, tmp_path):
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"id": [f"r{i}" for i in range(60)], "y": rng.choice(["a", "b"], 60), "x": rng.normal(size=60)})
    data, out, lock = tmp_path / "d.csv", tmp_path / "s.parquet", tmp_path / "split.lock"
    raw.to_csv(data, index=False)
    assert cli("split", data, "--label", "y", "--folds", "2", "-o", out, "--lock", lock).code == 0

    def lock_check(path, *extra):
        r = cli("validate", path, "--lock", lock, "--json", "-", *extra)
        return r.code, next(c for c in json.loads(r.out)["checks"] if c["name"] == "split_lock")

    code, check = lock_check(out, "--label", "y")
    assert code == 0 and check["success"] and "keep their split, fold and label" in check["details"]
    relabelled = pd.read_parquet(out)
    relabelled.loc[relabelled["id"] == "r7", "y"] = "c"
    relabelled.to_parquet(tmp_path / "relabelled.parquet")
    code, check = lock_check(tmp_path / "relabelled.parquet", "--label", "y")
    assert code == 1 and check["observed"]["relabelled"] == 1 and check["offenders"] == ["r7"]
    assert f"1 locked rows changed label (e.g. r7: {raw.loc[7, 'y']} -> c)" in check["details"]
    code, check = lock_check(out, "--label", "x")
    assert code == 1 and "the lock was made with label 'y', this validation uses 'x'" in check["details"]
    edited = json.loads(lock.read_text())
    edited["labels"]["train"][0] = "zzz"
    (tmp_path / "bad.lock").write_text(json.dumps(edited))
    assert "labels do not match their hash" in one_error_line(cli("validate", out, "--lock", tmp_path / "bad.lock"))


def test_split_lock_identifies_rows_without_ids_by_content():
    from curate.split.lock import build_lock, row_identity

    df = pd.DataFrame({"x": [1, 2, 1, 3], "y": ["a", "b", "a", "b"], "split": ["train", "val", "test", "train"]})
    ids = row_identity(df, "y")
    assert ids[0] != ids[2] and ids[2] == ids[0] + "-1"  # two equal rows are still two rows
    assert (row_identity(df.assign(y=["b", "b", "a", "a"]), "y") == ids).all()  # the label is not identity
    lock = build_lock(df, "split", label="y")
    assert sorted(i for members in lock["splits"].values() for i in members) == sorted(ids)

def test_near_duplicate_image_across_splits_fails_naming_the_pair(cli, image_tree, tmp_path):
    from PIL import Image

    src = image_tree / "1" / "digit_0042.png"
    with Image.open(src) as im:  # a re-encoded, resized copy: different bytes, same picture
        im.convert("RGB").resize((im.width * 2, im.height * 2)).save(image_tree / "1" / "bigger_0042.jpg", quality=90)
    manifest, out = tmp_path / "m.parquet", tmp_path / "s.parquet"
    assert cli("ingest", image_tree, "-o", manifest).code == 0
    df = pd.read_parquet(manifest)
    df["split"] = np.where(df["status"] == "ok", "train", None)
    df.loc[df["id"] == "1/bigger_0042.jpg", "split"] = "test"
    df.loc[df["id"].str.startswith("7/") & (df["status"] == "ok"), "split"] = "val"
    df.to_parquet(out)
    r = cli("validate", out, "--json", "-")
    assert r.code == 1
    check = next(c for c in json.loads(r.out)["checks"] if c["name"] == "duplicates_across_splits")
    near = [p for p in check["observed"]["pairs"] if p["kind"] == "image"]
    assert sorted(near[0]["ids"]) == ["1/bigger_0042.jpg", "1/digit_0042.png"] and near[0]["distance"] <= 4
    assert "1/bigger_0042.jpg" in check["details"] and "hamming" in check["details"]
    df.loc[df["id"] == "1/bigger_0042.jpg", "split"] = "train"
    df.loc[df["id"] == "7/mislabelled_one.png", "split"] = "train"  # near copy of 1/digit_0042
    df.to_parquet(out)
    check = next(c for c in json.loads(cli("validate", out, "--json", "-").out)["checks"]
                 if c["name"] == "duplicates_across_splits")
    assert check["observed"]["near_pairs"]["image"] == 0 or all(
        "1/bigger_0042.jpg" not in p["ids"] for p in check["observed"]["pairs"])


def test_near_duplicate_texts_and_audio(sample, tmp_path):
    import soundfile as sf

    from curate.checks.validate import validate

    texts = pd.read_csv(sample / "text.csv").drop_duplicates("text").head(60).reset_index(drop=True)
    texts["id"] = [f"t{i}" for i in range(len(texts))]
    texts["split"] = ["train"] * 40 + ["test"] * 20
    extra = texts.iloc[[3]].assign(id="t3-copy", split="test",
                                   text=texts.loc[3, "text"].upper().replace(" ", "  ") + " !")
    df = pd.concat([texts, extra], ignore_index=True)
    check = [c for c in validate(df, split_col="split").checks if c.name == "duplicates_across_splits"][0]
    pairs = [p for p in check.observed["pairs"] if p["kind"] == "text"]
    assert [sorted(p["ids"]) for p in pairs] == [["t3", "t3-copy"]] and pairs[0]["distance"] >= 0.8

    tree = tmp_path / "audio"
    shutil.copytree(sample / "audio", tree)
    y, sr = sf.read(tree / "no" / "no_00.wav", dtype="float32")
    noisy = 0.7 * y + np.random.default_rng(0).normal(0, 0.003, y.shape).astype("float32")
    sf.write(tree / "no" / "no_noisy.wav", noisy, sr)
    from curate.io.ingest import ingest

    m = ingest(str(tree)).manifest
    m = m[m["status"] == "ok"].copy()
    m["split"] = np.where(m["id"] == "no/no_noisy.wav", "test", "train")
    m.loc[m["id"].str.startswith("up/"), "split"] = "test"
    check = [c for c in validate(m, split_col="split").checks if c.name == "duplicates_across_splits"][0]
    pairs = [sorted(p["ids"]) for p in check.observed["pairs"] if p["kind"] == "audio"]
    assert ["no/no_00.wav", "no/no_noisy.wav"] in pairs and len(pairs) <= 2


def test_scikit_learn_cross_validators(sample):
    import sklearn
    from sklearn import model_selection as ms
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(sample / "penguins.csv").dropna(subset=["bill_length_mm", "bill_depth_mm"])
    X, y = df[["bill_length_mm", "bill_depth_mm"]].to_numpy(), df["species"].to_numpy()
    groups = df["individual_id"].to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_score(model, X, y, groups=groups, cv=BalancedKFold(5, random_state=0))
    assert len(scores) == 5 and scores.mean() > 0.9
    for train, test in BalancedKFold(5).split(X, y, groups):
        assert not set(groups[train]) & set(groups[test])
        assert set(y[test]) == set(y)  # every fold holds every species
    first = [t.tolist() for _, t in BalancedKFold(4, random_state=3).split(X, y, groups)]
    assert sorted(i for t in first for i in t) == list(range(len(y)))  # a partition
    assert first != [t.tolist() for _, t in BalancedKFold(4, random_state=4).split(X, y, groups)]
    rep = list(RepeatedBalancedKFold(3, 2).split(X, y))
    assert len(rep) == RepeatedBalancedKFold(3, 2).get_n_splits() == 6
    assert rep[0][1].tolist() != rep[3][1].tolist()
    # LeaveOneOut means what it means in scikit-learn; the group version has its own name
    for ours, theirs in ((LeaveOneOut(), ms.LeaveOneOut()), (LeaveOneGroupOut(), ms.LeaveOneGroupOut())):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = [(tr.tolist(), te.tolist()) for tr, te in ours.split(X[:30], y[:30], groups[:30])]
            want = [(tr.tolist(), te.tolist()) for tr, te in theirs.split(X[:30], y[:30], groups[:30])]
        assert got == want and len(got) == (30 if isinstance(ours, LeaveOneOut) else len(set(groups[:30])))
        assert ours.get_n_splits(X[:30], y[:30], groups[:30]) == theirs.get_n_splits(X[:30], y[:30], groups[:30])
        if isinstance(ours, LeaveOneOut):  # groups given to the sample version: said, not silently dropped
            assert any("LeaveOneGroupOut leaves one group out" in str(w.message) for w in caught)
    assert LeaveOneOut().get_n_splits(X[:10], groups=groups[:10]) == 10
    tr, va, te = train_val_test_indices(y, groups)
    assert len(set(tr) | set(va) | set(te)) == len(y)
    assert not set(groups[tr]) & set(groups[te])
    state = np.random.get_state()[1].copy()
    list(BalancedKFold(3).split(X, y, groups))
    assert (np.random.get_state()[1] == state).all()  # the global RNG is left alone
    with sklearn.config_context(enable_metadata_routing=True):  # groups routed to the splitter
        out = cross_validate(model, X, y, params={"groups": groups}, cv=BalancedKFold(3), return_indices=True)
        assert all(not set(groups[a]) & set(groups[b]) for a, b in zip(out["indices"]["train"], out["indices"]["test"]))


def test_cross_validators_check_their_parameters_where_data_arrives():
    X, y = np.zeros((12, 1)), np.array(["a"] * 9 + ["b"] * 3)
    cv = BalancedKFold(1)  # stored as given, like scikit-learn; checked on use
    assert repr(cv) == "BalancedKFold(n_splits=1, random_state=0)"
    with pytest.raises(ValueError, match="n_splits=1: expected an integer of at least 2"):
        list(cv.split(X, y))
    with pytest.raises(ValueError) as exc:
        list(BalancedKFold(4).split(X, y))
    assert str(exc.value) == ("n_splits=4 cannot be greater than the number of members in each class: "
                              "class 'b' has 3") and exc.value.param == "n_splits"
    with pytest.raises(ValueError, match="number of groups: 2"):
        list(BalancedKFold(3).split(X, None, groups=[0] * 6 + [1] * 6))
    with pytest.raises(ValueError, match="n_repeats=0"):
        RepeatedBalancedKFold(2, 0).get_n_splits()
    with pytest.raises(ValueError, match="groups=None"):
        list(LeaveOneGroupOut().split(X))
    with pytest.raises(ValueError, match="n_samples=1"):
        list(LeaveOneOut().split(X[:1]))


def test_list_label_column_is_multilabel_in_split_and_validate(cli, tmp_path):
    rng = np.random.default_rng(0)
    tags = [sorted(set(rng.choice(["cat", "dog", "bird", "fish"], rng.integers(1, 3)).tolist())) for _ in range(200)]
    data = tmp_path / "tags.parquet"
    pd.DataFrame({"id": [f"r{i}" for i in range(200)], "tags": tags, "x": rng.normal(size=200)}).to_parquet(data)
    r = cli("split", data, "--label", "tags", "--folds", "3", "-o", tmp_path / "s.parquet", "--json", "-")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert set(report["per_class"]) == {"bird", "cat", "dog", "fish"} and report["folds_with_zero_positives"] == 0
    r = cli("validate", tmp_path / "s.parquet", "--label", "tags", "--json", "-")
    checks = {c["name"]: c for c in json.loads(r.out)["checks"]}
    assert checks["classes_in_every_split"]["observed"]["classes"] == ["bird", "cat", "dog", "fish"]
    assert set(checks["class_balance"]["observed"]["counts"]) == {"bird", "cat", "dog", "fish"}


def test_audio_fingerprints_are_cached_by_content_hash(cli, sample, tmp_path):
    import os

    from curate.io.manifest import load_data
    from curate.checks.near_dups import _audio_prints

    assert cli("ingest", sample / "audio", "-o", tmp_path / "a.parquet").code == 0
    m = load_data(tmp_path / "a.parquet")
    modality = m["modality"].astype(str).to_numpy()
    idx, first, unreadable = _audio_prints(m, modality)
    cache = list(__import__("pathlib").Path(os.environ["CURAUG_CACHE_DIR"]).glob("audio-fingerprints-*.parquet"))
    assert len(cache) == 1 and len(idx) >= int((m["status"] == "ok").sum())
    assert unreadable == []  # libsndfile reads even the truncated clip
    idx2, again, _ = _audio_prints(m, modality)
    assert (idx2 == idx).all()
    assert all(a[0] == b[0] and (a[1] == b[1]).all() for a, b in zip(first, again))


def test_popcount_with_and_without_numpy_bitwise_count(monkeypatch):
    from curate.checks import near_dups

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2**63, 5000, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 5000, dtype=np.uint64)
    expected = [bin(int(c)).count("1") for c in codes]
    assert near_dups.popcount_by_table(codes).tolist() == expected
    split = rng.choice(np.array(["train", "test"]), 5000)
    near = codes.copy()
    near[1::2] = codes[0::2] ^ np.uint64(0b1011)  # each odd code 3 bits from its even neighbour
    found = near_dups.hamming_pairs(near, 4, split)
    if hasattr(np, "bitwise_count"):
        assert near_dups.popcount(codes).tolist() == expected
        monkeypatch.delattr(np, "bitwise_count")  # numpy < 2: the table answers alike
    assert near_dups.popcount(codes).tolist() == expected
    again = near_dups.hamming_pairs(near, 4, split)
    assert all((a == b).all() for a, b in zip(found, again))
    crossing = int((split[0::2] != split[1::2]).sum())
    assert len(found[0]) >= crossing and set(found[2].tolist()) <= {0, 1, 2, 3, 4}


def test_unreadable_media_are_counted_in_the_near_duplicate_search(cli, image_tree, tmp_path):
    manifest, out = tmp_path / "m.parquet", tmp_path / "s.parquet"
    assert cli("ingest", image_tree, "-o", manifest).code == 0
    df = pd.read_parquet(manifest).drop(columns="phash")  # no stored hashes: files are read
    df = df[df["status"] == "ok"]
    df["split"] = np.resize(["train", "val", "test"], len(df))
    df.to_parquet(out)
    (image_tree / "0" / "digit_0000.png").unlink()  # gone since ingest
    r = cli("validate", out, "--json", "-")
    found = [c for c in json.loads(r.out)["checks"] if c["name"] == "duplicates_across_splits"]
    warning = next(c for c in found if c["severity"] == "warn")
    assert warning["observed"]["unreadable_files"] == 1 and warning["offenders"] == ["0/digit_0000.png"]
    assert "1 media files could not be read" in warning["details"]


def test_a_label_with_nothing_to_learn_is_one_error_line(cli, tmp_path):
    """A label column that is all missing, or holds a single class, gives nothing to
    stratify on or learn: exit 2 with one line, in memory and in partitions, nothing
    written (a `(missing)` class used to be split as if it were one)."""
    df = pd.DataFrame({"x": range(30), "y": [None] * 30, "one": ["a"] * 27 + [None] * 3})
    df.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "parts").mkdir()
    df.iloc[:15].to_parquet(tmp_path / "parts" / "a.parquet")
    df.iloc[15:].to_parquet(tmp_path / "parts" / "b.parquet")
    for data in (tmp_path / "t.csv", tmp_path / "parts"):
        line = one_error_line(cli("split", data, "--label", "y", "-o", tmp_path / "o.parquet"))
        assert "--label 'y': every value is missing (30 rows)" in line, line
        line = one_error_line(cli("split", data, "--label", "one", "-o", tmp_path / "o.parquet"))
        assert "--label 'one' has a single class ('a', 27 rows): nothing to stratify on or learn" in line, line
        assert not (tmp_path / "o.parquet").exists()


def test_split_strategies_are_one_registry_and_a_third_party_one_is_asked_before_the_fallback(monkeypatch):
    import numpy as np

    from curate.split import strategies
    from curate.split.splitters import split_frame

    assert strategies.STRATEGIES.names()[:5] == ["time", "stable", "multilabel", "grouped", "stratified"]

    class EveryOther(strategies.Strategy):
        """Rows of an ``alt`` column set go by position: even to train, odd to test."""

        @classmethod
        def wanted(cls, rows, request):
            return bool(len(rows.y)) and str(rows.y[0]).startswith("alt")

        def parts(self, idx, ratios):
            return np.where(idx % 2 == 0, 0, 2)

    monkeypatch.setitem(strategies.STRATEGIES._items, "every_other", EveryOther)
    custom = split_frame(pd.DataFrame({"y": ["alt1", "alt2"] * 10}), "y", ratios=(0.5, 0, 0.5))
    assert custom.split.tolist() == ["train", "test"] * 10
    plain = split_frame(pd.DataFrame({"y": ["b1", "b2"] * 10}), "y", ratios=(0.5, 0, 0.5))
    assert sorted(plain.split.tolist()) == ["test"] * 10 + ["train"] * 10
    assert plain.split.tolist() != custom.split.tolist()
