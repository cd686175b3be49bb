"""``curaug split`` of a partitioned table: the in-memory split, row for row, in passes.

A split needs global facts (class counts, where each class is cut) but each row's part
must then follow from the row alone, whatever partition it sits in:

1. one pass counts usable rows per partition (a row's position among the usable rows is
   its partition's offset plus its place there) and rows per class;
2. stratified: a row's rank in its class is the order of its
   :func:`curate.split.assign.row_keys`; the cuts (:func:`curate.split.assign.part_counts`,
   classes ranked by size and first position as in memory) are ranks, and the
   row at each cut is found from the class counts and a narrow window of keys around the
   cut's expected key (a second pass, widened in the rare case it misses); folds do the
   same over the train and val rows with the second key stream;
   grouped: the (group, class) counts, a hash-partitioned reduction, go through the very
   :func:`curate.split.assign.place_groups` the in-memory path calls, with the same random
   stream; stable: each row hashes its own id or group;
3. a last pass writes each partition with its ``split`` and ``fold``.

The result equals :func:`curate.split.splitters.split_frame`'s (through ``curaug.split``) on
any table that fits in memory, for any partitioning. Memory: a partition, the class counts
and the window keys; grouped splits also hold one row per (group, class) pair.

Multilabel, time and domain splits order or place the whole table at once (iterative
stratification places rows label set by label set, a time split sorts by time, a domain
split places each domain on its own), so they collect what they read, the label, time,
group, domain, ``id``, ``source_id`` and ``status`` columns of every row and no other
column, split those in memory as ``curaug.split`` does
(:func:`curate.split.domain.split_rows`), and write each partition with its rows' parts
(:func:`_split_collected`). Memory: those columns of the whole table, stated in the
report's notes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from curate.errors import CuraugError
from curate.io.manifest import SPLITS

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

#: Half-width of the key window around a cut, in standard deviations of the cut's key.
WINDOW_SDS = 8.0
_KEY_SPACE = float(2**64)


@dataclass
class _Plan:
    """What the last pass needs to place any row of any partition."""

    label: str
    group: str | None
    by_source: bool
    stable: bool
    seed: int
    ratios: tuple[float, float, float]
    folds: int
    offsets: list[int]
    classes: list[str]
    #: stratified: per class, the (key, position) at each cut between its parts (folds)
    cuts: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    fold_cuts: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: stratified: per class, its rows per part, in part order
    counts: dict[str, list[int]] = field(default_factory=dict)
    #: grouped (and stable with groups): the groups, and part and fold per group code
    groups: "_Groups | None" = None
    group_part: np.ndarray | None = None
    group_fold: np.ndarray | None = None
    small: set[str] = field(default_factory=set)
    rng: Any = None

    @property
    def grouped(self) -> bool:
        return self.group is not None or self.by_source

    @property
    def roles(self) -> tuple[str, str | None, bool]:
        return self.label, self.group, self.by_source


def split_partitioned(ddf: "dd.DataFrame", label: str, output: str | os.PathLike, *, ratios=(0.6, 0.2, 0.2),
                      folds: int = 0, group: str | None = None, seed: int = 0, stable: bool = False,
                      multilabel_sep: str | None = None, strict: bool = True, time: str | None = None,
                      gap: str | float | None = None, domain: str | None = None,
                      target: Any = None) -> dict[str, Any]:
    """Write ``ddf`` with ``split`` (and ``fold``) as a Parquet dataset folder ``output``, one
    file per partition, and return the report; arguments and report as ``curaug.split``'s
    (``return_report=True``). Runs on the active engine
    (:func:`curate.partitioned.table.engine_scope`)."""
    from curate.split.report import counts_report
    from curate.split.splitters import absent_notes, check_classes, check_split_args

    columns = [str(c) for c in ddf.columns]
    ratios = check_split_args(columns, label, group=group, time=time, gap=gap, folds=folds, stable=stable,
                              ratios=ratios)
    collected = dict(ratios=ratios, folds=folds, group=group, seed=seed, stable=stable,
                     multilabel_sep=multilabel_sep, strict=strict, time=time, gap=gap, domain=domain, target=target)
    if time or multilabel_sep or domain is not None or target is not None:
        return _split_collected(ddf, label, output, **collected)
    stats = _first_pass(ddf, label)
    if stats["rows"] == 0:
        raise CuraugError("df: the table has no rows, nothing to split", param="df")
    if stats["list_labels"]:
        return _split_collected(ddf, label, output, **collected)
    if sum(r > 0 for r in ratios) > 1:  # all in one split: nothing is stratified
        check_classes(stats["classes"], label)
    plan = _Plan(label, group, by_source=not group and stats["has_source"], stable=stable, seed=int(seed),
                 ratios=ratios, folds=folds, offsets=stats["offsets"], classes=sorted(stats["classes"]))
    notes: list[str] = []
    if plan.by_source:
        notes.append("augmented rows follow their source (grouped by source_id)")
    groups = plan.groups = _group_table(ddf, plan) if plan.grouped else None
    _small(plan, stats, groups, strict, notes)
    if groups is not None and stable:
        _stable_groups(plan, groups)
    elif groups is not None:
        _place_groups(plan, groups, notes)
    elif not stable:
        _cut_classes(ddf, plan, stats)
    if folds:
        _fold_checks(ddf, plan, stats, groups)
        if groups is not None and not stable:
            _place_group_folds(plan, groups)
        elif groups is None and not stable:
            _cut_folds(ddf, plan, stats)
    if groups is not None:  # the writers need the lookup and the parts, not the table
        plan.groups = _Groups(np.empty(0, dtype=object), np.empty((0, 0)), groups.values, groups.value_code,
                              groups.small)
    counts = _write(ddf, plan, output)
    groups_per = _groups_per(plan) if groups is not None else None
    report = counts_report(counts.groupby(["y", "split", "fold"], sort=False)["n"].sum().reset_index(), ratios,
                           folds=bool(folds), groups_per=groups_per)
    kept = counts[~counts["train_only"]]
    notes += absent_notes(kept.groupby(["y", "split", "fold"], sort=False)["n"].sum().reset_index(), folds, ratios)
    return {**report, "notes": notes, "skipped_corrupt": stats["corrupt"]}


# ------------------------------------------------------------------ pass 1


def _rows_of(part: "pd.DataFrame", roles: tuple[str, str | None, bool]) -> "pd.DataFrame":
    """Per usable row: its class ``y`` and its name (groups: :func:`_group_values`)."""
    import pandas as pd

    from curate.io.frames import row_names
    from curate.io.manifest import ok_rows

    part = part[ok_rows(part)]
    return pd.DataFrame({"y": part[roles[0]].astype("string").fillna("(missing)").astype(object),
                         "name": row_names(part).astype(object)}, index=part.index)


def _first_pass(ddf: "dd.DataFrame", label: str) -> dict[str, Any]:
    import pandas as pd

    from curate.io.labels import is_list_column
    from curate.io.manifest import ok_rows
    from curate.io.frames import Partitioned

    def partial(part: "pd.DataFrame") -> dict[str, Any]:
        usable = part[ok_rows(part)]
        y = usable[label].astype("string").fillna("(missing)")
        first = pd.Series(np.arange(len(y)), index=y.to_numpy(dtype=object)).groupby(level=0).min()
        return {"n": len(usable), "corrupt": len(part) - len(usable), "classes": y.value_counts().to_dict(),
                "first": first.to_dict(),
                "source": "source_id" in usable.columns and bool(usable["source_id"].notna().any()),
                "lists": len(usable) > 0 and is_list_column(usable[label])}

    def combine(pieces: list[dict]) -> dict[str, Any]:
        sizes = [p["n"] for p in pieces]
        offsets = [int(x) for x in np.concatenate([[0], np.cumsum(sizes)])[:-1]]
        classes: dict[str, int] = {}
        first: dict[str, int] = {}
        for p, offset in zip(pieces, offsets):
            for k, v in p["classes"].items():
                classes[str(k)] = classes.get(str(k), 0) + int(v)
            for k, v in p["first"].items():
                first[str(k)] = min(first.get(str(k), offset + int(v)), offset + int(v))
        return {"rows": sum(sizes), "corrupt": sum(p["corrupt"] for p in pieces), "offsets": offsets,
                "classes": classes, "first": first, "has_source": any(p["source"] for p in pieces),
                "list_labels": any(p["lists"] for p in pieces)}

    return Partitioned(ddf).reduce(partial, combine)


@dataclass
class _Groups:
    """The (group, class) table of a grouped split, compactly: group names sorted as the
    in-memory split sorts them, their rows per class, and how a partition's rows find
    their group's code."""

    keys: np.ndarray           # group names, sorted
    counts: np.ndarray         # groups x classes (``plan.classes``), rows
    values: "pd.Index"         # the group column's own values (integers stay integers)
    value_code: np.ndarray     # the code (position in ``keys``) of each of ``values``
    small: np.ndarray | None = None  # groups holding a row of a class too small for every split

    def codes(self, values: "pd.Series") -> np.ndarray:
        return self.value_code[self.values.get_indexer(values)]


def _group_values(part: "pd.DataFrame", roles: tuple[str, str | None, bool]) -> "pd.Series":
    """Each usable row's group as the table is grouped: an integer column as is (its name
    is its decimal string), anything else as the in-memory split's string."""
    import pandas as pd

    from curate.io.frames import row_names

    label, group, by_source = roles
    if group:
        values = part[group]
        if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
            return values
        return values.astype("string").fillna("(missing)").astype(object)
    return part["source_id"].astype("string").fillna(row_names(part)).astype(object)


def _group_rows(part: "pd.DataFrame", roles: tuple, classes: list[str]) -> "pd.DataFrame":
    import pandas as pd

    from curate.io.manifest import ok_rows

    usable = part[ok_rows(part)]
    y = usable[roles[0]].astype("string").fillna("(missing)")
    return pd.DataFrame({"v": _group_values(usable, roles),
                         "c": pd.Index(classes).get_indexer(y).astype(np.int32)}, index=usable.index)


def _group_table(ddf: "dd.DataFrame", plan: _Plan) -> _Groups:
    """Rows per (group, class) over the whole table: the rows are shuffled by group (on
    the group column's own values) so that each piece holds whole groups and comes back as
    one row of class counts per group; no process holds every row, and only the distinct
    groups ever become strings."""
    import dask
    import pandas as pd

    from curate.split.assign import codes

    meta = _group_rows(ddf._meta, plan.roles, plan.classes)
    rows = ddf.map_partitions(_group_rows, plan.roles, plan.classes, meta=meta)
    pieces = [dask.delayed(_class_counts_per_group)(p, len(plan.classes))
              for p in rows.shuffle(on="v", npartitions=max(1, ddf.npartitions)).to_delayed()]
    pieces = [p for p in dask.compute(*pieces) if len(p[0])]
    if not pieces:
        return _Groups(np.empty(0, dtype=object), np.zeros((0, len(plan.classes))), pd.Index([]),
                       np.empty(0, dtype=int))
    uniques = pd.Index(np.concatenate([v for v, _ in pieces]))
    wide = np.concatenate([m for _, m in pieces])
    keys, rank = codes(np.asarray(uniques).astype(str).astype(object))
    counts = np.zeros((len(keys), len(plan.classes)))
    np.add.at(counts, rank, wide)  # two values may share a name (1 and "1" in an object column)
    return _Groups(keys, counts, uniques, rank)


def _class_counts_per_group(part: "pd.DataFrame", n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(groups, rows per group and class)`` of one piece holding whole groups."""
    import pandas as pd

    code, uniques = pd.factorize(part["v"])
    wide = np.zeros((len(uniques), n_classes), dtype=np.int64)
    np.add.at(wide, (code, part["c"].to_numpy()), 1)
    return np.asarray(uniques), wide


def _small(plan: _Plan, stats: dict, groups: _Groups | None, strict: bool, notes: list[str]) -> None:
    from curate.split.splitters import small_classes

    classes = np.asarray(plan.classes, dtype=object)
    counts = np.array([stats["classes"][c] for c in plan.classes])
    spread = counts if groups is None else (groups.counts > 0).sum(axis=0)
    small = small_classes(classes, counts, spread, groups is not None, plan.ratios, plan.label, strict, notes)
    plan.small = {str(classes[k]) for k in small}
    if groups is not None:  # the whole group goes with its tiny class
        groups.small = groups.counts[:, small].sum(axis=1) > 0 if len(small) else np.zeros(len(groups.keys), bool)


# ------------------------------------------------------------------ placement


def _per_partition(ddf: "dd.DataFrame", fn, *shared) -> list:
    """``[fn(partition, number, *shared) ...]`` in table order, where the partitions are.
    ``fn`` is a module-level function and each ``shared`` object (the plan, with a grouped
    split's millions of groups) enters the graph once, not once per task."""
    import uuid

    import dask

    held = [dask.delayed(obj, name=f"curaug-shared-{uuid.uuid4().hex}", traverse=False) for obj in shared]
    return list(dask.compute(*[dask.delayed(fn)(p, i, *held) for i, p in enumerate(ddf.to_delayed())]))


def _segment(keys: np.ndarray, pos: np.ndarray, cuts: list[tuple[int, int]]) -> np.ndarray:
    """How many of ``cuts`` (key, position) each row is at or past."""
    seg = np.zeros(len(keys), dtype=int)
    for ck, cp in cuts:
        if ck < 0:
            seg += 1
        elif ck < 2**64:
            ck64 = np.uint64(ck)
            seg += (keys > ck64) | ((keys == ck64) & (pos >= cp))
    return seg


def _stratified_parts(y: np.ndarray, keys: np.ndarray, pos: np.ndarray, cuts: dict) -> np.ndarray:
    out = np.zeros(len(y), dtype=int)
    for c in np.unique(y):
        at = np.flatnonzero(y == c)
        out[at] = _segment(keys[at], pos[at], cuts[c])
    return out


def _place(part: "pd.DataFrame", plan: _Plan, number: int, *, with_folds: bool = True):
    """``(rows, parts, folds, train_only)`` of one partition's usable rows; folds -1 outside
    train and val (None without folds or before they are known)."""
    from curate.split.assign import row_keys, stable_assign

    rows = _rows_of(part, plan.roles)
    y = rows["y"].to_numpy(dtype=object)
    pos = plan.offsets[number] + np.arange(len(rows), dtype=np.int64)
    if plan.groups is not None:  # the groups' own parts (hashed, for a stable split), looked up
        from curate.io.manifest import ok_rows

        code = plan.groups.codes(_group_values(part[ok_rows(part)], plan.roles))
        parts = plan.group_part[code]
        train_only = plan.groups.small[code]
    else:
        if plan.stable:
            names = rows["name"].to_numpy(dtype=object)
            parts = stable_assign(names, plan.ratios, plan.seed) if len(rows) else np.zeros(0, dtype=int)
        else:
            parts = _stratified_parts(y, row_keys(plan.seed, pos), pos, plan.cuts)
        train_only = np.isin(y, list(plan.small)) if plan.small else np.zeros(len(y), dtype=bool)
    parts = np.where(train_only, 0, parts)
    folds = None
    if plan.folds and with_folds:
        folds = np.full(len(rows), -1)
        dev = np.flatnonzero(parts <= 1)
        if plan.groups is not None:
            folds[dev] = plan.group_fold[code[dev]]
        elif plan.stable:
            folds[dev] = stable_assign(names[dev], [1.0 / plan.folds] * plan.folds, plan.seed + 1) if len(dev) else []
        else:
            folds[dev] = _stratified_parts(y[dev], row_keys(plan.seed, pos[dev], stream=1), pos[dev],
                                           plan.fold_cuts)
    return rows, parts, folds, train_only


# ------------------------------------------------------------------ stratified


def _dealt(names: list[str], sizes: dict[str, int], first: dict[str, int], ratios) -> dict[str, list[int]]:
    """Rows per part of each class, dealt as :func:`curate.split.assign.stratified_assign`
    deals them: largest class first, equal sizes by the position of their first row."""
    from curate.split.assign import class_rank, part_counts

    ranked = [names[k] for k in class_rank(np.array([sizes[c] for c in names]), np.array([first[c] for c in names]))]
    return {c: [int(x) for x in row] for c, row in zip(ranked, part_counts([sizes[c] for c in ranked], ratios))}


def _cut_classes(ddf: "dd.DataFrame", plan: _Plan, stats: dict) -> None:
    """Per class, the (key, position) of the first row of each part after the first."""
    plan.counts = _dealt(plan.classes, stats["classes"], stats["first"], plan.ratios)
    want = {c: (stats["classes"][c], [int(r) for r in np.cumsum(plan.counts[c])[:-1]]) for c in plan.classes}
    plan.cuts = _find_cuts(ddf, plan, want, stream=0)


def _dev_counts(plan: _Plan, stats: dict) -> dict[str, int]:
    """Train and val rows per class of a stratified split (a small class is all in train)."""
    return {c: stats["classes"][c] if c in plan.small else int(sum(plan.counts[c][:2])) for c in plan.classes}


def _cut_folds(ddf: "dd.DataFrame", plan: _Plan, stats: dict) -> None:
    """The same over the train and val rows: K equal parts, the second key stream, classes
    ranked by their train and val rows (equal: by their first row in the whole table)."""
    dev = {c: n for c, n in _dev_counts(plan, stats).items() if n}
    counts = _dealt(sorted(dev), dev, stats["first"], [1.0 / plan.folds] * plan.folds)
    want = {c: (dev[c], [int(r) for r in np.cumsum(counts[c])[:-1]]) for c in counts}
    plan.fold_cuts = _find_cuts(ddf, plan, want, stream=1)


def _find_cuts(ddf: "dd.DataFrame", plan: _Plan, want: dict[str, tuple[int, list[int]]], *,
               stream: int) -> dict[str, list[tuple[int, int]]]:
    """For each class and cut rank r, the (key, position) of the row of rank r in key order
    (``stream`` 1: among the train and val rows): rows below a window around the expected
    key are counted, rows inside it collected; a window that misses its rank is widened."""
    found: dict[str, list] = {c: [None] * len(ranks) for c, (_, ranks) in want.items()}
    todo = []
    for c, (n, ranks) in want.items():
        for j, r in enumerate(ranks):
            if r <= 0:
                found[c][j] = (-1, -1)  # every row is past it
            elif r >= n:
                found[c][j] = (2**64, 0)  # no row reaches it
            else:
                todo.append((c, j))
    width = WINDOW_SDS
    while todo:
        windows = {}
        for c, j in todo:
            n, ranks = want[c]
            q = ranks[j] / n
            sd = np.sqrt(max(q * (1 - q), 1.0 / n) / n)
            lo = int(max(0.0, q - width * sd) * _KEY_SPACE)
            hi = q + width * sd
            windows[(c, j)] = (min(lo, 2**64 - 1), None if hi >= 1.0 else int(hi * _KEY_SPACE))

        pieces = _per_partition(ddf, _window_counts, plan, windows, stream)
        still = []
        for c, j in todo:
            below = sum(piece[(c, j)][0] for piece in pieces)
            keys = np.concatenate([piece[(c, j)][1] for piece in pieces])
            pos = np.concatenate([piece[(c, j)][2] for piece in pieces])
            r = want[c][1][j] - below
            if 0 <= r < len(keys):
                order = np.lexsort((pos, keys))
                found[c][j] = (int(keys[order[r]]), int(pos[order[r]]))
            else:
                still.append((c, j))
        todo = still
        width *= 16
    return found


def _window_counts(part: "pd.DataFrame", number: int, plan: _Plan, windows: dict, stream: int) -> dict:
    """Per cut: this partition's rows of the class below its window, and the keys and
    positions inside it (``stream`` 1: the train and val rows only)."""
    from curate.split.assign import row_keys

    if stream:
        rows, parts, _, _ = _place(part, plan, number, with_folds=False)
    else:
        rows, parts = _rows_of(part, plan.roles), None
    pos = plan.offsets[number] + np.arange(len(rows), dtype=np.int64)
    y = rows["y"].to_numpy(dtype=object)
    if parts is not None:  # folds rank the train and val rows only
        y, pos = y[parts <= 1], pos[parts <= 1]
    keys = row_keys(plan.seed, pos, stream=stream)
    out = {}
    for (c, j), (lo, hi) in windows.items():
        mine = y == c
        k, p = keys[mine], pos[mine]
        inside = k >= np.uint64(lo)
        if hi is not None:
            inside &= k < np.uint64(hi)
        out[(c, j)] = (int((k < np.uint64(lo)).sum()), k[inside], p[inside])
    return out


# ------------------------------------------------------------------ grouped and stable


def _place_groups(plan: _Plan, groups: _Groups, notes: list[str]) -> None:
    from curate.split.assign import place_groups

    plan.rng = np.random.default_rng(plan.seed)
    placed, big = place_groups(groups.counts, groups.keys, plan.ratios, plan.rng)
    plan.group_part = np.where(groups.small, 0, placed)
    if big:
        notes.append(f"{len(big)} groups are larger than their split's share: {', '.join(big[:5])}")


def _place_group_folds(plan: _Plan, groups: _Groups) -> None:
    """The train and val groups in K folds, over the classes they hold, with the split's
    random stream continued (as the in-memory split does)."""
    from curate.split.assign import place_groups

    dev = np.flatnonzero(plan.group_part <= 1)
    counts = groups.counts[dev]
    counts = counts[:, counts.sum(axis=0) > 0]
    placed, _ = place_groups(counts, groups.keys[dev], [1.0 / plan.folds] * plan.folds, plan.rng)
    plan.group_fold = np.full(len(groups.keys), -1)
    plan.group_fold[dev] = placed


def _stable_groups(plan: _Plan, groups: _Groups) -> None:
    """A stable split with groups: each group's part (and fold) from its name's hash."""
    from curate.split.assign import stable_assign

    plan.group_part = np.where(groups.small, 0, stable_assign(groups.keys, plan.ratios, plan.seed))
    if plan.folds:
        plan.group_fold = stable_assign(groups.keys, [1.0 / plan.folds] * plan.folds, plan.seed + 1)


def _fold_checks(ddf: "dd.DataFrame", plan: _Plan, stats: dict, groups: _Groups | None) -> None:
    """The in-memory fold checks, from the train and val rows' class and group counts."""
    from curate.split.splitters import check_fold_counts

    if groups is not None:
        dev = plan.group_part <= 1
        kept = groups.counts[dev & ~groups.small].sum(axis=0)
        present = kept > 0
        classes = np.asarray(plan.classes, dtype=object)[present]
        counts, n_groups = kept[present].astype(int), int(dev.sum())
    elif plan.stable:
        kept = _sum_series(_per_partition(ddf, _dev_classes, plan))
        classes, counts, n_groups = kept.index.to_numpy(dtype=object), kept.to_numpy(), None
    else:
        dev = {c: n for c, n in _dev_counts(plan, stats).items() if n and c not in plan.small}
        classes = np.asarray(sorted(dev), dtype=object)
        counts, n_groups = np.array([dev[c] for c in classes], dtype=int), None
    check_fold_counts(classes, counts, n_groups, plan.folds, plan.label, plan.group)


def _dev_classes(part: "pd.DataFrame", number: int, plan: _Plan) -> "pd.Series":
    """Rows per class in train and val, but those of classes too small for every split."""
    rows, parts, _, train_only = _place(part, plan, number, with_folds=False)
    return rows.loc[(parts <= 1) & ~train_only, "y"].value_counts()


def _sum_series(pieces: list) -> "pd.Series":
    import pandas as pd

    total = pd.concat(pieces).groupby(level=0).sum() if pieces else pd.Series(dtype=int)
    return total.sort_index()


def _groups_per(plan: _Plan) -> tuple[dict, dict | None]:
    """Distinct groups per split and per fold, as the report counts them."""
    per_split = {s: int((plan.group_part == i).sum()) for i, s in enumerate(SPLITS)}
    if not plan.folds:
        return per_split, None
    folds = plan.group_fold[plan.group_part <= 1]
    top = int(folds.max()) if len(folds) else -1
    return per_split, {str(f): int((folds == f).sum()) for f in range(top + 1)}


# ------------------------------------------------------------------ writing


def _write(ddf: "dd.DataFrame", plan: _Plan, output: str | os.PathLike) -> "pd.DataFrame":
    """Each partition with ``split`` and ``fold`` as ``part.NNNNN.parquet`` in a folder that
    replaces ``output`` only once every file is written; the rows per (class, split, fold,
    sent to train for being small), summed over partitions, for the report."""
    import pandas as pd

    from curate.partitioned.write import dataset_folder

    with dataset_folder(output) as folder:
        pieces = _per_partition(ddf, _write_partition, plan, str(folder), str(output))
    return pd.concat(pieces, ignore_index=True)


def _write_partition(part: "pd.DataFrame", number: int, plan: _Plan, folder: str, output: str) -> "pd.DataFrame":
    """One partition with its ``split`` (and ``fold``) written; its rows per (class, split,
    fold, sent to train for being small)."""
    import pandas as pd

    from curate.io.manifest import ok_rows
    from curate.partitioned.write import write_part

    rows, parts, folds, train_only = _place(part, plan, number)
    usable = ok_rows(part).to_numpy()
    out = part.copy()
    split = pd.array([pd.NA] * len(out), dtype="string")
    split[usable] = np.asarray(SPLITS, dtype=object)[parts]
    out["split"] = split
    if plan.folds:
        fold = pd.array([pd.NA] * len(out), dtype="Int64")
        fold[usable] = folds
        out["fold"] = fold
    write_part(out, folder, number, output)
    counts = pd.DataFrame({"y": rows["y"].to_numpy(dtype=object), "split": np.asarray(SPLITS, dtype=object)[parts],
                           "fold": folds if folds is not None else np.full(len(rows), -1), "train_only": train_only})
    return counts.groupby(["y", "split", "fold", "train_only"], sort=False).size().rename("n").reset_index()


# ------------------------------------------------------------------ multilabel and time


def _split_collected(ddf: "dd.DataFrame", label: str, output: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """A multilabel, time or domain split: the columns :func:`curate.split.domain.split_rows`
    reads, for every row, split in memory exactly as ``curaug.split`` splits the whole table
    (rows named by their position in it, as there), then written partition by partition."""
    import pandas as pd

    from curate.io.manifest import ok_rows
    from curate.split.domain import split_rows

    wanted = (label, kwargs.get("time"), kwargs.get("group"), kwargs.get("domain"), "id", "source_id", "status")
    columns = [c for c in dict.fromkeys(wanted) if c and c in ddf.columns]
    narrow = ddf[columns].compute()
    if len(narrow) == 0:
        raise CuraugError("df: the table has no rows, nothing to split", param="df")
    usable = ok_rows(narrow)
    result = split_rows(narrow[usable], label, **kwargs)
    assigned = pd.DataFrame({"split": pd.array([pd.NA] * len(narrow), dtype="string")}, index=narrow.index)
    assigned.loc[usable, "split"] = result.split
    if result.fold is not None:
        assigned["fold"] = pd.array([pd.NA] * len(narrow), dtype="Int64")
        assigned.loc[usable, "fold"] = result.fold
    from curate.partitioned.write import dataset_folder

    with dataset_folder(output) as folder:
        _per_partition(ddf, _write_assigned, assigned, str(folder), str(output))
    note = (f"multilabel, time and domain splits order the whole table: the {', '.join(columns)} column(s) of all "
            f"{len(narrow)} rows were held in memory (no other column)")
    return {**result.report, "notes": result.notes + [note], "skipped_corrupt": int((~usable).sum())}


def _write_assigned(part: "pd.DataFrame", number: int, assigned: "pd.DataFrame", folder: str, output: str) -> None:
    """One partition with the ``split`` (and ``fold``) its rows were given (by position)."""
    from curate.partitioned.write import write_part

    out = part.copy()
    rows = assigned.loc[part.index]
    for column in rows.columns:
        out[column] = rows[column].array
    write_part(out, folder, number, output)
