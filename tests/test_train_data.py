"""Manifests → tensors for training (pipelines/train/data/): shapes per modality, encoders
fitted on the train split only, which rows and columns take part, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import curaug
from curate.errors import CuraugError
from pipelines.train.config import TrainConfig
from pipelines.train.data import ManifestDataset, concat, prepare_data
from pipelines.train.data.encoder import encoder_from_state
from pipelines.train.data.text import UNKNOWN, tokenize
from conftest import SAMPLE

CURAUG_COLUMNS = {"id", "root", "path", "text", "modality", "sha256", "phash", "width", "height", "channels",
                  "sample_rate", "duration_s", "status", "reason", "split", "fold", "group", "source_id",
                  "augment", "seed"}


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    m = curaug.ingest(str(SAMPLE / "penguins.csv"), use_cache=False).manifest
    return curaug.split(m, label="species", folds=3, seed=0)


@pytest.fixture(scope="module")
def texts() -> pd.DataFrame:
    return curaug.split(curaug.ingest(str(SAMPLE / "text.csv"), use_cache=False).manifest, seed=0)


@pytest.fixture(scope="module")
def sounds() -> pd.DataFrame:
    return curaug.split(curaug.ingest(str(SAMPLE / "audio"), use_cache=False).manifest, seed=0)


def prepare(df: pd.DataFrame, tmp_path=SAMPLE, **settings):
    return prepare_data(df, TrainConfig(**settings), base_dir=tmp_path)


# ----------------------------------------------------------------------------- tabular


def test_tabular_features_are_standardised_on_train_only(penguins):
    p = prepare(penguins, label="species")
    train, val = p.splits["train"], p.splits["val"]
    x, y = train.tensors()
    assert p.spec.modality == "tabular" and p.spec.classes == ("Adelie", "Chinstrap", "Gentoo")
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert p.spec.input_shape == (x.shape[1],) and len(train) == (penguins["split"] == "train").sum()
    features = p.encoder["features"]
    year = features.index("year")  # no gaps: exactly standard on train
    assert abs(float(x[:, year].mean())) < 1e-5 and abs(float(x[:, year].std(unbiased=False)) - 1) < 1e-4
    raw_train = penguins.loc[penguins["split"] == "train", "body_mass_g"]
    body = next(c for c in p.encoder["columns"] if c["name"] == "body_mass_g")
    assert body["mean"] == pytest.approx(raw_train.mean()) and body["std"] == pytest.approx(raw_train.std(ddof=0))
    # val went through train's statistics, not its own
    xv, _ = val.tensors()
    years = penguins.groupby("split")["year"]
    expected = (years.get_group("val") - years.get_group("train").mean()) / years.get_group("train").std(ddof=0)
    assert np.allclose(xv[:, year].numpy(), expected.to_numpy(), atol=1e-5)
    assert abs(float(xv[:, year].mean())) > 1e-3


def test_tabular_leaves_out_ids_free_text_and_curaug_columns(penguins):
    tagged = penguins.assign(tag=[f"P{i:04d}" for i in range(len(penguins))])
    p = prepare(tagged, label="species")
    names = {f.split("=")[0].split(":")[0] for f in p.encoder["features"]}
    assert names == {"island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"}
    left_out = p.encoder["left_out"]
    assert left_out["tag"].startswith("id-like") and left_out["individual_id"].startswith("free text")
    assert left_out["notes"].startswith("free text") and not names & CURAUG_COLUMNS
    # measurements with gaps in train get a missing indicator: 1 exactly where the value is missing
    x, _ = p.splits["train"].tensors()
    gap = p.encoder["features"].index("bill_length_mm:missing")
    assert int(x[:, gap].sum()) == int(penguins.loc[penguins["split"] == "train", "bill_length_mm"].isna().sum()) >= 1


def test_tabular_categories_one_hot_and_unknown_is_all_zeros(penguins):
    p = prepare(penguins, label="species")
    sex = [i for i, f in enumerate(p.encoder["features"]) if f.startswith("sex=")]
    categories = [p.encoder["features"][i] for i in sex]
    train_values = penguins.loc[penguins["split"] == "train", "sex"].dropna().unique()
    assert categories == [f"sex={v}" for v in sorted(train_values)]
    encoder = encoder_from_state(p.encoder)  # the JSON state rebuilds the same transform
    val = p.splits["val"]
    assert np.array_equal(encoder.transform(val.frame), val.tensors()[0].numpy())
    new = val.frame.head(3).assign(sex=["hermaphrodite", None, categories[0][4:]])
    out = encoder.transform(new)[:, sex]
    assert out.sum(axis=1).tolist() == [0.0, 0.0, 1.0]


def test_identity_groups_and_folds(penguins):
    p = prepare(penguins, label="species", identity="island")
    train = p.splits["train"]
    assert set(train.groups) == set(penguins.loc[penguins["split"] == "train", "island"])
    assert not any(f.startswith("island") for f in p.encoder["features"])
    assert train.folds.dtype == np.int64
    assert train.folds.tolist() == penguins.loc[penguins["split"] == "train", "fold"].astype(int).tolist()
    assert set(p.splits["test"].folds) == {-1}
    assert train.ids == penguins.loc[penguins["split"] == "train", "id"].tolist()


# ----------------------------------------------------------------------------- text


def test_text_vocabulary_comes_from_train_only(texts):
    p = prepare(texts, max_tokens=16)
    train, val = p.splits["train"], p.splits["val"]
    x, y = train.tensors()
    assert p.spec.modality == "text" and x.dtype == torch.int64 and x.shape == (len(train), 16)
    vocab = set(p.encoder["vocabulary"])
    assert p.spec.vocab_size == len(vocab) + 2 and p.spec.input_shape == (16,)
    train_tokens = {t for s in train.sources for t in tokenize(s)}
    val_only = {t for s in val.sources for t in tokenize(s)} - train_tokens
    assert val_only and not vocab & val_only and vocab <= train_tokens
    assert (val.tensors()[0] == UNKNOWN).any()
    # a short quotation is padded with 0 after its tokens
    shortest = int(np.argmin([len(tokenize(s)) for s in train.sources]))
    n = len(tokenize(train.sources[shortest]))
    assert n < 16 and (x[shortest, n:] == 0).all() and (x[shortest, :n] > 0).all()


# ----------------------------------------------------------------------------- images


def test_images_decoded_resized_and_standardised(split_manifest):
    df = curaug.load_data(split_manifest / "split.parquet")
    p = prepare(df, split_manifest)
    train, val = p.splits["train"], p.splits["val"]
    x, y = train.tensors()
    assert p.spec.modality == "image" and p.spec.input_shape == (1, 32, 32) and p.spec.classes == ("0", "1", "7", "8")
    assert x.shape == (len(train), 1, 32, 32) and x.dtype == torch.float32
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert abs(float(val.tensors()[0].mean())) > 1e-4
    assert p.dropped == {"corrupt": 1}
    assert sum(len(d) for d in p.splits.values()) == (df["status"] == "ok").sum()
    assert train.tensors() is train.tensors()  # decoded once
    rebuilt = encoder_from_state(json.loads(json.dumps(p.encoder)))  # new data, same transform
    assert np.allclose(rebuilt.transform(val.frame), val.tensors()[0].numpy(), atol=1e-6)
    small = prepare(df, split_manifest, image_size=16)
    assert small.splits["test"].tensors()[0].shape[1:] == (1, 16, 16)


@pytest.mark.parametrize("mode, shape", [("L", (12, 12)), ("RGB", (12, 12, 3)), ("L", (9, 14)), ("RGB", (10, 12, 3))])
@pytest.mark.parametrize("channels", [1, 3])
def test_an_augmented_sample_encodes_as_its_file_decodes(tmp_path, mode, shape, channels):
    """Online samples skip the file (and, at the training size, Pillow): the same numbers."""
    from PIL import Image

    from pipelines.train.data.image import decode_image, pixels_array

    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels, mode=mode).save(tmp_path / "a.png")
    for size in (12, 7):
        np.testing.assert_array_equal(pixels_array(pixels, mode, channels, size),
                                      decode_image(str(tmp_path / "a.png"), channels, size))


def test_colour_and_transparency_give_three_channels_on_white(tmp_path):
    from PIL import Image

    for label, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
        (tmp_path / label).mkdir()
        for i in range(4):
            Image.new("L", (20, 12), 40 * i).save(tmp_path / label / f"grey{i}.png")
        Image.new("RGBA", (20, 12), colour + (0,)).save(tmp_path / label / "clear.png")
        Image.new("RGB", (20, 12), colour).convert("P").save(tmp_path / label / "palette.png")
    m = curaug.ingest(str(tmp_path), use_cache=False).manifest
    m["split"] = "train"
    p = prepare(m, tmp_path)
    train = p.splits["train"]
    assert p.spec.input_shape == (3, 16, 16)  # the median side of 20x12 images
    x = train.tensors()[0].numpy() * np.array(p.encoder["std"])[:, None, None] + np.array(p.encoder["mean"])[:, None, None]
    clear = [i for i, s in enumerate(train.sources) if s.endswith("clear.png")]
    palette = train.sources.index(str(tmp_path / "b" / "palette.png"))
    assert np.allclose(x[clear], 1.0, atol=1e-5)  # fully transparent on white
    assert np.allclose(x[palette].mean(axis=(1, 2)), [0, 0, 1], atol=1e-5)
    grey = train.sources.index(str(tmp_path / "a" / "grey1.png"))
    assert np.allclose(x[grey], 40 / 255, atol=1e-5)


def test_augmented_rows_outside_train_are_dropped_and_counted(split_manifest, tmp_path):
    df = curaug.load_data(split_manifest / "split.parquet")
    augmented = curaug.augment(df, {"modality": "image", "copies": 1, "transforms": [{"HorizontalFlip": {"p": 1.0}}]},
                               tmp_path / "aug")
    made = augmented["source_id"].notna()
    p = prepare(augmented, tmp_path)
    assert int(p.splits["train"].augmented.sum()) == made.sum() > 0 and "augmented row outside train" not in p.dropped
    # split again, the copies land in val and test too: there they are left out
    resplit = curaug.split(augmented, label="label", seed=1)
    outside = made & resplit["split"].isin(["val", "test"])
    p = prepare(resplit, tmp_path)
    assert p.dropped["augmented row outside train"] == outside.sum() > 0
    assert not p.splits["val"].augmented.any() and not p.splits["test"].augmented.any()
    assert int(p.splits["train"].augmented.sum()) == (made & (resplit["split"] == "train")).sum()


# ----------------------------------------------------------------------------- audio


def test_audio_log_mel_at_the_median_train_length(sounds):
    p = prepare(sounds, n_mels=32)
    train = p.splits["train"]
    x, _ = train.tensors()
    assert p.spec.modality == "audio" and p.spec.input_shape == (1, 32, p.encoder["frames"])
    assert x.shape == (len(train), 1, 32, p.encoder["frames"]) and x.dtype == torch.float32
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert p.encoder["sample_rate"] == int(np.median(sounds.loc[sounds["split"] == "train", "sample_rate"]))
    assert p.dropped == {"corrupt": 1}


def test_audio_plugin_spectrograms_load_as_they_are(sounds, tmp_path):
    recipe = {"modality": "audio", "copies": 1, "output": "spectrogram", "transforms": [{"gain": {"db": [-3, 3]}}]}
    augmented = curaug.augment(sounds, recipe, tmp_path / "aug")
    p = prepare(augmented, tmp_path)
    train = p.splits["train"]
    row = int(np.flatnonzero(train.augmented)[0])
    stored = np.load(train.sources[row])[0]
    frames = p.encoder["frames"]
    x = train.tensors()[0][row, 0].numpy() * p.encoder["std"] + p.encoder["mean"]
    n = min(frames, stored.shape[1])
    assert train.sources[row].endswith(".npy") and np.allclose(x[:, :n], stored[:, :n], atol=1e-3)
    with pytest.raises(CuraugError, match=r"\.npy: spectrogram of shape .* has not n_mels=32") as err:
        prepare(augmented, tmp_path, n_mels=32)
    assert err.value.param == "n_mels"


# ----------------------------------------------------------------------------- the user entry point


def test_from_manifest_resolves_roots_against_the_manifest(split_manifest, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # roots are relative to the manifest's folder, not the working one
    val = ManifestDataset.from_manifest(split_manifest / "split.parquet", split="val", image_size=8)
    x, y = val[0]
    assert x.shape == (1, 8, 8) and isinstance(y, int) and y == val.targets[0]
    assert all(s.startswith(str(SAMPLE / "images")) for s in val.sources)
    loader = torch.utils.data.DataLoader(val, batch_size=8)
    xb, yb = next(iter(loader))
    assert xb.shape == (8, 1, 8, 8) and yb.dtype == torch.int64


def test_relative_roots_resolve_against_base_dir(split_manifest):
    raw = pd.read_parquet(split_manifest / "split.parquet")  # roots as stored: relative
    assert not raw["root"].str.startswith("/").any()
    p = prepare(raw, split_manifest, image_size=8)
    assert all(s.startswith(str(SAMPLE / "images")) for s in p.splits["test"].sources)
    assert p.splits["test"].tensors()[0].shape[1:] == (1, 8, 8)
    assert not raw["root"].str.startswith("/").any()  # the caller's frame is left as it was


def test_from_manifest_fits_on_the_split_asked(penguins):
    on_val = ManifestDataset.from_manifest(penguins, label="species", split="val", fit_split="val")
    x, _ = on_val.tensors()
    year = on_val.encoder.features.index("year")
    assert abs(float(x[:, year].mean())) < 1e-5
    with pytest.raises(CuraugError, match="^unknown setting 'image_sise' .did you mean 'image_size'") as err:
        ManifestDataset.from_manifest(penguins, label="species", image_sise=16)
    assert err.value.param == "image_sise"
    with pytest.raises(CuraugError, match="^image_size=2: Input should be greater than or equal to 8$"):
        ManifestDataset.from_manifest(penguins, label="species", image_size=2)
    with pytest.raises(CuraugError, match="split='dev' is not one of train, train_val, val, test"):
        ManifestDataset.from_manifest(penguins, label="species", split="dev")
    with pytest.raises(CuraugError, match="unknown modality 'audi' .did you mean 'audio'") as err:
        ManifestDataset.from_manifest(penguins, label="species", modality="audi")
    assert err.value.param == "modality"


def test_subset_and_concat_keep_the_encoded_rows(penguins):
    p = prepare(penguins, label="species")
    train, val = p.splits["train"], p.splits["val"]
    part = train.subset([4, 0, 7])
    assert part.ids == [train.ids[i] for i in (4, 0, 7)]
    assert torch.equal(part.tensors()[0], train.tensors()[0][[4, 0, 7]])
    both = concat(train, val)
    assert len(both) == len(train) + len(val) and both.ids == train.ids + val.ids
    assert torch.equal(both.tensors()[0], torch.cat([train.tensors()[0], val.tensors()[0]]))
    assert both.tensors()[1].tolist() == train.targets.tolist() + val.targets.tolist()
    other = prepare(penguins.assign(extra=1.0), label="species").splits["val"]
    with pytest.raises(CuraugError, match="different encoders"):
        concat(train, other)


# ----------------------------------------------------------------------------- rows and errors


def test_rows_without_label_or_split_are_left_out(penguins):
    df = penguins.copy()
    df.loc[df.index[:5], "species"] = None
    df.loc[df.index[5:7], "split"] = None
    p = prepare(df, label="species")
    assert p.dropped == {"no label": 5, "not in train/val/test": 2}
    assert sum(len(d) for d in p.splits.values()) == len(df) - 7
    assert df["species"].isna().sum() == 5  # the caller's frame is not changed by preparing it


def test_whole_number_labels_read_as_integers(penguins):
    df = penguins.assign(code=penguins["species"].map({"Adelie": 3, "Chinstrap": 10, "Gentoo": None}))
    p = prepare(df.drop(columns="species"), label="code")
    assert p.spec.classes == ("10", "3")  # sorted as strings
    assert p.dropped == {"no label": int(df["code"].isna().sum())}


def test_a_split_without_rows_is_absent_but_train_must_have_rows(penguins):
    p = prepare(penguins[penguins["split"] != "test"], label="species")
    assert set(p.splits) == {"train", "val"}
    with pytest.raises(CuraugError, match="the 'train' split has no usable rows") as err:
        prepare(penguins[penguins["split"] != "train"], label="species")
    assert err.value.param == "data"


@pytest.mark.parametrize("change, settings, message, param", [
    (lambda df: df.drop(columns="split"), {"label": "species"},
     r"^the manifest has no split column: run `curaug split` first$", "data"),
    (lambda df: df, {"label": "specie"}, r"^no label column 'specie' \(did you mean 'species'\?\)$", "label"),
    (lambda df: df, {"label": "species", "identity": "islands"},
     r"^no identity column 'islands' \(did you mean 'island'\?\)$", "identity"),
    (lambda df: df.assign(modality=["tabular", "text"] * (len(df) // 2) + ["text"] * (len(df) % 2)),
     {"label": "species"}, r"^the manifest mixes modalities \(tabular, text\): train on one at a time$", "data"),
    (lambda df: df.assign(modality="imag"), {"label": "species"},
     r"^unknown modality 'imag' \(did you mean 'image'\?\)$", "data"),
])
def test_bad_input_is_one_clear_error(penguins, change, settings, message, param):
    with pytest.raises(CuraugError, match=message) as err:
        prepare(change(penguins), **settings)
    assert "\n" not in str(err.value) and err.value.param == param
