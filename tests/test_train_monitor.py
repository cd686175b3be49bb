"""The training run's debugging aids: curves, activation histograms, error analysis, sanity."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from curate.errors import CuraugError
from pipelines.train.monitor import (ActivationHistograms, SanityError, sanity_check, write_curves,
                                     write_errors)
from pipelines.train.monitor.curves import best_epoch_of
from pipelines.train.types import DataSpec, Predictions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- curves

HISTORY = [
    {"epoch": 1, "train_loss": 1.2, "train_accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.6, "lr": 1e-2},
    {"epoch": 2, "train_loss": 0.8, "train_accuracy": 0.7, "val_loss": 0.7, "val_accuracy": 0.75, "lr": 5e-3},
    {"epoch": 3, "train_loss": 0.5, "train_accuracy": 0.85, "val_loss": 0.9, "val_accuracy": 0.7, "lr": 1e-4},
]


def test_curves_png_is_a_valid_image_of_sensible_size(tmp_path):
    out = tmp_path / "run" / "curves.png"
    write_curves(HISTORY, out)
    assert out.read_bytes()[:8] == PNG_MAGIC
    with Image.open(out) as im:
        im.verify()
    with Image.open(out) as im:
        assert 400 <= im.width <= 2000 and 400 <= im.height <= 2000
    assert [p.name for p in out.parent.iterdir()] == ["curves.png"]  # no temporary file left


def test_curves_without_validation_and_with_a_diverged_epoch(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.5, "val_loss": None, "lr": 0.1},
            {"epoch": 2, "train_loss": float("nan"), "train_accuracy": 0.1, "val_loss": None, "lr": 0.1}]
    write_curves(rows, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert best_epoch_of(rows) == 1


def test_best_epoch_is_the_lowest_validation_loss():
    assert best_epoch_of(HISTORY) == 2


def test_curves_of_an_empty_history_is_an_error(tmp_path):
    with pytest.raises(CuraugError, match="history is empty"):
        write_curves([], tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


# ---------------------------------------------------------------------------- histograms

def _mlp(n_in=3, hidden=8, n_out=2, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _records(outdir):
    return json.loads((outdir / "histograms.json").read_text())["epochs"]


def test_histogram_ranges_come_from_the_data(tmp_path):
    model = _mlp(1, 4)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[200.0], [100.0], [50.0], [10.0]]))
        model[0].bias.zero_()
    x = torch.linspace(0, 1, 16)[:, None]
    hist = ActivationHistograms(x, torch.arange(16) % 2, tmp_path)
    hist.on_epoch_end(1, model, {})
    layer = _records(tmp_path)["1"]["0"]
    acts = layer["activations"]
    assert acts["edges"][0] == pytest.approx(0.0) and acts["edges"][-1] == pytest.approx(200.0)
    assert len(acts["edges"]) == 41 and len(acts["counts"]) == 40
    assert sum(acts["counts"]) == 16 * 4
    assert layer["type"] == "Linear" and layer["weight_gradients"]["counts"]


def test_a_relu_with_a_very_negative_bias_is_all_dead_and_flagged(tmp_path):
    model = _mlp()
    with torch.no_grad():
        model[0].bias.fill_(-1e3)
    hist = ActivationHistograms(torch.randn(32, 3), torch.arange(32) % 2, tmp_path)
    hist.on_epoch_end(1, model, {})
    relu = _records(tmp_path)["1"]["1"]
    assert relu["type"] == "ReLU" and relu["dead_fraction"] == 1.0 and relu["flagged"]
    summary = hist.summary()
    assert summary["epoch"] == 1 and summary["dead_relu"] == {"1": 1.0} and summary["flagged"] == ["1"]
    # the verdict names the activations whose units cannot die (issue 24)
    assert "--activation leaky_relu" in summary["advice"] and "--activation maxout" in summary["advice"]
    assert not list(tmp_path.glob("*.png"))  # figures are drawn once, at the end
    assert hist.write_figures() == [tmp_path / "epoch_001.png"]
    assert (tmp_path / "epoch_001.png").read_bytes()[:8] == PNG_MAGIC


def test_dead_units_are_counted_per_channel(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with torch.no_grad():
        model[0].bias[:3] = -1e3  # 3 of 4 channels never fire, the 4th always does
        model[0].bias[3] = 1e3
    hist = ActivationHistograms(torch.rand(8, 1, 8, 8), torch.arange(8) % 2, tmp_path)
    hist.on_epoch_end(1, model, {})
    assert hist.summary()["dead_relu"] == {"1": 0.75}
    assert hist.summary()["flagged"] == ["1"]


def test_a_healthy_relu_is_not_flagged(tmp_path):
    hist = ActivationHistograms(torch.randn(64, 3), torch.arange(64) % 2, tmp_path)
    hist.on_epoch_end(1, _mlp(), {})
    summary = hist.summary()
    assert summary["dead_relu"]["1"] < 0.5 and summary["flagged"] == []


def test_the_probe_leaves_weights_grads_buffers_modes_and_rng_unchanged(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Flatten(),
                          nn.Dropout(0.5), nn.Linear(4 * 6 * 6, 3))
    x, y = torch.randn(16, 1, 8, 8), torch.arange(16) % 3
    nn.functional.cross_entropy(model(x), y).backward()  # grads as an optimizer step leaves them
    model.eval()
    model[4].train()  # a per-module mode the probe must put back, not a blanket eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    hist = ActivationHistograms(torch.randn(8, 1, 8, 8), torch.arange(8) % 3, tmp_path)
    rng = torch.get_rng_state()
    hist.on_epoch_end(1, model, {})

    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key  # weights, BN running stats, num_batches_tracked
    for name, param in model.named_parameters():
        assert torch.equal(param.grad, grads[name]), name
    assert [m.training for m in model] == [False, False, False, False, True, False]
    layers = _records(tmp_path)["1"]
    # the Linear before the in-place ReLU is recorded before the ReLU overwrote it
    assert layers["0"]["activations"]["edges"][0] < 0 <= layers["2"]["activations"]["edges"][0]
    assert all(layers[name]["gradients"]["counts"] for name in ("0", "2", "5"))


def test_a_model_without_grads_gets_none_back(tmp_path):
    model = _mlp()
    hist = ActivationHistograms(torch.randn(8, 3), torch.arange(8) % 2, tmp_path)
    hist.on_epoch_end(1, model, {})
    assert all(p.grad is None for p in model.parameters())


def test_a_module_applied_twice_is_recorded_at_each_place(tmp_path):
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.act = nn.Linear(3, 5), nn.Linear(5, 2), nn.ReLU()

        def forward(self, x):
            return self.act(self.b(self.act(self.a(x))))

    torch.manual_seed(0)
    hist = ActivationHistograms(torch.randn(8, 3), torch.arange(8) % 2, tmp_path)
    hist.on_epoch_end(1, Twice(), {})
    assert list(_records(tmp_path)["1"]) == ["a", "act", "b", "act#2"]


def test_nonfinite_values_are_counted_not_binned(tmp_path):
    model = _mlp()
    with torch.no_grad():
        model[0].weight[0, 0] = float("inf")
    hist = ActivationHistograms(torch.ones(4, 3), torch.tensor([0, 1, 0, 1]), tmp_path)
    hist.on_epoch_end(1, model, {})
    acts = _records(tmp_path)["1"]["0"]["activations"]
    assert acts["nonfinite"] == 4 and sum(acts["counts"]) == 4 * 8 - 4


def test_every_and_resume_keep_what_was_recorded(tmp_path):
    model, x, y = _mlp(), torch.randn(8, 3), torch.arange(8) % 2
    first = ActivationHistograms(x, y, tmp_path, every=2)
    for epoch in (1, 2):
        first.on_epoch_end(epoch, model, {})
    assert list(_records(tmp_path)) == ["1"]
    resumed = ActivationHistograms(x, y, tmp_path, every=2)
    resumed.load_state_dict(first.state_dict())
    resumed.on_epoch_end(3, model, {})
    resumed.on_epoch_end(5, model, {})
    assert list(_records(tmp_path)) == ["1", "3", "5"]
    resumed.write_figures()  # the first and the last recorded epochs
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["epoch_001.png", "epoch_005.png"]
    assert resumed.summary()["epoch"] == 5


def test_histogram_settings_are_checked():
    with pytest.raises(CuraugError, match="every=0"):
        ActivationHistograms(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), "out", every=0)
    with pytest.raises(CuraugError, match="3 inputs, 2 labels"):
        ActivationHistograms(torch.zeros(3, 3), torch.zeros(2, dtype=torch.long), "out")


# ---------------------------------------------------------------------------- errors


@dataclass
class Split:
    """The part of ManifestDataset that error analysis reads."""

    ids: list
    targets: np.ndarray
    sources: list
    spec: DataSpec

    def __len__(self):
        return len(self.ids)


def _predictions(targets, preds, losses):
    probs = np.full((len(targets), 3), 0.1)
    probs[np.arange(len(targets)), preds] = 0.8
    return Predictions(ids=[f"s{i}" for i in range(len(targets))], targets=np.asarray(targets),
                       probs=probs, losses=np.asarray(losses, dtype=float))


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


TARGETS = [0, 1, 2, 0, 1, 2, 0]
PREDS = [0, 2, 1, 1, 2, 2, 1]  # failures: s1 (1->2), s2 (2->1), s3 (0->1), s4 (1->2), s6 (0->1)
LOSSES = [0.1, 2.0, 1.5, 3.0, 0.5, 9.0, 2.5]


def test_errors_csv_lists_failures_worst_first_and_counts_every_confusion(tmp_path):
    spec = DataSpec("tabular", ("a", "b", "c"), (4,))
    split = Split([f"s{i}" for i in range(7)], np.array(TARGETS), [None] * 7, spec)
    out = tmp_path / "errors.csv"
    result = write_errors(_predictions(TARGETS, PREDS, LOSSES), split, spec.classes, out, limit=3)
    rows = _read_csv(out)
    assert [r["id"] for r in rows] == ["s3", "s6", "s1"]  # s5 (loss 9) is right, so absent
    assert list(rows[0]) == ["id", "label", "prediction", "loss", "confidence"]
    assert rows[0]["label"] == "a" and rows[0]["prediction"] == "b"
    assert float(rows[0]["loss"]) == 3.0 and float(rows[0]["confidence"]) == pytest.approx(0.8)
    assert result["failed"] == 5 and result["shown"] == 3
    assert result["top_confusions"][:2] == [{"label": "a", "prediction": "b", "count": 2},
                                            {"label": "b", "prediction": "c", "count": 2}]
    assert sum(c["count"] for c in result["top_confusions"]) == 5
    assert not (tmp_path / "gallery.html").exists()  # tabular rows have nothing to show


def test_no_failures_writes_a_header_only_csv(tmp_path):
    spec = DataSpec("tabular", ("a", "b", "c"), (4,))
    split = Split(["s0", "s1"], np.array([0, 1]), [None, None], spec)
    result = write_errors(_predictions([0, 1], [0, 1], [0.1, 0.2]), split, spec.classes, tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text().strip() == "id,label,prediction,loss,confidence"
    assert result == {"failed": 0, "shown": 0, "top_confusions": []}


def test_image_gallery_has_one_thumbnail_per_shown_failure_and_escapes_labels(tmp_path):
    sources = []
    for i in range(7):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(np.full((40, 30, 3), i * 30, dtype=np.uint8)).save(path)
        sources.append(str(path))
    classes = ("<b>", "b & c", "x")
    split = Split([f"s{i}" for i in range(7)], np.array(TARGETS), sources, DataSpec("image", classes, (3, 8, 8)))
    result = write_errors(_predictions(TARGETS, PREDS, LOSSES), split, classes, tmp_path / "out" / "errors.csv",
                          limit=4)
    page = (tmp_path / "out" / "gallery.html").read_text()
    assert page.count("<img ") == result["shown"] == 4
    assert "<b>" not in page and "label &lt;b&gt;" in page and "b &amp; c" in page
    assert page.count("data:image/png;base64,") == 4 and "5 failed examples" in page


def test_gallery_notes_an_unreadable_image_and_keeps_the_others(tmp_path):
    good = tmp_path / "good.png"
    Image.new("L", (10, 10)).save(good)
    classes = ("a", "b", "c")
    split = Split(["s0", "s1"], np.array([0, 0]), [str(good), str(tmp_path / "gone.png")],
                  DataSpec("image", classes, (1, 8, 8)))
    write_errors(_predictions([0, 0], [1, 1], [1.0, 2.0]), split, classes, tmp_path / "errors.csv")
    page = (tmp_path / "gallery.html").read_text()
    assert page.count("<img ") == 1 and "cannot show gone.png" in page


def test_audio_gallery_shows_spectrograms_of_files_and_npy(tmp_path):
    import soundfile as sf

    wav = tmp_path / "tone.wav"
    sf.write(wav, 0.3 * np.sin(np.linspace(0, 2000, 8000)).astype(np.float32), 8000)
    npy = tmp_path / "aug.npy"
    np.save(npy, np.random.default_rng(0).normal(size=(1, 16, 20)).astype(np.float32))
    classes = ("yes", "no", "up")
    split = Split(["s0", "s1"], np.array([0, 1]), [str(wav), str(npy)], DataSpec("audio", classes, (1, 16, 20)))
    write_errors(_predictions([0, 1], [1, 0], [1.0, 2.0]), split, classes, tmp_path / "errors.csv")
    page = (tmp_path / "gallery.html").read_text()
    assert page.count("<img ") == 2 and "cannot show" not in page


def test_text_gallery_shows_the_escaped_text(tmp_path):
    classes = ("pos", "neg", "other")
    split = Split(["s0"], np.array([0]), ["great <script>alert(1)</script> film"], DataSpec("text", classes, (8,)))
    write_errors(_predictions([0], [1], [1.0]), split, classes, tmp_path / "errors.csv")
    page = (tmp_path / "gallery.html").read_text()
    assert "great &lt;script&gt;alert(1)&lt;/script&gt; film" in page and "<script>" not in page


def test_predictions_of_another_dataset_are_refused(tmp_path):
    spec = DataSpec("tabular", ("a", "b", "c"), (4,))
    split = Split(["s0"], np.array([0]), [None], spec)
    with pytest.raises(CuraugError, match="cover 2 examples but the dataset holds 1"):
        write_errors(_predictions([0, 1], [1, 0], [1.0, 1.0]), split, spec.classes, tmp_path / "e.csv")
    shuffled = Split(["s1", "s0"], np.array([1, 0]), [None, None], spec)
    with pytest.raises(CuraugError, match="not in the dataset's order"):
        write_errors(_predictions([0, 1], [1, 0], [1.0, 1.0]), shuffled, spec.classes, tmp_path / "e.csv")
    assert not (tmp_path / "e.csv").exists()


# ---------------------------------------------------------------------------- sanity


def test_sanity_passes_on_a_learnable_batch_and_leaves_the_model_and_rng_alone():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    model.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    result = sanity_check(model, x, y)
    assert result["accuracy"] == 1.0 and 0 < result["steps"] <= 300 and result["loss"] < 0.7
    assert torch.get_rng_state().equal(rng)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert sanity_check(model, x, y) == result  # seeded: the same figures every time


def test_sanity_fails_loudly_when_labels_cannot_be_learned():
    x = torch.zeros(32, 4)
    y = torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(0))
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(SanityError, match="check that the labels match their inputs") as info:
        sanity_check(model, x, y, steps=50)
    assert not isinstance(info.value, CuraugError)
    assert "after 50 Adam steps" in str(info.value) and "\n" not in str(info.value)


def test_sanity_refuses_a_large_batch():
    with pytest.raises(CuraugError, match="2 to 64 samples"):
        sanity_check(_mlp(), torch.zeros(65, 3), torch.zeros(65, dtype=torch.long))


class Tokens(nn.Module):
    """A text baseline's shape: token ids -> embedding -> GRU (with dropout) -> head."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.gru = nn.GRU(8, 8, num_layers=2, dropout=0.3, batch_first=True)
        self.head = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x):
        out, _ = self.gru(self.embed(x))
        return self.head(out)[:, -1]


def test_a_sequence_model_is_probed_per_feature_and_sanity_checked(tmp_path):
    torch.manual_seed(0)
    model = Tokens()
    x = torch.randint(1, 20, (16, 6), generator=torch.Generator().manual_seed(0))
    y = (x[:, -1] > 10).long()
    assert sanity_check(model, x, y)["accuracy"] == 1.0
    with torch.no_grad():
        model.head[0].bias[:3] = -1e3
    hist = ActivationHistograms(x, y, tmp_path)
    hist.on_epoch_end(1, model, {})
    assert list(_records(tmp_path)["1"]) == ["head.0", "head.1", "head.2"]
    # the ReLU's units are its 8 features (3 dead), not the 6 time steps in dimension 1
    assert hist.summary()["dead_relu"] == {"head.1": 3 / 8}
    assert model.gru.dropout == 0.3


def test_curves_carry_the_title_asked_above_the_loss_panel(tmp_path, monkeypatch):
    """After a search the curves are the chosen trial's folds, and their title says so
    (issue 22 item 11); without a title it names the best epoch."""
    from matplotlib.figure import Figure

    drawn = []
    real = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **kw: (drawn.append(fig), real(fig, *a, **kw)))
    rows = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "lr": 0.01} for e in (1, 2, 3)]
    write_curves(rows, tmp_path / "a.png", best_epoch=2, title="search trial 3 (mean of 5 folds)")
    write_curves(rows, tmp_path / "b.png")
    assert [fig.axes[0].get_title() for fig in drawn] == ["search trial 3 (mean of 5 folds)", "best epoch 3"]
    assert [ax.get_ylabel() for ax in drawn[0].axes] == ["loss", "accuracy", "learning rate"]
