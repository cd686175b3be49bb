"""``domain_classifier_auc``: adversarial validation between the train split and the others.

A gradient-boosting classifier (scikit-learn's histogram GBM) learns to tell train rows from
val (or test) rows; its cross-validated ROC AUC is near 0.5 when the two come from one
distribution and near 1 when they are easy to tell apart. Features it leans on come from
permutation importance on the held-out folds. Large splits are subsampled
(:data:`MAX_ROWS_PER_SIDE`) so the check stays within seconds at any size. It trains models,
so it runs only when the rules ask for it: ``splits: {max_drift: {domain_auc: 0.75}}``.

It needs its rows at once: the whole table in memory; on a partitioned table every row
when there are at most :data:`curate.checks.sample.MAX_FIT_ROWS`, else a sample of that
many stratified by split, which the result states (``observed.sample`` and the details).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.checks.base import CheckContext, CheckResult, register_check

if TYPE_CHECKING:
    import numpy as np

MAX_ROWS_PER_SIDE = 5000


def domain_auc(X: "np.ndarray", side: "np.ndarray", categorical: "np.ndarray", *, names: list[str],
               folds: int = 5, seed: int = 0, top: int = 5) -> dict[str, Any]:
    """Cross-validated AUC of a classifier separating ``side == 1`` rows from ``side == 0`` rows,
    with the mean permutation importance (AUC drop) of each feature on the held-out folds."""
    import numpy as np
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from curate.checks.features import gradient_boosting

    folds = int(min(folds, np.bincount(side).min()))
    scores = np.zeros(len(side))
    models = []
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, side))
    for fit, held in splits:
        models.append(gradient_boosting(seed, categorical, max_iter=50).fit(X[fit], side[fit]))
        scores[held] = models[-1].predict_proba(X[held])[:, 1]
    auc = float(roc_auc_score(side, scores))
    n1, n0 = int(side.sum()), int(len(side) - side.sum())
    null_sd = float(np.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1)))  # AUC's spread with no shift
    importance = np.zeros(X.shape[1])
    if auc > 0.5 + 2 * null_sd:  # something to explain: which features give the splits away
        for k, (model, (_, held)) in enumerate(zip(models, splits)):
            imp = permutation_importance(model, X[held], side[held], scoring="roc_auc", n_repeats=3,
                                         random_state=seed + k, n_jobs=1)
            importance += imp.importances_mean / folds
    order = np.argsort(-importance)
    return {"auc": round(auc, 6), "auc_null_sd": round(null_sd, 6), "folds": folds, "sizes": [n0, n1],
            "top_features": [{"feature": names[i], "importance": round(float(importance[i]), 6)}
                             for i in order[:top] if importance[i] > 0]}


def _sample(idx: "np.ndarray", n: int, rng) -> "np.ndarray":
    import numpy as np

    return idx if len(idx) <= n else np.sort(rng.choice(idx, n, replace=False))


def _asks_domain_auc(ctx: CheckContext) -> bool:
    splits = ctx.rules.splits
    return splits is not None and splits.max_drift is not None and splits.max_drift.domain_auc is not None


@register_check("domain_classifier_auc", asked=_asks_domain_auc, default=False)
def check_domain_classifier(ctx: CheckContext) -> list[CheckResult]:
    if not ctx.split_col or ctx.split_col not in ctx.columns:
        return []
    import numpy as np

    from curate.checks.base import split_names
    from curate.checks.features import feature_matrix, model_columns, original_rows
    from curate.checks.sample import fit_rows, sample_note

    rule = ctx.rules.splits.max_drift  # asked for: the rules give the AUC limit
    limit = rule.domain_auc
    frame = original_rows(ctx.frame)  # augmented copies differ from val/test by design
    splits = split_names(frame, ctx.split_col)
    if "train" not in splits or len(splits) < 2:
        return []
    columns = model_columns(frame.meta, (ctx.label, ctx.split_col, ctx.group, "id", "fold"))
    df, sample = fit_rows(frame, frame.named(ctx.split_col, *columns), strata=ctx.split_col)
    feats = feature_matrix(df, columns)
    if feats.X.shape[1] == 0:
        return []
    column = df[ctx.split_col].astype(str).to_numpy()
    rng = np.random.default_rng(0)
    train_idx = _sample(np.flatnonzero(column == "train"), MAX_ROWS_PER_SIDE, rng)
    results = []
    for other in (s for s in splits if s != "train"):
        other_idx = _sample(np.flatnonzero(column == other), MAX_ROWS_PER_SIDE, rng)
        if min(len(train_idx), len(other_idx)) < 10:
            continue
        idx = np.concatenate([train_idx, other_idx])
        side = np.r_[np.zeros(len(train_idx), int), np.ones(len(other_idx), int)]
        fig = domain_auc(feats.X[idx], side, feats.categorical, names=feats.names)
        ok = fig["auc"] <= limit
        lean = ", ".join(f"{t['feature']} ({t['importance']:.3f})" for t in fig["top_features"][:3])
        details = (f"train vs {other}: a classifier tells them apart with AUC {fig['auc']:.3f} "
                   f"(limit {limit:g}; no-shift spread ±{fig['auc_null_sd']:.3f})"
                   + (f"; leans on {lean}" if lean and not ok else "") + sample_note(sample))
        observed = {"pair": ["train", other], "max_auc": limit, **fig}
        if sample is not None:
            observed["sample"] = sample
        results.append(CheckResult("domain_classifier_auc", ok, rule.severity, None, observed, details))
    return results
