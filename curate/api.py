"""The curation stages as Python functions: ``curaug.profile``, ``validate``, ``clean`` and
``split`` are these (``curaug`` re-exports them; the CLI and ``curaug run`` call them).

Each takes a DataFrame (or the path of a manifest or table) and keyword arguments named
as in Python, decides how to run (in memory, or in partitions for a Parquet folder, a glob
or ``engine="dask"``), and returns what the CLI prints or writes: figures, a typed
validation result, a cleaned or split DataFrame. The caller's DataFrame is never
modified. Bad input raises :class:`curate.errors.CuraugError` (a ``ValueError``) whose
message names the Python parameter (``ratios=...``); the ``curaug`` commands show the flag
instead (``--ratios ...``).

Heavy libraries (pandas, scikit-learn, Great Expectations, albumentations) are imported
when a function runs, never when this module is imported.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

    from curate.checks.base import ValidationResult
    from curate.clean.base import CleanResult
    from curate.rules.schema import Rules

    Data = Union[pd.DataFrame, str, os.PathLike]        # a DataFrame, or the path of a manifest/table
    FileOrMapping = Union[str, os.PathLike, Mapping[str, Any]]

def frame(data: Any, param: str = "data") -> "pd.DataFrame":
    """A DataFrame as given, or read from a manifest/table path."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, os.PathLike)):
        from curate.io.manifest import load_data

        return load_data(data)
    raise CuraugError(f"{param}={type(data).__name__}: expected a DataFrame or the path of a table", param=param)


def _source(data: Any) -> str | None:
    return os.fspath(data) if isinstance(data, (str, os.PathLike)) else None


def _rules(rules: Any) -> "Rules | None":
    """A rules file path, a mapping in the rules file's shape, a parsed ``Rules`` or None."""
    from curate.rules.schema import Rules, load_rules, parse_rules

    if rules is None or isinstance(rules, Rules):
        return rules
    if isinstance(rules, (str, os.PathLike)):
        return load_rules(rules)
    if isinstance(rules, Mapping):
        return parse_rules(dict(rules), source="rules")
    raise CuraugError(f"rules={type(rules).__name__}: expected the path of a rules file, a mapping or None",
                      param="rules")


def profile(data: Data, *, label: str | None = None) -> dict[str, Any]:
    """What a dataset holds: rows, dtypes, missing values, duplicates, classes, media.

    Parameters
    ----------
    data : DataFrame or path
        A manifest or any table.
    label : str, optional
        Label column; ``label`` when that column exists.

    Returns
    -------
    dict
        The figures of ``curaug profile --json`` (see docs/json.md).

    Examples
    --------
    >>> import pandas as pd, curaug
    >>> p = curaug.profile(pd.DataFrame({"x": [1.0, None, 3.0], "label": ["a", "a", "b"]}))
    >>> p["rows"], p["label"]["counts"]
    (3, {'a': 2, 'b': 1})
    """
    from curate.profile import profile as run_profile

    return run_profile(frame(data), label=label, source=_source(data))


def validate(data: Data, rules: FileOrMapping | Rules | None = None, *,
             label: str | None = None, group: str | None = None, split_col: str | None = None,
             multilabel_sep: str | None = None, lock: FileOrMapping | None = None, engine: str = "local",
             scheduler: str | None = None, workers: int | None = None,
             executor: str = "curaug") -> "ValidationResult":
    """Check a dataset against a rules file, or against the default checks.

    With ``rules``, exactly the checks it declares decide ``success``; without, the
    default checks run (missing values, exact duplicates, class balance; with a split
    column the split checks too).

    Parameters
    ----------
    data : DataFrame or path
        A manifest or any table.
    rules : path, mapping or Rules, optional
        A rules file (docs/rules.md), or the same keys as a mapping.
    label, group : str, optional
        Label and leakage-unit columns; each overrides the rules' own. The label defaults
        to ``label`` when the rules name none and that column exists.
    split_col : str, optional
        Split column, which adds the split checks; ``split`` when present and the rules
        have no ``splits:`` section.
    multilabel_sep : str, optional
        Label cells hold several labels joined by this separator.
    lock : path or dict, optional
        A split lock written by ``curaug split --lock``: fails ``split_lock`` when a
        locked row moved.
    engine, scheduler, workers
        A Parquet dataset folder or glob as ``data`` (or any table path with
        ``engine="dask"``) is checked in partitions, never loaded whole: on this process's
        threads (``"local"``) or as tasks on the Dask cluster at ``scheduler`` (a
        LocalCluster of ``workers`` processes when None). Same results as in memory.
    executor : {'curaug', 'gx'}
        What runs the column rules: curaug's vectorised conditions, on any engine, or the
        compiled suite through Great Expectations itself (in memory only). Same results.

    Returns
    -------
    ValidationResult
        ``.success``, ``.checks`` (typed results with ``observed`` figures) and
        ``.to_dict()`` in the shape of ``curaug validate --json``.

    Examples
    --------
    >>> import pandas as pd, curaug
    >>> df = pd.DataFrame({"id": ["a", "b", "c"], "size": [1.0, None, 3.0]})
    >>> result = curaug.validate(df, rules={"columns": {"size": {"not_null": True}}})
    >>> check = next(c for c in result.checks if c.name == "not_null")
    >>> result.success, check.success, check.observed["unexpected_ids"]
    (False, False, ['b'])
    """
    rules = _rules(rules)
    if isinstance(lock, (str, os.PathLike)):
        from curate.split.lock import read_lock

        lock = read_lock(os.fspath(lock))
    if _partitioned(data, engine):
        from curate.checks.validate import validate as run_validate
        from curate.partitioned.table import engine_scope, open_frame, table_rows

        if executor == "gx":
            raise CuraugError("executor='gx' runs Great Expectations on a whole table in memory, not on a "
                              "partitioned one (the default executor gives GX's results there)", param="executor")
        with engine_scope(engine, scheduler, workers, rows=table_rows(os.fspath(data))):
            table = open_frame(os.fspath(data))
            split_col, label = _default_roles(table.columns, rules, split_col, label)
            return run_validate(table, rules, label=label, group=group, split_col=split_col,
                                label_sep=multilabel_sep, lock=lock, source=_source(data))
    df = frame(data)
    from curate.checks.validate import validate as run_validate
    from curate.clean.normalize import note_normalization

    if isinstance(data, (str, os.PathLike)):
        df = note_normalization(df, data)

    split_col, label = _default_roles(df.columns, rules, split_col, label)
    return run_validate(df, rules, label=label, group=group, split_col=split_col, label_sep=multilabel_sep,
                        lock=lock, source=_source(data), executor=executor)


def _default_roles(columns, rules: "Rules | None", split_col: str | None, label: str | None) -> tuple:
    """``split`` and ``label`` columns when present and neither the caller nor the rules name one."""
    if split_col is None and (rules is None or rules.splits is None) and "split" in columns:
        split_col = "split"
    if label is None and (rules is None or rules.label is None) and "label" in columns:
        label = "label"  # the manifest's own label column (folder datasets)
    return split_col, label


def _partitioned(data: Any, engine: str) -> bool:
    """A path to a Parquet dataset folder or a glob, or any path with the Dask engine."""
    if engine not in ("local", "dask"):
        raise CuraugError(f"engine={engine!r}: use 'local' or 'dask'", param="engine")
    if not isinstance(data, (str, os.PathLike)):
        if engine == "dask":
            raise CuraugError("engine='dask' reads the table in partitions: give its path, not a DataFrame",
                              param="engine")
        return False
    from curate.partitioned.table import is_partitioned

    return engine == "dask" or is_partitioned(os.fspath(data))


def _normalizer_params(params: FileOrMapping) -> dict[str, Any]:
    """Fitted normaliser parameters (written by ``clean`` beside its output), from a file or as given."""
    import json
    from pathlib import Path

    if isinstance(params, (str, os.PathLike)):
        path = os.fspath(params)
        try:
            params = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CuraugError(f"{path}: no such parameters file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CuraugError(f"{path}: not valid JSON ({exc})") from None
        if not _has_params(params):
            raise CuraugError(f"{path}: not a normaliser parameters file (needs 'method' and 'columns')")
    elif not _has_params(params):
        raise CuraugError(f"apply={type(params).__name__}: not normaliser parameters (needs 'method' and 'columns')",
                          param="apply")
    return dict(params)


def _has_params(value: Any) -> bool:
    return isinstance(value, Mapping) and "method" in value and "columns" in value


def clean(data: Data, rules: FileOrMapping | Rules | None = None, *,
          label: str | None = None, split_col: str | None = "split",
          apply: FileOrMapping | None = None) -> "CleanResult":
    """Run the rules' ``clean:`` steps in order, then its ``normalize:`` section.

    Parameters
    ----------
    data : DataFrame or path
        A manifest or any table (never modified).
    rules : path, mapping or Rules, optional
        The rules file (docs/rules.md), or the same keys as a mapping.
    label : str, optional
        Label column; overrides the rules' own, else ``label`` when that column exists.
    split_col : str, optional
        Split column: imputation, clipping and normalisation are fitted on its train rows.
    apply : path or mapping, optional
        Fitted normaliser parameters (``<output>.normalize.json`` of an earlier clean) to
        apply after the steps.

    Returns
    -------
    CleanResult
        ``.data`` (the cleaned DataFrame), ``.log`` (one dict per change: step, action,
        rows dropped with their ids, cells changed, reason) and ``.normalizer`` (the fitted
        parameters, or None).

    Examples
    --------
    >>> import pandas as pd, curaug
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0, 3.0]})
    >>> out = curaug.clean(df, rules={"clean": ["drop_duplicates", {"missing": {"strategy": "impute_median"}}]})
    >>> out.data["x"].tolist(), [entry["step"] for entry in out.log]
    ([1.0, 2.0, 3.0], ['drop_duplicates', 'missing'])
    """
    rules = _rules(rules)
    params = _normalizer_params(apply) if apply is not None else None
    if rules is None and params is None:
        raise CuraugError("nothing to do: give rules= (clean steps or normalize) or apply= (fitted parameters)",
                          param="rules")
    df = frame(data)
    from curate.clean.base import CleanResult
    from curate.clean.normalize import apply_normalizer
    from curate.clean.steps import clean as run_clean

    if label is None and (rules is None or rules.label is None) and "label" in df.columns:
        label = "label"
    result = run_clean(df, rules, label=label, split_col=split_col) if rules is not None else CleanResult(df.copy())
    if params is not None:
        result.data = apply_normalizer(result.data, params)
        source = _source(apply)
        result.log.append({"step": "normalize", "action": "apply", "method": params["method"],
                           "columns": params["columns"], "rows_transformed": int(len(result.data)),
                           "reason": f"parameters from {source}" if source else "fitted parameters given"})
    return result


def split(data: Data, label: str = "label", *,
          ratios: Sequence[float] | str = (0.6, 0.2, 0.2), folds: int = 0, group: str | None = None,
          seed: int = 0, stable: bool = False, multilabel_sep: str | None = None, strict: bool = True,
          time: str | None = None, gap: str | float | None = None, domain: str | None = None,
          target: Any = None, return_report: bool = False,
          output: str | os.PathLike | None = None, engine: str = "local", scheduler: str | None = None,
          workers: int | None = None):
    """Add ``split`` (train/val/test) and, with ``folds``, ``fold`` columns.

    Rows are stratified on ``label`` (multilabel with ``multilabel_sep`` or list cells),
    ``group`` keeps each group in one split and one fold, ``stable`` hashes ids so that
    appended rows never move the others, ``time`` orders train before val before test,
    ``domain`` and ``target`` make a split for shifted data (train and train_val from the
    source domain, val and test from the target domain).
    Corrupt rows (``status`` not ok) get no split.

    Parameters
    ----------
    data : DataFrame or path
        A manifest or any table (never modified).
    label : str
        Label column to stratify on.
    ratios : three floats or "0.6,0.2,0.2"
        train, val and test shares, summing to 1.
    folds : int
        K folds over the train and val rows (0: none); test rows get fold -1.
    group, seed, stable, multilabel_sep, time, gap
        As the ``curaug split`` flags of the same names (docs/cli.md).
    domain, target : optional
        The column that tells the domains apart and its value on the target domain's rows
        (every other value is the source domain): ``split`` is then ``train`` and
        ``train_val`` on source rows (in the proportion of the train and val ratios), ``val``
        and ``test`` on target rows (val and test ratios); folds cover the source rows
        (:mod:`curate.split.domain`).
    strict : bool
        A class with fewer rows (or groups) than the splits it must reach is an error
        (default); ``strict=False`` sends it to train and names it in the report's notes
        (``--small-classes-to-train``).
    return_report : bool
        Also return the split report (sizes, per-class counts, deviations, notes).
    output, engine, scheduler, workers
        A Parquet dataset folder or glob as ``data`` (or any table path with
        ``engine="dask"``) is split in passes over its partitions, never loaded whole, row
        for row as in memory: on this process's threads (``"local"``) or as tasks on the
        Dask cluster at ``scheduler`` (a LocalCluster of ``workers`` processes when None).
        The result is then written to ``output`` (a dataset folder, or one ``.parquet``
        file), which is required, and the report is returned.

    Returns
    -------
    DataFrame, or (DataFrame, dict) with ``return_report``
        Every input column and row, in order, plus ``split`` (and ``fold``); for a
        partitioned table, the report only.

    Examples
    --------
    >>> import pandas as pd, curaug
    >>> df = pd.DataFrame({"species": ["a"] * 10 + ["b"] * 5})
    >>> out = curaug.split(df, label="species", ratios=(0.6, 0.2, 0.2), seed=0)
    >>> out["split"].value_counts()[["train", "val", "test"]].tolist()
    [9, 3, 3]
    """
    if _partitioned(data, engine):
        from curate.split.partitioned import split_partitioned
        from curate.partitioned.table import engine_scope, open_table, table_rows

        if output is None:
            raise CuraugError("output=: a partitioned table is written, not returned; give a folder or a .parquet "
                              "path", param="output")
        with engine_scope(engine, scheduler, workers, rows=table_rows(os.fspath(data))):
            return split_partitioned(open_table(os.fspath(data)), label, output, ratios=ratios, folds=folds,
                                     group=group, seed=seed, stable=stable, multilabel_sep=multilabel_sep,
                                     strict=strict, time=time, gap=gap, domain=domain, target=target)
    df = frame(data)
    import pandas as pd

    from curate.io.manifest import ok_rows
    from curate.split.domain import split_rows

    usable = ok_rows(df)
    result = split_rows(df[usable], label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                         multilabel_sep=multilabel_sep, strict=strict, time=time, gap=gap, domain=domain, target=target)
    out = df.copy()
    out["split"] = pd.array([pd.NA] * len(out), dtype="string")
    out.loc[usable, "split"] = result.split
    if result.fold is not None:
        out["fold"] = pd.array([pd.NA] * len(out), dtype="Int64")
        out.loc[usable, "fold"] = result.fold
    if not return_report:
        return out
    return out, {**result.report, "notes": result.notes, "skipped_corrupt": int((~usable).sum())}
