"""Audio files to waveforms: the audio modality's one decoder.

Augmentation loads its sources with it (:meth:`augment.audio.plugin.AudioPlugin.load`) and
the training harness reads audio through it (``pipelines.train``), so a format that
augments also trains. libsndfile (soundfile) decodes; every channel is kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from curate.errors import CuraugError


@dataclass(frozen=True)
class Decoded:
    """A decoded file: float32 samples ``(channels, samples)``, its sample rate, and the
    container format and subtype it was stored in (``WAV``, ``PCM_16``)."""

    data: np.ndarray
    sample_rate: int
    format: str
    subtype: str


def read_audio(file: str | os.PathLike) -> Decoded:
    """Decode every sample of ``file``; a file libsndfile cannot decode is a
    :class:`CuraugError` naming it."""
    import soundfile as sf

    try:
        with sf.SoundFile(file) as f:
            fmt, subtype, sr = f.format, f.subtype, f.samplerate
            data = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CuraugError(f"{file}: cannot decode audio ({exc})") from None
    return Decoded(np.ascontiguousarray(data.T), int(sr), fmt, subtype)


def read_sample_rate(file: str | os.PathLike) -> int:
    """``file``'s sample rate, from its header alone."""
    import soundfile as sf

    try:
        return int(sf.info(file).samplerate)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CuraugError(f"{file}: cannot read audio ({exc})") from None
