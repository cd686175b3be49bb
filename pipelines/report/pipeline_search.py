"""The pipeline report's recipe search section: the chosen recipe, every trial, and the
score by (N, M) against training without augmentation (``search/search.json``)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pipelines.console.rounding import figure
from pipelines.report.parts import figures_of, missing, table


def recipe_search_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    result = figures_of(stages, "search_recipe")
    if result is None:
        return missing("search/search.json is missing: the recipe search did not finish.")
    best, none, trials = result["best"], result["none"], result["trials"]
    beat = "beats" if best["score"] > none["score"] else "does not beat"
    sentence = (f"Chosen: trial {best['number'] + 1} of {len(trials)}, N = {best['n']} of "
                f"{html.escape(', '.join(best['pool']))} at magnitude {best['magnitude']}: mean val accuracy over "
                f"{result['folds']} folds {figure(best['score'])}, which {beat} training without augmentation "
                f"({figure(none['score'])}). "
                "The ablation below trains with this recipe and without augmentation over seeds.")
    recipe = out / "recipe.yaml"
    text = recipe.read_text(encoding="utf-8") if recipe.is_file() else "(recipe.yaml is missing)"
    rows = [[t["number"] + 1, t["n"], t["magnitude"], ", ".join(t["pool"]), t["score"],
             " ".join(figure(s) for s in t["folds"])] for t in sorted(trials, key=lambda t: -t["score"])]
    return (f"<p id='search-verdict'>{sentence}</p>"
            f"<h3>Score by N and magnitude (best trial per cell; none: {figure(none['score'])})</h3>"
            + _grid(trials)
            + "<h3>Trials, best first</h3>"
            + table(["trial", "N", "magnitude", "pool", "val accuracy", "per fold"], rows, "search-trials")
            + f"<h3>The chosen recipe (recipe.yaml)</h3><pre id='search-recipe'>{html.escape(text)}</pre>")


def _grid(trials: list[dict[str, Any]]) -> str:
    """Rows N, columns magnitude: the best score of the trials in each cell (blank: none tried)."""
    ns = sorted({t["n"] for t in trials})
    ms = sorted({t["magnitude"] for t in trials})
    cells: dict[tuple[int, int], float] = {}
    for t in trials:
        key = (t["n"], t["magnitude"])
        cells[key] = max(cells.get(key, t["score"]), t["score"])
    rows = [[f"N = {n}", *(cells.get((n, m)) for m in ms)] for n in ns]
    return table(["", *(f"M = {m}" for m in ms)], rows, "search-grid")
