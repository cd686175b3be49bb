"""The pixel work of curaug's own image transforms: ``noise`` at a target PSNR and ``copy_paste``.

Both take and return 8- or 16-bit arrays (H x W, or H x W x C with C = 3 or 4) and draw
nothing themselves: their random choices arrive drawn (by the transforms of
:mod:`augment.image.own`) or as a seeded ``numpy.random.Generator``, so they replay exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np



def peak(dtype: np.dtype) -> float:
    """The largest pixel value of an image type: 255 for 8-bit, 65535 for 16-bit."""
    return float(np.iinfo(dtype).max)


def channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else int(image.shape[2])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two images of one type (inf when equal),
    over the colour channels (an alpha channel is not signal)."""
    if channels(a) == 4:
        a, b = a[..., :3], b[..., :3]
    mse = float(np.mean((a.astype(float) - b.astype(float)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak(a.dtype) ** 2 / mse))


def add_noise(img: np.ndarray, kind: str, target_psnr: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian, salt-and-pepper or speckle noise scaled so the result has ``target_psnr`` dB.

    The target MSE is ``peak^2 / 10^(psnr/10)`` (peak: 255, or 65535 for 16-bit).
    Gaussian (``x + s n``) and speckle (``x + s x n``) noise start from the ``s`` that gives
    it before clipping, then rescale ``s`` on the same draw until the clipped, rounded
    result is within 0.01 dB of the target: on dark or bright images clipping alone would
    leave it up to 3 dB short. Salt-and-pepper turns pixels, in random order, to 0 or peak
    until their summed squared change reaches the target: exact to one pixel's change. An
    alpha channel is left as it is.

    Examples
    --------
    >>> img = np.zeros((64, 64), np.uint8)  # black: half of all Gaussian noise is clipped away
    >>> out = add_noise(img, "gaussian", 30.0, np.random.default_rng(0))
    >>> round(psnr(img, out), 2)
    30.0
    """
    if channels(img) == 4:
        out = img.copy()
        out[..., :3] = add_noise(img[..., :3], kind, target_psnr, rng)
        return out
    x = img.astype(float)
    top = peak(img.dtype)
    mse = top**2 / 10 ** (target_psnr / 10)
    if kind in ("gaussian", "speckle"):
        direction = rng.standard_normal(x.shape)
        if kind == "speckle":
            direction *= x
        return _scaled_to(x, direction, mse, top).astype(img.dtype)
    if kind == "salt_pepper":
        # pixels in random order, each turned to 0 or peak at random, until their summed
        # squared change reaches the target: exact to one pixel even on a tiny image
        h, w = x.shape[:2]
        order = rng.permutation(h * w)
        salt = rng.random(h * w) < 0.5
        flat = x.reshape(h * w, -1)
        value = np.where(salt, top, 0.0)
        change = ((flat[order] - value[:, None]) ** 2).sum(axis=1)
        total = np.cumsum(change)
        budget = mse * flat.size
        k = int(np.searchsorted(total, budget))
        if k < len(total) and abs(total[k] - budget) < abs((total[k - 1] if k else 0.0) - budget):
            k += 1  # include the pixel that crosses the target when that lands closer to it
        out = flat.copy()
        out[order[:k]] = value[:k, None]
        return out.reshape(x.shape).astype(img.dtype)
    raise ValueError(f"unknown noise kind '{kind}' (gaussian, salt_pepper, speckle)")


def _scaled_to(x: np.ndarray, direction: np.ndarray, mse: float, top: float, tries: int = 8) -> np.ndarray:
    """``clip(rint(x + s * direction))`` with ``s`` chosen so its MSE from ``x`` is ``mse``.

    Without clipping the MSE grows as ``s^2``, so ``s`` is rescaled by the square root of
    the shortfall until within 0.01 dB (clipping makes it grow slower: a few rounds)."""
    power = float(np.mean(direction**2))
    if power == 0:  # nothing to scale (speckle on a black image)
        return x.copy()
    s = np.sqrt(mse / power)
    for _ in range(tries):
        out = np.clip(np.rint(x + s * direction), 0, top)
        got = float(np.mean((out - x) ** 2))
        if got == 0 or abs(10 * np.log10(got / mse)) < 0.01:
            break
        s *= np.sqrt(mse / got)
    return out


def _grey(img: np.ndarray) -> np.ndarray:
    """Brightness on the 0-255 scale whatever the bit depth (the alpha channel left out)."""
    grey = img.astype(float) if img.ndim == 2 else img[..., :3].astype(float).mean(axis=2)
    return grey * (255.0 / peak(img.dtype))


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
    """The main object, largest connected component only: where an alpha channel varies,
    its opaque half (a cut-out's own outline); otherwise the pixels that differ from the
    border's median colour by more than Otsu's threshold."""
    import cv2

    alpha = img[..., 3] if channels(img) == 4 else None
    if alpha is not None and alpha.min() != alpha.max():
        fg = (alpha > peak(img.dtype) / 2).astype(np.uint8)
    else:
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
    """Fill ``hole`` from its surroundings (Telea's fast marching method).

    OpenCV inpaints 8-bit grey or RGB at once; any other image (RGBA, 16-bit) is done one
    channel at a time in 32-bit float, which it also takes."""
    import cv2

    grown = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) * 255
    if img.dtype == np.uint8 and channels(img) in (1, 3):
        return cv2.inpaint(img, grown, 3, cv2.INPAINT_TELEA)
    planes = [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[2])]
    filled = [cv2.inpaint(np.ascontiguousarray(p, dtype=np.float32), grown, 3, cv2.INPAINT_TELEA) for p in planes]
    out = np.clip(np.rint(np.dstack(filled) if img.ndim == 3 else filled[0]), 0, peak(img.dtype))
    return out.astype(img.dtype)


def copy_paste(img: np.ndarray, mask: np.ndarray | None, dst: np.ndarray, dst_mask: np.ndarray | None,
               plan: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Segment the object of ``img``, move it and blend it into ``dst``.

    ``dst`` is ``img`` itself (``plan['target'] == 'same'``: the object's old place is
    inpainted first, so the background it leaves is resampled from around it) or another
    training image of the same class. ``plan`` holds ``scale``, ``x`` and ``y`` (where the
    object's box goes, as fractions of the room left around it) and ``blend`` (``alpha``
    with a ``feather`` in pixels, or ``poisson``). Returns the image, its object mask and what was
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
    blend = plan.get("blend", "alpha")
    if blend == "poisson" and pmask.sum() > 0 and min(h, w) >= 3:
        out = _poisson(out, patch, pmask, region)
    else:
        blend = "alpha"
        out[region] = _alpha_blend(out[region], patch, pmask, float(plan.get("feather", 1.0)))
    new_mask = base_mask.copy()
    new_mask[region] |= pmask
    info = {"from_box": [int(x0), int(y0), int(x1), int(y1)],
            "to_box": [left, top, left + w, top + h], "pixels": int(pmask.sum()), "scale": round(scale, 4),
            "blend": blend}
    return out, new_mask, info


def _poisson(out: np.ndarray, patch: np.ndarray, pmask: np.ndarray, region: tuple[slice, slice]) -> np.ndarray:
    """Poisson (seamless) cloning of ``patch`` into ``out`` at ``region``.

    Pérez, Gangnet and Blake's "Poisson image editing" (2003), solved exactly: over the
    object grown by two pixels, the result takes the patch's gradients and meets ``out``
    on the edge; every other pixel keeps its value. One sparse LU factorisation serves
    every channel. (OpenCV's ``seamlessClone`` would do it, but in OpenCV 5.0 it returns
    different pixels from one call to the next, which breaks replay.) An alpha channel is
    not blended: where the object is, it takes the object's own alpha.
    """
    import cv2
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import splu

    n = channels(out)
    colours = 3 if n == 4 else n
    H, W = out.shape[:2]
    inside = np.zeros((H, W), bool)
    inside[region] = True
    placed = np.zeros((H, W), np.uint8)
    placed[region] = pmask
    domain = cv2.dilate(placed, np.ones((3, 3), np.uint8), iterations=2).astype(bool)
    domain[[0, -1], :] = domain[:, [0, -1]] = False  # every unknown has four neighbours
    ys, xs = np.nonzero(domain)
    index = np.full((H, W), -1, np.int64)
    index[ys, xs] = np.arange(len(ys))
    dst = out.reshape(H, W, n)[..., :colours].astype(np.float64)
    src = np.zeros_like(dst)
    src[region] = patch.reshape(patch.shape[0], patch.shape[1], n)[..., :colours]
    rhs = np.zeros((len(ys), colours))
    rows, cols = [np.arange(len(ys))], [np.arange(len(ys))]
    values = [np.full(len(ys), 4.0)]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = ys + dy, xs + dx
        # the guidance: the patch's gradient where both ends lie in it, else the background's
        # (the grown object can reach past the patch when it was scaled down)
        both = (inside[ys, xs] & inside[qy, qx])[:, None]
        guide = np.where(both, src[ys, xs] - src[qy, qx], dst[ys, xs] - dst[qy, qx])
        rhs += guide
        known = ~domain[qy, qx]
        rhs[known] += dst[qy[known], qx[known]]
        rows.append(np.nonzero(~known)[0])
        cols.append(index[qy[~known], qx[~known]])
        values.append(np.full(int((~known).sum()), -1.0))
    system = csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(len(ys), len(ys)))
    solved = splu(system).solve(rhs)
    result = out.copy()
    blended = result.reshape(H, W, n)
    blended[ys, xs, :colours] = np.clip(np.rint(solved), 0, peak(out.dtype)).astype(out.dtype)
    if n == 4:
        blended[region + (3,)] = np.where(pmask, patch[..., 3], out[region + (3,)])
    return result


def _alpha_blend(under: np.ndarray, patch: np.ndarray, pmask: np.ndarray, feather: float) -> np.ndarray:
    """``patch`` over ``under`` through its mask, the mask's edge softened by a Gaussian of
    ``feather`` pixels (never below half inside the object)."""
    import cv2

    alpha = pmask.astype(np.float32)
    if feather > 0:
        k = 2 * int(np.ceil(2 * feather)) + 1
        alpha = cv2.GaussianBlur(alpha, (k, k), feather) * pmask.max()
        alpha = np.maximum(alpha, pmask * 0.5)
    if under.ndim == 3:
        alpha = alpha[..., None]
    blended = under.astype(np.float32) * (1 - alpha) + patch.astype(np.float32) * alpha
    return np.clip(np.rint(blended), 0, peak(under.dtype)).astype(under.dtype)
