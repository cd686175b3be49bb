"""Waveform transforms: noise, background, gain, shift, time_stretch, pitch_shift, crop.

Each works on a float32 ``(channels, samples)`` array and is exact where the recipe gives
a number: ``noise``/``background`` are scaled so the measured SNR equals ``snr_db``,
``gain`` multiplies by ``10 ** (db / 20)``, ``shift`` moves by ``round(seconds * sr)``
samples, ``time_stretch`` returns ``round(samples / rate)`` samples, ``pitch_shift``
keeps the length.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Union

import numpy as np
from pydantic import Field

from augment.audio.transforms import AUDIO_TRANSFORMS, AudioTransform, draw_value
from augment.params import choices, number
from augment.plugin import SkipSample
from curate.errors import CuraugError

Color = choices("white", "pink", "brown")
#: Audio files a ``background`` folder may hold.
_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


#: Samples per float32 dot product in :func:`power` (their sums are added in float64).
_POWER_BLOCK = 8192


def power(y: np.ndarray) -> float:
    """Mean power over all channels: float32 dot products (BLAS, no temporary array) of
    blocks short enough that float32 sums stay exact to ~1e-7, added in float64, so a long
    clip does not drift."""
    flat = np.ravel(y)
    if flat.dtype != np.float32:
        flat = flat.astype(np.float32)
    total = 0.0
    for start in range(0, flat.size, _POWER_BLOCK):
        block = flat[start:start + _POWER_BLOCK]
        total += float(np.dot(block, block))
    return total / flat.size if flat.size else 0.0


def mix_at_snr(y: np.ndarray, noise: np.ndarray, snr_db: float, *, owned: bool = False) -> np.ndarray:
    """``y`` plus ``noise`` scaled so that ``10 log10(P(y) / P(scaled noise)) == snr_db``;
    ``owned``: ``noise`` is a float32 array of ``y``'s shape the caller gives up, so the
    mix is written into it instead of new arrays."""
    scale = np.float32(np.sqrt(power(y) / (power(noise) * 10 ** (snr_db / 10))))
    if owned:
        noise *= scale
        noise += y
        return noise
    return y + scale * noise.astype(np.float32, copy=False)


#: Frequency (Hz) below which pink and brown noise stay flat instead of rising on. Kept down
#: to the clip's lowest bin, a 1/f^2 slope puts most of brown noise's power below 1 Hz (more
#: of it the longer the clip): a slow wander of the mean that the SNR pays for but no one
#: hears, and a clip whose samples are far from Gaussian. Below 40 Hz speech and most
#: recordings hold little; at 40 Hz brown noise passes audiomentations' Gaussian-histogram
#: test as often as its own (benchmarks/bench_noise_colors.py), whose 128-point shaping
#: filter is flat below sr / 128 (125 Hz at 16 kHz).
COLOR_CORNER_HZ = 40.0


def colored_noise(color: str, shape: tuple[int, ...], rng: np.random.Generator, sr: int) -> np.ndarray:
    """White, pink (power ~ 1/f) or brown (power ~ 1/f^2) noise, float32, each channel
    (last axis) zero-mean with unit RMS: white Gaussian noise shaped in the frequency
    domain, so every color is stationary over the whole clip, with the slope flat below
    :data:`COLOR_CORNER_HZ`.

    Examples
    --------
    >>> noise = colored_noise("brown", (2, 16000), np.random.default_rng(0), 16000)
    >>> np.abs(noise.mean(axis=1)).max() < 1e-6, np.sqrt((noise.astype(float) ** 2).mean(axis=1)).round(4)
    (np.True_, array([1., 1.]))
    """
    noise = rng.standard_normal(shape, dtype=np.float32)
    if color != "white":
        spectrum = np.fft.rfft(noise, axis=-1)
        freqs = np.maximum(np.fft.rfftfreq(shape[-1], 1 / sr), COLOR_CORNER_HZ)
        spectrum *= (freqs / COLOR_CORNER_HZ) ** (-0.5 if color == "pink" else -1.0)
        noise = np.fft.irfft(spectrum, n=shape[-1], axis=-1).astype(np.float32)
    for channel in noise.reshape(-1, shape[-1]):
        channel -= np.float32(channel.mean(dtype=np.float64))
        mean_square = power(channel)
        if mean_square > 0:  # a one-sample channel is all mean: it stays zero
            channel *= np.float32(1 / np.sqrt(mean_square))
    return noise


def soft_limit(y: np.ndarray, threshold: float, ceiling: float) -> np.ndarray:
    """A new array: every sample within ``threshold`` as it is (bit for bit), each one past
    it bent by a tanh knee towards ``ceiling``, which it never reaches. The knee leaves the
    threshold with slope 1 (no kink to hear) and keeps the order of magnitudes.

    Examples
    --------
    >>> limited = soft_limit(np.array([[0.5, -0.88, 0.95, 1.5]], np.float32), 0.891, 0.999)
    >>> limited.round(4), bool(limited.max() < 0.999)
    (array([[ 0.5   , -0.88  ,  0.9448,  0.999 ]], dtype=float32), True)
    """
    out = y.copy()
    loud = np.abs(y) > threshold
    over = np.abs(y[loud]).astype(np.float64) - threshold
    room = ceiling - threshold
    # below ceiling in float64 (tanh < 1), then rounded down in float32 so the cast cannot reach it
    bent = threshold + room * np.tanh(over / room)
    out[loud] = np.copysign(np.minimum(bent, np.nextafter(np.float32(ceiling), 0, dtype=np.float32)), y[loud])
    return out


@AUDIO_TRANSFORMS.register("noise")
class Noise(AudioTransform):
    """Additive white, pink or brown noise at ``snr_db`` (measured SNR equals it): zero-mean
    with the same RMS in every channel (:func:`colored_noise`); a clip of one sample, whose
    zero-mean noise is silence, is skipped."""

    name = "noise"
    needs_signal = True

    class InitSchema(AudioTransform.InitSchema):
        snr_db: number(ge=-20, le=80) = 20.0
        color: Color = "white"

    def get_params(self, data, sr, rng):
        return {**super().get_params(data, sr, rng), "noise_seed": int(rng.integers(2 ** 32))}

    def apply(self, data, sr, *, snr_db, color, noise_seed):
        if data.shape[-1] < 2:
            raise SkipSample(f"noise needs at least 2 samples for zero-mean noise, the clip has {data.shape[-1]}")
        return mix_at_snr(data, colored_noise(color, data.shape, np.random.default_rng(noise_seed), sr), snr_db,
                          owned=True)


def _read_mono(path: str, sr: int) -> np.ndarray:
    """A background file as mono float32 at ``sr``, decoded once per file version and rate.
    The cache lives as long as the process, which on a Dask worker outlasts a run: a file
    rewritten in place between two runs is a new version, decoded again."""
    stat = os.stat(path)
    return _decode_mono(path, sr, (stat.st_ino, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=32)
def _decode_mono(path: str, sr: int, version: tuple[int, int, int]) -> np.ndarray:
    """``version`` (inode, size, modification time) only keys the cache."""
    import soundfile as sf

    y, file_sr = sf.read(path, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if file_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr)
    return np.ascontiguousarray(y, dtype=np.float32)


@AUDIO_TRANSFORMS.register("background")
class Background(AudioTransform):
    """A file from ``files`` (a folder or a list of files) mixed in at ``snr_db``: looped
    when shorter than the sample, a random stretch of it when longer."""

    name = "background"
    needs_signal = True

    class InitSchema(AudioTransform.InitSchema):
        files: Union[str, list[str]]
        snr_db: number(ge=-20, le=80) = 10.0

    def __init__(self, **params: Any):
        super().__init__(**params)
        given = self.params.files
        if isinstance(given, str) and Path(given).is_dir():
            found = sorted(str(p) for p in Path(given).rglob("*") if p.suffix.lower() in _AUDIO_SUFFIXES)
        else:
            found = [given] if isinstance(given, str) else list(given)
            missing = [f for f in found if not Path(f).is_file()]
            if missing:
                raise CuraugError(f"background.files: {missing[0]!r} is not a file or folder")
        if not found:
            raise CuraugError(f"background.files: no audio files ({', '.join(_AUDIO_SUFFIXES)}) in {given!r}")
        self.files = found

    def get_params(self, data, sr, rng):
        snr = super().get_params(data, sr, rng)["snr_db"]
        return {"file": self.files[int(rng.integers(len(self.files)))], "snr_db": snr,
                "offset": float(rng.random())}

    def apply(self, data, sr, *, file, snr_db, offset):
        bg = _read_mono(file, sr)
        n = data.shape[-1]
        if len(bg) < n:
            bg = np.tile(bg, -(-n // len(bg)))[:n]
        else:
            start = int(offset * (len(bg) - n + 1))
            bg = bg[start:start + n]
        if power(bg) == 0:
            raise CuraugError(f"background: {file} is silent, so it cannot be mixed at an SNR")
        return mix_at_snr(data, np.broadcast_to(bg, data.shape), snr_db)


@AUDIO_TRANSFORMS.register("gain")
class Gain(AudioTransform):
    """Gain in dB (vertical jitter); ``envelope_db`` > 0 adds a slow random envelope of up
    to that many dB, interpolated between ``envelope_points`` drawn points."""

    name = "gain"

    class InitSchema(AudioTransform.InitSchema):
        db: number(ge=-60, le=60) = 0.0
        envelope_db: float = Field(0.0, ge=0, le=24)
        envelope_points: int = Field(4, ge=2, le=64)

    def get_params(self, data, sr, rng):
        db = draw_value(rng, self.params.db)
        env = self.params.envelope_db
        points = [round(float(v), 6) for v in rng.uniform(-env, env, self.params.envelope_points)] if env else []
        return {"db": db, "envelope": points}

    def apply(self, data, sr, *, db, envelope):
        if not envelope:  # one factor for the whole clip: no per-sample curve to build
            return data * np.float32(10 ** (db / 20))
        curve = db + np.interp(np.linspace(0, 1, data.shape[-1]), np.linspace(0, 1, len(envelope)), envelope)
        return (data * 10 ** (curve / 20)).astype(np.float32)


@AUDIO_TRANSFORMS.register("shift")
class Shift(AudioTransform):
    """A time shift by ``seconds`` (negative: earlier), exact to the sample; the gap is
    zeros, or the samples pushed out at the other end with ``rollover``."""

    name = "shift"

    class InitSchema(AudioTransform.InitSchema):
        seconds: number(ge=-3600, le=3600) = 0.0
        rollover: bool = False

    def get_params(self, data, sr, rng):
        return {"samples": int(round(draw_value(rng, self.params.seconds) * sr)), "rollover": self.params.rollover}

    def apply(self, data, sr, *, samples, rollover):
        if rollover:
            return np.roll(data, samples, axis=-1)
        # one copy of what stays and zeros only in the gap: less memory traffic than
        # zeroing the whole output first, or than rolling and zeroing
        n = data.shape[-1]
        k = min(abs(samples), n)
        out = np.empty_like(data)
        if samples >= 0:
            out[:, k:] = data[:, :n - k]
            out[:, :k] = 0
        else:
            out[:, :n - k] = data[:, k:]
            out[:, n - k:] = 0
        return out


#: STFT size and hop of the phase vocoder (librosa's defaults for time_stretch).
_N_FFT, _HOP = 2048, 512


def phase_vocoder(spec: np.ndarray, rate: float, hop_length: int) -> np.ndarray:
    """``spec`` (complex ``(..., bins, frames)``) stretched in time by ``1 / rate``:
    librosa's phase vocoder (magnitudes interpolated between neighbouring frames, phases
    advanced by each bin's measured frequency), computed for all frames at once instead of
    in a Python loop over them, with the phase summed in float64 from steps below 3 pi
    (librosa's float32 accumulator reaches 1e5 to 1e6 rad, where a float32 step is 0.01 to
    0.06 rad)."""
    bins, frames = spec.shape[-2], spec.shape[-1]
    steps = np.arange(0, frames, rate, dtype=np.float64)
    left = steps.astype(np.intp)
    alpha = (steps - left).astype(np.float32)
    # each bin's expected phase step per hop, wrapped: adding whole turns changes no phase,
    # and it keeps every float32 below 2 pi
    advance = np.mod(hop_length * np.linspace(0, np.pi, bins), 2 * np.pi).astype(np.float32)[:, None]
    pad = [(0, 0)] * (spec.ndim - 1) + [(0, 2)]  # the last steps read two frames past the end: zeros
    mags = np.pad(np.abs(spec), pad)
    angles = np.pad(np.angle(spec), pad)
    mag = mags[..., left] * (1 - alpha) + mags[..., left + 1] * alpha
    step = angles[..., left + 1] - angles[..., left] - advance
    step -= np.float32(2 * np.pi) * np.rint(step * np.float32(1 / (2 * np.pi)))  # the deviation, in [-pi, pi]
    step += advance
    # the phase of output frame t: frame 0's plus every earlier step's (summed in float64)
    phase = np.empty(mag.shape, np.float64)
    phase[..., 0] = angles[..., 0]
    phase[..., 1:] = step[..., :-1]
    phase32 = np.cumsum(phase, axis=-1, out=phase).astype(np.float32)
    out = np.empty(mag.shape, np.complex64)
    np.multiply(mag, np.cos(phase32), out=out.real)
    np.multiply(mag, np.sin(phase32), out=out.imag)
    return out


def time_stretch(y: np.ndarray, rate: float) -> np.ndarray:
    """``y`` (float32 ``(..., samples)``) lasting ``1 / rate`` times as long, pitch kept:
    librosa.effects.time_stretch's STFT, phase vocoder and inverse STFT, with
    :func:`phase_vocoder`; ``round(samples / rate)`` samples."""
    import librosa

    spec = librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP)
    stretched = phase_vocoder(spec, rate, _HOP)
    return librosa.istft(stretched, n_fft=_N_FFT, hop_length=_HOP, dtype=np.float32,
                         length=int(round(y.shape[-1] / rate)))


@AUDIO_TRANSFORMS.register("time_stretch")
class TimeStretch(AudioTransform):
    """Duration times ``1 / rate``, pitch kept (librosa's phase vocoder)."""

    name = "time_stretch"

    class InitSchema(AudioTransform.InitSchema):
        rate: number(gt=0.05, le=20) = 1.0

    def apply(self, data, sr, *, rate):
        return time_stretch(data, rate)


@AUDIO_TRANSFORMS.register("pitch_shift")
class PitchShift(AudioTransform):
    """Pitch moved by ``semitones`` (frequencies times ``2 ** (semitones / 12)``), duration kept."""

    name = "pitch_shift"

    class InitSchema(AudioTransform.InitSchema):
        semitones: number(ge=-48, le=48) = 0.0

    def apply(self, data, sr, *, semitones):
        import librosa

        # librosa.effects.pitch_shift's steps (stretch by 1/ratio, resample back, same
        # length) on this module's phase vocoder
        rate = 2.0 ** (-semitones / 12)
        shifted = librosa.resample(time_stretch(data, rate), orig_sr=sr / rate, target_sr=sr, res_type="soxr_hq")
        return np.ascontiguousarray(librosa.util.fix_length(shifted, size=data.shape[-1]), dtype=np.float32)


@AUDIO_TRANSFORMS.register("crop")
class Crop(AudioTransform):
    """A random window of ``seconds`` (the whole clip when it is shorter)."""

    name = "crop"

    class InitSchema(AudioTransform.InitSchema):
        seconds: number(gt=0) = 1.0

    def get_params(self, data, sr, rng):
        n = min(max(int(round(super().get_params(data, sr, rng)["seconds"] * sr)), 1), data.shape[-1])
        return {"start": int(rng.integers(data.shape[-1] - n + 1)), "samples": n}

    def apply(self, data, sr, *, start, samples):
        return data[:, start:start + samples].copy()
