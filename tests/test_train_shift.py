"""Training on shifted data and the course's remaining model advice (issue 24, sections 2 and 3).

A domain split's run reports error on train, train_val, val and test and the three gaps
(avoidable bias, variance, data mismatch) with the remedy for the largest; a CUDA
out-of-memory error halves the batch and goes on; maxout baselines train.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import curaug
from pipelines.train.gaps import REMEDIES


@pytest.fixture(scope="module")
def noisy_digits(tmp_path_factory):
    """scikit-learn's 8x8 digits as a table of 64 pixels; every third digit seen by a
    'noisy' camera (Gaussian noise, sd 4 on pixels of 0-16): the target domain."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    noisy = np.arange(len(X)) % 3 == 0
    X = X.copy()
    X[noisy] += np.random.default_rng(0).normal(0, 4, X[noisy].shape)
    df = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)])
    df["digit"] = y.astype(str)
    df["camera"] = np.where(noisy, "noisy", "clean")
    out = curaug.split(df, label="digit", domain="camera", target="noisy", seed=0)
    path = tmp_path_factory.mktemp("noisy_digits") / "split.parquet"
    out.to_parquet(path, index=False)
    return path


def test_a_noisy_target_camera_is_diagnosed_as_data_mismatch_with_its_remedy(cli, noisy_digits, tmp_path):
    r = cli("train", noisy_digits, "--label", "digit", "-o", tmp_path / "run", "--epochs", "12", "--lr", "0.01")
    assert r.code == 0, r.err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    gaps = metrics["gaps"]
    errors = gaps["errors"]
    assert list(errors) == ["train", "train_val", "val", "test"]
    for split in errors:  # each error is the split's own figure
        assert errors[split] == pytest.approx(1 - metrics[split]["accuracy"], abs=1e-6)
    assert metrics["train_val"]["confusion"] and sum(map(sum, metrics["train_val"]["confusion"])) == 299
    assert gaps["avoidable_bias"] == pytest.approx(errors["train"], abs=1e-6)  # no human error given: 0
    assert gaps["variance"] == pytest.approx(errors["train_val"] - errors["train"], abs=1e-6)
    assert gaps["data_mismatch"] == pytest.approx(errors["val"] - errors["train_val"], abs=1e-6)
    # the clean camera is learnt; the noisy one is not
    assert errors["train_val"] < 0.2 and gaps["data_mismatch"] > 0.2
    assert gaps["largest"] == "data_mismatch" and gaps["remedy"] == REMEDIES["data_mismatch"]
    assert "data mismatch" in r.out and "(largest): make the training data more like the target" in r.out
    assert "error rates: train" in r.out and "train_val" in r.out


def test_the_domain_column_is_flagged_as_a_domain_marker_and_exclude_leaves_it_out(cli, noisy_digits, tmp_path):
    """After a domain split the domain column is a feature whose every val value training
    never saw (it encodes as an unknown category): the run says so; --exclude leaves it out."""
    r = cli("train", noisy_digits, "--label", "digit", "-o", tmp_path / "flagged", "--epochs", "2")
    assert r.code == 0, r.err
    warning = ("column 'camera' has none of its val values (noisy) in train: it marks the domain, not the class; "
               "leave it out with --exclude camera")
    assert f"warning: {warning}" in r.out
    assert warning in json.loads((tmp_path / "flagged" / "metrics.json").read_text())["warnings"]
    r = cli("train", noisy_digits, "--label", "digit", "-o", tmp_path / "run", "--epochs", "2", "--exclude", "camera")
    assert r.code == 0, r.err
    assert "marks the domain" not in r.out
    encoder = json.loads((tmp_path / "run" / "config.json").read_text())["encoder"]
    assert encoder["left_out"]["camera"] == "excluded"
    assert encoder["features"] == [f"p{i}" for i in range(64)]


@pytest.mark.parametrize(("value", "message"), [("camra", "no column 'camra' to exclude (did you mean 'camera'?)"),
                                                ("digit", "cannot exclude 'digit': it is the label column")])
def test_exclude_of_a_missing_column_or_the_label_is_one_error_line(cli, noisy_digits, tmp_path, value, message):
    from conftest import one_error_line

    line = one_error_line(cli("train", noisy_digits, "--label", "digit", "-o", tmp_path / "run", "--exclude", value))
    assert line == f"error: {message}"
    assert not (tmp_path / "run").exists()


def test_a_pipeline_with_a_domain_split_trains_without_its_domain_column(tmp_path):
    from pipelines.run.schema import load_pipeline

    (tmp_path / "t.csv").write_text("x,island,species\n1,a,s\n")
    path = tmp_path / "p.yaml"
    path.write_text("out: o\nsource: t.csv\nlabel: species\nsplit: {domain: island, target: Biscoe}\n"
                    "train: {epochs: 2, exclude: [x]}\n")
    assert load_pipeline(path).train_settings()["exclude"] == ["x", "island"]
    path.write_text("out: o\nsource: t.csv\nlabel: species\nsplit: {}\ntrain: {epochs: 2}\n")
    assert load_pipeline(path).train_settings()["exclude"] == []


def test_a_stated_human_error_is_what_the_avoidable_bias_is_measured_from(cli, noisy_digits, tmp_path):
    r = cli("train", noisy_digits, "--label", "digit", "-o", tmp_path / "run", "--epochs", "2",
            "--human-error", "0.05")
    assert r.code == 0, r.err
    gaps = json.loads((tmp_path / "run" / "metrics.json").read_text())["gaps"]
    assert gaps["human_error"] == 0.05
    assert gaps["avoidable_bias"] == pytest.approx(gaps["errors"]["train"] - 0.05, abs=1e-6)


def test_an_ordinary_split_measures_variance_on_val_and_no_data_mismatch(cli, tmp_path):
    from conftest import SAMPLE

    df = curaug.split(pd.read_csv(SAMPLE / "penguins.csv"), label="species", seed=0)
    df.to_parquet(tmp_path / "split.parquet", index=False)
    r = cli("train", tmp_path / "split.parquet", "--label", "species", "-o", tmp_path / "run", "--epochs", "3")
    assert r.code == 0, r.err
    gaps = json.loads((tmp_path / "run" / "metrics.json").read_text())["gaps"]
    assert list(gaps["errors"]) == ["train", "val", "test"]
    assert gaps["variance_on"] == "val" and gaps["data_mismatch"] is None
    assert gaps["variance"] == pytest.approx(gaps["errors"]["val"] - gaps["errors"]["train"], abs=1e-6)


def test_cuda_out_of_memory_halves_the_batch_scales_the_rate_and_goes_on(cli, noisy_digits, tmp_path, monkeypatch):
    from pipelines.train.loop import _Fit

    real_epoch = _Fit.train_epoch
    batches = []

    def train_epoch(self, epoch):
        batches.append(self.config.batch_size)
        if self.config.batch_size > 16:  # a GPU with room for 16 rows at a time
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_epoch(self, epoch)

    monkeypatch.setattr(_Fit, "train_epoch", train_epoch)
    run = tmp_path / "run"
    r = cli("train", noisy_digits, "--label", "digit", "-o", run, "--epochs", "2", "--batch-size", "64",
            "--lr", "0.004")
    assert r.code == 0, r.err
    assert batches == [64, 32, 16, 16]
    assert ("warning: CUDA out of memory: batch_size halved from 64 to 32, learning rate 0.004 -> 0.002 "
            "(linear scaling rule); fitting again from the start") in r.err
    assert "batch_size halved from 32 to 16, learning rate 0.002 -> 0.001 (linear scaling rule)" in r.err
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["batch_size"] == 16 and config["lr"] == pytest.approx(0.001)
    metrics = json.loads((run / "metrics.json").read_text())
    assert [m["batch"] for m in metrics["memory"]] == [[64, 32], [32, 16]]
    assert len(metrics["history"]) == 2  # the run went on to the end
    assert not (run / "memory.json").exists()


def test_a_batch_that_cannot_be_halved_again_is_one_error_line(cli, noisy_digits, tmp_path, monkeypatch):
    from pipelines.train.loop import _Fit

    def train_epoch(self, epoch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(_Fit, "train_epoch", train_epoch)
    r = cli("train", noisy_digits, "--label", "digit", "-o", tmp_path / "run", "--epochs", "1", "--batch-size", "4")
    assert r.code == 2
    assert r.err.splitlines() == [
        "warning: CUDA out of memory: batch_size halved from 4 to 2, learning rate 0.001 -> 0.0005 (linear scaling "
        "rule); fitting again from the start",
        "error: --batch-size 2: CUDA ran out of memory with batches of 2 samples and the batch cannot be halved "
        "again; make the model smaller (width, image size) or train on the CPU"]


@pytest.mark.parametrize("modality", ["tabular", "image"])
def test_maxout_units_are_the_maximum_of_k_pieces_and_never_die(modality):
    from pipelines.train.config import TrainConfig
    from pipelines.train.models import Maxout, build_model
    from pipelines.train.types import DataSpec

    spec = {"tabular": DataSpec("tabular", ("a", "b"), (12,)), "image": DataSpec("image", ("a", "b"), (1, 8, 8))}
    relu = build_model(spec[modality], TrainConfig(width=8, seed=0))
    maxout = build_model(spec[modality], TrainConfig(width=8, seed=0, activation="maxout", maxout_pieces=3))
    units = [m for m in maxout.modules() if isinstance(m, Maxout)]
    assert units and all(m.pieces == 3 for m in units)
    assert not any(isinstance(m, torch.nn.ReLU) for m in maxout.modules())
    # the layers feeding a maxout unit hold k times the weights of the ReLU model's
    first = next(m for m in maxout.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
    first_relu = next(m for m in relu.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
    assert first.weight.shape[0] == 3 * first_relu.weight.shape[0]
    x = torch.randn(6, *spec[modality].input_shape)
    assert maxout(x).shape == (6, 2)


def test_a_maxout_mlp_learns_the_noisy_digits_and_no_layer_is_flagged_dead(noisy_digits, tmp_path):
    from pipelines.train.run import train

    metrics = train(str(noisy_digits), label="digit", out=tmp_path / "run", epochs=8, lr=0.01, activation="maxout",
                    maxout_pieces=2, seed=0)
    assert metrics["train_val"]["accuracy"] > 0.8
    assert metrics["histograms"]["flagged"] == [] and metrics["histograms"]["advice"] is None
    assert max(metrics["histograms"]["dead_relu"].values()) == 0.0


def test_the_pipeline_report_gives_the_error_rates_the_gaps_and_the_dead_unit_advice(tmp_path):
    import re

    from pipelines.report.pipeline_train import training_section
    from pipelines.train.gaps import error_gaps
    from pipelines.train.monitor.histograms import DEAD_ADVICE

    metrics = {"model": "mlp", "device": "cpu", "best_epoch": 2, "stopped_epoch": 4,
               "gaps": error_gaps({"train": 0.05, "train_val": 0.08, "val": 0.4, "test": 0.42}, human_error=0.01),
               "histograms": {"epoch": 4, "dead_relu": {"body.0.2": 0.9}, "flagged": ["body.0.2"],
                              "advice": DEAD_ADVICE}}
    page = training_section(tmp_path, {"train": {"figures": metrics}})
    rates = re.search(r"<table id='error-rates'>.*?</table>", page).group()
    assert re.findall(r"<th>(\w+)</th>", rates) == ["train", "train_val", "val", "test"]
    assert re.findall(r"<td class='num'>([\d.]+)</td>", rates) == ["0.05", "0.08", "0.4", "0.42"]
    gaps = re.search(r"<table id='gaps'>.*?</table>", page).group()
    assert "<td>data mismatch</td><td class='num'>0.32</td><td>largest</td>" in gaps
    assert "<td>avoidable bias</td><td class='num'>0.04</td>" in gaps
    assert ("Largest gap: data mismatch. Next: make the training data more like the target: augmentation toward "
            "it, or target-domain rows mixed into train. (avoidable bias measured from a human-level error of 0.01")\
        in page
    assert "--activation leaky_relu" in re.search(r"<p id='dead-advice'>.*?</p>", page).group()


def test_the_summary_prints_the_dead_unit_advice_and_the_search_sampler(capsys):
    from pipelines.console.training import print_training_summary
    from pipelines.train.monitor.histograms import DEAD_ADVICE

    metrics = {"model": "mlp", "device": "cpu", "rows": {"train": 10}, "seconds": 1.0, "best_epoch": 1,
               "stopped_epoch": 2, "search": {"sampler": "tpe", "trials": [{}] * 6,
                                              "best": {"params": {"lr": 0.01}, "trial": 4, "cv_mean": 0.9,
                                                       "cv_std": 0.01}},
               "histograms": {"flagged": ["body.0.2"], "advice": DEAD_ADVICE}}
    print_training_summary(metrics, "run")
    out = capsys.readouterr().out
    assert "search: 6 trials (tpe sampler); best lr=0.01 (trial 4" in out
    assert "warning: body.0.2: more than half of its units are dead (see histograms/)\nadvice: units that never " \
           "fire learn nothing: try --activation leaky_relu" in out


@pytest.mark.parametrize(("modality", "name"), [("tabular", "mlp"), ("image", "cnn"), ("audio", "cnn"),
                                                ("audio", "rnn"), ("text", "cnn"), ("text", "bow")])
def test_every_baseline_builds_and_trains_with_maxout(modality, name):
    from pipelines.train.config import TrainConfig
    from pipelines.train.models import build_model
    from pipelines.train.types import DataSpec

    spec = {"tabular": DataSpec("tabular", ("a", "b", "c"), (12,)),
            "image": DataSpec("image", ("a", "b", "c"), (3, 16, 16)),
            "audio": DataSpec("audio", ("a", "b", "c"), (1, 16, 20)),
            "text": DataSpec("text", ("a", "b", "c"), (24,), vocab_size=50)}[modality]
    model = build_model(spec, TrainConfig(model=name, width=8, activation="maxout", maxout_pieces=3))
    g = torch.Generator().manual_seed(0)
    x = (torch.randint(1, 50, (5, 24), generator=g) if modality == "text"
         else torch.randn(5, *spec.input_shape, generator=g))
    logits = model(x)
    assert logits.shape == (5, 3)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_a_search_on_a_domain_split_keeps_val_out_of_the_final_fit(noisy_digits, tmp_path):
    from pipelines.train.run import train

    metrics = train(str(noisy_digits), label="digit", out=tmp_path / "run", epochs=2, search=2,
                    search_sampler="tpe")
    assert metrics["search"]["scored_on"] == "val" and metrics["search"]["sampler"] == "tpe"
    assert "retrain" not in metrics and "held_out" not in metrics["val"]  # val is the final model's own figure
    assert metrics["gaps"]["data_mismatch"] == pytest.approx(metrics["gaps"]["errors"]["val"]
                                                             - metrics["gaps"]["errors"]["train_val"], abs=1e-6)
