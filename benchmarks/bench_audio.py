"""curaug's audio transforms against audiomentations 0.43 on the same clip: seconds of
audio processed per second, per transform, and the whole `augment` run against a plain
audiomentations loop with the same soundfile decode and encode.

    .venv/bin/python benchmarks/bench_audio.py [--seconds 10 --sr 16000 --clips 60 --repeats 3]

The clip is the sample recordings (sample_data/audio, wav and flac) resampled to ``--sr``,
concatenated and tiled to ``--seconds``: real speech, mono. Each transform is timed as a
user pays for it: curaug's ``get_params`` + ``apply`` (drawn from a seeded Generator),
audiomentations' ``__call__`` (randomize + apply) with p=1 and the same fixed parameters;
interleaved, best of ``--repeats`` rounds (the machine's noise hits both alike).

Pairs (curaug name <- audiomentations class): noise (white) <- AddGaussianSNR, gain <- Gain,
shift <- Shift (no fade, curaug has none), time_stretch <- TimeStretch, pitch_shift <-
PitchShift, spec_mask <- TimeMask. TimeMask silences a share of the waveform; curaug's
closest is spec_mask's time band on the log-mel (same share of frames), timed on a
spectrogram already computed; the log-mel itself is timed on its own line (it is paid once
per sample by any `output: spectrogram` recipe, masked or not). crop_resize has no
audiomentations counterpart (its spectrogram transforms went in 0.41): curaug alone.

The waveform transforms come from augment.audio.transforms (``AUDIO_TRANSFORMS``); a name
that checkout lacks is reported and skipped, as is the whole-run comparison without the
audio plugin.

Aims (issue 13): >= 1.0x for every shared transform; the whole run >= 1.0x the plain loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECIPE = """modality: audio
copies: 1
transforms:
  - gain: {db: [-6, 6]}
  - shift: {seconds: [-0.1, 0.1]}
  - noise: {snr_db: [10, 30], color: white}
"""


def make_clip(seconds: float, sr: int) -> np.ndarray:
    """The sample recordings at ``sr``, end to end, tiled to ``seconds``: ``(1, n)`` float32."""
    import librosa
    import soundfile as sf

    parts = []
    for path in sorted((ROOT / "sample_data" / "audio").glob("*/*")):
        if path.suffix not in (".wav", ".flac") or "truncated" in path.name:
            continue
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        parts.append(librosa.resample(data[:, 0], orig_sr=rate, target_sr=sr))
    whole = np.concatenate(parts)
    n = int(seconds * sr)
    return np.tile(whole, n // whole.size + 1)[:n][None].astype(np.float32)


def best_of(fn: Callable[[], Any], budget_s: float = 0.3) -> float:
    """Seconds per call: the fastest of as many calls as fit in ``budget_s`` (at least 3)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < budget_s:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def curaug_transform(name: str, params: dict[str, Any]) -> Any:
    """curaug's ``name`` built with ``params``."""
    from augment.audio.transforms import AUDIO_TRANSFORMS

    return AUDIO_TRANSFORMS.get(name)(**params)


def per_transform(y: np.ndarray, sr: int, repeats: int) -> None:
    import audiomentations as am

    from augment.audio.spectrogram import log_mel

    spec = log_mel(y, sr)
    share = 0.1
    band = max(1, round(spec.shape[2] * share))
    pairs = [
        ("noise", {"snr_db": 10, "color": "white"}, y, am.AddGaussianSNR(min_snr_db=10, max_snr_db=10, p=1.0)),
        ("gain", {"db": 6}, y, am.Gain(min_gain_db=6, max_gain_db=6, p=1.0)),
        ("shift", {"seconds": 0.5, "rollover": False}, y,
         am.Shift(min_shift=0.5, max_shift=0.5, shift_unit="seconds", rollover=False, fade_duration=0.0, p=1.0)),
        ("time_stretch", {"rate": 1.25}, y,
         am.TimeStretch(min_rate=1.25, max_rate=1.25, leave_length_unchanged=False, p=1.0)),
        ("pitch_shift", {"semitones": 4}, y, am.PitchShift(min_semitones=4, max_semitones=4, p=1.0)),
        ("spec_mask", {"time": [band, band], "n_time": 1, "n_freq": 0}, spec,
         am.TimeMask(min_band_part=share, max_band_part=share, p=1.0)),
        ("crop_resize", {"freq_scale": [0.6, 1.0], "time_scale": [0.6, 1.0]}, spec, None),
    ]
    seconds = y.shape[1] / sr
    print(f"clip: {seconds:g} s at {sr} Hz, mono; seconds of audio per second (x realtime), "
          f"best of {repeats} rounds")
    t_mel = min(best_of(lambda: log_mel(y, sr)) for _ in range(repeats))
    print(f"  log_mel (64 mels, n_fft 1024, hop 256): {t_mel * 1e3:8.3f} ms "
          "(paid once per spectrogram output)")
    mono = y[0]
    for name, params, data, theirs in pairs:
        ours = curaug_transform(name, params)
        rng = np.random.default_rng(0)
        t_ours = t_theirs = float("inf")
        for _ in range(repeats):
            t_ours = min(t_ours, best_of(lambda: ours.apply(data, sr, **ours.get_params(data, sr, rng))))
            if theirs is not None:
                t_theirs = min(t_theirs, best_of(lambda: theirs(samples=mono, sample_rate=sr)))
        line = f"  {name:13s} curaug {t_ours * 1e3:8.3f} ms = {seconds / t_ours:10.0f} x"
        if theirs is not None:
            line += (f" | {type(theirs).__name__:14s} {t_theirs * 1e3:8.3f} ms = {seconds / t_theirs:10.0f} x"
                     f" | ratio {t_theirs / t_ours:6.2f}x (aim >= 1.0)")
        else:
            line += " | no audiomentations counterpart"
        print(line)


def write_clips(folder: Path, y: np.ndarray, sr: int, n: int, seconds: float) -> "Any":
    """``n`` wav files of ``seconds`` cut from ``y``, and their manifest rows."""
    import pandas as pd
    import soundfile as sf

    rows = []
    size = int(seconds * sr)
    for i in range(n):
        label = f"c{i % 3}"
        (folder / label).mkdir(parents=True, exist_ok=True)
        start = (i * size // 3) % max(1, y.shape[1] - size)
        path = f"{label}/clip_{i:04d}.wav"
        sf.write(folder / path, y[0, start:start + size], sr, subtype="PCM_16")
        rows.append({"id": path, "label": label, "root": str(folder), "path": path, "modality": "audio",
                     "status": "ok", "split": "train", "sample_rate": sr, "duration_s": seconds, "channels": 1})
    return pd.DataFrame(rows)


def plain_loop(df: "Any", out: Path) -> float:
    """What a user writes: soundfile decode, an audiomentations Compose, soundfile encode."""
    import audiomentations as am
    import soundfile as sf

    compose = am.Compose([am.Gain(min_gain_db=-6, max_gain_db=6, p=1.0),
                          am.Shift(min_shift=-0.1, max_shift=0.1, shift_unit="seconds", rollover=False,
                                   fade_duration=0.0, p=1.0),
                          am.AddGaussianSNR(min_snr_db=10, max_snr_db=30, p=1.0)])
    t = time.perf_counter()
    for root, path in zip(df["root"], df["path"]):
        data, sr = sf.read(Path(root) / path, dtype="float32", always_2d=True)
        result = compose(samples=data.T, sample_rate=sr)
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        sf.write(target, result.T, sr, subtype="PCM_16")  # the inputs' own subtype
    return time.perf_counter() - t


def whole_run(y: np.ndarray, sr: int, clips: int, repeats: int) -> None:
    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest

    seconds = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        df = write_clips(tmp / "src", y, sr, clips, seconds)
        (tmp / "recipe.yaml").write_text(RECIPE)
        loaded = load_recipe(tmp / "recipe.yaml")
        plain = ours = plain_cpu = ours_cpu = float("inf")
        for rep in range(repeats):
            cpu = time.process_time()
            plain = min(plain, plain_loop(df, tmp / f"plain{rep}"))
            plain_cpu = min(plain_cpu, time.process_time() - cpu)
            t, cpu = time.perf_counter(), time.process_time()
            augment_manifest(df, loaded, tmp / f"out{rep}", workers=1)
            ours = min(ours, time.perf_counter() - t)
            ours_cpu = min(ours_cpu, time.process_time() - cpu)
        total = clips * seconds
        print(f"whole run: {clips} clips of {seconds:g} s at {sr} Hz (wav in and out), gain + shift + noise, "
              f"1 worker, best of {repeats}")
        print(f"  plain audiomentations loop: {total / plain:8.1f} s of audio/s")
        print(f"  curaug augment:             {total / ours:8.1f} s of audio/s")
        print(f"  curaug / plain loop: {plain / ours:.2f}x (aim >= 1.0)")
        # on shared cores, waiting for the disk or the CPU swings the wall clock; the CPU time
        # the process itself spent is the steadier figure of the work each side does
        print(f"  CPU time: plain {plain_cpu * 1e3:.1f} ms, curaug {ours_cpu * 1e3:.1f} ms, "
              f"curaug / plain loop: {plain_cpu / ours_cpu:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--clips", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    y = make_clip(a.seconds, a.sr)
    print(f"cores: {os.cpu_count()}")
    per_transform(y, a.sr, a.repeats)
    whole_run(y, a.sr, a.clips, a.repeats)


if __name__ == "__main__":
    main()
