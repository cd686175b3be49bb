"""The torch training harness behind ``curaug train``.

One module per idea: :mod:`.config` (every setting, validated), :mod:`.data` (manifest →
tensors, :class:`ManifestDataset`), :mod:`.models` (the baselines), :mod:`.loop` (fit,
evaluate, early stopping, checkpoints), :mod:`.mining` (OHEM, replay, triplets),
:mod:`.search` (Optuna model selection, out-of-fold probabilities), :mod:`.monitor`
(curves, histograms, error analysis) and :mod:`.run` (one training run, its files).
torch is imported inside these modules only, never by ``pipelines.cli`` at start-up.
"""
