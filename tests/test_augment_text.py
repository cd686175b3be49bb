"""The text plugin and its noise transforms, on the sample fortunes (sample_data/text.csv)."""

from __future__ import annotations

import json
import random
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from augment.text.edits import Edit, apply_edits, overlaps
from augment.text.noise import keyboard_table, ocr_table
from augment.text.plugin import jaccard
from augment.text.transforms import TEXT_TRANSFORMS, TextSample
from conftest import SAMPLE, one_error_line

RECIPE = SAMPLE / "text.recipe.yaml"
NUMBERS = re.compile(r"\d+")  # the sample recipe's protect: regex


@pytest.fixture(scope="module")
def fortunes(tmp_path_factory):
    """The fortunes split 60/20/20, as a CSV table with the text inline."""
    from pipelines.cli import main

    folder = tmp_path_factory.mktemp("fortunes")
    assert main(["split", str(SAMPLE / "text.csv"), "-o", str(folder / "split.csv")]) == 0
    return folder / "split.csv"


@pytest.fixture(scope="module")
def augmented(fortunes, tmp_path_factory):
    """The sample noise recipe run on the split fortunes (one worker)."""
    from pipelines.cli import main

    out = tmp_path_factory.mktemp("aug") / "out"
    assert main(["augment", str(fortunes), "--recipe", str(RECIPE), "-o", str(out)]) == 0
    return out


def _outputs(out) -> tuple[pd.DataFrame, pd.DataFrame]:
    manifest = pd.read_parquet(out / "manifest.parquet")
    return manifest[manifest["augment"].isna()], manifest[manifest["augment"].notna()]


def _replay_steps(text: str, provenance: dict) -> list[str]:
    """The text after each step, rebuilt from the change records alone."""
    texts = [text]
    for step in provenance["applied"]:
        edits = [Edit(c["start"], c["end"], c["new"], c["transform"]) for c in step["changes"]]
        for c in step["changes"]:
            assert texts[-1][c["start"]:c["end"]] == c["old"]
        texts.append(apply_edits(texts[-1], edits)[0])
    return texts


def test_noise_recipe_on_the_fortunes_keeps_counts_labels_and_protected_numbers(augmented, fortunes):
    sources, made = _outputs(augmented)
    split = pd.read_csv(fortunes)
    train = split[split["split"] == "train"]
    assert len(sources) == len(split) == 158
    assert len(made) == 2 * len(train) == 190
    assert made.groupby("source_id").size().eq(2).all()
    by_id = sources.set_index("id")
    assert (made["label"].to_numpy() == by_id.loc[made["source_id"], "label"].to_numpy()).all()
    assert (made["split"] == "train").all() and "path" not in made.columns  # inline: no file
    assert not (augmented / "row1__aug0").exists()
    changed = 0
    for _, row in made.iterrows():
        source = by_id.loc[row["source_id"], "text"]
        provenance = json.loads(row["augment"])
        texts = _replay_steps(source, provenance)
        assert texts[-1] == row["text"]  # the records say every change there is
        for before, step in zip(texts, provenance["applied"]):
            guarded = [m.span() for m in NUMBERS.finditer(before)]
            assert not any(overlaps(c["start"], c["end"], guarded) for c in step["changes"])
        changed += row["text"] != source
    assert changed >= 0.95 * len(made)


def test_the_same_seed_gives_the_same_text_with_1_or_2_workers_and_on_dask(augmented, fortunes, tmp_path, cli):
    _, one = _outputs(augmented)
    for extra in (["--workers", "2"], ["--engine", "dask", "--workers", "2"]):
        out = tmp_path / extra[1]
        assert cli("augment", fortunes, "--recipe", RECIPE, "-o", out, *extra).code == 0
        _, other = _outputs(out)
        assert other["text"].tolist() == one["text"].tolist()
        assert other["augment"].tolist() == one["augment"].tolist()


def test_replay_reproduces_inline_text_byte_for_byte(augmented, cli):
    _, made = _outputs(augmented)
    for sample_id in made["id"].iloc[[0, 57, 189]]:
        result = cli("augment", augmented / "manifest.parquet", "--replay", sample_id, "-o", augmented)
        assert result.code == 0 and "identical" in result.out, result.out


def test_replay_tells_a_tampered_inline_text(augmented, cli, tmp_path):
    """An inline output whose text cell was edited in the manifest replays as DIFFERENT
    (exit 1), as a tampered image file does; the untouched rows stay identical."""
    out = tmp_path / "out"
    shutil.copytree(augmented, out)
    manifest = pd.read_parquet(out / "manifest.parquet")
    made = manifest.index[manifest["augment"].notna()]
    tampered, untouched = manifest.loc[made[3], "id"], manifest.loc[made[4], "id"]
    manifest.loc[made[3], "text"] = manifest.loc[made[3], "text"] + "!"
    manifest.to_parquet(out / "manifest.parquet", index=False)
    result = cli("augment", out / "manifest.parquet", "--replay", tampered, "-o", out)
    assert result.code == 1 and "DIFFERENT" in result.out, result.out
    result = cli("augment", out / "manifest.parquet", "--replay", untouched, "-o", out)
    assert result.code == 0 and "identical" in result.out, result.out


def test_text_files_give_text_files_and_replay(tmp_path, cli):
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {"a.txt": "Bugs hide in the documentation of every program.\n",
             "b.txt": "Coffee makes the morning shorter and the code longer.\n"}
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    pd.DataFrame({"id": ["a", "b"], "root": str(folder), "path": list(texts), "label": ["x", "y"]}) \
        .to_csv(tmp_path / "m.csv", index=False)
    (tmp_path / "r.yaml").write_text("modality: text\ncopies: 2\ntransforms:\n  - keyboard: {aug_word_p: 0.5}\n")
    out = tmp_path / "out"
    assert cli("augment", tmp_path / "m.csv", "--recipe", tmp_path / "r.yaml", "-o", out, "--all-rows").code == 0
    _, made = _outputs(out)
    assert sorted(made["path"]) == ["a__aug0.txt", "a__aug1.txt", "b__aug0.txt", "b__aug1.txt"]
    for _, row in made.iterrows():
        written = (out / row["path"]).read_text(encoding="utf-8")
        assert written == row["text"] != texts[row["source_id"] + ".txt"]
        assert len(written) == len(texts[row["source_id"] + ".txt"])  # substitutions only
    result = cli("augment", out / "manifest.parquet", "--replay", "b__aug1.txt", "-o", out)
    assert result.code == 0 and "identical" in result.out
    # one byte of the written file changed: the replay says so, naming both hashes
    written = out / "b__aug1.txt"
    written.write_bytes(written.read_bytes().replace(b"e", b"E", 1))
    result = cli("augment", out / "manifest.parquet", "--replay", "b__aug1.txt", "-o", out)
    assert result.code == 1 and "DIFFERENT" in result.out, result.out
    fresh, stored = re.search(r"sha256 (\w+), stored (\w+)", result.out).groups()
    assert fresh != stored
    # the file put back, the manifest's copy of its text edited: a difference too
    written.write_text(made.set_index("path").loc["b__aug1.txt", "text"], encoding="utf-8")
    assert cli("augment", out / "manifest.parquet", "--replay", "b__aug1.txt", "-o", out).code == 0
    manifest = pd.read_parquet(out / "manifest.parquet")
    manifest.loc[manifest["path"] == "b__aug1.txt", "text"] = "Coffee."
    manifest.to_parquet(out / "manifest.parquet", index=False)
    result = cli("augment", out / "manifest.parquet", "--replay", "b__aug1.txt", "-o", out)
    assert result.code == 1 and "DIFFERENT" in result.out, result.out


ENTITY_ROWS = [
    ("Alice Smith met Bob Jones at the old harbour of Lisbon on a windy Monday morning.",
     [("Alice Smith", "PER"), ("Bob Jones", "PER"), ("Lisbon", "LOC")]),
    ("The company Acme Corp hired Carol for the spring project in Berlin.",
     [("Acme Corp", "ORG"), ("Carol", "PER"), ("Berlin", "LOC")]),
    ("After a long meeting Dave Brown signed the contract with Initech yesterday.",
     [("Dave Brown", "PER"), ("Initech", "ORG")]),
]


def _entity_table(path) -> None:
    rows = []
    for i, (text, mentions) in enumerate(ENTITY_ROWS):
        spans = [[text.index(m), text.index(m) + len(m), t] for m, t in mentions]
        rows.append({"id": f"s{i}", "text": text, "entities": json.dumps(spans), "label": "rel"})
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)


def test_entity_spans_are_shifted_and_still_point_at_their_mentions(tmp_path, cli):
    _entity_table(tmp_path / "ents.jsonl")
    (tmp_path / "r.yaml").write_text(
        "modality: text\ncopies: 12\ntransforms:\n"
        "  - char_noise: {action: [insert, delete], aug_word_p: 0.5, min_char: 2}\n"
        "  - word_noise: {action: [swap, delete, crop], aug_p: 0.3}\n"
        "  - keyboard: {aug_word_p: 0.3, p: 0.5}\n")
    out = tmp_path / "out"
    assert cli("augment", tmp_path / "ents.jsonl", "--recipe", tmp_path / "r.yaml", "-o", out,
               "--all-rows").code == 0
    _, made = _outputs(out)
    assert len(made) == 36
    shifted = 0
    for _, row in made.iterrows():
        source_text, mentions = ENTITY_ROWS[int(row["source_id"][1:])]
        spans = json.loads(row["entities"])
        assert [(row["text"][a:b], t) for a, b, t in spans] == mentions
        shifted += [a for a, _, _ in spans] != [source_text.index(m) for m, _ in mentions]
        assert row["text"] != source_text
    assert shifted > len(made) / 2  # the edits before the mentions moved them, and the spans followed


def test_noise_leaves_the_global_random_state_alone(fortunes, tmp_path):
    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest
    from augment.text.noise import CharNoise, Keyboard, Ocr, WordNoise

    random.seed(1234)
    np.random.seed(1234)
    before = random.getstate(), np.random.get_state()[1].copy()
    sample = TextSample("Keyboards and optical readers make 10 kinds of errors in long words.")
    for transform in (Keyboard(), Ocr(), CharNoise(action="swap"), WordNoise(action="crop")):
        assert transform.draw(sample, np.random.default_rng(0), None)
    result = augment_manifest(pd.read_csv(fortunes), load_recipe(RECIPE), tmp_path / "out")
    assert result.summary["made"] == 190
    assert random.getstate() == before[0]
    assert (np.random.get_state()[1] == before[1]).all()


def test_bad_entities_are_one_line_naming_the_row(tmp_path, cli):
    text = "Alice met Bob."
    pd.DataFrame({"id": ["s0", "s1"], "text": [text, text], "entities": ["[[0, 5, \"PER\"]]", "[[10, 40, \"PER\"]]"]}) \
        .to_json(tmp_path / "e.jsonl", orient="records", lines=True)
    (tmp_path / "r.yaml").write_text("modality: text\ntransforms: [keyboard]\n")
    line = one_error_line(cli("augment", tmp_path / "e.jsonl", "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "o",
                              "--all-rows"))
    assert line == "error: row s1: entity [10, 40, 'PER'] is outside its text (14 characters)"
    assert not (tmp_path / "o").exists()


def test_keyboard_and_ocr_substitute_from_nlpaugs_tables():
    sample = TextSample("Quietly typing long sentences over 1000 old keyboards and scanners.")
    for name, table in (("keyboard", keyboard_table()), ("ocr", ocr_table())):
        transform = TEXT_TRANSFORMS.get(name)(aug_word_p=1.0, aug_char_p=0.5)
        for seed in range(20):
            edits = transform.draw(sample, np.random.default_rng(seed), None)
            assert edits
            for e in edits:
                old = sample.text[e.start:e.end]
                assert len(e.new) == len(old)
                assert all(n == o or n in table[o] for o, n in zip(old, e.new))
    assert "s" in keyboard_table()["a"] and "0" in ocr_table()["o"] and "o" in ocr_table()["0"]


@pytest.mark.parametrize("action", ["insert", "substitute", "swap", "delete"])
def test_char_noise_actions_follow_nlpaugs_counts(action):
    sample = TextSample("characters inside eleven separate reasonably lengthy words become really noisy today")
    transform = TEXT_TRANSFORMS.get("char_noise")(action=action, aug_word_p=0.3, aug_char_p=0.3)
    edits = transform.draw(sample, np.random.default_rng(3), None)
    # ceil(0.3 * 11 words); a substitution or swap that happens to give the word back is no edit
    assert len(edits) == 4 if action in ("insert", "delete") else 2 <= len(edits) <= 4
    for e in edits:
        old = sample.text[e.start:e.end]
        delta = {"insert": 1, "substitute": 0, "swap": 0, "delete": -1}[action]
        assert np.sign(len(e.new) - len(old)) == delta
        if action == "swap":
            assert sorted(e.new) == sorted(old)


def test_word_noise_swaps_deletes_and_crops_whole_words():
    text = "one two three four five six seven eight nine ten"
    sample = TextSample(text, protected=[(8, 13)])  # "three"
    rng = np.random.default_rng
    swapped = apply_edits(text, TEXT_TRANSFORMS.get("word_noise")(action="swap", aug_p=0.2).draw(sample, rng(1), None))[0]
    assert sorted(swapped.split()) == sorted(text.split()) and swapped != text and swapped.split()[2] == "three"
    deleted = apply_edits(text, TEXT_TRANSFORMS.get("word_noise")(action="delete", aug_p=0.3).draw(sample, rng(1), None))[0]
    assert len(deleted.split()) == 7 and "three" in deleted and "  " not in deleted
    cropped = apply_edits(text, TEXT_TRANSFORMS.get("word_noise")(action="crop", aug_p=0.4).draw(sample, rng(1), None))[0]
    words = text.split()
    kept = cropped.split()
    assert len(kept) == 6 and "three" in kept
    assert any(words[:i] + words[i + 4:] == kept for i in range(len(words) - 3))  # one run of four words


def _noise(name: str, text: str, seed: int, **params) -> str:
    sample = TextSample(text)
    return apply_edits(text, TEXT_TRANSFORMS.get(name)(**params).draw(sample, np.random.default_rng(seed), None))[0]


@pytest.mark.parametrize("action", ["delete", "crop"])
def test_word_noise_never_deletes_every_word(action):
    """nlpaug keeps a one-word text (its issue #76); curaug keeps at least one word of any
    text, also when aug_p asks for all of them."""
    for seed in range(20):
        assert _noise("word_noise", "The", seed, action=action) == "The"
        assert _noise("word_noise", "The.", seed, action=action, aug_p=1.0) == "The."
        kept = _noise("word_noise", "The cat sat", seed, action=action, aug_p=1.0)
        assert len(kept.split()) == 1 and kept in "The cat sat"
    # a word that may not be deleted (a stopword) counts as the one kept
    assert _noise("word_noise", "The cat", 0, action="delete", aug_p=1.0, stopwords=["the"]) == "The"


def test_special_characters_are_noised_as_nlpaug_does():
    """nlpaug's character augmenters treat a special character ("#") as a token of its own
    (``include_special_char=True``, its default); with False only words change."""
    for name in ("char_noise", "keyboard"):
        assert {_noise(name, "#", seed, min_char=1) for seed in range(10)} - {"#"}, name
        assert {_noise(name, "#", seed, min_char=1, include_special_char=False) for seed in range(10)} == {"#"}
    assert _noise("keyboard", "~", 0, min_char=1) == "~"  # nothing near it on nlpaug's keyboard
    # tokens, special characters included, set the count: ceil(0.3 * 7 tokens) = 3
    text = "# wonderful ? unusual ! bizarre ."
    sample = TextSample(text)
    edits = TEXT_TRANSFORMS.get("char_noise")(action="insert").draw(sample, np.random.default_rng(0), None)
    assert len(edits) == 3
    words_only = TEXT_TRANSFORMS.get("char_noise")(action="insert", include_special_char=False)
    edits = words_only.draw(sample, np.random.default_rng(0), None)
    assert len(edits) == 1 and all(sample.text[e.start:e.end].isalpha() for e in edits)


def test_gate_rejects_outputs_outside_the_similarity_bounds(fortunes, tmp_path):
    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest

    loaded = load_recipe({"modality": "text", "copies": 1,
                          "transforms": [{"char_noise": {"action": "substitute", "aug_word_p": [0.1, 0.9]}}],
                          "gate": {"min_similarity": 0.6, "max_tries": 50}})
    df = pd.read_csv(fortunes)
    result = augment_manifest(df, loaded, tmp_path / "out")
    made = result.manifest[result.manifest["augment"].notna()]
    sources = result.manifest[result.manifest["augment"].isna()].set_index("id")["text"]
    assert result.summary["gate_rejections"] > 0 and 0 < result.summary["gate_rejection_rate"] < 1
    assert all(jaccard(sources[s], t) >= 0.6 for s, t in zip(made["source_id"], made["text"]))
    assert len(made) + result.summary["gate_gave_up"] == 95


@pytest.mark.parametrize("entry, expected", [
    ("  - keybord: {aug_char_p: 0.1}\n",
     r"line 4: transforms\.0\.keybord: unknown text transform 'keybord' \(did you mean 'keyboard'\?\)"),
    ("  - char_noise: {aug_char_p: 2}\n", r"line 4: transforms\.0\.char_noise\.aug_char_p: 2 must be <= 1"),
    ("  - char_noise: {action: scramble}\n",
     r"line 4: transforms\.0\.char_noise\.action: .*'scramble' is not one of 'insert', 'substitute', 'swap' or 'delete'"),
    ("  - char_noise: {action: [swap, scramble]}\n",
     r"line 4: transforms\.0\.char_noise\.action: .*'scramble' is not one of"),
    ("  - keyboard: {aug_word_p: [0.5, 1.5]}\n", r"line 4: transforms\.0\.keyboard\.aug_word_p: 1\.5 must be <= 1"),
    ("  - word_noise: {aug_pp: 0.1}\n", r"line 4: transforms\.0\.word_noise: unknown parameter 'aug_pp' for "
                                         r"word_noise \(did you mean 'aug_p'\?\)"),
    ("  - ocr: {}\nprotect: ['\\d+', '(unclosed']\n",
     r"line 5: protect\.1: '\(unclosed' is not a valid regular expression"),
])
def test_bad_recipes_are_one_line_with_file_and_line(fortunes, tmp_path, cli, entry, expected):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("modality: text\ncopies: 1\ntransforms:\n" + entry)
    out = tmp_path / "out"
    line = one_error_line(cli("augment", fortunes, "--recipe", recipe, "-o", out))
    assert re.search(str(recipe).replace(".", r"\.") + " " + expected, line), line
    assert not out.exists()


def test_language_transforms_run_on_every_engine_and_keep_entities_labels_and_numbers(tmp_path, cli):
    """synonym, contextual and rare_word through `curaug augment`: the same text with one
    process, two workers and Dask; mentions, labels and protected numbers untouched; the
    contextual swaps land between the first two mentions only."""
    _entity_table(tmp_path / "ents.jsonl")
    table = pd.read_json(tmp_path / "ents.jsonl", lines=True)
    fortunes = pd.read_csv(SAMPLE / "text.csv").head(40).assign(id=lambda d: [f"f{i}" for i in range(len(d))],
                                                                entities="[]")
    pd.concat([table, fortunes]).to_json(tmp_path / "mixed.jsonl", orient="records", lines=True)
    (tmp_path / "r.yaml").write_text(
        "modality: text\ncopies: 3\nprotect: ['\\d+']\ntransforms:\n"
        "  - synonym: {aug_p: 0.3, p: 0.5}\n"
        "  - contextual: {aug_p: 0.5, top_k: 10}\n"
        "  - rare_word: {p: 0.5}\n")
    outs = {}
    for name, extra in (("one", []), ("two", ["--workers", "2"]), ("dask", ["--engine", "dask", "--workers", "2"])):
        assert cli("augment", tmp_path / "mixed.jsonl", "--recipe", tmp_path / "r.yaml", "-o", tmp_path / name,
                   "--all-rows", *extra).code == 0
        outs[name] = _outputs(tmp_path / name)[1].reset_index(drop=True)
    for name in ("two", "dask"):
        pd.testing.assert_frame_equal(outs[name][["id", "text", "entities", "augment"]],
                                      outs["one"][["id", "text", "entities", "augment"]])
    made = outs["one"]
    assert len(made) == 3 * 43 and (made["label"].iloc[:9] == "rel").all()
    sources = pd.concat([table, fortunes]).set_index("id")
    changed = between = 0
    for _, row in made.iterrows():
        source = sources.loc[row["source_id"]]
        assert row["label"] == source["label"]
        assert NUMBERS.findall(row["text"]) == NUMBERS.findall(source["text"])
        changed += row["text"] != source["text"]
        if row["source_id"].startswith("s"):
            text, mentions = ENTITY_ROWS[int(row["source_id"][1:])]
            assert [(row["text"][a:b], t) for a, b, t in json.loads(row["entities"])] == mentions
            # each step's offsets are in its own input: follow the mentions step by step
            spans = [tuple(e) for e in json.loads(source["entities"])]
            for step in json.loads(row["augment"])["applied"]:
                if step["name"] == "contextual":
                    first, second = sorted(spans)[:2]
                    for change in step["changes"]:
                        assert first[1] <= change["start"] and change["end"] <= second[0], (text, change)
                        between += 1
                edits = [Edit(c["start"], c["end"], c["new"], c["transform"]) for c in step["changes"]]
                text, spans, _ = apply_edits(text, edits, spans)
            assert text == row["text"]
    assert changed > 0.8 * len(made)
    # only s2 has a noun between its first two mentions ("signed the contract with"): its
    # three copies each swap it, and s0's "met" and s1's "hired" (verbs) stay
    assert between == 3


def test_language_samples_of_a_split_table_replay_identical(fortunes, tmp_path, cli):
    """The LM and the rare words come from the rows being augmented (the train split);
    a replay rebuilds them from the same rows, not from every row of the manifest."""
    out = tmp_path / "out"
    recipe = SAMPLE / "text.language.recipe.yaml"
    assert cli("augment", fortunes, "--recipe", recipe, "-o", out).code == 0
    _, made = _outputs(out)
    assert len(made) == 95 and made["split"].eq("train").all()
    for sample_id in made["id"].iloc[:12]:
        result = cli("augment", out / "manifest.parquet", "--replay", sample_id, "-o", out)
        assert result.code == 0 and "identical" in result.out, result.out


def test_missing_wordnet_is_one_line_naming_the_fix_and_writes_nothing(fortunes, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("CURAUG_WORDNET_DIR", str(tmp_path / "empty"))
    (tmp_path / "r.yaml").write_text("modality: text\ncopies: 1\ntransforms:\n  - synonym: {}\n")
    line = one_error_line(cli("augment", fortunes, "--recipe", tmp_path / "r.yaml", "-o", tmp_path / "out"))
    assert "WordNet 3.0 not found" in line and "apt-get install wordnet-base wordnet-sense-index" in line
    assert not (tmp_path / "out").exists()
