"""Image files to pixel arrays: the image modality's one decoder.

Augmentation loads its sources with it (:meth:`augment.image.plugin.ImagePlugin.load`) and
the training harness reads images through it (``pipelines.train``), so a file that
augments also trains, and both see the same pixels. Pillow decodes; :func:`pixels` keeps
what a transform or a model can use: grey, RGB and RGBA as they are, 16-bit grey as
uint16, transparency as an alpha channel, anything else as RGB.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

#: the largest 16-bit pixel value: deeper and float grey images are scaled into 0..DEEP_PEAK
DEEP_PEAK = 65535
#: Pillow modes that carry an alpha channel
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBa"})


def pixels(im: Any) -> tuple[np.ndarray, str]:
    """The pixels of an open Pillow image and their mode (``L``, ``RGB``, ``RGBA`` or
    ``I;16``): grey, RGB and RGBA as they are (no converted copy); 16-bit grey as uint16;
    32-bit integer grey clipped to 16 bits and float grey (0..1) scaled to them; 1-bit as
    8-bit grey; a grey or palette image with transparency (an alpha channel, or a
    transparent colour) as RGBA; anything else (palette, CMYK...) as RGB."""
    mode = im.mode
    if mode in ("L", "RGB", "RGBA") and "transparency" not in im.info:
        return np.asarray(im), mode
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), "I;16"
    if mode == "I":
        return np.clip(np.asarray(im), 0, DEEP_PEAK).astype(np.uint16), "I;16"
    if mode == "F":
        scaled = np.rint(np.clip(np.asarray(im, dtype=np.float64), 0.0, 1.0) * DEEP_PEAK)
        return scaled.astype(np.uint16), "I;16"
    if mode == "1":
        return np.asarray(im.convert("L")), "L"
    if mode in _ALPHA_MODES or "transparency" in im.info:
        return np.asarray(im.convert("RGBA")), "RGBA"
    return np.asarray(im.convert("RGB")), "RGB"


def read_image(file: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Decode ``file``: :func:`pixels` of the image it holds. Pillow's errors (``OSError``,
    ``UnidentifiedImageError``) are the caller's to word."""
    from PIL import Image

    with Image.open(file) as im:
        return pixels(im)


def read_header(file: str | os.PathLike) -> tuple[str, int, int]:
    """The file's own Pillow mode, width and height, from its header alone (no pixels are
    decoded)."""
    from PIL import Image

    with Image.open(file) as im:
        return im.mode, im.width, im.height
