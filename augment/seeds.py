"""The seed contract: a sample's seed depends on (run seed, sample id, copy index) alone.

So an augmented corpus does not depend on the worker count, the order jobs run in or the
engine. Randomness flows from this seed into ``numpy.random.default_rng`` and
albumentations' random state (``Compose.set_random_state``); no global RNG is read or written.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Iterator


def sample_seed(run_seed: int, sample_id: str, copy: int, attempt: int = 0) -> int:
    """A 32-bit seed from a hash of its inputs (``attempt`` > 0 for quality-gate redraws).

    The values are part of the contract: a corpus made today is remade, byte for byte, by a
    later version from the same run seed.

    Examples
    --------
    >>> sample_seed(0, "cat/1.png", 0)
    3242057894
    >>> sample_seed(1, "cat/1.png", 0), sample_seed(0, "cat/2.png", 0), sample_seed(0, "cat/1.png", 1)
    (2992353102, 1009638724, 270640287)
    >>> len({sample_seed(0, "cat/1.png", c) for c in range(100)})
    100
    """
    key = f"{int(run_seed)}\x00{sample_id}\x00{int(copy)}" + (f"\x00{int(attempt)}" if attempt else "")
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big")


@contextlib.contextmanager
def global_rngs_kept() -> Iterator[None]:
    """Run third-party code that may draw from the global RNGs (model loading, say) and
    put Python's, numpy's and, when loaded, torch's global random state back afterwards.

    >>> import random
    >>> before = random.getstate()
    >>> with global_rngs_kept():
    ...     _ = random.random()
    >>> random.getstate() == before
    True
    """
    import random
    import sys

    import numpy as np

    states = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.random.get_rng_state() if torch is not None else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch = sys.modules.get("torch")
        if torch is not None and torch_state is not None:
            torch.random.set_rng_state(torch_state)
        elif torch is not None:  # imported inside: back to the state it was imported with
            torch.manual_seed(torch.initial_seed())
