"""Manifest → tensors for training, one module per part.

- :mod:`~pipelines.train.data.dataset`: :class:`ManifestDataset` (one split, public as
  ``curaug.ManifestDataset``), :func:`prepare_data` (every split, encoders fitted on train).
- :mod:`~pipelines.train.data.encoder`: the encoder protocol and registry every modality shares.
- :mod:`~pipelines.train.data.image`, :mod:`~pipelines.train.data.audio`,
  :mod:`~pipelines.train.data.text`, :mod:`~pipelines.train.data.tabular`: one encoder each.
"""

from pipelines.train.data.dataset import ManifestDataset, Prepared, absent_from_train, concat, prepare_data

__all__ = ["ManifestDataset", "Prepared", "absent_from_train", "concat", "prepare_data"]
