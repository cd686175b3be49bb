"""curaug's own image transforms, registered by their recipe names: ``noise`` and
``copy_paste`` (the pixel work is in :mod:`augment.image.ops`)."""

# no `from __future__ import annotations` here: pydantic reads the InitSchema annotations,
# which are values built by number() and choices()
from typing import Any, Optional, Sequence

import numpy as np

from augment.image.ops import add_noise, copy_paste, psnr
from augment.image.transforms import TRANSFORMS, ImageTransform, Load, Sample, choices, number

NoiseKind = choices("gaussian", "salt_pepper", "speckle")
Decibels = number(gt=0)
Target = choices("same", "other", "any")
Blend = choices("alpha", "poisson")
Pixels = number(ge=0)
Factor = number(gt=0)


@TRANSFORMS.register("noise")
class Noise(ImageTransform):
    """Gaussian, salt-and-pepper or speckle noise scaled to a target PSNR in dB.

    ``kind`` is one kind or a list to draw from; ``psnr`` a value or ``[lo, hi]``.
    The noise field itself comes from a ``seed`` drawn with the other values, so the
    plan entry alone reproduces it.
    """

    class InitSchema(ImageTransform.InitSchema):
        kind: NoiseKind = "gaussian"
        psnr: Decibels = 30.0

    def get_params(self, rng: np.random.Generator, **data: Any) -> dict[str, Any]:
        drawn = super().get_params(rng)
        drawn["seed"] = int(rng.integers(2**32))
        return drawn

    @staticmethod
    def apply(image: np.ndarray, *, kind: str, psnr: float, seed: int) -> np.ndarray:
        return add_noise(image, kind, float(psnr), np.random.default_rng(seed))

    @staticmethod
    def measure(before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
        return {"measured_psnr": round(psnr(before, after), 3)}


@TRANSFORMS.register("copy_paste")
class CopyPaste(ImageTransform):
    """Cut the sample's object out (its mask, else the foreground) and paste it, scaled,
    at a drawn place into the same image (its old place inpainted) or into another train
    image of the same class, blended with a feathered alpha or Poisson.

    ``target: any`` draws ``same`` or ``other`` evenly (``same`` when the class has no
    other image); ``x``/``y`` place the object's box within the free room (0-1).
    """

    class InitSchema(ImageTransform.InitSchema):
        target: Target = "any"
        blend: Blend = "alpha"
        feather: Pixels = 1.0
        scale: Factor = 1.0

    def get_params(self, rng: np.random.Generator, *, row: Optional[dict] = None, donors: Sequence[str] = (),
                   **data: Any) -> dict[str, Any]:
        drawn = super().get_params(rng)
        own_id = row.get("id") if row else None
        others = len(donors) - (1 if own_id in donors else 0)
        target = drawn["target"]
        if target == "any":
            target = "other" if others and rng.random() < 0.5 else "same"
        if target == "other" and not others:
            target = "same"
        drawn["target"] = target
        drawn["donor"] = _pick_other(rng, donors, own_id) if target == "other" else None
        drawn["x"], drawn["y"] = float(rng.random()), float(rng.random())
        return drawn

    @staticmethod
    def apply(image: np.ndarray, *, mask: Optional[np.ndarray] = None, donor_image: Optional[np.ndarray] = None,
              donor_mask: Optional[np.ndarray] = None, **drawn: Any) -> np.ndarray:
        """The pasted image alone (:meth:`apply_to_sample` also returns the new mask)."""
        dst, dst_mask = (donor_image, donor_mask) if donor_image is not None else (image, mask)
        return copy_paste(image, mask, dst, dst_mask, drawn)[0]

    @classmethod
    def apply_to_sample(cls, sample: Sample, drawn: dict[str, Any], load: Load) -> tuple[Sample, dict[str, Any]]:
        if drawn["target"] == "other" and drawn.get("donor") is not None:
            donor = load(drawn["donor"])
            dst, dst_mask = _like(donor["image"], sample["image"]), donor.get("mask")
        else:
            dst, dst_mask = sample["image"], sample.get("mask")
        image, mask, info = copy_paste(sample["image"], sample.get("mask"), dst, dst_mask, drawn)
        out = dict(sample)
        out["image"] = image
        out["mask"] = mask.astype(np.uint8) * 255
        if drawn["target"] == "other":  # the donor's boxes and points are not known: drop the source's
            for key in ("bboxes", "bbox_labels", "keypoints"):
                out.pop(key, None)
        return out, {"target": drawn["target"], "donor": drawn.get("donor"), **info}


def _pick_other(rng: np.random.Generator, donors: Sequence[str], own_id: Any) -> str:
    """A donor drawn uniformly among ``donors`` other than ``own_id`` (no list copy: a class
    may hold many thousand images)."""
    k = int(rng.integers(len(donors)))
    if donors[k] != own_id:
        return str(donors[k])
    j = int(rng.integers(len(donors) - 1))  # drew itself: draw again among the others
    return str(donors[j if j < k else j + 1])


def _like(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` with the channels and bit depth of ``reference`` (a donor of another mode)."""
    import cv2

    from augment.image.ops import channels

    have, want = channels(image), channels(reference)
    if have != want:
        code = {(1, 3): cv2.COLOR_GRAY2RGB, (1, 4): cv2.COLOR_GRAY2RGBA, (3, 1): cv2.COLOR_RGB2GRAY,
                (3, 4): cv2.COLOR_RGB2RGBA, (4, 1): cv2.COLOR_RGBA2GRAY, (4, 3): cv2.COLOR_RGBA2RGB}[have, want]
        image = cv2.cvtColor(image, code)
    if image.dtype != reference.dtype:
        scale = float(np.iinfo(reference.dtype).max) / float(np.iinfo(image.dtype).max)
        image = np.clip(np.rint(image.astype(np.float64) * scale), 0, np.iinfo(reference.dtype).max)
        image = image.astype(reference.dtype)
    return image
