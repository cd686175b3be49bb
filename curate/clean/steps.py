"""``curaug clean``: the rules file's ``clean:`` steps in order, then ``normalize:``.

The built-in clean steps (:class:`curate.clean.base.CleanStep` subclasses, registered in
:data:`curate.clean.base.CLEAN_STEPS`) and :func:`clean`, which runs them. Every step
returns a new DataFrame and log entries saying what it changed and why (rows dropped with
their ids, cells changed with counts). The caller's DataFrame is never modified.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from curate.clean.base import (CleanContext, CleanResult, CleanStep, clean_step, fit_rows, logged_ids,
                               require_columns)
from curate.clean.normalize import normalize_frame
from curate.errors import CuraugError
from curate.io.manifest import RESERVED_COLUMNS
from curate.strict import check_range

if TYPE_CHECKING:
    import pandas as pd

    from curate.rules.schema import Rules


def clean(df: "pd.DataFrame", rules: "Rules", *, label: str | None = None,
          split_col: str | None = "split", first_index: int = 0) -> CleanResult:
    """Run the clean steps and the normaliser of ``rules`` on a copy of ``df``.

    Examples
    --------
    >>> import pandas as pd
    >>> from curate.rules.schema import parse_rules
    >>> rules = parse_rules({"clean": [{"missing": {"strategy": "impute_median"}}]})
    >>> out = clean(pd.DataFrame({"x": [1.0, None, 3.0]}), rules)
    >>> out.data["x"].tolist(), out.log[0]["cells_changed"]
    ([1.0, 2.0, 3.0], {'x': 1})
    """
    ctx = CleanContext(rules, label or rules.label, split_col if split_col in df.columns else None)
    out = df.copy()
    log: list[dict[str, Any]] = []
    for i, (name, step) in enumerate(rules.clean_steps(), start=first_index):
        out, entries = step.apply(out, ctx)
        for entry in entries:
            log.append({"step": name, "index": i, **entry})
    params = None
    if rules.normalize is not None:
        out, params, entry = normalize_frame(out, rules.normalize, ctx.split_col)
        log.append({"step": "normalize", "index": first_index + len(rules.clean), **entry})
    return CleanResult(out, log, params)


def before_and_after_split(rules: "Rules") -> "tuple[Rules, Rules, int]":
    """The rules' clean work cut where the first step that fits a statistic stands:
    ``(before, after, index of after's first step)``. ``before`` holds the row-level steps
    that may run on every row before a split (dropping duplicates, missing rows, PII);
    ``after`` the rest in file order and the normaliser, to run once the split exists so
    that every statistic comes from the train rows."""
    steps = rules.clean_steps()
    cut = next((i for i, (_, step) in enumerate(steps) if step.fits()), len(steps))
    before = rules.model_copy(update={"clean": rules.clean[:cut], "normalize": None})
    after = rules.model_copy(update={"clean": rules.clean[cut:]})
    return before, after, cut


def _data_columns(df: "pd.DataFrame", spec, ctx: CleanContext) -> list[str]:
    if spec == "all":
        return [c for c in df.columns if c not in RESERVED_COLUMNS or c == ctx.label]
    return list(spec)


def _drop(df: "pd.DataFrame", mask: "pd.Series", reason: str) -> tuple["pd.DataFrame", dict[str, Any]]:
    entry = {"action": "drop_rows", "rows_dropped": int(mask.sum()), "ids": logged_ids(df, mask), "reason": reason}
    return df.loc[~mask], entry


# ------------------------------------------------------------------- steps

ColumnsSpec = Union[Literal["all"], list[str]]


def snake_case(name: str) -> str:
    """``'Bill Length (mm)'`` -> ``'bill_length_mm'``; ``'bodyMassG'`` -> ``'body_mass_g'``.

    Examples
    --------
    >>> snake_case("Bill Length (mm)"), snake_case("bodyMassG"), snake_case(" Sex ")
    ('bill_length_mm', 'body_mass_g', 'sex')
    """
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    s = re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()
    return s or "column"


@clean_step("standardize_columns")
class StandardizeColumns(CleanStep):
    """snake_case column names, strip whitespace in text cells, map declared spellings."""

    snake_case: bool = True
    strip: bool = True
    mappings: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    case_insensitive: bool = True

    def apply(self, df, ctx):
        import pandas as pd

        entries = []
        if self.snake_case:
            renamed = {c: snake_case(c) for c in df.columns if c not in RESERVED_COLUMNS and snake_case(c) != c}
            targets = [renamed.get(c, c) for c in df.columns]
            clash = {t for t in targets if targets.count(t) > 1}
            if clash:
                raise CuraugError(f"clean step 'standardize_columns': snake_case names collide: {', '.join(sorted(clash))}")
            if renamed:
                df = df.rename(columns=renamed)
                entries.append({"action": "rename_columns", "renamed": renamed, "reason": "snake_case column names"})
        text_cols = [c for c in df.columns if c not in RESERVED_COLUMNS
                     and (pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c]))]
        if self.strip:
            changed = {}
            for c in text_cols:
                values = df[c]
                is_text = values.map(lambda v: isinstance(v, str), na_action="ignore").fillna(False).astype(bool)
                stripped = values.where(~is_text, values.astype("string").str.strip())
                n = int((is_text & (stripped.astype("string") != values.astype("string"))).sum())
                if n:
                    df[c] = stripped
                    changed[c] = n
            if changed:
                entries.append({"action": "strip_whitespace", "cells_changed": changed,
                                "reason": "leading/trailing whitespace"})
        for column, table in self.mappings.items():
            column = snake_case(column) if self.snake_case and column not in df.columns else column
            require_columns(df, [column], "standardize_columns")
            lookup = {}
            for canonical, variants in table.items():
                for v in [canonical, *variants]:
                    key = str(v).strip()
                    lookup[key.casefold() if self.case_insensitive else key] = canonical
            values = df[column]
            keys = values.astype("string").str.strip()
            if self.case_insensitive:
                keys = keys.str.casefold()
            mapped = keys.map(lookup)
            hit = mapped.notna() & (mapped.astype("string") != values.astype("string"))
            if hit.any():
                df[column] = values.where(~hit, mapped)
                counts = {str(k): int(v) for k, v in values[hit].astype("string").value_counts().items()}
                entries.append({"action": "map_values", "column": column, "cells_changed": {column: int(hit.sum())},
                                "mapped": counts, "reason": "declared spellings"})
        return df, entries


@clean_step("drop_duplicates")
class DropDuplicates(CleanStep):
    """Drop exact duplicates: by content hash for media, by row values for tables."""

    subset: Optional[list[str]] = None
    keep: Literal["first", "last"] = "first"

    def apply(self, df, ctx):
        from curate.profile import duplicate_subset

        if self.subset:
            require_columns(df, self.subset, "drop_duplicates")
            by, subset = "columns " + ", ".join(self.subset), self.subset
        else:
            by, subset = duplicate_subset(df)
        if not subset:
            return df, []
        dup = df.duplicated(subset=subset, keep=self.keep)
        if subset == ["sha256"]:  # unhashed (corrupt) files are not duplicates of each other
            dup &= df["sha256"].notna()
        df, entry = _drop(df, dup, f"exact duplicate (by {by}), keeping the {self.keep}")
        return df, [entry]


@clean_step("missing")
class Missing(CleanStep):
    """Drop, impute (statistics from the train split) or flag missing values."""

    strategy: Literal["drop", "impute_median", "impute_mode", "impute_constant", "flag"]
    columns: ColumnsSpec = "all"
    value: Any = None

    @model_validator(mode="after")
    def _constant_needs_value(self) -> "Missing":
        if self.strategy == "impute_constant" and self.value is None:
            raise ValueError("strategy impute_constant needs a 'value'")
        return self

    def fits(self) -> bool:
        return self.strategy in ("impute_median", "impute_mode")

    def apply(self, df, ctx):
        import pandas as pd

        columns = _data_columns(df, self.columns, ctx)
        require_columns(df, columns, "missing")
        isna = df[columns].isna()
        if self.strategy == "drop":
            mask = isna.any(axis=1)
            df, entry = _drop(df, mask, f"missing value in {', '.join(c for c in columns if isna[c].any())}")
            entry["per_column"] = {c: int(v) for c, v in isna.sum().items() if v}
            return df, [entry]
        if self.strategy == "flag":
            added = {}
            for c in columns:
                if self.columns != "all" or isna[c].any():
                    df[f"{c}_was_missing"] = isna[c].to_numpy()
                    added[f"{c}_was_missing"] = int(isna[c].sum())
            return df, [{"action": "flag_missing", "columns_added": added, "reason": "flag strategy"}]
        changed, fills = {}, {}
        fit = fit_rows(df, ctx.split_col) if self.fits() else df
        for c in columns:
            n = int(isna[c].sum())
            if not n:
                continue
            if self.strategy == "impute_median":
                if not pd.api.types.is_numeric_dtype(df[c]):
                    if self.columns == "all":
                        continue
                    raise CuraugError(f"clean step 'missing': impute_median needs a numeric column, '{c}' is {df[c].dtype}")
                fill = fit[c].median()
            elif self.strategy == "impute_mode":
                modes = fit[c].mode(dropna=True)
                if modes.empty:
                    continue
                fill = modes.iloc[0]
            else:
                fill = self.value
            df[c] = df[c].fillna(fill)
            changed[c], fills[c] = n, fill
        entry = {"action": self.strategy, "cells_changed": changed, "fill_values": fills,
                 "reason": f"missing values, {self.strategy.replace('_', ' ')}"
                           + (" (statistic from the train split)" if ctx.split_col else "")}
        if self.fits():
            entry.update(fit_on="train" if ctx.split_col else "all", fitted_rows=int(len(fit)))
        return df, [entry]


def _every_pii_entity() -> list[str]:
    from curate.clean.anonymize import PII_ENTITIES

    return PII_ENTITIES.names()


@clean_step("anonymize")
class Anonymize(CleanStep):
    """Replace PII in free-text columns; pseudonymise id columns (:mod:`curate.clean.anonymize`)."""

    columns: list[str] = Field(min_length=1)
    entities: list[str] = Field(default_factory=_every_pii_entity)  # names of curate.clean.anonymize.PII_ENTITIES

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, v: list[str]) -> list[str]:
        from curate.clean.anonymize import PII_ENTITIES

        for name in v:
            PII_ENTITIES.get(name)  # an unknown name raises, with the closest known one
        return v
    replace: Literal["placeholder", "hash"] = "placeholder"
    salt: str = ""
    pseudonymize: list[str] = Field(default_factory=list)
    backend: Literal["regex", "presidio"] = "regex"

    def apply(self, df, ctx):
        from curate.clean.anonymize import pseudonym, scrub

        require_columns(df, self.columns + self.pseudonymize, "anonymize")
        if self.backend == "presidio":
            raise CuraugError("clean step 'anonymize': backend 'presidio' needs presidio-analyzer and "
                              "presidio-anonymizer installed with a local spaCy model; use backend 'regex'")
        entries = []
        for c in self.columns:
            new, counts, changed = scrub(df[c], list(self.entities), self.replace, self.salt)
            if changed.any():
                df[c] = new
            entries.append({"action": "anonymize", "column": c, "cells_changed": {c: int(changed.sum())},
                            "entities": dict(counts), "ids": logged_ids(df, changed), "reason": "PII in free text"})
        for c in self.pseudonymize:
            present = df[c].notna()
            df[c] = df[c].map(lambda v: pseudonym(str(v), self.salt), na_action="ignore")
            entries.append({"action": "pseudonymize", "column": c, "cells_changed": {c: int(present.sum())},
                            "reason": "salted-hash pseudonyms for an id column"})
        return df, entries


@clean_step("clip")
class Clip(CleanStep):
    """Clip numeric columns to IQR fences, percentiles (of the train split) or given values."""

    columns: list[str] = Field(min_length=1)
    method: Literal["iqr", "percentile", "values"] = "iqr"
    k: float = Field(1.5, gt=0)
    percentiles: Optional[tuple[float, float]] = None
    values: Optional[tuple[Optional[float], Optional[float]]] = None

    @model_validator(mode="after")
    def _method_args(self) -> "Clip":
        if self.method == "percentile":
            if self.percentiles is None:
                raise ValueError("method percentile needs 'percentiles: [lo, hi]' (0-100)")
            lo, hi = self.percentiles
            if not 0 <= lo < hi <= 100:
                raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got [{lo}, {hi}]")
        if self.method == "values":
            if self.values is None:
                raise ValueError("method values needs 'values: [lo, hi]'")
            check_range(list(self.values))
        return self

    def fits(self) -> bool:
        return self.method != "values"

    def apply(self, df, ctx):
        import pandas as pd

        require_columns(df, self.columns, "clip")
        fit = fit_rows(df, ctx.split_col) if self.fits() else df
        changed, bounds = {}, {}
        for c in self.columns:
            if not pd.api.types.is_numeric_dtype(df[c]):
                raise CuraugError(f"clean step 'clip': column '{c}' is not numeric ({df[c].dtype})")
            if self.method == "iqr":
                q1, q3 = fit[c].quantile([0.25, 0.75])
                lo, hi = q1 - self.k * (q3 - q1), q3 + self.k * (q3 - q1)
            elif self.method == "percentile":
                lo, hi = fit[c].quantile([self.percentiles[0] / 100, self.percentiles[1] / 100])
            else:
                lo, hi = self.values
            clipped = df[c].clip(lower=lo, upper=hi)
            n = int((clipped != df[c]).fillna(False).sum())
            df[c] = clipped
            changed[c] = n
            bounds[c] = [None if lo is None else float(lo), None if hi is None else float(hi)]
        entry = {"action": "clip", "method": self.method, "cells_changed": changed, "bounds": bounds,
                 "reason": f"outliers ({self.method})"}
        if self.fits():
            entry.update(fit_on="train" if ctx.split_col else "all", fitted_rows=int(len(fit)))
        return df, [entry]


@clean_step("relabel")
class Relabel(CleanStep):
    """Change labels by a value mapping, by id, or from ``label_issues`` suggestions."""

    mapping: dict[str, Any] = Field(default_factory=dict)
    ids: dict[str, Any] = Field(default_factory=dict)
    suggestions: Optional[str] = None  # validate --json result (label_issues suspects) or CSV id,suggested
    min_confidence: float = Field(0.0, ge=0, le=1)
    column: Optional[str] = None

    def apply(self, df, ctx):
        column = self.column or ctx.label or "label"
        require_columns(df, [column], "relabel")
        entries = []
        if self.mapping:
            keys = df[column].astype("string")
            hit = keys.isin([str(k) for k in self.mapping])
            df[column] = df[column].where(~hit, keys.map({str(k): v for k, v in self.mapping.items()}))
            entries.append({"action": "relabel", "column": column, "cells_changed": {column: int(hit.sum())},
                            "ids": logged_ids(df, hit), "reason": "declared label mapping"})
        if self.ids:
            if "id" not in df.columns:
                raise CuraugError("clean step 'relabel': 'ids' needs an 'id' column")
            unknown = sorted(set(map(str, self.ids)) - set(df["id"].astype(str)))
            if unknown:
                raise CuraugError(f"clean step 'relabel': unknown id(s) {', '.join(unknown[:5])}")
            ids = df["id"].astype(str)
            hit = ids.isin(list(map(str, self.ids)))
            df[column] = df[column].where(~hit, ids.map({str(k): v for k, v in self.ids.items()}))
            entries.append({"action": "relabel", "column": column, "cells_changed": {column: int(hit.sum())},
                            "ids": logged_ids(df, hit), "reason": "label corrections by id"})
        if self.suggestions:
            if "id" not in df.columns:
                raise CuraugError("clean step 'relabel': 'suggestions' needs an 'id' column")
            wanted = read_suggestions(self.suggestions, self.min_confidence)
            ids = df["id"].astype(str)
            hit = ids.isin(list(wanted)) & (df[column].astype("string") != ids.map(wanted))
            df[column] = df[column].where(~hit, ids.map(wanted))
            entries.append({"action": "relabel", "column": column, "cells_changed": {column: int(hit.sum())},
                            "ids": logged_ids(df, hit), "not_found": len(set(wanted) - set(ids)),
                            "reason": f"suggested labels from {self.suggestions}"})
        return df, entries


def read_suggestions(path: str, min_confidence: float = 0.0) -> dict[str, str]:
    """``{id: suggested label}`` from a ``curaug validate --json`` result (its ``label_issues``
    suspects) or a CSV with ``id`` and ``suggested`` columns."""
    import json
    from pathlib import Path

    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise CuraugError(f"clean step 'relabel': suggestions file {path} not found")
    if p.suffix.lower() == ".json":
        try:
            result = json.loads(p.read_text(encoding="utf-8"))
            suspects = [s for c in result["checks"] if c["name"] == "label_issues"
                        for s in c["observed"].get("suspects", [])]
        except (ValueError, KeyError, TypeError):
            raise CuraugError(f"clean step 'relabel': {path} is not a curaug validate --json result") from None
        rows = pd.DataFrame(suspects, columns=["id", "suggested", "suggested_confidence"])
    else:
        try:
            rows = pd.read_csv(p, dtype={"id": str})
        except (ValueError, UnicodeDecodeError) as exc:
            raise CuraugError(f"clean step 'relabel': cannot read {path}: {exc}") from None
        if not {"id", "suggested"} <= set(rows.columns):
            raise CuraugError(f"clean step 'relabel': {path} needs 'id' and 'suggested' columns")
    if min_confidence and "suggested_confidence" in rows.columns:
        rows = rows[rows["suggested_confidence"].fillna(0) >= min_confidence]
    return dict(zip(rows["id"].astype(str), rows["suggested"].astype(str)))


@clean_step("drop_rows")
class DropRows(CleanStep):
    """Drop the rows a pandas query selects, with the reason logged."""

    query: str
    reason: Optional[str] = None

    def apply(self, df, ctx):
        try:
            mask = df.eval(self.query)
        except Exception as exc:  # pandas raises many types for a bad expression
            raise CuraugError(f"clean step 'drop_rows': cannot evaluate query '{self.query}': "
                              f"{' '.join(str(exc).split())}") from None
        if getattr(mask, "dtype", None) != bool or len(mask) != len(df):
            raise CuraugError(f"clean step 'drop_rows': query '{self.query}' does not give one true/false per row")
        df, entry = _drop(df, mask.fillna(False), self.reason or f"query: {self.query}")
        return df, [entry]
