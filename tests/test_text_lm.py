"""The text LM (Kneser-Ney trigram on WordNet glosses + the training texts), the
``contextual`` swap between entity mentions and ``rare_word`` (Fadaee et al. 2017)."""

from __future__ import annotations

import math
import random
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from curate.errors import CuraugError
from augment.plugin import Context
from augment.text import lm as lm_module
from augment.text.contextual import ContextualSwap, RareWordSubstitution, _form, _wordnet_lemmas, tag
from augment.text.edits import apply_edits
from augment.text.lm import NgramLM, ngram_lm, tokens, wordnet_glosses
from augment.text.transforms import corpus_texts
from augment.text.transforms import TextSample
from augment.text.wordnet import wordnet_dir

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "text.csv"

# Relation-extraction sentences: (text, first mention, second mention, label).
RELATIONS = [
    ("Yesterday Acme Corp announced that the board approved the merger with Globex Inc after long talks.",
     "Acme Corp", "Globex Inc", "merger"),
    ("The company said Alice Smith sold her shares and the house to Bob Jones for a small fee last year.",
     "Alice Smith", "Bob Jones", "sale"),
    ("In Paris the minister met the president of the bank and the director of Initech on Monday.",
     "Paris", "Initech", "meeting"),
]


def _sample(text: str, first: str, second: str, label: str) -> TextSample:
    a, b = text.index(first), text.index(second)
    return TextSample(text, entities=[(a, a + len(first), "E1"), (b, b + len(second), "E2")],
                      row={"text": text, "label": label})


@pytest.fixture(scope="module")
def ctx() -> Context:
    rows = pd.read_csv(SAMPLE)
    extra = pd.DataFrame({"text": [t for t, *_ in RELATIONS], "label": [r for *_, r in RELATIONS]})
    return Context(recipe=None, rows=pd.concat([rows, extra], ignore_index=True))


def _run(transform, sample: TextSample, seed: int, ctx: Context):
    edits = transform.draw(sample, np.random.default_rng(seed), ctx)
    return apply_edits(sample.text, edits, sample.entities, sample.protected)


def _is_noun(word: str) -> bool:
    return _form(word.lower(), "n") is not None


def test_kneser_ney_beats_a_unigram_model_on_held_out_glosses_and_fortunes():
    glosses = wordnet_glosses(wordnet_dir())
    assert len(glosses) > 150_000  # ~117k synsets, definitions and examples split apart
    fortunes = list(pd.read_csv(SAMPLE)["text"])
    held = glosses[::100] + fortunes[::10]
    train = [g for i, g in enumerate(glosses) if i % 100] + [f for i, f in enumerate(fortunes) if i % 10]
    lm = NgramLM.train(train)
    counts = Counter(w for s in train for w in [*tokens(s), "</s>"])
    total, vocab = sum(counts.values()), len(counts) + 1  # + <unk>
    held_tokens = [w for s in held for w in [*tokens(s), "</s>"]]
    unigram = math.exp(-sum(math.log((counts[w] + 1) / (total + vocab)) for w in held_tokens) / len(held_tokens))
    # measured: ~220 against ~1050 (ratio ~0.21)
    assert lm.perplexity(held) < 0.35 * unigram


def test_kneser_ney_probabilities_sum_to_one_in_every_context():
    lm = NgramLM.train(list(pd.read_csv(SAMPLE)["text"]))
    every = np.arange(lm.V)
    for u, v in [("<s>", "<s>"), ("<s>", "a"), ("a", "bug"), ("in", "the"), ("never", "seen"), ("the", "zzz")]:
        u_id, v_id = lm.ids([u, v])
        assert np.exp(lm.logprob(u_id, v_id, every)).sum() == pytest.approx(1.0, abs=1e-9), (u, v)


def test_scores_prefer_the_word_that_fits_the_context():
    lm = ngram_lm([])  # WordNet's glosses alone
    scores = lm.score(["he", "drove", "the"], ["car", "idea", "the"], ["to", "work"])
    assert scores.shape == (3,) and scores[0] == scores.max()
    at_end = lm.score(["he", "drove", "a"], ["car", "of"], [])
    assert at_end[0] > at_end[1]


def test_the_trained_model_is_cached_on_disk_and_reloads_identically(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the zorblat ate the grass\nthe zorblat slept in the barn\n" * 20)
    monkeypatch.setattr(lm_module, "_MODELS", {})
    first = ngram_lm(["a zorblat is an animal"], corpus)
    cached = list((lm_module.cache_dir() / "lm").glob("kn3-*.npz"))
    assert len(cached) == 1 and not list(cached[0].parent.glob("*.tmp"))
    assert ngram_lm(["a zorblat is an animal"], corpus) is first  # in memory, per process
    monkeypatch.setattr(lm_module, "_MODELS", {})
    again = ngram_lm(["a zorblat is an animal"], corpus)
    assert again is not first and again.vocab == first.vocab and again.count("zorblat") == 41
    np.testing.assert_array_equal(again.score(["the"], ["zorblat", "barn"], ["ate"]),
                                  first.score(["the"], ["zorblat", "barn"], ["ate"]))


def test_a_missing_corpus_file_is_bad_input_naming_the_parameter(tmp_path):
    with pytest.raises(CuraugError, match="not found") as err:
        ngram_lm(["text"], tmp_path / "nope.txt")
    assert err.value.param == "corpus"


def test_a_masked_lm_folder_without_transformers_names_the_package(ctx, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    swap = ContextualSwap(lm={"path": str(tmp_path)})
    sample = _sample(*RELATIONS[0])
    with pytest.raises(CuraugError, match="'transformers' package") as err:
        swap.draw(sample, np.random.default_rng(0), Context(recipe=None, rows=ctx.rows))
    assert err.value.param == "lm" and "\n" not in str(err.value)


def test_a_local_masked_lm_folder_scores_the_swap(ctx, tmp_path):
    """``lm: {path: DIR}`` with a masked LM saved on disk (a tiny BERT built here: nothing
    is downloaded): the swap stays between the mentions, draws per seed, and the LM's
    scores decide (a model that prefers one noun everywhere makes it the usual choice)."""
    transformers = pytest.importorskip("transformers")
    import torch

    words = sorted({w for t in ctx.rows["text"] for w in tokens(t)})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = transformers.BertTokenizer(str(tmp_path / "vocab.txt"), do_lower_case=True)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(config)
    with torch.no_grad():  # every slot predicts "house" far above the rest
        model.cls.predictions.decoder.bias.zero_()
        model.cls.predictions.decoder.bias[vocab.index("house")] = 50.0
    model.save_pretrained(tmp_path / "mlm")
    tokenizer.save_pretrained(tmp_path / "mlm")
    swap = ContextualSwap(aug_p=1.0, top_k=1, lm={"path": str(tmp_path / "mlm")})
    sample = _sample(*RELATIONS[0])
    lo, hi = sample.between_entities()
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state().clone())
    runs = [_run(swap, sample, seed, ctx) for seed in range(3)]
    assert random.getstate() == before[0] and (np.random.get_state()[1] == before[1]).all()
    assert torch.equal(torch.random.get_rng_state(), before[2])
    for new, spans, records in runs:
        assert records and all(lo <= r["start"] and r["end"] <= hi for r in records)
        assert {r["new"].lower() for r in records} == {"house"}
    assert _run(swap, sample, 0, ctx) == runs[0]


def test_contextual_changes_only_words_between_the_two_mentions(ctx):
    swap = ContextualSwap(aug_p=1.0, aug_max=10)
    changed = 0
    for text, first, second, label in RELATIONS:
        sample = _sample(text, first, second, label)
        lo, hi = sample.between_entities()
        for seed in range(40):
            new, spans, records = _run(swap, sample, seed, ctx)
            assert all(lo <= r["start"] and r["end"] <= hi for r in records), (seed, records)
            assert [new[a:b] for a, b, _ in spans] == [first, second]
            assert new[:sample.entities[0][1]] == text[:sample.entities[0][1]]
            assert new[spans[1][0]:] == text[sample.entities[1][0]:]
            assert sample.row == {"text": text, "label": label}
            changed += new != text
    assert changed == 3 * 40  # every sentence has nouns between its mentions


def test_contextual_replaces_nouns_by_nouns_of_the_same_number_keeping_capitals(ctx):
    swap = ContextualSwap(aug_p=1.0, aug_max=20)
    records = []
    for seed, text in enumerate(ctx.rows["text"][:80]):
        records += _run(swap, TextSample(text), seed, ctx)[2]
    assert len(records) > 100
    for r in records:
        old, new = r["old"], r["new"]
        assert _is_noun(new) and new.lower() != old.lower(), r
        assert _form(new.lower(), "n") == _form(old.lower(), "n"), r
        assert new[:1].isupper() == old[:1].isupper(), r
    plural = [r for r in records if _form(r["old"].lower(), "n") == "plural"]
    assert len(plural) > 10


def test_contextual_targets_the_parts_of_speech_asked_for(ctx):
    text = "They run a big shop and sell cheap food in the old town."
    records = _run(ContextualSwap(aug_p=1.0, pos=["a"]), TextSample(text), 3, ctx)[2]
    assert {r["old"] for r in records} <= {"big", "cheap", "old"} and records
    assert all(_form(r["new"], "a") == "base" for r in records)


def test_contextual_draws_from_the_sample_generator_alone(ctx):
    swap = ContextualSwap(aug_p=0.5)
    sample = _sample(*RELATIONS[1])
    random.seed(7)
    np.random.seed(7)
    before = (random.getstate(), np.random.get_state()[1].copy())
    outputs = {seed: _run(swap, sample, seed, ctx)[0] for seed in range(12)}
    assert random.getstate() == before[0]
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])
    assert all(_run(swap, sample, seed, ctx)[0] == out for seed, out in outputs.items())
    assert len(set(outputs.values())) > 3


def test_contextual_counts_follow_aug_p_min_and_max_and_respect_protected_spans(ctx):
    text = "The engineer fixed the printer, the server and the router in the office on 2024-01-05."
    protected = [m.span() for m in re.finditer(r"printer|\d{4}-\d\d-\d\d", text)]
    sample = TextSample(text, protected=protected)
    for seed in range(20):
        new, _, records = _run(ContextualSwap(aug_p=0.0, aug_min=2, aug_max=2), sample, seed, ctx)
        assert len(records) == 2 and "printer" in new and new.endswith("2024-01-05.")
    many = _run(ContextualSwap(aug_p=1.0, aug_max=3), sample, 0, ctx)[2]
    assert len(many) == 3
    assert _run(ContextualSwap(aug_p=1.0, aug_min=0, aug_max=0), sample, 0, ctx)[2] == []


def test_contextual_parameters_are_validated():
    with pytest.raises(ValidationError):
        ContextualSwap(aug_p=1.5)
    with pytest.raises(ValidationError):
        ContextualSwap(pos=["noun"])
    with pytest.raises(ValidationError):
        ContextualSwap(top_k=0)
    with pytest.raises(ValidationError, match="aug_min=3 cannot be greater than aug_max=2"):
        ContextualSwap(aug_min=3, aug_max=2)


def test_rare_word_places_a_rare_training_word_and_keeps_entities_and_label(ctx):
    counts = Counter(w.lower() for t in corpus_texts(ctx) for w in re.findall(r"\w+", t))
    rare = RareWordSubstitution(max_count=1)
    placed = set()
    for text, first, second, label in RELATIONS:
        sample = _sample(text, first, second, label)
        for seed in range(15):
            new, spans, records = _run(rare, sample, seed, ctx)
            assert len(records) == 1
            r = records[0]
            assert counts[r["new"].lower()] == 1 and _is_noun(r["new"]) and _is_noun(r["old"])
            assert r["new"].lower() not in text.lower()
            assert [new[a:b] for a, b, _ in spans] == [first, second] and sample.row["label"] == label
            placed.add(r["new"].lower())
    assert len(placed) > 10  # the seed spreads the rare words over the corpus
    again = [_run(rare, _sample(*RELATIONS[0]), seed, ctx)[0] for seed in range(5)]
    assert again == [_run(rare, _sample(*RELATIONS[0]), seed, ctx)[0] for seed in range(5)]


def test_rare_word_with_no_slot_of_that_part_of_speech_changes_nothing(ctx):
    assert RareWordSubstitution().draw(TextSample("Run, quickly!"), np.random.default_rng(0), ctx) == []


def test_corpus_texts_read_files_when_text_is_not_inline(tmp_path):
    (tmp_path / "a.txt").write_text("first text")
    (tmp_path / "b.txt").write_text("second text")
    rows = pd.DataFrame({"root": [str(tmp_path)] * 2, "path": ["a.txt", "b.txt"]})
    assert corpus_texts(Context(recipe=None, rows=rows)) == ["first text", "second text"]


def test_the_fallback_tagger_gives_wordnet_parts_of_speech_with_offsets():
    text = "The quick foxes ran over lazy dogs in Paris."
    tags = {text[a:b]: p for a, b, p in tag(text)}
    assert tags == {"The": None, "quick": "a", "foxes": "n", "ran": "v", "over": None, "lazy": "a",
                    "dogs": "n", "in": None, "Paris": None}
    assert {"car", "dog", "idea"} <= _wordnet_lemmas("n")


def test_contextual_draws_its_words_from_the_corpus_the_recipe_names(tmp_path):
    corpus = tmp_path / "reference.txt"
    corpus.write_text("the violin and the cello played in the hall\nthe piano and the drum\n" * 5)
    rows = pd.DataFrame({"text": ["The guitar and the flute played in the garden."]})
    ctx = Context(recipe=None, rows=rows)
    sample = TextSample(rows["text"][0])
    seen = set(tokens(corpus.read_text())) | set(tokens(rows["text"][0]))
    news = set()
    for seed in range(10):
        records = _run(ContextualSwap(aug_p=1.0, corpus=str(corpus)), sample, seed, ctx)[2]
        news |= {r["new"].lower() for r in records}
    assert news and news <= seen
    assert news & {"violin", "cello", "piano", "drum", "hall"}
