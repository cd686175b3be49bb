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

Waveform layouts: a waveform transform's ``get_params`` and ``apply`` also take a 1-D
array, one channel, and ``apply`` then returns a 1-D array. A 2-D array is ``(channels,
samples)``; one with more than :data:`MAX_SHORT_CHANNELS` rows and fewer columns than rows
is refused as the ``(samples, channels)`` layout that ``soundfile.read`` returns (pass
``data.T``), as is any other number of dimensions (:func:`channels_first`).

Transforms are found by the name a recipe uses in :data:`AUDIO_TRANSFORMS`; a third-party
package adds one through the ``curaug.audio_transforms`` entry point group::

    [project.entry-points."curaug.audio_transforms"]
    reverb = "mypkg.audio:Reverb"
"""

from __future__ import annotations

import functools
from typing import Any, Callable, ClassVar

import numpy as np

from curate.errors import CuraugError
from curate.registry import Registry
from curate.strict import Strict

#: Channels a waveform may have while holding fewer samples than channels: past it, such an
#: array is taken for ``(samples, channels)``. Sixteen covers 9.1.6 and third-order
#: ambisonics; a clip of under 17 samples with more channels is no recording anyone has.
MAX_SHORT_CHANNELS = 16


def channels_first(data: np.ndarray) -> np.ndarray:
    """``data`` as a ``(channels, samples)`` waveform: a 1-D array as one channel (a view),
    a 2-D array as it is, unless it reads as ``(samples, channels)`` (more than
    :data:`MAX_SHORT_CHANNELS` rows, fewer columns than rows); any other shape is refused.

    Examples
    --------
    >>> channels_first(np.zeros(5, np.float32)).shape
    (1, 5)
    >>> channels_first(np.zeros((2000, 2), np.float32))
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: data: shape (2000, 2) reads as 2000 channels of 2 samples each, the (samples, channels) layout of soundfile.read; audio transforms take (channels, samples): pass data.T
    """
    data = np.asarray(data)
    if data.ndim == 1:
        return data[None]
    if data.ndim != 2:
        raise CuraugError(f"data: a waveform is (samples,) or (channels, samples), not {data.ndim} dimensions "
                          f"{data.shape}", param="data")
    channels, samples = data.shape
    if channels > MAX_SHORT_CHANNELS and samples < channels:
        raise CuraugError(f"data: shape {data.shape} reads as {channels} channels of {samples} samples each, the "
                          "(samples, channels) layout of soundfile.read; audio transforms take (channels, samples): "
                          "pass data.T", param="data")
    return data


def _few_channels(data: Any) -> bool:
    """Whether ``data`` is 2-D with at most :data:`MAX_SHORT_CHANNELS` rows: the plugin's
    waveforms, which pass on this test alone (it is paid twice per sample and step)."""
    try:
        channels, _ = data.shape
    except (AttributeError, ValueError):
        return False
    return channels <= MAX_SHORT_CHANNELS


def _drawn_on_channels_first(get_params: Callable) -> Callable:
    @functools.wraps(get_params)
    def checked(self, data, sr, rng):
        return get_params(self, data if _few_channels(data) else channels_first(data), sr, rng)

    checked.channels_first = True
    return checked


def _applied_on_channels_first(apply: Callable) -> Callable:
    @functools.wraps(apply)
    def checked(self, data, sr, **drawn):
        if _few_channels(data):
            return apply(self, data, sr, **drawn)
        wave = channels_first(data)
        out = apply(self, wave, sr, **drawn)
        return out[0] if wave.ndim != np.ndim(data) else out  # a 1-D input gets a 1-D output

    checked.channels_first = True
    return checked


class AudioTransform:
    """Base of audio transforms: set ``name``, declare ``InitSchema``, implement ``apply``."""

    name: ClassVar[str] = ""
    domain: ClassVar[str] = "waveform"
    #: True for transforms that mix at a signal-to-noise ratio: undefined on silence, so the
    #: plugin skips silent inputs (with a reason) instead of running them.
    needs_signal: ClassVar[bool] = False

    class InitSchema(Strict):
        """The parameters a recipe may give (``p`` belongs to the recipe, not here)."""

    def __init_subclass__(cls, **kwargs: Any):
        # wrapped here rather than asked of each transform, so a third-party one written to
        # the plain protocol gets the same layouts and the same error as the built-ins
        super().__init_subclass__(**kwargs)
        if cls.domain != "waveform":
            return
        for name, wrap in (("get_params", _drawn_on_channels_first), ("apply", _applied_on_channels_first)):
            method = getattr(cls, name)
            if not getattr(method, "channels_first", False):
                setattr(cls, name, wrap(method))

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
