"""The index batches of one epoch, drawn from the run's seeded numpy Generator.

Every sampler takes the Generator as an argument and never touches a global RNG, so the
batches of a run depend on its seed only and a checkpoint (which saves the Generator's
state) resumes them exactly.
"""

from __future__ import annotations

import numpy as np


def shuffled_batches(rng: np.random.Generator, n: int, batch_size: int) -> list[np.ndarray]:
    """A fresh permutation of ``range(n)`` cut into batches of ``batch_size``.

    A last batch of one sample is dropped: batch norm cannot normalise a single sample in
    training mode, and the sample is in other epochs' batches anyway.

    Examples
    --------
    >>> [len(b) for b in shuffled_batches(np.random.default_rng(0), 10, 4)]
    [4, 4, 2]
    """
    order = rng.permutation(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


def balanced_batches(rng: np.random.Generator, targets: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Class-balanced batches: every class gets ``batch_size // n_classes`` places in each
    batch, the remaining places go to classes drawn uniformly (so per-batch counts differ
    by at most one); the epoch still has ``len(targets)`` samples.

    Within a class the samples come from a shuffled cycle of its rows (reshuffled when
    used up), so a minority class is repeated and a majority class subsampled evenly.
    """
    targets = np.asarray(targets)
    n = len(targets)
    classes = np.unique(targets)
    members = [np.flatnonzero(targets == c) for c in classes]
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size > 1 else [])
    per_batch = []
    for size in sizes:
        counts = np.full(len(classes), size // len(classes))
        counts[rng.choice(len(classes), size % len(classes), replace=False)] += 1
        per_batch.append(counts)
    per_batch = np.array(per_batch).reshape(len(sizes), len(classes))
    drawn = [cycle_rows(rng, rows, int(per_batch[:, k].sum())) for k, rows in enumerate(members)]
    cuts = [np.cumsum(per_batch[:, k])[:-1] for k in range(len(classes))]
    pieces = [np.split(draw, cut) for draw, cut in zip(drawn, cuts)]
    return [rng.permutation(np.concatenate([p[b] for p in pieces])) for b in range(len(sizes))]


def cycle_rows(rng: np.random.Generator, rows: np.ndarray, count: int) -> np.ndarray:
    """``count`` rows taken from shuffled passes over ``rows`` (each pass reshuffled)."""
    passes = -(-count // len(rows)) if count else 0
    return np.concatenate([rng.permutation(rows) for _ in range(passes)] or [rows[:0]])[:count]


def identity_batches(rng: np.random.Generator, identities: np.ndarray, n: int,
                     p: int, k: int) -> list[np.ndarray]:
    """P x K batches for metric learning: ``p`` identities drawn without replacement, ``k``
    samples of each (without replacement when the identity has ``k``, else repeated).

    ``identities`` are integer codes; only identities with two or more samples are drawn
    (one sample cannot form a positive pair). The epoch has about ``n`` samples.
    """
    order = np.argsort(identities, kind="stable")
    _, starts, counts = np.unique(identities[order], return_index=True, return_counts=True)
    rows = [order[s:s + c] for s, c in zip(starts, counts) if c >= 2]
    if not rows:
        return []
    p = min(p, len(rows))
    batches = []
    for _ in range(max(1, n // (p * k))):
        chosen = rng.choice(len(rows), p, replace=False)
        batches.append(np.concatenate([rng.choice(rows[c], k, replace=len(rows[c]) < k) for c in chosen]))
    return batches
