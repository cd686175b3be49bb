"""Settings left unset (``None``) chosen from the size of the training data.

A fixed 30 epochs of batches of 64 is 60 optimizer steps on 107 table rows and 510 on
1,078 images: the small set stops long before it has learnt. So the defaults follow the
data: batches of about an eighth of the training rows (16 to 64), as many epochs as
make :data:`MIN_STEPS` optimizer steps (30 to 100), patience a tenth of the epochs (5 to 20),
and convolutional widths that grow with the number of samples (16 under 2,000 rows, 32
under 20,000, 64 from :data:`FULL_WIDTH_ROWS` on), so a small image set does not pay for
a network sized for a large one; fine-tuning (``init``) keeps the width its checkpoint
was trained with. The text bag of n-grams, a linear model whose every
n-gram row learns only from the texts holding it, takes ten times the optimizer's
default learning rate and a strong weight decay (0.3: each step shrinks the weights by
lr x 0.3), which keeps it from the overconfidence that made val loss rise after two
epochs. Measured on the split seeds of ``benchmarks/bench_baselines.py`` (6-class
fortunes, 3 seeds; the sample's 158 fortunes, 10 seeds), mean test accuracy at 0.1, 0.3,
1.0, 3.0: 0.677, 0.683, 0.681, 0.681 and 0.500, 0.503, 0.497, 0.503 (1e-4: 0.645 on the
6 classes); TF-IDF + logistic regression reaches 0.667 and 0.503. A value given by the
user is always kept.

Examples
--------
>>> from pipelines.train.config import TrainConfig
>>> from pipelines.train.types import DataSpec
>>> spec = DataSpec("tabular", ("a", "b", "c"), (13,))
>>> sized = size_to_data(TrainConfig(), spec, n_train=107)
>>> sized.batch_size, sized.epochs, sized.patience, sized.width, sized.lr
(16, 72, 7, 64, 0.001)
>>> size_to_data(TrainConfig(epochs=10), spec, n_train=107).epochs
10
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from pipelines.train.config import TrainConfig
    from pipelines.train.types import DataSpec

#: the settings this module fills when they are None
SIZED = ("epochs", "batch_size", "patience", "width", "lr", "weight_decay")
#: optimizer steps a run of the default length takes (a small set needs many epochs)
MIN_STEPS = 500
EPOCHS = (30, 100)
BATCH = (16, 64)
PATIENCE = (5, 20)
#: convolutional models (image, audio) use their full width from this many training rows
FULL_WIDTH_ROWS = 20_000
#: models that learn at this multiple of the optimizer's default rate
LR_SCALE = {"bow": 10.0}
WEIGHT_DECAY = 1e-4
#: models whose weight decay is not :data:`WEIGHT_DECAY`
MODEL_WEIGHT_DECAY = {"bow": 0.3}


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))


def default_width(spec: "DataSpec", n_train: Optional[int]) -> int:
    """The model width for ``spec``'s data: 64, except for convolutional baselines on
    fewer than :data:`FULL_WIDTH_ROWS` rows (16 below 2,000, 32 below 20,000), whose cost
    grows with the square of the width.

    >>> from pipelines.train.types import DataSpec
    >>> [default_width(DataSpec("image", ("a", "b"), (1, 32, 32)), n) for n in (1078, 5000, 50000, None)]
    [16, 32, 64, 64]
    """
    from pipelines.train.models import WIDTH

    if spec.modality not in ("image", "audio") or n_train is None or n_train >= FULL_WIDTH_ROWS:
        return WIDTH
    return 16 if n_train < 2_000 else 32


def size_to_data(config: "TrainConfig", spec: "DataSpec", n_train: Optional[int]) -> "TrainConfig":
    """``config`` with every setting of :data:`SIZED` that is None chosen for ``n_train``
    training rows of ``spec``'s data (``n_train=None``: the size is unknown, and the
    settings are those of a large set)."""
    if all(getattr(config, name) is not None for name in SIZED):
        return config
    batch_size = config.batch_size
    if batch_size is None:
        batch_size = BATCH[1] if n_train is None else _clamp(n_train // 8, BATCH)
    epochs = config.epochs
    if epochs is None:
        batches = 1 if n_train is None else max(1, math.ceil(n_train / batch_size))
        epochs = _clamp(math.ceil(MIN_STEPS / batches), EPOCHS)
    from pipelines.train.models import resolve_model_name

    model = resolve_model_name(spec, config.model)
    chosen = {"batch_size": batch_size, "epochs": epochs,
              "patience": _clamp(epochs // 10, PATIENCE),
              "width": default_width(spec, n_train),
              "lr": config.base_lr * LR_SCALE.get(model, 1.0),
              "weight_decay": MODEL_WEIGHT_DECAY.get(model, WEIGHT_DECAY)}
    return config.model_copy(update={name: value for name, value in chosen.items() if getattr(config, name) is None})
