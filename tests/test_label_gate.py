"""The label-preserving gate (gate.label_preserving) on the sample fortunes and digits."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from augment.image.transforms import TRANSFORMS, ImageTransform
from augment.recipe_file import load_recipe
from augment.runner import augment_manifest
from augment.text.edits import Edit
from augment.text.transforms import TEXT_TRANSFORMS, TextTransform
from curate.io.manifest import load_data
from conftest import SAMPLE, one_error_line

NOISE = [{"char_noise": {"action": ["insert", "substitute", "swap", "delete"], "aug_word_p": 0.3}},
         {"word_noise": {"action": "swap", "aug_p": 0.2, "p": 0.5}}]


@pytest.fixture(scope="module")
def fortunes(tmp_path_factory):
    """The fortunes split 60/20/20 (a CSV table, the text inline)."""
    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("fortunes")
    assert main(["split", str(SAMPLE / "text.csv"), "--label", "label", "-o", str(folder / "split.csv")]) == 0
    return folder / "split.csv"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The sample digits ingested and split 60/20/20."""
    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("digits")
    assert main(["ingest", str(SAMPLE / "images"), "-o", str(folder / "raw.parquet")]) == 0
    assert main(["split", str(folder / "raw.parquet"), "--label", "label", "-o", str(folder / "split.parquet")]) == 0
    return folder / "split.parquet"


class AsFood(TextTransform):
    """Replaces a text by every food quotation of the train split: a copy that is food,
    whatever its source was."""

    name = "as_food"
    text = ""

    def draw(self, sample, rng, ctx):
        return [Edit(0, len(sample.text), self.text, self.name)]


class AsOne(ImageTransform):
    """Replaces an image by a handwritten 1 of the sample digits."""

    image = None

    @staticmethod
    def apply(image, **drawn):
        return AsOne.image.copy()


@pytest.fixture
def as_food(fortunes, monkeypatch):
    df = pd.read_csv(fortunes)
    monkeypatch.setattr(AsFood, "text", " ".join(df[(df["split"] == "train") & (df["label"] == "food")]["text"]))
    TEXT_TRANSFORMS.names()  # the built-ins first, so that the test's entry is one more, removed after
    monkeypatch.setitem(TEXT_TRANSFORMS._items, "as_food", AsFood)


@pytest.fixture
def as_one(monkeypatch):
    from PIL import Image

    with Image.open(SAMPLE / "images" / "1" / "digit_0001.png") as im:
        monkeypatch.setattr(AsOne, "image", np.asarray(im.convert("L")))
    TRANSFORMS.names()
    monkeypatch.setitem(TRANSFORMS._items, "as_one", AsOne)


def _gated(transforms, **rule):
    return {"modality": "text", "copies": 2, "transforms": transforms,
            "gate": {"label_preserving": {"min_confidence": 0.5, "max_tries": 3, **rule}}}


def test_a_copy_turned_into_another_class_is_redrawn_then_given_up(fortunes, as_food, tmp_path):
    result = augment_manifest(pd.read_csv(fortunes), load_recipe(_gated([{"as_food": {}}])), tmp_path / "out")
    made = result.manifest[result.manifest["augment"].notna()]
    gate = result.summary["label_gate"]
    # every copy now reads as food: those of other classes fail each of their 3 draws and are dropped
    assert set(made["label"]) == {"food"}
    for cls in ("computers", "love", "science"):
        figures = gate["per_class"][cls]
        assert figures["rejection_rate"] == 1.0
        assert figures["judged"] == figures["rejected"] == 3 * 2 * figures["sources"]
        assert figures["gave_up"] == 2 * figures["sources"]
        assert result.summary["made_per_class"][cls] == 0
    assert gate["per_class"]["food"]["rejected"] == 0
    assert len(made) == 2 * gate["per_class"]["food"]["sources"]
    assert result.summary["gate_gave_up"] == gate["gave_up"] == 2 * (95 - gate["per_class"]["food"]["sources"])


def test_an_image_turned_into_a_one_is_given_up_unless_its_source_is_a_one(digits, as_one, tmp_path):
    recipe = {"modality": "image", "copies": 1, "transforms": [{"as_one": {}}],
              "gate": {"label_preserving": {"max_tries": 2}}}
    result = augment_manifest(load_data(digits), load_recipe(recipe), tmp_path / "out")
    gate = result.summary["label_gate"]
    made = result.manifest[result.manifest["augment"].notna()]
    assert set(made["label"]) == {"1"} and len(made) == gate["per_class"]["1"]["sources"]
    for cls in ("0", "7", "8"):
        assert gate["per_class"][cls]["rejection_rate"] == 1.0
        assert gate["per_class"][cls]["gave_up"] == gate["per_class"][cls]["sources"]


def test_summary_rates_are_the_counted_rejections_and_every_kept_copy_passes(fortunes, tmp_path):
    from augment.label_gate import fit_label_gate
    from augment.plugin import Context, get_plugin
    from augment.runner import select_rows, with_ids

    df = with_ids(pd.read_csv(fortunes))
    loaded = load_recipe(_gated(NOISE, min_confidence=0.4, max_tries=4))
    result = augment_manifest(df, loaded, tmp_path / "out", seed=3)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["label_gate"] == result.summary["label_gate"]

    # the records the workers wrote, counted here, per class of the source
    rows = select_rows(df, "text", inline="text")
    judged, rejected, gave_up = Counter(), Counter(), Counter()
    for log in (tmp_path / "out" / ".curaug" / "progress").glob("*.jsonl"):
        for line in log.read_text().splitlines():
            record = json.loads(line)
            cls = rows.at[record["job"]["source_id"], "label"]
            judged[cls] += record["label_judged"]
            rejected[cls] += record["label_rejected"]
            gave_up[cls] += "skipped" in record
    per_class = summary["label_gate"]["per_class"]
    assert sum(rejected.values()) > 0
    for cls, figures in per_class.items():
        assert (figures["judged"], figures["rejected"], figures["gave_up"]) == (judged[cls], rejected[cls],
                                                                                gave_up[cls])
        assert figures["rejection_rate"] == round(rejected[cls] / judged[cls], 4)
    assert summary["label_gate"]["rejected"] == sum(rejected.values()) == summary["gate_rejections"]
    assert summary["made"] + summary["gate_gave_up"] == summary["jobs"] == 2 * 95

    # the same gate, fitted again, accepts every copy the run kept, with its source's fold model
    plugin = get_plugin("text")
    sources = select_rows(df, "text", inline="text")
    gate = fit_label_gate(plugin, sources, Context(loaded.recipe, sources, "label"), "label", 3,
                          loaded.recipe.gate.label_preserving)
    made = result.manifest[result.manifest["augment"].notna()]
    assert all(gate.judge(s, text) is None for s, text in zip(made["source_id"], made["text"]))
    # ... and the sources it rejects as they are, out of fold, are the summary's
    assert summary["label_gate"]["sources_failing"] == len(gate.failing) > 0


def test_no_copy_is_judged_by_a_model_that_saw_its_source(tmp_path):
    """Texts of random words with random labels: nothing to learn, everything to memorise.
    A model that had seen a source would vouch for it; out of fold, the gate is at chance."""
    from augment.label_gate import fit_label_gate
    from augment.plugin import Context, get_plugin

    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdefghij"), 6)) for _ in range(400)]
    df = pd.DataFrame({"id": [f"t{i}" for i in range(80)], "text": [" ".join(rng.choice(words, 8)) for _ in range(80)],
                       "label": rng.choice(["a", "b"], 80)}).set_index("id", drop=False)
    loaded = load_recipe(_gated(NOISE))
    gate = fit_label_gate(get_plugin("text"), df, Context(loaded.recipe, df, "label"), "label", 0,
                          loaded.recipe.gate.label_preserving)
    assert len(gate.failing) >= 25  # about half at chance; 0 if each source's own model judged it
    seen = [model.predict(df.loc[df.index.map(gate.fold_of) != k, "text"].tolist())
            for k, model in enumerate(gate.models)]
    assert all((pred == df.loc[df.index.map(gate.fold_of) != k, "label"]).mean() > 0.95 for k, pred in enumerate(seen))


def test_folds_are_stratified_and_do_not_depend_on_row_order(fortunes):
    from augment.label_gate import _deal
    from augment.runner import with_ids

    df = with_ids(pd.read_csv(fortunes))
    labels = dict(zip(df["id"], df["label"]))
    folds = _deal(labels, 5, seed=0)
    shuffled = dict(sorted(labels.items(), key=lambda kv: hash(kv[0]) % 97))
    assert _deal(shuffled, 5, seed=0) == folds
    for cls in set(labels.values()):
        sizes = Counter(folds[i] for i, c in labels.items() if c == cls)
        assert max(sizes.values()) - min(sizes.values()) <= 1 and len(sizes) == 5


def test_the_same_seed_gives_the_same_bytes_in_this_process_and_on_dask_workers(cli, fortunes, tmp_path):
    from pipelines.report.pipeline_samples import augmentation_section

    recipe = tmp_path / "gate.yaml"
    recipe.write_text(json.dumps(_gated(NOISE)))
    outs, printed = {}, {}
    for name, extra in {"augmented": [], "dask": ["--engine", "dask", "--workers", "2"]}.items():
        result = cli("augment", fortunes, "--recipe", recipe, "-o", tmp_path / name, "--seed", "5", *extra)
        assert result.code == 0
        printed[name] = result.out
        outs[name] = ((tmp_path / name / "summary.json").read_bytes(),
                      pd.read_parquet(tmp_path / name / "manifest.parquet")[["id", "text", "seed"]])
    assert outs["dask"][0] == outs["augmented"][0]
    pd.testing.assert_frame_equal(outs["dask"][1], outs["augmented"][1])

    # the console and the report say the summary's figures
    gate = json.loads(outs["augmented"][0])["label_gate"]
    assert gate["rejected"] > 0
    rates = ", ".join(f"{cls} {c['rejection_rate']:.1%}" for cls, c in gate["per_class"].items())
    assert f"rejected {gate['rejected']} of {gate['judged']} draws ({gate['rejection_rate']:.1%}; {rates})" \
        in printed["augmented"]
    page = augmentation_section(tmp_path, {"augment": {"figures": json.loads(outs["augmented"][0])}})
    table = page.split("<table id='label-gate'>")[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + len(gate["per_class"])
    assert f"<td>science</td><td class='num'>{gate['per_class']['science']['judged']}</td>" in table


@pytest.mark.parametrize("gate, expected", [
    ({"label_preserving": {"min_confidence": 1.5}}, r"gate\.label_preserving\.min_confidence"),
    ({"label_preserving": {"model": "runs/nope/model.pt"}}, r"gate\.label_preserving\.model: runs/nope/model.pt: no such run folder"),
    ({"max_tries": 3, "label_preserving": {"max_tries": 4}}, r"max_tries is given twice \(3 and"),
])
def test_bad_gate_settings_are_one_error_line(cli, fortunes, tmp_path, gate, expected):
    import re

    recipe = tmp_path / "gate.yaml"
    recipe.write_text(json.dumps({"modality": "text", "transforms": NOISE, "gate": gate}))
    line = one_error_line(cli("augment", fortunes, "--recipe", recipe, "-o", tmp_path / "out"))
    assert re.search(expected, line), line
    assert not (tmp_path / "out").exists()


def test_the_gate_on_data_without_a_label_column_is_one_error_line(cli, fortunes, tmp_path):
    pd.read_csv(fortunes).drop(columns="label").to_csv(tmp_path / "unlabelled.csv", index=False)
    recipe = tmp_path / "gate.yaml"
    recipe.write_text(json.dumps(_gated(NOISE)))
    line = one_error_line(cli("augment", tmp_path / "unlabelled.csv", "--recipe", recipe, "-o", tmp_path / "out"))
    assert "gate.label_preserving needs a label column" in line and "'label'" in line
    assert not (tmp_path / "out").exists()


def test_audio_copies_are_judged_by_their_log_mel_bands_as_waveform_or_spectrogram(tmp_path):
    from augment.plugin import Context, get_plugin
    from pipelines.cli import main

    assert main(["ingest", str(SAMPLE / "audio"), "-o", str(tmp_path / "m.parquet")]) == 0
    assert main(["split", str(tmp_path / "m.parquet"), "--label", "label", "-o", str(tmp_path / "s.parquet")]) == 0
    recipe = load_recipe({"modality": "audio", "copies": 1, "transforms": [{"gain": {"db": [-3, 3]}}],
                          "gate": {"label_preserving": {"min_confidence": 0.0, "folds": 3}}})
    df = load_data(tmp_path / "s.parquet")
    result = augment_manifest(df, recipe, tmp_path / "out")
    gate = result.summary["label_gate"]
    assert set(gate["per_class"]) == {"yes", "no", "up", "down"} and gate["judged"] >= result.summary["jobs"]
    assert result.summary["made"] + gate["gave_up"] == result.summary["jobs"]

    # a spectrogram output is read like the waveform it came from
    plugin, ctx = get_plugin("audio"), Context(recipe.recipe, df.set_index("id", drop=False), "label")
    sample = plugin.load(ctx.record(str(df[df["status"] == "ok"]["id"].iloc[0])), ctx)
    np.testing.assert_allclose(plugin.gate_features(sample, ctx),
                               plugin.gate_features(plugin._to_log_mel(sample, ctx.recipe), ctx))
    assert plugin.gate_features(sample, ctx).shape == (128,)


def test_a_trained_run_as_the_gate_model_judges_every_copy_itself(digits, as_one, tmp_path, cli):
    """``model: PATH``: a ``curaug train`` run (found through the ``curaug.gate_models``
    entry point) encodes each copy as it encoded its rows; a copy turned into a 1 is
    rejected for every source the run does not call a 1, and the summary says the model is
    not out of fold."""
    from pipelines.train.saved_run import SavedRun
    from pipelines.train.run import train

    run = tmp_path / "run"
    train(str(digits), label="label", out=run, epochs=8, width=8, image_size=16, seed=0, device="cpu")
    recipe = {"modality": "image", "copies": 1, "transforms": [{"as_one": {}}],
              "gate": {"label_preserving": {"max_tries": 2, "min_confidence": 0.3, "model": str(run)}}}
    df = load_data(digits)
    result = augment_manifest(df, load_recipe(recipe), tmp_path / "out")
    gate = result.summary["label_gate"]
    assert gate["model"] == str(run) and gate["out_of_fold"] is False and gate["folds"] == 1
    # the run's own verdict on a 1, computed here: every copy is that very image
    model = SavedRun(run / "model.pt")
    from PIL import Image

    with Image.open(SAMPLE / "images" / "1" / "digit_0001.png") as im:
        proba = model.predict_proba(np.stack([model.encode({"image": np.asarray(im.convert("L")), "mode": "L"})]))[0]
    called, confidence = str(model.classes_[int(proba.argmax())]), float(proba.max())
    kept = {called} if confidence >= 0.3 else set()  # the classes whose copies pass
    assert kept == {"1"}, (called, confidence)  # the run knows a 1 when it sees one
    made = result.manifest[result.manifest["augment"].notna()] if "augment" in result.manifest else df.iloc[:0]
    assert set(made["label"]) == kept
    for cls, figures in gate["per_class"].items():
        assert figures["rejection_rate"] == (0.0 if cls in kept else 1.0)
        assert figures["gave_up"] == (0 if cls in kept else figures["sources"])
    assert set(gate["per_class"]) - kept  # some class is always rejected: the test can fail
    # a run folder that is not one, and classes the run never saw, are one error line each
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({**recipe, "transforms": [{"HorizontalFlip": {"p": 1}}],
                               "gate": {"label_preserving": {"model": str(tmp_path / "empty")}}}))
    line = one_error_line(cli("augment", digits, "--recipe", bad, "-o", tmp_path / "out2"))
    assert "not a curaug train run" in line and not (tmp_path / "out2").exists()
