"""The image plugin and curaug's own image transforms, on real sample images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
        name, value = "darken", "thirdparty.image:Darken"

        def load(self):
            return Darken

    TRANSFORMS.names()  # the built-ins first, as in any run
    monkeypatch.setattr(TRANSFORMS, "_items", dict(TRANSFORMS._items))
    monkeypatch.setattr(TRANSFORMS, "_entry_points_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [EntryPoint()] if group == "curaug.image_transforms" else [])
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


def test_noise_hits_its_target_psnr_on_real_images(sample):
    from PIL import Image

    from augment.image.ops import add_noise, psnr

    rng = np.random.default_rng(0)
    for path in sorted((sample / "images" / "0").glob("digit_00*.png"))[:5]:
        img = np.asarray(Image.open(path).convert("L"))
        for kind in ("gaussian", "salt_pepper", "speckle"):
            for target in (20.0, 30.0):
                got = psnr(img, add_noise(img, kind, target, rng))
                assert target - 1.0 <= got <= target + 3.0, (path.name, kind, target, got)  # clipping only raises it


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
    donor = np.asarray(Image.open(sample / "images" / "1" / "digit_0003.png").convert("L")) \
        if (sample / "images" / "1" / "digit_0003.png").exists() else np.asarray(
            Image.open(sorted((sample / "images" / "1").glob("*.png"))[1]).convert("L"))
    out2, mask2, info2 = copy_paste(img, None, donor, None, {"target": "other", "x": 1.0, "y": 1.0, "scale": 0.5,
                                                            "blend": "poisson"})
    assert mask2.sum() >= foreground_mask(donor).sum() and out2.shape == donor.shape
    assert not np.array_equal(out2, donor)


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
