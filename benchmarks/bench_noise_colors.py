"""Seed pass rates of audiomentations' statistical tests of coloured noise (its
tests/test_add_color_noise.py) on the noise curaug's ``noise`` transform adds, or, with
``--library audiomentations`` (run by a Python that has audiomentations), on the noise its
AddColorNoise adds.

    .venv/bin/python benchmarks/bench_noise_colors.py [--seeds 50] [--path transform|generator]
    /path/to/venv-with-audiomentations/bin/python benchmarks/bench_noise_colors.py --library audiomentations

``--path generator`` runs the second test on the generators themselves, as upstream does:
curaug's ``colored_noise`` and audiomentations' ``generate_decaying_white_noise`` (n_fft 64,
upstream's value), seeded the same way.

For each seed ``s`` and colour (white, pink, brown) the input is upstream's: N(0, 1)
samples drawn after ``np.random.seed(s)`` (16000 mono, and (2, 16000) stereo), noise added
at 0 dB SNR, with the transform's own generator seeded by ``s``; ``noise`` = output - input,
an RMS of about 1 like the input's. Two tests, as upstream writes them:

- ``zero_mean_unit_std`` (test_noise_has_zero_mean_unit_std): ``|mean| <= 0.1`` and
  ``|std - 1| <= 0.1``.
- ``decaying_white_noise`` (test_generate_decaying_white_noise's assertions): ``|mean| <=
  0.1``, ``|rms - 1| <= 0.1`` and the KL divergence of its 100-bin histogram from that of
  as many fresh N(0, 1) samples ``<= 0.313``. The histograms span their own ranges, so even
  white Gaussian noise fails this on a few seeds in a hundred.

Prints, per colour and shape, how many seeds pass each test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 16000
#: Spectral decay per octave (dB) of each colour, as audiomentations' NOISE_COLOR_DECAYS.
DECAYS = {"white": 0.0, "pink": -10 * np.log10(2), "brown": -20 * np.log10(2)}


def kl_from_white(noise: np.ndarray) -> float:
    """Upstream's noise_kl_divergence_from_white_noise (it draws its reference from np.random)."""
    bins = min(100, int(0.01 * len(noise)))
    ours, _ = np.histogram(noise, bins=bins)
    white, _ = np.histogram(np.random.normal(0, 1, len(noise)), bins=bins)
    p = ours.astype(np.float32) + 1e-4
    q = white.astype(np.float32) + 1e-4
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log2(p / q)))


def curaug_generator(color: str):
    from augment.audio.waveform import colored_noise

    def generate(samples: np.ndarray, seed: int) -> np.ndarray:
        return samples + colored_noise(color, samples.shape, np.random.default_rng(seed), SR)

    return generate


def audiomentations_generator(color: str):
    from audiomentations.augmentations.add_color_noise import generate_decaying_white_noise

    def generate(samples: np.ndarray, seed: int) -> np.ndarray:
        return samples + generate_decaying_white_noise(samples.shape, DECAYS[color], SR, n_fft=64)

    return generate


def curaug_noise(color: str):
    from augment.audio.transforms import AUDIO_TRANSFORMS

    transform = AUDIO_TRANSFORMS.get("noise")(snr_db=0, color=color)

    def add(samples: np.ndarray, seed: int) -> np.ndarray:
        data = samples if samples.ndim == 2 else samples[None]
        drawn = transform.get_params(data, SR, np.random.default_rng(seed))
        return transform.apply(data, SR, **drawn).reshape(samples.shape)

    return add


def audiomentations_noise(color: str):
    from audiomentations import AddColorNoise

    decay = DECAYS[color]
    transform = AddColorNoise(min_snr_db=0.0, max_snr_db=0.0, min_f_decay=decay, max_f_decay=decay, p=1.0)

    def add(samples: np.ndarray, seed: int) -> np.ndarray:
        return transform(samples=samples, sample_rate=SR)  # it draws from np.random, seeded by the caller

    return add


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--library", choices=["curaug", "audiomentations"], default="curaug")
    parser.add_argument("--path", choices=["transform", "generator"], default="transform")
    args = parser.parse_args()
    build = {("curaug", "transform"): curaug_noise, ("audiomentations", "transform"): audiomentations_noise,
             ("curaug", "generator"): curaug_generator,
             ("audiomentations", "generator"): audiomentations_generator}[args.library, args.path]
    print(f"{args.library}, {args.path}: seeds passing out of {args.seeds}")
    for color in DECAYS:
        add = build(color)
        for shape in ((SR,), (2, SR)):
            unit = decaying = 0
            for seed in range(args.seeds):
                np.random.seed(seed)
                samples = np.random.normal(0, 1, size=shape).astype(np.float32)
                noise = add(samples, seed).astype(np.float64) - samples
                mean, std, rms = noise.mean(), noise.std(), np.sqrt(np.mean(noise ** 2))
                unit += abs(mean) <= 0.1 and abs(std - 1) <= 0.1
                decaying += abs(mean) <= 0.1 and abs(rms - 1) <= 0.1 and kl_from_white(noise.ravel()) <= 0.313
            print(f"  {color:5s} {str(shape):10s} zero_mean_unit_std {unit:3d} ({100 * unit / args.seeds:3.0f} %)"
                  f"  decaying_white_noise {decaying:3d} ({100 * decaying / args.seeds:3.0f} %)")


if __name__ == "__main__":
    main()
