"""The image plugin: albumentations 2.0 (MIT line) transforms by name, plus curaug's own
``noise`` and ``copy_paste`` (:mod:`augment.image.ops`).

Consecutive albumentations transforms of a plan run as one ``Compose`` (built once per
distinct plan segment, its random state set from the sample seed on every call) with
``save_applied_params=True``, so the values albumentations drew (angles, crops...) go into
the provenance. Masks, boxes and keypoints named by the recipe's ``targets`` go through
the same Compose and stay aligned with the image.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import os
import random
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from augment.plugin import Context, Output, Plugin, register_plugin
from curate.errors import CuraugError, did_you_mean
from curate.io.jsonify import jsonable

if TYPE_CHECKING:
    from augment.recipe import Step

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network: albumentations' version check off

#: curaug's own transforms: parameter -> (default, allowed values or None for a number)
OWN: dict[str, dict[str, tuple[Any, Any]]] = {
    "noise": {"kind": ("gaussian", ("gaussian", "salt_pepper", "speckle")), "psnr": (30.0, None)},
    "copy_paste": {"target": ("any", ("same", "other", "any")), "blend": ("alpha", ("alpha", "poisson")),
                   "feather": (1.0, None), "scale": (1.0, None)},
}
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP",
                 ".tif": "TIFF", ".tiff": "TIFF"}


def _albumentations():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import albumentations as A
    return A


@functools.lru_cache(maxsize=None)
def _transform_class(name: str):
    A = _albumentations()
    cls = getattr(A, name, None)
    if isinstance(cls, type) and issubclass(cls, A.BasicTransform) and not inspect.isabstract(cls) \
            and name not in ("Compose", "OneOf", "SomeOf", "Sequential"):
        return cls
    return None


def _known_names() -> list[str]:
    A = _albumentations()
    return sorted([n for n in dir(A) if _transform_class(n) is not None] + list(OWN))


@functools.lru_cache(maxsize=None)
def _accepts_range(cls, param: str) -> bool:
    schema = getattr(cls, "InitSchema", None)
    fields = getattr(schema, "model_fields", {}) if schema is not None else {}
    return param in fields and "tuple" in str(fields[param].annotation)


@register_plugin
class ImagePlugin(Plugin):
    modality = "image"

    def versions(self) -> dict[str, str]:
        import PIL

        return {"albumentations": _albumentations().__version__, "pillow": PIL.__version__,
                "numpy": np.__version__}

    # ------------------------------------------------------------ check

    def check(self, steps: list["Step"], where: str = "transforms") -> None:
        for i, step in enumerate(steps):
            here = f"{where}.{i}.{step.name}"
            if step.is_group:
                self.check(step.children, f"{here}.transforms")
                continue
            if step.name in OWN:
                spec = OWN[step.name]
                for key, value in step.params.items():
                    if key not in spec:
                        raise CuraugError(f"{here}: unknown parameter '{key}'{did_you_mean(key, list(spec))} "
                                          f"(takes: {', '.join(spec)}, p)")
                    allowed = spec[key][1]
                    values = value if isinstance(value, list) else [value]
                    if allowed is not None and any(v not in allowed for v in values):
                        raise CuraugError(f"{here}.{key}: expected one of {', '.join(allowed)}, got {value!r}")
                    if allowed is None and not all(isinstance(v, (int, float)) for v in values):
                        raise CuraugError(f"{here}.{key}: expected a number or [lo, hi], got {value!r}")
                continue
            cls = _transform_class(step.name)
            if cls is None:
                raise CuraugError(f"{here}: unknown image transform '{step.name}'"
                                  f"{did_you_mean(step.name, _known_names())}")
            accepted = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "args", "kwargs")]
            for key in step.params:
                if key not in accepted:
                    raise CuraugError(f"{here}: unknown parameter '{key}' for {step.name}{did_you_mean(key, accepted)}")
            self._build(cls, self._fixed(cls, step.params, None), here)

    @staticmethod
    def _fixed(cls, params: dict[str, Any], rng: np.random.Generator | None) -> dict[str, Any]:
        """Resolve ``[lo, hi]``: a range the transform takes itself is passed through (it
        draws within it, seeded); any other is drawn here (or its ``lo`` when only checking)."""
        out = {}
        for key, value in params.items():
            if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
                if cls is not None and _accepts_range(cls, key):
                    out[key] = tuple(value)
                elif rng is None:
                    out[key] = value[0]
                elif all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                    out[key] = int(rng.integers(value[0], value[1] + 1))
                else:
                    out[key] = float(rng.uniform(value[0], value[1]))
            else:
                out[key] = value
        return out

    @staticmethod
    def _build(cls, params: dict[str, Any], here: str = ""):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                return cls(**params, p=1.0)
        except Exception as exc:  # albumentations raises ValueError/pydantic errors/UserWarning
            first = " ".join(str(exc).split())[:300]
            raise CuraugError(f"{here}: invalid parameters for {cls.__name__}: {first}") from None

    # ------------------------------------------------------------- draw

    def draw(self, steps: list["Step"], rng: np.random.Generator, ctx: Context, row: "dict[str, Any]") -> list[dict]:
        plan: list[dict] = []
        for step in steps:
            if rng.random() >= step.p:
                continue
            if step.name == "OneOf":
                weights = np.array([c.p for c in step.children], dtype=float)
                weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1 / len(weights))
                chosen = [step.children[int(rng.choice(len(step.children), p=weights))]]
                plan += self.draw([_always(c) for c in chosen], rng, ctx, row)
            elif step.name == "SomeOf":
                idx = rng.choice(len(step.children), size=step.n, replace=step.replace)
                plan += self.draw([_always(step.children[int(i)]) for i in sorted(idx)], rng, ctx, row)
            elif step.name in OWN:
                plan.append(self._draw_own(step, rng, ctx, row))
            else:
                cls = _transform_class(step.name)
                plan.append({"name": step.name, "params": jsonable(self._fixed(cls, step.params, rng), digits=6)})
        return plan

    def _draw_own(self, step: "Step", rng: np.random.Generator, ctx: Context, row: "dict[str, Any]") -> dict:
        params = {k: v for k, (v, _) in OWN[step.name].items()}
        for key, value in step.params.items():
            if isinstance(value, list) and OWN[step.name][key][1] is not None:
                params[key] = str(value[int(rng.integers(len(value)))])  # a list of choices
            else:
                params.update(self._fixed(None, {key: value}, rng))
        if step.name == "copy_paste":
            target = params["target"]
            donors = [d for d in ctx.donors(row.get(ctx.label) if ctx.label else None) if d != row["id"]]
            if target == "any":
                target = "other" if donors and rng.random() < 0.5 else "same"
            if target == "other" and not donors:
                target = "same"
            params["target"] = target
            params["donor"] = str(donors[int(rng.integers(len(donors)))]) if target == "other" else None
            params["x"], params["y"] = float(rng.random()), float(rng.random())
        return {"name": step.name, "params": params}

    # ------------------------------------------------------------- load / apply / save

    def load(self, row: "dict[str, Any]", ctx: Context) -> dict[str, Any]:
        from PIL import Image

        from curate.io.manifest import media_file

        with Image.open(media_file(row["root"], row["path"])) as im:
            mode = im.mode if im.mode in ("L", "RGB", "RGBA") else "RGB"
            sample: dict[str, Any] = {"image": np.asarray(im.convert(mode)), "mode": mode}
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
        out = dict(sample)
        applied: list[dict] = []
        run: list[dict] = []
        for k, entry in enumerate(plan + [None]):
            if entry is not None and entry["name"] not in OWN:
                run.append(entry)
                continue
            if run:
                out, info = self._compose(out, run, seed + k, ctx)
                applied += info
                run = []
            if entry is None:
                break
            rng = np.random.default_rng([seed, k])
            if entry["name"] == "noise":
                before = out["image"]
                out["image"] = _noise(before, entry["params"], rng)
                from augment.image.ops import psnr

                applied.append({"name": "noise", "measured_psnr": round(psnr(before, out["image"]), 3)})
            else:
                out, info = self._copy_paste(out, entry["params"], ctx)
                applied.append({"name": "copy_paste", **info})
        return out, applied

    def _compose(self, sample: dict, run: list[dict], seed: int, ctx: Context) -> tuple[dict, list[dict]]:
        compose = self._compose_for(run, "bboxes" in sample, "keypoints" in sample, ctx)
        # one numpy and one Python generator from the sample seed, shared by the transforms
        # (albumentations' set_random_state: a fifth of the cost of set_random_seed)
        compose.set_random_state(np.random.default_rng(int(seed)), random.Random(int(seed)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inputs = {k: v for k, v in sample.items() if k in ("image", "mask", "bboxes", "bbox_labels", "keypoints")}
            result = compose(**inputs)
        out = dict(sample)
        for key in ("image", "mask"):
            if key in result:
                out[key] = np.ascontiguousarray(result[key])
        if "bboxes" in sample:
            out["bboxes"] = [list(map(float, b)) for b in np.asarray(result["bboxes"]).reshape(-1, 4)]
            out["bbox_labels"] = list(result["bbox_labels"])
        if "keypoints" in sample:
            out["keypoints"] = [list(map(float, k[:2])) for k in np.asarray(result["keypoints"])]
        info = [{"name": name, "drawn": jsonable({k: v for k, v in params.items() if k != "shape"}, digits=6)}
                for name, params in result.get("applied_transforms", [])]
        return out, info

    def _compose_for(self, run: list[dict], boxes: bool, points: bool, ctx: Context):
        """A Compose per distinct plan segment, built once: building one validates every
        transform, which costs more than running it on a small image."""
        key = (json.dumps(run, sort_keys=True), boxes, points, ctx.recipe.targets.bbox_format)
        cache = self.__dict__.setdefault("_composes", {})
        if key not in cache:
            A = _albumentations()
            transforms = [self._build(_transform_class(e["name"]), _restore(e["params"]), e["name"]) for e in run]
            kwargs: dict[str, Any] = {"save_applied_params": True}
            if boxes:
                kwargs["bbox_params"] = A.BboxParams(format=ctx.recipe.targets.bbox_format,
                                                     label_fields=["bbox_labels"])
            if points:
                kwargs["keypoint_params"] = A.KeypointParams(format="xy", remove_invisible=False)
            if len(cache) >= 512:
                cache.pop(next(iter(cache)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cache[key] = A.Compose(transforms, **kwargs)
        return cache[key]

    def _copy_paste(self, sample: dict, params: dict, ctx: Context) -> tuple[dict, dict]:
        from augment.image.ops import copy_paste

        if params["target"] == "other" and params.get("donor") is not None:
            donor = self.load(ctx.record(params["donor"]), ctx)
            dst, dst_mask = donor["image"], donor.get("mask")
            if dst.ndim != sample["image"].ndim:
                from PIL import Image

                dst = np.asarray(Image.fromarray(dst).convert(sample["mode"]))
        else:
            dst, dst_mask = sample["image"], sample.get("mask")
        image, mask, info = copy_paste(sample["image"], sample.get("mask"), dst, dst_mask, params)
        out = dict(sample)
        out["image"] = image
        if "mask" in sample or ctx.recipe.targets.mask:
            out["mask"] = (mask.astype(np.uint8) * 255)
        if params["target"] == "other":  # the donor's boxes are not known to line up: drop them
            out.pop("bboxes", None)
            out.pop("bbox_labels", None)
        return out, {"target": params["target"], "donor": params.get("donor"), **info}

    def extension(self, row: "dict[str, Any]", fmt: str | None) -> str:
        if fmt and fmt != "same":
            return "." + {"jpg": "jpg", "png": "png", "webp": "webp"}[fmt]
        suffix = os.path.splitext(str(row["path"]))[1].lower()
        return suffix if suffix in _SAVE_FORMATS else ".png"

    def save(self, sample: dict, path: str, fmt: str | None = None) -> bytes:
        """Encode deterministically (fixed quality, no timestamps) and return the bytes."""
        from PIL import Image

        ext = os.path.splitext(path)[1].lower()
        image = sample["image"]
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        im = Image.fromarray(image)
        buf = io.BytesIO()
        options = {"quality": 95} if _SAVE_FORMATS[ext] in ("JPEG", "WEBP") else {}
        im.save(buf, format=_SAVE_FORMATS[ext], **options)
        return buf.getvalue()

    def encode_mask(self, mask: np.ndarray) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(mask.astype(np.uint8)).save(buf, format="PNG")
        return buf.getvalue()

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
        std = float(sample["image"].std())
        if std < rule.min_std:
            return f"near-constant image (pixel std {std:.2f} < {rule.min_std:g})"
        if source.get("bboxes"):
            xywh = ctx.recipe.targets.bbox_format in ("coco", "yolo")
            before, after = _box_area(source["bboxes"], xywh), _box_area(sample.get("bboxes", []), xywh)
            lost = 1 - after / before if before > 0 else 0.0
            if lost > rule.max_box_area_loss:
                return f"boxes lost {lost:.0%} of their area (> {rule.max_box_area_loss:.0%})"
        return None


def _box_area(boxes, xywh: bool) -> float:
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if xywh:
        return float((b[:, 2] * b[:, 3]).sum())
    return float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).clip(min=0).sum())


def _noise(image: np.ndarray, params: dict, rng: np.random.Generator) -> np.ndarray:
    from augment.image.ops import add_noise

    return add_noise(image, params["kind"], float(params["psnr"]), rng)


def _always(step: "Step") -> "Step":
    """A group's chosen child runs for sure (the group's own p was already drawn)."""
    from dataclasses import replace

    return replace(step, p=1.0)


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
