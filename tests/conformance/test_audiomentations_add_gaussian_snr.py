"""Ported from audiomentations: iver56/audiomentations, tests/test_add_gaussian_snr.py
(AddGaussianSNR), on curaug's ``noise`` with ``color: white`` through
audiomentations_adapter.py. ``AddGaussianSNR(min_snr_db=a, max_snr_db=b)`` is
``noise: {snr_db: [a, b]}``.

Upstream seeds the global ``np.random`` for its input; these draw the same values from a
``np.random.RandomState(42)`` of their own, leaving the global state alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from audiomentations_adapter import augment


def normal(std: float, size) -> np.ndarray:
    """What ``np.random.seed(42); np.random.normal(0, std, size)`` gives, as float32."""
    return np.random.RandomState(42).normal(0, std, size=size).astype(np.float32)


def test_gaussian_noise_snr_defaults():
    """Upstream: test_gaussian_noise_snr_defaults. curaug's default is one SNR, 20 dB,
    where audiomentations draws from 5 to 40 dB (a recipe gives the range it wants)."""
    samples_in = normal(1, 1024)
    std_in = np.mean(np.abs(samples_in))
    samples_out = augment("noise", samples_in, 16000, color="white")
    std_out = np.mean(np.abs(samples_out))
    assert samples_out.dtype == np.float32
    assert not (float(std_out) == pytest.approx(0.0))
    assert std_out > std_in


def test_gaussian_noise_snr():
    """Upstream: test_gaussian_noise_snr."""
    samples_in = normal(1, 1024)
    std_in = np.mean(np.abs(samples_in))
    samples_out = augment("noise", samples_in, 16000, snr_db=[15, 35], color="white")
    std_out = np.mean(np.abs(samples_out))
    assert samples_out.dtype == np.float32
    assert not (float(std_out) == pytest.approx(0.0))
    assert std_out > std_in


def test_gaussian_noise_snr_multichannel():
    """Upstream: test_gaussian_noise_snr_multichannel."""
    samples = normal(0.1, (3, 8888))
    samples_out = augment("noise", samples, 16000, snr_db=[15, 35], color="white")
    assert samples_out.dtype == np.float32
    assert float(np.sum(np.abs(samples_out))) > float(np.sum(np.abs(samples)))


def test_validation():
    """Upstream: test_validation."""
    with pytest.raises(ValueError):
        augment("noise", normal(1, 16), 16000, snr_db=[40.0, 20.0])
