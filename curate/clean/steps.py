"""``curaug clean``: the rules file's ``clean:`` steps in order, then ``normalize:``.

Every step returns a new DataFrame and log entries saying what it changed and why (rows
dropped with their ids, cells changed with counts). The caller's DataFrame is never
modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from curate.errors import CuraugError
from curate.io.manifest import RESERVED_COLUMNS, ok_rows

if TYPE_CHECKING:
    import pandas as pd

    from curate.rules.schema import Normalize, Rules

MAX_LOGGED_IDS = 1000


@dataclass
class CleanResult:
    data: "pd.DataFrame"
    log: list[dict[str, Any]] = field(default_factory=list)
    normalizer: dict[str, Any] | None = None


@dataclass
class _Ctx:
    rules: "Rules"
    label: str | None
    split_col: str | None


def clean(df: "pd.DataFrame", rules: "Rules", *, label: str | None = None,
          split_col: str | None = "split") -> CleanResult:
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
    ctx = _Ctx(rules, label or rules.label, split_col if split_col in df.columns else None)
    out = df.copy()
    log: list[dict[str, Any]] = []
    for i, (name, step) in enumerate(rules.clean_steps()):
        out, entries = STEPS[name](out, step, ctx)
        for entry in entries:
            log.append({"step": name, "index": i, **entry})
    params = None
    if rules.normalize is not None:
        out, params, entry = normalize_frame(out, rules.normalize, ctx.split_col)
        log.append({"step": "normalize", "index": len(rules.clean), **entry})
    return CleanResult(out, log, params)


def _ids(df: "pd.DataFrame", mask: "pd.Series") -> list[str]:
    names = df.loc[mask, "id"] if "id" in df.columns else df.index[mask].to_series()
    return [str(v) for v in names.head(MAX_LOGGED_IDS)]


def _require(df: "pd.DataFrame", columns: list[str], step: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CuraugError(f"clean step '{step}': column(s) {', '.join(map(repr, missing))} not found "
                          f"(columns: {', '.join(map(str, df.columns))})")


def _data_columns(df: "pd.DataFrame", spec, ctx: _Ctx) -> list[str]:
    if spec == "all":
        return [c for c in df.columns if c not in RESERVED_COLUMNS or c == ctx.label]
    return list(spec)


def _drop(df: "pd.DataFrame", mask: "pd.Series", reason: str) -> tuple["pd.DataFrame", dict[str, Any]]:
    entry = {"action": "drop_rows", "rows_dropped": int(mask.sum()), "ids": _ids(df, mask), "reason": reason}
    return df.loc[~mask], entry


# ------------------------------------------------------------------- steps


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


def _standardize(df, step, ctx):
    import pandas as pd

    entries = []
    if step.snake_case:
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
    if step.strip:
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
    for column, table in step.mappings.items():
        column = snake_case(column) if step.snake_case and column not in df.columns else column
        _require(df, [column], "standardize_columns")
        lookup = {}
        for canonical, variants in table.items():
            for v in [canonical, *variants]:
                key = str(v).strip()
                lookup[key.casefold() if step.case_insensitive else key] = canonical
        values = df[column]
        keys = values.astype("string").str.strip()
        if step.case_insensitive:
            keys = keys.str.casefold()
        mapped = keys.map(lookup)
        hit = mapped.notna() & (mapped.astype("string") != values.astype("string"))
        if hit.any():
            df[column] = values.where(~hit, mapped)
            counts = {str(k): int(v) for k, v in values[hit].astype("string").value_counts().items()}
            entries.append({"action": "map_values", "column": column, "cells_changed": {column: int(hit.sum())},
                            "mapped": counts, "reason": "declared spellings"})
    return df, entries


def _drop_duplicates(df, step, ctx):
    from curate.profile import duplicate_subset

    if step.subset:
        _require(df, step.subset, "drop_duplicates")
        by, subset = "columns " + ", ".join(step.subset), step.subset
    else:
        by, subset = duplicate_subset(df)
    if not subset:
        return df, []
    dup = df.duplicated(subset=subset, keep=step.keep)
    if subset == ["sha256"]:  # unhashed (corrupt) files are not duplicates of each other
        dup &= df["sha256"].notna()
    df, entry = _drop(df, dup, f"exact duplicate (by {by}), keeping the {step.keep}")
    return df, [entry]


def _missing(df, step, ctx):
    import pandas as pd

    columns = _data_columns(df, step.columns, ctx)
    _require(df, columns, "missing")
    isna = df[columns].isna()
    if step.strategy == "drop":
        mask = isna.any(axis=1)
        df, entry = _drop(df, mask, f"missing value in {', '.join(c for c in columns if isna[c].any())}")
        entry["per_column"] = {c: int(v) for c, v in isna.sum().items() if v}
        return df, [entry]
    if step.strategy == "flag":
        added = {}
        for c in columns:
            if step.columns != "all" or isna[c].any():
                df[f"{c}_was_missing"] = isna[c].to_numpy()
                added[f"{c}_was_missing"] = int(isna[c].sum())
        return df, [{"action": "flag_missing", "columns_added": added, "reason": "flag strategy"}]
    changed, fills = {}, {}
    for c in columns:
        n = int(isna[c].sum())
        if not n:
            continue
        if step.strategy == "impute_median":
            if not pd.api.types.is_numeric_dtype(df[c]):
                if step.columns == "all":
                    continue
                raise CuraugError(f"clean step 'missing': impute_median needs a numeric column, '{c}' is {df[c].dtype}")
            fill = _fit_rows(df, ctx.split_col)[c].median()
        elif step.strategy == "impute_mode":
            modes = _fit_rows(df, ctx.split_col)[c].mode(dropna=True)
            if modes.empty:
                continue
            fill = modes.iloc[0]
        else:
            fill = step.value
        df[c] = df[c].fillna(fill)
        changed[c], fills[c] = n, fill
    entry = {"action": step.strategy, "cells_changed": changed, "fill_values": fills,
             "reason": f"missing values, {step.strategy.replace('_', ' ')}"
                       + (" (statistic from the train split)" if ctx.split_col else "")}
    return df, [entry]


def _fit_rows(df: "pd.DataFrame", split_col: str | None, fit_on: str | None = None) -> "pd.DataFrame":
    """Rows statistics are fitted on: the train split when there is one, else every usable row."""
    usable = df[ok_rows(df)]
    split = fit_on or ("train" if split_col else None)
    if split is None or split == "all":
        return usable
    if not split_col:
        raise CuraugError(f"fit_on '{split}' needs a split column")
    rows = usable[usable[split_col].astype(str) == split]
    if rows.empty:
        raise CuraugError(f"fit_on '{split}': no rows with {split_col} == '{split}'")
    return rows


def _anonymize(df, step, ctx):
    from curate.clean.anonymize import pseudonym, scrub

    _require(df, step.columns + step.pseudonymize, "anonymize")
    if step.backend == "presidio":
        raise CuraugError("clean step 'anonymize': backend 'presidio' needs presidio-analyzer and "
                          "presidio-anonymizer installed with a local spaCy model; use backend 'regex'")
    entries = []
    for c in step.columns:
        new, counts, changed = scrub(df[c], list(step.entities), step.replace, step.salt)
        if changed.any():
            df[c] = new
        entries.append({"action": "anonymize", "column": c, "cells_changed": {c: int(changed.sum())},
                        "entities": dict(counts), "ids": _ids(df, changed), "reason": "PII in free text"})
    for c in step.pseudonymize:
        present = df[c].notna()
        df[c] = df[c].map(lambda v: pseudonym(str(v), step.salt), na_action="ignore")
        entries.append({"action": "pseudonymize", "column": c, "cells_changed": {c: int(present.sum())},
                        "reason": "salted-hash pseudonyms for an id column"})
    return df, entries


def _clip(df, step, ctx):
    import pandas as pd

    _require(df, step.columns, "clip")
    fit = _fit_rows(df, ctx.split_col)
    changed, bounds = {}, {}
    for c in step.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise CuraugError(f"clean step 'clip': column '{c}' is not numeric ({df[c].dtype})")
        if step.method == "iqr":
            q1, q3 = fit[c].quantile([0.25, 0.75])
            lo, hi = q1 - step.k * (q3 - q1), q3 + step.k * (q3 - q1)
        elif step.method == "percentile":
            lo, hi = fit[c].quantile([step.percentiles[0] / 100, step.percentiles[1] / 100])
        else:
            lo, hi = step.values
        clipped = df[c].clip(lower=lo, upper=hi)
        n = int((clipped != df[c]).fillna(False).sum())
        df[c] = clipped
        changed[c] = n
        bounds[c] = [None if lo is None else float(lo), None if hi is None else float(hi)]
    return df, [{"action": "clip", "method": step.method, "cells_changed": changed, "bounds": bounds,
                 "reason": f"outliers ({step.method})"}]


def _relabel(df, step, ctx):
    column = step.column or ctx.label or "label"
    _require(df, [column], "relabel")
    entries = []
    if step.mapping:
        keys = df[column].astype("string")
        hit = keys.isin([str(k) for k in step.mapping])
        df[column] = df[column].where(~hit, keys.map({str(k): v for k, v in step.mapping.items()}))
        entries.append({"action": "relabel", "column": column, "cells_changed": {column: int(hit.sum())},
                        "ids": _ids(df, hit), "reason": "declared label mapping"})
    if step.ids:
        if "id" not in df.columns:
            raise CuraugError("clean step 'relabel': 'ids' needs an 'id' column")
        unknown = sorted(set(map(str, step.ids)) - set(df["id"].astype(str)))
        if unknown:
            raise CuraugError(f"clean step 'relabel': unknown id(s) {', '.join(unknown[:5])}")
        ids = df["id"].astype(str)
        hit = ids.isin(list(map(str, step.ids)))
        df[column] = df[column].where(~hit, ids.map({str(k): v for k, v in step.ids.items()}))
        entries.append({"action": "relabel", "column": column, "cells_changed": {column: int(hit.sum())},
                        "ids": _ids(df, hit), "reason": "label corrections by id"})
    if step.suggestions:
        if "id" not in df.columns:
            raise CuraugError("clean step 'relabel': 'suggestions' needs an 'id' column")
        wanted = read_suggestions(step.suggestions, step.min_confidence)
        ids = df["id"].astype(str)
        hit = ids.isin(list(wanted)) & (df[column].astype("string") != ids.map(wanted))
        df[column] = df[column].where(~hit, ids.map(wanted))
        entries.append({"action": "relabel", "column": column, "cells_changed": {column: int(hit.sum())},
                        "ids": _ids(df, hit), "not_found": len(set(wanted) - set(ids)),
                        "reason": f"suggested labels from {step.suggestions}"})
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


def _drop_rows(df, step, ctx):
    try:
        mask = df.eval(step.query)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise CuraugError(f"clean step 'drop_rows': cannot evaluate query '{step.query}': "
                          f"{' '.join(str(exc).split())}") from None
    if getattr(mask, "dtype", None) != bool or len(mask) != len(df):
        raise CuraugError(f"clean step 'drop_rows': query '{step.query}' does not give one true/false per row")
    df, entry = _drop(df, mask.fillna(False), step.reason or f"query: {step.query}")
    return df, [entry]


STEPS: dict[str, Callable] = {
    "standardize_columns": _standardize,
    "drop_duplicates": _drop_duplicates,
    "missing": _missing,
    "anonymize": _anonymize,
    "clip": _clip,
    "relabel": _relabel,
    "drop_rows": _drop_rows,
}


# --------------------------------------------------------------- normalise


def normalize_frame(df: "pd.DataFrame", spec: "Normalize", split_col: str | None):
    """Fit the normaliser on the ``fit_on`` rows and apply it to every row."""
    from curate.clean.normalize import make_normalizer

    _require(df, spec.columns, "normalize")
    fit = _fit_rows(df, split_col, spec.fit_on)
    est = make_normalizer(spec.method, spec.epsilon)
    est.fit(_numeric(fit, spec.columns))
    params = {**est.get_params_json(), "columns": list(spec.columns),
              "fit_on": spec.fit_on or ("train" if split_col else "all"), "fitted_rows": int(len(fit))}
    out = apply_normalizer(df, params, est)
    entry = {"action": "normalize", "method": spec.method, "columns": list(spec.columns),
             "fit_on": params["fit_on"], "fitted_rows": params["fitted_rows"], "rows_transformed": int(len(df)),
             "reason": f"{spec.method} fitted on {params['fit_on']} rows"}
    return out, params, entry


def apply_normalizer(df: "pd.DataFrame", params: dict[str, Any], est=None) -> "pd.DataFrame":
    """Apply fitted parameters (from :func:`normalize_frame` or a params JSON) to ``df``."""
    from curate.clean.normalize import from_params_json

    columns = params.get("columns") or []
    _require(df, columns, "normalize")
    est = est or from_params_json(params)
    values = est.transform(_numeric(df, columns))
    out = df.copy()
    if params["method"] == "pca":
        out = out.drop(columns=columns)
        for i in range(values.shape[1]):
            out[f"pca_{i + 1}"] = values[:, i]
    else:
        for i, c in enumerate(columns):
            out[c] = values[:, i]
    return out


def _numeric(df: "pd.DataFrame", columns: list[str]):
    import numpy as np
    import pandas as pd

    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise CuraugError(f"normalize: column(s) {', '.join(bad)} are not numeric")
    return df[columns].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
