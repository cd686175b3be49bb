"""Baselines on small data (issue 22): a handful of images never collapses to one class."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import curaug
from pipelines.train.config import TrainConfig
from pipelines.train.data import prepare_data
from pipelines.train.loop import evaluate, fit, recompute_batch_norm
from pipelines.train.models import build_model

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
#: 18 digits of four classes, as in the issue: split 10 / 4 / 4
EIGHTEEN = {"0": 5, "1": 5, "7": 4, "8": 4}


@pytest.fixture(scope="module")
def eighteen_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eighteen")
    for label, count in EIGHTEEN.items():
        (folder / label).mkdir()
        for file in sorted((SAMPLE / "images" / label).glob("digit_*.png"))[:count]:
            shutil.copy(file, folder / label / file.name)
    manifest = curaug.split(curaug.ingest(folder).manifest, label="label", seed=0)
    assert manifest["split"].value_counts().to_dict() == {"train": 10, "val": 4, "test": 4}
    return manifest


@pytest.mark.parametrize("seed", range(4))
def test_eighteen_images_never_collapse_to_one_class(eighteen_images, tmp_path, seed):
    # one batch per epoch: batch norm's running statistics (momentum 0.1) held 0.9**k of
    # their initial values after k epochs, so every evaluation saw a network that was not
    # the trained one: val loss 1.5 to 7 rising from epoch 1, early stopping restored
    # epoch 1, and every val and test image was given one class. The settings are the
    # harness's defaults for 10 training images (sized to the data by fit), but 30 epochs
    # (the old default) instead of 100, which keeps the test fast
    config = TrainConfig(epochs=30, device="cpu", seed=seed)
    prepared = prepare_data(eighteen_images, config, base_dir=tmp_path)
    model = build_model(prepared.spec, config)
    result = fit(model, prepared.splits["train"], prepared.splits["val"], config)
    losses = [row["val_loss"] for row in result.history]
    assert result.best_epoch > 1 and losses[result.best_epoch - 1] < 0.5 * np.log(len(EIGHTEEN)), losses
    for split in ("val", "test"):
        predictions = evaluate(model, prepared.splits[split], device="cpu")
        assert len(set(predictions.preds.tolist())) > 1, f"{split}: every image given one class"
        assert (predictions.preds == predictions.targets).mean() >= 0.5


def test_batch_norm_statistics_are_the_training_data_s_in_eval_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5),
                                torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4)).train()
    x = torch.randn(700, 3) * 5 + 2
    rng_before = torch.get_rng_state()
    recompute_batch_norm(model, x, rows=350)
    assert model.training and model[1].momentum == 0.1
    assert torch.equal(torch.get_rng_state(), rng_before)  # no dropout drawn: eval-mode statistics
    hidden = model[0](x[::2])  # 350 of the 700 rows, evenly spaced
    assert torch.allclose(model[1].running_mean, hidden.mean(0), atol=1e-5)
    assert torch.allclose(model[1].running_var, hidden.var(0), rtol=1e-2)
    second = model[3](model[1].eval()(hidden))
    assert torch.allclose(model[4].running_mean, second.mean(0), atol=1e-3)


def _reference_and_default(manifest, label, features, reference, tmp_path):
    """(reference test accuracy, the harness default's test accuracy) on the same split."""
    train, test = (manifest[manifest["split"] == s] for s in ("train", "test"))
    ref = reference().fit(features(train, fit=True), train[label].astype(str))
    ref_accuracy = (ref.predict(features(test)) == test[label].astype(str).to_numpy()).mean()
    metrics = curaug.train(manifest, label=label, out=tmp_path / "run", device="cpu")
    return ref_accuracy, metrics


def test_wine_default_mlp_matches_logistic_regression(tmp_path):
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    table = load_wine(as_frame=True).frame.rename(columns={"target": "label"})
    manifest = curaug.split(table, label="label", seed=0)
    columns = [c for c in table.columns if c != "label"]
    scaler = StandardScaler()

    def features(rows, fit=False):
        return scaler.fit_transform(rows[columns]) if fit else scaler.transform(rows[columns])

    ref_accuracy, metrics = _reference_and_default(manifest, "label", features,
                                                   lambda: LogisticRegression(max_iter=5000), tmp_path)
    # 30 epochs of batches of 64 were 60 optimizer steps: val 0.83, still improving at epoch 26
    assert metrics["rows"]["train"] == 107 and metrics["stopped_epoch"] > 30
    assert metrics["val"]["accuracy"] >= 0.94
    assert metrics["test"]["accuracy"] >= ref_accuracy



def test_fine_tuning_keeps_the_checkpoint_s_width_rather_than_the_sized_one(eighteen_images, tmp_path):
    first = curaug.train(eighteen_images, label="label", out=tmp_path / "first", device="cpu", epochs=2,
                         width=8, image_size=16)
    assert first["model"] == "cnn"
    # 10 training images would be sized to width 16: the checkpoint's 8 must win
    again = curaug.train(eighteen_images, label="label", out=tmp_path / "again", device="cpu", epochs=2,
                         image_size=16, init=str(tmp_path / "first" / "model.pt"))
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["config"]["width"] == 8 and "width" not in config["sized_to_data"]
    assert set(again["test"]) >= {"accuracy", "confusion"}
