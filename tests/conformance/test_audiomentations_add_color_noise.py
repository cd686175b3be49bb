"""Ported from audiomentations: iver56/audiomentations, tests/test_add_color_noise.py
(AddColorNoise, generate_decaying_white_noise), on curaug's ``noise`` and its generator
``colored_noise`` through audiomentations_adapter.py.

``AddColorNoise(min_f_decay=d, max_f_decay=d, min_snr_db=a, max_snr_db=b)`` is ``noise:
{color: C, snr_db: [a, b]}`` for the colour C whose decay is d. Where curaug differs:

- colours: curaug has white, pink and brown (the recipe contract in DESIGN.md), not blue,
  violet or a decay in between; the other names are refused, not guessed
  (test_colours_curaug_does_not_have_are_refused);
- no A-weighting (grey noise), so upstream's ``a_weighted=True`` cases are not ported;
- upstream seeds the global ``np.random``; these tests draw the same values from a
  ``np.random.RandomState(42)`` of their own, and curaug's noise from its own generator.
"""

from __future__ import annotations

import numpy as np
import pytest

from audiomentations_adapter import augment
from augment.audio.waveform import colored_noise

#: Upstream's NOISE_COLOR_DECAYS (dB per octave) for the colours curaug has.
NOISE_COLOR_DECAYS = {"pink": -1.0 * 10 * np.log10(2), "brown": -2.0 * 10 * np.log10(2), "white": 0.0}


def normal(size, seed: int = 42) -> np.ndarray:
    """What ``np.random.seed(seed); np.random.normal(0, 1, size)`` gives, as float32."""
    return np.random.RandomState(seed).normal(0, 1, size=size).astype(np.float32)


def noise_kl_divergence_from_white_noise(noise, reference: np.random.RandomState):
    """Upstream's helper: KL divergence of the noise's histogram from that of as many fresh
    N(0, 1) samples (drawn from ``reference``, upstream's global ``np.random``)."""

    def kl_divergence(p, q):
        return sum(p[i] * np.log2(p[i] / q[i]) for i in range(len(p)))

    hist1, _ = np.histogram(noise, bins=min(100, int(0.01 * len(noise))))
    hist1 = hist1.astype(np.float32) + 1e-4
    hist1 /= hist1.sum()

    white_noise_of_same_size = reference.normal(0, 1, len(noise))
    hist2, _ = np.histogram(white_noise_of_same_size, bins=min(100, int(0.01 * len(noise))))
    hist2 = hist2.astype(np.float32) + 1e-4
    hist2 /= hist2.sum()

    return kl_divergence(hist1, hist2)


def calculate_decay_rate(noise: np.ndarray, n_fft=8192):
    """Upstream's helper: the decay rate per octave of a noise PSD."""
    pxx = np.square(np.abs(np.fft.rfft(noise, n=n_fft)))
    pxx = pxx / np.sum(pxx)
    f = np.arange(len(pxx)).astype(np.float32)
    f[0] = 1e-10
    x = np.log10(f)
    m, _ = np.polyfit(x[1:], 10 * np.log10(pxx[1:]), 1)
    return m * np.log10(2)


def test_add_colored_noise_defaults():
    """Upstream: test_add_colored_noise_defaults. curaug's defaults are white noise at
    20 dB; audiomentations draws a decay from -6 to 6 dB/octave and an SNR from 5 to 40 dB."""
    samples_in = normal(1024)
    rms_before = np.sqrt(np.mean(samples_in**2))
    samples_out = augment("noise", samples_in, 16000)
    rms_after = np.sqrt(np.mean(samples_out**2))
    assert samples_out.shape == samples_in.shape
    assert samples_out.dtype == np.float32
    assert not (float(rms_after) == pytest.approx(0.0))
    assert rms_after != rms_before


def test_add_colored_noise_defaults_stereo():
    """Upstream: test_add_colored_noise_defaults_stereo."""
    samples_in = normal((2, 1024))
    rms_before = np.sqrt(np.mean(samples_in**2))
    samples_out = augment("noise", samples_in, 16000)
    rms_after = np.sqrt(np.mean(samples_out**2))
    assert samples_out.shape == samples_in.shape
    assert samples_out.dtype == np.float32
    assert not (float(rms_after) == pytest.approx(0.0))
    assert rms_after != rms_before


@pytest.mark.parametrize("color", NOISE_COLOR_DECAYS.keys())
def test_noise_has_zero_mean_unit_std(color):
    """Upstream: test_noise_has_zero_mean_unit_std (issue 21 item 7: pink and brown failed
    it on most seeds). curaug's noise is zero-mean to float precision, so this also asks
    for 1e-3 where upstream's tolerance is 0.1."""
    samples_in = normal(16000)
    noise = augment("noise", samples_in, 16000, snr_db=[0.0, 0.0], color=color) - samples_in
    assert noise.dtype == np.float32
    assert np.mean(noise) == pytest.approx(0.0, abs=0.1)
    assert np.std(noise) == pytest.approx(1.0, abs=0.1)
    assert np.mean(noise) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("color", NOISE_COLOR_DECAYS.keys())
def test_add_colored_noise_snr(color):
    """Upstream: test_add_colored_noise_snr, which takes ``color`` but does not pass it on
    (every case runs the default decay range); here each colour is used."""
    samples_in = normal(1024)
    rms_in = np.sqrt(np.mean(samples_in**2))
    samples_out = augment("noise", samples_in, 16000, snr_db=[5, 5], color=color)
    rms_noise = np.sqrt(np.mean((samples_out - samples_in) ** 2))
    snr_db = 20 * np.log10(rms_in / rms_noise)
    assert samples_out.dtype == np.float32
    assert snr_db == pytest.approx(5.0, rel=1e-2)


@pytest.mark.parametrize("color", NOISE_COLOR_DECAYS.keys())
def test_add_colored_noise_colors(color):
    """Upstream: test_add_colored_noise_colors (its SNR range is AddColorNoise's default)."""
    samples_in = normal(16000)
    f_decay = NOISE_COLOR_DECAYS[color]
    samples_out = augment("noise", samples_in, 16000, snr_db=[5.0, 40.0], color=color)
    noise = samples_out - samples_in
    decay_rate = calculate_decay_rate(noise)
    assert decay_rate == pytest.approx(f_decay, abs=1.6)


@pytest.mark.parametrize("color", NOISE_COLOR_DECAYS.keys())
@pytest.mark.parametrize("size", [(16_000), (2, 16_000)])
def test_generate_decaying_white_noise(color, size):
    """Upstream: test_generate_decaying_white_noise (``a_weighted=False``), on curaug's
    generator at upstream's seed, 42."""
    shape = size if isinstance(size, tuple) else (size,)
    noise = colored_noise(color, shape, np.random.default_rng(42), 16000)
    assert np.mean(noise) == pytest.approx(0.0, abs=0.1)
    assert np.sqrt(np.mean(noise.astype(np.float64) ** 2)) == pytest.approx(1.0, abs=0.1)
    assert noise_kl_divergence_from_white_noise(noise.flatten(), np.random.RandomState(42)) == pytest.approx(
        0.0, abs=0.313)


@pytest.mark.parametrize("color", NOISE_COLOR_DECAYS.keys())
@pytest.mark.parametrize("size", [(16_000,), (2, 16_000)])
def test_generate_decaying_white_noise_passes_on_three_seeds_in_four(color, size):
    """Upstream's test_generate_decaying_white_noise on seeds 0-199 instead of one: its
    histograms span their own ranges, so even white Gaussian noise fails it on a few seeds
    and audiomentations' own generator passes 77 to 98 % of them, by colour and shape
    (benchmarks/bench_noise_colors.py --path generator). curaug must pass 75 %; before
    issue 21 its pink and brown noise, with a DC offset and most of brown's power below
    1 Hz, passed 0 to 46 %."""
    passed = 0
    for seed in range(200):
        noise = colored_noise(color, size, np.random.default_rng(seed), 16000)
        passed += bool(abs(np.mean(noise)) <= 0.1
                       and abs(np.sqrt(np.mean(noise.astype(np.float64) ** 2)) - 1) <= 0.1
                       and noise_kl_divergence_from_white_noise(noise.ravel(), np.random.RandomState(seed)) <= 0.313)
    assert passed >= 150, passed


@pytest.mark.parametrize("color", ["blue", "violet", "red", "brownian"])
def test_colours_curaug_does_not_have_are_refused(color):
    """Upstream's other NOISE_COLOR_DECAYS names: curaug refuses them (see the docstring)."""
    with pytest.raises(ValueError):
        augment("noise", normal(16), 16000, color=color)
