"""The learning-curve section of the pipeline report: the answers, the plot, the table."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pipelines.report.parts import data_uri_png, figures_of, missing, table


def learning_curve_section(out: Path, stages: dict[str, dict[str, Any]]) -> str:
    from pipelines.train.learning_curve import FILES

    result = figures_of(stages, "learning_curve")
    if result is None:
        return missing("learning_curve.json is missing: the learning curve did not finish.")
    verdict = "warn" if result["flattened"] else "pass"
    answers = "".join(f"<li>{html.escape(line)}</li>" for line in result["answers"])
    plot = out / FILES[2]
    image = (f"<img id='learning-curve-plot' alt='val error against train rows, with the fitted power law' "
             f"src='{data_uri_png(plot)}'>" if plot.is_file() else missing(f"{FILES[2]} is missing."))
    rows = [[t["fraction"], t["train_rows"], t["val_error"], t["std"], t["seeds"]] for t in result["table"]]
    return (f"<ul id='learning-curve-answers' class='verdict {verdict}'>{answers}</ul>" + image
            + table(["fraction of train", "train rows", "val error (mean)", "std over seeds", "seeds"], rows,
                    "learning-curve-table"))
