"""The ``curaug`` command line: the group and how errors become exit codes in
:mod:`pipelines.cli.app`, the commands in one module per concern."""

from pipelines.cli.app import cli, main
# imported in pipeline order: --help lists the commands in the order they register
from pipelines.cli import curation, augmentation, training, pipeline  # noqa: F401,I001

__all__ = ["cli", "main"]
