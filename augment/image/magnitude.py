"""The image plugin's recipe-search pool: RandAugment's geometric and photometric
transforms, each from no change at magnitude 0 to its strongest at 10. Geometry fills the
border by replicating the edge (``border_mode: 1``), so a moved digit keeps its background."""

from augment.magnitude import MagnitudeOp

_EDGE = {"border_mode": 1}

MAGNITUDE_OPS = {
    "rotate": MagnitudeOp("Affine", "rotate", 0, 30, "symmetric", _EDGE),
    "shear": MagnitudeOp("Affine", "shear", 0, 20, "symmetric", _EDGE),
    "translate": MagnitudeOp("Affine", "translate_percent", 0, 0.15, "symmetric", _EDGE),
    "scale": MagnitudeOp("Affine", "scale", 0, 0.3, "around_one", _EDGE),
    "brightness": MagnitudeOp("RandomBrightnessContrast", "brightness_limit", 0, 0.4, "value",
                              {"contrast_limit": 0}),
    "contrast": MagnitudeOp("RandomBrightnessContrast", "contrast_limit", 0, 0.4, "value",
                            {"brightness_limit": 0}),
    # sigma 0.05 rounds to a 1-pixel kernel: the image unchanged
    "blur": MagnitudeOp("GaussianBlur", "sigma_limit", 0.05, 1.5, "point", {"blur_limit": 0}),
    # PSNR falls as the noise grows: 60 dB is invisible, 20 dB heavy
    "noise": MagnitudeOp("noise", "psnr", 60, 20, "value"),
    "flip": MagnitudeOp("HorizontalFlip", "p", 0, 0.5, "value"),
}
DEFAULT_POOL = ("rotate", "shear", "translate", "scale", "brightness", "contrast", "blur", "noise")
