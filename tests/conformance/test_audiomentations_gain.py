"""Ported from audiomentations: iver56/audiomentations, tests/test_gain.py (Gain), on
curaug's ``gain`` through audiomentations_adapter.py. ``Gain(min_gain_db=a, max_gain_db=b)``
is ``gain: {db: [a, b]}``."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_almost_equal

from audiomentations_adapter import augment
from curate.errors import CuraugError

MINUS_6_DB = np.array([0.5011872, 0.2505936, -0.1252968, -0.0626484, 0.0], dtype=np.float32)


def test_gain():
    """Upstream: test_gain."""
    samples = np.array([1.0, 0.5, -0.25, -0.125, 0.0], dtype=np.float32)
    processed_samples = augment("gain", samples, 16000, db=[-6, -6])
    assert_almost_equal(processed_samples, MINUS_6_DB)
    assert processed_samples.dtype == np.float32


def test_gain_multichannel():
    """Upstream: test_gain_multichannel."""
    samples = np.array([[1.0, 0.5, -0.25, -0.125, 0.0], [1.0, 0.5, -0.25, -0.125, 0.0]], dtype=np.float32)
    processed_samples = augment("gain", samples, 16000, db=[-6, -6])
    assert_almost_equal(processed_samples, np.array([MINUS_6_DB, MINUS_6_DB]))
    assert processed_samples.dtype == np.float32


def test_gain_multichannel_with_wrong_dimension_ordering():
    """Upstream: test_gain_multichannel_with_wrong_dimension_ordering. curaug raises its
    bad-input error (a ValueError; the CLI's one error line) instead of audiomentations'
    WrongMultichannelAudioShape, and names the layout it expects."""
    samples = np.random.default_rng(0).uniform(low=-0.5, high=0.5, size=(2000, 2)).astype(np.float32)
    with pytest.raises(CuraugError, match=r"take \(channels, samples\)"):
        augment("gain", samples, 16000, db=[-6, -6])


def test_gain_min_greater_than_max():
    """Upstream: test_gain_min_greater_than_max."""
    with pytest.raises(ValueError, match="lo > hi"):
        augment("gain", np.zeros(4, np.float32), 16000, db=[60, 10])
