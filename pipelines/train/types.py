"""The records that pass between the harness's modules (data → models → loop → files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from pipelines.train.data import ManifestDataset


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
class Prepared:
    """A manifest turned into datasets: one per split present, encoders fitted on train."""

    spec: DataSpec
    splits: dict[str, "ManifestDataset"]
    #: JSON state of the fitted encoders (standardisation, vocabulary, image size...)
    encoder: dict[str, Any]
    #: rows left out, by reason ("corrupt", "no label", "augmented row outside train"...)
    dropped: dict[str, int] = field(default_factory=dict)


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
