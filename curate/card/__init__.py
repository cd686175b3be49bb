"""Dataset cards written from what curaug measured (issue 25 §3): ``curaug card`` and the
``card`` stage of ``curaug run``.

:mod:`curate.card.facts` gathers the figures (computed from the data, or read from the
run folder's JSON files), :mod:`curate.card.markdown` writes them as a Hugging Face card.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curate.errors import CuraugError

#: The split files the card's ``configs:`` names, in this folder beside the card.
SPLIT_FOLDER = "data"


def write_card(data: str | os.PathLike, out: str | os.PathLike, *, label: str | None = None, rules: Any = None,
               license: str | None = None, description: str | None = None,
               run_dir: str | os.PathLike | None = None, stages: list[str] | None = None) -> Path:
    """Write the dataset card of the table ``data`` to ``out`` and return its path.

    With a ``split`` column, the rows of each split are also written to
    ``data/<split>.parquet`` beside the card, the files its ``configs:`` names. Every file
    is written atomically, the card last.

    Parameters
    ----------
    data : path
        A manifest or table. When it lies in a `curaug run` folder, that run's figures
        are read too (or those of ``run_dir``).
    out : path
        The card (Markdown); never inside the data's media folders, never ``data``.
    label : str, optional
        Label column (must exist); default: the rules' label, else ``label`` if present.
    rules : path or mapping, optional
        Rules to validate with when no run computed the checks.
    license, description : str, optional
        The only words the card takes from the user.
    run_dir : path, optional
        The `curaug run` folder whose figures to read [default: the one holding ``data``].
        Only figures files whose bytes are those their stage recorded are read.
    stages : list of str, optional
        Read only these stages' figures (the ``card`` stage passes the pipeline's stages).

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd, yaml
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"x": range(6), "label": list("aabbba")}).to_csv(folder / "t.csv", index=False)
    >>> card = write_card(folder / "t.csv", folder / "card" / "README.md", license="cc0-1.0")
    >>> yaml.safe_load(card.read_text().split("---")[1])
    {'license': 'cc0-1.0', 'task_categories': ['tabular-classification'], 'size_categories': ['n<1K']}
    """
    from curate.card.facts import gather
    from curate.card import markdown
    from curate.io.atomic import write_text_atomic
    from curate.io.manifest import load_data, save_manifest
    from curate.version import curaug_version

    source = Path(data)
    if source.is_dir():
        raise CuraugError("data: is a folder; give a manifest or table file (a card of a partitioned table is "
                          "not built yet)", param="data")
    if not source.is_file():
        raise CuraugError("data: no such file", param="data")
    target = Path(out)
    df = load_data(source)
    _check_out(target, source, df)
    facts = gather(df, source, label=label, rules=rules, run_dir=run_dir, stages=stages)
    folder = target.parent / SPLIT_FOLDER
    files = {split: f"{SPLIT_FOLDER}/{split}.parquet" for split in facts.split_sizes}
    if files and folder.exists() and not folder.is_dir():
        raise CuraugError(f"out={os.fspath(out)!r}: {folder} is a file, and the split files go in that folder",
                          param="out")
    text = markdown.render_card(facts, license=license, description=description, data_files=files,
                                version=curaug_version())
    for split, name in files.items():
        save_manifest(df[df[facts.split_col].astype("string") == split], target.parent / name)
    write_text_atomic(target, text)
    return target


def _check_out(target: Path, source: Path, df) -> None:
    """The card is a file of its own, never written among the data."""
    from curate.card.facts import media_roots

    where = target.resolve()
    if target.exists() and not target.is_file():
        raise CuraugError(f"out={os.fspath(target)!r}: exists and is not a file", param="out")
    if where == source.resolve():
        raise CuraugError(f"out={os.fspath(target)!r}: refusing to overwrite the data", param="out")
    for root in media_roots(df):
        if Path(root) in where.parents:
            raise CuraugError(f"out={os.fspath(target)!r}: is inside the data folder {root} (the data is read-only); "
                              "write the card elsewhere", param="out")
