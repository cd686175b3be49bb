"""The baselines ``curaug train`` fits, one per structure of data, and ``--init`` loading.

``--model auto`` picks by modality: an MLP for fixed-size vectors (tabular), a small CNN
for images, a 1-D CNN over log-mel frames for audio and a bag of n-grams for text; a GRU
(audio, text), a 1-D CNN over word embeddings (text) and the MLP (any modality) are the
alternatives. Every model is a :class:`Baseline`: ``forward`` gives logits, ``embed`` the
features right before the head (triplet mining works on them) and ``layer_groups`` the
layers from input to head, which ``--freeze N`` and discriminative learning rates address.

Weights follow the course's recipe: Kaiming-normal (fan-in, gain of the activation) for
convolutions and linear layers, a small positive bias (0.01) on the layers that feed an
activation so that few ReLUs start dead, batch norm at weight 1 / bias 0, embeddings at
normal(0, 0.1) with the padding row zero, and the head at gain 1, bias 0.

The activation is ReLU, LeakyReLU or maxout (``--activation``). A maxout unit (Goodfellow
et al. 2013, "Maxout networks") is the maximum of ``k`` affine pieces
(``--maxout-pieces``): the layer feeding it gives ``k`` outputs per unit, so it has ``k``
times the weights, and no unit can die as a ReLU does (the maximum of affine pieces has
no flat zero region). Its layers start at gain 1: the maximum of two independent
zero-mean pieces of variance v has second moment v, as the pieces have (more pieces raise
it a little, which the batch norm after each layer absorbs). The GRU and the bag of
n-grams have no such activation, so the choice leaves them unchanged.

Examples
--------
>>> from pipelines.train.config import TrainConfig
>>> from pipelines.train.types import DataSpec
>>> spec = DataSpec("image", ("0", "1", "2"), (1, 8, 8))
>>> model = build_model(spec, TrainConfig(width=8))
>>> type(model).__name__, model(torch.zeros(2, 1, 8, 8)).shape
('ImageCNN', torch.Size([2, 3]))
>>> resolve_model_name(spec, "auto")
'cnn'
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from curate.errors import CuraugError
from curate.registry import Registry
from pipelines.train.config import TrainConfig
from pipelines.train.types import DataSpec

#: the model ``--model auto`` picks for each modality
AUTO = {"tabular": "mlp", "image": "cnn", "audio": "cnn", "text": "bow"}

#: a baseline's width when nothing sized it: a large data set's (``curaug train`` sizes
#: smaller convolutional widths to small data, :mod:`pipelines.train.sizing`)
WIDTH = 64

#: bigram ids are hashed into this many extra rows of the bag-of-n-grams embedding
BIGRAM_BUCKETS = 2**14

#: the slope LeakyReLU uses, and Kaiming's gain is computed for
LEAKY_SLOPE = 0.01

#: the bias of a layer that feeds an activation: positive, so few ReLUs start dead
ACTIVE_BIAS = 0.01

#: ``"modality/name"`` → model class
MODELS: Registry[type["Baseline"]] = Registry("model")


class Maxout(nn.Module):
    """Each unit the maximum of ``pieces`` consecutive channels (dimension 1) of its input.

    >>> Maxout(2)(torch.tensor([[1.0, -3.0, 0.5, 2.0]])).tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        units = x.shape[1] // self.pieces
        return x.unflatten(1, (units, self.pieces)).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


def _pieces(config: TrainConfig) -> int:
    """Outputs a layer gives per unit of the activation it feeds."""
    return config.maxout_pieces if config.activation == "maxout" else 1


def _activation(config: TrainConfig) -> nn.Module:
    # not in-place: the activation histograms hook each activation's output separately
    if config.activation == "maxout":
        return Maxout(config.maxout_pieces)
    return nn.LeakyReLU(LEAKY_SLOPE) if config.activation == "leaky_relu" else nn.ReLU()


def _dense_block(n_in: int, n_out: int, config: TrainConfig) -> nn.Sequential:
    k = _pieces(config)
    return nn.Sequential(nn.Linear(n_in, n_out * k), nn.BatchNorm1d(n_out * k), _activation(config),
                         nn.Dropout(config.dropout))


def _token_lengths(ids: torch.Tensor) -> torch.Tensor:
    """Tokens up to the last non-padding one (at least 1, so an empty text still runs)."""
    positions = torch.arange(1, ids.shape[1] + 1, device=ids.device)
    return (positions * (ids != 0)).amax(dim=1).clamp(min=1)


class Baseline(nn.Module, ABC):
    """A classifier whose last layer is ``self.head`` (``nn.Linear``: features → logits).

    Subclasses build ``self.head`` and implement :meth:`embed` and :meth:`body_groups`.
    """

    head: nn.Linear

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__()
        self.spec = spec                  # the data it was built for: spec.classes names the logits
        self.activation = config.activation

    @abstractmethod
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The features right before the head, ``[B, D]``."""

    @abstractmethod
    def body_groups(self) -> list[list[nn.Module]]:
        """The layers before the head, grouped from input onwards."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    @property
    def embedding_dim(self) -> int:
        return self.head.in_features

    def layer_groups(self) -> list[list[nn.Module]]:
        """Modules from input to head, head last: ``--freeze N`` freezes the first N
        groups, discriminative rates give each group its own learning rate."""
        return [*self.body_groups(), [self.head]]

    def reset_parameters(self) -> None:
        """Kaiming-normal weights, the small positive bias, and the head at gain 1, bias 0."""
        if self.activation == "leaky_relu":
            gain = {"a": LEAKY_SLOPE, "nonlinearity": "leaky_relu"}
        elif self.activation == "maxout":
            gain = {"nonlinearity": "linear"}
        else:
            gain = {"nonlinearity": "relu"}
        for module in self.modules():
            if module is self.head:
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="linear")
                nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                # every such layer here feeds an activation (through batch norm at most)
                nn.init.kaiming_normal_(module.weight, mode="fan_in", **gain)
                nn.init.constant_(module.bias, ACTIVE_BIAS)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
                nn.init.normal_(module.weight, 0.0, 0.1)
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
            # GRUs keep torch's uniform(±1/sqrt(hidden)): their gates are sigmoid/tanh, not ReLU


class MLP(Baseline):
    """Two hidden layers (Linear → BatchNorm → activation → Dropout) over the flattened
    input; text token ids are embedded first, so the vector is the texts' word vectors."""

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        width = config.width
        n_in = math.prod(spec.input_shape)
        self.tokens = nn.Embedding(_vocab_size(spec), width, padding_idx=0) if spec.modality == "text" else None
        if self.tokens is not None:
            n_in *= width
        self.hidden = nn.ModuleList([_dense_block(n_in, width, config), _dense_block(width, width, config)])
        self.head = nn.Linear(width, spec.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.tokens is not None:
            x = self.tokens(x)
        x = x.flatten(1).float()
        for block in self.hidden:
            x = block(x)
        return x

    def body_groups(self) -> list[list[nn.Module]]:
        first = [[self.tokens]] if self.tokens is not None else []
        return first + [[block] for block in self.hidden]


class ImageCNN(Baseline):
    """Blocks of (Conv3x3 → BatchNorm → activation) x 2 → MaxPool, widths w, 2w, 4w while
    the image is at least 2 pixels on a side, then global average pooling and dropout."""

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        channels, height, width = spec.input_shape
        blocks, size, n_in = [], min(height, width), channels
        k = _pieces(config)
        for n_out in (config.width, 2 * config.width, 4 * config.width):
            if size < 2:
                break
            blocks.append(nn.Sequential(
                nn.Conv2d(n_in, n_out * k, 3, padding=1), nn.BatchNorm2d(n_out * k), _activation(config),
                nn.Conv2d(n_out, n_out * k, 3, padding=1), nn.BatchNorm2d(n_out * k), _activation(config),
                nn.MaxPool2d(2)))
            size, n_in = size // 2, n_out
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout))
        self.head = nn.Linear(n_in, spec.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return _through_blocks(self, x)

    def body_groups(self) -> list[list[nn.Module]]:
        return _block_groups(self)


class AudioCNN(Baseline):
    """A 1-D CNN over the frames of a log-mel spectrogram, the mel bins as channels: blocks
    of (Conv3 → BatchNorm → activation) x 2 → MaxPool while there are frames to halve,
    then global average pooling over time and dropout."""

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        _, n_mels, frames = spec.input_shape
        blocks, n_in, k = [], n_mels, _pieces(config)
        for n_out in (config.width, 2 * config.width, 4 * config.width):
            pool = nn.MaxPool1d(2) if frames >= 2 else nn.Identity()
            blocks.append(nn.Sequential(
                nn.Conv1d(n_in, n_out * k, 3, padding=1), nn.BatchNorm1d(n_out * k), _activation(config),
                nn.Conv1d(n_out, n_out * k, 3, padding=1), nn.BatchNorm1d(n_out * k), _activation(config),
                pool))
            frames, n_in = max(frames // 2, 1), n_out
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(config.dropout))
        self.head = nn.Linear(n_in, spec.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return _through_blocks(self, x.flatten(1, 2))   # (B, 1, mels, frames) → (B, mels, frames)

    def body_groups(self) -> list[list[nn.Module]]:
        return _block_groups(self)


def _through_blocks(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A convolutional stack's features: its blocks in order, then the pooling."""
    for block in model.blocks:
        x = block(x)
    return model.pool(x)


def _block_groups(model: nn.Module) -> list[list[nn.Module]]:
    """One layer group per convolutional block, the pooling with the last."""
    groups = [[block] for block in model.blocks]
    groups[-1].append(model.pool)
    return groups


class AudioGRU(Baseline):
    """A bidirectional GRU over frames (mel bins as features); both directions' last
    hidden states, concatenated, feed the head."""

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        n_mels = spec.input_shape[1]
        # log-mels arrive in decibels (tens below zero): normalising each bin keeps the
        # GRU's sigmoid/tanh gates out of saturation
        self.norm = nn.BatchNorm1d(n_mels)
        self.gru = nn.GRU(n_mels, config.width, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * config.width, spec.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1, 2)                             # (B, mels, frames)
        _, hidden = self.gru(self.norm(x).transpose(1, 2))
        return self.dropout(torch.cat([hidden[0], hidden[1]], dim=1))

    def body_groups(self) -> list[list[nn.Module]]:
        return [[self.norm], [self.gru, self.dropout]]


class BagOfNgrams(Baseline):
    """A linear model of each text's unigrams and hashed bigrams, weighted as TF-IDF's
    sublinear term frequency (``1 + log(count)``, L2-normalised per text): their
    embeddings, summed with those weights, feed the head.

    No idf: the embeddings learn each n-gram's scale, and on the 6-class fortunes the idf
    moved logistic regression by less than its spread. No hidden layer: a mean of
    embeddings through a hidden layer with batch norm fitted 1,437 texts in a few epochs
    and then only memorised them (test 0.56 against 0.65 for TF-IDF + logistic regression).
    """

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.vocab_size = _vocab_size(spec)
        self.bag = nn.EmbeddingBag(self.vocab_size + BIGRAM_BUCKETS, config.width, mode="sum", padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.width, spec.n_classes)

    def ngram_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Unigram ids followed by bigram ids (``vocab_size + hash % BIGRAM_BUCKETS``);
        a bigram that touches padding is padding."""
        left, right = ids[:, :-1], ids[:, 1:]
        # a fixed odd multiplier spreads (left, right) pairs over the buckets; int64
        # cannot overflow for vocabularies under ~10^12
        bigrams = self.vocab_size + (left * 1_000_003 + right) % BIGRAM_BUCKETS
        bigrams = bigrams.masked_fill((left == 0) | (right == 0), 0)
        return torch.cat([ids, bigrams], dim=1)

    @staticmethod
    def ngram_weights(ngrams: torch.Tensor) -> torch.Tensor:
        """Each occurrence's share of its n-gram's ``1 + log(count)``, over the text's L2
        norm: summed over the occurrences, an n-gram gets its sublinear, normalised tf.

        >>> BagOfNgrams.ngram_weights(torch.tensor([[5, 5, 7, 0]])).mul(1000).round().tolist()
        [[431.0, 431.0, 509.0, 0.0]]
        """
        present = ngrams != 0
        counts = ((ngrams[:, :, None] == ngrams[:, None, :]) & present[:, None, :]).sum(dim=2).clamp(min=1).float()
        tf = 1 + torch.log(counts)
        squares = (tf * tf / counts * present).sum(dim=1, keepdim=True)  # each n-gram's tf**2, once
        return tf / counts * present / squares.clamp(min=1e-12).sqrt()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        ngrams = self.ngram_ids(x)
        return self.dropout(self.bag(ngrams, per_sample_weights=self.ngram_weights(ngrams)))

    def body_groups(self) -> list[list[nn.Module]]:
        return [[self.bag, self.dropout]]


class TextGRU(Baseline):
    """Word embeddings → a bidirectional GRU over each text's true length (packed, so
    padding never reaches it); both directions' last hidden states feed the head."""

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        self.tokens = nn.Embedding(_vocab_size(spec), config.width, padding_idx=0)
        self.gru = nn.GRU(config.width, config.width, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * config.width, spec.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.tokens(x), _token_lengths(x).cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, hidden = self.gru(packed)
        return self.dropout(torch.cat([hidden[0], hidden[1]], dim=1))

    def body_groups(self) -> list[list[nn.Module]]:
        return [[self.tokens], [self.gru, self.dropout]]


class TextCNN(Baseline):
    """Word embeddings → parallel 1-D convolutions (3 and 5 words) → activation → max over
    each text's true length (padding masked) → dropout."""

    KERNELS = (3, 5)

    def __init__(self, spec: DataSpec, config: TrainConfig):
        super().__init__(spec, config)
        width = config.width
        self.tokens = nn.Embedding(_vocab_size(spec), width, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv1d(width, width * _pieces(config), k, padding=k // 2), _activation(config))
            for k in self.KERNELS)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(width * len(self.KERNELS), spec.n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        vectors = self.tokens(x).transpose(1, 2)         # (B, width, tokens)
        past_end = torch.arange(x.shape[1], device=x.device) >= _token_lengths(x)[:, None]
        pooled = [conv(vectors).masked_fill(past_end[:, None, :], float("-inf")).amax(dim=2)
                  for conv in self.convs]
        return self.dropout(torch.cat(pooled, dim=1))

    def body_groups(self) -> list[list[nn.Module]]:
        return [[self.tokens], [*self.convs, self.dropout]]


def _vocab_size(spec: DataSpec) -> int:
    if spec.vocab_size < 2:
        raise ValueError(f"a text DataSpec needs vocab_size >= 2 (padding and unknown), got {spec.vocab_size}")
    return spec.vocab_size


for _modality in AUTO:
    MODELS.register(f"{_modality}/mlp", MLP)
MODELS.register("image/cnn", ImageCNN)
MODELS.register("audio/cnn", AudioCNN)
MODELS.register("audio/rnn", AudioGRU)
MODELS.register("text/bow", BagOfNgrams)
MODELS.register("text/rnn", TextGRU)
MODELS.register("text/cnn", TextCNN)


def model_choices(modality: str) -> list[str]:
    """The model names that fit ``modality``, its auto choice first."""
    names = [key.split("/", 1)[1] for key in MODELS.names() if key.startswith(f"{modality}/")]
    return sorted(names, key=lambda name: name != AUTO.get(modality))


def resolve_model_name(spec: DataSpec, name: str) -> str:
    """The concrete model ``name`` stands for on ``spec``'s data (``auto`` picks by modality).

    >>> resolve_model_name(DataSpec("text", ("a", "b"), (16,), vocab_size=50), "auto")
    'bow'
    >>> resolve_model_name(DataSpec("tabular", ("a", "b"), (4,)), "cnn")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: model='cnn' does not fit tabular data; choose auto or mlp
    """
    if spec.modality not in AUTO:
        raise CuraugError(f"no model for modality '{spec.modality}' (known: {', '.join(AUTO)})", param="model")
    concrete = AUTO[spec.modality] if name == "auto" else name
    choices = model_choices(spec.modality)
    if concrete not in choices:
        raise CuraugError(f"model='{name}' does not fit {spec.modality} data; choose auto or "
                          f"{', '.join(choices)}", param="model")
    return concrete


def build_model(spec: DataSpec, config: TrainConfig) -> Baseline:
    """A freshly initialised baseline for ``spec``'s data; the same ``config.seed`` gives
    the same weights, and the caller's global torch RNG is left as it was. A width of None
    is that of a large data set (:data:`WIDTH`): ``curaug train`` sizes it to the training data first."""
    name = resolve_model_name(spec, config.model)
    if config.width is None:
        config = config.model_copy(update={"width": WIDTH})
    model_class = MODELS.get(f"{spec.modality}/{name}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = model_class(spec, config)
        model.reset_parameters()
    return model


def load_init(model: Baseline, path: str | Path) -> dict:
    """Load ``--init`` weights into ``model`` (a state dict, or ``{"model": state_dict}``
    as in a training checkpoint), safely (``weights_only=True``).

    Every tensor must match the model's name and shape, except the head's: a checkpoint
    trained on another number of classes keeps the new head, and its names are returned
    under ``skipped``. Returns ``{"loaded": number of tensors loaded, "skipped": [names]}``.
    """
    path = Path(path)
    if not path.is_file():
        raise CuraugError(f"init={str(path)!r}: no such file", param="init")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors alike for a bad file
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CuraugError(f"init={str(path)!r} is not a weights-only torch checkpoint: {first_line}",
                          param="init") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CuraugError(f"init={str(path)!r} holds no state dict (name → tensor)", param="init")

    own = model.state_dict()
    head = {f"head.{name}" for name in model.head.state_dict()}
    head_differs = any(name in state and state[name].shape != own[name].shape for name in head)
    skipped = sorted(head) if head_differs else []
    for name, tensor in own.items():
        if name in skipped:
            continue
        if name not in state:
            raise CuraugError(f"init={str(path)!r} does not fit this model: it has no '{name}'", param="init")
        if state[name].shape != tensor.shape:
            raise CuraugError(f"init={str(path)!r} does not fit this model: layer '{name}' is "
                              f"{tuple(state[name].shape)} there, {tuple(tensor.shape)} here", param="init")
    extra = [name for name in state if name not in own]
    if extra:
        raise CuraugError(f"init={str(path)!r} does not fit this model: it has '{extra[0]}', "
                          f"which this model lacks", param="init")
    model.load_state_dict({name: own[name] if name in skipped else state[name] for name in own})
    return {"loaded": len(own) - len(skipped), "skipped": skipped}
