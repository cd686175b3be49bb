"""`curaug augment` against the loop a user would write: Pillow decode, the same
albumentations Compose, Pillow's PNG encoder with its default settings, one file each.

    .venv/bin/python benchmarks/bench_augment.py [--images 2000 --size 128 --repeats 3]

Both run in the same process, interleaved, best of ``--repeats`` each (the machine's
noise hits them alike). curaug does more per image than the loop (its own seeding, the
provenance record, the sha256, atomic writes, the manifest) and encodes PNG with OpenCV
at fixed fast settings (augment/image/encode.py); the bytes each writes are printed so
the size cost of that encoder is in plain sight.

Aims (issue 11): one worker >= 1.1x the loop's images/s; two workers >= 1.9x the loop
(needs two free cores).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

RECIPE = """modality: image
copies: 1
transforms:
  - HorizontalFlip: {p: 0.5}
  - Rotate: {limit: [-15, 15], p: 0.8}
  - RandomBrightnessContrast: {brightness_limit: 0.2, contrast_limit: 0.2, p: 0.5}
"""


def make_images(root: Path, n: int, size: int) -> pd.DataFrame:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        label = f"c{i % 3}"
        (root / label).mkdir(parents=True, exist_ok=True)
        cx, cy, r = rng.integers(size // 4, 3 * size // 4, 2).tolist() + [int(rng.integers(size // 8, size // 3))]
        img = np.stack([np.where((xx - cx) ** 2 + (yy - cy) ** 2 < r * r, rng.integers(100, 255), 30) for _ in range(3)],
                       axis=2).astype(np.uint8)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
        path = f"{label}/img_{i:05d}.png"
        Image.fromarray(img).save(root / path)
        rows.append({"id": path, "label": label, "root": str(root), "path": path, "modality": "image",
                     "status": "ok", "split": "train"})
    return pd.DataFrame(rows)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.png"))


def plain_loop(df: pd.DataFrame, out: Path) -> float:
    import albumentations as A
    from PIL import Image

    compose = A.Compose([A.HorizontalFlip(p=0.5), A.Rotate(limit=(-15, 15), p=0.8),
                         A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5)], seed=0)
    t = time.perf_counter()
    for root, path in zip(df["root"], df["path"]):
        with Image.open(Path(root) / path) as im:
            image = np.asarray(im.convert("RGB"))
        result = compose(image=image)["image"]
        buf = io.BytesIO()
        Image.fromarray(result).save(buf, format="PNG")
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(buf.getvalue())
    return time.perf_counter() - t


def main() -> None:
    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest

    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        df = make_images(tmp / "src", a.images, a.size)
        (tmp / "recipe.yaml").write_text(RECIPE)
        loaded = load_recipe(tmp / "recipe.yaml")
        plain, times = float("inf"), {1: float("inf"), 2: float("inf")}
        for rep in range(a.repeats):  # interleaved, best of each: the machine's noise hits all alike
            plain = min(plain, plain_loop(df, tmp / f"plain{rep}"))
            for workers in (1, 2):
                t = time.perf_counter()
                augment_manifest(df, loaded, tmp / f"out{workers}-{rep}", workers=workers)
                times[workers] = min(times[workers], time.perf_counter() - t)
        n = a.images
        print(f"{n} images {a.size}x{a.size} RGB, PNG in and out, cores: {os.cpu_count()}, best of {a.repeats}")
        print(f"plain albumentations loop: {n / plain:7.1f} images/s, PNGs {folder_bytes(tmp / 'plain0') / 1e6:.1f} MB")
        for w, t in times.items():
            print(f"curaug augment, {w} worker{'s' if w > 1 else ''}: {n / t:7.1f} images/s, "
                  f"PNGs {folder_bytes(tmp / f'out{w}-0') / 1e6:.1f} MB")
        print(f"1 worker / plain loop: {plain / times[1]:.2f}x (aim >= 1.1)")
        print(f"2 workers / plain loop: {plain / times[2]:.2f}x (aim >= 1.9)")


if __name__ == "__main__":
    main()
