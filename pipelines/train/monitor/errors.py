"""Error analysis: ``errors.csv`` (the failed validation examples, worst first), the most
common confusions, and for media a self-contained ``gallery.html`` of those examples."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from curate.errors import CuraugError
from curate.io.atomic import atomic_path, write_text_atomic

if TYPE_CHECKING:
    from pipelines.train.data import ManifestDataset
    from pipelines.train.types import Predictions

#: confusions listed in the summary
TOP_CONFUSIONS = 10
THUMBNAIL = 96
#: at most this many spectrogram frames (columns) are drawn
SPECTROGRAM_FRAMES = 256
#: characters of a text sample shown in the gallery
TEXT_CHARS = 500


def write_errors(pred: "Predictions", dataset: "ManifestDataset", classes: Sequence[str], path: str | Path,
                 *, limit: int = 100) -> dict[str, Any]:
    """Write the failed examples of ``pred`` (predictions over ``dataset``, in its order)
    to ``path`` as CSV, highest loss first, at most ``limit`` rows: id, label, prediction,
    loss, confidence (the probability given to the wrong prediction). For images, audio
    and text, also write ``gallery.html`` next to it, one card per row of the CSV.

    Returns ``{"failed", "shown", "top_confusions": [{"label", "prediction", "count"}]}``:
    every failure counts in the confusions, not only the ones shown.
    """
    import pandas as pd

    if limit < 0:
        raise CuraugError(f"limit={limit} must be 0 or more", param="limit")
    if len(pred.ids) != len(dataset):
        raise CuraugError(f"the predictions cover {len(pred.ids)} examples but the dataset holds "
                          f"{len(dataset)}: pass the predictions made on this dataset", param="pred")
    if [str(i) for i in pred.ids] != [str(i) for i in dataset.ids]:
        raise CuraugError("the predictions are not in the dataset's order (their ids differ): pass the "
                          "predictions made on this dataset", param="pred")
    classes = [str(c) for c in classes]
    targets = np.asarray(pred.targets, dtype=np.int64)
    predicted = np.asarray(pred.preds, dtype=np.int64)
    losses = np.asarray(pred.losses, dtype=np.float64)
    failed = np.flatnonzero(predicted != targets)
    # stable: equal losses keep the dataset's order, so the file is the same on every run
    worst = failed[np.argsort(-losses[failed], kind="stable")][:limit]
    table = pd.DataFrame({
        "id": [str(pred.ids[i]) for i in worst],
        "label": [classes[targets[i]] for i in worst],
        "prediction": [classes[predicted[i]] for i in worst],
        "loss": losses[worst],
        "confidence": np.asarray(pred.probs)[worst, predicted[worst]].astype(np.float64),
    })
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    pairs = Counter(zip(targets[failed].tolist(), predicted[failed].tolist()))
    confusions = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:TOP_CONFUSIONS]
    modality = dataset.spec.modality
    if modality in ("image", "audio", "text"):
        sources = [dataset.sources[i] for i in worst]
        write_gallery(table, sources, modality, Path(path).with_name("gallery.html"), failed=len(failed))
    return {"failed": int(len(failed)), "shown": int(len(worst)),
            "top_confusions": [{"label": classes[t], "prediction": classes[p], "count": n}
                               for (t, p), n in confusions]}


def write_gallery(table, sources: list[str | None], modality: str, path: Path, *, failed: int) -> None:
    """One self-contained HTML page: a card per failed example with its thumbnail (images),
    log-mel spectrogram (audio) or text, and its id, label, prediction and confidence.
    Every value from the data is escaped."""
    cards = []
    for row, source in zip(table.itertuples(index=False), sources):
        caption = (f"<figcaption><strong>{html.escape(str(row.id))}</strong><br>label {html.escape(str(row.label))}"
                   f" &rarr; predicted {html.escape(str(row.prediction))}<br>"
                   f"confidence {row.confidence:.2f}, loss {row.loss:.3g}</figcaption>")
        cards.append(f"<figure>{_media(source, modality)}{caption}</figure>")
    shown = len(cards)
    head = (f"{failed} failed example{'s' if failed != 1 else ''}, the {shown} with the highest loss shown"
            if shown else "no failed examples")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>curaug: failed validation examples</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
main {{ display: flex; flex-wrap: wrap; gap: 0.75em; }}
figure {{ margin: 0; padding: 0.5em; border: 1px solid #ccc; width: 14em; font-size: 0.8em; }}
figure img {{ display: block; width: 100%; image-rendering: pixelated; }}
blockquote {{ margin: 0 0 0.4em 0; max-height: 10em; overflow: auto; white-space: pre-wrap; }}
.missing {{ color: #a00; }}
</style></head>
<body><h1>Failed validation examples</h1><p>{html.escape(head)}</p>
<main>
{chr(10).join(cards)}
</main></body></html>
"""
    write_text_atomic(path, page)


def _media(source: str | None, modality: str) -> str:
    """The card's picture or text; a note instead when the source cannot be read (a
    gallery is a debugging aid: one unreadable file must not cost the others)."""
    if source is None:
        return '<p class="missing">no source recorded</p>'
    if modality == "text":
        text = source if len(source) <= TEXT_CHARS else source[:TEXT_CHARS] + "…"
        return f"<blockquote>{html.escape(text)}</blockquote>"
    try:
        png = _image_png(source) if modality == "image" else _spectrogram_png(source)
    except Exception as exc:  # whatever the decoder raises becomes the card's note
        return f'<p class="missing">cannot show {html.escape(Path(source).name)}: {html.escape(str(exc))}</p>'
    return f'<img alt="{html.escape(Path(source).name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _image_png(source: str) -> bytes:
    """A thumbnail of the image as training decoded it (the image plugin's decoder); 16-bit
    grey shown at 8 bits."""
    from PIL import Image

    from augment.image.decode import read_image

    pixels, mode = read_image(source)
    if mode == "I;16":
        pixels = (pixels // 257).astype(np.uint8)
    im = Image.fromarray(pixels)
    im.thumbnail((THUMBNAIL, THUMBNAIL))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _spectrogram_png(source: str) -> bytes:
    """A log-mel spectrogram image: from the ``.npy`` the audio plugin wrote (channels,
    n_mels, frames), else computed from the audio file (channels averaged)."""
    from matplotlib.image import imsave

    if source.endswith(".npy"):
        spec = np.load(source, allow_pickle=False)
        spec = spec[0] if spec.ndim == 3 else spec
    else:
        from augment.audio.decode import read_audio
        from augment.audio.spectrogram import log_mel

        decoded = read_audio(source)
        spec = log_mel(decoded.data.mean(axis=0)[None, :], decoded.sample_rate)[0]
    if spec.ndim != 2 or not spec.size:
        raise ValueError(f"expected a (n_mels, frames) spectrogram, got shape {spec.shape}")
    spec = spec[:, ::-(-spec.shape[1] // SPECTROGRAM_FRAMES)]  # a long clip stays a thumbnail
    buf = io.BytesIO()
    imsave(buf, spec, cmap="magma", origin="lower", format="png")
    return buf.getvalue()
