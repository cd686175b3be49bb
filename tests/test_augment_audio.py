"""The audio plugin and its waveform transforms: measured on synthesised tones and on the
spoken words in sample_data/audio/, directly and through ``curaug augment``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from augment.audio.plugin import AudioPlugin, AudioSample
from augment.audio.transforms import AUDIO_TRANSFORMS
from augment.audio.waveform import colored_noise
from augment.plugin import Context, SkipSample
from augment.recipe_file import load_recipe
from conftest import SAMPLE, one_error_line

RECIPE = SAMPLE / "audio.recipe.yaml"
SR = 16000


def tone(freq: float = 440.0, seconds: float = 1.0, sr: int = SR, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return np.tile((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), (channels, 1))


def recording(name: str = "yes/yes_00.wav") -> tuple[np.ndarray, int]:
    y, sr = sf.read(SAMPLE / "audio" / name, dtype="float32", always_2d=True)
    return np.ascontiguousarray(y.T), sr


def run(name: str, data: np.ndarray, sr: int, seed: int = 0, **params) -> tuple[np.ndarray, dict]:
    transform = AUDIO_TRANSFORMS.get(name)(**params)
    drawn = transform.get_params(data, sr, np.random.default_rng(seed))
    return transform.apply(data, sr, **drawn), drawn


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    clean64, noise = clean.astype(np.float64), noisy.astype(np.float64) - clean
    return 10 * np.log10(np.mean(clean64 ** 2) / np.mean(noise ** 2))


def dominant_hz(y: np.ndarray, sr: int) -> float:
    mono = y.mean(axis=0) * np.hanning(y.shape[-1])
    spectrum = np.abs(np.fft.rfft(mono, n=8 * len(mono)))  # zero-padded: 0.125-bin resolution
    return float(np.fft.rfftfreq(8 * len(mono), 1 / sr)[np.argmax(spectrum)])


# ------------------------------------------------------------------ the transforms, measured


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("source", ["tone", "yes/yes_00.wav", "no/no_01.flac"])
def test_noise_at_10_db_measures_10_db(color, source):
    clean, sr = (tone(), SR) if source == "tone" else recording(source)
    noisy, drawn = run("noise", clean, sr, snr_db=10, color=color)
    assert abs(snr_db(clean, noisy) - 10) < 0.5
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    assert drawn["color"] == color


def test_noise_colors_have_their_spectral_slopes():
    """Power per octave: flat-per-Hz white rises 3 dB/octave, pink is flat, brown falls 3 dB."""
    slopes = {}
    for color in ("white", "pink", "brown"):
        noise = colored_noise(color, (1, 2 ** 16), np.random.default_rng(1), SR)[0]
        power = np.abs(np.fft.rfft(noise)) ** 2
        octave = lambda lo: power[lo:2 * lo].sum()  # noqa: E731 -- a two-line helper
        slopes[color] = 10 * np.log10(octave(4096) / octave(2048))
    assert abs(slopes["white"] - 3) < 0.5 and abs(slopes["pink"]) < 0.5 and abs(slopes["brown"] + 3) < 0.5


def test_noise_draws_its_snr_from_a_range_and_replays_from_the_drawn_values():
    clean = tone()
    transform = AUDIO_TRANSFORMS.get("noise")(snr_db=[5, 15], color=["white", "pink"])
    drawn = transform.get_params(clean, SR, np.random.default_rng(3))
    assert 5 <= drawn["snr_db"] <= 15 and drawn["color"] in ("white", "pink")
    again = transform.apply(clean, SR, **json.loads(json.dumps(drawn)))
    assert np.array_equal(transform.apply(clean, SR, **drawn), again)
    assert abs(snr_db(clean, again) - drawn["snr_db"]) < 0.5


def test_gain_6_db_measures_6_db_and_the_envelope_moves_it_slowly():
    clean, sr = recording()
    louder, _ = run("gain", clean, sr, db=6)
    measured = 10 * np.log10(np.mean(louder.astype(np.float64) ** 2) / np.mean(clean.astype(np.float64) ** 2))
    assert abs(measured - 6) < 0.1
    wobbly, drawn = run("gain", tone(seconds=2), SR, db=0, envelope_db=6)
    assert len(drawn["envelope"]) == 4 and all(-6 <= v <= 6 for v in drawn["envelope"])
    ratio = np.abs(wobbly[0]) / np.maximum(np.abs(tone(seconds=2)[0]), 1e-3)
    peaks = 20 * np.log10(ratio[np.abs(tone(seconds=2)[0]) > 0.4])
    assert peaks.min() >= -6.01 and peaks.max() <= 6.01 and peaks.max() - peaks.min() > 1


def _lag(a: np.ndarray, b: np.ndarray) -> int:
    """How many samples ``b`` lags ``a`` (peak of their circular cross-correlation)."""
    n = a.shape[-1]
    corr = np.fft.irfft(np.conj(np.fft.rfft(a[0], 2 * n)) * np.fft.rfft(b[0], 2 * n), 2 * n)
    lag = int(np.argmax(corr))
    return lag if lag < n else lag - 2 * n


@pytest.mark.parametrize("seconds", [0.05, -0.0371])
@pytest.mark.parametrize("rollover", [False, True])
def test_shift_moves_by_the_exact_number_of_samples(seconds, rollover):
    clean, sr = recording("no/no_01.flac")
    moved, drawn = run("shift", clean, sr, seconds=seconds, rollover=rollover)
    expected = round(seconds * sr)
    assert drawn["samples"] == expected and moved.shape == clean.shape
    if rollover:
        assert np.array_equal(np.roll(moved, -expected, axis=-1), clean)
        return
    assert _lag(clean, moved) == expected
    gap = moved[:, :expected] if expected > 0 else moved[:, expected:]
    assert not gap.any()


@pytest.mark.parametrize("name", ["yes/yes_00.wav", "up/up_01.flac"])
def test_time_stretch_1_25_gives_0_8_of_the_duration_at_the_same_pitch(name):
    clean, sr = recording(name)
    fast, _ = run("time_stretch", clean, sr, rate=1.25)
    assert abs(fast.shape[-1] / clean.shape[-1] - 0.8) < 0.01
    held = tone(440, seconds=2)
    assert abs(dominant_hz(run("time_stretch", held, SR, rate=1.25)[0], SR) / 440 - 1) < 0.01


@pytest.mark.parametrize("sr", [8000, 16000, 22050])
def test_pitch_shift_12_semitones_moves_440_hz_to_880_hz_at_the_same_duration(sr):
    source = tone(440, seconds=1.0, sr=sr)
    up, _ = run("pitch_shift", source, sr, semitones=12)
    assert up.shape == source.shape
    assert abs(dominant_hz(up, sr) / 880 - 1) < 0.01
    down, _ = run("pitch_shift", source, sr, semitones=-5)
    assert abs(dominant_hz(down, sr) / (440 * 2 ** (-5 / 12)) - 1) < 0.01


def test_pitch_shift_keeps_a_recordings_duration():
    clean, sr = recording("down/down_02.wav")
    assert run("pitch_shift", clean, sr, semitones=3)[0].shape == clean.shape


def test_crop_takes_a_window_of_the_asked_length_from_the_clip():
    clean, sr = recording()
    window, drawn = run("crop", clean, sr, seed=5, seconds=0.25)
    assert window.shape == (1, round(0.25 * sr)) == (1, drawn["samples"])
    assert np.array_equal(window, clean[:, drawn["start"]:drawn["start"] + drawn["samples"]])
    assert run("crop", clean, sr, seconds=60)[0].shape == clean.shape  # shorter than asked: kept whole


def test_background_mixes_a_folder_file_at_the_snr_looped_or_cropped(tmp_path):
    sf.write(tmp_path / "hum.wav", tone(50, seconds=0.3)[0], SR)         # shorter: looped
    sf.write(tmp_path / "hiss.flac", colored_noise("pink", (1, 3 * SR), np.random.default_rng(0), SR)[0] * 0.1, SR)
    clean = tone(440, seconds=1.0)
    seen = set()
    for seed in range(8):
        mixed, drawn = run("background", clean, SR, seed=seed, files=str(tmp_path), snr_db=10)
        seen.add(drawn["file"].rsplit("/", 1)[1])
        assert abs(snr_db(clean, mixed) - 10) < 0.5 and mixed.shape == clean.shape
    assert seen == {"hum.wav", "hiss.flac"}


def test_a_silent_input_is_skipped_for_snr_transforms_but_not_for_gain():
    plugin, ctx = AudioPlugin(), _ctx({"modality": "audio", "copies": 1, "transforms": [{"gain": {}}]})
    silent = AudioSample(np.zeros((1, SR), np.float32), SR)
    with pytest.raises(SkipSample, match="silent or near-silent input"):
        plugin.apply(silent, [{"name": "noise", "params": {"snr_db": 10}}], 1, ctx)
    out, applied = plugin.apply(silent, [{"name": "gain", "params": {"db": 3}}], 1, ctx)
    assert not out.data.any() and applied[0]["name"] == "gain"


def test_a_peak_past_full_scale_is_normalised_and_recorded_instead_of_clipped():
    plugin, ctx = AudioPlugin(), _ctx({"modality": "audio", "copies": 1, "transforms": [{"gain": {}}]})
    loud = AudioSample(tone(amp=0.9), SR)
    out, applied = plugin.apply(loud, [{"name": "gain", "params": {"db": 12}}], 1, ctx)
    assert np.max(np.abs(out.data)) == pytest.approx(0.999, abs=1e-6)
    assert applied[-1]["name"] == "peak_normalize"
    assert applied[-1]["drawn"]["peak"] == pytest.approx(0.9 * 10 ** (12 / 20), rel=1e-4)


def _ctx(recipe: dict) -> Context:
    return Context(load_recipe(recipe).recipe, pd.DataFrame())


def test_bad_parameters_are_one_line_naming_transform_parameter_and_value(tmp_path, cli):
    for body, expected in (("noise: {snr_db: loud}", "noise.snr_db: 'loud' is not a number or a [lo, hi] pair"),
                           ("noise: {color: purple}", "noise.color"),
                           ("time_stretch: {rate: 0}", "time_stretch.rate: 0 must be > 0.05"),
                           ("gain: {dbs: 3}", "unknown parameter 'dbs' for gain (did you mean 'db'?)"),
                           ("pitch_shfit: {semitones: 2}", "did you mean 'pitch_shift'")):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(f"modality: audio\ncopies: 1\ntransforms:\n  - {body}\n")
        line = one_error_line(cli("augment", SAMPLE / "penguins.csv", "--recipe", recipe, "-o", tmp_path / "o"))
        assert expected in line, line
        assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ through curaug augment


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    """sample_data/audio ingested (one corrupt clip) and split, the small classes to train."""
    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("words")
    assert main(["ingest", str(SAMPLE / "audio"), "-o", str(folder / "m.parquet")]) == 0
    assert main(["split", str(folder / "m.parquet"), "-o", str(folder / "s.parquet"),
                 "--small-classes-to-train"]) == 0
    return folder / "s.parquet"


@pytest.fixture(scope="module")
def augmented(words, tmp_path_factory):
    from pipelines.cli import main

    out = tmp_path_factory.mktemp("aug") / "out"
    assert main(["augment", str(words), "--recipe", str(RECIPE), "-o", str(out)]) == 0
    return out


def _made(out) -> pd.DataFrame:
    manifest = pd.read_parquet(out / "manifest.parquet")
    return manifest[manifest["source_id"].notna()]


def test_the_sample_recipe_keeps_rate_channels_and_format_and_skips_the_corrupt_clip(augmented, words):
    source = pd.read_parquet(words).set_index("id")
    made = _made(augmented)
    train = source[(source["split"] == "train") & (source["status"] == "ok")]
    assert len(made) == 2 * len(train)
    summary = json.loads((augmented / "summary.json").read_text())
    assert "no/no_truncated.wav" not in set(made["source_id"])
    for _, row in made.iterrows():
        src = source.loc[row["source_id"]]
        info = sf.info(augmented / row["path"])
        assert info.samplerate == src["sample_rate"] == row["sample_rate"]
        assert info.channels == 1
        expected = {"WAV": "WAV", "FLAC": "FLAC"}.get(src["format"], "FLAC")  # ogg → flac
        assert info.format == expected == row["format"]
        assert row["path"].endswith(".wav" if expected == "WAV" else ".flac")
        assert abs(info.duration - row["duration_s"]) < 1e-3
    assert summary["corrupt_skipped"] == 1 and summary["made"] == len(made) and summary["skipped"] == {}


def test_the_same_seed_gives_the_same_files_with_1_or_2_workers_and_on_dask(augmented, words, tmp_path, cli):
    one = _made(augmented)
    for extra in (["--workers", "2"], ["--engine", "dask", "--workers", "2"]):
        out = tmp_path / extra[1]
        assert cli("augment", words, "--recipe", RECIPE, "-o", out, *extra).code == 0
        other = _made(out)
        assert other["path"].tolist() == one["path"].tolist()
        for path in one["path"]:
            assert (out / path).read_bytes() == (augmented / path).read_bytes(), path


@pytest.mark.parametrize("extra", [[], ["--workers", "2"], ["--engine", "dask", "--workers", "2"]])
def test_a_run_leaves_the_global_rngs_as_they_were(words, tmp_path, cli, extra):
    random.seed(1234)
    np.random.seed(1234)
    before = random.getstate(), np.random.get_state()[1].copy()
    assert cli("augment", words, "--recipe", RECIPE, "-o", tmp_path / "o", *extra).code == 0
    assert random.getstate() == before[0]
    assert (np.random.get_state()[1] == before[1]).all()


def test_replay_reproduces_files_byte_for_byte(augmented, cli):
    made = _made(augmented)
    for sample_id in made["id"].iloc[[0, 9, len(made) - 1]]:
        result = cli("augment", augmented / "manifest.parquet", "--replay", sample_id, "-o", augmented)
        assert result.code == 0 and "identical" in result.out, result.out


@pytest.mark.parametrize("tamper", ["last bytes", "one sample", "deleted"])
def test_replay_says_a_tampered_or_missing_file_differs(augmented, tmp_path, cli, tamper):
    """The check behind "identical" can fail: a copy of the output whose file had its bytes
    changed (the size kept) or was deleted replays as DIFFERENT, exit 1, and the stored
    hash it prints is the tampered file's."""
    import hashlib
    import shutil

    out = tmp_path / "out"
    shutil.copytree(augmented, out)
    made = _made(out)
    row = made[made["path"].str.endswith(".wav")].iloc[0]
    target = out / row["path"]
    data = bytearray(target.read_bytes())
    if tamper == "last bytes":
        data[-10:] = b"0123456789"
    elif tamper == "one sample":
        data[len(data) // 2] ^= 0x01  # the lowest bit of one PCM sample: inaudible, still a change
    if tamper == "deleted":
        target.unlink()
    else:
        target.write_bytes(bytes(data))
    result = cli("augment", out / "manifest.parquet", "--replay", row["id"], "-o", out)
    assert result.code == 1 and f"replay {row['id']}: DIFFERENT" in result.out, result.out
    stored = "missing" if tamper == "deleted" else hashlib.sha256(bytes(data)).hexdigest()[:16]
    assert f"stored {stored})" in result.out
    other = made[made["id"] != row["id"]]["id"].iloc[0]  # the untouched files still replay identical
    assert cli("augment", out / "manifest.parquet", "--replay", other, "-o", out).code == 0


def _dataset(folder, clips: dict[str, tuple[np.ndarray, int, str]]) -> None:
    for rel, (data, sr, subtype) in clips.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(folder / rel, data.T, sr, subtype=subtype)


def test_stereo_24_bit_flac_keeps_channels_rate_and_subtype_and_format_overrides(tmp_path, cli):
    src = tmp_path / "src"
    _dataset(src, {"a/tone.flac": (tone(440, 0.5, 44100, channels=2) * [[1.0], [0.5]], 44100, "PCM_24"),
                   "b/tone.wav": (tone(660, 0.5, 44100, channels=2), 44100, "PCM_24")})
    assert cli("ingest", src, "-o", tmp_path / "m.parquet").code == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: audio\ncopies: 1\ntransforms:\n  - gain: {db: -3}\n")
    assert cli("augment", tmp_path / "m.parquet", "--recipe", recipe, "-o", tmp_path / "o", "--all-rows").code == 0
    for rel in ("a/tone__aug0.flac", "b/tone__aug0.wav"):
        info = sf.info(tmp_path / "o" / rel)
        assert (info.channels, info.samplerate, info.subtype) == (2, 44100, "PCM_24")
    y, _ = sf.read(tmp_path / "o" / "a/tone__aug0.flac", always_2d=True)
    assert np.max(np.abs(y[:, 1])) / np.max(np.abs(y[:, 0])) == pytest.approx(0.5, rel=1e-3)  # channels not mixed
    recipe.write_text("modality: audio\ncopies: 1\nformat: flac\nresample: 16000\ntransforms:\n  - gain: {db: -3}\n")
    assert cli("augment", tmp_path / "m.parquet", "--recipe", recipe, "-o", tmp_path / "f", "--all-rows").code == 0
    info = sf.info(tmp_path / "f" / "b/tone__aug0.flac")
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 16000, 2)
    assert abs(info.duration - 0.5) < 1e-3


def test_silent_clips_are_skipped_with_their_reason_in_the_summary(tmp_path, cli):
    src = tmp_path / "src"
    _dataset(src, {"a/loud.wav": (tone(), SR, "PCM_16"), "a/quiet.wav": (tone(amp=1e-4), SR, "PCM_16"),
                   "b/zero.wav": (np.zeros((1, SR), np.float32), SR, "PCM_16")})
    assert cli("ingest", src, "-o", tmp_path / "m.parquet").code == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: audio\ncopies: 2\ntransforms:\n  - noise: {snr_db: 10}\n")
    result = cli("augment", tmp_path / "m.parquet", "--recipe", recipe, "-o", tmp_path / "o", "--all-rows")
    assert result.code == 0, result.err
    assert "4 skipped: silent or near-silent input (RMS below -60 dBFS)" in result.out
    made = _made(tmp_path / "o")
    assert made["path"].tolist() == ["a/loud__aug0.wav", "a/loud__aug1.wav"]
    assert not (tmp_path / "o" / "b").exists()


def test_an_image_recipe_may_not_ask_for_an_audio_format(tmp_path, cli):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: image\ncopies: 1\nformat: wav\ntransforms:\n  - HorizontalFlip: {}\n")
    line = one_error_line(cli("augment", SAMPLE / "penguins.csv", "--recipe", recipe, "-o", tmp_path / "o"))
    assert "audio recipes" in line


@pytest.mark.parametrize("name, params", [("time_stretch", {"rate": 0.8}), ("pitch_shift", {"semitones": 4}),
                                          ("noise", {"snr_db": 20}), ("shift", {"seconds": 0.01})])
def test_stereo_stays_stereo_and_each_channel_keeps_its_own_content(name, params):
    stereo = np.concatenate([tone(440), tone(660, amp=0.25)])
    out, _ = run(name, stereo, SR, **params)
    assert out.shape[0] == 2 and out.dtype == np.float32
    ratio = 1.25 if name == "time_stretch" else 1.0
    assert abs(out.shape[-1] / stereo.shape[-1] - ratio) < 0.01
    assert np.std(out[1]) < 0.7 * np.std(out[0])  # the quiet channel stays the quiet one


def test_background_files_that_do_not_exist_are_one_line(tmp_path, cli):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"modality: audio\ncopies: 1\ntransforms:\n  - background: {{files: [{tmp_path / 'nope.wav'}]}}\n")
    line = one_error_line(cli("augment", SAMPLE / "penguins.csv", "--recipe", recipe, "-o", tmp_path / "o"))
    assert "nope.wav' is not a file or folder" in line
    (tmp_path / "empty").mkdir()
    recipe.write_text(f"modality: audio\ncopies: 1\ntransforms:\n  - background: {{files: {tmp_path / 'empty'}}}\n")
    assert "no audio files" in one_error_line(cli("augment", SAMPLE / "penguins.csv", "--recipe", recipe,
                                                  "-o", tmp_path / "o"))


def test_spectrogram_transforms_write_log_mel_arrays_that_replay(words, tmp_path, cli):
    """crop_resize and spec_mask through `curaug augment`: .npy log-mel arrays of the
    recipe's shape, the log-mel settings in the provenance, the same bytes with 2 workers,
    and --replay identical."""
    from augment.audio.spectrogram import log_mel
    from curate.io.manifest import load_data

    (tmp_path / "r.yaml").write_text(
        "modality: audio\ncopies: 2\nlog_mel: {n_mels: 48}\ntransforms:\n"
        "  - crop_resize: {freq_scale: [0.6, 1.0], time_scale: [0.6, 1.0]}\n"
        "  - spec_mask: {time: 10, freq: 6}\n")
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli("augment", words, "--recipe", tmp_path / "r.yaml", "-o", one).code == 0
    assert cli("augment", words, "--recipe", tmp_path / "r.yaml", "-o", two, "--workers", "2").code == 0
    made = _made(one)
    assert len(made) and made["path"].str.endswith(".npy").all()
    for _, row in made.head(4).iterrows():
        array = np.load(one / row["path"])
        source = load_data(words).set_index("id").loc[row["source_id"]]  # roots resolved
        data, sr = sf.read(Path(source["root"]) / source["path"], dtype="float32", always_2d=True)
        assert array.dtype == np.float32 and array.shape == log_mel(data.T, sr, n_mels=48).shape
        assert (one / row["path"]).read_bytes() == (two / row["path"]).read_bytes()
        steps = [s["name"] for s in json.loads(row["augment"])["applied"]]
        assert "log_mel" in steps and [s for s in steps if s != "log_mel"] == ["crop_resize", "spec_mask"]
    replay = cli("augment", one / "manifest.parquet", "--replay", made["id"].iloc[0], "-o", one)
    assert replay.code == 0 and "identical" in replay.out
