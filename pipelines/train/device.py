"""Where a run trains (``--device``) and at what precision (``--amp``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager, Optional

import torch

from curate.errors import CuraugError


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name == "cpu":
        return torch.device("cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            built = "built with CUDA " + torch.version.cuda if torch.version.cuda else "built without CUDA"
            raise CuraugError(f"device={name!r}: no CUDA device is available (torch {torch.__version__}, {built})",
                              param="device")
        return torch.device("cuda")
    raise CuraugError(f"device={name!r} is not one of auto, cpu, cuda", param="device")


@dataclass(frozen=True)
class Precision:
    """How the forward pass runs: ``autocast()`` wraps it; ``scaler`` is set for fp16 only
    (bf16 has float32's range, so its gradients need no loss scaling)."""

    dtype: torch.dtype
    autocast: Callable[[], ContextManager]
    scaler: Optional["torch.amp.GradScaler"]


def autocast_context(device: torch.device, amp: str) -> Precision:
    """The precision of a run: float32 on CPU (``amp`` is ignored there: CPU autocast is
    slower than float32 for these small models); on CUDA bf16 where the card supports it
    and fp16 with a gradient scaler otherwise (``amp="auto"``), or what ``amp`` names."""
    if device.type != "cuda" or amp == "off":
        return Precision(torch.float32, contextlib.nullcontext, None)
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        raise CuraugError(f"amp='bf16': {torch.cuda.get_device_name(device)} does not support bfloat16; "
                          "use amp='fp16' or 'auto'", param="amp")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return Precision(dtype, lambda: torch.autocast("cuda", dtype=dtype), scaler)
