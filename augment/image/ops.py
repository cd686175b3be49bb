"""The pixel work of curaug's own image transforms: ``noise`` at a target PSNR and ``copy_paste``.

Both take and return uint8 arrays (H x W or H x W x C) and draw nothing themselves: their
random choices arrive drawn (by the transforms of :mod:`augment.image.own`) or as a
seeded ``numpy.random.Generator``, so they replay exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PEAK = 255.0


def channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else int(image.shape[2])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images (inf when equal)."""
    mse = float(np.mean((a.astype(float) - b.astype(float)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(PEAK**2 / mse))


def add_noise(img: np.ndarray, kind: str, target_psnr: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian, salt-and-pepper or speckle noise scaled so the result has ``target_psnr`` dB.

    The noise strength comes from the target MSE ``255^2 / 10^(psnr/10)``: Gaussian sigma
    is its square root; salt-and-pepper replaces the share of pixels whose expected squared
    change gives it; speckle (``x + x n``) takes ``sigma^2 = MSE / E[x^2]``. Clipping to
    0-255 makes the measured PSNR a little higher than the target on bright or dark images.

    Examples
    --------
    >>> img = np.full((64, 64), 128, np.uint8)
    >>> out = add_noise(img, "gaussian", 30.0, np.random.default_rng(0))
    >>> bool(abs(psnr(img, out) - 30.0) < 0.5)
    True
    """
    x = img.astype(float)
    mse = PEAK**2 / 10 ** (target_psnr / 10)
    if kind == "gaussian":
        out = x + rng.normal(0.0, np.sqrt(mse), x.shape)
    elif kind == "speckle":
        out = x + x * rng.normal(0.0, np.sqrt(mse / max(float(np.mean(x**2)), 1e-9)), x.shape)
    elif kind == "salt_pepper":
        # pixels in random order, each turned to 0 or 255 at random, until their summed
        # squared change reaches the target: exact to one pixel even on a tiny image
        h, w = x.shape[:2]
        order = rng.permutation(h * w)
        salt = rng.random(h * w) < 0.5
        flat = x.reshape(h * w, -1)
        value = np.where(salt, PEAK, 0.0)
        change = ((flat[order] - value[:, None]) ** 2).sum(axis=1)
        total = np.cumsum(change)
        budget = mse * flat.size
        k = int(np.searchsorted(total, budget))
        if k < len(total) and (k == 0 or abs(total[k] - budget) < abs(total[k - 1] - budget)):
            k += 1  # include the pixel that lands closest to the target
        out = flat.copy()
        out[order[:k]] = value[:k, None]
        out = out.reshape(x.shape)
    else:
        raise ValueError(f"unknown noise kind '{kind}' (gaussian, salt_pepper, speckle)")
    return np.clip(np.rint(out), 0, PEAK).astype(np.uint8)


def _grey(img: np.ndarray) -> np.ndarray:
    return img.astype(float) if img.ndim == 2 else img[..., :3].astype(float).mean(axis=2)


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in 0-255."""
    hist = np.bincount(np.clip(values.astype(int), 0, 255).ravel(), minlength=256).astype(float)
    w = np.cumsum(hist)
    mu = np.cumsum(hist * np.arange(256))
    total, mean = w[-1], mu[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean * w - mu * total) ** 2 / (w * (total - w))
    return float(np.nanargmax(between)) if np.isfinite(between).any() else 0.0


def foreground_mask(img: np.ndarray, min_contrast: float = 10.0) -> np.ndarray:
    """The main object: pixels that differ from the border's median colour by more than
    Otsu's threshold, largest connected component only."""
    import cv2

    grey = _grey(img)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    diff = np.abs(grey - np.median(border))
    fg = (diff > max(otsu(diff), min_contrast)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if count <= 1:
        return fg.astype(bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def _inpaint(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` from its surroundings (Telea's fast marching method)."""
    import cv2

    grown = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8))
    return cv2.inpaint(img, grown * 255, 3, cv2.INPAINT_TELEA)


def copy_paste(img: np.ndarray, mask: np.ndarray | None, dst: np.ndarray, dst_mask: np.ndarray | None,
               plan: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Segment the object of ``img``, move it and blend it into ``dst``.

    ``dst`` is ``img`` itself (``plan['target'] == 'same'``: the object's old place is
    inpainted first, so the background it leaves is resampled from around it) or another
    training image of the same class. ``plan`` holds ``scale``, ``x`` and ``y`` (where the
    object's centre goes, as fractions of the free room) and ``blend`` (``alpha`` with a
    ``feather`` in pixels, or ``poisson``). Returns the image, its object mask and what was
    done (object box before and after, pixels pasted).
    """
    import cv2

    obj = (mask > 0) if mask is not None else foreground_mask(img)
    if obj.sum() < 4:
        return dst.copy(), (dst_mask if dst_mask is not None else np.zeros(dst.shape[:2], bool)), \
            {"skipped": "no object found"}
    ys, xs = np.nonzero(obj)
    margin = 2  # a little background around the object: Poisson blending needs its edges
    y0, y1 = max(0, ys.min() - margin), min(img.shape[0], ys.max() + 1 + margin)
    x0, x1 = max(0, xs.min() - margin), min(img.shape[1], xs.max() + 1 + margin)
    patch, pmask = img[y0:y1, x0:x1], obj[y0:y1, x0:x1]
    base = _inpaint(img, obj) if plan["target"] == "same" else dst.copy()
    base_mask = np.zeros(base.shape[:2], bool) if plan["target"] == "same" else \
        (dst_mask > 0 if dst_mask is not None else foreground_mask(dst))
    H, W = base.shape[:2]
    scale = min(float(plan.get("scale", 1.0)), (H - 2) / patch.shape[0], (W - 2) / patch.shape[1])
    h, w = max(1, int(round(patch.shape[0] * scale))), max(1, int(round(patch.shape[1] * scale)))
    patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)  # bilinear resample
    pmask = cv2.resize(pmask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    top = int(round(plan["y"] * (H - h)))
    left = int(round(plan["x"] * (W - w)))
    out = base.copy()
    region = (slice(top, top + h), slice(left, left + w))
    if plan.get("blend", "alpha") == "poisson" and pmask.sum() > 0 and min(h, w) >= 3:
        colour = out if out.ndim == 3 else cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
        src = patch if patch.ndim == 3 else cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR)
        full = np.zeros_like(colour)
        full[region] = src
        m = np.zeros(colour.shape[:2], np.uint8)
        m[region] = cv2.dilate(pmask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2) * 255
        m[0, :] = m[-1, :] = 0
        m[:, 0] = m[:, -1] = 0
        ys2, xs2 = np.nonzero(m)
        centre = (int((xs2.min() + xs2.max() + 1) // 2), int((ys2.min() + ys2.max() + 1) // 2))
        blended = cv2.seamlessClone(full, colour, m, centre, cv2.NORMAL_CLONE)
        out = blended if out.ndim == 3 else cv2.cvtColor(blended, cv2.COLOR_BGR2GRAY)
    else:
        feather = float(plan.get("feather", 1.0))
        alpha = pmask.astype(np.float32)
        if feather > 0:
            k = 2 * int(np.ceil(2 * feather)) + 1
            alpha = cv2.GaussianBlur(alpha, (k, k), feather) * pmask.max()
            alpha = np.maximum(alpha, pmask * 0.5)
        if out.ndim == 3:
            alpha = alpha[..., None]
        blended = out[region].astype(np.float32) * (1 - alpha) + patch.astype(np.float32) * alpha
        out[region] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    new_mask = base_mask.copy()
    new_mask[region] |= pmask
    info = {"from_box": [int(x0), int(y0), int(x1), int(y1)],
            "to_box": [left, top, left + w, top + h], "pixels": int(pmask.sum()), "scale": round(scale, 4)}
    return out, new_mask, info
