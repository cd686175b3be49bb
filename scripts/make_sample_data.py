"""Rebuild sample_data/ from openly licensed sources, with a few planted defects.

Needs: scikit-learn and palmerpenguins (pip), espeak-ng, sox and fortunes (apt-get).
Deterministic: the same inputs give the same files. Run from the repository root:

    .venv/bin/pip install palmerpenguins && apt-get install -y espeak-ng sox fortunes
    .venv/bin/python scripts/make_sample_data.py
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from PIL import Image, ImageEnhance

OUT = Path(__file__).resolve().parent.parent / "sample_data"
RNG = np.random.default_rng(20261125)


def build_tabular() -> None:
    """Palmer penguins: the tidy table joined with the raw table's individual ids and comments."""
    from importlib.resources import files

    data = files("palmerpenguins") / "data"
    tidy = pd.read_csv(io.StringIO((data / "penguins.csv").read_text()))
    raw = pd.read_csv(io.StringIO((data / "penguins-raw.csv").read_text()))
    assert len(tidy) == len(raw)
    tidy["individual_id"] = raw["Individual ID"]
    tidy["notes"] = raw["Comments"]
    # planted: a PII note, inconsistent spellings of a category, an exact duplicate row
    tidy.loc[5, "notes"] = "Banded by J. Smith; contact john.smith@example.org or +1 (555) 010-7788."
    tidy.loc[12, "sex"] = "Male"
    tidy.loc[40, "sex"] = "F "
    tidy = pd.concat([tidy, tidy.iloc[[20]]], ignore_index=True)
    tidy.to_csv(OUT / "penguins.csv", index=False)


def build_images() -> None:
    """UCI handwritten digits (as shipped by scikit-learn), upscaled from 8x8 to 32x32."""
    from sklearn.datasets import load_digits

    root = OUT / "images"
    shutil.rmtree(root, ignore_errors=True)
    digits = load_digits()
    per_class = {"0": 45, "1": 45, "7": 30, "8": 20}
    formats = ["png"] * 8 + ["jpg", "bmp"]
    written: dict[str, list[Path]] = {}
    for label, count in per_class.items():
        folder = root / label
        folder.mkdir(parents=True)
        idx = np.flatnonzero(digits.target == int(label))[:count]
        for k, i in enumerate(idx):
            pixels = (digits.images[i] * (255.0 / 16.0)).astype(np.uint8)
            img = Image.fromarray(255 - pixels, mode="L").resize((32, 32), Image.BICUBIC)
            ext = formats[k % len(formats)]
            path = folder / f"digit_{int(i):04d}.{ext}"
            img.save(path, quality=92) if ext == "jpg" else img.save(path)
            written.setdefault(label, []).append(path)
    # planted defects
    source = written["7"][0]
    shutil.copyfile(source, root / "7" / "copy_of_digit.png")  # exact duplicate
    near = ImageEnhance.Brightness(Image.open(written["0"][1])).enhance(1.06)
    near.save(root / "0" / "brighter_digit.png")  # near-duplicate
    good = written["8"][0].read_bytes()
    (root / "8" / "truncated_digit.png").write_bytes(good[: len(good) // 2])  # corrupt
    shutil.copyfile(written["1"][3], root / "7" / "mislabelled_one.png")  # label noise: a 1 filed as 7


def build_audio() -> None:
    """Spoken command words from espeak-ng (several voices, speeds, pitches) at 22.05 and 16 kHz."""
    root = OUT / "audio"
    shutil.rmtree(root, ignore_errors=True)
    voices = ["en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en+m3", "en-gb+f2", "en+m7",
              "en-us+f4", "en-029", "en-gb-x-rp"]
    words = {"yes": 10, "no": 10, "up": 8, "down": 6}
    with tempfile.TemporaryDirectory() as tmp:
        for word, count in words.items():
            folder = root / word
            folder.mkdir(parents=True)
            for k in range(count):
                voice = voices[k % len(voices)]
                speed, pitch = int(RNG.integers(130, 190)), int(RNG.integers(30, 75))
                wav = Path(tmp) / f"{word}{k}.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                                "-w", str(wav), word], check=True)
                if k % 2 == 0:
                    shutil.copyfile(wav, folder / f"{word}_{k:02d}.wav")  # 22050 Hz, as spoken
                    continue
                resampled = Path(tmp) / f"{word}{k}_16k.wav"
                subprocess.run(["sox", str(wav), "-r", "16000", str(resampled)], check=True)
                samples, rate = sf.read(resampled)
                ext = "ogg" if k % 4 == 3 else "flac"
                sf.write(folder / f"{word}_{k:02d}.{ext}", samples, rate)
    shutil.copyfile(root / "yes" / "yes_00.wav", root / "yes" / "yes_copy.wav")  # exact duplicate
    whole = (root / "no" / "no_00.wav").read_bytes()
    (root / "no" / "no_truncated.wav").write_bytes(whole[:44] + whole[44:400])  # corrupt: cut short


def build_text() -> None:
    """Short quotations from Debian's fortunes package, labelled by fortune category."""
    per_class = {"computers": 60, "science": 45, "food": 30, "love": 20}
    rows = []
    for label, count in per_class.items():
        entries = Path(f"/usr/share/games/fortunes/{label}").read_text(encoding="utf-8", errors="replace")
        kept = []
        for entry in entries.split("\n%\n"):
            text = " ".join(entry.split())
            if 30 <= len(text) <= 180 and "\t" not in entry and not re.search(r"[^\x20-\x7e]", text):
                kept.append(text)
        for text in kept[:count]:
            rows.append({"text": text, "label": label})
    # planted: PII, an exact duplicate, a near-duplicate
    rows.append({"text": "Send the bug report to maria.lopez@example.com or call 020 7946 0958 before Friday.",
                 "label": "computers"})
    rows.append(dict(rows[3]))
    rows.append({"text": rows[50]["text"].rstrip(".") + "!!", "label": rows[50]["label"]})
    with open(OUT / "text.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    build_tabular()
    build_images()
    build_audio()
    build_text()
    print("sample_data rebuilt:", sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file()), "bytes")
