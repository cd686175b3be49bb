"""The clean step contract and its registry.

A clean step is one class (:class:`CleanStep`): its options are the model's fields, checked
when the rules file is read, and :meth:`CleanStep.apply` is its work. Steps are looked up by
name in :data:`CLEAN_STEPS`: the built-in ones (:mod:`curate.clean.steps`) register on first
lookup, third parties add theirs through the ``curaug.clean_steps`` entry point group.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from curate.errors import CuraugError
from curate.io.manifest import ok_rows
from curate.registry import Registry
from curate.strict import Strict

if TYPE_CHECKING:
    import pandas as pd

MAX_LOGGED_IDS = 1000


@dataclass
class CleanResult:
    data: "pd.DataFrame"
    log: list[dict[str, Any]] = field(default_factory=list)
    normalizer: dict[str, Any] | None = None


@dataclass
class CleanContext:
    """What a step sees besides the data: the rules and the label and split columns."""

    rules: Any  # the parsed rules file (curate.rules.schema.Rules)
    label: str | None
    split_col: str | None


class CleanStep(Strict):
    """One clean step: declared, validated options (the fields) and a pure :meth:`apply`."""

    #: The name the rules file gives the step (set by :func:`clean_step`).
    step_name: ClassVar[str] = ""

    @abstractmethod
    def apply(self, df: "pd.DataFrame", ctx: CleanContext) -> "tuple[pd.DataFrame, list[dict[str, Any]]]":
        """Return the cleaned copy of ``df`` and one log entry per change (``df`` is a copy
        this step may modify)."""

    def fits(self) -> bool:
        """True when the step learns a statistic from the rows (a median, clipping bounds):
        it must then see the train split only, so a pipeline runs it after the split."""
        return False


CLEAN_STEPS: Registry[type[CleanStep]] = Registry("clean step", entry_points="curaug.clean_steps",
                                                  builtins=("curate.clean.steps",))


def clean_step(name: str) -> Callable[[type[CleanStep]], type[CleanStep]]:
    """Register a :class:`CleanStep` subclass as the clean step ``name``."""

    def wrap(cls: type[CleanStep]) -> type[CleanStep]:
        cls.step_name = name
        CLEAN_STEPS.register(name, cls)
        return cls

    return wrap


def logged_ids(df: "pd.DataFrame", mask: "pd.Series") -> list[str]:
    names = df.loc[mask, "id"] if "id" in df.columns else df.index[mask].to_series()
    return [str(v) for v in names.head(MAX_LOGGED_IDS)]


def require_columns(df: "pd.DataFrame", columns: list[str], step: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CuraugError(f"clean step '{step}': column(s) {', '.join(map(repr, missing))} not found "
                          f"(columns: {', '.join(map(str, df.columns))})")


def fit_rows(df: "pd.DataFrame", split_col: str | None, fit_on: str | None = None) -> "pd.DataFrame":
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
