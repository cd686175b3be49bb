"""Audio transforms by name, and their base class.

An audio transform has the albumentations/audiomentations shape (STYLE.md): its parameters
are declared and validated by a pydantic ``InitSchema`` (a value or a ``[lo, hi]`` range,
:func:`augment.params.number`; a name or a list of names, :func:`augment.params.choices`);
:meth:`AudioTransform.get_params` draws this sample's values from the sample's own
``numpy.random.Generator`` (never the global RNGs) as plain JSON; :meth:`AudioTransform.apply`
is pure given them, so a step replays from its provenance alone.

``domain`` says what a transform works on: ``waveform`` (float32 ``(channels, samples)``)
or ``spectrogram`` (float32 log-mel ``(channels, n_mels, frames)``); the plugin converts a
waveform to log-mel before the first spectrogram step.

Transforms are found by the name a recipe uses in :data:`AUDIO_TRANSFORMS`; a third-party
package adds one through the ``curaug.audio_transforms`` entry point group::

    [project.entry-points."curaug.audio_transforms"]
    reverb = "mypkg.audio:Reverb"
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from curate.registry import Registry
from curate.strict import Strict


class AudioTransform:
    """Base of audio transforms: set ``name``, declare ``InitSchema``, implement ``apply``."""

    name: ClassVar[str] = ""
    domain: ClassVar[str] = "waveform"
    #: True for transforms that mix at a signal-to-noise ratio: undefined on silence, so the
    #: plugin skips silent inputs (with a reason) instead of running them.
    needs_signal: ClassVar[bool] = False

    class InitSchema(Strict):
        """The parameters a recipe may give (``p`` belongs to the recipe, not here)."""

    def __init__(self, **params: Any):
        self.params = self.InitSchema.model_validate(params)
        # read once: iterating the pydantic model for every sample costs more than a gain
        self._items = tuple(self.params)

    def get_params(self, data: np.ndarray, sr: int, rng: np.random.Generator) -> dict[str, Any]:
        """This sample's values: each ``[lo, hi]`` drawn uniformly, each list of choices
        drawn once, every other value as given."""
        return {key: draw_value(rng, value) for key, value in self._items}

    def apply(self, data: np.ndarray, sr: int, **drawn: Any) -> np.ndarray:
        raise NotImplementedError


def draw_value(rng: np.random.Generator, value: Any) -> Any:
    """One value of a parameter: a range drawn uniformly (integers when both ends are),
    one of a list of choices, or the value itself."""
    if isinstance(value, tuple):
        lo, hi = value
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(lo, hi))
    if isinstance(value, list):
        return value[int(rng.integers(len(value)))]
    return value


#: Audio transform name -> class: built-ins, then the ``curaug.audio_transforms`` entry points.
AUDIO_TRANSFORMS: Registry[type[AudioTransform]] = Registry(
    "audio transform", entry_points="curaug.audio_transforms", builtins=("augment.audio.waveform", "augment.audio.spectrogram"))
