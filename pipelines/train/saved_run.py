"""A finished ``curaug train`` run as a classifier of augmentation samples: what the
label-preserving gate's ``model: PATH`` judges copies with (:mod:`augment.label_gate`).

The run folder holds everything needed: ``config.json`` (the settings as trained, the
data spec with the classes, the fitted encoder's state) and ``model.pt`` (the weights,
loaded with ``weights_only=True``). A sample, as the modality's augmentation plugin loads
and applies it, is encoded as training encoded its rows (:meth:`Encoder.encode_sample`),
so the gate sees a copy exactly as the model would. Augmentation finds this class through
the ``curaug.gate_models`` entry point (``run``): augment never imports the harness.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import CuraugError


class SavedRun:
    """``classes_``, ``encode(sample)`` and ``predict_proba(batch)`` of a run folder (or of
    the ``model.pt`` inside one), on the CPU, in eval mode; picklable, so it travels to
    augmentation workers with the run's state."""

    def __init__(self, path: str | Path):
        import torch

        from pipelines.train.config import TrainConfig
        from pipelines.train.data.encoder import ENCODERS
        from pipelines.train.models import build_model
        from pipelines.train.types import DataSpec

        path = Path(path)
        rundir = path.parent if path.is_file() else path
        files = rundir / "config.json", rundir / "model.pt"
        if not all(f.is_file() for f in files):
            raise CuraugError(f"model={str(path)!r}: not a curaug train run (needs config.json and model.pt in "
                              f"{rundir})", param="model")
        saved = json.loads(files[0].read_text(encoding="utf-8"))
        self.spec = DataSpec.from_json(saved["spec"])
        state = saved["encoder"]
        self.encoder = ENCODERS.get(state["modality"]).from_state(state)
        self.model = build_model(self.spec, TrainConfig(**{**saved["config"], "model": saved["model"]}))
        self.model.load_state_dict(torch.load(files[1], map_location="cpu", weights_only=True))
        self.model.eval()
        self.classes_ = np.array([str(c) for c in self.spec.classes], dtype=object)
        self.source = str(rundir)

    def encode(self, sample: Any) -> np.ndarray:
        return self.encoder.encode_sample(sample)

    def predict_proba(self, batch: Any) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.asarray(batch).astype(self.encoder.dtype))
        with torch.no_grad():
            return torch.softmax(self.model(x).float(), dim=1).numpy()
