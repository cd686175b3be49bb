"""One decoder per modality (issue 23 item 8): augmentation and training read media files
through the same functions (augment/image/decode.py, augment/audio/decode.py), so a format
that augments also trains, and both see the same pixels and samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import curaug
from augment.image.decode import pixels, read_image
from conftest import SAMPLE
from pipelines.train.config import TrainConfig
from pipelines.train.data import prepare_data


def _modes(folder: Path) -> dict[str, Path]:
    """One small image per Pillow mode a user's folder may hold, under class folders a/b."""
    rng = np.random.default_rng(0)
    grey, colour = rng.integers(0, 256, (12, 16), dtype=np.uint8), rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    alpha = np.where(np.arange(16) < 8, 0, 255).astype(np.uint8)[None].repeat(12, axis=0)
    images = {
        "a/grey.png": Image.fromarray(grey),
        "a/bilevel.png": Image.fromarray(grey > 128),
        "a/grey_alpha.png": Image.fromarray(np.dstack([grey, alpha]), mode="LA"),
        "a/deep.png": Image.fromarray(grey.astype(np.uint16) * 257),
        "a/int32.tif": Image.fromarray(grey.astype(np.int32) * 300 - 1000, mode="I"),
        "b/rgb.png": Image.fromarray(colour),
        "b/rgba.png": Image.fromarray(np.dstack([colour, alpha])),
        "b/palette.png": Image.fromarray(colour).convert("P"),
        "b/cmyk.jpg": Image.fromarray(np.dstack([colour, grey])).convert("CMYK"),
    }
    files = {}
    for name, im in images.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        im.save(folder / name)
        files[name] = folder / name
    clear = Image.fromarray(colour).convert("P")
    clear.save(folder / "b" / "keyed.png", transparency=int(np.asarray(clear)[0, 0]))
    files["b/keyed.png"] = folder / "b" / "keyed.png"
    return files


@pytest.fixture
def modes(tmp_path) -> dict[str, Path]:
    return _modes(tmp_path / "modes")


def test_each_mode_decodes_to_what_a_transform_or_a_model_can_use(modes):
    got = {name: read_image(path) for name, path in modes.items()}
    kinds = {name: (mode, a.dtype.name, a.shape[2:] and a.shape[2]) for name, (a, mode) in got.items()}
    assert kinds == {"a/grey.png": ("L", "uint8", ()), "a/bilevel.png": ("L", "uint8", ()),
                     "a/grey_alpha.png": ("RGBA", "uint8", 4), "a/deep.png": ("I;16", "uint16", ()),
                     "a/int32.tif": ("I;16", "uint16", ()), "b/rgb.png": ("RGB", "uint8", 3),
                     "b/rgba.png": ("RGBA", "uint8", 4), "b/palette.png": ("RGB", "uint8", 3),
                     "b/cmyk.jpg": ("RGB", "uint8", 3), "b/keyed.png": ("RGBA", "uint8", 4)}
    # transparency is kept as alpha (it used to be dropped, showing whatever colour was under it)
    assert (got["a/grey_alpha.png"][0][:, :8, 3] == 0).all() and (got["a/grey_alpha.png"][0][:, 8:, 3] == 255).all()
    keyed = got["b/keyed.png"][0]
    assert keyed[0, 0, 3] == 0 and 0 < (keyed[..., 3] == 255).mean() < 1
    assert set(np.unique(got["a/bilevel.png"][0])) <= {0, 255}
    with Image.open(modes["a/int32.tif"]) as im:
        assert np.array_equal(got["a/int32.tif"][0], np.clip(np.asarray(im), 0, 65535))
    float_grey = Image.fromarray(np.array([[-0.5, 0.25, 2.0]], dtype=np.float32))
    assert pixels(float_grey)[0].tolist() == [[0, 16384, 65535]] and pixels(float_grey)[1] == "I;16"


def test_augmentation_loads_and_training_reads_the_same_pixels(modes, tmp_path):
    from augment.image.plugin import ImagePlugin
    from augment.plugin import Context
    from augment.recipe_file import load_recipe

    root = tmp_path / "modes"
    ctx = Context(load_recipe({"modality": "image", "transforms": [{"HorizontalFlip": {}}]}).recipe, None, None)
    m = curaug.ingest(str(root), use_cache=False).manifest
    assert (m["status"] == "ok").all()
    m["split"] = "train"
    train = prepare_data(m, TrainConfig(), base_dir=tmp_path).splits["train"]
    assert train.spec.input_shape[0] == 3
    for row in m.to_dict("records"):
        loaded = ImagePlugin().load(row, ctx)
        pixels_, mode = read_image(root / row["path"])
        assert loaded["mode"] == mode and np.array_equal(loaded["image"], pixels_)
    # transparent pixels train as white, opaque ones as themselves
    x = train.tensors()[0].numpy() * np.array(train.encoder.std)[:, None, None] + \
        np.array(train.encoder.mean)[:, None, None]
    alpha = train.sources.index(str(root / "a" / "grey_alpha.png"))
    assert np.allclose(x[alpha][:, :, :4], 1.0, atol=1e-5)


def test_a_grey_image_with_alpha_augments_with_its_transparency(cli, tmp_path, modes):
    """Before, the image plugin dropped the alpha channel of a grey+alpha (or keyed palette)
    image: the copies came out RGB, the transparent half black."""
    root = tmp_path / "modes"
    m = curaug.ingest(str(root), use_cache=False).manifest
    m["split"] = "train"
    m.to_parquet(tmp_path / "m.parquet", index=False)
    (tmp_path / "r.yaml").write_text("modality: image\ncopies: 1\ntransforms:\n  - HorizontalFlip: {p: 1.0}\n")
    r = cli("augment", tmp_path / "m.parquet", "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "out")
    assert r.code == 0, r.err
    out = curaug.load_data(tmp_path / "out" / "manifest.parquet")
    copy = out[out["source_id"] == "a/grey_alpha.png"].iloc[0]
    with Image.open(tmp_path / "out" / copy["path"]) as im:
        assert im.mode == "RGBA"
        flipped = np.asarray(im)
    assert (flipped[:, 8:, 3] == 0).all() and (flipped[:, :8, 3] == 255).all()


def test_training_reads_images_and_audio_through_the_augmentation_decoders(monkeypatch):
    import augment.audio.decode as audio
    import augment.image.decode as image

    read: list[str] = []
    for module, name in ((image, "read_image"), (audio, "read_audio")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda file, real=real: (read.append(str(file)), real(file))[1])
    for folder in ("images", "audio"):
        m = curaug.split(curaug.ingest(str(SAMPLE / folder), use_cache=False).manifest, seed=0)
        read.clear()
        prepared = prepare_data(m, TrainConfig(), base_dir=SAMPLE)
        for ds in prepared.splits.values():
            ds.tensors()
        assert sorted(read) == sorted(s for ds in prepared.splits.values() for s in ds.sources)
