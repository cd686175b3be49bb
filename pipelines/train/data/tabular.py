"""Table rows → ``(n_features,)`` float32: numbers standardised, categories one-hot.

Every column is a feature except the label, the columns ``exclude`` names, curaug's own
columns (:data:`curate.io.manifest.RESERVED_COLUMNS`), the identity column, id-like columns (unique
on every training row: a name or a key says nothing a model may learn from) and free text
(more than :data:`MAX_CATEGORIES` distinct strings, or sentences rather than category
names). Statistics and categories come from the training split alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from curate.errors import CuraugError
from pipelines.train.data.encoder import ENCODERS, Encoder, fits

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.train.config import TrainConfig

#: a string column with more distinct training values is free text, not a category
MAX_CATEGORIES = 50
#: ... and so is one whose distinct values average this many words (sentences, not names)
FREE_TEXT_WORDS = 4


def _strings(values: "pd.Series") -> "pd.Series":
    return values.astype("string")


def _describe(column: str, values: "pd.Series") -> dict[str, Any] | str:
    """The encoding of one training column, or why it is not a feature."""
    import pandas as pd

    present = values.dropna()
    if present.empty:
        return "empty in train"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    floating = numeric and pd.api.types.is_float_dtype(values)
    if not floating and len(values) > 1 and len(present) == len(values) and present.nunique() == len(values):
        return "id-like (unique on every row)"
    if numeric:
        v = present.to_numpy(dtype=np.float64)
        std = float(v.std())
        return {"name": column, "kind": "numeric", "mean": float(v.mean()), "std": std if std > 1e-12 else 1.0,
                "missing_indicator": bool(len(present) < len(values))}
    categories = sorted(_strings(present).unique().tolist())
    if len(categories) > MAX_CATEGORIES:
        return f"free text ({len(categories)} distinct values)"
    words = np.mean([len(c.split()) for c in categories])
    if words >= FREE_TEXT_WORDS:
        return f"free text ({words:.1f} words per value)"
    return {"name": column, "kind": "categorical", "categories": categories}


@ENCODERS.register("tabular")
class TabularEncoder(Encoder):
    """Numeric columns as ``(x - mean) / std`` (missing: 0, plus a ``COL:missing`` 0/1 column
    when training rows miss values); categorical ones as one column per training category
    (``COL=VALUE``; an unseen or missing value is all zeros)."""

    modality: ClassVar[str] = "tabular"

    def __init__(self, columns: list[dict[str, Any]], left_out: dict[str, str]):
        self.columns, self.left_out = columns, left_out
        self.features = [name for col in columns for name in self._names(col)]
        self.input_shape = (len(self.features),)

    @staticmethod
    def _names(col: dict[str, Any]) -> list[str]:
        if col["kind"] == "numeric":
            return [col["name"]] + ([f"{col['name']}:missing"] if col["missing_indicator"] else [])
        return [f"{col['name']}={c}" for c in col["categories"]]

    @classmethod
    def fit(cls, train: "pd.DataFrame", config: "TrainConfig",
            memory: int | None = None) -> tuple["TabularEncoder", np.ndarray | None]:
        from curate.io.manifest import RESERVED_COLUMNS

        columns, left_out = [], {}
        for name in train.columns:
            if name == config.label:
                continue
            if name in config.exclude:
                left_out[name] = "excluded"
                continue
            if name in RESERVED_COLUMNS or name == config.identity:
                left_out[name] = "identity column" if name == config.identity else "curaug column"
                continue
            described = _describe(name, train[name])
            if isinstance(described, str):
                left_out[name] = described
            else:
                columns.append(described)
        if not columns:
            raise CuraugError(f"no feature columns: every column is the label or left out "
                              f"({'; '.join(f'{k}: {v}' for k, v in left_out.items())})", param="data")
        enc = cls(columns, left_out)
        return enc, enc.transform(train) if fits(len(train), enc.row_bytes, memory) else None

    def transform(self, frame: "pd.DataFrame") -> np.ndarray:
        import pandas as pd

        missing = [col["name"] for col in self.columns if col["name"] not in frame.columns]
        if missing:
            raise CuraugError(f"feature column(s) {', '.join(map(repr, missing))} missing from the data", param="data")
        blocks = []
        for col in self.columns:
            values = frame[col["name"]]
            if col["kind"] == "numeric":
                v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                nan = np.isnan(v)
                blocks.append(np.where(nan, 0.0, (v - col["mean"]) / col["std"])[:, None])
                if col["missing_indicator"]:
                    blocks.append(nan[:, None].astype(np.float64))
            else:
                strings = _strings(values).to_numpy(dtype=object, na_value=None)
                codes = pd.Index(col["categories"], dtype=object).get_indexer(strings)  # -1: unseen or missing
                onehot = np.zeros((len(frame), len(col["categories"])))
                known = codes >= 0
                onehot[np.flatnonzero(known), codes[known]] = 1.0
                blocks.append(onehot)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def state(self) -> dict[str, Any]:
        return {"modality": "tabular", "features": self.features, "columns": self.columns,
                "left_out": self.left_out}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TabularEncoder":
        return cls(state["columns"], state["left_out"])


def domain_markers(state: dict[str, Any], val: "pd.DataFrame") -> dict[str, list[str]]:
    """Categorical features (of an encoder's ``state``) none of whose ``val`` values training
    has seen: after a domain split such a column marks the domain, not the class (every val
    row encodes as an unknown category). Column -> its val values; read on val, never test.

    >>> state = {"columns": [{"name": "island", "kind": "categorical", "categories": ["Dream", "Torgersen"]},
    ...                      {"name": "sex", "kind": "categorical", "categories": ["f", "m"]}]}
    >>> import pandas as pd
    >>> domain_markers(state, pd.DataFrame({"island": ["Biscoe"] * 3, "sex": ["f", "m", "m"]}))
    {'island': ['Biscoe']}
    """
    found = {}
    for col in state.get("columns", []):
        if col["kind"] != "categorical" or col["name"] not in val.columns:
            continue
        values = sorted(_strings(val[col["name"]].dropna()).unique().tolist())
        if values and not set(values) & set(col["categories"]):
            found[col["name"]] = values
    return found
