"""A split manifest → one :class:`ManifestDataset` per split, encoders fitted on train.

:func:`prepare_data` is what ``curaug train`` runs; :meth:`ManifestDataset.from_manifest`
is the same preparation for a user's own loop (``curaug.ManifestDataset``). Which rows take
part: usable ones (``status`` ok) with a label, in ``train``, ``val`` or ``test``;
augmented rows (``source_id`` set) only in ``train``, since a copy of a training sample
in val or test would score the model on what it was trained on. Each modality's encoder
lives in its own module of this package (``image.py``, ``audio.py``...); see
:mod:`pipelines.train.data.encoder`.

Examples
--------
>>> import curaug
>>> m = curaug.split(curaug.ingest("sample_data/penguins.csv").manifest, label="species")
>>> from pipelines.train.data import ManifestDataset
>>> train = ManifestDataset.from_manifest(m, label="species")
>>> x, y = train.tensors()
>>> x.dtype, y.dtype, train.spec.classes
(torch.float32, torch.int64, ('Adelie', 'Chinstrap', 'Gentoo'))
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from curate.errors import CuraugError, did_you_mean
from pipelines.train.config import TrainConfig
from pipelines.train.data.encoder import ENCODERS, Encoder, media_files
from pipelines.train.types import DataSpec

if TYPE_CHECKING:
    import pandas as pd

#: train_val: the source domain's held-out rows of a domain split (``curaug split --domain``)
TRAIN_SPLITS = ("train", "train_val", "val", "test")
AUGMENTED_OUTSIDE_TRAIN = "augmented row outside train"


class ManifestDataset(Dataset):
    """One split of a manifest as ``(x, y)`` pairs; public as ``curaug.ManifestDataset``.

    ``x`` has ``spec.input_shape`` (float32; int64 token ids for text) and ``y`` is the
    index of the row's label in ``spec.classes``. The whole split is encoded on first use
    and kept (:meth:`tensors`), so media are decoded once. ``frame`` holds the split's
    manifest rows (roots absolute) and ``encoder`` the fitted
    :class:`~pipelines.train.data.encoder.Encoder`, shared by every split.
    """

    ids: list[str]
    targets: np.ndarray
    folds: np.ndarray | None
    groups: np.ndarray | None
    augmented: np.ndarray
    sources: list[str | None]
    spec: DataSpec

    def __init__(self, frame: "pd.DataFrame", encoder: Encoder, spec: DataSpec, *, label: str,
                 identity: str | None = None, x: np.ndarray | None = None):
        import pandas as pd

        self.frame = frame.reset_index(drop=True)
        self.encoder, self.spec = encoder, spec
        self.ids = (frame["id"].astype(str) if "id" in frame.columns else frame.index.astype(str)).tolist()
        codes = pd.Categorical(label_strings(frame[label]), categories=spec.classes).codes
        self.targets = codes.astype(np.int64)
        self.folds = frame["fold"].fillna(-1).to_numpy(dtype=np.int64) if "fold" in frame.columns else None
        group = identity or ("group" if "group" in frame.columns else None)
        self.groups = frame[group].astype("string").fillna("").to_numpy(dtype=object) if group else None
        self.augmented = (frame["source_id"].notna().to_numpy(dtype=bool) if "source_id" in frame.columns
                          else np.zeros(len(frame), dtype=bool))
        self.sources = self._sources()
        self._tensors = None if x is None else (torch.from_numpy(x), torch.from_numpy(self.targets))

    def _sources(self) -> list[str | None]:
        if self.spec.modality in ("image", "audio"):
            return list(media_files(self.frame))
        if self.spec.modality == "text":
            from pipelines.train.data.text import row_texts

            return list(row_texts(self.frame))
        return [None] * len(self.frame)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.tensors()
        return x[i], int(y[i])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split: ``(X, y)`` with ``X`` stacked rows and ``y`` int64 (cached)."""
        if self._tensors is None:
            self._tensors = (torch.from_numpy(self.encoder.transform(self.frame)), torch.from_numpy(self.targets))
        return self._tensors

    def subset(self, indices: Sequence[int] | np.ndarray) -> "ManifestDataset":
        """The rows at ``indices`` (positions), same encoders; encoded rows are reused."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = copy.copy(self)
        out.frame = self.frame.iloc[idx].reset_index(drop=True)
        out.ids = [self.ids[i] for i in idx]
        out.sources = [self.sources[i] for i in idx]
        out.targets = self.targets[idx]
        out.folds = None if self.folds is None else self.folds[idx]
        out.groups = None if self.groups is None else self.groups[idx]
        out.augmented = self.augmented[idx]
        if self._tensors is not None:
            t = torch.from_numpy(idx)
            out._tensors = (self._tensors[0][t], self._tensors[1][t])
        return out

    def __repr__(self) -> str:
        return (f"ManifestDataset({len(self)} rows, modality={self.spec.modality!r}, "
                f"input_shape={self.spec.input_shape}, classes={len(self.spec.classes)})")

    @classmethod
    def from_manifest(cls, data: "pd.DataFrame | str | os.PathLike", *, label: str = "label",
                      split: str = "train", modality: str | None = None, fit_split: str = "train",
                      **settings: Any) -> "ManifestDataset":
        """One split of a split manifest, encoded by encoders fitted on ``fit_split``.

        Parameters
        ----------
        data : DataFrame or path
            A manifest with a ``split`` column (``curaug split``), or the path of one;
            relative ``root`` values are relative to the manifest's folder (to the working
            folder for a DataFrame).
        label : str
            The label column.
        split : {'train', 'train_val', 'val', 'test'}
            The rows returned.
        modality : str, optional
            Overrides the manifest's ``modality`` column.
        fit_split : {'train', 'val', 'test'}
            The rows the encoders learn their statistics and vocabulary from.
        **settings
            :class:`~pipelines.train.config.TrainConfig` fields that shape the data:
            ``image_size``, ``n_mels``, ``max_tokens``, ``identity``.
        """
        import pandas as pd
        from pydantic import ValidationError

        for name, value in (("split", split), ("fit_split", fit_split)):
            if value not in TRAIN_SPLITS:
                raise CuraugError(f"{name}='{value}' is not one of {', '.join(TRAIN_SPLITS)}", param=name)
        try:
            config = TrainConfig(label=label, **settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0])
            if first["type"] == "extra_forbidden":
                message = f"unknown setting '{name}'{did_you_mean(name, TrainConfig.model_fields)}"
            else:
                message = f"{name}={first['input']!r}: {first['msg']}"
            raise CuraugError(message, param=name) from None
        if isinstance(data, pd.DataFrame):
            df, base = data, Path.cwd()
        else:
            from curate.io.manifest import load_data

            df, base = load_data(data), Path(data).resolve().parent
        prepared = _prepare(df, config, base_dir=base, modality=modality, fit_split=fit_split)
        if split not in prepared.splits:
            raise CuraugError(f"split '{split}' has no usable rows (present: {', '.join(prepared.splits)})",
                              param="split")
        return prepared.splits[split]


@dataclass
class Prepared:
    """A manifest turned into datasets: one per split present, encoders fitted on train."""

    spec: DataSpec
    splits: dict[str, ManifestDataset]
    #: JSON state of the fitted encoders (standardisation, vocabulary, image size...)
    encoder: dict[str, Any]
    #: rows left out, by reason ("corrupt", "no label", "augmented row outside train"...)
    dropped: dict[str, int] = field(default_factory=dict)


def prepare_data(df: "pd.DataFrame", config: TrainConfig, *, base_dir: Path) -> Prepared:
    """Every split of ``df`` as a :class:`ManifestDataset`, encoders fitted on ``train``.

    ``base_dir`` is the folder relative ``root`` values are relative to (the manifest's).
    ``df`` is not modified. A split without usable rows is absent, except ``train``, which
    must have rows.
    """
    return _prepare(df, config, base_dir=base_dir, modality=None, fit_split="train")


def concat(a: ManifestDataset, b: ManifestDataset) -> ManifestDataset:
    """``a``'s rows then ``b``'s, under their shared encoders (train + val for a retrain)."""
    import pandas as pd

    if a.encoder is not b.encoder and a.encoder.state() != b.encoder.state():
        raise CuraugError("cannot concatenate datasets prepared with different encoders", param="data")
    out = copy.copy(a)
    out.frame = pd.concat([a.frame, b.frame], ignore_index=True)
    out.ids, out.sources = a.ids + b.ids, a.sources + b.sources
    out.targets = np.concatenate([a.targets, b.targets])
    out.folds = np.concatenate([a.folds, b.folds]) if a.folds is not None and b.folds is not None else None
    out.groups = np.concatenate([a.groups, b.groups]) if a.groups is not None and b.groups is not None else None
    out.augmented = np.concatenate([a.augmented, b.augmented])
    # both halves encoded already (train always is): no decoding again
    both = a._tensors is not None and b._tensors is not None
    out._tensors = tuple(torch.cat(pair) for pair in zip(a._tensors, b._tensors)) if both else None
    return out


def label_strings(values: "pd.Series") -> "pd.Series":
    """Labels as strings; whole numbers stored as floats (a column with gaps) read ``3``, not ``3.0``."""
    import pandas as pd

    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        if (present == present.round()).all():
            values = values.astype("Int64")
    return values.astype("string")


def _prepare(df: "pd.DataFrame", config: TrainConfig, *, base_dir: Path, modality: str | None,
             fit_split: str) -> Prepared:
    rows, labels, dropped = _usable_rows(df, config, base_dir)
    if modality is None:
        modality, param = _modality(rows, config), "data"
    else:
        param = "modality"
    if modality not in ENCODERS:
        raise CuraugError(f"unknown modality '{modality}'{did_you_mean(modality, ENCODERS.names())}", param=param)
    classes = tuple(sorted(labels.unique().tolist()))
    frames = {s: rows[rows["split"] == s] for s in TRAIN_SPLITS}
    if frames[fit_split].empty:
        raise CuraugError(f"the '{fit_split}' split has no usable rows"
                          + (f" (left out: {_counts(dropped)})" if dropped else ""), param="data")
    encoder, x_fit = ENCODERS.get(modality).fit(frames[fit_split], config)
    spec = DataSpec(modality, classes, tuple(encoder.input_shape), encoder.vocab_size)
    splits = {s: ManifestDataset(frame, encoder, spec, label=config.label, identity=config.identity,
                                 x=x_fit if s == fit_split else None)
              for s, frame in frames.items() if not frame.empty}
    return Prepared(spec, splits, {**encoder.state(), "classes": list(classes)}, dropped)


def _usable_rows(df: "pd.DataFrame", config: TrainConfig, base_dir: Path):
    """The rows that take part (roots made absolute), their labels as strings, and the
    count of rows left out per reason (each row counted under its first reason)."""
    import pandas as pd

    from curate.io.manifest import absolute_roots, check_paths, ok_rows

    label = config.label
    if label not in df.columns:
        raise CuraugError(f"no label column '{label}'{did_you_mean(label, map(str, df.columns))}", param="label")
    if "split" not in df.columns:
        raise CuraugError("the manifest has no split column: run `curaug split` first", param="data")
    if config.identity is not None and config.identity not in df.columns:
        raise CuraugError(f"no identity column '{config.identity}'"
                          f"{did_you_mean(config.identity, map(str, df.columns))}", param="identity")
    dropped: dict[str, int] = {}
    keep = pd.Series(True, index=df.index)

    def leave_out(mask: "pd.Series", reason: "str | pd.Series") -> None:
        nonlocal keep
        out = keep & mask
        if out.any():
            counts = reason[out].value_counts() if isinstance(reason, pd.Series) else {reason: int(out.sum())}
            for name, n in dict(counts).items():
                dropped[str(name)] = dropped.get(str(name), 0) + int(n)
        keep &= ~mask

    if "status" in df.columns:
        leave_out(~ok_rows(df), df["status"].astype("string"))
    _check_train_classes(df, label, keep & (df["split"] == "train").fillna(False).astype(bool))
    leave_out(df[label].isna(), "no label")
    leave_out(~df["split"].isin(TRAIN_SPLITS).fillna(False).astype(bool), "not in train/val/test")
    if "source_id" in df.columns:
        leave_out(df["source_id"].notna() & (df["split"] != "train").fillna(True).astype(bool),
                  AUGMENTED_OUTSIDE_TRAIN)
    rows = df[keep].copy()
    if "root" in rows.columns:
        rows["root"] = absolute_roots(rows["root"], base_dir)
        check_paths(rows, "data")
    return rows, label_strings(rows[label]), dropped


def _check_train_classes(df: "pd.DataFrame", label: str, train: "pd.Series") -> None:
    """One error line when the usable train rows hold a single class, or none (every label
    missing): the rule ``curaug split`` applies to the whole table, applied to what trains."""
    from curate.split.splitters import MISSING, check_classes

    if not train.any():
        return  # no train rows at all: the split's own error says so
    values = df.loc[train, label]
    counts = label_strings(values.dropna()).value_counts().to_dict()
    check_classes({**counts, MISSING: int(values.isna().sum())}, label, where="in the train split")


def absent_from_train(splits: "dict[str, ManifestDataset]") -> dict[str, dict[str, int]]:
    """The classes that val or test hold but train does not, with their rows per split: a
    model never learns them, so every such row counts as an error."""
    trained = set(splits["train"].targets.tolist()) if "train" in splits else set()
    absent: dict[str, dict[str, int]] = {}
    for name, ds in splits.items():
        if name == "train":
            continue
        codes, counts = np.unique(ds.targets, return_counts=True)
        for code, n in zip(codes.tolist(), counts.tolist()):
            if code not in trained:
                absent.setdefault(ds.spec.classes[code], {})[name] = int(n)
    return dict(sorted(absent.items()))


def _modality(rows: "pd.DataFrame", config: TrainConfig) -> str:
    """The ``modality`` column's one value; without one, text for a lone ``text`` column,
    else tabular."""
    from curate.io.manifest import RESERVED_COLUMNS

    if "modality" in rows.columns:
        values = sorted(rows["modality"].dropna().astype(str).unique())
        if len(values) > 1:
            raise CuraugError(f"the manifest mixes modalities ({', '.join(values)}): train on one at a time",
                              param="data")
        if values:
            return values[0]
    others = [c for c in rows.columns if c not in RESERVED_COLUMNS and c not in (config.label, config.identity)]
    return "text" if "text" in rows.columns and not others else "tabular"


def _counts(dropped: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in dropped.items())
