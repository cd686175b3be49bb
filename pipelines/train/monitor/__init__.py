"""Debugging aids of a training run, all written under its RUNDIR.

- :func:`write_curves`: ``curves.png``, loss, accuracy and learning rate per epoch.
- :class:`ActivationHistograms`: a loop callback writing ``histograms/`` (per-layer
  activation and gradient histograms, dead-ReLU fractions, flagged layers).
- :func:`write_errors`: ``errors.csv`` (failed validation examples, worst first), the most
  common confusions, and ``gallery.html`` for media.
- :func:`sanity_check`: ``--sanity``, overfit a small batch or raise :class:`SanityError`.
"""

from pipelines.train.monitor.curves import write_curves
from pipelines.train.monitor.errors import write_errors
from pipelines.train.monitor.histograms import ActivationHistograms
from pipelines.train.monitor.sanity import SanityError, sanity_check

__all__ = ["ActivationHistograms", "SanityError", "sanity_check", "write_curves", "write_errors"]
