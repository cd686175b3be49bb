"""Augmentation on the fly and the data path (issue 24, sections 1 and 4): every training
sample drawn afresh each epoch from (run seed, epoch, row id), the same with 0 or 2 loader
workers and after a resume; rows held in memory or streamed from the manifest giving the
same run."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE, one_error_line

torch = pytest.importorskip("torch")
RECIPE = SAMPLE / "digits.recipe.yaml"
#: a tiny, fast CNN run on the 86 sample digits of the train split
SMALL = {"epochs": 2, "width": 8, "batch_size": 16, "patience": 10, "image_size": 16, "seed": 3}


@pytest.fixture(scope="module")
def digits(split_manifest) -> Path:
    """The sample digits split 60/20/20 (conftest's, made once per run)."""
    return split_manifest / "split.parquet"


def _epoch(dataset, epoch: int, workers: int) -> torch.Tensor:
    from torch.utils.data import DataLoader

    dataset.set_epoch(epoch)
    return torch.cat([x for x, _ in DataLoader(dataset, batch_size=16, num_workers=workers)])


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", map_location="cpu", weights_only=True)


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# the dataset a user's own torch loop reads -------------------------------------------------

def test_a_recipe_draws_each_epoch_anew_and_two_workers_draw_what_none_does(digits):
    import curaug

    ds = curaug.ManifestDataset.from_manifest(digits, label="label", recipe=RECIPE, seed=5, image_size=16)
    plain = curaug.ManifestDataset.from_manifest(digits, label="label", image_size=16)
    first = _epoch(ds, 0, workers=0)
    assert first.shape == plain.tensors()[0].shape == (86, 1, 16, 16)
    assert torch.equal(_epoch(ds, 0, workers=2), first)  # one plugin per worker, the same samples
    second = _epoch(ds, 1, workers=2)
    changed = (second != first).flatten(1).any(1)
    assert changed.sum() > 60  # most rows drawn anew; a row whose plan drew nothing may repeat
    assert torch.equal(_epoch(ds, 0, workers=0), first)  # epoch 0 again: the same draws
    assert (first != plain.tensors()[0]).flatten(1).any(1).sum() > 60  # and they are augmented
    other_seed = curaug.ManifestDataset.from_manifest(digits, label="label", recipe=RECIPE, seed=6, image_size=16)
    assert not torch.equal(_epoch(other_seed, 0, workers=0), first)


def test_epoch_e_of_a_row_is_the_corpus_copy_e_of_that_row(digits, tmp_path):
    """Online and offline are one recipe: the sample a row gets in epoch ``e`` is, pixel for
    pixel, the copy ``e`` that ``curaug augment`` writes of it with the same seed (donors of
    copy_paste, quality gate and redraws included)."""
    import pandas as pd

    import curaug

    curaug.augment(str(digits), str(RECIPE), str(tmp_path / "o"), seed=5)
    corpus = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    corpus = corpus[corpus["source_id"].notna()].assign(root=str(tmp_path / "o"))
    assert len(corpus) == 2 * 86
    corpus = corpus[corpus["path"].str.endswith(".png")]  # a JPEG source's copies are JPEG: lossy
    assert len(corpus) >= 100 and corpus["augment"].str.contains("copy_paste").sum() >= 10
    ds = curaug.ManifestDataset.from_manifest(digits, label="label", recipe=RECIPE, seed=5)
    position = {row_id: k for k, row_id in enumerate(ds.ids)}
    written = ds.encoder.transform(corpus)
    for k, (row_id, source) in enumerate(zip(corpus["id"], corpus["source_id"])):
        epoch = int(row_id.rsplit("__aug", 1)[1].split(".")[0])
        x, _ = ds.batch([position[source]], epoch=epoch)
        np.testing.assert_array_equal(x[0].numpy(), written[k], err_msg=row_id)


def test_sources_and_copy_paste_donors_are_decoded_once_per_process(digits, monkeypatch):
    import curaug
    from augment.image.plugin import ImagePlugin

    decoded = []
    load = ImagePlugin.load
    monkeypatch.setattr(ImagePlugin, "load", lambda self, row, ctx: decoded.append(row["id"]) or load(self, row, ctx))
    recipe = {"modality": "image", "transforms": [{"copy_paste": {"target": "other", "p": 1.0}}]}
    ds = curaug.ManifestDataset.from_manifest(digits, label="label", recipe=recipe, seed=5, image_size=16)
    first = _epoch(ds, 0, workers=0)
    assert len(decoded) == len(set(decoded)) <= 86  # every row and every donor decoded once
    assert len(set(decoded)) > 60
    decoded.clear()
    second = _epoch(ds, 1, workers=0)
    assert decoded == [] and not torch.equal(first, second)  # epoch 2 decodes nothing, draws anew


def test_the_dataset_pickles_without_its_plugin_and_draws_the_same_after(digits):
    import curaug

    ds = curaug.ManifestDataset.from_manifest(digits, label="label", recipe=RECIPE, seed=5, image_size=16)
    ds.set_epoch(4)
    x, y = ds[7]
    assert ds.augmentation._local is not None  # the plugin this process built
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.augmentation._local is None and copy.epoch == 4
    x2, y2 = copy[7]
    assert torch.equal(x, x2) and y == y2


def test_val_and_test_are_never_augmented(digits):
    import curaug
    from curate.errors import CuraugError

    with pytest.raises(CuraugError, match="recipe= augments the train split only: split='val'") as caught:
        curaug.ManifestDataset.from_manifest(digits, label="label", split="val", recipe=RECIPE)
    assert caught.value.param == "recipe"
    ds = curaug.ManifestDataset.from_manifest(digits, label="label", recipe=RECIPE, image_size=16)
    ds.set_epoch(2)
    # the rows as they are (what evaluation and the mining probe read) never change with the epoch
    assert torch.equal(ds.rows(range(10))[0], curaug.ManifestDataset.from_manifest(
        digits, label="label", image_size=16).tensors()[0][:10])


def test_a_recipe_of_another_modality_is_refused(digits):
    import curaug
    from curate.errors import CuraugError

    with pytest.raises(CuraugError, match="augments text but the data is image: give a recipe with modality: image"):
        curaug.ManifestDataset.from_manifest(digits, label="label", recipe=SAMPLE / "text.recipe.yaml")


# curaug train --recipe ----------------------------------------------------------------------

def test_online_training_is_reproducible_the_same_with_0_or_2_workers_and_says_so(digits, tmp_path):
    from pipelines.train.run import train

    a = train(str(digits), label="label", out=tmp_path / "a", recipe=str(RECIPE), data_workers=0, **SMALL)
    train(str(digits), label="label", out=tmp_path / "b", recipe=str(RECIPE), data_workers=2, **SMALL)
    plain = train(str(digits), label="label", out=tmp_path / "plain", data_workers=0, **SMALL)
    assert _same_weights(tmp_path / "a", tmp_path / "b")
    assert not _same_weights(tmp_path / "a", tmp_path / "plain")
    assert a["data"]["augment"] == "online" and plain["data"]["augment"] == "none"
    assert a["data"]["in_memory"] == ["train", "val", "test"] and a["data"]["streamed"] == []
    assert a["rows"]["train"] == plain["rows"]["train"] == 86  # no rows added: each is drawn anew


def test_an_online_run_stopped_by_ctrl_c_resumes_to_the_same_weights(digits, tmp_path):
    from pipelines.train.loop import Callback
    from pipelines.train.run import train

    class StopAt(Callback):
        def on_epoch_end(self, epoch, model, history_row):
            if epoch == 2:
                raise KeyboardInterrupt

    settings = {**SMALL, "epochs": 3, "recipe": str(RECIPE), "data_workers": 2}
    train(str(digits), label="label", out=tmp_path / "whole", **settings)
    with pytest.raises(KeyboardInterrupt):
        train(str(digits), label="label", out=tmp_path / "stopped", progress=StopAt(), **settings)
    assert (tmp_path / "stopped" / "checkpoint.pt").exists() and not (tmp_path / "stopped" / "model.pt").exists()
    train(str(digits), label="label", out=tmp_path / "stopped", **settings)
    assert _same_weights(tmp_path / "whole", tmp_path / "stopped")


def test_cli_recipe_of_another_modality_is_one_error_line_and_writes_nothing(cli, digits, tmp_path):
    line = one_error_line(cli("train", digits, "-o", tmp_path / "run", "--recipe", SAMPLE / "text.recipe.yaml",
                              "--epochs", "1"))
    assert "--recipe" in line and "augments text but the data is image" in line
    assert not (tmp_path / "run").exists()


def test_cli_unparsable_data_memory_is_one_error_line(cli, digits, tmp_path):
    line = one_error_line(cli("train", digits, "-o", tmp_path / "run", "--data-memory", "lots"))
    assert "--data-memory" in line and "'lots'" in line and "2GiB" in line
    assert not (tmp_path / "run").exists()


# held in memory or streamed ------------------------------------------------------------------

def test_a_streamed_run_gives_the_in_memory_run(digits, tmp_path):
    from pipelines.train.run import train

    held = train(str(digits), label="label", out=tmp_path / "held", **SMALL)
    # 20 KiB holds the train split's decoded rows (86 x 1 KiB) but not val's as well
    mixed = train(str(digits), label="label", out=tmp_path / "mixed", data_memory="100KB", **SMALL)
    streamed = train(str(digits), label="label", out=tmp_path / "streamed", data_memory=0, data_workers=2, **SMALL)
    assert held["data"]["streamed"] == [] and streamed["data"]["in_memory"] == []
    assert mixed["data"]["in_memory"] == ["train"] and mixed["data"]["streamed"] == ["val", "test"]
    assert streamed["data"]["workers"] == 2 and held["data"]["workers"] == 0
    for run in ("mixed", "streamed"):
        assert _same_weights(tmp_path / "held", tmp_path / run)
    metrics = {run: json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("held", "streamed")}
    assert metrics["held"]["test"]["confusion"] == metrics["streamed"]["test"]["confusion"]
    assert [r["val_loss"] for r in metrics["held"]["history"]] == [r["val_loss"] for r in metrics["streamed"]["history"]]


def test_streamed_rows_are_the_held_rows_and_the_cache_stays_in_its_budget(digits):
    import curaug
    from curate.io.bounded_cache import sizeof

    held = curaug.ManifestDataset.from_manifest(digits, label="label", image_size=16)
    streamed = curaug.ManifestDataset.from_manifest(digits, label="label", image_size=16, data_memory="20KiB")
    assert held.in_memory and not streamed.in_memory
    assert streamed.cache_bytes == 20 * 1024
    x, y = streamed.rows(np.arange(len(streamed)))
    assert torch.equal(x, held.tensors()[0]) and torch.equal(y, held.tensors()[1])
    cache = streamed._cache
    assert cache.used <= 20 * 1024 and len(cache) == 20 * 1024 // sizeof(np.zeros((1, 16, 16), np.float32))


def test_data_workers_0_reads_every_streamed_split_in_the_process_itself(digits, tmp_path, monkeypatch):
    from pipelines.train import feed
    from pipelines.train.run import train

    workers = []
    real_init = feed.DataFeed.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        workers.append(self.workers)

    monkeypatch.setattr(feed.DataFeed, "__init__", init)
    metrics = train(str(digits), label="label", out=tmp_path / "run", data_memory=0, data_workers=0,
                    **{**SMALL, "epochs": 1})
    assert metrics["data"]["workers"] == 0
    assert len(workers) == 4 and set(workers) == {0}  # the fit, the train figures (gaps), val, test, once each


# text and audio on the fly ----------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_splits(tmp_path_factory) -> dict[str, Path]:
    """The sample fortunes and spoken words, ingested and split 60/20/20."""
    import curaug

    folder = tmp_path_factory.mktemp("online_modalities")
    out = {}
    for name, source in (("text", SAMPLE / "text.csv"), ("audio", SAMPLE / "audio")):
        manifest = curaug.ingest(str(source), use_cache=False).manifest
        path = folder / f"{name}.parquet"
        curaug.save_manifest(curaug.split(manifest, label="label", seed=0), str(path))
        out[name] = path
    return out


@pytest.mark.parametrize("modality", ["text", "audio"])
def test_text_and_audio_draw_anew_each_epoch_the_same_with_workers(sample_splits, modality):
    import curaug

    recipe = SAMPLE / f"{modality}.recipe.yaml"
    ds = curaug.ManifestDataset.from_manifest(sample_splits[modality], label="label", recipe=recipe, seed=2)
    plain = curaug.ManifestDataset.from_manifest(sample_splits[modality], label="label")
    first = _epoch(ds, 0, workers=0)
    assert first.shape == plain.tensors()[0].shape
    assert torch.equal(_epoch(ds, 0, workers=2), first)
    changed = (_epoch(ds, 1, workers=0) != first).flatten(1).any(1)
    assert changed.float().mean() > 0.5  # most rows drawn anew in the next epoch
    assert (first != plain.tensors()[0]).flatten(1).any(1).float().mean() > 0.5  # and augmented


def test_a_text_epoch_is_the_corpus_copy_of_the_same_seed(sample_splits, tmp_path):
    """Text copies live in the corpus manifest's text column: epoch e of a row encodes as
    its copy e does."""
    import pandas as pd

    import curaug

    recipe = SAMPLE / "text.recipe.yaml"
    curaug.augment(str(sample_splits["text"]), str(recipe), str(tmp_path / "o"), seed=4)
    corpus = pd.read_parquet(tmp_path / "o" / "manifest.parquet")
    corpus = corpus[corpus["source_id"].notna()]
    ds = curaug.ManifestDataset.from_manifest(sample_splits["text"], label="label", recipe=recipe, seed=4)
    position = {row_id: k for k, row_id in enumerate(ds.ids)}
    written = ds.encoder.transform(corpus)
    assert len(corpus) > 50
    for k, (row_id, source) in enumerate(zip(corpus["id"], corpus["source_id"])):
        epoch = int(str(row_id).rsplit("__aug", 1)[1])
        x, _ = ds.batch([position[source]], epoch=epoch)
        np.testing.assert_array_equal(x[0].numpy(), written[k], err_msg=row_id)
