"""``split_lock``: rows recorded by ``curaug split --lock`` keep their split, fold and label,
and the data is validated with the label and group columns the lock was made with
(:mod:`curate.split.lock` writes and reads the lock file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check
from curate.split.lock import lock_rows

if TYPE_CHECKING:
    import pandas as pd


def _locked(members: dict[str, list]) -> "pd.Series":
    """``{value: [id, ...]}`` as one Series of values indexed by id (no per-row Python)."""
    import numpy as np
    import pandas as pd

    keys = list(members)
    sizes = [len(members[k]) for k in keys]
    ids = np.concatenate([np.asarray(members[k], dtype=object) for k in keys]) if keys else np.array([], dtype=object)
    return pd.Series(np.repeat(np.asarray(keys, dtype=object), sizes), index=ids, dtype=object)


def _locked_values(members: dict[str, list], values: dict[str, list]) -> "pd.Series":
    """The per-row ``values`` a lock lists beside ``members`` (same order), indexed by id."""
    import numpy as np
    import pandas as pd

    keys = list(members)
    if not keys:
        return pd.Series([], dtype=object)
    ids = np.concatenate([np.asarray(members[k], dtype=object) for k in keys])
    return pd.Series(np.concatenate([np.asarray(values[k], dtype=object) for k in keys]), index=ids, dtype=object)


def _changed(was: "pd.Series", now: "pd.Series") -> "pd.Index":
    """Ids in both whose value differs (a value gone missing counts as a change)."""
    common = was.index.intersection(now.index)
    before, after = was.reindex(common).to_numpy(), now.reindex(common).to_numpy()
    return common[before != after]


def _role_changes(ctx: CheckContext, lock: dict[str, Any]) -> list[str]:
    locked_label = lock.get("label_column")
    locked_group = (lock.get("settings") or {}).get("group")
    problems = []
    if locked_label and locked_label not in ctx.columns:
        problems.append(f"the lock was made with label '{locked_label}', a column the data no longer has")
    elif locked_label and ctx.label and ctx.label != locked_label:
        problems.append(f"the lock was made with label '{locked_label}', this validation uses '{ctx.label}'")
    if locked_group and ctx.group and ctx.group != locked_group:
        problems.append(f"the lock was made with group '{locked_group}', this validation uses '{ctx.group}'")
    return problems


@register_check("split_lock", asked=lambda ctx: ctx.lock is not None, default=False)
def check_split_lock(ctx: CheckContext) -> list[CheckResult]:
    lock = ctx.lock
    if lock is None:
        return []
    if not ctx.split_col or ctx.split_col not in ctx.columns:
        return [CheckResult("split_lock", False, details="a split lock needs a split column in the data")]
    import pandas as pd

    label = lock.get("label_column")
    label = label if label in ctx.columns else None
    df = lock_rows(ctx.frame, label, ctx.split_col)
    ids = df["id"].to_numpy()

    def current(values: "pd.Series") -> "pd.Series":  # missing now reads as "", never equal to a locked value
        return pd.Series(values.astype("string").fillna("").to_numpy(dtype=object), index=ids, dtype=object)

    was = _locked(lock["splits"])
    now = current(df["split"])
    moved = _changed(was, now)
    examples: list[dict[str, Any]] = [{"id": str(i), "locked": str(was[i]), "now": now[i] or None}
                                      for i in moved[:MAX_OFFENDERS]]
    fold_moves = pd.Index([])
    if lock.get("folds") and "fold" in df.columns:
        was_fold, now_fold = _locked(lock["folds"]), current(pd.Series(pd.array(df["fold"], dtype="Int64")))
        fold_moves = _changed(was_fold, now_fold)
        examples += [{"id": str(i), "locked_fold": int(was_fold[i]), "now_fold": int(now_fold[i]) if now_fold[i] else None}
                     for i in fold_moves[: MAX_OFFENDERS - len(examples)]]
    relabelled = pd.Index([])
    if lock.get("labels") and label:
        was_label = _locked_values(lock["splits"], lock["labels"])
        now_label = current(df["label"])
        relabelled = _changed(was_label, now_label)
        examples += [{"id": str(i), "locked_label": str(was_label[i]), "now_label": now_label[i]}
                     for i in relabelled[: MAX_OFFENDERS - len(examples)]]
    problems = _role_changes(ctx, lock)
    if len(moved):
        first = examples[0]
        problems.append(f"{len(moved)} locked rows changed split (e.g. {first['id']}: {first['locked']} -> "
                        f"{first['now']})")
    if len(fold_moves):
        problems.append(f"{len(fold_moves)} locked rows changed fold")
    if len(relabelled):
        first = next(e for e in examples if "locked_label" in e)
        problems.append(f"{len(relabelled)} locked rows changed label (e.g. {first['id']}: {first['locked_label']} -> "
                        f"{first['now_label']})")
    common = was.index.intersection(now.index)
    observed = {"locked_rows": int(len(was)), "checked_rows": int(len(common)), "moved": int(len(moved)),
                "moved_folds": int(len(fold_moves)), "relabelled": int(len(relabelled)),
                "new_rows": int(len(now.index.difference(was.index))),
                "missing_rows": int(len(was.index.difference(now.index))), "examples": examples,
                "settings": lock.get("settings") or {}, "label_column": lock.get("label_column")}
    details = "; ".join(problems) if problems else (
        f"all {len(common)} locked rows keep their split{', fold' if lock.get('folds') else ''}"
        f"{' and label' if lock.get('labels') and label else ''}; {observed['new_rows']} new rows, "
        f"{observed['missing_rows']} locked rows gone")
    offenders = list(dict.fromkeys(map(str, [*moved, *fold_moves, *relabelled])))[:MAX_OFFENDERS]
    return [CheckResult("split_lock", not problems, column=ctx.split_col, observed=observed, details=details,
                        offenders=offenders)]
