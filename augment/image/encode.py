"""Augmented images to bytes, the same bytes every time (so a replay compares equal).

PNG goes through OpenCV at fixed settings written out in full (:data:`PNG`: zlib level 1,
the ``sub`` row filter, run-length strategy; OpenCV's own defaults, spelled out so that a
change of default cannot change the bytes) rather than through Pillow's defaults (level
6, adaptive filters): on photos and noisy images the files come out within a few percent
of Pillow's size, 5 to 10 times faster, and encoding was most of the time an augmented
image cost. The settings go into each output's provenance (:func:`settings`). JPEG and
WebP are written by Pillow at quality 95, TIFF and BMP by Pillow with its defaults.
"""

from __future__ import annotations

import functools
import io
import os

import numpy as np

from curate.errors import CuraugError

#: file suffix -> Pillow format name
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF"}
#: how PNGs are encoded; recorded in provenance
PNG = {"encoder": "opencv", "compression": 1, "filter": "sub", "strategy": "rle"}
QUALITY = 95  # JPEG and WebP
#: formats that hold 16-bit pixels (Pillow writes JPEG, WebP and BMP at 8 bits only)
_DEEP = ("PNG", "TIFF")


@functools.lru_cache(maxsize=None)
def _png_flags() -> tuple[int, ...]:
    import cv2

    flags = (cv2.IMWRITE_PNG_COMPRESSION, PNG["compression"],
             cv2.IMWRITE_PNG_STRATEGY, getattr(cv2, f"IMWRITE_PNG_STRATEGY_{PNG['strategy'].upper()}"))
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.12 can choose; before, it always wrote "sub"
        flags += (cv2.IMWRITE_PNG_FILTER, getattr(cv2, f"IMWRITE_PNG_FILTER_{PNG['filter'].upper()}"))
    return flags


def settings() -> dict[str, str]:
    """The encoders and their settings, as the provenance records them next to the versions."""
    import cv2

    return {"opencv": cv2.__version__,
            "png_encoder": "opencv compression={compression} filter={filter} strategy={strategy}".format(**PNG),
            "jpeg_webp_encoder": f"pillow quality={QUALITY}"}


def encode(image: np.ndarray, path: str) -> bytes:
    """``image`` (H x W, or H x W x C in RGB/RGBA order; 8- or 16-bit) encoded in the
    format ``path``'s suffix names."""
    fmt = FORMATS[os.path.splitext(path)[1].lower()]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype != np.uint8 and fmt not in _DEEP:
        raise CuraugError(f"{path}: {image.dtype.itemsize * 8}-bit images are written as PNG or TIFF, "
                          f"not {fmt} (set the recipe's format: png)")
    if fmt == "PNG":
        return encode_png(image)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **({"quality": QUALITY} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """A PNG of ``image`` (grey, RGB or RGBA; 8- or 16-bit) at the :data:`PNG` settings."""
    import cv2

    if image.ndim == 3:  # OpenCV stores blue first
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), _png_flags())
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} {image.dtype} image as PNG")
    return buf.tobytes()
