"""The harness's default baselines beside a classical reference, on the same splits.

For each data set and each split seed (``--seeds K``: seeds 0..K-1): ``curaug.split``
(60/20/20), then in the same run

- the harness's default baseline: ``curaug.train(manifest, label=..., out=..., device="cpu")``
  with no other setting (model ``auto``, settings sized to the data);
- the reference a practitioner would fit on the same train rows:

  ========  ===============================================================================
  text      TF-IDF (uni+bigrams, sublinear tf) + scikit-learn's LogisticRegression, with
            scikit-learn's tokens and with curaug's (words and punctuation marks)
  tabular   LogisticRegression and HistGradientBoosting (numbers imputed and standardised,
            categories one-hot), the columns the harness uses
  image     a plain torch loop of the same network on the same tensors: the sized
            settings, AdamW, all epochs, no early stopping, batch norm as torch leaves it
  audio     LogisticRegression on each clip's mean and standard deviation per mel bin
            (the harness's own log-mel tensors)
  ========  ===============================================================================

and prints test accuracy (the mean over the seeds, with the lowest and highest) and seconds
(fit and predict, mean; the harness's figure is its whole run: encoding, sizing, training,
checkpoints, figures, testing). One seed's test set of a few hundred rows decides a
difference of one row; the mean over several splits is the comparison to read. Data: the fortunes of
``sample_data/text.csv`` (4 classes, 158 texts) and, when Debian's ``fortunes`` package is
installed, a 6-class corpus of 2,397 short fortunes; scikit-learn's wine table;
``sample_data/penguins.csv``; scikit-learn's 1,797 digits upscaled to grey 32x32 PNGs
(as ``scripts/make_sample_data.py`` makes the sample's); ``sample_data/audio``.

    python benchmarks/bench_baselines.py [--only text,tabular,image,audio] [--seeds 3]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
FORTUNES = Path("/usr/share/games/fortunes")
#: the six largest fortune categories under the sample's filter (30-180 printable characters)
FORTUNE_CLASSES = ("people", "zippy", "fortunes", "computers", "miscellaneous", "knghtbrd")
MODALITIES = ("text", "tabular", "image", "audio")


def fortunes_corpus():
    """Every short fortune of the six categories, filtered as the sample's text.csv is."""
    import pandas as pd

    rows = []
    for label in FORTUNE_CLASSES:
        entries = (FORTUNES / label).read_text(encoding="utf-8", errors="replace").split("\n%\n")
        for entry in entries:
            text = " ".join(entry.split())
            if 30 <= len(text) <= 180 and "\t" not in entry and not re.search(r"[^\x20-\x7e]", text):
                rows.append({"text": text, "label": label})
    return pd.DataFrame(rows)


def wine_table():
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame.rename(columns={"target": "label"})


def write_digits(folder: Path) -> Path:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        pixels = (image * (255.0 / 16.0)).astype(np.uint8)
        Image.fromarray(255 - pixels, mode="L").resize((32, 32), Image.BICUBIC).save(
            folder / str(label) / f"digit_{i:04d}.png")
    return folder


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def harness(manifest, label: str, work: Path) -> dict:
    import curaug

    metrics, seconds = timed(lambda: curaug.train(manifest, label=label, out=work / f"run{time.perf_counter_ns()}",
                                                  device="cpu"))
    return {"model": f"curaug train ({metrics['model']}, defaults)", "accuracy": metrics["test"]["accuracy"],
            "seconds": seconds}


def parts(manifest):
    return [manifest[manifest["split"] == name] for name in ("train", "test")]


def text_rows(name: str, df, work: Path, seed: int) -> list[dict]:
    import curaug
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    manifest = curaug.split(df, label="label", seed=seed)
    train, test = parts(manifest)
    rows = [harness(manifest, "label", work)]
    for model, tokens in (("TF-IDF 1-2 grams + LogisticRegression", r"(?u)\b\w\w+\b"),
                          ("the same, curaug's tokens", r"\w+|[^\w\s]")):
        def fit_predict():
            vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=tokens)
            clf = LogisticRegression(max_iter=5000).fit(vectorizer.fit_transform(train["text"]), train["label"])
            return (clf.predict(vectorizer.transform(test["text"])) == test["label"].to_numpy()).mean()

        accuracy, seconds = timed(fit_predict)
        rows.append({"model": model, "accuracy": accuracy, "seconds": seconds})
    return [{"data": name, "rows": _sizes(manifest), **row} for row in rows]


def tabular_rows(name: str, df, label: str, work: Path, seed: int) -> list[dict]:
    import curaug
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    manifest = curaug.split(df, label=label, seed=seed)
    train, test = parts(manifest)
    rows = [harness(manifest, label, work)]
    used = _harness_features(work)
    numeric = [c for c in used if c in df.columns and df[c].dtype.kind in "fiu"]
    categorical = [c for c in used if c in df.columns and c not in numeric]
    for model_name, model in (("LogisticRegression", LogisticRegression(max_iter=5000)),
                              ("HistGradientBoosting", HistGradientBoostingClassifier(random_state=0))):
        def fit_predict():
            prep = make_column_transformer((make_pipeline(SimpleImputer(), StandardScaler()), numeric),
                                           (OneHotEncoder(handle_unknown="ignore"), categorical))
            pipe = make_pipeline(prep, model).fit(train[numeric + categorical], train[label].astype(str))
            return (pipe.predict(test[numeric + categorical]) == test[label].astype(str).to_numpy()).mean()

        accuracy, seconds = timed(fit_predict)
        rows.append({"model": model_name, "accuracy": accuracy, "seconds": seconds})
    return [{"data": name, "rows": _sizes(manifest), **row} for row in rows]


def _harness_features(work: Path) -> list[str]:
    """The columns the last harness run used as features (its config.json)."""
    import json

    latest = max(work.glob("run*/config.json"), key=lambda p: int(p.parent.name[3:]))
    return [col["name"] for col in json.loads(latest.read_text())["encoder"]["columns"]]


def image_rows(work: Path, seed: int) -> list[dict]:
    import curaug

    digits = work / "digits"
    manifest = curaug.split(curaug.ingest(digits if digits.is_dir() else write_digits(digits)).manifest,
                            label="label", seed=seed)
    rows = [harness(manifest, "label", work)]
    accuracy, seconds = plain_torch_loop(manifest, work)
    rows.append({"model": "plain torch loop, same network", "accuracy": accuracy, "seconds": seconds})
    return [{"data": "digits 32x32", "rows": _sizes(manifest), **row} for row in rows]


def plain_torch_loop(manifest, work: Path) -> tuple[float, float]:
    """The loop an engineer writes by hand, on the tensors and settings the harness used."""
    import torch

    from pipelines.train.config import TrainConfig
    from pipelines.train.data import prepare_data
    from pipelines.train.models import build_model
    from pipelines.train.sizing import size_to_data

    prepared = prepare_data(manifest, TrainConfig(device="cpu"), base_dir=work)
    x, y = prepared.splits["train"].tensors()
    tx, ty = prepared.splits["test"].tensors()
    config = size_to_data(TrainConfig(device="cpu"), prepared.spec, len(x))
    started = time.perf_counter()
    model = build_model(prepared.spec, config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.base_lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(0)
    for _ in range(config.epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=generator).split(config.batch_size):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(tx).argmax(1) == ty).double().mean().item()
    return accuracy, time.perf_counter() - started


def audio_rows(work: Path, seed: int) -> list[dict]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import curaug
    from pipelines.train.config import TrainConfig
    from pipelines.train.data import prepare_data

    manifest = curaug.split(curaug.ingest(SAMPLE / "audio").manifest, label="label", seed=seed)
    rows = [harness(manifest, "label", work)]

    def fit_predict():
        prepared = prepare_data(manifest, TrainConfig(device="cpu"), base_dir=work)

        def features(split):
            x, y = prepared.splits[split].tensors()
            mel = x.numpy()[:, 0]                                  # (clips, mels, frames)
            return np.concatenate([mel.mean(axis=2), mel.std(axis=2)], axis=1), y.numpy()

        clf = LogisticRegression(max_iter=5000).fit(*features("train"))
        return clf.score(*features("test"))

    accuracy, seconds = timed(fit_predict)
    rows.append({"model": "LogisticRegression, mean+std log-mel", "accuracy": accuracy, "seconds": seconds})
    return [{"data": "sample audio", "rows": _sizes(manifest), **row} for row in rows]


def _sizes(manifest) -> str:
    counts = manifest["split"].value_counts()
    return "/".join(str(int(counts.get(name, 0))) for name in ("train", "val", "test"))


def main(argv=None) -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(MODALITIES), help="comma-separated: " + ", ".join(MODALITIES))
    parser.add_argument("--seeds", type=int, default=1, help="split seeds 0..K-1 (default 1)")
    args = parser.parse_args(argv)
    chosen = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = sorted(set(chosen) - set(MODALITIES))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (choose from {', '.join(MODALITIES)})")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in range(args.seeds):
            if "text" in chosen:
                rows += text_rows("fortunes (sample, 4 classes)", pd.read_csv(SAMPLE / "text.csv"), work, seed)
                if FORTUNES.is_dir():
                    rows += text_rows("fortunes (6 classes)", fortunes_corpus(), work, seed)
                elif seed == 0:
                    print(f"skipped the 6-class fortunes: {FORTUNES} is missing (apt-get install fortunes)")
            if "tabular" in chosen:
                rows += tabular_rows("wine", wine_table(), "label", work, seed)
                rows += tabular_rows("penguins", pd.read_csv(SAMPLE / "penguins.csv"), "species", work, seed)
            if "image" in chosen:
                rows += image_rows(work, seed)
            if "audio" in chosen:
                rows += audio_rows(work, seed)
    table = pd.DataFrame(rows).groupby(["data", "model"], sort=False).agg(
        rows=("rows", "first"), mean=("accuracy", "mean"), low=("accuracy", "min"), high=("accuracy", "max"),
        seconds=("seconds", "mean")).reset_index()
    print(f"| data | train/val/test | model | test accuracy (mean of {args.seeds} split seeds; min-max) | seconds |")
    print("|---|---|---|---|---|")
    for row in table.itertuples():
        spread = f" ({row.low:.3f}-{row.high:.3f})" if args.seeds > 1 else ""
        print(f"| {row.data} | {row.rows} | {row.model} | {row.mean:.3f}{spread} | {row.seconds:.1f} |")


if __name__ == "__main__":
    main()
