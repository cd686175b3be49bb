"""The image plugin and curaug's own image transforms, on real sample images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.image.transforms import ImageTransform, number
from conftest import SAMPLE, one_error_line

Fraction = number(ge=0, le=1)



def _decodes(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except OSError:  # the sample set plants a truncated PNG
        return False


DIGITS = sorted(p for p in (SAMPLE / "images").glob("*/*.png") if _decodes(p))


def _grey(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("L"))


def _manifest(folder: Path, images: dict[str, np.ndarray], label: str = "a") -> Path:
    """Write ``images`` (name -> array) as PNGs and a train-split manifest of them."""
    from PIL import Image

    (folder / label).mkdir(parents=True, exist_ok=True)
    rows = []
    for name, image in images.items():
        Image.fromarray(image).save(folder / label / name)
        rows.append({"id": f"{label}/{name}", "label": label, "root": str(folder), "path": f"{label}/{name}",
                     "modality": "image", "status": "ok", "split": "train"})
    pd.DataFrame(rows).to_parquet(folder / "m.parquet")
    return folder / "m.parquet"


def _outputs(outdir: Path) -> list[tuple[dict, "object", "object"]]:
    """(augmented row, output image, source image) for every augmented row, as Pillow images."""
    from PIL import Image

    from curate.io.manifest import load_data

    m = load_data(outdir / "manifest.parquet")
    sources = m[m["source_id"].isna()].set_index("id")
    found = []
    for row in m[m["source_id"].notna()].to_dict("records"):
        src = sources.loc[row["source_id"]]
        found.append((row, Image.open(outdir / row["path"]), Image.open(Path(src["root"]) / src["path"])))
    return found


# ------------------------------------------------------------------ parameters and names

@pytest.mark.parametrize("name, params, message", [
    ("Rotate", {"limit": "abc"}, "Rotate.limit: 'abc' is not a number or a [lo, hi] pair"),
    ("Rotate", {"limit": [1, 2, 3]}, "Rotate.limit: [1, 2, 3] is not a number or a [lo, hi] pair"),
    ("Rotate", {"border_mode": "reflect"}, "Rotate.border_mode: 'reflect' is not one of 0, 1, 2, 3 or 4"),
    ("ElasticTransform", {"alpha": -1}, "ElasticTransform.alpha: -1 must be >= 0"),
    ("Resize", {"width": 8}, "Resize.height: required (it has no default)"),
    ("Resize", {"height": "a", "width": 8}, "Resize.height: 'a' is not an integer"),
    ("CoarseDropout", {"num_holes_range": [0, 5]},
     "CoarseDropout.num_holes_range: All values in (0, 5) must be >= 1 (got [0, 5])"),
    ("RandomBrightnessContrast", {"ensure_safe_range": "maybe"},
     "RandomBrightnessContrast.ensure_safe_range: 'maybe' is not true or false"),
    ("noise", {"psnr": "loud"}, "noise.psnr: 'loud' is not a number or a [lo, hi] pair"),
    ("noise", {"psnr": -3}, "noise.psnr: -3 must be > 0"),
    ("noise", {"psnr": [-3, 10]}, "noise.psnr: both ends must be > 0 (got [-3, 10])"),
    ("noise", {"kind": ["gaussian", "pink"]}, "noise.kind: 'pink' is not one of 'gaussian', 'salt_pepper' or 'speckle'"),
    ("copy_paste", {"blend": "magic"}, "copy_paste.blend: 'magic' is not one of 'alpha' or 'poisson'"),
    ("copy_paste", {"scale": 0}, "copy_paste.scale: 0 must be > 0"),
    ("copy_paste", {"feather": None}, "copy_paste.feather: None is not a number or a [lo, hi] pair"),
])
def test_a_bad_parameter_value_is_one_short_line_naming_transform_parameter_and_value(name, params, message):
    from augment.image.transforms import check_step
    from curate.errors import CuraugError

    with pytest.raises(CuraugError) as caught:
        check_step(name, params, "transforms.3")
    assert str(caught.value) == f"transforms.3.{message}"
    assert len(str(caught.value)) < 200


def test_unknown_transforms_and_parameters_get_the_closest_name(cli, tmp_path):
    from augment.image.own import CopyPaste, Noise
    from augment.image.transforms import TRANSFORMS, check_step, transform_class
    from curate.errors import CuraugError

    assert transform_class("noise") is Noise and transform_class("copy_paste") is CopyPaste
    assert transform_class("Rotate").__module__.startswith("albumentations.")
    assert TRANSFORMS.names()[:2] == ["noise", "copy_paste"]
    with pytest.raises(CuraugError, match=r"^transforms.0.copy_pste: unknown image transform 'copy_pste' "
                                          r"\(did you mean 'copy_paste'\?\)$"):
        check_step("copy_pste", {}, "transforms.0")
    with pytest.raises(CuraugError, match=r"unknown parameter 'targt' for copy_paste \(did you mean 'target'\?\) "
                                          r"\(takes: target, blend, feather, scale, p\)"):
        check_step("copy_paste", {"targt": "same"}, "transforms.0")
    data = _manifest(tmp_path / "d", {"x.png": _grey(DIGITS[0])})
    (tmp_path / "r.yaml").write_text("modality: image\ncopies: 1\ntransforms:\n  - OneOf: {transforms: "
                                     "[{HorizontalFlip: {}}, {copy_paste: {blend: magic}}]}\n")
    line = one_error_line(cli("augment", data, "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "o"))
    assert "transforms.0.OneOf.transforms.1.copy_paste.blend: 'magic' is not one of 'alpha' or 'poisson'" in line
    assert not (tmp_path / "o").exists()


class Darken(ImageTransform):
    """A third party's transform: every pixel times ``1 - amount``."""

    class InitSchema(ImageTransform.InitSchema):
        amount: Fraction = 0.5

    @staticmethod
    def apply(image, *, amount):
        return np.rint(image * (1 - amount)).astype(image.dtype)


def test_a_third_party_transform_from_an_entry_point_runs_in_a_recipe(cli, tmp_path, monkeypatch):
    import importlib.metadata

    from augment.image.transforms import TRANSFORMS

    class EntryPoint:
        def __init__(self, name, obj):
            self.name, self.value, self.obj = name, f"thirdparty.image:{name}", obj

        def load(self):
            return self.obj

    TRANSFORMS.names()  # the built-ins first, as in any run
    monkeypatch.setattr(TRANSFORMS, "_items", dict(TRANSFORMS._items))
    monkeypatch.setattr(TRANSFORMS, "_entry_points_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [EntryPoint("darken", Darken), EntryPoint("sharpen", np.sqrt)]
                        if group == "curaug.image_transforms" else [])
    images = {p.name: _grey(p) for p in DIGITS[:3]}
    data = _manifest(tmp_path / "d", images)
    (tmp_path / "r.yaml").write_text("modality: image\ncopies: 2\ntransforms:\n  - darken: {amount: [0.25, 0.75]}\n")
    r = cli("augment", data, "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "o")
    assert r.code == 0, r.err
    outputs = _outputs(tmp_path / "o")
    assert len(outputs) == 6
    for row, out, src in outputs:
        step, = json.loads(row["augment"])["plan"]
        amount = step["params"]["amount"]
        assert step["name"] == "darken" and 0.25 <= amount <= 0.75
        assert np.array_equal(np.asarray(out), np.rint(np.asarray(src) * (1 - amount)).astype(np.uint8))
    (tmp_path / "bad.yaml").write_text("modality: image\ntransforms:\n  - darken: {amount: 2}\n")
    assert "darken.amount: 2 must be <= 1" in one_error_line(
        cli("augment", data, "--recipe", tmp_path / "bad.yaml", "-o", tmp_path / "o2"))
    (tmp_path / "bad.yaml").write_text("modality: image\ntransforms:\n  - sharpen: {}\n")
    assert "image transform 'sharpen' is <ufunc 'sqrt'>, not a subclass of augment.image.transforms.ImageTransform" \
        in one_error_line(cli("augment", data, "--recipe", tmp_path / "bad.yaml", "-o", tmp_path / "o3"))


# ------------------------------------------------------------------ noise


def test_noise_hits_its_target_psnr_on_real_images():
    from augment.image.ops import add_noise, psnr

    for path in DIGITS[::15]:
        img = _grey(path)  # mostly black: half of all Gaussian noise would be clipped away
        for seed, target in enumerate((15.0, 20.0, 30.0, 40.0)):
            for kind in ("gaussian", "speckle"):
                got = psnr(img, add_noise(img, kind, target, np.random.default_rng(seed)))
                assert abs(got - target) < 0.1, (path.name, kind, target, got)
            # salt and pepper changes whole pixels: within half the largest change of one pixel
            out = add_noise(img, "salt_pepper", target, np.random.default_rng(seed))
            mse = float(np.mean((out.astype(float) - img) ** 2))
            assert abs(mse - 255.0**2 / 10 ** (target / 10)) <= 255.0**2 / 2 / img.size, (path.name, target)


def test_noise_leaves_alpha_alone_and_works_on_16_bit():
    from augment.image.ops import add_noise, psnr

    grey = _grey(DIGITS[0])
    rgba = np.dstack([grey, grey, grey, np.where(grey > 100, 255, 0).astype(np.uint8)])
    out = add_noise(rgba, "gaussian", 25.0, np.random.default_rng(1))
    assert np.array_equal(out[..., 3], rgba[..., 3]) and abs(psnr(rgba, out) - 25.0) < 0.1
    deep = grey.astype(np.uint16) * 257
    out = add_noise(deep, "speckle", 35.0, np.random.default_rng(2))
    assert out.dtype == np.uint16 and abs(psnr(deep, out) - 35.0) < 0.1
    assert len(np.unique(out % 257)) > 10  # noise below the 8-bit step: real 16-bit values


# ------------------------------------------------------------------ copy_paste


def test_copy_paste_moves_the_object_and_inpaints_its_place(sample):
    from PIL import Image

    from augment.image.ops import copy_paste, foreground_mask

    img = np.asarray(Image.open(sample / "images" / "1" / "digit_0042.png").convert("L"))
    obj = foreground_mask(img)
    assert 20 < obj.sum() < img.size / 2
    out, mask, info = copy_paste(img, None, img, None, {"target": "same", "x": 0.0, "y": 0.0, "scale": 0.6,
                                                        "blend": "alpha", "feather": 0.5})
    x0, y0, x1, y1 = info["to_box"]
    assert (x0, y0) == (0, 0) and mask.sum() > 0.2 * obj.sum()
    assert mask[:y1, :x1].sum() == mask.sum()  # the new mask sits where the object went
    background = float(np.median(img[~obj]))
    vacated = obj & ~mask
    assert abs(float(np.median(out[vacated])) - background) < 40  # its old place looks like background
    assert float(np.abs(out[mask].astype(float) - background).mean()) > 40  # the object is drawn there


def _disc_and_background(size: int = 48):
    """A textured disc on a dark background (the object) and a bright, faintly noisy
    background with no object (where it goes)."""
    yy, xx = np.mgrid[0:size, 0:size]
    src = np.full((size, size), 30, np.uint8)
    disc = (yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= 64
    src[disc] = (110 + 40 * np.sin(xx[disc] / 2.0) * np.cos(yy[disc] / 3.0)).astype(np.uint8)
    dst = (100 + np.random.default_rng(0).integers(-3, 4, (size, size))).astype(np.uint8)
    return src, disc, dst


def _gradient(image: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(image.astype(float))
    return np.hypot(gx, gy)


@pytest.mark.parametrize("blend", ["poisson", "alpha"])
def test_copy_paste_puts_the_object_at_the_drawn_place_and_leaves_the_rest(blend):
    import cv2

    from augment.image.ops import copy_paste
    from augment.image.own import CopyPaste

    src, disc, dst = _disc_and_background()
    out, mask, info = copy_paste(src, None, dst, None, {"target": "other", "x": 0.2, "y": 0.7, "scale": 1.0,
                                                        "blend": blend, "feather": 1.0})
    assert info["blend"] == blend and info["pixels"] == disc.sum() == mask.sum()
    drawn = {"target": "other", "x": 0.2, "y": 0.7, "scale": 1.0, "blend": blend, "feather": 1.0, "donor": "d"}
    assert np.array_equal(CopyPaste.apply(src, donor_image=dst, **drawn), out)  # the transform's pure apply
    # the object's box (2 pixels of margin around the disc) sits at x, y of the free room
    left, top, right, bottom = info["to_box"]
    w, h = right - left, bottom - top
    assert (left, top) == (round(0.2 * (48 - w)), round(0.7 * (48 - h)))
    ys, xs = np.nonzero(mask)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (left + 2, top + 2, right - 2, bottom - 2)
    # the disc's own texture is what is drawn there
    moved = np.roll(np.roll(disc, top - info["from_box"][1], 0), left - info["from_box"][0], 1)
    assert np.array_equal(moved, mask)
    texture = np.corrcoef(out[mask].astype(float), src[disc].astype(float))[0, 1]
    assert texture > (0.999 if blend == "poisson" else 0.95), texture  # alpha: the feathered rim mixes
    # away from the paste (its blending margin: 2 pixels) the background is untouched, bit for bit
    near = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.array_equal(out[~near], dst[~near]) and not np.array_equal(out[mask], dst[mask])
    if blend == "poisson":
        # no seam: across the edge of the blended region the image is as smooth as the
        # background, where a plain paste of the same region shows a hard edge
        full = np.zeros_like(dst)
        full[top:bottom, left:right] = src[info["from_box"][1]:info["from_box"][3],
                                           info["from_box"][0]:info["from_box"][2]]
        hard = np.where(near, full, dst)
        edge = cv2.dilate(near.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & \
            ~cv2.erode(near.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        seam, plain = _gradient(out)[edge].mean(), _gradient(hard)[edge].mean()
        assert seam < 0.1 * plain and seam < 2 * _gradient(dst).mean() + 1, (seam, plain)


@pytest.mark.parametrize("blend", ["alpha", "poisson"])
def test_copy_paste_on_rgba_cutouts_moves_colour_and_opacity(blend):
    from augment.image.ops import copy_paste, foreground_mask

    grey = _grey(SAMPLE / "images" / "1" / "digit_0042.png")
    opaque = np.where(grey < 128, 255, 0).astype(np.uint8)  # the dark digit as a cut-out on transparency
    rgba = np.dstack([grey, grey // 2, 255 - grey, opaque])
    obj = foreground_mask(rgba)
    assert np.array_equal(obj, foreground_mask(opaque)) and obj.sum() > 20  # the alpha channel is the outline
    out, mask, info = copy_paste(rgba, None, rgba, None, {"target": "same", "x": 1.0, "y": 1.0, "scale": 0.7,
                                                          "blend": blend, "feather": 0.5})
    assert out.shape == rgba.shape and out.dtype == np.uint8 and info["blend"] == blend
    # the pasted object is opaque where it went (its rim resampled at 0.7 is partly so)
    assert out[mask, 3].mean() > 200 and (out[mask, 3] >= 128).mean() > 0.85
    vacated = obj & ~mask
    assert vacated.sum() > 10 and (out[vacated, 3] < 128).mean() > 0.9  # and its old place transparent again
    assert float(np.abs(out[mask, 0].astype(float) - out[mask, 2]).mean()) > 50  # its colours came along


def test_copy_paste_on_16_bit_keeps_the_depth():
    from augment.image.ops import copy_paste

    src, disc, dst = _disc_and_background()
    deep_src, deep_dst = src.astype(np.uint16) * 257 + 7, dst.astype(np.uint16) * 257 + 7
    out, mask, info = copy_paste(deep_src, None, deep_dst, None, {"target": "other", "x": 0.5, "y": 0.5,
                                                                  "scale": 1.0, "blend": "poisson"})
    assert out.dtype == np.uint16 and info["blend"] == "poisson" and mask.sum() == disc.sum()
    assert np.corrcoef(out[mask].astype(float), deep_src[disc])[0, 1] > 0.999
    same, moved, _ = copy_paste(deep_src, None, deep_src, None, {"target": "same", "x": 0.0, "y": 0.0,
                                                                "scale": 1.0, "blend": "alpha"})
    vacated = disc & ~moved
    assert same.dtype == np.uint16 and vacated.sum() > 50
    assert abs(float(np.median(same[vacated])) - (30 * 257 + 7)) < 10 * 257  # inpainted with the dark background


def test_rgba_grey_and_16_bit_sources_come_out_in_their_own_mode(cli, tmp_path):
    digits = [_grey(p) for p in DIGITS[:4]]
    kinds = {
        "rgba": {f"d{i}.png": np.dstack([g, g // 2, 255 - g, np.where(g < 128, 255, 0).astype(np.uint8)])
                 for i, g in enumerate(digits)},
        "grey": {f"d{i}.png": g for i, g in enumerate(digits)},
        "deep": {f"d{i}.png": g.astype(np.uint16) * 257 + 3 for i, g in enumerate(digits)},
    }
    modes = {"rgba": "RGBA", "grey": "L", "deep": "I;16"}
    (tmp_path / "r.yaml").write_text("modality: image\ncopies: 3\ntransforms:\n  - Rotate: {limit: [-10, 10]}\n"
                                     "  - copy_paste: {blend: [alpha, poisson]}\n  - noise: {psnr: 30}\n")
    for kind, images in kinds.items():
        data = _manifest(tmp_path / kind, images)
        r = cli("augment", data, "--recipe", tmp_path / "r.yaml", "-o", tmp_path / f"{kind}-out")
        assert r.code == 0, r.err
        outputs = _outputs(tmp_path / f"{kind}-out")
        assert len(outputs) == 12
        for row, out, src in outputs:
            assert out.mode == src.mode == modes[kind] and out.size == src.size
            provenance = json.loads(row["augment"])
            assert provenance["versions"]["png_encoder"] == "opencv compression=1 filter=sub strategy=rle"
            applied = provenance["applied"]
            assert [a["name"] for a in applied] == ["Rotate", "copy_paste", "noise"]
            assert abs(applied[2]["measured_psnr"] - 30) < 0.1
        if kind == "deep":  # real 16-bit values, not 8-bit ones scaled up
            assert any(len(np.unique(np.asarray(out) % 257)) > 10 for _, out, _ in outputs)
    (tmp_path / "flip.yaml").write_text("modality: image\ncopies: 1\ntransforms:\n  - HorizontalFlip: {}\n")
    assert cli("augment", tmp_path / "deep" / "m.parquet", "--recipe", tmp_path / "flip.yaml",
               "-o", tmp_path / "flipped").code == 0
    for _, out, src in _outputs(tmp_path / "flipped"):
        assert np.array_equal(np.asarray(out), np.asarray(src)[:, ::-1])  # 16 bits through albumentations, exact
    (tmp_path / "jpg.yaml").write_text("modality: image\ncopies: 1\nformat: jpg\ntransforms:\n  - HorizontalFlip: {}\n")
    line = one_error_line(cli("augment", tmp_path / "deep" / "m.parquet", "--recipe", tmp_path / "jpg.yaml",
                              "-o", tmp_path / "jpg"))
    assert "16-bit images are written as PNG or TIFF, not JPEG" in line and not (tmp_path / "jpg").exists()
    # albumentations transforms see a 16-bit image as float32 in [0, 1] whatever OpenCV takes
    # (GaussNoise refused uint16 under OpenCV 4 and takes it under 5): noise at 16-bit levels
    (tmp_path / "gauss.yaml").write_text("modality: image\ncopies: 1\ntransforms:\n"
                                         "  - GaussNoise: {std_range: [0.02, 0.02]}\n")
    assert cli("augment", tmp_path / "deep" / "m.parquet", "--recipe", tmp_path / "gauss.yaml",
               "-o", tmp_path / "gauss").code == 0
    for _, out, src in _outputs(tmp_path / "gauss"):
        noisy, clean = np.asarray(out).astype(float), np.asarray(src).astype(float)
        assert out.mode == "I;16" and abs((noisy - clean).std() / 65535 - 0.02) < 0.005
        assert len(np.unique(np.asarray(out) % 257)) > 10
    # a transform that cannot take grey images at all is still one clear line, nothing written
    (tmp_path / "iso.yaml").write_text("modality: image\ncopies: 1\ntransforms:\n  - ISONoise: {}\n")
    line = one_error_line(cli("augment", tmp_path / "deep" / "m.parquet", "--recipe", tmp_path / "iso.yaml",
                              "-o", tmp_path / "iso"))
    assert "ISONoise cannot process 16-bit grey images" in line and not (tmp_path / "iso").exists()


def test_masks_boxes_and_keypoints_stay_aligned(cli, tmp_path):
    from PIL import Image

    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    rows = []
    for i in range(4):
        img = np.zeros((40, 60, 3), np.uint8)
        img[5:15, 10 + i:30 + i] = (200, 50, 50)
        mask = np.zeros((40, 60), np.uint8)
        mask[5:15, 10 + i:30 + i] = 255
        Image.fromarray(img).save(root / "a" / f"im{i}.png")
        Image.fromarray(mask).save(root / "a" / f"im{i}_mask.png")
        rows.append({"id": f"a/im{i}.png", "label": "a", "root": str(root), "path": f"a/im{i}.png",
                     "modality": "image", "status": "ok", "split": "train", "mask": f"a/im{i}_mask.png",
                     "boxes": json.dumps([[10 + i, 5, 30 + i, 15, "thing"]]), "points": json.dumps([[10 + i, 5]])})
    pd.DataFrame(rows).to_parquet(tmp_path / "m.parquet")
    (tmp_path / "r.yaml").write_text("modality: image\ncopies: 1\ntargets: {mask: mask, bboxes: boxes, keypoints: points}\n"
                                     "transforms:\n  - HorizontalFlip: {p: 1}\n  - Affine: {translate_px: [-3, 3], p: 1}\n"
                                     "gate: {min_std: 1.0, max_box_area_loss: 0.5}\n")
    r = cli("augment", tmp_path / "m.parquet", "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "o")
    assert r.code == 0, r.err
    m = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    for _, row in m[m["source_id"].notna()].iterrows():
        img = np.asarray(Image.open(tmp_path / "o" / row["path"]))
        mask = np.asarray(Image.open(tmp_path / "o" / row["mask"])) > 127
        red = img[..., 0] > 100
        assert (red == mask).mean() > 0.98  # the mask moved with the image
        x1, y1, x2, y2, name = json.loads(row["boxes"])[0]
        ys, xs = np.nonzero(mask)
        assert name == "thing" and abs(x1 - xs.min()) <= 1 and abs(x2 - (xs.max() + 1)) <= 1 and abs(y1 - ys.min()) <= 1
        (px, py), = json.loads(row["points"])
        assert abs(px - x2) <= 1.5 and abs(py - y1) <= 1.5  # the top-left corner is top-right after the flip


# ------------------------------------------------------------------ encoding


def test_png_encoding_is_lossless_deterministic_and_about_as_small_as_pillows():
    import io

    from PIL import Image
    from sklearn.datasets import load_sample_image

    from augment.image.encode import encode

    grey = _grey(DIGITS[0])
    for image in (grey, np.dstack([grey, grey // 2, 255 - grey]), np.dstack([grey, grey, grey, grey // 3]),
                  grey.astype(np.uint16) * 257 + 1):
        data = encode(image, "x.png")
        assert data == encode(image, "x.png")
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), image)
    for photo in ("china.jpg", "flower.jpg"):
        image = load_sample_image(photo)
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")  # Pillow's defaults: zlib level 6, adaptive filters
        assert len(encode(image, "x.png")) < 1.1 * len(buf.getvalue())


# ------------------------------------------------------------------ presets


def test_presets_change_every_copy_keep_size_and_mode_and_grow_in_strength(cli, tmp_path):
    rows = [{"id": str(p.relative_to(SAMPLE / "images")), "label": p.parent.name, "root": str(SAMPLE / "images"),
             "path": str(p.relative_to(SAMPLE / "images")), "modality": "image", "status": "ok", "split": "train"}
            for p in DIGITS]
    pd.DataFrame(rows).to_parquet(tmp_path / "digits.parquet")
    strength = {}
    for preset in ("light", "medium", "heavy"):
        (tmp_path / f"{preset}.yaml").write_text(f"modality: image\ncopies: 2\npreset: {preset}\n")
        r = cli("augment", tmp_path / "digits.parquet", "--recipe", tmp_path / f"{preset}.yaml",
                "-o", tmp_path / preset)
        assert r.code == 0, r.err
        outputs = _outputs(tmp_path / preset)
        assert len(outputs) == 2 * len(DIGITS)
        change = []
        for row, out, src in outputs:
            assert out.size == src.size and out.mode == src.mode == "L"
            a, b = np.asarray(out).astype(float), np.asarray(src).astype(float)
            assert not np.array_equal(a, b)
            change.append(min(np.abs(a - b).mean(), np.abs(a - b[:, ::-1]).mean()))  # a mirror image is no change
            for step in json.loads(row["augment"])["applied"]:
                if step["name"] == "noise":
                    assert abs(step["measured_psnr"] - next(s["params"]["psnr"] for s in json.loads(row["augment"])["plan"]
                                                            if s["name"] == "noise")) < 0.1
        strength[preset] = float(np.mean(change))
    # mean absolute pixel change (0-255): measured about 9, 37 and 76
    assert 2 * strength["light"] < strength["medium"] and 1.5 * strength["medium"] < strength["heavy"], strength


# ------------------------------------------------------------------ the seed contract inside one process

RECIPE = """modality: image
copies: 1
transforms:
  - HorizontalFlip: {p: 0.5}
  - Rotate: {limit: [-20, 20], p: 0.8}
  - OneOf: {transforms: [{GaussianBlur: {blur_limit: [3, 5]}}, {noise: {psnr: [25, 35], kind: [gaussian, speckle]}}]}
  - copy_paste: {p: 0.6, blend: [alpha, poisson], scale: [0.6, 1.0]}
"""


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """A plugin context on the digits of two classes, and the bytes each job makes when it
    is the first thing a fresh plugin does."""
    from augment.image.plugin import ImagePlugin
    from augment.plugin import Context
    from augment.recipe_file import load_recipe
    from augment.seeds import sample_seed

    folder = tmp_path_factory.mktemp("seed")
    (folder / "r.yaml").write_text(RECIPE)
    loaded = load_recipe(folder / "r.yaml")
    paths = [p for p in DIGITS if p.parent.name in ("0", "1")][:10]
    rows = pd.DataFrame([{"id": p.name, "label": p.parent.name, "root": str(p.parent), "path": p.name}
                         for p in paths]).set_index("id", drop=False)
    ctx = Context(loaded.recipe, rows, "label")
    todo = [(p.name, sample_seed(0, p.name, copy)) for p in paths for copy in range(2)]

    def make(plugin, job, sources):
        sample_id, seed = job
        if sample_id not in sources:
            sources[sample_id] = plugin.load(ctx.record(sample_id), ctx)
        plan = plugin.draw(loaded.steps, np.random.default_rng(seed), ctx, ctx.record(sample_id))
        out, _ = plugin.apply(sources[sample_id], plan, seed, ctx)
        return plugin.save(out, "x.png")

    expected = [make(ImagePlugin(), job, {}) for job in todo]
    return todo, expected, make, {p.name: p for p in paths}


@settings(max_examples=12, deadline=None)
@given(order=st.permutations(range(20)))
def test_a_copy_is_the_same_bytes_whatever_the_process_made_before(jobs, order):
    """One plugin (with its caches) and one decoded source per id shared by its copies, as
    a worker runs them, in any order: every output equals the one made first thing by a
    fresh plugin, and no source image is changed by the copies made from it."""
    from augment.image.plugin import ImagePlugin

    todo, expected, make, paths = jobs
    plugin, sources = ImagePlugin(), {}
    for i in order:
        assert make(plugin, todo[i], sources) == expected[i]
    assert all(np.array_equal(s["image"], _grey(paths[k])) for k, s in sources.items())


def test_a_corpus_worker_decodes_each_source_and_donor_once_and_writes_the_same_bytes(split_manifest, tmp_path,
                                                                                       monkeypatch):
    """copy_paste onto other images of the class: a donor met again comes from the worker's
    cache, not the disk; the corpus is byte for byte the one decoding every donor anew."""
    import augment.executors
    import curaug
    from augment.image.plugin import ImagePlugin

    recipe = {"modality": "image", "copies": 2,
              "transforms": [{"copy_paste": {"target": "other", "p": 1.0}}, {"HorizontalFlip": {"p": 0.5}}]}
    decoded = []
    load = ImagePlugin.load
    monkeypatch.setattr(ImagePlugin, "load", lambda self, row, ctx: decoded.append(row["id"]) or load(self, row, ctx))
    curaug.augment(str(split_manifest / "split.parquet"), recipe, str(tmp_path / "cached"), seed=3, workers=1)
    assert len(decoded) == len(set(decoded)) == 86  # the 86 train rows, each decoded once
    decoded.clear()
    monkeypatch.setattr(augment.executors, "DECODED_CACHE_BYTES", 0)
    curaug.augment(str(split_manifest / "split.parquet"), recipe, str(tmp_path / "uncached"), seed=3, workers=1)
    assert len(decoded) > 86 + 2 * 86 * 0.9  # every donor decoded again (bar copies the gate skipped)

    def corpus(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*__aug*"))}

    cached, uncached = corpus(tmp_path / "cached"), corpus(tmp_path / "uncached")
    assert len(cached) >= 150 and cached == uncached
