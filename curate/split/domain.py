"""Splits for shifted data: train and train_val from the source domain, val and test from the target.

When the data to train on and the data to serve come from different distributions (web
images and the target camera, another hospital, synthetic and real), the course's advice
is to keep val and test on the target distribution and to hold out a ``train_val`` split of
the source distribution: then error on train, train_val, val and test separates avoidable
bias, variance and data mismatch (:mod:`pipelines.train.gaps`).

:func:`domain_split` marks the rows whose ``domain`` column equals ``target`` as the target
domain and places each domain on its own with :func:`curate.split.splitters.place_rows`
(ratios, groups, stratification, stable hashing and folds as in any split): source rows go
to ``train`` and ``train_val`` in the proportion of the train and val ratios, target rows to
``val`` and ``test`` in the proportion of the val and test ratios, so no target row is ever in
train. Folds cover the source rows (train and train_val), the rows a model may train on;
target rows get fold -1. A group with rows in both domains is an error: its target rows
would share a group with train.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"y": ["a", "b"] * 10, "site": ["web"] * 12 + ["phone"] * 8})
>>> res = domain_split(df, "y", domain="site", target="phone", ratios=(0.6, 0.2, 0.2))
>>> pd.crosstab(df["site"], res.split).to_dict("index")
{'phone': {'test': 4, 'train': 0, 'train_val': 0, 'val': 4}, 'web': {'test': 0, 'train': 9, 'train_val': 3, 'val': 0}}
>>> domain_split(df, "y", domain="site", target="camera")
Traceback (most recent call last):
...
curate.errors.CuraugError: target='camera' is not a value of domain='site' (known: phone, web)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.errors import CuraugError
from curate.io.manifest import GAP_SPLIT

if TYPE_CHECKING:
    import pandas as pd

    from curate.split.splitters import SplitResult

#: The splits of a domain split, in order: the source domain's two, then the target's two.
DOMAIN_SPLITS = ("train", "train_val", "val", "test")
#: Each domain is a split into two parts; the third part (ratio 0) gets no row.
SOURCE_PARTS = ("train", "train_val", "test")
TARGET_PARTS = ("val", "test", "train")


def domain_ratios(ratios: tuple[float, float, float]) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The shares within each domain: source train:train_val as train:val, target val:test as val:test.

    >>> domain_ratios((0.6, 0.2, 0.2))
    ((0.75, 0.25, 0.0), (0.5, 0.5, 0.0))
    >>> domain_ratios((0.8, 0.0, 0.2))
    ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    """
    train, val, test = ratios
    if train <= 0:
        raise CuraugError(f"ratios={list(ratios)}: a domain split trains on the source domain's train split; give "
                          "train a share above 0", param="ratios")
    if val + test <= 0:
        raise CuraugError(f"ratios={list(ratios)}: a domain split puts the target domain in val and test; give "
                          "them a share above 0", param="ratios")
    def shares(a: float, b: float) -> tuple[float, float, float]:
        return round(a / (a + b), 12), round(b / (a + b), 12), 0.0

    return shares(train, val), shares(val, test)


def target_mask(df: "pd.DataFrame", domain: str | None, target: Any) -> np.ndarray:
    """True for the rows of the target domain (``domain`` equal to ``target``; numbers
    compare as numbers, so ``"2009"`` finds 2009 and 2009.0); bad input is one error line."""
    import pandas as pd

    from curate.errors import did_you_mean

    if domain is None or target is None:
        given, missing = ("domain", "target") if target is None else ("target", "domain")
        raise CuraugError(f"{given}= needs {missing}= as well: a domain split names the column and the target "
                          f"domain's value", param=missing)
    if domain not in df.columns:
        raise CuraugError(f"domain='{domain}': no such column (columns: {', '.join(map(str, df.columns))})",
                          param="domain")
    column = df[domain]
    if column.isna().any():
        raise CuraugError(f"domain='{domain}': {int(column.isna().sum())} of {len(column)} rows have no value, so "
                          "they are in neither domain; fill or drop them first", param="domain")
    is_target = equals_target(column, target)
    if not is_target.any():
        values = sorted(column.astype("string").unique().tolist())
        raise CuraugError(f"target='{target}' is not a value of domain='{domain}'{did_you_mean(target, values)}",
                          param="target")
    if is_target.all():
        raise CuraugError(f"target='{target}': every row of domain='{domain}' is in the target domain, so none is "
                          "left to train on; the source domain is every other value", param="target")
    return is_target


def equals_target(column: "pd.Series", target: Any) -> np.ndarray:
    """True where ``column`` holds ``target`` (numbers compare as numbers; a missing value
    is never the target).

    >>> import pandas as pd
    >>> equals_target(pd.Series([2008, 2009, None]), "2009").tolist()
    [False, True, False]
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        number = pd.to_numeric(pd.Series([str(target)]), errors="coerce").iloc[0]
        if pd.isna(number):
            return np.zeros(len(column), dtype=bool)
        return (column == number).fillna(False).to_numpy(dtype=bool)
    return (column.astype("string") == str(target)).fillna(False).to_numpy(dtype=bool)


def domain_split(df: "pd.DataFrame", label: str, *, domain: str | None, target: Any, ratios=(0.6, 0.2, 0.2),
                 folds: int = 0, group: str | None = None, seed: int = 0, stable: bool = False,
                 multilabel_sep: str | None = None, strict: bool = True, time: str | None = None,
                 gap: str | float | None = None) -> "SplitResult":
    """``split`` (``train``, ``train_val``, ``val``, ``test``) and ``fold`` per row of ``df``.

    Parameters are those of :func:`curate.split.splitters.split_frame`, plus ``domain``
    (the column telling the domains apart) and ``target`` (its value on the target
    domain's rows; every other value is the source domain). The report adds ``domain``:
    the column, the target, the source values and the rows of each domain, what a check
    of the split needs to see that no target row is in train.
    """
    import pandas as pd

    from curate.split.splitters import SplitResult, _rows, check_classes, check_split_args

    if len(df) == 0:
        raise CuraugError("df: the table has no rows, nothing to split", param="df")
    ratios = check_split_args(df.columns, label, group=group, time=time, gap=gap, folds=folds, stable=stable,
                              ratios=ratios)
    is_target = target_mask(df, domain, target)
    source_ratios, target_ratios = domain_ratios(ratios)
    if group is not None:
        _check_groups(df[group], is_target, group, domain)
    where = {"source": f"source domain ({domain} other than '{target}', {int((~is_target).sum())} rows)",
             "target": f"target domain ({domain} = '{target}', {int(is_target.sum())} rows)"}
    results = {}
    for name, mask, part_ratios, names, k in (("source", ~is_target, source_ratios, SOURCE_PARTS, folds),
                                              ("target", is_target, target_ratios, TARGET_PARTS, 0)):
        part = df[mask]
        try:
            rows, notes = _rows(part, label, multilabel_sep, group, time)
            if name == "source" and rows.sets is None:  # the target may hold one class: it is only evaluated
                check_classes(pd.Series(rows.y).value_counts().to_dict(), label, where=f"in the {where['source']}")
            results[name] = _place(part, rows, notes, label, part_ratios, k, group, seed, stable, strict, time, gap,
                                   names)
        except CuraugError as exc:
            raise CuraugError(f"{where[name]}: {exc}", param=exc.param) from None
    split = np.empty(len(df), dtype=object)
    split[~is_target], split[is_target] = results["source"].split, results["target"].split
    fold = None
    if folds:
        fold = pd.array(np.full(len(df), -1), dtype="Int64")
        fold[np.flatnonzero(~is_target)] = results["source"].fold
    source_values = sorted(df.loc[~is_target, domain].astype("string").unique().tolist())
    notes = [f"domain split on '{domain}': the target '{target}' ({int(is_target.sum())} rows) is in val and test, "
             f"the source ({', '.join(source_values[:5])}{', ...' if len(source_values) > 5 else ''}: "
             f"{int((~is_target).sum())} rows) in train and train_val"]
    notes += [f"{name} domain: {note}" for name in ("source", "target") for note in results[name].notes]
    report = _merged_report(results["source"].report, results["target"].report)
    report["domain"] = {"column": domain, "target": str(target), "source_values": source_values,
                        "rows": {"source": int((~is_target).sum()), "target": int(is_target.sum())},
                        "ratios": list(ratios)}
    return SplitResult(split, fold, notes, report)


def _place(part, rows, notes, label, ratios, folds, group, seed, stable, strict, time, gap, names):
    from curate.split.splitters import place_rows

    return place_rows(part, rows, notes, label, ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                      strict=strict, time=time, gap=gap, names=names)


def _check_groups(groups: "pd.Series", is_target: np.ndarray, group: str, domain: str) -> None:
    """No group in both domains: its target rows would be in val or test while its source
    rows train."""
    import pandas as pd

    keys = groups.astype("string").fillna("(missing)").to_numpy(dtype=object)
    both = pd.Series(is_target).groupby(keys).nunique()
    both = both.index[both.to_numpy() > 1].astype(str).tolist()
    if both:
        raise CuraugError(f"group='{group}': {len(both)} groups have rows in both domains of domain='{domain}' "
                          f"(e.g. {', '.join(both[:3])}): their target rows would share a group with train; give "
                          "each group one domain, or split without group=", param="group")


def _merged_report(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """One report from the two domains' (each domain's third, empty part left out): sizes,
    shares and per-class counts side by side, the worse of each deviation (each domain's
    against its own whole), the folds of the source."""
    report: dict[str, Any] = {}
    for key in dict.fromkeys([*source, *target]):
        a, b = _own(key, source.get(key), SOURCE_PARTS), _own(key, target.get(key), TARGET_PARTS)
        if a is None or b is None:
            report[key] = a if b is None else b
        elif isinstance(a, dict):
            report[key] = _merge_dicts(a, b, key)
        elif isinstance(a, list) or key.endswith("_with_zero_positives"):
            report[key] = a + b
        else:
            report[key] = max(a, b)
    return report


#: Report keys whose mapping is keyed by split, and those keyed by class, then by split.
BY_SPLIT = ("sizes", "ratios_requested", "groups_per_split")
BY_CLASS_AND_SPLIT = ("per_class",)


def _own(key: str, value: Any, parts: tuple[str, str, str]) -> Any:
    """A report entry without the domain's unused third part."""
    if key in BY_SPLIT and value is not None:
        return {k: v for k, v in value.items() if k != parts[2]}
    if key in BY_CLASS_AND_SPLIT and value is not None:
        return {c: {k: v for k, v in counts.items() if k != parts[2]} for c, counts in value.items()}
    return value


def _merge_dicts(a: dict, b: dict, key: str) -> dict:
    if key in BY_SPLIT:
        merged = {**a, **b}
        if GAP_SPLIT in a and GAP_SPLIT in b:
            merged[GAP_SPLIT] = a[GAP_SPLIT] + b[GAP_SPLIT]
        return {k: merged[k] for k in [*DOMAIN_SPLITS, GAP_SPLIT] if k in merged}
    if key in BY_CLASS_AND_SPLIT:  # every class gets a count in every split, as in any split's report
        splits = {s for counts in [*a.values(), *b.values()] for s in counts}
        order = [s for s in [*DOMAIN_SPLITS, GAP_SPLIT] if s in splits]
        return {c: {s: {**a.get(c, {}), **b.get(c, {})}.get(s, 0) for s in order} for c in dict.fromkeys([*a, *b])}
    return {**a, **b}


def expected_shares(n_source: int, n_target: int, ratios) -> dict[str, float]:
    """Each split's expected share of all rows of a domain split with ``n_source`` and
    ``n_target`` rows: what a ``split_ratios`` check of it compares with.

    >>> expected_shares(300, 100, (0.6, 0.2, 0.2))
    {'train': 0.5625, 'train_val': 0.1875, 'val': 0.125, 'test': 0.125}
    """
    (train, train_val, _), (val, test, _) = domain_ratios(tuple(ratios))
    n = n_source + n_target
    shares = (train * n_source, train_val * n_source, val * n_target, test * n_target)
    # twelve digits: the shares must still sum to 1 within the ratios rule's 1e-6
    return {name: round(s / n, 12) for name, s in zip(DOMAIN_SPLITS, shares)}


def split_rows(df: "pd.DataFrame", label: str, *, domain: str | None = None, target: Any = None,
               **settings: Any) -> "SplitResult":
    """:func:`domain_split` when ``domain`` or ``target`` is given, else
    :func:`curate.split.splitters.split_frame`: the split ``curaug.split`` makes of its rows."""
    from curate.split.splitters import split_frame

    if domain is not None or target is not None:
        return domain_split(df, label, domain=domain, target=target, **settings)
    return split_frame(df, label, **settings)
