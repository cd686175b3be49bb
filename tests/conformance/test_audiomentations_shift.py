"""Ported from audiomentations: iver56/audiomentations, tests/test_shift.py (Shift), on
curaug's ``shift`` through audiomentations_adapter.py.

curaug's shift is given in seconds (``seconds``, a value or ``[lo, hi]``), exact to the
sample (``round(seconds * sr)``); upstream's fractions of the clip and sample counts are
converted to seconds here. Where curaug differs:

- ``rollover`` defaults to false (the gap is silence, as a recorded clip that starts late);
  upstream's default is true, so its rolled cases pass ``rollover=True``;
- no fade: the gap is exact zeros and every moved sample is kept bit for bit (what the
  shift's exactness contract, ``docs/recipes.md``, promises); ``fade_duration`` is refused;
- a value drawn once is replayed as the number of samples it moved (the provenance), not
  as a fraction of another clip (test_freeze_shift_with_different_sample_rates).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_almost_equal

from audiomentations_adapter import augment, draw_and_apply

FOUR = np.array([1.0, 0.5, 0.25, 0.125], dtype=np.float32)


def test_shift_fraction():
    """Upstream: test_shift_fraction (0.5 and -0.25 of 4 samples: 2 and -1 samples)."""
    sample_rate = 16000
    forward_shifted_samples = augment("shift", FOUR, sample_rate, seconds=[2 / sample_rate] * 2, rollover=True)
    assert_almost_equal(forward_shifted_samples, np.array([0.25, 0.125, 1.0, 0.5], dtype=np.float32))
    assert forward_shifted_samples.dtype == np.float32
    assert len(forward_shifted_samples) == 4

    backward_shifted_samples = augment("shift", FOUR, sample_rate, seconds=[-1 / sample_rate] * 2, rollover=True)
    assert_almost_equal(backward_shifted_samples, np.array([0.5, 0.25, 0.125, 1.0], dtype=np.float32))
    assert backward_shifted_samples.dtype == np.float32
    assert len(backward_shifted_samples) == 4


def test_shift_samples():
    """Upstream: test_shift_samples (``shift_unit="samples"``: 1 sample)."""
    forward_shifted_samples = augment("shift", FOUR, 16000, seconds=1 / 16000, rollover=True)
    assert_almost_equal(forward_shifted_samples, np.array([0.125, 1.0, 0.5, 0.25], dtype=np.float32))
    assert forward_shifted_samples.dtype == np.float32
    assert len(forward_shifted_samples) == 4


def test_shift_seconds():
    """Upstream: test_shift_seconds."""
    forward_shifted_samples = augment("shift", FOUR, 2, seconds=[1.0, 1.0], rollover=True)
    assert_almost_equal(forward_shifted_samples, np.array([0.25, 0.125, 1.0, 0.5], dtype=np.float32))
    assert forward_shifted_samples.dtype == np.float32
    assert len(forward_shifted_samples) == 4


def test_shift_without_rollover():
    """Upstream: test_shift_without_rollover (a 1-D array: curaug raised IndexError here
    before issue 21)."""
    sample_rate = 16000
    forward_shifted_samples = augment("shift", FOUR, sample_rate, seconds=2 / sample_rate, rollover=False)
    assert_almost_equal(forward_shifted_samples, np.array([0.0, 0.0, 1.0, 0.5], dtype=np.float32))
    assert forward_shifted_samples.dtype == np.float32
    assert len(forward_shifted_samples) == 4

    backward_shifted_samples = augment("shift", FOUR, sample_rate, seconds=-1 / sample_rate)  # curaug's default
    assert_almost_equal(backward_shifted_samples, np.array([0.5, 0.25, 0.125, 0.0], dtype=np.float32))
    assert backward_shifted_samples.dtype == np.float32
    assert len(backward_shifted_samples) == 4


STEREO = np.array([[0.75, 0.5, -0.25, -0.125], [0.9, 0.5, -0.25, -0.125]], dtype=np.float32)


def test_shift_multichannel():
    """Upstream: test_shift_multichannel (0.5 of 4 samples at 4000 Hz)."""
    processed_samples = augment("shift", STEREO, 4000, seconds=2 / 4000, rollover=True)
    assert_almost_equal(processed_samples,
                        np.array([[-0.25, -0.125, 0.75, 0.5], [-0.25, -0.125, 0.9, 0.5]], dtype=np.float32))
    assert processed_samples.dtype == np.float32


def test_shift_without_rollover_multichannel():
    """Upstream: test_shift_without_rollover_multichannel."""
    processed_samples = augment("shift", STEREO, 4000, seconds=2 / 4000, rollover=False)
    assert_almost_equal(processed_samples, np.array([[0.0, 0.0, 0.75, 0.5], [0.0, 0.0, 0.9, 0.5]], dtype=np.float32))
    assert processed_samples.dtype == np.float32


RAMP = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [-1.0, -2.0, -3.0, -4.0, -5.0]], dtype=np.float32)


@pytest.mark.parametrize("upstream, samples, rollover, expected", [
    ("test_shift_fade", 2, False, [[0.0, 0.0, 1.0, 2.0, 3.0], [0.0, 0.0, -1.0, -2.0, -3.0]]),
    ("test_shift_fade_rollover", 2, True, [[4.0, 5.0, 1.0, 2.0, 3.0], [-4.0, -5.0, -1.0, -2.0, -3.0]]),
    ("test_shift_fade_rollover_2", -2, True, [[3.0, 4.0, 5.0, 1.0, 2.0], [-3.0, -4.0, -5.0, -1.0, -2.0]]),
    ("test_shift_fade_rollover_3", -2, True, [[3.0, 4.0, 5.0, 1.0, 2.0], [-3.0, -4.0, -5.0, -1.0, -2.0]])])
def test_shift_fade(upstream, samples, rollover, expected):
    """Upstream: test_shift_fade, test_shift_fade_rollover, _2 and _3 (0.5 of 5 samples
    rounds to 2). curaug has no fade (see the docstring): the parameter is refused, and
    the same shift without it moves every sample unchanged."""
    with pytest.raises(ValueError, match="fade_duration"):
        augment("shift", RAMP, 4000, seconds=samples / 4000, rollover=rollover, fade_duration=0.00075)
    processed_samples = augment("shift", RAMP, 4000, seconds=samples / 4000, rollover=rollover)
    assert_almost_equal(processed_samples, np.array(expected, dtype=np.float32))


def test_freeze_shift_with_different_sample_rates():
    """Upstream: test_freeze_shift_with_different_sample_rates. audiomentations freezes
    the fraction (0.5), so a frozen shift moves 2 of 4 samples at 1 Hz and 4 of 8 at 2 Hz.
    curaug's draw records the samples it moved, so replaying it moves 2 samples whatever
    the clip (the provenance says what was done); drawing again from the same seed for the
    other clip moves it by the same time, 4 samples at 2 Hz."""
    samples1 = FOUR
    samples2 = np.array([1.0, 0.5, 0.25, 0.125, 0.3, 0.4, 0.5, 0.2], dtype=np.float32)
    shifted_samples1, drawn = draw_and_apply("shift", samples1, 1, seconds=[2.0, 2.0])
    assert np.count_nonzero(shifted_samples1 == 0) == 2

    from augment.audio.transforms import AUDIO_TRANSFORMS

    frozen = AUDIO_TRANSFORMS.get("shift")(seconds=[2.0, 2.0]).apply(samples2, 2, **drawn)
    assert np.count_nonzero(frozen == 0) == 2
    redrawn, _ = draw_and_apply("shift", samples2, 2, seconds=[2.0, 2.0])
    assert np.count_nonzero(redrawn == 0) == 4


def test_invalid_parameters():
    """Upstream: test_invalid_parameters. curaug's shift is in seconds within +-3600, not
    a fraction within +-1: a shift past the clip's end leaves silence (or rolls round)."""
    with pytest.raises(ValueError):
        augment("shift", FOUR, 16000, seconds=[0.2, 0.1])
    with pytest.raises(ValueError):
        augment("shift", FOUR, 16000, seconds=3601)
    with pytest.raises(ValueError):
        augment("shift", FOUR, 16000, seconds=-3601)
    with pytest.raises(ValueError, match="shift_unit"):
        augment("shift", FOUR, 16000, shift_unit="lightyears")
    assert not augment("shift", FOUR, 1, seconds=1.5 * len(FOUR)).any()
    assert_almost_equal(augment("shift", FOUR, 1, seconds=len(FOUR) + 1, rollover=True), np.roll(FOUR, 1))
