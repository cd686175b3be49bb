"""numpy/pandas values to plain JSON-ready Python, once for every JSON curaug writes."""

from __future__ import annotations

import math
from typing import Any


def jsonable(value: Any, digits: int | None = None) -> Any:
    """numpy scalars, arrays and containers to JSON-ready Python values.

    NaN and infinities become ``None``; floats are rounded to ``digits`` when given;
    anything else that JSON cannot hold becomes its ``str``.

    >>> import numpy as np
    >>> jsonable({"a": np.float32(0.5), "b": np.array([1, 2]), "c": float("nan")})
    {'a': 0.5, 'b': [1, 2], 'c': None}
    >>> jsonable((np.float64(1 / 3),), digits=3)
    [0.333]
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, digits) for v in value]
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:  # numpy arrays
        return jsonable(value.tolist(), digits)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, digits) if digits is not None else value
    if value is None or isinstance(value, (str, int, bool)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
