"""The records that pass between the harness's modules (data → models → loop → files):
what a model knows of its input (:class:`DataSpec`) and what it predicted
(:class:`Predictions`). The datasets themselves are :mod:`pipelines.train.data`'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its input.

    ``input_shape`` is one sample's tensor shape: ``(C, H, W)`` for images, ``(1, n_mels,
    frames)`` for audio log-mel spectrograms, ``(max_tokens,)`` int64 token ids for text
    (0 pads, 1 is an unknown word), ``(n_features,)`` for tabular rows.
    """

    modality: str
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    vocab_size: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def to_json(self) -> dict[str, Any]:
        return {"modality": self.modality, "classes": list(self.classes),
                "input_shape": list(self.input_shape), "vocab_size": self.vocab_size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DataSpec":
        return cls(data["modality"], tuple(data["classes"]), tuple(data["input_shape"]), data.get("vocab_size", 0))


@dataclass
class Predictions:
    """A model's outputs on one dataset, in the dataset's order."""

    ids: list[str]
    targets: "np.ndarray"
    probs: "np.ndarray"
    losses: "np.ndarray"

    @property
    def preds(self) -> "np.ndarray":
        return self.probs.argmax(axis=1)


def join_predictions(parts: "Sequence[Predictions]", order: "np.ndarray | None" = None) -> Predictions:
    """``parts`` as one :class:`Predictions`, in their order, then rearranged by ``order``
    (positions into the joined rows).

    >>> import numpy as np
    >>> a = Predictions(["x"], np.array([0]), np.array([[0.9, 0.1]]), np.array([0.1]))
    >>> b = Predictions(["y", "z"], np.array([1, 0]), np.array([[0.2, 0.8], [0.4, 0.6]]), np.array([0.2, 0.9]))
    >>> joined = join_predictions([a, b], np.array([2, 0, 1]))
    >>> joined.ids, joined.targets.tolist(), joined.preds.tolist()
    (['z', 'x', 'y'], [0, 0, 1], [1, 0, 1])
    """
    import numpy as np

    ids = [i for part in parts for i in part.ids]
    targets = np.concatenate([np.asarray(part.targets) for part in parts])
    probs = np.concatenate([np.asarray(part.probs) for part in parts])
    losses = np.concatenate([np.asarray(part.losses) for part in parts])
    if order is None:
        return Predictions(ids, targets, probs, losses)
    return Predictions([ids[i] for i in order], targets[order], probs[order], losses[order])
