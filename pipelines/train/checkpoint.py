"""``RUNDIR/checkpoint.pt``: everything a fit needs to go on exactly where it stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from curate.errors import CuraugError
from curate.io.atomic import atomic_path

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(rundir: Path, state: dict[str, Any]) -> None:
    """Write the state atomically (a kill mid-write leaves the previous epoch's file)."""
    with atomic_path(Path(rundir) / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def load_checkpoint(rundir: Optional[Path], fingerprint: str) -> Optional[dict[str, Any]]:
    """The saved state, or None when there is none; a checkpoint of other settings is an
    error rather than silently overwritten or mixed into this run."""
    if rundir is None or not (Path(rundir) / CHECKPOINT).exists():
        return None
    path = Path(rundir) / CHECKPOINT
    try:
        # everything saved is tensors, numbers, strings and containers of them
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which and why
        raise CuraugError(f"{path}: not a curaug checkpoint ({exc.__class__.__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); delete it or use a new -o folder",
                          param="out") from None
    if state.get("fingerprint") != fingerprint:
        raise CuraugError(f"{rundir} holds a checkpoint of other settings; use a new -o folder or delete it",
                          param="out")
    return state
