"""Ported from audiomentations: iver56/audiomentations, tests/test_time_stretch.py
(TimeStretch), on curaug's ``time_stretch`` through audiomentations_adapter.py.
``TimeStretch(min_rate=a, max_rate=b)`` is ``time_stretch: {rate: [a, b]}``.

Where curaug differs:

- one method, librosa's phase vocoder (``method="librosa_phase_vocoder"``); upstream's
  ``signalsmith_stretch`` cases are not ported and ``method`` is refused;
- the duration always changes: the output has ``round(samples / rate)`` samples (the
  transform's contract, docs/recipes.md), where upstream's default
  ``leave_length_unchanged=True`` pads or cuts back to the input's length; a recipe that
  needs a fixed length adds ``crop``. ``leave_length_unchanged`` is refused;
- rate limits: (0.05, 20] where upstream's are [0.1, 10].
"""

from __future__ import annotations

import numpy as np
import pytest

from audiomentations_adapter import augment, draw_and_apply


def test_dynamic_length():
    """Upstream: test_dynamic_length[librosa_phase_vocoder] (with the exact length)."""
    samples = np.zeros((2048,), dtype=np.float32)
    samples_out, drawn = draw_and_apply("time_stretch", samples, 16000, rate=[0.8, 0.9])
    assert samples_out.dtype == np.float32
    assert samples_out.ndim == samples.ndim
    assert samples_out.shape[-1] > 2048
    assert samples_out.shape[-1] == round(2048 / drawn["rate"])


def test_fixed_length():
    """Upstream: test_fixed_length[librosa_phase_vocoder]. curaug has no fixed-length mode
    (see the docstring): the option is refused and the length follows the rate."""
    samples = np.zeros((2048,), dtype=np.float32)
    with pytest.raises(ValueError, match="leave_length_unchanged"):
        augment("time_stretch", samples, 16000, rate=[0.8, 0.9], leave_length_unchanged=True)
    samples_out, drawn = draw_and_apply("time_stretch", samples, 16000, rate=[0.8, 0.9])
    assert samples_out.dtype == np.float32
    assert samples_out.ndim == samples.ndim
    assert samples_out.shape[-1] == round(2048 / drawn["rate"]) != 2048


def test_multichannel():
    """Upstream: test_multichannel[librosa_phase_vocoder] (each channel compared with the
    input over the input's length, the output being longer)."""
    num_channels = 3
    samples = np.random.default_rng(0).normal(0, 0.1, size=(num_channels, 5555)).astype(np.float32)
    samples_out, drawn = draw_and_apply("time_stretch", samples, 16000, rate=[0.8, 0.9])
    assert samples.dtype == samples_out.dtype
    assert samples_out.shape == (num_channels, round(5555 / drawn["rate"]))
    for i in range(num_channels):
        assert not np.allclose(samples[i], samples_out[i, :5555])


def test_stereo_non_contiguous_ndarray():
    """Upstream: test_stereo_non_contiguous_ndarray (there with signalsmith_stretch): a
    transposed (samples, channels) array, a non-contiguous (channels, samples) view."""
    num_channels = 2
    samples = np.random.default_rng(0).normal(0, 0.1, size=(5555, num_channels)).astype(np.float32)
    samples_out, drawn = draw_and_apply("time_stretch", samples.T, 16000, rate=[0.8, 0.9])
    assert samples.dtype == samples_out.dtype
    assert samples_out.shape == (num_channels, round(5555 / drawn["rate"]))


def test_invalid_params():
    """Upstream: test_invalid_params, with curaug's limits (see the docstring)."""
    samples = np.zeros(2048, np.float32)
    with pytest.raises(ValueError):
        augment("time_stretch", samples, 16000, rate=0.0)
    with pytest.raises(ValueError):
        augment("time_stretch", samples, 16000, rate=[0.05, 1.0])
    with pytest.raises(ValueError):
        augment("time_stretch", samples, 16000, rate=21.0)
    assert augment("time_stretch", samples, 16000, rate=11.0).shape == (round(2048 / 11),)
    with pytest.raises(ValueError):
        augment("time_stretch", samples, 16000, rate=[2.0, 1.0])
    with pytest.raises(ValueError, match="method"):
        augment("time_stretch", samples, 16000, rate=[1.0, 2.0], method="invalid")
