"""``python -m pipelines.cli``: the ``curaug`` command."""

import sys

from pipelines.cli import main

sys.exit(main())
