"""Text → ``(max_tokens,)`` int64 token ids from a vocabulary built on the training split.

Tokens are lower-cased words and single punctuation marks; id 0 pads, id 1 is a token the
vocabulary does not hold (:data:`MAX_VOCAB` most frequent training tokens, ties in
alphabetical order so the ids do not depend on row order).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pipelines.train.data.encoder import ENCODERS, Encoder, chunks, fits

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.config import TrainConfig

PAD, UNKNOWN = 0, 1
MAX_VOCAB = 20_000
TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """
    >>> tokenize("Hello, World!  It's 42.")
    ['hello', ',', 'world', '!', 'it', "'", 's', '42', '.']
    """
    return TOKEN.findall(text.lower())


def row_texts(frame: "pd.DataFrame") -> list[str]:
    """Each row's text: the ``text`` column, else the row's file read as UTF-8."""
    from curate.io.manifest import media_file

    inline = frame["text"].tolist() if "text" in frame.columns else [None] * len(frame)
    has_file = {"root", "path"} <= set(frame.columns)
    out = []
    for i, text in enumerate(inline):
        if isinstance(text, str):
            out.append(text)
        elif has_file and isinstance(frame["path"].iat[i], str):
            out.append(media_file(frame["root"].iat[i], frame["path"].iat[i]).read_text(encoding="utf-8", errors="replace"))
        else:
            out.append("")
    return out


@ENCODERS.register("text")
class TextEncoder(Encoder):
    """A vocabulary of the training split's tokens; rows padded or cut to ``max_tokens``."""

    modality: ClassVar[str] = "text"
    dtype: ClassVar[type] = np.int64

    def __init__(self, vocabulary: list[str], max_tokens: int):
        self.vocabulary = list(vocabulary)
        self.max_tokens = int(max_tokens)
        self._ids = {tok: i + 2 for i, tok in enumerate(self.vocabulary)}
        self.vocab_size = len(self.vocabulary) + 2
        self.input_shape = (self.max_tokens,)

    @classmethod
    def fit(cls, train: "pd.DataFrame", config: "TrainConfig",
            memory: int | None = None) -> tuple["TextEncoder", np.ndarray | None]:
        keep = fits(len(train), config.max_tokens * 8, memory)
        counts: Counter = Counter()
        kept: list[list[str]] = []
        for part in chunks(len(train)):  # texts held in files are read a chunk at a time
            for row in map(tokenize, row_texts(train.iloc[part])):
                counts.update(row)
                if keep:
                    kept.append(row[:config.max_tokens])
        vocabulary = sorted(counts, key=lambda tok: (-counts[tok], tok))[:MAX_VOCAB]
        enc = cls(vocabulary, config.max_tokens)
        return enc, enc._encode(kept) if keep else None

    def transform(self, frame: "pd.DataFrame") -> np.ndarray:
        return self._encode([tokenize(t) for t in row_texts(frame)])

    def encode_sample(self, sample: Any) -> np.ndarray:
        """The text plugin's sample (its ``text``)."""
        return self._encode([tokenize(sample.text)])[0]

    def _encode(self, rows: list[list[str]]) -> np.ndarray:
        out = np.full((len(rows), self.max_tokens), PAD, dtype=np.int64)
        for i, row in enumerate(rows):
            ids = [self._ids.get(tok, UNKNOWN) for tok in row[:self.max_tokens]]
            out[i, :len(ids)] = ids
        return out

    def state(self) -> dict[str, Any]:
        return {"modality": "text", "max_tokens": self.max_tokens, "pad": PAD, "unknown": UNKNOWN,
                "vocabulary": self.vocabulary}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TextEncoder":
        return cls(state["vocabulary"], state["max_tokens"])
