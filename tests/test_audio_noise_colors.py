"""``noise``'s colours (issue 21, item 7): every colour is zero-mean with unit RMS in each
channel before the SNR scales it, and pink and brown keep their slope only down to 40 Hz,
so the audible noise at a given ``snr_db`` does not depend on the clip's length."""

from __future__ import annotations

import numpy as np
import pytest

from augment.audio.transforms import AUDIO_TRANSFORMS
from augment.audio.waveform import colored_noise
from augment.plugin import SkipSample

SR = 16000
COLORS = ["white", "pink", "brown"]


def added_noise(clean: np.ndarray, color: str, seed: int, snr_db: float = 0.0) -> np.ndarray:
    transform = AUDIO_TRANSFORMS.get("noise")(snr_db=snr_db, color=color)
    drawn = transform.get_params(clean, SR, np.random.default_rng(seed))
    return transform.apply(clean, SR, **drawn).astype(np.float64) - clean


@pytest.mark.parametrize("color", COLORS)
def test_the_noise_added_has_no_dc_offset_on_any_seed(color):
    """audiomentations' test_noise_has_zero_mean_unit_std, over 30 seeds: brown noise's
    mean reached -0.90 at an RMS of 1 (pink 0.45) when its lowest bins were left in."""
    rng = np.random.default_rng(0)
    for seed in range(30):
        clean = rng.standard_normal((1, SR)).astype(np.float32)
        noise = added_noise(clean, color, seed)
        assert abs(noise.mean()) < 1e-4, (seed, noise.mean())
        assert noise.std() == pytest.approx(np.sqrt(np.mean(clean.astype(np.float64) ** 2)), rel=1e-3)


@pytest.mark.parametrize("color", COLORS)
@pytest.mark.parametrize("shape", [(1, 1000), (2, 16001), (3, 4410)])
def test_each_channel_of_every_colour_is_zero_mean_with_unit_rms(color, shape):
    raw = colored_noise(color, shape, np.random.default_rng(7), SR)
    assert raw.shape == shape and raw.dtype == np.float32
    noise = raw.astype(np.float64)
    assert np.abs(noise.mean(axis=-1)).max() < 1e-5
    assert np.sqrt(np.mean(noise ** 2, axis=-1)) == pytest.approx(np.ones(shape[0]), abs=1e-4)


@pytest.mark.parametrize("color", ["pink", "brown"])
def test_the_audible_noise_level_does_not_depend_on_the_clips_length(color):
    """The power above 100 Hz of the noise added at 10 dB to a 1 s and an 8 s clip of the
    same white signal, over 8 seeds: a slope kept down to the clip's lowest bin put most of
    brown noise's power below 1 Hz, and more of it the longer the clip (9 dB less
    audible brown noise and 1 dB less pink at 8 s)."""
    audible = []
    for seconds in (1, 8):
        clean = np.random.default_rng(1).standard_normal((1, seconds * SR)).astype(np.float32) * 0.1
        freqs = np.fft.rfftfreq(clean.shape[-1], 1 / SR)
        total = 0.0
        for seed in range(8):
            power = np.abs(np.fft.rfft(added_noise(clean, color, seed=seed, snr_db=10)[0])) ** 2
            total += power[freqs > 100].sum() / clean.shape[-1] ** 2
        audible.append(10 * np.log10(total / 8))
    assert abs(audible[0] - audible[1]) < 0.4, audible


def test_the_slope_holds_from_20_hz_and_is_flat_below():
    """Brown noise falls 6 dB per octave above the 40 Hz corner and stays level below it."""
    noise = colored_noise("brown", (1, 32 * SR), np.random.default_rng(2), SR)[0]
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(noise.size, 1 / SR)
    band = lambda lo, hi: power[(freqs >= lo) & (freqs < hi)].mean()  # noqa: E731 -- a two-line helper
    assert 10 * np.log10(band(100, 200) / band(200, 400)) == pytest.approx(6.02, abs=0.3)
    assert 10 * np.log10(band(2, 6) / band(15, 35)) == pytest.approx(0, abs=0.5)


def test_a_one_sample_clip_has_no_zero_mean_noise_and_is_skipped():
    with pytest.raises(SkipSample, match="noise needs at least 2 samples"):
        added_noise(np.full((1, 1), 0.5, np.float32), "white", seed=0)
