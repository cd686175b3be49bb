"""The image plugin: albumentations 2.0 (MIT line) transforms by name, plus curaug's own
transforms (:mod:`augment.image.own`), both found through :mod:`augment.image.transforms`.

Consecutive albumentations transforms of a plan run as one ``Compose`` (built once per
distinct plan segment, its random state set from the sample seed on every call) with
``save_applied_params=True``, so the values albumentations drew (angles, crops...) go into
the provenance. Masks, boxes and keypoints named by the recipe's ``targets`` go through
the same Compose and stay aligned with the image. Sources are decoded by
:mod:`augment.image.decode` (the decoder training reads images with too) and outputs
encoded by :mod:`augment.image.encode`.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from typing import TYPE_CHECKING, Any, Literal, Optional

import numpy as np
from pydantic import Field

from augment.image.decode import DEEP_PEAK, read_image
from augment.image.encode import FORMATS, encode, encode_png
from augment.image.magnitude import DEFAULT_POOL, MAGNITUDE_OPS
from augment.image.transforms import (albumentations, albumentations_class, albumentations_params,
                                      build_albumentations, build_own, check_step, own_transform)
from augment.plugin import Context, Output, Plugin, register_plugin
from augment.recipe import Gate, Recipe, draw_plan
from curate.errors import CuraugError
from curate.io.jsonify import jsonable
from curate.strict import Strict

if TYPE_CHECKING:
    from augment.recipe import Step

#: Compose objects kept per process (one per distinct run of albumentations steps in a plan)
_MAX_COMPOSES = 512
_MODES = {"L": "8-bit grey", "RGBA": "RGBA", "I;16": "16-bit grey"}


class Targets(Strict):
    """Manifest columns that travel with the image through geometric transforms."""

    mask: Optional[str] = None        # column holding a mask file path (relative to root)
    bboxes: Optional[str] = None      # column holding boxes as JSON [[x1, y1, x2, y2, label], ...]
    bbox_format: Literal["pascal_voc", "coco", "yolo", "albumentations"] = "pascal_voc"
    keypoints: Optional[str] = None   # column holding points as JSON [[x, y], ...]


class ImageGate(Gate):
    min_std: float = Field(1.0, ge=0)                 # near-constant images (pixel std, 0-255 scale)
    max_box_area_loss: float = Field(0.5, ge=0, le=1)  # share of box area lost to crops/moves


class ImageRecipe(Recipe):
    """An image recipe's own keys: the columns that travel with the image, the output format."""

    targets: Targets = Field(default_factory=Targets)
    format: Literal["png", "jpg", "webp", "same"] = "same"
    gate: Optional[ImageGate] = None


#: ``preset:`` lists, tested to change every copy and to grow in strength.
PRESETS: dict[str, list[Any]] = {
    "light": [
        {"HorizontalFlip": {"p": 0.5}},
        {"RandomBrightnessContrast": {"brightness_limit": 0.1, "contrast_limit": 0.1, "p": 0.5}},
    ],
    "medium": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"scale": [0.9, 1.1], "translate_percent": [-0.05, 0.05], "rotate": [-15, 15], "p": 0.7}},
        {"RandomBrightnessContrast": {"brightness_limit": 0.2, "contrast_limit": 0.2, "p": 0.5}},
        {"OneOf": {"transforms": [{"GaussianBlur": {"blur_limit": [3, 5]}}, {"noise": {"psnr": [28, 36]}}],
                   "p": 0.3}},
    ],
    "heavy": [
        {"HorizontalFlip": {"p": 0.5}},
        {"Affine": {"scale": [0.8, 1.2], "translate_percent": [-0.1, 0.1], "rotate": [-30, 30], "shear": [-10, 10],
                    "p": 0.9}},
        {"RandomBrightnessContrast": {"brightness_limit": 0.3, "contrast_limit": 0.3, "p": 0.7}},
        {"SomeOf": {"n": 2, "transforms": [{"GaussianBlur": {"blur_limit": [3, 7]}}, {"noise": {"psnr": [22, 32]}},
                                           {"CoarseDropout": {"num_holes_range": [1, 4]}},
                                           {"ElasticTransform": {"alpha": 30, "sigma": 5}}], "p": 0.6}},
    ],
}


@register_plugin
class ImagePlugin(Plugin):
    modality = "image"
    recipe_model = ImageRecipe
    presets = PRESETS
    magnitude_ops = MAGNITUDE_OPS
    default_pool = DEFAULT_POOL

    def __init__(self) -> None:
        self._composes: dict[tuple, Any] = {}
        self._own: dict[tuple[str, str], Any] = {}

    def versions(self) -> dict[str, str]:
        import PIL

        from augment.image.encode import settings

        return {"albumentations": albumentations().__version__, "pillow": PIL.__version__,
                "numpy": np.__version__, **settings()}

    # ------------------------------------------------------------ check

    def check(self, steps: list["Step"], where: str = "transforms") -> None:
        for i, step in enumerate(steps):
            if step.is_group:
                self.check(step.children, f"{where}.{i}.{step.name}.transforms")
            else:
                check_step(step.name, step.params, f"{where}.{i}")

    # ------------------------------------------------------------- draw

    def draw(self, steps: list["Step"], rng: np.random.Generator, ctx: Context, row: "dict[str, Any]") -> list[dict]:
        def leaf(step: "Step") -> dict:
            if own_transform(step.name) is not None:
                donors = ctx.donors(row.get(ctx.label) if ctx.label else None)
                return {"name": step.name, "params": self._own_step(step).get_params(rng, row=row, donors=donors)}
            params = albumentations_params(albumentations_class(step.name), step.params, rng)
            return {"name": step.name, "params": jsonable(params, digits=6)}

        return draw_plan(steps, rng, leaf)

    def _own_step(self, step: "Step"):
        """The validated transform of a recipe step, built once per process."""
        key = (step.name, json.dumps(step.params, sort_keys=True))
        if key not in self._own:
            self._own[key] = build_own(step.name, step.params)
        return self._own[key]

    # ------------------------------------------------------------- load / apply / save

    def load(self, row: "dict[str, Any]", ctx: Context) -> dict[str, Any]:
        from PIL import Image

        from curate.io.manifest import media_file

        image, mode = read_image(media_file(row["root"], row["path"]))
        sample: dict[str, Any] = {"image": image, "mode": mode}
        t = ctx.recipe.targets
        if t.mask and _present(row.get(t.mask)):
            with Image.open(media_file(row["root"], row[t.mask])) as m:
                sample["mask"] = np.asarray(m.convert("L"))
        if t.bboxes and _present(row.get(t.bboxes)):
            boxes = json.loads(row[t.bboxes]) if isinstance(row[t.bboxes], str) else list(row[t.bboxes])
            sample["bboxes"] = [list(map(float, b[:4])) for b in boxes]
            sample["bbox_labels"] = [b[4] if len(b) > 4 else 0 for b in boxes]
        if t.keypoints and _present(row.get(t.keypoints)):
            points = json.loads(row[t.keypoints]) if isinstance(row[t.keypoints], str) else list(row[t.keypoints])
            sample["keypoints"] = [list(map(float, k[:2])) for k in points]
        return sample

    def apply(self, sample: dict[str, Any], plan: list[dict], seed: int, ctx: Context) -> tuple[dict, list[dict]]:
        """Run ``plan`` on ``sample`` (left unchanged: one decoded source serves all its
        copies). Albumentations steps in a row run as one Compose seeded from ``seed``;
        curaug's own steps carry everything they drew in the plan."""
        out = sample
        applied: list[dict] = []
        run: list[dict] = []
        for k, entry in enumerate(plan + [None]):
            own = own_transform(entry["name"]) if entry is not None else None
            if entry is not None and own is None:
                run.append(entry)
                continue
            if run:
                out, info = self._compose(out, run, seed + k, ctx)
                applied += info
                run = []
            if entry is None:
                break
            out, info = own.apply_to_sample(out, entry["params"], lambda sid: ctx.source(sid, self.load))
            applied.append({"name": entry["name"], **info})
        if "mask" in out and "mask" not in sample and not ctx.recipe.targets.mask:
            out = {k: v for k, v in out.items() if k != "mask"}  # a mask made on the way that nobody asked for
        return out, applied

    def _compose(self, sample: dict, run: list[dict], seed: int, ctx: Context) -> tuple[dict, list[dict]]:
        compose = self._compose_for(run, "bboxes" in sample, "keypoints" in sample, ctx)
        # one numpy and one Python generator from the sample seed, shared by the transforms
        # (albumentations' set_random_state: a fifth of the cost of set_random_seed)
        compose.set_random_state(np.random.default_rng(int(seed)), random.Random(int(seed)))
        inputs = {k: v for k, v in sample.items() if k in ("image", "mask", "bboxes", "bbox_labels", "keypoints")}
        deep = inputs["image"].dtype == np.uint16
        if deep:
            # albumentations documents uint8 and float32 images; what a transform does with
            # uint16 depends on the OpenCV build (GaussNoise refuses it in 4.x, takes it in
            # 5.x). 16-bit images therefore go through as float32 in [0, 1], which every
            # transform takes and which holds all 65,536 levels exactly.
            inputs["image"] = inputs["image"].astype(np.float32) / np.float32(DEEP_PEAK)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = compose(**inputs)
        except Exception as exc:
            if sample["mode"] == "RGB":
                raise
            # not every albumentations transform takes every kind of image: that is the
            # recipe's choice of transform for these images, said in one line
            names = ", ".join(dict.fromkeys(e["name"] for e in run))
            reason = " ".join(str(exc).split()).rpartition("error: ")[2][:100]
            raise CuraugError(f"{names} cannot process {_MODES.get(sample['mode'], sample['mode'])} images: {reason}") \
                from None
        out = dict(sample)
        for key in ("image", "mask"):
            if key in result:
                out[key] = np.ascontiguousarray(result[key])
        if deep:
            out["image"] = np.clip(np.rint(out["image"] * DEEP_PEAK), 0, DEEP_PEAK).astype(np.uint16)
        if "bboxes" in sample:
            out["bboxes"] = [list(map(float, b)) for b in np.asarray(result["bboxes"]).reshape(-1, 4)]
            out["bbox_labels"] = list(result["bbox_labels"])
        if "keypoints" in sample:
            out["keypoints"] = [list(map(float, k[:2])) for k in np.asarray(result["keypoints"])]
        if not ctx.provenance:
            return out, []
        info = [{"name": name, "drawn": {k: _plain(v) for k, v in params.items() if k != "shape"}}
                for name, params in result.get("applied_transforms", [])]
        return out, info

    def _compose_for(self, run: list[dict], boxes: bool, points: bool, ctx: Context):
        """A Compose per distinct plan segment, built once: building one validates every
        transform, which costs more than running it on a small image."""
        key = (json.dumps(run, sort_keys=True), boxes, points, ctx.recipe.targets.bbox_format)
        if key not in self._composes:
            A = albumentations()
            transforms = [build_albumentations(albumentations_class(e["name"]), _restore(e["params"])) for e in run]
            kwargs: dict[str, Any] = {"save_applied_params": True}
            if boxes:
                kwargs["bbox_params"] = A.BboxParams(format=ctx.recipe.targets.bbox_format,
                                                     label_fields=["bbox_labels"])
            if points:
                kwargs["keypoint_params"] = A.KeypointParams(format="xy", remove_invisible=False)
            if len(self._composes) >= _MAX_COMPOSES:
                self._composes.pop(next(iter(self._composes)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._composes[key] = A.Compose(transforms, **kwargs)
        return self._composes[key]

    def extension(self, row: "dict[str, Any]", fmt: str | None) -> str:
        if fmt and fmt != "same":
            return "." + {"jpg": "jpg", "png": "png", "webp": "webp"}[fmt]
        suffix = os.path.splitext(str(row["path"]))[1].lower()
        return suffix if suffix in FORMATS else ".png"

    def save(self, sample: dict, path: str, fmt: str | None = None) -> bytes:
        """Encode deterministically (fixed settings, no timestamps) and return the bytes."""
        return encode(sample["image"], path)

    def encode_mask(self, mask: np.ndarray) -> bytes:
        return encode_png(mask.astype(np.uint8))

    def output(self, sample: dict, applied: list[dict], path: str, ctx: Context) -> Output:
        """The image at ``path`` with its size; the mask beside it (``<stem>_mask.png``), the
        boxes and points in the columns the recipe's ``targets`` name."""
        image = np.asarray(sample["image"])
        files = {path: self.save(sample, path)}
        columns: dict[str, Any] = {"height": image.shape[0], "width": image.shape[1],
                                   "channels": image.shape[2] if image.ndim > 2 else 1}
        targets = ctx.recipe.targets
        if targets.mask and "mask" in sample:
            mask_path = os.path.splitext(path)[0] + "_mask.png"
            files[mask_path] = self.encode_mask(sample["mask"])
            columns[targets.mask] = mask_path
        if targets.bboxes and "bboxes" in sample:
            columns[targets.bboxes] = json.dumps([[round(v, 3) for v in box] + [name] for box, name
                                                  in zip(sample["bboxes"], sample.get("bbox_labels", []))])
        if targets.keypoints and "keypoints" in sample:
            columns[targets.keypoints] = json.dumps([[round(x, 3), round(y, 3)] for x, y in sample["keypoints"]])
        return Output(files, columns, applied)

    def gate(self, source: dict, sample: dict, rule, ctx: Context) -> str | None:
        from augment.image.ops import peak

        std = float(sample["image"].std()) * 255.0 / peak(sample["image"].dtype)  # on the 8-bit scale
        if std < rule.min_std:
            return f"near-constant image (pixel std {std:.2f} < {rule.min_std:g})"
        if source.get("bboxes"):
            xywh = ctx.recipe.targets.bbox_format in ("coco", "yolo")
            before, after = _box_area(source["bboxes"], xywh), _box_area(sample.get("bboxes", []), xywh)
            lost = 1 - after / before if before > 0 else 0.0
            if lost > rule.max_box_area_loss:
                return f"boxes lost {lost:.0%} of their area (> {rule.max_box_area_loss:.0%})"
        return None


    def gate_features(self, sample: dict, ctx: Context) -> np.ndarray:
        """The image as a grey thumbnail of :data:`GATE_THUMB` pixels a side, 0..1 (alpha
        dropped): what a digit or a shape is, without the detail augmentation changes."""
        from PIL import Image

        from augment.image.ops import peak

        image = sample["image"]
        grey = image[..., :3].mean(axis=2) if image.ndim == 3 else image
        thumb = Image.fromarray((grey / peak(image.dtype)).astype(np.float32), mode="F")
        return np.asarray(thumb.resize((GATE_THUMB, GATE_THUMB), Image.Resampling.BILINEAR)).ravel()


#: Side of the thumbnail the label-preserving gate classifies images by.
GATE_THUMB = 16


def _box_area(boxes, xywh: bool) -> float:
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if xywh:
        return float((b[:, 2] * b[:, 3]).sum())
    return float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).clip(min=0).sum())


#: Largest array recorded value by value in provenance (an affine matrix, a few colours);
#: a larger one (a noise map, a dropout mask) is recorded by shape, dtype, summary and hash.
MAX_RECORDED_ELEMENTS = 64


def _plain(value: Any) -> Any:
    """A value albumentations drew, JSON-ready to 6 decimals: float arrays (the affine
    matrices) rounded whole, not number by number; a per-pixel array (GaussNoise's noise
    map: 64 KB of JSON for a 32x32 image, a row in every record and in the manifest) by
    its shape, dtype, mean, std and a hash of its bytes."""
    if isinstance(value, np.ndarray) and value.size > MAX_RECORDED_ELEMENTS:
        import hashlib

        numeric = value.dtype.kind in "fiub"
        return {"shape": list(value.shape), "dtype": str(value.dtype),
                **({"mean": round(float(value.mean()), 6), "std": round(float(value.std()), 6)} if numeric else {}),
                "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]}
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and np.isfinite(value).all():
        return np.round(value, 6).tolist()
    return jsonable(value, digits=6)


def _present(value: Any) -> bool:
    if value is None:
        return False
    try:
        import pandas as pd

        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def _restore(params: dict) -> dict:
    """Plan parameters back to what albumentations takes (two-element lists -> tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
