"""What a dataset card may say: the figures curaug measured, gathered in one place.

:func:`gather` computes what it can from the data itself (the profile, the checks when
no run computed them, the rows and classes per split, a content digest) and reads what a
`curaug run` folder holds beside it (ingest, validation, clean, split, augmentation,
ablation and training figures, and the settings each stage ran with). The augmentation
and training figures are read as the JSON files those stages wrote, never by importing
them, which is what lets the card live in ``curate`` (the arrows point pipelines ->
augment -> curate). A figure nobody measured is ``None`` or absent: the card leaves out
what is not here, it never fills a gap.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

#: A `curaug run` folder holds its stage records here (pipelines.run.runner.STATE_DIR).
RUN_STATE = Path(".curaug") / "stages.json"
#: The figures a run writes, by what they are (docs/pipelines.md).
RUN_FILES = {"ingest": "ingest.json", "validation": "validation.json",
             "splits_validation": "splits.validation.json", "clean": "clean.json",
             "clean_fitted": "clean_fitted.json", "split": "split.json", "augment": "augment.json",
             "ablation": "ablation.json", "metrics": "train/metrics.json"}


@dataclass
class CardFacts:
    """Every figure the card may use, each from the file or computation named beside it."""

    data: str                                   # the table described
    label: str | None
    profile: dict[str, Any]                     # curate.api.profile of the data
    digest: dict[str, Any]                      # a content hash of the rows
    formats: dict[str, int]                     # media files per extension
    roots: list[str] = field(default_factory=list)                      # the folders media paths are under
    split_col: str | None = None
    split_sizes: dict[str, int] = field(default_factory=dict)           # rows per split, from the data
    per_split_classes: dict[str, dict[str, int]] = field(default_factory=dict)  # class -> split -> rows
    validations: list[dict[str, Any]] = field(default_factory=list)     # validation results (to_dict shape)
    run: dict[str, Any] = field(default_factory=dict)                   # RUN_FILES key -> figures read
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)   # stage -> settings it ran with
    normalized: dict[str, Any] | None = None   # the normaliser `curaug clean` recorded with the data

    @property
    def checks(self) -> list[dict[str, Any]]:
        """Every check of every validation, each with the file it checked as ``source``."""
        return [{**check, "source": result.get("source")} for result in self.validations
                for check in result.get("checks", [])]


def run_folder(data: str | os.PathLike) -> Path | None:
    """The `curaug run` folder holding ``data``, or None when it is not in one."""
    folder = Path(data).resolve().parent
    return folder if (folder / RUN_STATE).is_file() else None


def gather(df: "pd.DataFrame", path: Path, *, label: str | None = None, rules: Any = None,
           run_dir: str | os.PathLike | None = None, stages: list[str] | None = None) -> CardFacts:
    """The facts of the table ``df`` read from ``path``: computed from it, and read from
    ``run_dir`` (by default the run folder holding ``path``, if any; of ``stages`` only
    when given: the stages of the pipeline file as it is now).

    ``label`` must name a column when given; otherwise the rules' label, else ``label``
    when that column exists. Without validation figures in the run folder, the data is
    validated here (with ``rules``, else the default checks).
    """
    from curate.api import _rules, profile, validate
    from curate.clean.normalize import NORMALIZED_ATTR, note_normalization

    loaded_rules = _rules(rules)
    if label is not None and label not in df.columns:
        raise CuraugError(f"label={label!r}: no such column in {path.name} (columns: "
                          f"{', '.join(map(str, df.columns))})", param="label")
    label = label or (loaded_rules.label if loaded_rules is not None else None)
    if label is not None and label not in df.columns:
        raise CuraugError(f"label={label!r} (the rules' label): no such column in {path.name}", param="label")
    if label is None and "label" in df.columns:
        label = "label"
    normalized = note_normalization(df, path).attrs.get(NORMALIZED_ATTR)
    folder = Path(run_dir) if run_dir is not None else run_folder(path)
    run, settings = _read_run(folder, stages) if folder is not None else ({}, {})
    split_col = "split" if "split" in df.columns else None
    facts = CardFacts(data=path.name, label=label, profile=profile(df, label=label), digest=content_digest(df),
                      formats=_formats(df), roots=media_roots(df), split_col=split_col, run=run, settings=settings,
                      normalized=normalized)
    if split_col is not None:
        facts.split_sizes, facts.per_split_classes = _per_split(df, split_col, label)
    facts.validations = [run[k] for k in ("validation", "splits_validation") if k in run]
    if not facts.validations:
        result = validate(df, loaded_rules, label=label)
        result.source = path.name
        facts.validations = [result.to_dict()]
    return facts


def content_digest(df: "pd.DataFrame") -> dict[str, Any]:
    """One SHA-256 over the rows' content, whatever their order: of each media row's
    ``id`` and file hash, else of each row's values (curate.io.rowkeys)."""
    if "sha256" in df.columns and "id" in df.columns:
        lines = df["id"].astype(str) + "\t" + df["sha256"].fillna("").astype(str)
        by = "id and file sha256"
    else:
        from curate.io.rowkeys import row_digests

        lines = row_digests(df).astype(str)
        by = "row values"
    h = hashlib.sha256("\n".join(lines.sort_values()).encode("utf-8"))
    return {"by": by, "rows": len(df), "sha256": h.hexdigest()}


def media_roots(df: "pd.DataFrame") -> list[str]:
    """The folders the rows' media files are under (resolved)."""
    if "root" not in df.columns:
        return []
    return sorted({str(Path(r).resolve()) for r in df["root"].dropna().astype(str).unique()})


def _formats(df: "pd.DataFrame") -> dict[str, int]:
    if "path" not in df.columns:
        return {}
    suffix = df["path"].dropna().astype(str).str.extract(r"(\.[^./\\]+)$")[0].str.lower()
    return {str(k): int(v) for k, v in suffix.value_counts().sort_index().items()}


def _per_split(df: "pd.DataFrame", split_col: str, label: str | None) -> tuple[dict, dict]:
    splits = df[split_col].dropna().astype(str)
    order = [s for s in ("train", "train_val", "val", "test") if s in set(splits)]
    order += sorted(set(splits) - set(order))
    sizes = {s: int((splits == s).sum()) for s in order}
    if label is None:
        return sizes, {}
    import pandas as pd

    rows = df.loc[splits.index]
    table = pd.crosstab(rows[label].astype(str), splits)
    return sizes, {str(c): {s: int(table.at[c, s]) if s in table.columns else 0 for s in order} for c in table.index}


def _read_run(folder: Path, stages: list[str] | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The figures and settings of the run's finished stages (of ``stages`` only, when
    given: a stage since removed from the pipeline file left its files behind). A file
    whose bytes are not those its stage recorded (hand-edited, or left by a stage that
    did not finish) is not read."""
    state = folder / RUN_STATE
    records = json.loads(state.read_text(encoding="utf-8")).get("stages", {}) if state.is_file() else {}
    if stages is not None:
        records = {name: r for name, r in records.items() if name in stages}
    run = {}
    for key, name in RUN_FILES.items():
        path = folder / name
        top = name.split("/")[0] + "/" if "/" in name else name
        recorded = [r["outputs"][top] for r in records.values() if top in r.get("outputs", {})]
        if not recorded or not path.is_file():
            continue
        if top == name and hashlib.sha256(path.read_bytes()).hexdigest() != recorded[0]:
            continue
        run[key] = json.loads(path.read_text(encoding="utf-8"))
    return run, {name: record.get("settings", {}) for name, record in records.items()}
