"""A split manifest → one :class:`ManifestDataset` per split, encoders fitted on train.

:func:`prepare_data` is what ``curaug train`` runs; :meth:`ManifestDataset.from_manifest`
is the same preparation for a user's own loop (``curaug.ManifestDataset``). Which rows take
part: usable ones (``status`` ok) with a label, in ``train``, ``val`` or ``test``;
augmented rows (``source_id`` set) only in ``train``, since a copy of a training sample
in val or test would score the model on what it was trained on. Each modality's encoder
lives in its own module of this package (``image.py``, ``audio.py``...); see
:mod:`pipelines.train.data.encoder`.

Where rows live: the splits are held decoded, as one tensor each, while they fit the
budget ``data_memory`` (all splits together, train first); a split that does not fit
streams, its rows decoded from the manifest batch by batch and the most recent kept in a
bounded cache (:mod:`pipelines.train.data_memory`). Either way a row encodes to the same
values, so a run gives the same results on either path.

Examples
--------
>>> import curaug
>>> m = curaug.split(curaug.ingest("sample_data/penguins.csv").manifest, label="species")
>>> from pipelines.train.data import ManifestDataset
>>> train = ManifestDataset.from_manifest(m, label="species")
>>> x, y = train.tensors()
>>> x.dtype, y.dtype, train.spec.classes, train.in_memory
(torch.float32, torch.int64, ('Adelie', 'Chinstrap', 'Gentoo'), True)
>>> streamed = ManifestDataset.from_manifest(m, label="species", data_memory=0)
>>> streamed.in_memory, torch.equal(streamed[3][0], train[3][0])
(False, True)
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
from curate.io.bounded_cache import BoundedCache
from pipelines.train.config import TrainConfig
from pipelines.train.data.encoder import ENCODERS, Encoder, media_files
from pipelines.train.types import DataSpec

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.data.online import OnlineAugmentation

#: train_val: the source domain's held-out rows of a domain split (``curaug split --domain``)
TRAIN_SPLITS = ("train", "train_val", "val", "test")
AUGMENTED_OUTSIDE_TRAIN = "augmented row outside train"


class ManifestDataset(Dataset):
    """One split of a manifest as ``(x, y)`` pairs; public as ``curaug.ManifestDataset``.

    ``x`` has ``spec.input_shape`` (float32; int64 token ids for text) and ``y`` is the
    index of the row's label in ``spec.classes``. A split held in memory (``in_memory``)
    is encoded on first use and kept (:meth:`tensors`), so media are decoded once; a
    streamed one decodes the rows asked for (:meth:`rows`), keeping the last ones in a
    cache of ``cache_bytes`` per process. ``frame`` holds the split's manifest rows (roots
    absolute) and ``encoder`` the fitted :class:`~pipelines.train.data.encoder.Encoder`,
    shared by every split.

    With an ``augmentation`` (:meth:`with_augmentation`, or ``from_manifest(...,
    recipe=R)``) every item is drawn afresh for the epoch :meth:`set_epoch` sets, as
    torch's ``DistributedSampler`` is told its epoch. The dataset pickles without what a
    process builds for itself, so it works in a ``DataLoader`` with ``num_workers > 0``
    and each worker augments with its own plugin instance; the items do not depend on
    the worker count.
    """

    ids: list[str]
    targets: np.ndarray
    folds: np.ndarray | None
    groups: np.ndarray | None
    augmented: np.ndarray
    sources: list[str | None]
    spec: DataSpec

    def __init__(self, frame: "pd.DataFrame", encoder: Encoder, spec: DataSpec, *, label: str,
                 identity: str | None = None, x: np.ndarray | None = None, in_memory: bool = True,
                 cache_bytes: int = 0):
        import pandas as pd

        self.frame = frame.reset_index(drop=True)
        self.encoder, self.spec, self.label = encoder, spec, label
        self.in_memory, self.cache_bytes = in_memory or x is not None, int(cache_bytes)
        self.augmentation: OnlineAugmentation | None = None
        self.epoch = 0
        self._cache: BoundedCache | None = None
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
        x, y = self.batch([i])
        return x[0], int(y[0])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, int]]:
        """A DataLoader's batch in one call: streamed rows are decoded together."""
        x, y = self.batch(indices)
        return list(zip(x, y.tolist()))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": None}  # each process decodes into its own cache

    def set_epoch(self, epoch: int) -> None:
        """The epoch the items are augmented for (the seed of each: run seed, epoch, row id)."""
        self.epoch = int(epoch)

    def batch(self, indices: Sequence[int] | np.ndarray, epoch: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows at ``indices`` as ``(X, y)``, augmented for ``epoch`` (default: the one
        :meth:`set_epoch` set) when the dataset has an augmentation."""
        if self.augmentation is None:
            return self.rows(indices)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        epoch = self.epoch if epoch is None else int(epoch)
        x = [self.encoder.encode_sample(self.augmentation.sample(self.ids[i], epoch)) for i in idx]
        x = np.stack(x) if x else np.zeros((0, *self.spec.input_shape), self.encoder.dtype)
        return torch.from_numpy(x), torch.from_numpy(self.targets[idx])

    def rows(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows at ``indices`` (positions) as ``(X, y)``, never augmented: from the held
        tensor, or decoded (the cached ones reused)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        y = torch.from_numpy(self.targets[idx])
        if self.in_memory:
            return self.tensors()[0][torch.from_numpy(idx)], y
        if self._cache is None:
            self._cache = BoundedCache(self.cache_bytes)
        found = [self._cache.get(int(i)) for i in idx]
        missing = [k for k, row in enumerate(found) if row is None]
        if missing:
            decoded = self.encoder.transform(self.frame.iloc[idx[missing]])
            for k, row in zip(missing, decoded):
                found[k] = row
                self._cache.put(int(idx[k]), row)
        x = np.stack(found) if len(found) else np.zeros((0, *self.spec.input_shape), self.encoder.dtype)
        return torch.from_numpy(x), y

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split, never augmented: ``(X, y)`` with ``X`` stacked rows and ``y``
        int64. Held by an in-memory split (decoded once); a streamed split decodes it anew
        at each call, all of it in memory at once: read one with :meth:`rows` or a DataLoader."""
        if self._tensors is not None:
            return self._tensors
        tensors = (torch.from_numpy(self.encoder.transform(self.frame)), torch.from_numpy(self.targets))
        if self.in_memory:
            self._tensors = tensors
        return tensors

    def with_augmentation(self, recipe: Any, *, seed: int = 0) -> "ManifestDataset":
        """This split with ``recipe`` (a recipe file, its mapping or a loaded recipe) drawn
        afresh for every item each epoch from the run ``seed``; a recipe of another
        modality is refused. Decoded sources (copy_paste's donors too) are cached within
        ``cache_bytes`` (what ``data_memory`` leaves after the splits held in memory), and for
        a split held in memory at least what its tensor takes."""
        from pipelines.train.data.online import OnlineAugmentation, load_training_recipe

        out = copy.copy(self)
        budget = max(self.cache_bytes, len(self) * self.encoder.row_bytes if self.in_memory else 0)
        out.augmentation = OnlineAugmentation(load_training_recipe(recipe), self.frame, self.ids, label=self.label,
                                              seed=seed, cache_bytes=budget)
        out.augmentation.check(self.spec.modality)
        return out

    def subset(self, indices: Sequence[int] | np.ndarray) -> "ManifestDataset":
        """The rows at ``indices`` (positions), same encoders; encoded rows are reused, and
        an augmentation draws its donors from these rows."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = copy.copy(self)
        out._cache = None
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
        if self.augmentation is not None:
            out.augmentation = self.augmentation.on(out.frame, out.ids)
        return out

    def __repr__(self) -> str:
        where = "in memory" if self.in_memory else "streamed"
        augmented = ", augmented online" if self.augmentation is not None else ""
        return (f"ManifestDataset({len(self)} rows, modality={self.spec.modality!r}, "
                f"input_shape={self.spec.input_shape}, classes={len(self.spec.classes)}, {where}{augmented})")

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
            ``image_size``, ``n_mels``, ``max_tokens``, ``identity``, ``data_memory``
            (the decoded rows held in memory, all splits together; the others stream);
            ``recipe`` (a recipe file or mapping: the train split augmented on the fly,
            see :meth:`with_augmentation`) with ``seed``.
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
        if config.recipe is not None and split != "train":
            raise CuraugError(f"recipe= augments the train split only: split='{split}' is never augmented",
                              param="recipe")
        prepared = _prepare(df, config, base_dir=base, modality=modality, fit_split=fit_split)
        if split not in prepared.splits:
            raise CuraugError(f"split '{split}' has no usable rows (present: {', '.join(prepared.splits)})",
                              param="split")
        dataset = prepared.splits[split]
        return dataset if config.recipe is None else dataset.with_augmentation(config.recipe, seed=config.seed)


@dataclass
class Prepared:
    """A manifest turned into datasets: one per split present, encoders fitted on train."""

    spec: DataSpec
    splits: dict[str, ManifestDataset]
    #: JSON state of the fitted encoders (standardisation, vocabulary, image size...)
    encoder: dict[str, Any]
    #: rows left out, by reason ("corrupt", "no label", "augmented row outside train"...)
    dropped: dict[str, int] = field(default_factory=dict)
    #: where the splits' rows live: the budget in bytes, the splits held and those streamed
    memory: dict[str, Any] = field(default_factory=dict)


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
    out.in_memory, out.cache_bytes = a.in_memory and b.in_memory, max(a.cache_bytes, b.cache_bytes)
    out.augmentation, out._cache = None, None
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
    budget = config.memory_bytes
    encoder, x_fit = ENCODERS.get(modality).fit(frames[fit_split], config, memory=budget)
    spec = DataSpec(modality, classes, tuple(encoder.input_shape), encoder.vocab_size)
    left, held = budget, {}
    for name in (fit_split, *(s for s in TRAIN_SPLITS if s != fit_split)):
        need = len(frames[name]) * encoder.row_bytes
        held[name] = x_fit is not None if name == fit_split else need <= left
        left -= need if held[name] else 0
    present = [s for s in TRAIN_SPLITS if not frames[s].empty]
    splits = {s: ManifestDataset(frames[s], encoder, spec, label=config.label, identity=config.identity,
                                 x=x_fit if s == fit_split else None, in_memory=held[s], cache_bytes=left)
              for s in present}
    memory = {"budget_bytes": budget, "in_memory": [s for s in present if held[s]],
              "streamed": [s for s in present if not held[s]]}
    return Prepared(spec, splits, {**encoder.state(), "classes": list(classes)}, dropped, memory)


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
    for name in config.exclude:
        if name == label:
            raise CuraugError(f"cannot exclude '{name}': it is the label column", param="exclude")
        if name not in df.columns:
            raise CuraugError(f"no column '{name}' to exclude{did_you_mean(name, map(str, df.columns))}",
                              param="exclude")
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
