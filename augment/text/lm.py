"""The language model that ``contextual`` and ``rare_word`` score candidate words with.

Default, offline: an interpolated Kneser-Ney trigram model (Chen & Goodman's absolute
discounting with continuation counts, ``d = 0.75``) over lower-cased word tokens
(:data:`augment.text.edits.WORD`), trained by curaug itself on a reference corpus: the
texts being augmented plus WordNet 3.0's ~117k glosses and example sentences (read from
``wordnet_dir()/data.{noun,verb,adj,adv}``), or a text file the recipe names. Counts are
kept as sorted ``int64`` keys (``u * V**2 + v * V + w``), so scoring thousands of
candidates in a slot is a handful of ``np.searchsorted`` calls, not a Python loop. The
trained model is cached in ``cache_dir()/lm`` under a hash of its corpus (written
atomically) and per process in memory: a second run, or a worker, loads it in well under a
second.

Optional: a local Hugging Face masked-LM folder (``lm: {path: DIR}``), when
``transformers`` is installed; it is never downloaded (``local_files_only=True``).

Examples
--------
>>> lm = NgramLM.train(["the cat sat on the mat", "the dog sat on the rug"] * 3)
>>> scores = lm.score(["the"], ["cat", "on"], ["sat", "on"])
>>> bool(scores[0] > scores[1])
True
"""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from curate.errors import CuraugError
from curate.io.atomic import write_bytes_atomic
from curate.io.cache import cache_dir

from augment.text.edits import WORD

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
DISCOUNT = 0.75
_MODELS: dict[str, "NgramLM"] = {}
_LOCK = threading.Lock()


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, the LM's unit."""
    return [m.group().lower() for m in WORD.finditer(text)]


def wordnet_glosses(folder: Path) -> list[str]:
    """WordNet's glosses and example sentences: the text after `` | `` on each synset line
    of ``data.{noun,verb,adj,adv}``, split at ``; `` into definitions and examples."""
    out: list[str] = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(folder / f"data.{pos}", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  "):  # the licence header
                    continue
                _, sep, gloss = line.partition(" | ")
                if sep:
                    out += [piece.strip(' "') for piece in gloss.strip().split("; ") if piece.strip(' "')]
    return out


class NgramLM:
    """Interpolated Kneser-Ney trigram model; build it with :meth:`train` or :func:`ngram_lm`."""

    def __init__(self, vocab: list[str], arrays: dict[str, np.ndarray]):
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.V = len(vocab)
        for key, value in arrays.items():
            setattr(self, key, value)
        self._arrays = arrays
        self._uni_total = float(self.uni_cont.sum())
        self._uni_types = float(np.count_nonzero(self.uni_cont))

    # -- training -------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str]) -> "NgramLM":
        index: dict[str, int] = {BOS: 0, EOS: 1, UNK: 2}
        ids: list[int] = []
        for text in texts:
            toks = tokens(text)
            if toks:
                ids += [0, 0] + [index.setdefault(t, len(index)) for t in toks] + [1]
        V = len(index)
        seq = np.asarray(ids, dtype=np.int64)
        # trigrams (u, v, w) whose w is a real token (not the padding <s> before a sentence)
        u, v, w = seq[:-2], seq[1:-1], seq[2:]
        keep = w != 0
        u, v, w = u[keep], v[keep], w[keep]
        tri, tri_count = np.unique((u * V + v) * V + w, return_counts=True)
        # c(u v .) and the number of distinct words after (u, v)
        ctx2, ctx2_first = np.unique(tri // V, return_index=True)
        ctx2_count = np.add.reduceat(tri_count, ctx2_first)
        ctx2_types = np.diff(np.append(ctx2_first, len(tri)))
        # continuation counts N1+(. v w): distinct u before each bigram (v, w)
        bi, bi_cont = np.unique(tri % (V * V), return_counts=True)
        bv = bi // V
        mid_cont = np.bincount(bv, weights=bi_cont, minlength=V)   # N1+(. v .)
        mid_types = np.bincount(bv, minlength=V).astype(np.float64)  # distinct w after v
        uni_cont = np.bincount(bi % V, minlength=V).astype(np.float64)  # N1+(. w)
        unigram = np.bincount(seq, minlength=V).astype(np.float64)
        arrays = {"tri": tri, "tri_count": tri_count.astype(np.float64), "ctx2": ctx2,
                  "ctx2_count": ctx2_count.astype(np.float64), "ctx2_types": ctx2_types.astype(np.float64),
                  "bi": bi, "bi_cont": bi_cont.astype(np.float64), "mid_cont": mid_cont,
                  "mid_types": mid_types, "uni_cont": uni_cont, "unigram": unigram}
        vocab = [""] * V
        for word, i in index.items():
            vocab[i] = word
        return cls(vocab, arrays)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, vocab=np.array("\n".join(self.vocab)), **self._arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "NgramLM":
        with np.load(io.BytesIO(data)) as z:
            return cls(str(z["vocab"]).split("\n"), {k: z[k] for k in z.files if k != "vocab"})

    # -- probabilities ----------------------------------------------------------------------
    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Token ids (lower-cased; unknown words map to ``<unk>``)."""
        get, unk = self.index.get, self.index[UNK]
        return np.fromiter((get(w.lower(), unk) for w in words), dtype=np.int64, count=len(words))

    def count(self, word: str) -> int:
        """How often ``word`` occurs in the training corpus."""
        i = self.index.get(word.lower())
        return 0 if i is None else int(self.unigram[i])

    @staticmethod
    def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        # search only the stretch of keys the queries span: with a fixed context that is
        # the context's own block of n-grams, a few hundred keys instead of a million
        lo, hi = np.searchsorted(keys, [query.min(), query.max()], side="left")
        block = keys[lo:hi + 1]
        if len(block) == 0:
            return np.zeros(query.shape)
        at = np.minimum(np.searchsorted(block, query), len(block) - 1)
        return np.where(block[at] == query, values[lo:hi + 1][at], 0.0)

    def logprob(self, u: Any, v: Any, w: Any) -> np.ndarray:
        """``log P(w | u v)`` for id arrays (broadcast together). Lookups are fastest when
        the keys come in increasing order, as candidate ids sorted by id give."""
        u, v, w = np.broadcast_arrays(np.asarray(u, np.int64), np.asarray(v, np.int64), np.asarray(w, np.int64))
        V, d = self.V, DISCOUNT
        total = self._uni_total
        p1 = np.maximum(self.uni_cont[w] - d, 0) / total + d * self._uni_types / total / V
        mid = self.mid_cont[v]
        safe_mid = np.where(mid > 0, mid, 1.0)
        p2 = np.where(mid > 0, (np.maximum(self._lookup(self.bi, self.bi_cont, v * V + w) - d, 0)
                                + d * self.mid_types[v] * p1) / safe_mid, p1)
        ctx = u * V + v
        c_ctx = self._lookup(self.ctx2, self.ctx2_count, ctx)
        types = self._lookup(self.ctx2, self.ctx2_types, ctx)
        safe_ctx = np.where(c_ctx > 0, c_ctx, 1.0)
        p3 = np.where(c_ctx > 0, (np.maximum(self._lookup(self.tri, self.tri_count, ctx * V + w) - d, 0)
                                  + d * types * p2) / safe_ctx, p2)
        return np.log(p3)

    def score(self, left: Sequence[str], candidates: Sequence[str] | np.ndarray,
              right: Sequence[str]) -> np.ndarray:
        """Log probability of the window around a slot for each candidate word, in one batch:
        ``log P(c | l2 l1) + log P(r1 | l1 c) + log P(r2 | c r1)``. ``left``/``right`` are
        the words before/after the slot (sentence boundaries pad them); ``candidates`` are
        words or ids."""
        c = candidates if isinstance(candidates, np.ndarray) else self.ids(candidates)
        l2, l1 = self.ids([BOS, BOS, *left[-2:]])[-2:]
        r = self.ids(list(right[:2]))
        out = self.logprob(l2, l1, c)
        if len(r) == 0:
            return out + self.logprob(l1, c, self.index[EOS])
        out = out + self.logprob(l1, c, r[0])
        return out + self.logprob(c, r[0], r[1] if len(r) > 1 else self.index[EOS])

    def perplexity(self, sentences: Iterable[str]) -> float:
        """Per-token perplexity (end-of-sentence included) over ``sentences``."""
        total, n = 0.0, 0
        for text in sentences:
            ids = self.ids([BOS, BOS, *tokens(text), EOS])
            if len(ids) > 3:
                total += float(self.logprob(ids[:-2], ids[1:-1], ids[2:]).sum())
                n += len(ids) - 2
        return float(np.exp(-total / max(n, 1)))


def ngram_lm(texts: Sequence[str], corpus: str | Path | None = None) -> NgramLM:
    """The default LM for ``texts`` (the rows being augmented) plus WordNet's glosses, or
    plus the lines of ``corpus``; trained once per corpus, then cached."""
    from augment.text.wordnet import wordnet_dir

    if corpus is not None:
        path = Path(corpus)
        if not path.is_file():
            raise CuraugError(f"LM corpus file {path} not found", param="corpus")
        reference = path.read_text(encoding="utf-8", errors="replace").splitlines()
    else:
        reference = wordnet_glosses(wordnet_dir())
    all_texts = [*texts, *reference]
    digest = hashlib.sha256("\x00".join(all_texts).encode("utf-8", "replace")).hexdigest()[:32]
    with _LOCK:
        if digest in _MODELS:
            return _MODELS[digest]
        cached = cache_dir() / "lm" / f"kn3-{digest}.npz"
        try:
            model = NgramLM.from_bytes(cached.read_bytes())
        except (OSError, ValueError, KeyError):  # absent or damaged: a cache only saves time
            model = NgramLM.train(all_texts)
            try:
                write_bytes_atomic(cached, model.to_bytes())
            except OSError:
                pass  # a read-only cache folder costs the training time again, nothing else
        _MODELS[digest] = model
        return model


class MaskedLM:
    """A local Hugging Face masked LM (``lm: {path: DIR}``): a candidate's score is the log
    probability of its first word piece at the masked slot."""

    def __init__(self, folder: str | Path):
        try:
            from transformers import AutoModelForMaskedLM, AutoTokenizer
        except ImportError:
            raise CuraugError("lm.path needs the 'transformers' package (pip install transformers); "
                              "or use lm: ngram", param="lm") from None
        if not Path(folder).is_dir():
            raise CuraugError(f"masked-LM folder {folder} not found", param="lm")
        from augment.seeds import global_rngs_kept

        with global_rngs_kept():  # loading may draw from the global RNGs: the seed contract forbids it
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForMaskedLM.from_pretrained(folder, local_files_only=True).eval()

    def score(self, left: Sequence[str], candidates: Sequence[str], right: Sequence[str]) -> np.ndarray:
        import torch

        text = " ".join([*left, self.tokenizer.mask_token, *right])
        enc = self.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = self.model(**enc).logits[0]
        at = int((enc["input_ids"][0] == self.tokenizer.mask_token_id).nonzero()[0, 0])
        logp = torch.log_softmax(logits[at], dim=-1).numpy()
        first = [self.tokenizer(c, add_special_tokens=False)["input_ids"][:1] or [self.tokenizer.unk_token_id]
                 for c in candidates]
        return logp[[f[0] for f in first]].astype(np.float64)


def load_lm(spec: Any, texts: Sequence[str], corpus: str | Path | None = None) -> Any:
    """The LM a recipe names: ``"ngram"`` (default) or ``{"path": DIR}``."""
    if isinstance(spec, dict):
        return MaskedLM(spec["path"])
    return ngram_lm(texts, corpus)
