"""Ported from audiomentations: iver56/audiomentations, tests/test_pitch_shift.py
(PitchShift), on curaug's ``pitch_shift`` through audiomentations_adapter.py.
``PitchShift(min_semitones=a, max_semitones=b)`` is ``pitch_shift: {semitones: [a, b]}``.

Where curaug differs:

- one method, librosa's (stretch on curaug's phase vocoder, then resample with soxr);
  upstream's ``signalsmith_stretch`` cases are not ported and ``method`` is refused;
- semitone limits: +-48 where upstream's are +-24;
- freezing: audiomentations keeps the draw in the transform (``freeze_parameters``);
  curaug's draw is a plain dict that ``apply`` takes back (the provenance replay).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from audiomentations_adapter import augment, draw_and_apply
from augment.audio.transforms import AUDIO_TRANSFORMS


def test_1dim():
    """Upstream: test_1dim[librosa_phase_vocoder]."""
    samples = np.zeros((2048,), dtype=np.float32)
    samples_out = augment("pitch_shift", samples, 16000, semitones=[-2, -1])
    assert samples_out.dtype == np.float32
    assert samples_out.shape == (2048,)


def test_multichannel():
    """Upstream: test_multichannel[librosa_phase_vocoder]."""
    num_channels = 3
    samples = np.random.default_rng(0).normal(0, 0.1, size=(num_channels, 5555)).astype(np.float32)
    samples_out = augment("pitch_shift", samples, 16000, semitones=[1, 2])
    assert samples_out.dtype == np.float32
    assert samples_out.shape == samples.shape
    for i in range(num_channels):
        assert not np.allclose(samples[i], samples_out[i])


def test_stereo_non_contiguous_ndarray():
    """Upstream: test_stereo_non_contiguous_ndarray (there with signalsmith_stretch)."""
    num_channels = 2
    samples = np.random.default_rng(0).normal(0, 0.1, size=(5555, num_channels)).astype(np.float32)
    samples_out = augment("pitch_shift", samples.T, 16000, semitones=[1, 2])
    assert samples_out.dtype == np.float32
    assert samples_out.shape == samples.T.shape


def test_freeze_parameters():
    """Upstream: test_freeze_parameters: the first draw, applied again by a transform whose
    range no longer holds it, gives the same samples (see the docstring)."""
    samples = np.sin(np.linspace(0, 440 * 2 * np.pi, 8000)).astype(np.float32)
    first_samples, first_parameters = draw_and_apply("pitch_shift", samples, 16000, semitones=[1, 12])
    assert 1 <= first_parameters["semitones"] <= 12

    other = AUDIO_TRANSFORMS.get("pitch_shift")(semitones=[-12, -1])
    second_samples = other.apply(samples, 16000, **json.loads(json.dumps(first_parameters)))
    assert_array_equal(first_samples, second_samples)


def test_validate_parameters():
    """Upstream: test_validate_parameters, with curaug's limits (see the docstring)."""
    samples = np.zeros(2048, np.float32)
    with pytest.raises(ValueError):
        augment("pitch_shift", samples, 16000, semitones=[-49, 0])
    with pytest.raises(ValueError):
        augment("pitch_shift", samples, 16000, semitones=[0, 49])
    assert augment("pitch_shift", samples, 16000, semitones=[-40, -40]).shape == samples.shape
    with pytest.raises(ValueError):
        augment("pitch_shift", samples, 16000, semitones=[5, 2])
    with pytest.raises(ValueError, match="method"):
        augment("pitch_shift", samples, 16000, method="invalidvalue")
