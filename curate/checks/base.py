"""The check interface: typed results, and the one registry that dataset-level checks plug into.

A check is a function ``check(ctx) -> list[CheckResult]`` registered by name with
:func:`register_check`, which also says when the rules file *asks* for it (then it decides
the exit code) and whether it runs by *default* (without rules it decides; with rules that do
not ask for it, it is shown as a warning). A check reads the table through ``ctx.frame``
as a reduction (:mod:`curate.io.frames`): what each partition yields, how those merge,
and a finisher that builds the :class:`CheckResult`; so one implementation runs a table in
memory (one partition) and a partitioned one. A check that needs the whole table at once
says so (``whole_table``) and reads ``ctx.df``. Third parties add checks through the
``curaug.checks`` entry point group: a plain function there runs by default, in memory.
:func:`curate.checks.validate.validate` runs the column rules, then every registered check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from curate.errors import CuraugError
from curate.io.frames import InMemory, frame_of, row_names
from curate.io.jsonify import jsonable
from curate.io.manifest import GAP_SPLIT, RESERVED_COLUMNS, SPLITS
from curate.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

    from curate.io.frames import Frame
    from curate.rules.schema import Rules

MAX_OFFENDERS = 20


@dataclass
class CheckResult:
    """One check's outcome in the JSON shape of DESIGN.md ("Validation result")."""

    name: str
    success: bool
    severity: str = "error"
    column: str | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    details: str = ""
    #: Names of the offending rows (ids, else row numbers) or pairs (``"a ~ b"``), worst
    #: first, at most :data:`MAX_OFFENDERS`: what a report lists under a failed check.
    offenders: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.column, "success": bool(self.success),
                "severity": self.severity, "observed": jsonable(self.observed), "details": self.details,
                "offenders": [str(o) for o in self.offenders[:MAX_OFFENDERS]]}

    @property
    def blocking(self) -> bool:
        """A failed check of severity ``error`` fails the validation (exit 1)."""
        return not self.success and self.severity == "error"


@dataclass
class ValidationResult:
    checks: list[CheckResult]
    source: str | None = None
    #: checks the rules declare that could not run on this data, each ``{"name", "reason"}``
    #: (the ``splits:`` section of a table that has no split column yet)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not any(c.blocking for c in self.checks)

    def ordered(self) -> list[CheckResult]:
        """Blocking failures first, then warnings, then passes (stable within each)."""
        rank = {True: 0}
        return sorted(self.checks, key=lambda c: rank.get(c.blocking, 1 if not c.success else 2))

    def to_dict(self) -> dict[str, Any]:
        ok = sum(c.success for c in self.checks)
        return {
            "success": self.success,
            "source": self.source,
            "statistics": {"evaluated": len(self.checks), "successful": ok,
                           "unsuccessful": len(self.checks) - ok,
                           "warnings": sum(not c.success and c.severity == "warn" for c in self.checks)},
            "checks": [c.to_dict() for c in self.ordered()],
            "skipped": list(self.skipped),
        }


@dataclass
class CheckContext:
    """What a check sees: ``frame``, the usable rows (a DataFrame is taken as a table in
    memory); ``full``, every row, corrupt ones too (the usable rows when None); the rules
    and the roles of columns. A check reads the table through the frame, as a reduction
    (:mod:`curate.io.frames`), so it runs in memory and on a partitioned table alike."""

    frame: "Frame"
    rules: "Rules"
    label: str | None = None
    group: str | None = None
    split_col: str | None = None
    full: "Frame | None" = None
    label_sep: str | None = None
    lock: "dict[str, Any] | None" = None

    def __post_init__(self) -> None:
        self.frame = frame_of(self.frame)
        self.full = self.frame if self.full is None else frame_of(self.full)

    @property
    def columns(self) -> list[str]:
        return self.frame.columns

    @property
    def df(self) -> "pd.DataFrame":
        """The usable rows as one DataFrame, for a check that needs the whole table at once
        (registered with ``whole_table=True``): a partitioned table has none."""
        if isinstance(self.frame, InMemory):
            return self.frame.df
        raise WholeTableError("this check reads the whole table at once (ctx.df), which a partitioned table "
                              "never is; validate a sample that fits in memory (one file, --engine local)")


class WholeTableError(CuraugError):
    """A check asked a partitioned table for the whole table in memory (:attr:`CheckContext.df`)."""


CheckFn = Callable[[CheckContext], list[CheckResult]]


def _never(ctx: CheckContext) -> bool:
    return False


@dataclass(frozen=True)
class Check:
    """A registered check: ``run(ctx)`` gives its results; ``asked(ctx)`` says whether the
    rules (or an explicit argument such as a split lock) ask for it; ``default`` whether it
    runs when nothing asks for it; ``whole_table`` whether it reads ``ctx.df``, the whole
    table in memory, and so does not run on a partitioned table."""

    name: str
    run: CheckFn
    asked: Callable[[CheckContext], bool] = _never
    default: bool = True
    whole_table: bool = False


#: Modules whose checks register themselves; their order is the order checks run and report in.
BUILTIN_CHECK_MODULES = ("curate.checks.dataset", "curate.checks.labels", "curate.checks.outliers",
                         "curate.checks.split_checks", "curate.checks.drift", "curate.checks.domain",
                         "curate.checks.shift", "curate.checks.split_lock")
CHECKS: Registry[Check] = Registry("check", entry_points="curaug.checks", builtins=BUILTIN_CHECK_MODULES)


def register_check(name: str, *, asked: Callable[[CheckContext], bool] = _never,
                   default: bool = True, whole_table: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register a dataset-level check under ``name`` (see the module docstring and
    :class:`Check`)."""

    def wrap(fn: CheckFn) -> CheckFn:
        CHECKS.register(name, Check(name, fn, asked, default, whole_table))
        return fn

    return wrap


def registered_checks() -> list[Check]:
    """Every check, built-ins in the order of :data:`BUILTIN_CHECK_MODULES` (whatever order
    their modules were imported in), then third-party ones (a plain function reads the
    whole table: ``ctx.df``)."""
    checks = [item if isinstance(item, Check) else Check(name, item, whole_table=True)
              for name, item in CHECKS.items()]
    rank = {module: i for i, module in enumerate(BUILTIN_CHECK_MODULES)}
    return sorted(checks, key=lambda c: rank.get(getattr(c.run, "__module__", None), len(rank)))


def data_columns(df: "pd.DataFrame | Frame", keep: tuple[str, ...] = ()) -> list[str]:
    """Columns that describe the sample (not curaug's bookkeeping or media metadata)."""
    return [c for c in df.columns if c not in RESERVED_COLUMNS or c in keep]


def split_names(data: "pd.DataFrame | Frame", column: str) -> list[str]:
    """The split values present, train/val/test first (``gap`` rows belong to no split)."""
    import numpy as np
    import pandas as pd

    def partial(part: "pd.DataFrame") -> "np.ndarray":
        return np.asarray(part[column].dropna().unique(), dtype=object)

    def combine(pieces: list["np.ndarray"]) -> list[str]:
        values = pd.unique(np.concatenate(pieces)) if pieces else []
        present = [str(s) for s in values if str(s) != GAP_SPLIT]
        return sorted(present, key=lambda s: (SPLITS.index(s) if s in SPLITS else 9, s))

    return frame_of(data).reduce(partial, combine, [column])


def first_present(frame: "Frame", columns: list[str], limit: int = 5,
                  rows: "Callable[[pd.DataFrame], pd.DataFrame] | None" = None, using: tuple[str, ...] = (),
                  read: list[str] | None = None) -> "pd.DataFrame":
    """A frame of ``columns`` in which each column's first ``limit`` present values (after
    ``dropna``) are the table's own, in table order (of ``rows(partition)`` when given,
    which may read the columns ``using`` too): what decides, without reading every row into
    one process, what ``duplicate_subset`` or ``is_embedding`` decides on the whole column.
    Only the columns ``read`` are read (all when None); the others are left empty."""
    import pandas as pd

    read = columns if read is None else read

    def partial(part: "pd.DataFrame") -> dict[str, "pd.Series"]:
        part = part if rows is None else rows(part)
        return {c: part[c].dropna().head(limit) for c in read}

    def combine(pieces: list) -> dict[str, "pd.Series"]:
        return {c: pd.concat([p[c] for p in pieces]).head(limit) for c in read}

    firsts = frame.reduce(partial, combine, list(dict.fromkeys([*read, *using]))) if read else {}
    slots = pd.RangeIndex(limit)
    return pd.DataFrame({c: firsts[c].reset_index(drop=True).reindex(slots) if c in firsts
                         else frame.meta[c].reindex(slots) for c in columns} if columns else {}, index=slots)


def sample_witness(frame: "Frame", columns: list[str], rows: "Callable[[pd.DataFrame], pd.DataFrame] | None" = None,
                   using: tuple[str, ...] = ()) -> "pd.DataFrame":
    """:func:`first_present` as far as :func:`curate.profile.duplicate_subset` looks at it:
    only the columns that may hold lists or dicts (object, Arrow) and the file hashes are
    read; any other column is hashable whatever it holds."""
    import pandas as pd

    meta = frame.meta
    read = [c for c in columns if c in ("sha256", "phash") or meta[c].dtype == object
            or isinstance(meta[c].dtype, pd.ArrowDtype)]
    return first_present(frame, columns, rows=rows, using=using, read=read)
