"""Audio → ``(1, n_mels, frames)`` log-mel spectrograms, standardised with the training
split's mean and standard deviation.

Audio files are decoded by the audio plugin's decoder (:mod:`augment.audio.decode`, the one
augmentation loads its sources with, so a format that augments also trains), mixed to
mono and resampled (librosa) to the median sample rate of the training files; ``.npy``
files are the audio plugin's log-mel outputs (``output: spectrogram``) and are used as
they are. Both go through
:func:`augment.audio.spectrogram.log_mel`'s fixed dB reference, so their values agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from curate.errors import CuraugError
from pipelines.train.data.encoder import (ENCODERS, Encoder, Moments, chunks, fits, held_stats, media_files,
                                          median_int, parallel_map)

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.config import TrainConfig

#: log_mel's floor (``amin=1e-10`` with ``ref=1.0``): silence, the value short clips are padded with
SILENCE_DB = -100.0
N_FFT, HOP_LENGTH = 1024, 256


def decode_log_mel(file: str, sample_rate: int | None, n_mels: int) -> np.ndarray:
    """One file as an ``(n_mels, frames)`` float32 log-mel spectrogram."""
    if file.lower().endswith(".npy"):
        try:
            spec = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CuraugError(f"{file}: cannot read spectrogram ({exc})", param="data") from None
        return _mel_bins(spec, n_mels, file)
    from augment.audio.decode import read_audio

    decoded = read_audio(file)
    return waveform_log_mel(decoded.data, decoded.sample_rate, sample_rate, n_mels)


def waveform_log_mel(data: np.ndarray, sr: int, sample_rate: int | None, n_mels: int) -> np.ndarray:
    """A ``(channels, samples)`` waveform mixed to mono, resampled to ``sample_rate`` (None:
    kept) and turned into an ``(n_mels, frames)`` log-mel spectrogram."""
    from augment.audio.spectrogram import log_mel

    mono = data.mean(axis=0)
    if sample_rate and sr != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate)
        sr = sample_rate
    return log_mel(mono[None], sr, n_mels=n_mels, n_fft=N_FFT, hop_length=HOP_LENGTH)[0]


def _mel_bins(spec: np.ndarray, n_mels: int, where: str) -> np.ndarray:
    """The audio plugin's log-mel array (``(channels,) n_mels, frames``) as ``(n_mels, frames)``."""
    if spec.ndim not in (2, 3) or spec.shape[-2] != n_mels:
        raise CuraugError(f"{where}: spectrogram of shape {spec.shape} has not n_mels={n_mels} mel bins "
                          f"(set n_mels to the recipe's log_mel n_mels)", param="n_mels")
    # channels of a dB spectrogram are averaged in dB: the waveform is gone
    return (spec.mean(axis=0) if spec.ndim == 3 else spec).astype(np.float32)


def fit_frames(spec: np.ndarray, frames: int) -> np.ndarray:
    """Crop to the first ``frames`` frames, or pad the end with silence."""
    if spec.shape[1] >= frames:
        return spec[:, :frames]
    return np.pad(spec, ((0, 0), (0, frames - spec.shape[1])), constant_values=SILENCE_DB)


@ENCODERS.register("audio")
class AudioEncoder(Encoder):
    """Log-mel spectrograms of ``frames`` frames (the training split's median length)."""

    modality: ClassVar[str] = "audio"

    def __init__(self, sample_rate: int | None, n_mels: int, frames: int, mean: float, std: float):
        self.sample_rate, self.n_mels, self.frames = sample_rate, int(n_mels), int(frames)
        self.mean, self.std = float(mean), float(std)
        self.input_shape = (1, self.n_mels, self.frames)

    @classmethod
    def fit(cls, train: "pd.DataFrame", config: "TrainConfig",
            memory: int | None = None) -> tuple["AudioEncoder", np.ndarray | None]:
        files = media_files(train)
        waves = [f for f in files if not f.lower().endswith(".npy")]
        from augment.audio.decode import read_sample_rate

        sample_rate = median_int(parallel_map(read_sample_rate, waves)) if waves else None

        def decode(part: slice) -> list[np.ndarray]:
            return parallel_map(lambda f: decode_log_mel(f, sample_rate, config.n_mels), files[part])

        # the length to pad or crop to is the median of all: a first pass, keeping the
        # spectrograms only while they fit in memory
        lengths: list[int] = []
        specs: list[np.ndarray] | None = []
        held = 0
        for part in chunks(len(files)):
            for spec in decode(part):
                lengths.append(spec.shape[1])
                held += spec.nbytes
                if specs is not None and (memory is None or held <= memory):
                    specs.append(spec)
                else:
                    specs = None
        frames = max(1, median_int(lengths))
        axes = (0, 1, 2, 3)
        if specs is not None and fits(len(files), config.n_mels * frames * 4, memory):
            x = np.stack([fit_frames(s, frames) for s in specs])[:, None]
            mean, std = held_stats(x, axes)
        else:
            x, moments = None, Moments(axes)
            for part in chunks(len(files)):
                moments.add(np.stack([fit_frames(s, frames) for s in decode(part)])[:, None])
            mean, std = moments.result()
        enc = cls(sample_rate, config.n_mels, frames, float(mean), float(std))
        return enc, None if x is None else enc._standardise(x)

    def transform(self, frame: "pd.DataFrame") -> np.ndarray:
        specs = parallel_map(lambda f: decode_log_mel(f, self.sample_rate, self.n_mels), media_files(frame))
        if not specs:
            return np.zeros((0, *self.input_shape), np.float32)
        return self._standardise(np.stack([fit_frames(s, self.frames) for s in specs])[:, None])

    def encode_sample(self, sample: Any) -> np.ndarray:
        """The audio plugin's sample: a waveform, or the log-mel array its spectrogram steps made."""
        if sample.kind == "spectrogram":
            spec = _mel_bins(sample.data, self.n_mels, f"row {sample.row.get('id')}: the recipe's")
        else:
            spec = waveform_log_mel(sample.data, sample.sr, self.sample_rate, self.n_mels)
        return self._standardise(fit_frames(spec, self.frames)[None, None])[0]

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        x -= np.float32(self.mean)
        x /= np.float32(self.std)
        return x

    def state(self) -> dict[str, Any]:
        return {"modality": "audio", "sample_rate": self.sample_rate, "n_mels": self.n_mels,
                "frames": self.frames, "n_fft": N_FFT, "hop_length": HOP_LENGTH,
                "mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "AudioEncoder":
        return cls(state["sample_rate"], state["n_mels"], state["frames"], state["mean"], state["std"])
