"""Images → ``(C, size, size)`` float32, standardised per channel with the training split's
mean and standard deviation.

Files are decoded by the image plugin's decoder (:mod:`augment.image.decode`), the one
augmentation loads its sources with, so a format that augments also trains; this module
only flattens the decoded pixels (transparency on white, 16-bit grey to [0, 1]), sets
the channel count and resizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from curate.errors import CuraugError
from pipelines.train.data.encoder import (ENCODERS, Encoder, Moments, chunks, fits, held_stats, media_files,
                                          parallel_map)

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.config import TrainConfig

#: Modes with one colour channel (``LA`` too: its alpha is flattened away)
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
#: A size chosen from the data (``image_size=None``) stays within these bounds
AUTO_SIZE = (8, 64)


def _header(file: str) -> tuple[str, int, int]:
    """Mode, width and height, from the header alone."""
    from augment.image.decode import read_header

    try:
        return read_header(file)
    except OSError as exc:  # Pillow's UnidentifiedImageError is one
        raise CuraugError(f"{file}: cannot read image ({exc})", param="data") from None


def _flatten(pixels: np.ndarray, mode: str):
    """Decoded pixels (:func:`augment.image.decode.pixels`) as a Pillow image in ``L``,
    ``RGB`` or, for 16-bit grey, ``F`` scaled to [0, 1]; transparency is composited on white."""
    from PIL import Image

    if mode == "I;16":
        return Image.fromarray(np.clip(pixels.astype(np.float32) / 65535.0, 0.0, 1.0))
    im = Image.fromarray(pixels)
    if mode != "RGBA":
        return im
    white = Image.new("RGB", im.size, (255, 255, 255))
    white.paste(im.convert("RGB"), mask=im.getchannel("A"))
    return white


def decode_image(file: str, channels: int, size: int) -> np.ndarray:
    """One file as ``(channels, size, size)`` float32 in [0, 1], resized bilinearly."""
    from augment.image.decode import read_image

    try:
        pixels, mode = read_image(file)
        im = _flatten(pixels, mode)
    except OSError as exc:  # Pillow's UnidentifiedImageError is one
        raise CuraugError(f"{file}: cannot decode image ({exc})", param="data") from None
    return _resized(im, channels, size)


def pixels_array(pixels: np.ndarray, mode: str, channels: int, size: int) -> np.ndarray:
    """Decoded pixels (:func:`augment.image.decode.read_image`'s, or the image plugin's
    after its transforms) as :func:`decode_image` makes them of a file."""
    if pixels.shape[:2] == (size, size) and (mode, channels) in (("L", 1), ("RGB", 3)):
        # what Pillow gives back for a resize to its own size (a copy), without the round trip
        a = pixels.astype(np.float32) / np.float32(255.0)
        return np.ascontiguousarray(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    return _resized(_flatten(pixels, mode), channels, size)


def _resized(im, channels: int, size: int) -> np.ndarray:
    from PIL import Image

    if channels == 1 and im.mode == "RGB":
        im = im.convert("L")
    if channels == 3 and im.mode == "L":
        im = im.convert("RGB")
    im = im.resize((size, size), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    if im.mode != "F":
        a = a / np.float32(255.0)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    # a 16-bit grey image among colour ones: the same grey on all three channels
    return np.ascontiguousarray(np.repeat(a, channels, axis=0) if a.shape[0] != channels else a)


@ENCODERS.register("image")
class ImageEncoder(Encoder):
    """Decode (the image plugin's decoder), resize to ``size`` x ``size``, standardise per channel.

    ``channels`` is 1 when every training image is grey (a palette image counts as colour),
    else 3; ``size`` is
    ``config.image_size`` or the median side of the training images (within
    :data:`AUTO_SIZE`).
    """

    modality: ClassVar[str] = "image"

    def __init__(self, size: int, channels: int, mean: list[float], std: list[float]):
        self.size, self.channels = int(size), int(channels)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.input_shape = (self.channels, self.size, self.size)

    @classmethod
    def fit(cls, train: "pd.DataFrame", config: "TrainConfig",
            memory: int | None = None) -> tuple["ImageEncoder", np.ndarray | None]:
        files = media_files(train)
        headers = parallel_map(_header, files)
        channels = 1 if all(mode in GREY_MODES for mode, _, _ in headers) else 3
        size = config.image_size
        if size is None:
            sides = [side for _, w, h in headers for side in (w, h)]
            size = int(np.clip(round(float(np.median(sides))), *AUTO_SIZE))
        axes = (0, 2, 3)
        if fits(len(files), channels * size * size * 4, memory):
            x = cls._decode(files, channels, size)
            mean, std = held_stats(x, axes)
        else:
            x, moments = None, Moments(axes)
            for part in chunks(len(files)):
                moments.add(cls._decode(files[part], channels, size))
            mean, std = moments.result()
        enc = cls(size, channels, mean.tolist(), std.tolist())
        return enc, None if x is None else enc._standardise(x)

    def transform(self, frame: "pd.DataFrame") -> np.ndarray:
        return self._standardise(self._decode(media_files(frame), self.channels, self.size))

    def encode_sample(self, sample: dict[str, Any]) -> np.ndarray:
        """The image plugin's sample (``image`` pixels and their ``mode``)."""
        return self._standardise(pixels_array(sample["image"], sample["mode"], self.channels, self.size)[None])[0]

    @staticmethod
    def _decode(files: list[str], channels: int, size: int) -> np.ndarray:
        arrays = parallel_map(lambda f: decode_image(f, channels, size), files)
        return np.stack(arrays) if arrays else np.zeros((0, channels, size, size), np.float32)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        x -= self.mean.astype(np.float32)[None, :, None, None]
        x /= self.std.astype(np.float32)[None, :, None, None]
        return x

    def state(self) -> dict[str, Any]:
        return {"modality": "image", "size": self.size, "channels": self.channels,
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "ImageEncoder":
        return cls(state["size"], state["channels"], state["mean"], state["std"])
