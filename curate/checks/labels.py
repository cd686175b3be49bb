"""Label quality: conflicting labels and likely label errors (confident learning).

``conflicting_labels`` finds samples that are the same (identical feature values, or the
same file bytes for media) yet carry different labels. ``label_issues`` gets out-of-fold
predicted probabilities from a cross-validated scikit-learn model (or, with ``probs:``,
from a file such as ``curaug train --folds`` writes for media) and flags, as
confident learning does (Northcutt et al. 2021), each sample that the model confidently
puts in another class than its given one: ``p[i, j] >= t_j`` for a class ``j`` other than
its label, where ``t_j`` is the mean probability of class ``j`` among samples labelled
``j``. The suspects come out with a suggested label, which ``clean: relabel:
{suggestions: result.json}`` can apply.

``label_issues`` needs its rows at once: the whole table in memory; on a partitioned table
every labelled row when there are at most :data:`curate.checks.sample.MAX_FIT_ROWS`, else a
sample of that many stratified by label, which the result states (``observed.sample`` and
the details). ``conflicting_labels`` is a reduction: rows meet by sample key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from curate.checks.base import MAX_OFFENDERS, CheckContext, CheckResult, register_check, sample_witness
from curate.errors import CuraugError
from curate.io.frames import row_names
from curate.io.frames import ORDER

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from curate.rules.schema import LabelIssuesRule

#: Suspects kept in the result (all of them up to this many, worst first).
MAX_SUSPECTS = 1000


@register_check("conflicting_labels", asked=lambda ctx: ctx.rules.dataset.conflicting_labels is not None,
                default=False)
def check_conflicting_labels(ctx: CheckContext) -> list[CheckResult]:
    """Rows meet by sample key (:meth:`curate.io.frames.Frame.by_key`: one piece in memory,
    hash pieces after a shuffle on a partitioned table); each piece counts its keys with
    several labels and describes its first ones; the examples' rows are named afterwards."""
    if not ctx.label:
        return []
    import pandas as pd

    from curate.profile import duplicate_subset
    from curate.rules.schema import ConflictRule

    rule = ctx.rules.dataset.conflicting_labels or ConflictRule()
    frame, label = ctx.frame, ctx.label
    ignore = [c for c in (label, ctx.split_col, ctx.group, "fold") if c and c in ctx.columns]
    witness = sample_witness(frame, [c for c in ctx.columns if c not in ignore],
                             rows=lambda part: part[part[label].notna()], using=(label,))
    by, columns = duplicate_subset(witness)
    if not columns:
        return []
    if by == "sha256" and "phash" in witness.columns and witness["phash"].notna().any():
        # images: the same picture re-encoded has other bytes but the same perceptual hash
        by, columns = "sha256+phash", ["sha256", "phash"]

    def keyed(part: "pd.DataFrame") -> "pd.DataFrame":
        part = part[part[label].notna()]
        if by == "sha256+phash":
            part = part[part["sha256"].notna() | part["phash"].notna()]
            key = part["phash"].astype("string").fillna(part["sha256"].astype("string")).astype(str)
        elif by == "sha256":
            part = part[part["sha256"].notna()]
            key = part["sha256"].astype(str)
        else:
            key = pd.util.hash_pandas_object(part[columns], index=False)
        return pd.DataFrame({"key": key.to_numpy(), "label": part[label].astype(str).to_numpy(),
                             ORDER: part[ORDER].to_numpy()})

    pieces = frame.by_key(keyed, "key", _conflicts, list(dict.fromkeys([label, *columns])))
    if not sum(p[0] for p in pieces):
        return []
    n_groups, n_bad = sum(p[1] for p in pieces), sum(p[2] for p in pieces)
    found = sorted((example for p in pieces for example in p[3]), key=lambda example: example[0])[:MAX_OFFENDERS]
    positions = sorted({o for example in found for o in example[1]})
    names = dict(zip(positions, map(str, frame.names_at(positions))))
    examples = [{"ids": [names[o] for o in orders], "labels": labels, "majority": majority}
                for _, orders, labels, majority in found]
    n = frame.reduce(lambda part: int(part[label].notna().sum()), sum, [label])
    fraction = n_bad / n if n else 0.0
    observed = {"by": by, "conflicting_groups": n_groups, "rows": n_bad,
                "fraction": round(fraction, 6), "max_fraction": rule.max_fraction, "examples": examples}
    details = (f"{n_groups} identical samples (by {by}) carry different labels, "
               f"{n_bad} rows" if n_bad else f"no identical samples (by {by}) with different labels")
    offenders = [i for example in examples for i in example["ids"]][:MAX_OFFENDERS]
    return [CheckResult("conflicting_labels", fraction <= rule.max_fraction, rule.severity, label,
                        observed, details, offenders)]


def _conflicts(piece: "pd.DataFrame") -> tuple[int, int, int, list[tuple]]:
    """One piece's keyed rows, keys with several labels, their rows, and the first
    :data:`MAX_OFFENDERS` of them (by first row) as ``(first position, first 10
    positions, labels, majority label or None)``."""
    repeated = piece[piece["key"].duplicated(keep=False)].sort_values(ORDER)
    spread = repeated.groupby("key", sort=False)["label"].nunique()
    bad = repeated[repeated["key"].isin(spread[spread > 1].index)]
    first = bad.groupby("key", sort=False)[ORDER].min().nsmallest(MAX_OFFENDERS)
    examples = []
    for key, rows in bad[bad["key"].isin(first.index)].groupby("key", sort=False):
        counts = rows["label"].value_counts()
        examples.append((int(first[key]), rows[ORDER].tolist()[:10], sorted(counts.index.tolist()),
                         str(counts.index[0]) if counts.iloc[0] > counts.iloc[1:].max() else None))
    return len(piece), int((spread > 1).sum()), len(bad), examples


def out_of_fold_probabilities(X: "np.ndarray", y: "np.ndarray", categorical: "np.ndarray", *, folds: int,
                              model: str, seed: int) -> "np.ndarray":
    """Cross-validated ``predict_proba`` for every row (each row predicted by a model that never saw it)."""
    import warnings

    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    _, counts = np.unique(y, return_counts=True)
    folds = int(min(folds, max(2, counts.max())))
    if model == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        estimator = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        from curate.checks.features import gradient_boosting

        estimator = gradient_boosting(seed, categorical)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class smaller than the folds
        return cross_val_predict(estimator, X, y, cv=cv, method="predict_proba")


def confident_learning(probs: "np.ndarray", y: "np.ndarray") -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:
    """``(is_issue, suggested, thresholds)`` from out-of-fold probabilities and integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[.9, .1], [.8, .2], [.2, .8], [.1, .9], [.85, .15]])
    >>> issue, suggested, _ = confident_learning(p, np.array([0, 0, 1, 1, 1]))
    >>> issue.tolist(), int(suggested[4])
    ([False, False, False, False, True], 0)
    """
    import numpy as np

    k = probs.shape[1]
    thresholds = np.array([probs[y == j, j].mean() if (y == j).any() else 1.0 for j in range(k)])
    above = probs >= thresholds - 1e-12
    masked = np.where(above, probs, -1.0)
    suggested = masked.argmax(axis=1)
    confident = above.any(axis=1)
    return confident & (suggested != y), suggested, thresholds


def probabilities_from_file(path: str, names: "pd.Series",
                            labels: "np.ndarray") -> tuple["np.ndarray", list[str], "np.ndarray"]:
    """``(has_probs, classes, probs)`` for the rows named ``names`` (labelled ``labels``) from
    a table with an ``id`` column and one ``prob_<class>`` column per class; ``probs`` has a
    row per row with probabilities, ``has_probs`` marks them. Bad tables raise CuraugError."""
    import numpy as np
    import pandas as pd

    from curate.io.tables import read_table

    where = f"label_issues: probs file {path}"
    try:
        table = read_table(path)
    except CuraugError as exc:
        raise CuraugError(f"label_issues: probs file {exc}") from None
    columns = [c for c in table.columns if str(c).startswith("prob_")]
    if "id" not in table.columns or not columns:
        raise CuraugError(f"{where} needs an 'id' column and one 'prob_<class>' column per class "
                          "(as `curaug train --folds` writes in oof_probs.parquet)")
    ids = table["id"].astype(str)
    if ids.duplicated().any():
        raise CuraugError(f"{where}: id '{ids[ids.duplicated()].iloc[0]}' appears more than once")
    probs = table[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise CuraugError(f"{where}: probabilities must be numbers >= 0 (found a missing, non-numeric or "
                          "negative one)")
    at = pd.Index(ids).get_indexer(names.to_numpy())
    found = at >= 0
    if not found.any():
        raise CuraugError(f"{where}: no id matches a labelled row (the file has ids like "
                          f"{', '.join(map(repr, ids.head(2)))}; the data {', '.join(map(repr, names.head(2)))})")
    classes = [str(c)[len("prob_"):] for c in columns]
    uncovered = sorted(set(labels[found]) - set(classes))
    if uncovered:
        raise CuraugError(f"{where} has no probabilities for label(s) {', '.join(uncovered[:5])} "
                          f"(its classes: {', '.join(classes)})")
    return found, classes, probs[at[found]]


@register_check("label_issues", asked=lambda ctx: ctx.rules.dataset.label_issues is not None,
                default=False)
def check_label_issues(ctx: CheckContext) -> list[CheckResult]:
    rule = ctx.rules.dataset.label_issues
    if rule is None or not ctx.label:
        return []
    import numpy as np

    from curate.checks.features import feature_matrix, model_columns
    from curate.checks.sample import fit_rows, sample_note

    if ctx.label_sep:
        return [CheckResult("label_issues", True, "warn", ctx.label, {"skipped": "multilabel"},
                            "label_issues skipped: confident learning needs one label per row")]
    label = ctx.label
    frame = ctx.frame.filter(lambda part: part[label].notna().to_numpy())
    columns = [] if rule.probs else rule.features or model_columns(frame.meta, (label, ctx.split_col, ctx.group, "id"))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return [CheckResult("label_issues", False, rule.severity, label, {},
                            f"label_issues: feature column(s) not found: {', '.join(missing)}")]
    df, sample = fit_rows(frame, frame.named(label, *columns), strata=label)
    names = row_names(df)
    seen = {"sample": sample} if sample is not None else {}
    if rule.probs:
        import pandas as pd

        labels = df[label].astype(str).to_numpy()
        found, classes, probs = probabilities_from_file(rule.probs, names, labels)
        y = pd.Index(classes).get_indexer(labels[found])
        unjudged = int((~found).sum())
        source = {"probs": rule.probs, "judged": int(found.sum()), "without_probs": unjudged, **seen}
        note = f"; {unjudged} labelled rows had no probabilities (not judged)" if unjudged else ""
        return [_label_issues_result(rule, label, names.to_numpy()[found], np.array(classes), y, probs,
                                     source, note + sample_note(sample))]
    feats = feature_matrix(df, columns)
    classes, y = np.unique(df[label].astype(str).to_numpy(), return_inverse=True)
    if feats.X.shape[1] == 0 or len(classes) < 2 or len(df) < 2 * rule.folds:
        return [CheckResult("label_issues", True, "warn", label, {"skipped": "too little to learn from"},
                            "label_issues skipped: needs feature columns, two classes and "
                            f"at least {2 * rule.folds} labelled rows")]
    probs = out_of_fold_probabilities(feats.X, y, feats.categorical, folds=rule.folds, model=rule.model,
                                      seed=rule.seed)
    source = {"model": rule.model, "folds": rule.folds, "features": feats.names, **seen}
    return [_label_issues_result(rule, label, names.to_numpy(), classes, y, probs, source, sample_note(sample))]


def _label_issues_result(rule: "LabelIssuesRule", label: str, names: "np.ndarray", classes: "np.ndarray",
                         y: "np.ndarray", probs: "np.ndarray", source: dict[str, Any],
                         note: str = "") -> CheckResult:
    """Confident learning on out-of-fold ``probs`` (a row per name, a column per class);
    ``source`` says where they came from."""
    import numpy as np

    issue, suggested, thresholds = confident_learning(probs, y)
    self_conf = probs[np.arange(len(y)), y]
    order = np.flatnonzero(issue)[np.argsort(self_conf[issue], kind="stable")]
    suspects = [{"id": str(names[i]), "given": str(classes[y[i]]), "suggested": str(classes[suggested[i]]),
                 "self_confidence": round(float(self_conf[i]), 6),
                 "suggested_confidence": round(float(probs[i, suggested[i]]), 6)} for i in order[:MAX_SUSPECTS]]
    fraction = float(issue.mean())
    observed: dict[str, Any] = {
        "issues": int(issue.sum()), "fraction": round(fraction, 6), "max_fraction": rule.max_fraction,
        **source,
        "out_of_fold_accuracy": round(float((probs.argmax(axis=1) == y).mean()), 6),
        "thresholds": {str(c): round(float(t), 6) for c, t in zip(classes, thresholds)},
        "suspects": suspects,
    }
    details = (f"{observed['issues']} likely label errors ({fraction:.2%}, limit {rule.max_fraction:.2%}); "
               f"out-of-fold accuracy {observed['out_of_fold_accuracy']:.3f}{note}")
    return CheckResult("label_issues", fraction <= rule.max_fraction, rule.severity, label, observed, details,
                       [s["id"] for s in suspects[:MAX_OFFENDERS]])
