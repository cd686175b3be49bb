"""Where WordNet 3.0 lives on this machine (offline: Debian's ``wordnet-base``).

curaug never downloads WordNet. It reads the database files (``data.noun``,
``index.noun``, ``noun.exc``...) from ``$CURAUG_WORDNET_DIR`` if set, else from Debian's
``/usr/share/wordnet`` (``apt-get install wordnet-base wordnet-sense-index``; ``make
install`` and CI do it).
"""

from __future__ import annotations

import os
from pathlib import Path

from curate.errors import CuraugError

DEBIAN_DIR = "/usr/share/wordnet"
FIX = "apt-get install wordnet-base wordnet-sense-index (or set CURAUG_WORDNET_DIR to a WordNet 3.0 dict folder)"


def wordnet_dir() -> Path:
    """The folder holding WordNet 3.0's database files; bad input (exit 2) naming the fix
    when there is none."""
    folder = Path(os.environ.get("CURAUG_WORDNET_DIR") or DEBIAN_DIR)
    if not (folder / "data.noun").is_file():
        raise CuraugError(f"WordNet 3.0 not found in {folder}: {FIX}")
    return folder
