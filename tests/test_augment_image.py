"""The image plugin and curaug's own image transforms, on real sample images."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


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
