"""The rules file: what data must look like and how to clean it (DESIGN.md, "Rules file").

Parsed with pydantic; every key is optional and unknown keys or wrong types are errors
that name the key, its path in the file, its line and the file. A rule is data: the
column rules compile to Great Expectations expectations (:mod:`curate.rules.gx`); the
clean steps and normalisers are looked up by name in their registries
(:mod:`curate.clean.base`, :mod:`curate.clean.normalize`), which own their options.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Optional, Union

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from curate.errors import CuraugError, did_you_mean
from curate.strict import Strict, check_range, describe_validation_error, read_yaml_mapping, where_in_file

Severity = Literal["error", "warn"]
Number = Union[int, float]


class RuleOptions(Strict):
    """The long form of one column rule: ``{value: ..., mostly: 0.95, severity: warn}``."""

    value: Any
    mostly: Optional[float] = Field(None, gt=0, le=1)
    severity: Optional[Severity] = None


class ColumnRules(Strict):
    """Rules on one column; each compiles to one Great Expectations expectation.

    Every rule takes its short form (``between: [25, 70]``) or the long form
    (``between: {value: [25, 70], mostly: 0.95, severity: warn}``); ``mostly`` and
    ``severity`` at column level are the defaults of its rules.
    """

    not_null: Optional[Union[bool, RuleOptions]] = None
    between: Optional[Union[tuple[Optional[Number], Optional[Number]], RuleOptions]] = None
    in_set: Optional[Union[list[Any], RuleOptions]] = None
    not_in_set: Optional[Union[list[Any], RuleOptions]] = None
    unique: Optional[Union[bool, RuleOptions]] = None
    regex: Optional[Union[str, RuleOptions]] = None
    dtype: Optional[Union[str, RuleOptions]] = None
    length_between: Optional[Union[tuple[Optional[int], Optional[int]], RuleOptions]] = None
    mean_between: Optional[Union[tuple[Optional[Number], Optional[Number]], RuleOptions]] = None
    mostly: Optional[float] = Field(None, gt=0, le=1)
    severity: Severity = "error"

    _check_ranges = field_validator("between", "length_between", "mean_between", mode="before")(
        classmethod(lambda cls, v: check_range(v))
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: Any) -> Any:
        import re

        pattern = v.value if isinstance(v, RuleOptions) else v
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _long_forms(self) -> "ColumnRules":
        """Check a long form's ``value`` as strictly as the short form."""
        for name in COLUMN_RULES:
            raw = getattr(self, name)
            if isinstance(raw, RuleOptions):
                short = type(self).model_validate({name: raw.value})
                object.__setattr__(self, name, raw.model_copy(update={"value": getattr(short, name)}))
        return self

    def rules(self) -> list[tuple[str, Any, Optional[float], Severity]]:
        """``(name, value, mostly, severity)`` for each rule that is set, in a fixed order."""
        out = []
        for name in COLUMN_RULES:
            raw = getattr(self, name)
            if raw is None or raw is False:
                continue
            if isinstance(raw, RuleOptions):
                out.append((name, raw.value, raw.mostly or self.mostly, raw.severity or self.severity))
            else:
                out.append((name, raw, self.mostly, self.severity))
        return out


COLUMN_RULES = ("not_null", "between", "in_set", "not_in_set", "unique", "regex", "dtype",
                "length_between", "mean_between")


class ClassBalanceRule(Strict):
    max_ratio: Optional[float] = Field(None, ge=1)
    min_count: Optional[int] = Field(None, ge=0)
    min_share: Optional[float] = Field(None, ge=0, le=1)
    severity: Severity = "error"


class BiasRule(Strict):
    max_parity_difference: Optional[float] = Field(None, ge=0, le=1)
    min_parity_ratio: Optional[float] = Field(None, ge=0, le=1)
    min_group_share: Optional[float] = Field(None, ge=0, le=1)
    max_chi2_pvalue: Optional[float] = Field(None, gt=0, le=1)
    min_group_count: int = Field(5, ge=1)
    intersections: list[tuple[str, str]] = Field(default_factory=list)
    severity: Severity = "error"


class ConflictRule(Strict):
    """Identical features (or identical file bytes) carrying different labels."""

    max_fraction: float = Field(0.0, ge=0, le=1)
    severity: Severity = "error"


class LabelIssuesRule(Strict):
    """Confident learning on out-of-fold probabilities of a cross-validated model."""

    max_fraction: float = Field(0.05, ge=0, le=1)
    folds: int = Field(5, ge=2, le=20)
    model: Literal["gradient_boosting", "logistic"] = "gradient_boosting"
    features: Optional[list[str]] = None
    seed: int = 0
    severity: Severity = "warn"
    #: a Parquet/CSV table (id, prob_<class>...) of out-of-fold probabilities, e.g.
    #: ``curaug train --folds``'s oof_probs.parquet, used instead of fitting a model here
    probs: Optional[str] = Field(None, min_length=1)

    @field_validator("probs")
    @classmethod
    def _relative_to_rules_file(cls, value: Optional[str], info: ValidationInfo) -> Optional[str]:
        base = (info.context or {}).get("base_dir")
        if value is None or base is None or os.path.isabs(value):
            return value
        return os.path.join(base, value)


class OutlierRule(Strict):
    method: Literal["robust_z", "isolation_forest"] = "robust_z"
    threshold: Optional[float] = Field(None, gt=0)  # robust z: 3.5; isolation forest anomaly score: 0.6
    columns: Optional[list[str]] = None
    max_fraction: float = Field(0.01, ge=0, le=1)
    seed: int = 0
    severity: Severity = "warn"


class DatasetRules(Strict):
    min_rows: Optional[int] = Field(None, ge=0)
    max_duplicate_fraction: Optional[float] = Field(None, ge=0, le=1)
    max_missing_fraction: Optional[float] = Field(None, ge=0, le=1)
    class_balance: Optional[ClassBalanceRule] = None
    bias: Optional[BiasRule] = None
    conflicting_labels: Optional[ConflictRule] = None
    label_issues: Optional[LabelIssuesRule] = None
    outliers: Optional[OutlierRule] = None


class DriftRule(Strict):
    psi: Optional[float] = Field(None, gt=0)
    ks_pvalue: Optional[float] = Field(None, gt=0, le=1)
    js: Optional[float] = Field(None, gt=0, le=1)
    domain_auc: Optional[float] = Field(None, gt=0.5, le=1)
    embeddings: list[str] = Field(default_factory=list)
    severity: Severity = "error"


class NearDuplicateRule(Strict):
    """Near duplicates across splits (part of ``no_duplicates_across``)."""

    image_hamming: int = Field(4, ge=0, le=16)   # pHash bits
    audio_ber: float = Field(0.03, ge=0, le=0.5)  # fingerprint bit error rate
    text_similarity: float = Field(0.8, gt=0, le=1)  # MinHash-estimated Jaccard of 5-grams
    images: bool = True
    texts: bool = True
    audio: bool = True


class DomainRule(Strict):
    """A domain split (``curaug split --domain COL --target VALUE``): rows whose ``column``
    equals ``target`` are in val and test only, the others in train and train_val only,
    and (when ``source`` lists them) the others hold only the source values the split saw."""

    column: str = Field(min_length=1)
    target: str
    source: Optional[list[str]] = None

    @field_validator("target", mode="before")
    @classmethod
    def _value_as_text(cls, v: Any) -> Any:
        # YAML reads `target: 2009` as a number; the check compares it as the split did
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class SplitRules(Strict):
    column: str = "split"
    ratios: Optional[dict[str, float]] = None
    tolerance: float = Field(0.02, ge=0, le=1)
    no_group_overlap: bool = True
    no_duplicates_across: bool = True
    all_classes_in_each: bool = True
    near_duplicates: Union[bool, NearDuplicateRule] = True
    max_drift: Optional[DriftRule] = None
    domain: Optional[DomainRule] = None

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, v: Optional[dict[str, float]]) -> Optional[dict[str, float]]:
        if v is None:
            return v
        if any(r < 0 for r in v.values()):
            raise ValueError("ratios must be non-negative")
        total = sum(v.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"ratios must sum to 1, they sum to {total:g}")
        return v


class Normalize(Strict):
    """The normaliser: a name from :data:`curate.clean.normalize.NORMALIZERS` and its columns."""

    method: str
    columns: list[str] = Field(min_length=1)
    fit_on: Optional[str] = None
    epsilon: Optional[float] = Field(None, ge=0)
    ddof: Optional[Literal[0, 1]] = None

    @field_validator("method")
    @classmethod
    def _known(cls, v: str) -> str:
        from curate.clean.normalize import NORMALIZERS

        if v not in NORMALIZERS:
            raise ValueError(f"unknown normaliser '{v}'{did_you_mean(v, NORMALIZERS.names())}")
        return v

    @field_validator("columns")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        repeated = sorted({c for c in v if v.count(c) > 1})
        if repeated:
            raise ValueError(f"columns repeated: {', '.join(repeated)}")
        return v

    @model_validator(mode="after")
    def _parameters_of_the_method(self) -> "Normalize":
        from curate.clean.normalize import check_parameters

        check_parameters(self.method, {n: v for n in ("epsilon", "ddof") if (v := getattr(self, n)) is not None})
        return self


class Rules(Strict):
    label: Optional[str] = None
    label_sep: Optional[str] = Field(None, min_length=1)
    group: Optional[str] = None
    sensitive: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnRules] = Field(default_factory=dict)
    dataset: DatasetRules = Field(default_factory=DatasetRules)
    splits: Optional[SplitRules] = None
    clean: list[Any] = Field(default_factory=list)
    normalize: Optional[Normalize] = None

    def clean_steps(self) -> list[tuple[str, Any]]:
        """The clean steps in file order, as ``(name, step)``
        (:class:`curate.clean.base.CleanStep` instances)."""
        return [next(iter(step.items())) for step in self.clean]


def load_rules(path: str | os.PathLike) -> Rules:
    """Read and validate a rules file; raise :class:`CuraugError` naming the key, line and file.
    Relative file paths in it (``label_issues: {probs: ...}``) are relative to its folder."""
    _, data, tree = read_yaml_mapping(path, "rules file", "label, columns, dataset, ...")
    return parse_rules(data, source=str(path), tree=tree, base_dir=os.path.dirname(os.fspath(path)))


def parse_rules(data: dict[str, Any], source: str = "rules", tree: Any = None,
                base_dir: str | None = None) -> Rules:
    """Validate a rules mapping (as loaded from YAML) into :class:`Rules`; relative file
    paths in it are joined to ``base_dir`` (none: left relative to the working folder)."""
    try:
        rules = Rules.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise CuraugError(describe_validation_error(exc, source, tree, model=Rules)) from None
    from curate.clean.base import CLEAN_STEPS

    steps = []
    for i, step in enumerate(rules.clean):
        if isinstance(step, str):
            step = {step: {}}
        if not isinstance(step, dict) or len(step) != 1:
            raise CuraugError(f"{where_in_file(source, tree, ['clean', i])}: clean.{i}: expected one mapping "
                              "'<step>: {...}'")
        (name, args), = step.items()
        try:
            step_class = CLEAN_STEPS.get(name)
        except CuraugError as exc:
            raise CuraugError(f"{where_in_file(source, tree, ['clean', i])}: clean.{i}: {exc}") from None
        try:
            steps.append({name: step_class.model_validate(args or {})})
        except ValidationError as exc:
            raise CuraugError(describe_validation_error(exc, source, tree, ["clean", i, name],
                                                        step_class)) from None
    return rules.model_copy(update={"clean": steps})
