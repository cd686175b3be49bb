"""Log-mel spectrograms and the two transforms that work on them: ``crop_resize`` (BYOL-A's
RandomResizeCrop, bilinear) and ``spec_mask`` (SpecAugment's time and frequency masks).

A spectrogram here is a float32 array ``(channels, n_mels, frames)`` from :func:`log_mel`.
Each transform follows the audio transform shape: ``InitSchema`` validates the recipe's
parameters, ``get_params(data, sr, rng)`` draws this sample's values from ``rng`` alone
(JSON-able, so provenance records them and replay feeds them back), and
``apply(data, sr, **drawn)`` is pure given them. ``p`` is the recipe's, not the transform's.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from augment.audio.transforms import AUDIO_TRANSFORMS, AudioTransform
from augment.params import number


def log_mel(y: np.ndarray, sr: int, n_mels: int = 64, n_fft: int = 1024,
            hop_length: int = 256) -> np.ndarray:
    """The log-mel power spectrogram in dB of a ``(channels, samples)`` waveform:
    ``(channels, n_mels, frames)`` float32.

    The dB reference is fixed (``ref=1.0``, i.e. a full-scale power of 1 is 0 dB, floor
    ``amin=1e-10`` = -100 dB) and nothing is clipped (``top_db=None``): values mean the
    same thing in every sample, which a per-sample ``ref=np.max`` would not give.

    Examples
    --------
    >>> y = np.zeros((2, 16000), dtype=np.float32)
    >>> s = log_mel(y, 16000)
    >>> s.shape, s.dtype, round(float(s.max()), 3)
    ((2, 64, 63), dtype('float32'), -100.0)
    """
    import librosa

    power = librosa.feature.melspectrogram(y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=n_fft,
                                           hop_length=hop_length, n_mels=n_mels, power=2.0)
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


def _uniform(value: float | tuple[float, float], rng: np.random.Generator) -> float:
    """A fixed value, or one drawn uniformly from ``[lo, hi]``."""
    if isinstance(value, tuple):
        return float(rng.uniform(value[0], value[1]))
    return float(value)


def _axis(size: int, out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling of an axis of ``size`` points onto ``out`` points, corners aligned
    (output 0 reads input 0, output ``out-1`` reads input ``size-1``): the low index, the
    high index and the weight of the high one."""
    if out == 1 or size == 1:
        pos = np.zeros(out)
    else:
        pos = np.arange(out) * ((size - 1) / (out - 1))
    low = np.minimum(np.floor(pos).astype(np.intp), size - 1)
    high = np.minimum(low + 1, size - 1)
    return low, high, (pos - low).astype(np.float32)


def resize_bilinear(data: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(channels, h, w)`` rescaled bilinearly to ``(channels, height, width)`` with aligned
    corners (the mapping of ``scipy.ndimage.zoom(order=1)``); every output value is a convex
    mix of input values, so it stays within the input's range."""
    y0, y1, wy = _axis(data.shape[1], height)
    x0, x1, wx = _axis(data.shape[2], width)
    rows = data[:, y0, :] * (1 - wy)[None, :, None] + data[:, y1, :] * wy[None, :, None]
    return (rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx).astype(data.dtype, copy=False)


@AUDIO_TRANSFORMS.register("crop_resize")
class CropResize(AudioTransform):
    """A random time-frequency crop of the log-mel spectrogram, rescaled bilinearly back to
    the input's shape (BYOL-A's RandomResizeCrop).

    ``freq_scale`` and ``time_scale`` are the crop's share of the mel bins and of the frames
    (a value or ``[lo, hi]``, each in ``(0, 1]``); the box is placed uniformly inside the
    spectrogram. BYOL-A draws its scales from (0.6, 1.5) over a "virtual" canvas 1.5x the
    input padded with zeros, and resizes bicubically; here the crop stays inside the input
    (no zero padding: a 0 in this fixed-reference log-mel is full-scale power, not silence)
    and the resize is bilinear with aligned corners, so the output's values lie within the
    crop's range.
    """

    name: ClassVar[str] = "crop_resize"
    domain: ClassVar[str] = "spectrogram"

    class InitSchema(AudioTransform.InitSchema):
        freq_scale: number(gt=0, le=1) = (0.6, 1.0)
        time_scale: number(gt=0, le=1) = (0.6, 1.0)

    def get_params(self, data: np.ndarray, sr: int, rng: np.random.Generator) -> dict[str, int]:
        n_mels, frames = data.shape[-2:]
        height = min(n_mels, max(1, round(n_mels * _uniform(self.params.freq_scale, rng))))
        width = min(frames, max(1, round(frames * _uniform(self.params.time_scale, rng))))
        top = int(rng.integers(0, n_mels - height + 1))
        left = int(rng.integers(0, frames - width + 1))
        return {"top": top, "left": left, "height": int(height), "width": int(width)}

    def apply(self, data: np.ndarray, sr: int, top: int, left: int, height: int,
              width: int) -> np.ndarray:
        crop = data[:, top:top + height, left:left + width]
        return resize_bilinear(crop, data.shape[1], data.shape[2])


@AUDIO_TRANSFORMS.register("spec_mask")
class SpecMask(AudioTransform):
    """SpecAugment's masks: ``n_time`` bands of whole frames and ``n_freq`` bands of mel bins
    set to the channel's mean (of the unmasked input), which leaves the spectrogram's
    average level where it was, unlike a 0 that means 0 dB (full scale) here.

    ``time`` / ``freq``: the band width; a number ``W`` draws it from ``0..W`` (SpecAugment's
    ``T`` and ``F``), ``[lo, hi]`` from ``lo..hi``; fractions are dropped and a width never
    exceeds the axis. Each band's start is uniform over the positions where it fits; bands
    may overlap.

    Examples
    --------
    >>> spec = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    >>> mask = SpecMask(time=[2, 2], freq=0, n_freq=0)
    >>> drawn = mask.get_params(spec, 16000, np.random.default_rng(0))
    >>> drawn
    {'time_masks': [[4, 2]], 'freq_masks': []}
    >>> mask.apply(spec, 16000, **drawn)[0, 0]
    array([ 0. ,  1. ,  2. ,  3. , 11.5, 11.5], dtype=float32)
    """

    name: ClassVar[str] = "spec_mask"
    domain: ClassVar[str] = "spectrogram"

    class InitSchema(AudioTransform.InitSchema):
        time: number(ge=0) = 20
        freq: number(ge=0) = 8
        n_time: int = Field(1, ge=0)
        n_freq: int = Field(1, ge=0)

    @staticmethod
    def _bands(width: float | tuple[float, float], count: int, size: int,
               rng: np.random.Generator) -> list[list[int]]:
        lo, hi = (0, width) if not isinstance(width, tuple) else width
        lo, hi = int(min(lo, size)), int(min(hi, size))  # capped first: a YAML .inf is a valid width
        bands = []
        for _ in range(count):
            w = int(rng.integers(lo, hi + 1))
            bands.append([int(rng.integers(0, size - w + 1)), w])
        return bands

    def get_params(self, data: np.ndarray, sr: int, rng: np.random.Generator) -> dict[str, list[list[int]]]:
        n_mels, frames = data.shape[-2:]
        return {"time_masks": self._bands(self.params.time, self.params.n_time, frames, rng),
                "freq_masks": self._bands(self.params.freq, self.params.n_freq, n_mels, rng)}

    def apply(self, data: np.ndarray, sr: int, time_masks: list[list[int]],
              freq_masks: list[list[int]]) -> np.ndarray:
        out = data.copy()
        # numpy's pairwise float32 sum: exact to ~1e-6 relative and twice as fast as float64
        flat = data.reshape(data.shape[0], -1)
        fill = (flat.sum(axis=1) / flat.shape[1])[:, None, None]
        for start, width in time_masks:
            out[:, :, start:start + width] = fill
        for start, width in freq_masks:
            out[:, start:start + width, :] = fill
        return out


#: The spectrogram transforms by recipe name (registered in ``AUDIO_TRANSFORMS`` at merge).
