"""RandAugment's magnitude for every modality (augment/magnitude.py, augment/randaugment.py): M = 0 changes nothing,
M = 10 is the strongest, and a built recipe is an ordinary recipe that loads and runs."""

from __future__ import annotations

import difflib
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import curaug
from augment.magnitude import MagnitudeOp
from augment.randaugment import build_recipe, magnitude_ops
from augment.recipe_file import load_recipe
from curate.errors import CuraugError

from conftest import SAMPLE

MODALITIES = ("image", "text", "audio")


def _strength(op: MagnitudeOp, magnitude: float) -> float:
    """How far the parameter is from its M = 0 (no change) value."""
    return abs(op.value(magnitude) - op.at_0)


@pytest.mark.parametrize("modality", MODALITIES)
def test_every_op_grows_monotonically_from_no_change_at_0_to_its_strongest_at_10(modality):
    ops, default = magnitude_ops(modality)
    assert default and set(default) <= set(ops)
    for name, op in ops.items():
        strengths = [_strength(op, m) for m in range(11)]
        assert strengths[0] == 0, name
        assert all(a < b for a, b in zip(strengths, strengths[1:])), (name, strengths)
        assert strengths[-1] == max(strengths) > 0, name


IDENTITY = {  # the parameter value at M = 0 that leaves a sample as it is
    ("image", "rotate"): [0.0, 0.0], ("image", "shear"): [0.0, 0.0], ("image", "translate"): [0.0, 0.0],
    ("image", "scale"): [1.0, 1.0], ("image", "brightness"): 0.0, ("image", "contrast"): 0.0,
    ("image", "flip"): 0.0, ("text", "keyboard"): 0.0, ("text", "ocr"): 0.0, ("text", "char_noise"): 0.0,
    ("text", "word_swap"): 0.0, ("text", "word_delete"): 0.0, ("text", "synonym"): 0.0,
    ("audio", "gain"): [0.0, 0.0], ("audio", "shift"): [0.0, 0.0], ("audio", "time_stretch"): [1.0, 1.0],
    ("audio", "pitch_shift"): [0.0, 0.0],
}


def test_magnitude_0_writes_the_identity_parameters():
    for (modality, name), identity in IDENTITY.items():
        op = magnitude_ops(modality)[0][name]
        assert op.entry(0)[op.transform][op.param] == identity, (modality, name)
    # the two without an exact identity are past what a person can see or hear
    assert magnitude_ops("image")[0]["noise"].entry(0) == {"noise": {"psnr": 60.0}}
    assert magnitude_ops("audio")[0]["noise"].entry(0) == {"noise": {"snr_db": 80.0}}


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("magnitude", [0, 2.5, 10])
def test_a_built_recipe_is_an_ordinary_recipe(modality, magnitude):
    ops, default = magnitude_ops(modality)
    recipe = build_recipe(modality, 2, magnitude, copies=3)
    loaded = load_recipe(recipe)
    assert loaded.recipe.copies == 3
    (group,) = loaded.steps
    assert group.name == "SomeOf" and group.n == 2
    assert [c.name for c in group.children] == [ops[name].transform for name in default]


def _digits(n: int) -> pd.DataFrame:
    files = sorted((SAMPLE / "images" / "0").glob("digit_*.png"))[:n]
    return pd.DataFrame({"id": [f.name for f in files], "root": str(SAMPLE / "images" / "0"),
                         "path": [f.name for f in files], "split": "train", "label": "0"})


def _image_change(manifest: pd.DataFrame) -> float:
    """Mean absolute pixel change of the augmented images from their sources (0-255)."""
    made = manifest[manifest["source_id"].notna()]
    changes = []
    for _, row in made.iterrows():
        source = np.asarray(Image.open(SAMPLE / "images" / "0" / row["source_id"]).convert("L"), dtype=float)
        new = np.asarray(Image.open(f"{row['root']}/{row['path']}").convert("L"), dtype=float)
        changes.append(np.abs(new - source).mean())
    return float(np.mean(changes))


def test_image_outputs_change_more_as_the_magnitude_grows(tmp_path):
    df = _digits(6)
    change = {m: _image_change(curaug.augment(df, build_recipe("image", 2, m, copies=2), tmp_path / str(m)))
              for m in (0, 3, 10)}
    assert change[0] < 0.5  # identity-ish: at most noise at 60 dB PSNR
    assert change[0] < change[3] < change[10]


def _text_change(manifest: pd.DataFrame, sources: dict[str, str]) -> float:
    """Mean share of characters changed (1 - difflib ratio) from the source texts."""
    made = manifest[manifest["source_id"].notna()]
    return float(np.mean([1 - difflib.SequenceMatcher(None, sources[s], t).ratio()
                          for s, t in zip(made["source_id"], made["text"])]))


def test_text_outputs_change_more_as_the_magnitude_grows(tmp_path):
    table = pd.read_csv(SAMPLE / "text.csv").head(30)
    df = table.assign(id=[f"t{i}" for i in range(len(table))], split="train")
    sources = dict(zip(df["id"], df["text"]))
    change = {m: _text_change(curaug.augment(df, build_recipe("text", 2, m), tmp_path / str(m)), sources)
              for m in (0, 3, 10)}
    assert change[0] == 0
    assert 0 < change[3] < change[10]


def test_audio_recipe_at_magnitude_10_runs(tmp_path):
    files = sorted((SAMPLE / "audio" / "yes").glob("yes_0[02].wav"))
    df = pd.DataFrame({"id": [f.name for f in files], "root": str(files[0].parent),
                       "path": [f.name for f in files], "split": "train", "label": "yes"})
    manifest = curaug.augment(df, build_recipe("audio", 2, 10), tmp_path / "out")
    assert manifest["source_id"].notna().sum() == 2


def test_a_recipe_names_its_own_pool():
    recipe = build_recipe("image", 1, 5, ["rotate", "flip"])
    assert recipe["transforms"][0]["SomeOf"]["transforms"] == [
        {"Affine": {"rotate": [-15.0, 15.0], "border_mode": 1}}, {"HorizontalFlip": {"p": 0.25}}]


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0, "magnitude": 5}, "n=0: the pool has 8 transforms"),
    ({"n": 1, "magnitude": 10.5}, "magnitude=10.5: must be a number from 0 to 10"),
    ({"n": 1, "magnitude": 5, "pool": ["rotat"]},
     "pool: unknown image magnitude transform 'rotat' (did you mean 'rotate'?)"),
    ({"n": 1, "magnitude": 5, "pool": []}, "pool=[]: name at least one of rotate"),
])
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(CuraugError, match="^" + re.escape(message)):
        build_recipe("image", **kwargs)
