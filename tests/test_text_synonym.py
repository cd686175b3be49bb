"""Offline WordNet, the pattern tagger and the ``synonym`` text transform, on real
fortunes (sample_data/text.csv)."""

from __future__ import annotations

import random
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from curate.errors import CuraugError
from augment.text.edits import apply_edits, protected_spans
from augment.text.inflect import inflect
from augment.text.synonym import ENGLISH_STOPWORDS, Synonym, match_case, synonyms
from augment.text.tagger import tag, wordnet_pos
from augment.text.transforms import TextSample
from augment.text.wordnet import lexnames_text, nltk_data_dir, open_reader, reader, wordnet_dir
from conftest import SAMPLE


@pytest.fixture(scope="module")
def fortunes() -> list[str]:
    return pd.read_csv(SAMPLE / "text.csv")["text"].tolist()


def augment(text: str, seed: int, entities=(), protected=(), **params):
    s = TextSample(text, entities=list(entities), protected=list(protected))
    edits = Synonym(**params).draw(s, np.random.default_rng(seed), None)
    return apply_edits(text, edits, s.entities, s.protected)


# --- WordNet, offline ---------------------------------------------------------------------

def test_wordnet_reads_car_from_debian_files_without_network(monkeypatch):
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("network or NLTK downloader touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(nltk, "download", refuse)
    root = nltk_data_dir()
    folder = root / "corpora" / "wordnet"
    assert (folder / "lexnames").read_text().count("\n") == 45
    assert (folder / "data.noun").stat().st_size == (wordnet_dir() / "data.noun").stat().st_size
    wn = open_reader(root)
    car = wn.synsets("car", "n")
    assert car[0].name() == "car.n.01"
    assert {"auto", "automobile", "motorcar"} <= set(car[0].lemma_names())
    assert car[0].lexname() == "noun.artifact"
    assert wn.morphy("ran", "v") == "run"


def test_reader_is_built_once_per_process():
    assert reader() is reader()


def test_lexnames_match_the_man_page():
    lines = lexnames_text().splitlines()
    assert lines[0] == "00\tadj.all\t3"
    assert lines[6] == "06\tnoun.artifact\t1"
    assert lines[31] == "31\tverb.cognition\t2"
    assert lines[44] == "44\tadj.ppl\t3"


def test_missing_wordnet_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CURAUG_WORDNET_DIR", str(tmp_path))
    with pytest.raises(CuraugError, match="apt-get install wordnet-base wordnet-sense-index"):
        nltk_data_dir()
    assert list(tmp_path.iterdir()) == []


# --- part-of-speech tags ------------------------------------------------------------------

#: Hand-tagged (Penn Treebank) sentences, some taken from the fortunes.
GOLD = [
    "The/DT cat/NN sat/VBD on/IN the/DT mat/NN ./.",
    "A/DT bug/NN in/IN the/DT code/NN is/VBZ worth/JJ two/CD in/IN the/DT documentation/NN ./.",
    "She/PRP quickly/RB ran/VBD to/TO the/DT old/JJ station/NN ./.",
    "Computers/NNS are/VBP useless/JJ ./.",
    "They/PRP can/MD only/RB give/VB you/PRP answers/NNS ./.",
    "The/DT children/NNS were/VBD playing/VBG in/IN the/DT garden/NN ./.",
    "He/PRP has/VBZ written/VBN three/CD long/JJ letters/NNS to/TO his/PRP$ mother/NN ./.",
    "Good/JJ programmers/NNS write/VBP simple/JJ programs/NNS ./.",
    "We/PRP bought/VBD fresh/JJ bread/NN and/CC cheese/NN at/IN the/DT market/NN ./.",
    "Love/NN is/VBZ blind/JJ ,/, but/CC marriage/NN restores/VBZ its/PRP$ sight/NN ./.",
]


def test_pattern_tagger_accuracy_on_hand_tagged_sentences():
    right = total = 0
    for line in GOLD:
        pairs = [tok.rsplit("/", 1) for tok in line.split()]
        gold = [t for w, t in pairs if re.fullmatch(r"\w+", w)]
        text = " ".join(w for w, _ in pairs)
        got = [t for _, _, t in tag(text)]
        assert len(got) == len(gold), text
        right += sum(g == t for g, t in zip(gold, got))
        total += len(gold)
    assert total == 71
    assert right / total >= 0.85


def test_tags_cover_curaug_words_only():
    text = "Don't panic: state-of-the-art cars ran!"
    assert [text[a:b] for a, b, _ in tag(text)] == ["Don't", "panic", "state-of-the-art", "cars", "ran"]
    assert tag("... !!") == []


def test_penn_tags_map_to_wordnet_pos():
    assert [wordnet_pos(t) for t in ("NN", "NNS", "VBD", "VBG", "JJ", "JJR", "RB")] == ["n", "n", "v", "v", "a", "a", "r"]
    assert [wordnet_pos(t) for t in ("NNP", "RBR", "RBS", "DT", "MD")] == [None] * 5


# --- inflection ---------------------------------------------------------------------------

@pytest.mark.parametrize("lemma, penn, form", [
    ("automobile", "NNS", "automobiles"), ("mouse", "NNS", "mice"), ("box", "NNS", "boxes"),
    ("city", "NNS", "cities"), ("sprint", "VBD", "sprinted"), ("run", "VBD", "ran"),
    ("eat", "VBN", "eaten"), ("eat", "VBD", "ate"), ("run", "VBG", "running"),
    ("make", "VBG", "making"), ("die", "VBG", "dying"), ("go", "VBZ", "goes"),
    ("try", "VBZ", "tries"), ("abet", "VBD", "abetted"), ("split", "VBD", "split"),
    ("teach", "VBN", "taught"), ("car", "NN", "car"), ("glad", "JJR", "gladder"),
    ("happy", "JJR", "happier"), ("big", "JJS", "biggest"), ("large", "JJR", "larger"),
])
def test_inflect(lemma, penn, form):
    assert inflect(lemma, penn) == form


def test_inflect_refuses_what_it_cannot_know():
    assert inflect("run", "VBN") is None  # "run", not "ran": the exception list cannot tell
    assert inflect("felicitous", "JJR") is None  # "more felicitous": two words


def test_synonyms_keep_the_inflection():
    wn = reader()
    cars = synonyms("cars", "NNS")
    assert "automobiles" in cars and "motorcars" in cars
    assert all(wn.morphy(w, "n") != w for w in cars)  # every one is a plural
    ran = synonyms("ran", "VBD")
    assert "raced" in ran and "escaped" in ran and "ran" not in ran
    assert all(not w.endswith("ing") and wn.morphy(w, "v") != w for w in ran)
    running = synonyms("running", "VBG")
    assert "racing" in running and all(w.endswith("ing") for w in running)
    assert synonyms("cars", "NN") == ()  # a base tag on an inflected word: form unknown
    assert "bigger" in synonyms("larger", "JJR")  # "larger" is a lemma too; graded, it is "large"
    saw = synonyms("saw", "VBD")  # "see" in the past, not the verb "saw"
    assert "understood" in saw and "cut" not in saw
    assert "Ford" not in synonyms("car", "NN") and all("_" not in w for w in synonyms("car", "NN"))


def test_match_case():
    assert [match_case(w, "autos") for w in ("CARS", "Cars", "cars", "A")] == ["AUTOS", "Autos", "autos", "Autos"]


# --- the transform on real fortunes -------------------------------------------------------

def test_synonym_changes_most_fortunes_with_wordnet_synonyms(fortunes):
    wn = reader()
    changed = replaced = synonymous = 0
    for i, text in enumerate(fortunes):
        new, _, records = augment(text, i)
        changed += new != text
        tags = {(a, b): t for a, b, t in tag(text)}
        for r in records:
            assert r["transform"] == "synonym"
            if r["old"].lower() in ("a", "an"):  # the article before a replaced word
                assert {r["old"].lower(), r["new"].lower()} == {"a", "an"}
                continue
            assert r["old"].lower() not in ENGLISH_STOPWORDS
            pos = wordnet_pos(tags[(r["start"], r["end"])])
            old, new_word = wn.morphy(r["old"].lower(), pos), wn.morphy(r["new"].lower(), pos)
            replaced += 1
            synonymous += bool(old and new_word and
                               set(wn.synsets(old, pos)) & set(wn.synsets(new_word, pos)))
        # replay from the records alone gives the same bytes
        assert new == apply_edits(text, [_edit(r) for r in records])[0]
    assert len(fortunes) == 158
    assert changed / len(fortunes) > 0.8
    assert replaced > 300
    assert synonymous / replaced > 0.9


def _edit(record):
    from augment.text.edits import Edit

    return Edit(record["start"], record["end"], record["new"], record["transform"])


def test_replacements_follow_aug_p_min_and_max(fortunes):
    text = fortunes[5]  # "A complex system that works is invariably found to have evolved ..."

    def replaced(**params):
        return [r for r in augment(text, 0, **params)[2] if r["old"] != "A"]

    assert len(replaced(aug_p=0.0, aug_min=0)) == 0
    assert len(replaced(aug_p=0.0)) == 1
    assert len(replaced(aug_p=1.0, aug_max=2)) == 2
    assert len(replaced(aug_p=0.3)) == 6  # ceil(0.3 * 17 words)


def test_article_follows_the_new_word(fortunes):
    assert augment("An adequate bootstrap.", 0, pos=["a"])[0] == "A tolerable bootstrap."
    assert augment("A decent bootstrap.", 0, pos=["a"])[0] == "An adequate bootstrap."
    # "an hour" disagrees by spelling, so its article is the writer's business
    assert augment("It is an hour.", 0)[0] == "It is an minute."
    for i, text in enumerate(fortunes):
        if not re.search(r"\ban? (?!hour|honest|uni|use|one)", text, re.I):
            continue
        new = augment(text, i, aug_p=1.0)[0]
        # "a unit", "an hour": articles the writer chose by sound, left as they are
        for article, first in re.findall(r"\b(an?) (?!hour|honest|uni|use|one)(\w)", new, re.I):
            assert (article.lower() == "an") == (first.lower() in "aeiou"), new


def test_entities_and_protected_spans_untouched():
    text = "Alice told the engineers at Acme that 555-0101 failed again."
    entities = [(0, 5, "PER"), (28, 32, "ORG")]
    protected = protected_spans(text, [re.compile(r"\d{3}-\d{4}")])
    for seed in range(20):
        new, spans, records = augment(text, seed, entities, protected, aug_p=1.0)
        assert [new[a:b] for a, b, _ in spans] == ["Alice", "Acme"]
        assert "555-0101" in new
        assert {r["old"] for r in records} <= {"told", "engineers", "failed", "again"}
        assert records


def test_stopwords_and_pos_parameters():
    text = "The quick dogs quickly chased cats"
    stopped = {r["old"] for s in range(10)
               for r in augment(text, s, aug_p=1.0, stopwords=["dogs", "CATS"])[2]}
    assert stopped and not stopped & {"dogs", "cats", "The"}
    nouns = {r["old"] for s in range(10) for r in augment(text, s, aug_p=1.0, pos=["n"])[2]}
    assert nouns == {"dogs", "cats"}


def test_seeded_only_by_the_sample_generator(fortunes):
    random.seed(7)
    np.random.seed(7)
    before = (random.getstate(), np.random.get_state()[1].copy())
    runs = [[augment(t, 42)[0] for t in fortunes[:30]] for _ in range(2)]
    assert runs[0] == runs[1]
    assert before[0] == random.getstate() and (before[1] == np.random.get_state()[1]).all()
    other = [augment(t, 43)[0] for t in fortunes[:30]]
    assert sum(a != b for a, b in zip(runs[0], other)) >= 20


def test_bad_parameters_are_rejected():
    for bad in ({"aug_p": 1.5}, {"pos": ["x"]}, {"aug_max": 0}, {"top_n": 3}, {"pos": []},
                {"aug_min": 5, "aug_max": 2}):
        with pytest.raises(ValidationError):
            Synonym(**bad)


def test_threads_give_the_same_text_as_one(fortunes):
    from concurrent.futures import ThreadPoolExecutor

    from augment.text.inflect import inflect as inflect_cached

    one = [augment(t, i)[0] for i, t in enumerate(fortunes)]
    # cold caches, so the threads read WordNet's data files at the same time
    synonyms.cache_clear()
    inflect_cached.cache_clear()
    with ThreadPoolExecutor(4) as pool:
        many = list(pool.map(lambda i: augment(fortunes[i], i)[0], range(len(fortunes))))
    assert many == one


def test_first_use_in_a_fresh_process_leaves_the_global_rngs_alone():
    """Loading WordNet, textblob's tagger lexicon and the LM happens on a transform's first
    use; none of it may move Python's or numpy's global random state."""
    import subprocess
    import sys

    code = """
import random, numpy as np, pandas as pd
from augment.plugin import Context
from augment.text.contextual import ContextualSwap
from augment.text.synonym import Synonym
from augment.text.transforms import TextSample
before = random.getstate(), np.random.get_state()[1].copy()
sample = TextSample("Yesterday the old board approved the merger after long talks.")
ctx = Context(recipe=None, rows=pd.DataFrame({"text": [sample.text]}))
for transform in (Synonym(aug_p=1.0), ContextualSwap(aug_p=1.0)):
    assert transform.draw(sample, np.random.default_rng(0), ctx)
print(random.getstate() == before[0] and bool((np.random.get_state()[1] == before[1]).all()))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "True"
