"""Every setting of a training run, validated once, saved in ``RUNDIR/config.json``.

The flags of ``curaug train`` and the ``train:`` key of a pipeline file map one-to-one to
the fields of :class:`TrainConfig` (``--hard-mining`` is ``hard_mining``). A checkpoint
resumes only under the same :meth:`TrainConfig.fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from curate.registry import Registry
from curate.strict import Strict
from pipelines.train.data_memory import DEFAULT_DATA_MEMORY, parse_size

ModelName = Literal["auto", "mlp", "cnn", "rnn", "bow"]
#: ``hard_mining`` name -> miner class (:mod:`pipelines.train.mining`: none, ohem, replay,
#: triplet); third parties add theirs through the ``curaug.miners`` entry point group.
MINERS: Registry[Any] = Registry("hard-example miner", entry_points="curaug.miners",
                                 builtins=("pipelines.train.mining",))


class TrainConfig(Strict):
    """The settings of one training run (defaults are what ``curaug train`` uses; a None
    is sized to the data by :func:`pipelines.train.sizing.size_to_data`)."""

    label: str = "label"
    model: ModelName = "auto"
    #: None (epochs, batch_size, patience, width, lr, weight_decay): chosen from the training
    #: data's size and the model
    #: (:mod:`pipelines.train.sizing`)
    epochs: Optional[int] = Field(None, ge=1)
    batch_size: Optional[int] = Field(None, ge=1)
    #: base learning rate; None: 1e-3 for AdamW, 0.05 for SGD
    lr: Optional[float] = Field(None, gt=0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    weight_decay: Optional[float] = Field(None, ge=0)
    schedule: Literal["cosine", "step", "none"] = "cosine"
    balanced: bool = False
    patience: Optional[int] = Field(None, ge=1)
    #: relative improvement the monitored value must make to count (0.01: 1 %)
    min_delta: float = Field(0.01, ge=0, lt=1)
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    hard_mining: str = "none"  # a name of MINERS
    #: OHEM: the share of each batch (highest losses) that is backpropagated
    ohem_fraction: float = Field(0.5, gt=0, le=1)
    #: replay: the share of each training batch drawn from last epoch's mined examples
    replay_fraction: float = Field(0.25, gt=0, lt=1)
    #: triplet: identities per batch (P), samples per identity (K), margin
    identities_per_batch: int = Field(8, ge=2)
    samples_per_identity: int = Field(4, ge=2)
    margin: float = Field(0.2, gt=0)
    #: triplet: the identity column (default: the group column if any, else the label)
    identity: Optional[str] = None
    #: columns never used as features (tabular): a domain column, a key the model must not see
    exclude: list[str] = Field(default_factory=list)
    search: int = Field(0, ge=0)
    #: random: coarse, then fine around the best; tpe: the same coarse half, then Optuna's TPE
    search_sampler: Literal["random", "tpe"] = "random"
    #: search trials run at once (Optuna threads)
    search_workers: int = Field(1, ge=1)
    folds: bool = False
    init: Optional[str] = None
    freeze: int = Field(0, ge=0)
    sanity: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: mixed precision on CUDA (auto: bf16 where supported, else fp16); CPU runs float32
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    seed: int = 0
    #: level of the val and test figures' intervals (exact binomial and Hoeffding)
    confidence: float = Field(0.95, gt=0, lt=1)
    width: Optional[int] = Field(None, ge=4)
    dropout: float = Field(0.2, ge=0, lt=1)
    activation: Literal["relu", "leaky_relu", "maxout"] = "relu"
    #: maxout: the affine pieces each unit takes the maximum of (Goodfellow et al. 2013)
    maxout_pieces: int = Field(2, ge=2)
    #: images are resized to image_size x image_size (None: the median train size, at most 64)
    image_size: Optional[int] = Field(None, ge=8)
    n_mels: int = Field(64, ge=8)
    #: text: tokens kept per sample
    max_tokens: int = Field(128, ge=4)
    #: human-level (Bayes) error rate the avoidable bias is measured from (None: 0)
    human_error: Optional[float] = Field(None, ge=0, lt=1)
    #: augmentation on the fly: a recipe file (or its mapping) drawn afresh for every
    #: training sample each epoch (:mod:`pipelines.train.data.online`)
    recipe: Optional[Union[str, dict[str, Any]]] = None
    #: decoded rows held in memory, the splits together (train first); the others stream
    data_memory: Union[int, str] = DEFAULT_DATA_MEMORY
    #: processes that decode streamed rows and augment (None: 2 where a fit decodes or
    #: augments rows per batch, else none: its batches are index lookups)
    data_workers: Optional[int] = Field(None, ge=0)

    @field_validator("hard_mining")
    @classmethod
    def _known_miner(cls, v: str) -> str:
        MINERS.get(v)  # an unknown name raises, with the closest known one
        return v

    @field_validator("recipe", mode="before")
    @classmethod
    def _recipe_path(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("data_memory")
    @classmethod
    def _size(cls, value: Union[int, str]) -> Union[int, str]:
        from curate.errors import CuraugError

        try:
            parse_size(value)
        except CuraugError:
            raise ValueError("not a size; give bytes or a number with a unit (2GiB, 500MB)") from None
        return value

    @property
    def memory_bytes(self) -> int:
        """``data_memory`` in bytes."""
        return parse_size(self.data_memory)

    @model_validator(mode="after")
    def _triplet_batches(self) -> "TrainConfig":
        if self.hard_mining == "triplet" and self.balanced:
            raise ValueError("hard_mining='triplet' draws its own P x K batches; drop balanced=True")
        return self

    @property
    def base_lr(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if self.optimizer == "adamw" else 0.05)

    def fingerprint(self, *extra: object) -> str:
        """A hash of every setting (and of ``extra``, e.g. the data's hashes): a checkpoint
        written under another fingerprint is never resumed. Where rows are held and how many
        processes read them change no result; the recipe counts by its content (an extra
        the loop adds), not by its path."""
        settings = self.model_dump(mode="json", exclude={"recipe", "data_memory", "data_workers"})
        blob = json.dumps([settings, [str(e) for e in extra]], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
