"""The augmentation section of the pipeline report: augmented samples beside their sources.

Up to :data:`SHOWN` augmented rows, chosen with a fixed seed so the same run draws the same
page: images as one thumbnail strip (source | augmented), audio as log-mel spectrograms
side by side, text as a word diff (<del> what went, <ins> what came). Each pair lists the
transforms applied and what they drew, from the row's provenance.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.report.parts import figures_of, missing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: How many augmented pairs the page shows, and the seed that picks them.
SHOWN, PICK_SEED = 12, 0
#: Thumbnail and spectrogram strip height in pixels.
THUMB = 96


def augmentation_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    from curate.io.manifest import load_data

    summary = figures_of(stages, "augment")
    parts = []
    if summary is None:
        parts.append(missing("augment.json is missing: no augmentation summary."))
    else:
        per_class = ", ".join(f"{k} {v}" for k, v in (summary.get("made_per_class") or {}).items())
        parts.append(f"<p id='augment-summary'><b>{summary.get('made', 0)}</b> samples made from "
                     f"{summary.get('train_rows', '?')} train rows ({html.escape(per_class)}); "
                     f"{summary.get('gate_rejections', 0)} draws rejected by the quality gate, "
                     f"{summary.get('corrupt_skipped', 0)} corrupt rows skipped.</p>")
        if summary.get("label_gate"):
            from pipelines.report.label_gate import label_gate_html

            parts.append(label_gate_html(summary["label_gate"]))
    manifest = out / "augmented" / "manifest.parquet"
    if not manifest.is_file():
        return "\n".join(parts + [missing("augmented/manifest.parquet is missing: no samples to show.")])
    df = load_data(manifest)
    made = df[df["source_id"].notna()] if "source_id" in df.columns else df.iloc[:0]
    if made.empty:
        return "\n".join(parts + [missing("the augmented manifest holds no augmented rows.")])
    import numpy as np

    picked = np.sort(np.random.default_rng(PICK_SEED).choice(len(made), size=min(SHOWN, len(made)), replace=False))
    sources = _rows_by_id(df, out)
    parts.append(f"<p>{len(picked)} of {len(made)} augmented samples, each beside its source.</p><div class='pairs'>")
    for i in picked:
        parts.append(_pair(made.iloc[int(i)], sources))
    parts.append("</div>")
    return "\n".join(parts)


def _rows_by_id(augmented: "pd.DataFrame | None", out: Path) -> "pd.DataFrame":
    """Every row of the run's manifests by id: the augmented manifest's (sources passed
    through and samples made), then the split manifest's (for sources not passed through)."""
    import pandas as pd

    frames = [] if augmented is None else [augmented]
    split = out / "split.parquet"
    if split.is_file():
        from curate.io.manifest import load_data

        frames.append(load_data(split))
    if not frames:
        return pd.DataFrame({"id": pd.Series([], dtype=str)}).set_index("id", drop=False)
    rows = pd.concat(frames, ignore_index=True)
    return rows.drop_duplicates("id").set_index("id", drop=False)


def _modality(row: "pd.Series") -> str:
    modality = row.get("modality")
    if isinstance(modality, str):
        return modality
    return "text" if isinstance(row.get("text"), str) else "unknown"


def _pair(row: "pd.Series", sources: "pd.DataFrame") -> str:
    esc = html.escape
    source = sources.loc[row["source_id"]] if row["source_id"] in sources.index else None
    modality = _modality(row)
    try:
        if modality == "text":
            body = _text_diff(_text(source) if source is not None else "", _text(row))
        elif modality in ("image", "audio"):
            draw = _thumbnail if modality == "image" else _spectrogram
            left = draw(source) if source is not None else None
            strip = _strip([left, draw(row)])
            body = (f"<img class='pair-img' alt='{esc(str(row['source_id']))} | {esc(str(row['id']))}' "
                    f"src='{strip}'>")
        else:
            body = missing(f"no preview for modality {modality}")
    except (OSError, ValueError, RuntimeError) as exc:  # an unreadable file: say so, keep the other pairs
        body = missing(f"could not read the sample: {exc}")
    lost = "" if source is not None else missing(f"source {row['source_id']} is not in the manifests")
    steps = "".join(f"<li><b>{esc(name)}</b> {esc(_params_text(drawn))}</li>"
                    for name, drawn in _provenance(row.get("augment")))
    return (f"<div class='pair'><p>{esc(str(row['source_id']))} → <b>{esc(str(row['id']))}</b> "
            f"(label {esc(str(row.get('label')))})</p>{body}{lost}<ul>{steps or '<li>no transform applied</li>'}"
            "</ul></div>")


def _provenance(augment_json: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The transforms applied to a sample and what each drew, from its ``augment`` column."""
    if not augment_json:
        return []
    record = json.loads(augment_json)
    applied = []
    for step in record.get("applied") or []:
        drawn = step.get("drawn")
        if drawn is None:  # transforms that record their figures beside the name (copy_paste, text edits)
            drawn = {k: v for k, v in step.items() if k != "name"}
        applied.append((str(step.get("name")), drawn))
    return applied


def _params_text(drawn: Any, limit: int = 240) -> str:
    """What a transform drew, compact (3 significant digits) and cut at ``limit`` characters."""
    from curate.io.jsonify import jsonable

    if isinstance(drawn, dict):  # matrices (Affine's) follow from the drawn angles and scales shown beside them
        drawn = {k: v for k, v in drawn.items() if not (isinstance(v, list) and v and isinstance(v[0], list))}
    text = json.dumps(jsonable(drawn, digits=3), separators=(", ", "="), default=str)
    text = re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)"=', r"\1=", text)
    return text if len(text) <= limit else text[:limit] + " …"


def _file(row: "pd.Series") -> Path:
    from curate.io.manifest import media_file

    return media_file(row["root"], row["path"])


def _text(row: "pd.Series") -> str:
    if isinstance(row.get("text"), str):
        return row["text"]
    return _file(row).read_text(encoding="utf-8-sig")


def _text_diff(before: str, after: str) -> str:
    """Word diff: deleted words in <del>, inserted ones in <ins>, the rest as it was."""
    a, b = before.split(), after.split()
    words = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            words.append(html.escape(" ".join(a[i1:i2])))
            continue
        if i2 > i1:
            words.append(f"<del>{html.escape(' '.join(a[i1:i2]))}</del>")
        if j2 > j1:
            words.append(f"<ins>{html.escape(' '.join(b[j1:j2]))}</ins>")
    return f"<p class='diff'>{' '.join(words)}</p>"


def _thumbnail(row: "pd.Series") -> "np.ndarray":
    import numpy as np
    from PIL import Image

    with Image.open(_file(row)) as im:
        im = im.convert("RGB")
        width = max(1, round(im.width * THUMB / im.height))
        # nearest keeps small images' pixels sharp when scaled up
        return np.asarray(im.resize((width, THUMB), Image.Resampling.NEAREST))


def _spectrogram(row: "pd.Series") -> "np.ndarray":
    """A log-mel spectrogram (viridis; low frequencies at the bottom), 160 px per second."""
    import librosa
    import numpy as np
    import soundfile as sf
    from matplotlib import colormaps
    from PIL import Image

    samples, rate = sf.read(_file(row), dtype="float32", always_2d=True)
    mel = librosa.feature.melspectrogram(y=samples.mean(axis=1), sr=rate, n_mels=64)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    scaled = (db - db.min()) / max(float(db.max() - db.min()), 1e-9)
    rgb = (colormaps["viridis"](scaled[::-1])[..., :3] * 255).astype(np.uint8)
    width = max(16, round(160 * len(samples) / rate))
    return np.asarray(Image.fromarray(rgb).resize((width, THUMB), Image.Resampling.BILINEAR))


def _strip(images: list["np.ndarray | None"]) -> str:
    """The images side by side on white, 8 px apart, as one PNG data: URI (a missing one blank)."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    shown = [im if im is not None else np.full((THUMB, THUMB, 3), 240, np.uint8) for im in images]
    gap = np.full((THUMB, 8, 3), 255, np.uint8)
    joined = [part for im in shown for part in (im, gap)][:-1]
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(joined, axis=1)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def sample_thumbnails(ids: list[str], out: Path) -> dict[str, str]:
    """Image thumbnails (data: URIs) for the ids found in the run's manifests, for the
    hardest-examples table; ids of other modalities or unreadable files get none."""
    from curate.io.manifest import load_data

    manifest = out / "augmented" / "manifest.parquet"
    rows = _rows_by_id(load_data(manifest) if manifest.is_file() else None, out)
    thumbs = {}
    for i in ids:
        if i in rows.index and _modality(rows.loc[i]) == "image":
            try:
                thumbs[i] = _strip([_thumbnail(rows.loc[i])])
            except (OSError, ValueError):
                continue  # the table still lists the row; only its picture is left out
    return thumbs
