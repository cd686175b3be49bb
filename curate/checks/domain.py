"""``domain_split``: a split for shifted data keeps each domain where ``curaug split --domain`` put it.

The course's train / train_val / val / test split for data whose training and target
distributions differ is only worth its gaps while no target-domain row trains: this check
fails when a target row (``column`` equal to ``target``) is in ``train`` or ``train_val``,
when a source row is in ``val`` or ``test``, and when a source row holds a domain value the
split did not see (a new camera mixed into train after the split). The domains come from
the rules (``splits: {domain: {column, target, source}}``) or from the split lock
(``curaug split --domain COL --target VALUE --lock split.lock`` records them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check, row_names
from curate.io.manifest import GAP_SPLIT

if TYPE_CHECKING:
    import pandas as pd

#: Where each domain's rows belong.
SOURCE_SPLITS = ("train", "train_val")
TARGET_SPLITS = ("val", "test")


def declared_domain(ctx: CheckContext) -> dict[str, Any] | None:
    """``{"column", "target", "source", "from"}`` as the rules or the lock declare it, else None."""
    rule = ctx.rules.splits.domain if ctx.rules.splits is not None else None
    if rule is not None:
        return {"column": rule.column, "target": rule.target, "source": rule.source, "from": "rules"}
    settings = (ctx.lock or {}).get("settings") or {}
    if settings.get("domain") is not None:
        return {"column": settings["domain"], "target": str(settings["target"]),
                "source": settings.get("source_values"), "from": "split lock"}
    return None


@register_check("domain_split", asked=lambda ctx: declared_domain(ctx) is not None, default=False)
def check_domain_split(ctx: CheckContext) -> list[CheckResult]:
    declared = declared_domain(ctx)
    if declared is None:
        return []
    column, target = declared["column"], declared["target"]
    if not ctx.split_col or ctx.split_col not in ctx.df.columns:
        return [CheckResult("domain_split", False, column=column, observed=declared,
                            details="a domain split check needs a split column in the data")]
    if column not in ctx.df.columns:
        return [CheckResult("domain_split", False, column=column, observed=declared,
                            details=f"the {declared['from']} declares domain column '{column}', which the data lacks")]
    import pandas as pd

    from curate.split.domain import equals_target

    df = ctx.df[ctx.df[ctx.split_col].astype("string").fillna("") != GAP_SPLIT]
    split = df[ctx.split_col].astype("string").fillna("(missing)")
    is_target = pd.Series(equals_target(df[column], target), index=df.index)
    target_in_source = is_target & split.isin(SOURCE_SPLITS)
    source_in_target = ~is_target & split.isin(TARGET_SPLITS)
    values = df[column].astype("string").fillna("(missing)")
    undeclared = (~is_target & ~values.isin(declared["source"]) if declared["source"] is not None
                  else pd.Series(False, index=df.index))
    problems = []
    if target_in_source.any():
        problems.append(f"{int(target_in_source.sum())} target-domain rows ({column} = '{target}') are in "
                        f"{' or '.join(SOURCE_SPLITS)}")
    if source_in_target.any():
        problems.append(f"{int(source_in_target.sum())} source-domain rows ({column} other than '{target}') are in "
                        f"{' or '.join(TARGET_SPLITS)}")
    if undeclared.any():
        new = sorted(values[undeclared].unique().tolist())
        problems.append(f"{int(undeclared.sum())} source rows hold {column} values the split did not see "
                        f"({', '.join(new[:5])}); declared: {', '.join(declared['source'])}")
    rows = pd.crosstab(is_target.map({True: "target", False: "source"}), split)
    observed = {**declared, "rows": {domain: {s: int(n) for s, n in counts.items() if n}
                                     for domain, counts in rows.to_dict("index").items()},
                "target_in_source_splits": int(target_in_source.sum()),
                "source_in_target_splits": int(source_in_target.sum()), "undeclared_values": int(undeclared.sum())}
    offenders = [name for mask in (target_in_source, source_in_target, undeclared)
                 for name in row_names(df[mask]).head(MAX_OFFENDERS).tolist()]
    details = "; ".join(problems) if problems else (
        f"{int(is_target.sum())} target-domain rows ({column} = '{target}') all in val/test, "
        f"{int((~is_target).sum())} source rows all in train/train_val")
    return [CheckResult("domain_split", not problems, column=column, observed=observed, details=details,
                        offenders=offenders[:MAX_OFFENDERS])]
