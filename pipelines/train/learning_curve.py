"""How much more data would help? ``curaug train --learning-curve`` (issue 25 §4).

The model is trained on growing stratified subsets of the train split (nested: each
fraction's rows hold the smaller fraction's, for a seed), always selected and scored on
the same val split; an inverse power law ``err(n) = a n^-b + c`` fitted to the val errors
(:mod:`curate.stats.power_law`) then answers two questions with their uncertainty: about
how many more labelled train rows reach a val error E, and whether the curve has
flattened (doubling the train rows would gain less than a val estimate's own interval).
Test is never looked at. Each subset run is an ordinary run folder under
``RUNDIR/learning_curve/``; a finished one is kept, so an interrupted curve resumes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from curate.errors import CuraugError

DEFAULT_FRACTIONS = (0.1, 0.2, 0.4, 0.7, 1.0)
FOLDER = "learning_curve"
FILES = ("learning_curve.json", "learning_curve.csv", "learning_curve.png")
#: Sizes the curve and its band are given at (JSON ``curve``, the plot): up to four times train.
PLOTTED = 40


def parse_fractions(value: str | Sequence[float]) -> tuple[float, ...]:
    """Shares of the train split, strictly increasing, each in (0, 1], at least three.

    >>> parse_fractions("0.1,0.2,0.4,0.7,1")
    (0.1, 0.2, 0.4, 0.7, 1.0)
    >>> parse_fractions("0.4,0.2,1")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: fractions='0.4,0.2,1' must increase (0.2 follows 0.4); give shares of train such as 0.1,0.2,0.4,0.7,1.0
    """
    shown = value if isinstance(value, str) else ",".join(f"{v:g}" for v in value)
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
    bad = [p for p in parts if not _is_number(p)]
    problem = f"{bad[0]!r} is not a number" if bad else fractions_problem(tuple(float(p) for p in parts))
    if problem:
        sep = " " if problem.startswith("must") else ": "
        raise CuraugError(f"fractions={shown!r}{sep}{problem}; give shares of train such as 0.1,0.2,0.4,0.7,1.0",
                          param="fractions")
    return tuple(float(p) for p in parts)


def fractions_problem(fractions: Sequence[float]) -> str | None:
    """What is wrong with ``fractions`` as shares of train for a curve, or None.

    >>> fractions_problem((0.1, 0.5, 1.0)), fractions_problem((0.1, 1.5, 2))
    (None, '1.5 is outside (0, 1]')
    """
    outside = [f for f in fractions if not 0 < f <= 1]
    if outside:
        return f"{outside[0]:g} is outside (0, 1]"
    for before, after in zip(fractions, fractions[1:]):
        if after <= before:
            return f"must increase ({after:g} follows {before:g})"
    if len(fractions) < 3:
        return f"{len(fractions)} given; a curve a n^-b + c needs at least 3"
    return None


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def nested_subset(df, label: str, fraction: float, seed: int):
    """``df`` with only ``fraction`` of each class's train rows (at least one per class);
    val, test and other rows untouched, augmented rows following their source.

    The rows kept for a seed are nested: a larger fraction keeps every row of a smaller one.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": [f"r{i}" for i in range(10)], "label": list("aaaaaabbbb"),
    ...                    "split": ["train"] * 8 + ["val", "test"]})
    >>> small, big = (nested_subset(df, "label", f, seed=0) for f in (0.3, 0.6))
    >>> small["split"].value_counts().to_dict(), set(small["id"]) <= set(big["id"])
    ({'train': 3, 'val': 1, 'test': 1}, True)
    """
    import numpy as np
    import pandas as pd

    train = (df["split"] == "train").to_numpy()
    augmented = df["source_id"].notna().to_numpy() if "source_id" in df else np.zeros(len(df), bool)
    original = train & ~augmented
    key = np.random.default_rng(seed).random(len(df))
    labels = df.loc[original, label].astype(str)
    rank = pd.Series(key[original], index=labels.index).groupby(labels).rank(method="first")
    quota = labels.map(labels.value_counts().map(lambda n: max(1, math.ceil(round(fraction * n, 9)))))
    kept = np.ones(len(df), bool)
    kept[original] = (rank <= quota).to_numpy()
    if augmented.any():
        dropped_sources = set(df.loc[original & ~kept, "id"])
        kept[augmented & train] = ~df.loc[augmented & train, "source_id"].isin(dropped_sources).to_numpy()
    return df[kept].reset_index(drop=True)


def learning_curve(data: Any, *, label: str, out: str | os.PathLike, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   seeds: int = 3, target_error: float | None = None, trained: Path | None = None,
                   progress: Callable[[str], None] = lambda line: None, **settings: Any) -> dict[str, Any]:
    """Train on each (fraction, seed), fit the curve, write ``learning_curve.json``, ``.csv``
    and ``.png`` in ``out``, and return what the JSON holds.

    ``trained``: a finished run folder on the whole train split with ``settings`` (the
    command's own run), reused as fraction 1.0 of the first seed.
    """
    from curate.io.manifest import absolute_roots, load_data
    from curate.stats.intervals import check_confidence
    from pipelines.train.run import train

    fractions = parse_fractions(fractions)
    if seeds < 1:
        raise CuraugError(f"seeds={seeds}: give at least 1", param="seeds")
    confidence = check_confidence(settings.get("confidence", 0.95))
    if target_error is not None and not 0 < target_error < 1:
        raise CuraugError(f"target_error={target_error!r} must lie strictly between 0 and 1", param="target_error")
    df = load_data(data) if isinstance(data, (str, os.PathLike)) else data
    check_has_val(df, str(data) if isinstance(data, (str, os.PathLike)) else "data")
    if "root" in df:
        base = Path(data).resolve().parent if isinstance(data, (str, os.PathLike)) else Path.cwd()
        # the subsets are handed over in memory: relative roots must not come to mean the cwd
        df = df.assign(root=absolute_roots(df["root"], base))
    out = Path(out)
    base_seed = int(settings.get("seed", 0))
    points = []
    for fraction in fractions:
        for seed in range(base_seed, base_seed + seeds):
            rundir = out / FOLDER / f"f{fraction:g}_seed{seed}"
            reuse = trained if trained is not None and fraction == 1.0 and seed == base_seed else None
            metrics = _finished(reuse) if reuse is not None else None
            metrics = metrics or _finished(rundir)
            if metrics is None:
                progress(f"learning curve: training on {fraction:g} of train, seed {seed}")
                metrics = train(nested_subset(df, label, fraction, seed), label=label, out=rundir,
                                **{**settings, "seed": seed})
            points.append({"fraction": fraction, "seed": seed, "train_rows": int(metrics["rows"]["train"]),
                           "val_rows": int(metrics["rows"]["val"]),
                           "val_error": round(1 - float(metrics["val"]["accuracy"]), 6)})
    result = summarize(points, confidence, target_error)
    write_outputs(result, out)
    return result


def check_has_val(df, name: str = "data") -> None:
    """A learning curve scores every subset on val: refuse data (``name``: its file) without val rows."""
    if "split" not in df or not (df["split"] == "val").any():
        raise CuraugError(f"{name}: a learning curve scores every subset on the val split, and there is none; split "
                          "with a val ratio first", param="data")


def _finished(rundir: Path) -> dict[str, Any] | None:
    import json

    path = rundir / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def summarize(points: list[dict[str, Any]], confidence: float, target_error: float | None = None) -> dict[str, Any]:
    """The fit and its answers from the measured ``points`` (one per fraction and seed)."""
    import numpy as np

    from curate.stats.intervals import clopper_pearson
    from curate.stats.power_law import fit_power_law, predict, rows_to_reach

    fractions = sorted({p["fraction"] for p in points})
    val_rows = points[0]["val_rows"]
    table = []
    for fraction in fractions:
        mine = [p for p in points if p["fraction"] == fraction]
        errors = np.array([p["val_error"] for p in mine])
        spread = float(np.std(errors, ddof=1)) if len(errors) > 1 else 0.0
        mean = float(errors.mean())
        # the val rows are the same for every seed, so their binomial noise does not average out; the
        # seeds' spread does; half a row's worth keeps a perfect score from weighing infinitely
        sigma = math.sqrt(mean * (1 - mean) / val_rows + spread ** 2 / len(errors))
        table.append({"fraction": fraction, "train_rows": float(np.mean([p["train_rows"] for p in mine])),
                      "val_error": round(mean, 6), "std": round(spread, 6), "seeds": len(errors),
                      "sigma": round(max(sigma, 0.5 / val_rows), 6)})
    fit = fit_power_law([t["train_rows"] for t in table], [t["val_error"] for t in table],
                        [t["sigma"] for t in table])
    n_full, measured = table[-1]["train_rows"], table[-1]["val_error"]
    now = predict(fit, n_full, confidence)
    doubled = predict(fit, 2 * n_full, confidence)
    k = round((1 - measured) * val_rows)
    low, high = clopper_pearson(k, val_rows, confidence)
    half_width = (high - low) / 2
    gain = now["error"] - doubled["error"]
    target = target_error if target_error is not None else round((now["error"] + fit["c"]) / 2, 4)
    reach = rows_to_reach(fit, target, confidence)
    if reach["reachable"]:
        reach["more_rows"] = max(0, reach["rows"] - math.ceil(n_full))
        reach["more_band"] = [None if v is None else max(0, v - math.ceil(n_full)) for v in reach["band"]] \
            if reach["band"] else None
    result = {"confidence": confidence, "val_rows": val_rows, "points": points, "table": table,
              "fit": {k: v for k, v in fit.items() if k not in ("scaled_a", "draws")},
              "now": {**now, "measured": measured},
              "doubled": doubled, "gain_from_doubling": round(gain, 6), "val_interval_half_width": round(half_width, 6),
              "flattened": gain <= half_width, "target": reach,
              "curve": [predict(fit, n, confidence) for n in np.geomspace(table[0]["train_rows"], 4 * n_full, PLOTTED)]}
    result["answers"] = answers(result)
    return result


def answers(result: dict[str, Any]) -> list[str]:
    """The sentences the terminal and the report give: the rows to a target, and the flattening."""
    fit, target, now = result["fit"], result["target"], result["now"]
    level = f"{result['confidence'] * 100:g} %"
    lines = [f"val error {now['measured']:.3f} at {now['n']:,.0f} train rows; fit err(n) = {fit['a']:.3g} "
             f"n^-{fit['b']:.2f} + {fit['c']:.3f}" + (f" (floor c ± {fit['stderr']['c']:.3f})"
                                                     if fit["stderr"]["c"] is not None else "")]
    if not target["reachable"]:
        lines.append(f"val error {target['target_error']:.3f} is at or below the curve's floor {fit['c']:.3f}: "
                     "more data of this kind will not reach it")
    elif target["more_rows"] == 0:
        lines.append(f"the curve is already at val error {target['target_error']:.3f} with these rows")
    else:
        band = target.get("more_band")
        spread = ""
        if band:
            high = f"{band[1]:,}" if band[1] is not None else "never"
            spread = f" ({level}: {band[0]:,} to {high})"
        lines.append(f"about {target['more_rows']:,} more labelled train rows{spread} to reach val error "
                     f"{target['target_error']:.3f}")
    gain, half = result["gain_from_doubling"], result["val_interval_half_width"]
    if result["flattened"]:
        lines.append(f"the curve has flattened: doubling the train rows would lower val error by {gain:.3f}, within "
                     f"the ±{half:.3f} {level} interval of a val estimate on {result['val_rows']} rows (a gain this "
                     "val split cannot show): more data of this kind will not help measurably")
    else:
        lines.append(f"doubling the train rows would lower val error by about {gain:.3f}, more than the ±{half:.3f} "
                     f"{level} interval of a val estimate on {result['val_rows']} rows: more data still helps")
    return lines


def write_outputs(result: dict[str, Any], out: Path) -> None:
    """``learning_curve.json``, ``learning_curve.csv`` (one row per fraction and seed) and the plot."""
    import pandas as pd

    from curate.io.atomic import write_json_atomic, write_text_atomic
    from curate.io.jsonify import jsonable

    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / FILES[0], jsonable(result, digits=6))
    write_text_atomic(out / FILES[1], pd.DataFrame(result["points"]).to_csv(index=False))
    write_plot(result, out / FILES[2])


def write_plot(result: dict[str, Any], path: Path) -> None:
    """Val error per seed against train rows, the fitted curve extrapolated to four times
    the rows with its band, the floor ``c`` and the target."""
    from matplotlib.figure import Figure

    from curate.io.atomic import atomic_path

    fit, points, curve = result["fit"], result["points"], result["curve"]
    n_full = result["now"]["n"]
    grid = [c["n"] for c in curve]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot([p["train_rows"] for p in points], [p["val_error"] for p in points], "o", color="tab:blue",
            markersize=4, label="val error (one run per seed)")
    ax.plot(grid, [c["error"] for c in curve], "-", color="tab:orange",
            label=f"{fit['a']:.3g} n^-{fit['b']:.2f} + {fit['c']:.3f}")
    if all(c["band"] for c in curve):
        ax.fill_between(grid, [c["band"][0] for c in curve], [c["band"][1] for c in curve], color="tab:orange",
                        alpha=0.2, label=f"{result['confidence'] * 100:g} % band")
    ax.axhline(fit["c"], color="grey", linestyle=":", linewidth=1, label="floor c")
    if result["target"]["reachable"]:
        ax.axhline(result["target"]["target_error"], color="tab:green", linestyle="--", linewidth=1,
                   label="target")
    ax.axvline(n_full, color="tab:red", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("train rows")
    ax.set_ylabel("val error")
    ax.set_title("learning curve: " + ("flattened" if result["flattened"] else "still falling"), fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
