"""``split_lock``: rows recorded by ``curaug split --lock`` must keep their split and fold
(:mod:`curate.split.lock` writes and reads the lock file)."""

from __future__ import annotations

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check
from curate.split.lock import row_identity


@register_check("split_lock", asked=lambda ctx: ctx.lock is not None, default=False)
def check_split_lock(ctx: CheckContext) -> list[CheckResult]:
    lock = ctx.lock
    if lock is None:
        return []
    if not ctx.split_col or ctx.split_col not in ctx.df.columns:
        return [CheckResult("split_lock", False, details="a split lock needs a split column in the data")]
    import pandas as pd

    df = ctx.df
    ids = row_identity(df)
    was = pd.Series({i: s for s, members in lock["splits"].items() for i in members}, dtype=object)
    now = pd.Series(df[ctx.split_col].astype("string").to_numpy(dtype=object), index=ids.to_numpy())
    common = was.index.intersection(now.index)
    moved = common[(was[common].to_numpy() != now[common].to_numpy())]
    examples = [{"id": str(i), "locked": str(was[i]), "now": str(now[i])} for i in moved[:MAX_OFFENDERS]]
    fold_moves = []
    if lock.get("folds") and "fold" in df.columns:
        was_f = pd.Series({i: int(k) for k, members in lock["folds"].items() for i in members}, dtype=object)
        now_f = pd.Series(df["fold"].to_numpy(dtype=object), index=ids.to_numpy())
        both = was_f.index.intersection(now_f.index)
        fold_moves = [i for i in both if pd.isna(now_f[i]) or int(now_f[i]) != was_f[i]]
        examples += [{"id": str(i), "locked_fold": int(was_f[i]), "now_fold": None if pd.isna(now_f[i]) else int(now_f[i])}
                     for i in fold_moves[: MAX_OFFENDERS - len(examples)]]
    observed = {"locked_rows": int(len(was)), "checked_rows": int(len(common)), "moved": int(len(moved)),
                "moved_folds": len(fold_moves), "new_rows": int(len(now.index.difference(was.index))),
                "missing_rows": int(len(was.index.difference(now.index))), "examples": examples}
    ok = not len(moved) and not fold_moves
    details = (f"{len(moved)} locked rows changed split and {len(fold_moves)} changed fold"
               if not ok else f"all {len(common)} locked rows keep their split; {observed['new_rows']} new rows, "
                              f"{observed['missing_rows']} locked rows gone")
    return [CheckResult("split_lock", ok, column=ctx.split_col, observed=observed, details=details)]
