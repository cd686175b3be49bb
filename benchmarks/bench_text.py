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
"""

from __future__ import annotations

import argparse
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
    from augment.recipe import load_recipe
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=5000)
    args = parser.parse_args()
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
