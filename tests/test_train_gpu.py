"""The CUDA data path (issue 24, section 4): batches pinned by the loader and copied without
blocking, bf16 autocast, a streamed run learning as the in-memory one does, online
augmentation drawing the same samples on the GPU run as on the CPU. Marked ``gpu``:
skipped without CUDA; ``scripts/gpu_check.sh`` runs them with the GPU benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
SMALL = {"epochs": 4, "width": 8, "batch_size": 16, "patience": 10, "image_size": 16, "seed": 3, "device": "cuda"}


@pytest.fixture(scope="module")
def digits(split_manifest) -> Path:
    """The sample digits split 60/20/20 (conftest's, made once per run)."""
    return split_manifest / "split.parquet"


def test_streamed_batches_arrive_pinned_and_reach_the_gpu(digits):
    import curaug
    from pipelines.train.feed import DataFeed

    streamed = curaug.ManifestDataset.from_manifest(digits, label="label", image_size=16, data_memory=0)
    feed = DataFeed({"train": streamed}, torch.device("cuda"), workers=2)
    try:
        feed._plan.requests = [("train", None, np.arange(16))]
        _, x, y = next(iter(feed._loader))
        assert x.is_pinned() and y.is_pinned()  # what makes non_blocking copies real
        batches = list(feed.train_batches("train", [np.arange(16), np.arange(16, 30)], epoch=0))
    finally:
        feed.close()
    assert [b[1].device.type for b in batches] == ["cuda", "cuda"]
    assert torch.equal(batches[0][1].cpu(), streamed.rows(range(16))[0])


def test_bf16_autocast_trains_and_the_weights_stay_float32(digits, tmp_path):
    from pipelines.train.run import train

    metrics = train(str(digits), label="label", out=tmp_path / "run", amp="bf16", **SMALL)
    assert metrics["device"] == "cuda"
    weights = torch.load(tmp_path / "run" / "model.pt", map_location="cpu", weights_only=True)
    assert all(w.dtype in (torch.float32, torch.int64) for w in weights.values())
    losses = [row["train_loss"] for row in metrics["history"]]
    assert np.isfinite(losses).all()


def test_a_streamed_cuda_run_learns_as_the_in_memory_one(digits, tmp_path):
    from pipelines.train.run import train

    held = train(str(digits), label="label", out=tmp_path / "held", amp="off", **SMALL)
    streamed = train(str(digits), label="label", out=tmp_path / "streamed", amp="off", data_memory=0, **SMALL)
    assert streamed["data"]["streamed"] == ["train", "val", "test"]
    # the same rows in the same batches; cuDNN's kernels may differ in the last bits only
    for a, b in zip(held["history"], streamed["history"]):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)


def test_online_augmentation_on_cuda_with_workers_reproduces(digits, tmp_path):
    from pipelines.train.run import train

    settings = {**SMALL, "recipe": str(SAMPLE / "digits.recipe.yaml"), "amp": "off"}
    a = train(str(digits), label="label", out=tmp_path / "a", data_workers=0, **settings)
    b = train(str(digits), label="label", out=tmp_path / "b", data_workers=2, **settings)
    assert a["data"]["augment"] == b["data"]["augment"] == "online"
    for x, y in zip(a["history"], b["history"]):
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-3)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["config"]["recipe"].endswith("digits.recipe.yaml")
