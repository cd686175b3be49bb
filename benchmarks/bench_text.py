"""Text noise: curaug's transforms against nlpaug's on the same corpus, sentences per second.

    .venv/bin/python benchmarks/bench_text.py [--sentences 5000]

The corpus is sample_data/text.csv repeated to ``--sentences``. Each pair runs once, in
the same process, with the same parameters (nlpaug's defaults, which curaug's share):
curaug's side is the whole per-sample work of the text plugin (``TextPlugin.apply``: draw
the edits from the sample's own generator, apply them, keep the change records for the
provenance), nlpaug's side is ``augmenter.augment(text)``.

| curaug | nlpaug |
|---|---|
| ``keyboard`` | ``KeyboardAug()`` |
| ``ocr`` | ``OcrAug()`` |
| ``char_noise: {action: substitute}`` | ``RandomCharAug(action="substitute")`` |
| ``synonym`` | ``SynonymAug(aug_src="wordnet")`` (when NLTK's WordNet and tagger data load offline) |
| ``contextual``, ``rare_word`` | none offline: nlpaug's ContextualWordEmbsAug needs a BERT download (and manages < 10 sentences/s on CPU, nlpaug #248) |

nlpaug's SynonymAug downloads NLTK data when it is missing; here ``nltk.download`` is
replaced by a refusal first, so nothing touches the network and the pair is skipped with
the reason. ``contextual`` and ``rare_word`` run with the default n-gram LM trained on the
corpus (its distinct sentences) plus WordNet's glosses; the first call, which trains the
LM or loads it from curaug's cache and loads the tagger, is timed apart. Aims (issue 12):
curaug >= 1.0x nlpaug for each pair; ``contextual`` >= 50 sentences/s on 2 CPU cores.

Language checks (issue 21), ``--quality``::

    .venv/bin/python benchmarks/bench_text.py --quality [--fortunes 40] [--seeds 0] [--show 5]

runs the first ``--fortunes`` fortunes through ``synonym`` then ``contextual`` (defaults,
``curaug augment --all-rows --seed S``, one copy per seed) and reads every change of every
step with checks that share no code with the transforms:

- *slot POS changed*: the step's input and output tagged by textblob's pattern tagger
  with pattern's own tokenizer (``textblob.en.tag``); a changed word whose token (its last,
  in a hyphenated word) has another coarse class (noun, verb, adjective, adverb, other)
  in the output than in the input;
- *unknown word form*: a new word found in none of WordNet's lemmas and exception lists,
  textblob's spelling list (Gutenberg, Wiktionary, BNC) and tagger lexicon (Brown, Penn
  Treebank), and the words of the fortunes;
- *broken multi-word lemma*: a changed word inside a run of 2-4 words that WordNet lists as
  one lemma (``eat_up``, ``of_course``; first or last word inflected: ``eats up``), which the
  new words no longer form;
- *letter or acronym replaced*: a changed word of one character or two capitals.

It prints the changed sentences and swapped words, and the share of changed sentences
each check flags, and any check.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def corpus(n: int) -> list[str]:
    texts = pd.read_csv(ROOT / "sample_data" / "text.csv")["text"].astype(str).tolist()
    return (texts * (n // len(texts) + 1))[:n]


def curaug_rate(name: str, params: dict, texts: list[str], rows: "pd.DataFrame | None" = None
                ) -> tuple[float, float]:
    """``(sentences/s, seconds of the first call)``; ``rows`` are the rows being augmented
    (the LM transforms train on their text)."""
    from augment.plugin import Context
    from augment.recipe_file import load_recipe
    from augment.text.plugin import TextPlugin

    plugin = TextPlugin()
    loaded = load_recipe({"modality": "text", "transforms": [{name: params}]})
    ctx = Context(loaded.recipe, pd.DataFrame() if rows is None else rows)
    plan = [{"name": name, "params": params}]
    samples = [plugin.load({"text": t, "id": str(i)}, ctx) for i, t in enumerate(texts)]
    start = time.perf_counter()
    plugin.apply(samples[0], plan, 0, ctx)  # build the transform and its tables outside the clock
    first = time.perf_counter() - start
    start = time.perf_counter()
    for seed, sample in enumerate(samples):
        plugin.apply(sample, plan, seed, ctx)
    return len(samples) / (time.perf_counter() - start), first


def nlpaug_rate(make, texts: list[str]) -> float:
    augmenter = make()
    augmenter.augment(texts[0])
    start = time.perf_counter()
    for text in texts:
        augmenter.augment(text)
    return len(texts) / (time.perf_counter() - start)


def _refuse_download(*args, **kwargs):
    raise RuntimeError(f"refused nltk.download{args}: this benchmark runs offline")


def synonym_aug():
    """nlpaug's SynonymAug, with NLTK's downloader disabled and its data checked first."""
    import nltk

    nltk.download = _refuse_download
    import nlpaug.augmenter.word as naw

    augmenter = naw.SynonymAug(aug_src="wordnet")
    augmenter.augment("The quick brown fox jumps over the lazy dog.")  # loads the tagger, or fails here
    return augmenter


# -- language checks (--quality) ------------------------------------------------------------
# Written apart from augment/text on purpose: they must judge the transforms, not repeat them.

CHECKS = ("slot POS changed", "unknown word form", "broken multi-word lemma", "letter or acronym replaced")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019-][A-Za-z0-9]+)*")
_ARTICLES = {"a", "an"}


def _coarse(penn: str) -> str:
    return {"N": "noun", "V": "verb", "J": "adjective", "R": "adverb"}.get(penn[:1], "other") \
        if penn[:2] not in ("RP", "MD") else "other"


class EnglishChecks:
    """Flags on one step of one sample: ``flags(before, after, changes) -> {check: [why]}``."""

    def __init__(self, corpus: list[str]):
        import textblob.en

        from augment.text.wordnet import nltk_data_dir, open_reader

        self.wn = open_reader(nltk_data_dir())  # a reader of its own: no cache shared with the transforms
        self.tag = textblob.en.tag
        names = set(self.wn.all_lemma_names())
        self.multiword = {n.lower() for n in names if "_" in n}
        folder = Path(self.wn.root.path)
        known = {n.lower() for n in names if "_" not in n}
        for exc in ("noun", "verb", "adj", "adv"):
            known |= {line.split()[0].lower() for line in (folder / f"{exc}.exc").open() if line.strip()}
        tb = Path(textblob.en.__file__).parent
        for name in ("en-spelling.txt", "en-lexicon.txt"):
            known |= {line.split()[0].lower() for line in (tb / name).open(encoding="utf-8")
                      if line.strip() and not line.startswith(";")}
        for text in corpus:
            known |= {w.lower() for w in _WORD.findall(text)}
        self.known = known

    def flags(self, before: str, after: str, changes: list[dict]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {check: [] for check in CHECKS}
        out["slot POS changed"] = self._pos_changes(before, after, changes)
        for c in changes:
            old, new = c["old"], c["new"]
            if old.lower() in _ARTICLES and new.lower() in _ARTICLES:
                continue  # "a" <-> "an" before a replaced word
            unknown = [w for w in _WORD.findall(new) if w.lower() not in self.known
                       and not all(p.lower() in self.known for p in re.split(r"[-'\u2019]", w))]
            if unknown:
                out["unknown word form"].append(f"{old} -> {new}")
            if len(old) == 1 or sum(ch.isupper() for ch in old) >= 2:
                out["letter or acronym replaced"].append(f"{old} -> {new}")
            phrase = self._broken_lemma(before, after, c)
            if phrase:
                out["broken multi-word lemma"].append(phrase)
        return out

    def _tagged_spans(self, text: str) -> list[tuple[int, int, str, str]]:
        """``(start, end, word, tag)`` per token of pattern's own tokenizer, found in ``text``
        in order (a token pattern rewrote, such as a quote, is left out)."""
        out, at = [], 0
        for word, penn in self.tag(text):
            start = text.find(word, at)
            if start >= 0:
                out.append((start, start + len(word), word, penn))
                at = start + len(word)
        return out

    def _pos_changes(self, before: str, after: str, changes: list[dict]) -> list[str]:
        old_tags, new_tags = self._tagged_spans(before), self._tagged_spans(after)
        found, shift = [], 0
        for c in sorted(changes, key=lambda c: c["start"]):
            start, new_start = c["start"], c["start"] + shift
            shift += len(c["new"]) - (c["end"] - c["start"])
            if c["old"].lower() in _ARTICLES:
                continue
            # the last token of the slot: the head of a hyphenated word
            old = [t for t in old_tags if t[0] < c["end"] and t[1] > start]
            new = [t for t in new_tags if t[0] < new_start + len(c["new"]) and t[1] > new_start]
            if old and new and _coarse(old[-1][3]) != _coarse(new[-1][3]):
                found.append(f"{old[-1][2]}/{old[-1][3]} -> {new[-1][2]}/{new[-1][3]}")
        return found

    def _lemma_variants(self, words: list[str]) -> set[str]:
        """The run as WordNet would list it: as written, or with its first or last word in
        its base form ("eats up" -> eat_up, "hot dogs" -> hot_dog)."""
        low = [w.lower() for w in words]
        out = {"_".join(low)}
        for at in (0, len(low) - 1):
            for pos in ("n", "v", "a", "r"):
                base = self.wn.morphy(low[at], pos)
                if base:
                    out.add("_".join(low[:at] + [base] + low[at + 1:]))
        return out

    def _broken_lemma(self, before: str, after: str, change: dict) -> str | None:
        toks = [m for m in _WORD.finditer(before)]
        hit = [i for i, m in enumerate(toks) if m.start() < change["end"] and m.end() > change["start"]]
        if not hit:
            return None
        new_text = before[:change["start"]] + change["new"] + before[change["end"]:]
        new_toks = [m.group() for m in _WORD.finditer(new_text)]
        for size in (2, 3, 4):
            for first in range(max(0, hit[-1] - size + 1), min(hit[0], len(toks) - size) + 1):
                run = toks[first:first + size]
                if any(before[x.end():y.start()].strip() for x, y in zip(run, run[1:])):
                    continue  # words split by punctuation are no phrase
                if not self._lemma_variants([m.group() for m in run]) & self.multiword:
                    continue
                if len(new_toks) == len(toks) and \
                        self._lemma_variants(new_toks[first:first + size]) & self.multiword:
                    continue  # the new words are a listed phrase too
                return f"{' '.join(m.group() for m in run)} -> {' '.join(new_toks[first:first + size + len(new_toks) - len(toks)])}"
        return None


def quality(n_fortunes: int, seeds: list[int]) -> tuple[int, int, dict[str, list[tuple[str, str]]]]:
    """``(changed sentences, words changed, flagged: check -> [(sentence id, why)])``."""
    import json
    import tempfile

    from augment.recipe_file import load_recipe
    from augment.runner import augment_manifest

    table = pd.read_csv(ROOT / "sample_data" / "text.csv").head(n_fortunes)
    df = pd.DataFrame({"id": [f"f{i}" for i in range(len(table))], "text": table["text"], "label": table["label"]})
    loaded = load_recipe({"modality": "text", "copies": 1, "transforms": [{"synonym": {}}, {"contextual": {}}]})
    checks = EnglishChecks(df["text"].tolist())
    sources = df.set_index("id")["text"]
    flagged: dict[str, list[tuple[str, str]]] = {check: [] for check in CHECKS}
    changed = words = 0
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            result = augment_manifest(df, loaded, Path(tmp) / "out", seed=seed, all_rows=True)
        made = result.manifest[result.manifest["augment"].notna()]
        for sample_id, source_id, new_text, prov in zip(made["id"], made["source_id"], made["text"], made["augment"]):
            text = sources[source_id]
            if new_text == text:
                continue
            changed += 1
            hits: dict[str, list[str]] = {check: [] for check in CHECKS}
            for step in json.loads(prov)["applied"]:
                if not step["changes"]:
                    continue
                words += sum(c["old"].lower() not in _ARTICLES for c in step["changes"])
                out = text
                for c in sorted(step["changes"], key=lambda c: -c["start"]):
                    out = out[:c["start"]] + c["new"] + out[c["end"]:]
                for check, why in checks.flags(text, out, step["changes"]).items():
                    hits[check] += [f"{step['name']}: {w}" for w in why]
                text = out
            for check, why in hits.items():
                if why:
                    flagged[check].append((f"{sample_id} (seed {seed})", "; ".join(why)))
    return changed, words, flagged


def report_quality(n_fortunes: int, seeds: list[int], show: int) -> None:
    changed, words, flagged = quality(n_fortunes, seeds)
    any_flag = {sid for hits in flagged.values() for sid, _ in hits}
    print(f"{n_fortunes} fortunes, seeds {seeds}: synonym then contextual; {changed} changed sentences, "
          f"{words} words swapped")
    for check in CHECKS:
        print(f"{check:<28} {len(flagged[check]):>4} {len(flagged[check]) / max(changed, 1):>7.1%}")
        for sid, why in flagged[check][:show]:
            print(f"    {sid}: {why}")
    print(f"{'any check':<28} {len(any_flag):>4} {len(any_flag) / max(changed, 1):>7.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=5000)
    parser.add_argument("--quality", action="store_true", help="run the language checks instead of timing")
    parser.add_argument("--fortunes", type=int, default=40, help="--quality: the first N fortunes")
    parser.add_argument("--seeds", default="0", help="--quality: run seeds, comma-separated")
    parser.add_argument("--show", type=int, default=0, help="--quality: print N flagged changes per check")
    args = parser.parse_args()
    if args.quality:
        report_quality(args.fortunes, [int(s) for s in args.seeds.split(",")], args.show)
        return
    texts = corpus(args.sentences)
    import nlpaug.augmenter.char as nac

    pairs = [("keyboard", {}, nac.KeyboardAug),
             ("ocr", {}, nac.OcrAug),
             ("char_noise", {"action": "substitute"}, lambda: nac.RandomCharAug(action="substitute")),
             ("synonym", {}, synonym_aug)]
    print(f"{len(texts)} sentences (sample_data/text.csv repeated), one run each")
    print(f"{'transform':<12} {'curaug/s':>10} {'nlpaug/s':>10} {'ratio':>7}")
    for name, params, make in pairs:
        try:
            theirs = nlpaug_rate(make, texts)
        except (LookupError, RuntimeError, OSError) as exc:
            ours, _ = curaug_rate(name, params, texts)
            reason = " ".join(str(exc).split())[:120]
            print(f"{name:<12} {ours:>10.0f} {'-':>10} {'-':>7}  nlpaug skipped: {reason}")
            continue
        ours, _ = curaug_rate(name, params, texts)
        print(f"{name:<12} {ours:>10.0f} {theirs:>10.0f} {ours / theirs:>6.2f}x")
    rows = pd.DataFrame({"text": sorted(set(texts))}, index=[f"t{i}" for i in range(len(set(texts)))])
    for name in ("contextual", "rare_word"):
        ours, first = curaug_rate(name, {}, texts[:1000], rows)
        aim = "  (aim >= 50/s)" if name == "contextual" else ""
        print(f"{name:<12} {ours:>10.0f} sentences/s on {len(texts[:1000])} sentences, first call {first:.1f} s{aim}")


if __name__ == "__main__":
    main()
