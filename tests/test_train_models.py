"""The baselines: shapes for every modality, the model a name picks, seeded and
Kaiming-initialised weights, layer groups for freezing, ``--init`` loading, and that a
model can actually learn."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from curate.errors import CuraugError
from pipelines.train.config import TrainConfig
from pipelines.train.models import ACTIVE_BIAS, build_model, load_init, resolve_model_name
from pipelines.train.types import DataSpec

CLASSES = ("a", "b", "c")
SPECS = {
    "tabular": DataSpec("tabular", CLASSES, (12,)),
    "image": DataSpec("image", CLASSES, (3, 16, 16)),
    "audio": DataSpec("audio", CLASSES, (1, 16, 20)),
    "text": DataSpec("text", CLASSES, (24,), vocab_size=50),
}
PAIRS = [("tabular", "mlp"), ("image", "cnn"), ("image", "mlp"), ("audio", "cnn"), ("audio", "rnn"),
         ("audio", "mlp"), ("text", "bow"), ("text", "rnn"), ("text", "cnn"), ("text", "mlp")]


def _batch(spec: DataSpec, n: int = 5, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if spec.modality != "text":
        return torch.randn(n, *spec.input_shape, generator=g)
    ids = torch.randint(2, spec.vocab_size, (n, *spec.input_shape), generator=g)
    lengths = torch.tensor([spec.input_shape[0], 7, 1, 3, 0][:n] + [5] * max(n - 5, 0))
    ids[torch.arange(spec.input_shape[0]) >= lengths[:, None]] = 0   # right padding; one text empty
    return ids


def _build(modality: str, model: str, **settings) -> nn.Module:
    return build_model(SPECS[modality], TrainConfig(model=model, **{"width": 8, **settings}))


@pytest.mark.parametrize(("modality", "name"), PAIRS)
def test_every_model_gives_logits_and_embeddings_for_its_modality(modality, name):
    model = _build(modality, name)
    x = _batch(SPECS[modality])
    logits = model(x)
    assert logits.shape == (5, len(CLASSES))
    assert torch.isfinite(logits).all()
    logits.sum().backward()          # trains: every parameter gets a gradient
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        features = model.embed(x)
        assert features.shape == (5, model.embedding_dim)
        assert torch.equal(model(x), model.head(features))


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (1, 64, 64), (3, 64, 48), (3, 9, 13)])
def test_image_cnn_runs_from_8x8_to_64x64_with_one_or_three_channels(shape):
    spec = DataSpec("image", CLASSES, shape)
    model = build_model(spec, TrainConfig(width=4))
    assert model(torch.rand(2, *shape)).shape == (2, 3)
    # widths w, 2w, 4w: three halvings fit even the 8-pixel side
    assert [block[0].out_channels for block in model.blocks] == [4, 8, 16]


@pytest.mark.parametrize(("modality", "expected"), [("tabular", "mlp"), ("image", "cnn"), ("audio", "cnn"),
                                                    ("text", "bow")])
def test_auto_picks_the_model_for_the_structure_of_the_data(modality, expected):
    assert resolve_model_name(SPECS[modality], "auto") == expected
    assert resolve_model_name(SPECS[modality], "mlp") == "mlp"
    assert type(_build(modality, "auto")) is type(_build(modality, expected))


@pytest.mark.parametrize(("modality", "name", "choices"), [
    ("tabular", "cnn", "choose auto or mlp"), ("tabular", "rnn", "choose auto or mlp"),
    ("image", "rnn", "choose auto or cnn, mlp"), ("image", "bow", "choose auto or cnn, mlp"),
    ("audio", "bow", "choose auto or cnn, mlp, rnn")])
def test_a_model_that_does_not_fit_the_modality_is_refused_with_the_choices(modality, name, choices):
    with pytest.raises(CuraugError) as err:
        _build(modality, name)
    assert err.value.param == "model"
    assert f"model='{name}' does not fit {modality} data" in str(err.value)
    assert str(err.value).endswith(choices)


def test_an_unknown_modality_is_refused():
    with pytest.raises(CuraugError, match="no model for modality 'video'"):
        build_model(DataSpec("video", CLASSES, (3, 8, 8, 8)), TrainConfig())


@pytest.mark.parametrize(("modality", "name"), PAIRS)
def test_the_same_seed_builds_the_same_weights_and_leaves_the_global_rng_alone(modality, name):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = _build(modality, name, seed=7).state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    again = _build(modality, name, seed=7).state_dict()
    other = _build(modality, name, seed=8).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_kaiming_weights_small_positive_bias_and_a_neutral_head(activation):
    spec = DataSpec("tabular", ("a", "b", "c", "d"), (400,))
    model = build_model(spec, TrainConfig(width=256, activation=activation))
    first, second = model.hidden[0][0], model.hidden[1][0]
    slope = 0.01 if activation == "leaky_relu" else 0.0
    for layer in (first, second):
        fan_in = layer.weight.shape[1]
        expected = math.sqrt(2 / ((1 + slope**2) * fan_in))
        assert layer.weight.std().item() == pytest.approx(expected, rel=0.1)
        assert torch.all(layer.bias == ACTIVE_BIAS)
    assert model.head.weight.std().item() == pytest.approx(1 / math.sqrt(256), rel=0.1)
    assert torch.all(model.head.bias == 0)
    norm = model.hidden[0][1]
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


def test_convolutions_are_kaiming_initialised_with_the_fan_in_of_the_kernel():
    model = build_model(SPECS["image"], TrainConfig(width=32))
    conv = model.blocks[1][3]                     # 64 → 64 channels, 3x3: fan-in 576
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.1)
    assert torch.all(conv.bias == ACTIVE_BIAS)


@pytest.mark.parametrize("name", ["bow", "rnn", "cnn"])
def test_text_embeddings_start_small_with_a_zero_padding_row(name):
    model = _build("text", name, width=64)
    table = (model.bag if name == "bow" else model.tokens).weight
    assert torch.all(table[0] == 0)
    assert table[1:].std().item() == pytest.approx(0.1, rel=0.1)


@pytest.mark.parametrize("name", ["bow", "rnn", "cnn"])
def test_text_models_ignore_padding(name):
    model = _build("text", name).eval()
    x = _batch(SPECS["text"])
    longer = torch.cat([x, torch.zeros(5, 9, dtype=x.dtype)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(x), model(longer), atol=1e-6)
        # the one-word text (row 2) alone, unpadded, scores as it does padded to 24 tokens
        assert torch.allclose(model(x[2:3, :1]), model(x[2:3]), atol=1e-6)


@pytest.mark.parametrize(("modality", "name"), PAIRS)
def test_layer_groups_cover_every_parameter_once_from_input_to_head(modality, name):
    model = _build(modality, name)
    groups = model.layer_groups()
    assert groups[-1] == [model.head]
    # the bag of n-grams is linear (n-gram embeddings, head): two groups; the others have a body
    assert len(groups) >= (2 if name == "bow" else 3)
    seen = [id(p) for group in groups for module in group for p in module.parameters()]
    assert len(seen) == len(set(seen))
    assert set(seen) == {id(p) for p in model.parameters()}


def test_bag_of_ngrams_is_linear_in_the_sublinear_l2_normalised_term_frequencies():
    # what TF-IDF (sublinear_tf, no idf) + a linear model sees: the order of the words, the
    # padding and a word's repetition beyond its 1 + log(count) do not matter
    model = _build("text", "bow").eval()
    text = torch.tensor([[5, 9, 5, 0, 0, 0]])
    ngrams = model.ngram_ids(text)
    weights = model.ngram_weights(ngrams)
    per_ngram = {}
    for ngram, weight in zip(ngrams[0].tolist(), weights[0].tolist()):
        per_ngram[ngram] = per_ngram.get(ngram, 0.0) + weight
    del per_ngram[0]
    tf = {5: 1 + math.log(2), 9: 1.0, ngrams[0, 6].item(): 1.0, ngrams[0, 7].item(): 1.0}  # 5, 9 and two bigrams
    norm = math.sqrt(sum(v * v for v in tf.values()))
    assert per_ngram == pytest.approx({k: v / norm for k, v in tf.items()})
    with torch.no_grad():
        expected = model.head(sum(w * model.bag.weight[k] for k, w in per_ngram.items())[None])
        assert torch.allclose(model(text), expected, atol=1e-6)
        assert torch.allclose(model(torch.tensor([[5, 9, 5, 0]])), expected, atol=1e-6)


def test_load_init_round_trips_a_state_dict_and_a_training_checkpoint(tmp_path):
    trained = _build("image", "cnn", seed=1)
    path = tmp_path / "model.pt"
    torch.save(trained.state_dict(), path)
    fresh = _build("image", "cnn", seed=2)
    report = load_init(fresh, path)
    assert report == {"loaded": len(trained.state_dict()), "skipped": []}
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in trained.state_dict().items())

    torch.save({"model": trained.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    again = _build("image", "cnn", seed=3)
    assert load_init(again, tmp_path / "checkpoint.pt")["skipped"] == []
    assert torch.equal(again.head.weight, trained.head.weight)


def test_load_init_keeps_a_new_head_when_the_class_count_differs(tmp_path):
    pretrained = build_model(DataSpec("image", tuple("abcde"), (3, 16, 16)), TrainConfig(width=8, seed=1))
    torch.save(pretrained.state_dict(), tmp_path / "model.pt")
    model = _build("image", "cnn", seed=2)
    new_head = model.head.weight.clone()
    report = load_init(model, tmp_path / "model.pt")
    assert report["skipped"] == ["head.bias", "head.weight"]
    assert report["loaded"] == len(model.state_dict()) - 2
    assert torch.equal(model.head.weight, new_head)
    assert torch.equal(model.blocks[0][0].weight, pretrained.blocks[0][0].weight)


def test_load_init_names_the_first_layer_that_does_not_fit(tmp_path):
    torch.save(_build("image", "cnn", width=16).state_dict(), tmp_path / "wide.pt")
    model = _build("image", "cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CuraugError) as err:
        load_init(model, tmp_path / "wide.pt")
    assert err.value.param == "init"
    assert "layer 'blocks.0.0.weight' is (16, 3, 3, 3) there, (8, 3, 3, 3) here" in str(err.value)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())

    torch.save(_build("image", "mlp").state_dict(), tmp_path / "mlp.pt")
    with pytest.raises(CuraugError, match="it has no 'blocks.0.0.weight'"):
        load_init(model, tmp_path / "mlp.pt")


def test_load_init_refuses_missing_files_and_pickled_objects(tmp_path):
    model = _build("tabular", "mlp")
    with pytest.raises(CuraugError, match="no such file") as err:
        load_init(model, tmp_path / "nope.pt")
    assert err.value.param == "init"
    # weights_only loading refuses arbitrary objects: a checkpoint cannot run code
    torch.save({"model": model.state_dict(), "spec": SPECS["tabular"]}, tmp_path / "pickled.pt")
    with pytest.raises(CuraugError, match="is not a weights-only torch checkpoint"):
        load_init(model, tmp_path / "pickled.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CuraugError, match="is not a weights-only torch checkpoint"):
        load_init(model, tmp_path / "text.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CuraugError, match="holds no state dict"):
        load_init(model, tmp_path / "list.pt")


def test_the_mlp_overfits_32_random_points():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 10, generator=g), torch.randint(0, 4, (32,), generator=g)
    model = build_model(DataSpec("tabular", tuple("abcd"), (10,)), TrainConfig(width=32))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean().item() == 1.0
