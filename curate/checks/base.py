"""The check interface: typed results, and the one registry that dataset-level checks plug into.

A check is a function ``check(ctx) -> list[CheckResult]`` registered by name with
:func:`register_check`, which also says when the rules file *asks* for it (then it decides
the exit code) and whether it runs by *default* (without rules it decides; with rules that do
not ask for it, it is shown as a warning). Third parties add checks through the
``curaug.checks`` entry point group: a plain function there runs by default.
:func:`curate.checks.validate.validate` runs the column rules through Great Expectations,
then every registered check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from curate.io.jsonify import jsonable
from curate.io.manifest import GAP_SPLIT, RESERVED_COLUMNS, SPLITS
from curate.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

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
    """What a check sees: the usable rows (``full_df``: corrupt ones too), the rules and
    the roles of columns."""

    df: "pd.DataFrame"
    rules: "Rules"
    label: str | None = None
    group: str | None = None
    split_col: str | None = None
    full_df: "pd.DataFrame | None" = None
    label_sep: str | None = None
    lock: "dict[str, Any] | None" = None

    def ids(self, mask: "pd.Series") -> list[str]:
        """Up to :data:`MAX_OFFENDERS` ids (``id`` column, else row numbers) of rows in ``mask``."""
        return row_names(self.df.loc[mask]).head(MAX_OFFENDERS).tolist()


def row_names(df: "pd.DataFrame") -> "pd.Series":
    """How results name rows: the ``id`` column, else the row labels, as strings."""
    return (df["id"] if "id" in df.columns else df.index.to_series(index=df.index)).astype(str)


CheckFn = Callable[[CheckContext], list[CheckResult]]


def _never(ctx: CheckContext) -> bool:
    return False


@dataclass(frozen=True)
class Check:
    """A registered check: ``run(ctx)`` gives its results; ``asked(ctx)`` says whether the
    rules (or an explicit argument such as a split lock) ask for it; ``default`` whether it
    runs when nothing asks for it."""

    name: str
    run: CheckFn
    asked: Callable[[CheckContext], bool] = _never
    default: bool = True


#: Modules whose checks register themselves; their order is the order checks run and report in.
BUILTIN_CHECK_MODULES = ("curate.checks.dataset", "curate.checks.labels", "curate.checks.outliers",
                         "curate.checks.split", "curate.checks.domain", "curate.checks.shift",
                         "curate.checks.lock")
CHECKS: Registry[Check] = Registry("check", entry_points="curaug.checks", builtins=BUILTIN_CHECK_MODULES)


def register_check(name: str, *, asked: Callable[[CheckContext], bool] = _never,
                   default: bool = True) -> Callable[[CheckFn], CheckFn]:
    """Register a dataset-level check under ``name`` (see the module docstring)."""

    def wrap(fn: CheckFn) -> CheckFn:
        CHECKS.register(name, Check(name, fn, asked, default))
        return fn

    return wrap


def registered_checks() -> list[Check]:
    """Every check, built-ins in the order of :data:`BUILTIN_CHECK_MODULES` (whatever order
    their modules were imported in), then third-party ones."""
    checks = [item if isinstance(item, Check) else Check(name, item) for name, item in CHECKS.items()]
    rank = {module: i for i, module in enumerate(BUILTIN_CHECK_MODULES)}
    return sorted(checks, key=lambda c: rank.get(getattr(c.run, "__module__", None), len(rank)))


def data_columns(df: "pd.DataFrame", keep: tuple[str, ...] = ()) -> list[str]:
    """Columns that describe the sample (not curaug's bookkeeping or media metadata)."""
    return [c for c in df.columns if c not in RESERVED_COLUMNS or c in keep]


def split_names(df: "pd.DataFrame", column: str) -> list[str]:
    """The split values present, train/val/test first (``gap`` rows belong to no split)."""
    present = [str(s) for s in df[column].dropna().unique() if str(s) != GAP_SPLIT]
    return sorted(present, key=lambda s: (SPLITS.index(s) if s in SPLITS else 9, s))
