"""audiomentations' call, ``Transform(min_x=a, max_x=b, p=1.0)(samples=, sample_rate=)``,
on curaug's audio transforms, for the tests ported from audiomentations' tests/ in this
folder (test_audiomentations_*.py).

audiomentations draws from the global ``random``/``np.random`` on each call and keeps the
draw in ``transform.parameters``; curaug draws with ``get_params`` from a generator the
caller seeds and ``apply`` is pure given the draw. :func:`augment` is both steps, as one
audiomentations call with ``p=1.0``; :func:`draw_and_apply` also returns the draw, which is
what audiomentations' ``freeze_parameters`` keeps. A ``[lo, hi]`` range is curaug's
``min_x``/``max_x`` pair; parameter names and units are curaug's (``db``, ``seconds``,
``rate``, ``semitones``, ``snr_db``, ``color``), converted in each test where upstream's
differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from augment.audio.transforms import AUDIO_TRANSFORMS


def draw_and_apply(name: str, samples: np.ndarray, sample_rate: int, *, seed: int = 0,
                   **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """curaug's ``name`` built with ``params`` on ``samples``: the output and the values drawn."""
    transform = AUDIO_TRANSFORMS.get(name)(**params)
    drawn = transform.get_params(samples, sample_rate, np.random.default_rng(seed))
    return transform.apply(samples, sample_rate, **drawn), drawn


def augment(name: str, samples: np.ndarray, sample_rate: int, *, seed: int = 0, **params: Any) -> np.ndarray:
    """The output of :func:`draw_and_apply`."""
    return draw_and_apply(name, samples, sample_rate, seed=seed, **params)[0]
