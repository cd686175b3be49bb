"""curaug: curate, split, augment and baseline ML datasets.

The public Python API, loaded lazily so ``import curaug`` stays cheap (no pandas,
scikit-learn, torch or albumentations until a function or class is used)::

    import curaug
    manifest = curaug.ingest("sample_data/images").manifest
    figures = curaug.profile(manifest)
    result = curaug.validate(manifest)                 # result.success, result.to_dict()
    splits = curaug.split(manifest, label="label", ratios=(0.6, 0.2, 0.2), folds=5)
    augmented = curaug.augment(splits, "sample_data/digits.recipe.yaml", "runs/aug")
    metrics = curaug.train("runs/digits.split.parquet", label="label", out="runs/cnn", epochs=20)

Functions take DataFrames (or paths) and keyword arguments named as in Python; bad input
raises :class:`CuraugError`, a ``ValueError`` naming the Python parameter; a Dask
cluster that fails raises :class:`ClusterError`. The scikit-learn classes
(cross-validators and normalisers) are the library's own.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_API = {
    "ingest": ("curate.io.ingest", "ingest"),
    "IngestResult": ("curate.io.ingest", "IngestResult"),
    "profile": ("curate.api", "profile"),
    "validate": ("curate.api", "validate"),
    "clean": ("curate.api", "clean"),
    "split": ("curate.api", "split"),
    "augment": ("augment.api", "augment"),
    "card": ("curate.card", "write_card"),
    "train": ("pipelines.train.run", "train"),
    "run": ("pipelines.run.runner", "run_pipeline"),
    "ManifestDataset": ("pipelines.train.data", "ManifestDataset"),
    "TrainConfig": ("pipelines.train.config", "TrainConfig"),
    "load_data": ("curate.io.manifest", "load_data"),
    "save_manifest": ("curate.io.manifest", "save_manifest"),
    "CuraugError": ("curate.errors", "CuraugError"),
    "ClusterError": ("curate.errors", "ClusterError"),
    "ValidationResult": ("curate.checks.base", "ValidationResult"),
    "CleanResult": ("curate.clean.base", "CleanResult"),
    # scikit-learn cross-validators
    "BalancedKFold": ("curate.split.cv", "BalancedKFold"),
    "RepeatedBalancedKFold": ("curate.split.cv", "RepeatedBalancedKFold"),
    "LeaveOneOut": ("curate.split.cv", "LeaveOneOut"),
    "LeaveOneGroupOut": ("curate.split.cv", "LeaveOneGroupOut"),
    "train_val_test_indices": ("curate.split.cv", "train_val_test_indices"),
    # scikit-learn transformers
    "ZScore": ("curate.clean.normalize", "ZScore"),
    "MinMax": ("curate.clean.normalize", "MinMax"),
    "PCAWhitener": ("curate.clean.normalize", "PCAWhitener"),
    "ZCAWhitener": ("curate.clean.normalize", "ZCAWhitener"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # reading package metadata costs more than the rest of the import
        from curate.version import curaug_version

        return curaug_version()
    if name in _API:
        module, attr = _API[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'curaug' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
