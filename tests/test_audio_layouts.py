"""Waveform layouts (issue 21, item 8): every waveform transform takes a 1-D mono array
and gives one back, takes ``(channels, samples)``, and refuses the ``(samples, channels)``
layout soundfile.read returns with one error naming the layout it expects."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from augment.audio.transforms import AUDIO_TRANSFORMS, MAX_SHORT_CHANNELS, channels_first
from curate.errors import CuraugError

SR = 16000
PARAMS = {"noise": {"snr_db": 10, "color": "pink"}, "gain": {"db": -6, "envelope_db": 3},
          "shift": {"seconds": 0.05}, "time_stretch": {"rate": 1.25}, "pitch_shift": {"semitones": 3},
          "crop": {"seconds": 0.25}, "background": {"snr_db": 5}}
WAVEFORM = sorted(PARAMS)


@pytest.fixture(scope="module")
def hum(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("bg")
    sf.write(folder / "hum.wav", 0.3 * np.sin(2 * np.pi * 50 * np.arange(SR // 2) / SR), SR)
    return str(folder)


def build(name: str, hum: str, **extra):
    params = {**PARAMS[name], **extra}
    if name == "background":
        params["files"] = hum
    return AUDIO_TRANSFORMS.get(name)(**params)


def clip(channels: int | None = None) -> np.ndarray:
    """Half a second of a 440 Hz tone with a little noise: 1-D, or ``(channels, samples)``."""
    t = np.arange(SR // 2) / SR
    mono = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size))
    mono = mono.astype(np.float32)
    return mono if channels is None else np.tile(mono, (channels, 1))


def run(transform, data: np.ndarray, seed: int = 4) -> np.ndarray:
    return transform.apply(data, SR, **transform.get_params(data, SR, np.random.default_rng(seed)))


def test_every_waveform_transform_of_the_registry_is_covered():
    found = {name for name in AUDIO_TRANSFORMS.names() if AUDIO_TRANSFORMS.get(name).domain == "waveform"}
    assert found == set(WAVEFORM)


@pytest.mark.parametrize("name, extra", [(name, {}) for name in WAVEFORM] + [("shift", {"rollover": True})],
                         ids=WAVEFORM + ["shift-rollover"])
def test_a_1d_mono_array_gives_a_1d_array_equal_to_the_one_channel_result(name, extra, hum):
    transform = build(name, hum, **extra)
    mono = clip()
    out = run(transform, mono)
    assert out.ndim == 1 and out.dtype == np.float32
    assert np.array_equal(out, run(transform, mono[None])[0])


@pytest.mark.parametrize("name", WAVEFORM)
def test_frames_by_channels_is_one_error_naming_the_expected_layout(name, hum):
    transform = build(name, hum)
    stereo = clip(2)
    wrong = np.ascontiguousarray(stereo.T)  # (8000, 2): what soundfile.read gives
    expected = r"data: shape \(8000, 2\) .* 8000 channels of 2 samples .* \(channels, samples\)"
    with pytest.raises(CuraugError, match=expected):
        transform.get_params(wrong, SR, np.random.default_rng(0))
    drawn = transform.get_params(stereo, SR, np.random.default_rng(0))
    with pytest.raises(CuraugError, match=expected):
        transform.apply(wrong, SR, **drawn)
    assert run(transform, stereo).shape[0] == 2  # the same clip channels first is fine


@pytest.mark.parametrize("shape, accepted", [
    ((2, 1), True), ((MAX_SHORT_CHANNELS, 2), True), ((40, 100), True), ((300, 300), True),
    ((MAX_SHORT_CHANNELS + 1, MAX_SHORT_CHANNELS), False), ((2000, 2), False), ((44100, 6), False)])
def test_the_rule_more_than_16_channels_need_as_many_samples_as_channels(shape, accepted):
    data = np.zeros(shape, np.float32)
    if accepted:
        assert channels_first(data) is data
    else:
        with pytest.raises(CuraugError, match=rf"{shape[0]} channels of {shape[1]} samples"):
            channels_first(data)


@given(st.integers(1, 64), st.integers(1, 64))
def test_a_2d_array_is_refused_exactly_when_it_has_over_16_rows_and_fewer_columns(rows, columns):
    data = np.zeros((rows, columns), np.float32)
    if rows > MAX_SHORT_CHANNELS and columns < rows:
        with pytest.raises(CuraugError, match=rf"reads as {rows} channels of {columns} samples each"):
            AUDIO_TRANSFORMS.get("gain")(db=1).get_params(data, SR, np.random.default_rng(0))
    else:
        out = run(AUDIO_TRANSFORMS.get("gain")(db=[-6, -6]), data)
        assert out.shape == (rows, columns)


@pytest.mark.parametrize("shape", [(), (1, 2, 800)])
def test_other_dimensions_are_refused(shape):
    with pytest.raises(CuraugError, match=r"data: a waveform is \(samples,\) or \(channels, samples\)"):
        AUDIO_TRANSFORMS.get("gain")(db=1).get_params(np.zeros(shape, np.float32), SR, np.random.default_rng(0))


def test_a_transposed_view_of_frames_by_channels_is_channels_first_and_works():
    """audiomentations' test_stereo_non_contiguous_ndarray: ``(samples, channels).T`` is a
    non-contiguous ``(channels, samples)`` view, which every transform takes."""
    frames = np.ascontiguousarray(clip(2).T)
    for name in ("time_stretch", "pitch_shift", "shift", "crop"):
        out = run(AUDIO_TRANSFORMS.get(name)(**PARAMS[name]), frames.T)
        assert out.shape[0] == 2 and out.dtype == np.float32
