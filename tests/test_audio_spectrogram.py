"""The log-mel spectrogram and its transforms, measured: shapes and levels of ``log_mel``,
``crop_resize`` against an independent bilinear rescale of the drawn crop, ``spec_mask``
bands exactly where drawn, one seed -> one result, no global RNG touched."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError
from scipy import ndimage

from augment.audio.spectrogram import CropResize, SpecMask, log_mel
from augment.audio.transforms import AUDIO_TRANSFORMS
from augment.params import describe_invalid

AUDIO = Path(__file__).resolve().parent.parent / "sample_data" / "audio"
SR = 16000


def tone(freq: float = 440.0, seconds: float = 1.0, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return np.repeat((amp * np.sin(2 * np.pi * freq * t))[None], channels, axis=0).astype(np.float32)


def clip(name: str) -> tuple[np.ndarray, int]:
    data, sr = sf.read(AUDIO / name, dtype="float32", always_2d=True)
    return data.T.copy(), sr


@pytest.fixture(scope="module")
def spec() -> np.ndarray:
    """A real recording's log-mel, two channels (the second quieter) so channels differ."""
    y, sr = clip("yes/yes_00.wav")
    return log_mel(np.concatenate([y[:1], 0.25 * y[:1]]), sr)


# ------------------------------------------------------------------ log_mel

def test_log_mel_shape_dtype_and_channels_kept():
    y, sr = clip("no/no_01.flac")
    s = log_mel(y, sr)
    assert s.dtype == np.float32
    assert s.shape == (y.shape[0], 64, 1 + y.shape[1] // 256)
    stereo = log_mel(tone(channels=2), SR, n_mels=40, n_fft=512, hop_length=160)
    assert stereo.shape == (2, 40, 1 + SR // 160)
    np.testing.assert_array_equal(stereo[0], stereo[1])


def test_log_mel_peak_at_the_tone_and_fixed_reference():
    import librosa

    s = log_mel(tone(1000.0), SR)
    centres = librosa.mel_frequencies(n_mels=66, fmax=SR / 2)[1:-1]  # the 64 filters' centres
    peak = centres[int(np.argmax(s[0].mean(axis=1)))]
    assert abs(peak - 1000.0) / 1000.0 < 0.05
    # the reference is fixed: twice the amplitude is +6.02 dB in every bin above the floor
    loud = log_mel(2 * tone(1000.0), SR)
    live = s > -80
    assert live.sum() > 100
    np.testing.assert_allclose(loud[live] - s[live], 20 * np.log10(2), atol=1e-3)
    # silence sits at the documented floor, not at a per-sample reference
    assert np.all(log_mel(np.zeros((1, SR), np.float32), SR) == pytest.approx(-100.0, abs=1e-3))


# ------------------------------------------------------------------ crop_resize

@pytest.mark.parametrize("seed", range(6))
def test_crop_resize_is_a_bilinear_rescale_of_the_drawn_crop(spec, seed):
    t = CropResize(freq_scale=[0.3, 1.0], time_scale=[0.3, 1.0])
    drawn = t.get_params(spec, SR, np.random.default_rng(seed))
    out = t.apply(spec, SR, **drawn)
    assert out.shape == spec.shape and out.dtype == np.float32
    top, left, h, w = drawn["top"], drawn["left"], drawn["height"], drawn["width"]
    assert 0 <= top and top + h <= spec.shape[1] and 0 <= left and left + w <= spec.shape[2]
    crop = spec[:, top:top + h, left:left + w].astype(np.float64)
    for ch in range(spec.shape[0]):
        # scipy's zoom with order=1 maps corners onto corners: the documented bilinear map
        expected = ndimage.zoom(crop[ch], (spec.shape[1] / h, spec.shape[2] / w), order=1,
                                mode="nearest", grid_mode=False)
        assert expected.shape == spec.shape[1:]
        np.testing.assert_allclose(out[ch], expected, atol=1e-3)
        assert out[ch].min() >= crop[ch].min() - 1e-4 and out[ch].max() <= crop[ch].max() + 1e-4
        # aligned corners: the output's corners are the crop's corners
        np.testing.assert_allclose(out[ch][[0, 0, -1, -1], [0, -1, 0, -1]],
                                   crop[ch][[0, 0, -1, -1], [0, -1, 0, -1]], atol=1e-4)


def test_crop_resize_fixed_scales_draw_that_box_size(spec):
    t = CropResize(freq_scale=0.5, time_scale=0.75)
    sizes = {(d["height"], d["width"]) for d in
             (t.get_params(spec, SR, np.random.default_rng(s)) for s in range(20))}
    assert sizes == {(32, round(spec.shape[2] * 0.75))}
    whole = CropResize(freq_scale=1, time_scale=1)
    drawn = whole.get_params(spec, SR, np.random.default_rng(0))
    assert drawn == {"top": 0, "left": 0, "height": 64, "width": spec.shape[2]}
    np.testing.assert_array_equal(whole.apply(spec, SR, **drawn), spec)


# ------------------------------------------------------------------ spec_mask

@pytest.mark.parametrize("seed", range(6))
def test_spec_mask_masks_exactly_the_drawn_bands(spec, seed):
    t = SpecMask(time=[3, 30], freq=[2, 12], n_time=2, n_freq=2)
    drawn = t.get_params(spec, SR, np.random.default_rng(seed))
    assert len(drawn["time_masks"]) == 2 and len(drawn["freq_masks"]) == 2
    out = t.apply(spec, SR, **drawn)
    masked = np.zeros(spec.shape[1:], bool)
    for start, width in drawn["time_masks"]:
        assert 3 <= width <= 30 and start + width <= spec.shape[2]
        masked[:, start:start + width] = True
    for start, width in drawn["freq_masks"]:
        assert 2 <= width <= 12 and start + width <= spec.shape[1]
        masked[start:start + width, :] = True
    for ch in range(spec.shape[0]):
        np.testing.assert_allclose(out[ch][masked], spec[ch].mean(), rtol=1e-5)
        np.testing.assert_array_equal(out[ch][~masked], spec[ch][~masked])
    # the input is left as it was
    assert not np.shares_memory(out, spec)


def test_spec_mask_scalar_width_draws_from_zero_and_never_exceeds_the_axis():
    s = log_mel(tone(seconds=0.1), SR)  # 7 frames
    t = SpecMask(time=50, freq=0, n_time=1, n_freq=3)
    widths = set()
    for seed in range(200):
        drawn = t.get_params(s, SR, np.random.default_rng(seed))
        assert all(w == 0 for _, w in drawn["freq_masks"])
        widths.update(w for _, w in drawn["time_masks"])
    assert widths == set(range(0, s.shape[2] + 1))
    # YAML's .inf is a valid width: the whole axis at most
    endless = SpecMask(time=float("inf"), n_freq=0)
    drawn = endless.get_params(s, SR, np.random.default_rng(3))
    assert 0 <= drawn["time_masks"][0][1] <= s.shape[2]
    none = SpecMask(n_time=0, n_freq=0)
    drawn = none.get_params(s, SR, np.random.default_rng(0))
    assert drawn == {"time_masks": [], "freq_masks": []}
    np.testing.assert_array_equal(none.apply(s, SR, **drawn), s)


# ------------------------------------------------------------------ seeds, replay, parameters

@pytest.mark.parametrize("name, params", [("crop_resize", {}), ("spec_mask", {"time": [1, 20], "n_freq": 2})])
def test_same_seed_same_result_replay_and_no_global_rng(spec, name, params):
    t = AUDIO_TRANSFORMS.get(name)(**params)
    np.random.seed(7)
    random.seed(7)
    before = (np.random.get_state()[1].copy(), random.getstate())
    a = t.get_params(spec, SR, np.random.default_rng(123))
    b = t.get_params(spec, SR, np.random.default_rng(123))
    out = t.apply(spec, SR, **a)
    assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]
    assert a == b
    # replay from the provenance record (JSON) gives the same bytes
    replayed = t.apply(spec, SR, **json.loads(json.dumps(a)))
    assert replayed.tobytes() == out.tobytes()
    draws = {json.dumps(t.get_params(spec, SR, np.random.default_rng(s))) for s in range(10)}
    assert len(draws) > 5  # different seeds draw different boxes / bands


def test_transform_names_and_domain():
    for name, cls in [(n, AUDIO_TRANSFORMS.get(n)) for n in ("crop_resize", "spec_mask")]:
        assert cls.name == name and cls.domain == "spectrogram"


@pytest.mark.parametrize("cls, params, message", [
    (CropResize, {"freq_scale": 1.5}, "CropResize.freq_scale: 1.5 must be <= 1"),
    (CropResize, {"time_scale": [0.8, 0.2]}, "CropResize.time_scale: range [0.8, 0.2] has lo > hi"),
    (CropResize, {"scale": 0.5}, "CropResize.scale:"),
    (SpecMask, {"time": -1}, "SpecMask.time: -1 must be >= 0"),
    (SpecMask, {"n_freq": "two"}, "SpecMask.n_freq: 'two' is not an integer"),
])
def test_bad_parameters_are_one_line(cls, params, message):
    with pytest.raises(ValidationError) as info:
        cls(**params)
    line = describe_invalid(cls.__name__, info.value)
    assert line.startswith(message) and "\n" not in line
