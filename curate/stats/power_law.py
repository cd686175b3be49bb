"""An inverse power law fitted to a learning curve, and what it says about more data.

Validation error against training rows usually follows ``err(n) = a n^-b + c``: a falls
off with data at rate ``b`` towards a floor ``c`` that more data of the same kind cannot
lower (Hestness et al. 2017; Cortes et al. 1994). The fit weighs each point by how well
it is measured: the binomial noise of an error on ``v`` val rows plus the spread over
seeds, so the covariance of the parameters is an honest uncertainty (``absolute_sigma``).
The bands of extrapolations come from a parametric bootstrap (each point redrawn from its
own noise, the curve refitted), not from the covariance: with three or four sizes the
curve is far from linear in its parameters, and a Gaussian around the best fit gives
bands that miss the true curve.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from curate.errors import CuraugError

#: Bootstrap refits behind each band (seeded: the same points give the same band).
DRAWS = 200
#: The exponent's range: flatter than n^-3 and steeper than n^0 covers every curve seen in practice.
MAX_EXPONENT = 3.0


def power_law(n, a: float, b: float, c: float):
    """``a n^-b + c``.

    >>> float(power_law(100.0, 2.0, 0.5, 0.05))
    0.25
    """
    return a * np.power(n, -b) + c


def fit_power_law(n: Sequence[float], error: Sequence[float], sigma: Sequence[float]) -> dict[str, Any]:
    """Weighted least squares of ``error ~ a n^-b + c`` with ``a >= 0``, ``0 <= b <= 3``,
    ``0 <= c <= 1``; ``sigma`` is each point's standard error.

    Returns ``a, b, c``, their standard errors and covariance (``None`` where the points
    cannot pin a parameter down), the scale ``n_ref`` the fit ran in (``n / n_ref`` keeps
    ``a`` and ``b`` from trading off over many decades), and ``draws``: the bootstrap's
    parameter triples (scaled a, b, c; an array, not for JSON).

    Examples
    --------
    >>> n = np.array([100, 200, 400, 800, 1600.0])
    >>> fit = fit_power_law(n, power_law(n, 3.0, 0.6, 0.04), np.full(5, 1e-4))
    >>> round(fit["a"], 3), round(fit["b"], 3), round(fit["c"], 3)
    (3.0, 0.6, 0.04)
    """
    n, error, sigma = (np.asarray(v, dtype=float) for v in (n, error, sigma))
    if len(n) < 3 or len(np.unique(n)) < 3:
        raise CuraugError(f"fractions: {len(np.unique(n))} distinct train sizes; a curve a n^-b + c needs at "
                          "least 3", param="fractions")
    n_ref = float(n.max())
    x = n / n_ref
    params, cov = _curve_fit(x, error, sigma)
    scaled_a, b, c = (float(v) for v in params)
    finite = np.all(np.isfinite(cov))
    stderr = np.sqrt(np.clip(np.diag(cov), 0, None)) if finite else [None] * 3
    a = scaled_a * n_ref ** b
    return {"a": a, "b": b, "c": c, "n_ref": n_ref, "scaled_a": scaled_a,
            "stderr": {"a": None if stderr[0] is None else float(stderr[0] * n_ref ** b),
                       "b": None if stderr[1] is None else float(stderr[1]),
                       "c": None if stderr[2] is None else float(stderr[2])},
            "covariance": cov.tolist() if finite else None,
            "residual_chi2": float(np.sum(((power_law(x, *params) - error) / sigma) ** 2)),
            "draws": _bootstrap(x, params, sigma)}


def _curve_fit(x: np.ndarray, error: np.ndarray, sigma: np.ndarray, start=None):
    from scipy.optimize import curve_fit

    if start is None:
        start = (max(float(error[0] - error.min()), 1e-3), 0.5, float(error.min()) / 2)
    return curve_fit(power_law, x, error, p0=start, sigma=sigma, absolute_sigma=True,
                     bounds=([0.0, 0.0, 0.0], [np.inf, MAX_EXPONENT, 1.0]), maxfev=20000)


def _bootstrap(x: np.ndarray, params: np.ndarray, sigma: np.ndarray, seed: int = 0) -> np.ndarray:
    """Parameter triples refitted to the fitted curve's points redrawn from their noise."""
    rng = np.random.default_rng(seed)
    fitted = power_law(x, *params)
    # every refit starts from the best fit, inside the bounds: a few steps each instead of a search
    start = np.clip(params, [1e-9, 1e-6, 1e-9], [np.inf, MAX_EXPONENT - 1e-6, 1 - 1e-9])
    triples = []
    for _ in range(DRAWS):
        try:
            triples.append(_curve_fit(x, np.clip(fitted + rng.normal(0, sigma), 0, 1), sigma, start)[0])
        except RuntimeError:  # a redraw the optimiser cannot fit is left out, not guessed
            continue
    return np.array(triples).reshape(-1, 3)


def draws(fit: dict[str, Any]) -> np.ndarray | None:
    """The bootstrap's parameter triples (scaled a, b, c), or ``None`` without any."""
    sample = fit.get("draws")
    return sample if sample is not None and len(sample) else None


def predict(fit: dict[str, Any], n: float, confidence: float, *, val_rows: int | None = None) -> dict[str, Any]:
    """The curve's error at ``n`` training rows with its band at ``confidence``; with
    ``val_rows`` the band of a *measurement* on that many val rows (the binomial noise of
    the measurement added), which is the one a measured error should fall in.

    >>> fit = {"a": 2.0, "b": 0.5, "c": 0.05, "n_ref": 100.0, "scaled_a": 0.2}
    >>> predict(fit, 400, 0.95)
    {'n': 400.0, 'error': 0.15, 'band': None}
    """
    x = float(n) / fit["n_ref"]
    error = float(power_law(x, fit["scaled_a"], fit["b"], fit["c"]))
    sample = draws(fit)
    if sample is None:
        return {"n": float(n), "error": round(error, 6), "band": None}
    curve = power_law(x, sample[:, 0], sample[:, 1], sample[:, 2])
    if val_rows:
        p = np.clip(curve, 0, 1)
        noise = np.random.default_rng(1).standard_normal(len(curve))
        curve = curve + noise * np.sqrt(p * (1 - p) / val_rows)
    alpha = 1 - confidence
    low, high = np.quantile(curve, [alpha / 2, 1 - alpha / 2])
    return {"n": float(n), "error": round(error, 6), "band": [round(float(max(low, 0.0)), 6), round(float(high), 6)]}


def rows_to_reach(fit: dict[str, Any], target: float, confidence: float) -> dict[str, Any]:
    """Training rows at which the curve reaches val error ``target``: ``n_ref ((E - c) / a)^(-1/b)``,
    with the band over the bootstrap refits (``None`` at an end the draws never reach: some
    curves flatten above the target), and ``reachable: False`` when ``target`` lies on or
    below the fitted floor ``c``.

    >>> fit = {"a": 2.0, "b": 0.5, "c": 0.05, "n_ref": 100.0, "scaled_a": 0.2}
    >>> rows_to_reach(fit, 0.15, 0.95), rows_to_reach(fit, 0.04, 0.95)["reachable"]
    ({'target_error': 0.15, 'reachable': True, 'rows': 400, 'band': None}, False)
    """
    def rows(scaled_a, b, c):
        # overflow is an answer too: more rows than any float holds is "never"
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fit["n_ref"] * np.power((target - c) / scaled_a, -1.0 / b)

    best = rows(fit["scaled_a"], fit["b"], fit["c"]) if target > fit["c"] and fit["b"] > 0 else np.inf
    if not np.isfinite(best):
        return {"target_error": target, "reachable": False, "rows": None, "band": None}
    result = {"target_error": target, "reachable": True, "rows": _whole_rows(best), "band": None}
    sample = draws(fit)
    if sample is not None:
        needed = rows(sample[:, 0], sample[:, 1], sample[:, 2])
        # a draw whose floor is at or above the target never reaches it: infinitely many rows
        needed = np.where((target > sample[:, 2]) & (sample[:, 1] > 0), needed, np.inf)
        alpha = 1 - confidence
        # no interpolation between order statistics: one of them may be infinite
        low = np.quantile(needed, alpha / 2, method="lower")
        high = np.quantile(needed, 1 - alpha / 2, method="higher")
        result["band"] = [_whole_rows(v) if np.isfinite(v) else None for v in (low, high)]
    return result


def _whole_rows(n: float) -> int:
    # rounding first: 400.00000000006 rows is 400, not 401
    return int(math.ceil(round(float(n), 6)))
