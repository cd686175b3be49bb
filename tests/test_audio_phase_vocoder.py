"""The vectorised phase vocoder behind ``time_stretch`` and ``pitch_shift`` against
librosa's frame-by-frame one, on a spoken word from sample_data/audio."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf

from augment.audio.waveform import phase_vocoder, time_stretch
from conftest import SAMPLE


def _word(channels: int = 1) -> np.ndarray:
    y, _ = sf.read(SAMPLE / "audio" / "yes" / "yes_00.wav", dtype="float32", always_2d=True)
    return np.ascontiguousarray(np.tile(y.T, (channels, 1)) * np.linspace(1, 0.5, channels, dtype=np.float32)[:, None])


@pytest.mark.parametrize("rate", [0.5, 0.8, 1.25, 2.0])
def test_the_phase_vocoder_gives_librosas_frames_in_double_precision(rate):
    spec = librosa.stft(_word())
    ours = phase_vocoder(spec, rate, 512)
    # librosa in float64 is the reference: in float32 its phase accumulator drifts (0.02 rad at rate 0.5)
    exact = librosa.phase_vocoder(spec.astype(np.complex128), rate=rate, hop_length=512)
    assert ours.shape == exact.shape and ours.dtype == np.complex64
    assert np.abs(np.abs(ours) - np.abs(exact)).max() < 1e-5 * np.abs(exact).max()
    loud = np.abs(exact) > 1e-3 * np.abs(exact).max()
    assert np.abs(np.angle(ours * np.conj(exact)))[loud].max() < 1e-4


def test_time_stretch_keeps_channels_apart_and_gives_round_samples_over_rate():
    stereo = _word(channels=2)
    out = time_stretch(stereo, 1.25)
    assert out.shape == (2, round(stereo.shape[-1] / 1.25)) and out.dtype == np.float32
    ratio = np.abs(out[1]).max() / np.abs(out[0]).max()
    assert ratio == pytest.approx(0.5, rel=1e-3)
