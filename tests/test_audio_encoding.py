"""What the audio plugin writes is a function of the sample alone: the same bytes in any
second (replay and resume compare bytes), in the source's format and subtype."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from augment.audio.plugin import AudioPlugin, AudioSample


def _stereo() -> np.ndarray:
    t = np.arange(4000) / 16000
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)


def test_a_float_wav_has_no_wall_clock_peak_chunk_and_reads_back_exactly():
    data = _stereo()
    encoded = AudioPlugin().save(AudioSample(data, 16000, "WAV", "FLOAT"), "a/x.wav")
    # libsndfile's default PEAK chunk holds the time of writing: the bytes would change each second
    assert b"PEAK" not in encoded
    plain = io.BytesIO()
    sf.write(plain, data.T, 16000, format="WAV", subtype="FLOAT")
    assert b"PEAK" in plain.getvalue()
    back, sr = sf.read(io.BytesIO(encoded), dtype="float32", always_2d=True)
    assert sr == 16000 and np.array_equal(back.T, data)


@pytest.mark.parametrize("subtype, path", [("PCM_16", "a/x.wav"), ("PCM_24", "a/x.flac"), ("PCM_16", "a/x.flac")])
def test_pcm_outputs_are_the_bytes_soundfile_writes(subtype, path):
    data = _stereo()
    encoded = AudioPlugin().save(AudioSample(data, 16000, "WAV", subtype), path)
    expected = io.BytesIO()
    sf.write(expected, data.T, 16000, format="FLAC" if path.endswith(".flac") else "WAV", subtype=subtype)
    assert encoded == expected.getvalue()
