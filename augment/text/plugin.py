"""The text plugin: text transforms by name (:data:`~augment.text.transforms.TEXT_TRANSFORMS`)
on the modality-blind runner.

A row holds its text inline in ``text`` (a CSV/Parquet/JSONL table: the output rows carry
the new text in ``text``, no file is written and ``path`` stays empty) or in a ``.txt``
file at root/path (the output is a ``.txt`` file, and ``text`` holds it too). An optional
``entities`` column holds the entity mentions as JSON ``[[start, end, type], ...]``; the
recipe's ``protect:`` regexes mark text no transform may change. Both are left as they
are, and output rows carry the entity spans shifted to the new text.

The plan (:meth:`TextPlugin.draw`) names the steps that apply, with their ``[lo, hi]``
parameters drawn; :meth:`TextPlugin.apply` runs them in order, each step drawing its edits
from a generator seeded by the sample seed and the step's place in the plan, on the text
the previous step produced. The change records of every step (source offsets of that
step's input, old, new, transform) are the provenance, and replay redoes them byte for byte.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Optional

import numpy as np

from pydantic import AfterValidator, Field, model_validator

from augment.plugin import Context, Output, RegistryPlugin, register_plugin
from augment.recipe import Gate, Recipe, draw_plan
from augment.text.edits import apply_edits, protected_spans
from augment.text.magnitude import DEFAULT_POOL, MAGNITUDE_OPS
from augment.text.transforms import TEXT_TRANSFORMS, TextSample
from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

    from augment.recipe import Step

#: Seeds tried in a row when a plan's steps find nothing to change (a text of stopwords,
#: a word too short for ocr...), before the unchanged copy is accepted.
EMPTY_RETRIES = 20
#: Built transforms kept per process (one per distinct set of parameter values)


def _regex(pattern: str) -> str:
    """A ``protect:`` entry: a regular expression whose matches no transform may change."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from None
    return pattern


class TextGate(Gate):
    """Bounds on an output's similarity to its source (character 3-gram Jaccard), e.g. min
    0.5 drops copies too garbled to keep their label, max 0.98 drops near-copies."""

    min_similarity: float = Field(0.0, ge=0, le=1)
    max_similarity: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> "TextGate":
        if self.min_similarity > self.max_similarity:
            raise ValueError(f"min_similarity {self.min_similarity:g} > max_similarity {self.max_similarity:g}")
        return self


class TextRecipe(Recipe):
    """A text recipe's own keys: text that no transform may change, the similarity gate."""

    protect: list[Annotated[str, AfterValidator(_regex)]] = Field(default_factory=list)
    gate: Optional[TextGate] = None


@register_plugin
class TextPlugin(RegistryPlugin):
    modality = "text"
    recipe_model = TextRecipe
    magnitude_ops = MAGNITUDE_OPS
    default_pool = DEFAULT_POOL
    transforms = TEXT_TRANSFORMS
    inline = "text"

    def __init__(self) -> None:
        super().__init__()
        self._protect: tuple[list[str], list[re.Pattern]] | None = None

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    # ------------------------------------------------------------ check

    def variants(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return _variants(name, params)

    def check_resources(self, cls: type) -> None:
        if cls.needs_wordnet:
            from augment.text.wordnet import wordnet_dir

            wordnet_dir()

    # ------------------------------------------------------------- draw

    def draw(self, steps: list["Step"], rng: np.random.Generator, ctx: Context, row: "dict[str, Any]") -> list[dict]:
        return draw_plan(steps, rng, lambda step: {"name": step.name,
                                                   "params": _resolve(step.name, step.params, rng)})

    # ------------------------------------------------------------- load / apply / output

    def load(self, row: "dict[str, Any]", ctx: Context) -> TextSample:
        if _has_path(row):
            from curate.io.manifest import media_file

            file = media_file(row["root"], row["path"])
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise CuraugError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        else:
            text = row.get("text")
            if not isinstance(text, str):
                raise CuraugError(f"row {row.get('id')}: no text (the 'text' cell is empty and there is no path)")
        entities = _entities(row.get("entities"), text, row.get("id"))
        return TextSample(text, entities, protected_spans(text, self._patterns(ctx)), row)

    def check_rows(self, rows: "pd.DataFrame") -> None:
        """Every inline row has its text, and every ``entities`` cell is well formed (and
        within its text, where the text is inline): found before the run, not half-way."""
        texts = rows["text"] if "text" in rows.columns else None
        paths = rows["path"] if "path" in rows.columns else None
        for i, row_id in enumerate(rows.index):
            path = paths.iloc[i] if paths is not None else None
            text = texts.iloc[i] if texts is not None else None
            if _has_path({"path": path}):
                text = None  # read from the file by load()
            elif not isinstance(text, str):
                raise CuraugError(f"row {row_id}: no text (the 'text' cell is empty and there is no path)")
            if "entities" in rows.columns:
                _entities(rows["entities"].iloc[i], text, row_id)

    def _patterns(self, ctx: Context) -> list[re.Pattern]:
        wanted = list(ctx.recipe.protect)
        if self._protect is None or self._protect[0] != wanted:
            self._protect = (wanted, [re.compile(p) for p in wanted])
        return self._protect[1]

    def apply(self, sample: TextSample, plan: list[dict], seed: int, ctx: Context) -> tuple[TextSample, list[dict]]:
        """Run ``plan`` step by step; ``sample`` is left as it is. When no step finds
        anything to change, the steps are drawn again from the next seed (up to
        :data:`EMPTY_RETRIES`): an unchanged copy is not an augmentation."""
        patterns = self._patterns(ctx)
        for retry in range(EMPTY_RETRIES + 1):
            out, applied = sample, []
            for k, entry in enumerate(plan):
                rng = np.random.default_rng([int(seed), k, retry])
                edits = self.transform(entry["name"], entry["params"]).draw(out, rng, ctx)
                text, entities, changes = apply_edits(out.text, edits, out.entities, out.protected)
                applied.append({"name": entry["name"], "changes": changes})
                out = TextSample(text, entities, protected_spans(text, patterns), sample.row)
            if out.text != sample.text or not plan:
                break
        return out, [{**step, "retry": retry} for step in applied] if retry else applied

    def extension(self, row: "dict[str, Any]", fmt: str | None) -> str:
        return ".txt" if _has_path(row) else ""

    def save(self, sample: TextSample, path: str, fmt: str | None = None) -> bytes:
        return sample.text.encode("utf-8")

    def output(self, sample: TextSample, applied: list[dict], path: str, ctx: Context) -> Output:
        """A file-backed row gets its ``.txt`` file; an inline row only its columns."""
        columns: dict[str, Any] = {"text": sample.text}
        if sample.row.get("entities") is not None and not _missing(sample.row.get("entities")):
            columns["entities"] = json.dumps([list(e) for e in sample.entities])
        files = {path: self.save(sample, path)} if _has_path(sample.row) else {}
        return Output(files, columns, applied)

    def gate(self, source: TextSample, sample: TextSample, rule, ctx: Context) -> str | None:
        similarity = jaccard(source.text, sample.text)
        if similarity < rule.min_similarity:
            return f"too different from its source (3-gram Jaccard {similarity:.3f} < {rule.min_similarity:g})"
        if similarity > rule.max_similarity:
            return f"too close to its source (3-gram Jaccard {similarity:.3f} > {rule.max_similarity:g})"
        return None

    def gate_features(self, sample: TextSample, ctx: Context) -> str:
        return sample.text


def jaccard(a: str, b: str, n: int = 3) -> float:
    """Character ``n``-gram Jaccard similarity (1.0 for equal texts).

    >>> round(jaccard("the cat sat", "the bat sat"), 3)
    0.5
    """
    if a == b:
        return 1.0
    ga = {a[i:i + n] for i in range(max(len(a) - n + 1, 1))}
    gb = {b[i:i + n] for i in range(max(len(b) - n + 1, 1))}
    return len(ga & gb) / len(ga | gb)


def _resolve(name: str, params: dict[str, Any], rng: np.random.Generator | None) -> dict[str, Any]:
    """This sample's parameters of transform ``name``: ``[lo, hi]`` numbers drawn
    (integers when both ends are), one of a list of choices (``action: [swap, delete]``,
    declared with :func:`augment.params.choices`) drawn; the first of either when only
    checking (``rng=None``); every other value as it is."""
    fields = TEXT_TRANSFORMS.get(name).InitSchema.model_fields
    out = {}
    for key, value in params.items():
        if isinstance(value, list) and value and key in fields and "Literal" in str(fields[key].annotation):
            out[key] = value[0] if rng is None else value[int(rng.integers(len(value)))]
        elif isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            if rng is None:
                out[key] = value[0]
            elif all(isinstance(v, int) for v in value):
                out[key] = int(rng.integers(value[0], value[1] + 1))
            else:
                out[key] = round(float(rng.uniform(value[0], value[1])), 6)
        else:
            out[key] = value
    return out


def _variants(name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Parameter sets to validate so that every value a sample may draw is checked: the
    ``lo`` ends, then each ``[lo, hi]``'s ``hi`` and each other choice in turn."""
    base = _resolve(name, params, None)
    out = [base]
    for key, value in params.items():
        if isinstance(value, list) and base[key] is not value:  # drawn per sample: a range or choices
            out += [{**base, key: v} for v in value[1:]]
    return out


def _entities(value: Any, text: str | None, row_id: Any) -> list[tuple[int, int, str]]:
    """The ``entities`` cell: JSON ``[[start, end, type], ...]`` within the text (only
    their order checked when the text is not known yet, ``text=None``)."""
    if value is None or _missing(value) or value == "":
        return []
    try:
        spans = json.loads(value) if isinstance(value, str) else list(value)
        out = [(int(a), int(b), str(t)) for a, b, t in spans]
    except (ValueError, TypeError):
        raise CuraugError(f"row {row_id}: entities {str(value)[:60]!r} is not a JSON list of "
                          "[start, end, type]") from None
    for a, b, t in out:
        if not 0 <= a < b:
            raise CuraugError(f"row {row_id}: entity [{a}, {b}, {t!r}] needs 0 <= start < end")
        if text is not None and b > len(text):
            raise CuraugError(f"row {row_id}: entity [{a}, {b}, {t!r}] is outside its text "
                              f"({len(text)} characters)")
    return out


def _has_path(row: dict[str, Any]) -> bool:
    path = row.get("path")
    return isinstance(path, str) and path != ""


def _missing(value: Any) -> bool:
    return isinstance(value, float) and value != value


