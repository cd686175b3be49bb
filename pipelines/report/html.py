"""The validation report: one self-contained HTML page (plots embedded as PNG, no network).

Verdict first (passed / failed / warnings), failed checks before passed ones with what
they found offending, class balance per split, label-rate per group of each sensitive
attribute, drift per feature against its no-drift level, and the offending rows.
Figures are rounded for reading; the raw result at the end keeps them whole.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from typing import TYPE_CHECKING, Any

from pipelines.console.rounding import figure, round_figures

from pipelines.console.summaries import verdict_counts

if TYPE_CHECKING:
    import pandas as pd

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{margin-bottom:.2rem} .verdict{font-size:1.4rem;font-weight:600;padding:.5rem 1rem;border-radius:6px;display:inline-block}
.pass{background:#e3f6e5;color:#145a1e} .fail{background:#fde4e4;color:#8a1111} .warn{background:#fff4d6;color:#7a5a00}
table{border-collapse:collapse;margin:1rem 0;width:100%} td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} code{font-size:.85em;word-break:break-all} img{max-width:100%} .rows{overflow-x:auto}
"""


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _balance_plot(checks: list[dict]) -> str | None:
    rows = [c for c in checks if c["name"] == "class_balance" and c["observed"].get("counts")]
    if not rows:
        return None
    plt = _pyplot()

    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 2.8), squeeze=False)
    for ax, c in zip(axes[0], rows):
        counts = c["observed"]["counts"]
        ratio = c["observed"].get("imbalance_ratio")
        ax.bar(list(counts), list(counts.values()), color="#4c78a8")
        ax.set_title(f"{c['observed'].get('split', 'all')} (ratio {'n/a' if ratio is None else figure(ratio)})",
                     fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    return _png(fig)


def _bias_plot(check: dict) -> str | None:
    groups = check["observed"].get("groups")
    if not groups:
        return None
    plt = _pyplot()
    import numpy as np

    names = list(groups)
    classes = sorted({k for g in groups.values() for k in g["label_rates"]})
    grid = np.array([[groups[g]["label_rates"].get(k, 0.0) for k in classes] for g in names])
    fig, ax = plt.subplots(figsize=(1 + 0.9 * len(classes), 0.8 + 0.45 * len(names)))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(classes)), classes, rotation=45, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(classes)):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if grid[i, j] < 0.6 else "black")
    ax.set_title(f"label rate by {check['column']}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    return _png(fig)


#: Drift plot colours: a feature over its limit is red; every other mark is neutral, so a
#: split without drift draws no alarm colour at all.
DRIFTED, STEADY, NO_DRIFT = "#e45756", "#4c78a8", "#d9d9d9"


def _drift_plot(check: dict) -> str | None:
    """PSI per feature, drawn over the band PSI reaches with no drift at all (it grows as
    samples shrink), with the feature's limit dashed; red only for drifted features."""
    features = check["observed"].get("features")
    if not features:
        return None
    plt = _pyplot()

    names = list(features)
    drifted = set(_drifted_features(check["observed"]))
    rows = range(len(names))
    fig, ax = plt.subplots(figsize=(6, 0.9 + 0.3 * len(names)))
    ax.barh(rows, [features[n]["psi_no_drift"] for n in names], height=0.8, color=NO_DRIFT,
            label="expected with no drift")
    ax.barh(rows, [features[n]["psi"] for n in names], height=0.4,
            color=[DRIFTED if n in drifted else STEADY for n in names], label="PSI")
    limit = check["observed"].get("psi")
    if limit:
        ax.vlines([features[n]["psi_no_drift"] + limit for n in names], [r - 0.45 for r in rows],
                  [r + 0.45 for r in rows], colors="black", linestyles="--", linewidth=1,
                  label="limit (no-drift level + psi)")
    ax.set_yticks(list(rows), names)
    ax.invert_yaxis()
    ax.set_xlabel("population stability index", fontsize=8)
    ax.set_title(" vs ".join(check["observed"]["pair"]) + (f": {len(drifted)} drifted" if drifted else ": no drift"),
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.tick_params(labelsize=8)
    return _png(fig)


def render_validation_report(result: dict[str, Any], df: "pd.DataFrame | None" = None) -> str:
    """The report as one HTML string."""
    esc = html.escape
    checks = result["checks"]
    ok = result["success"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>curaug validation report</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Validation report</h1><p>{esc(str(result.get('source') or ''))}"
             + (f" — {len(df)} rows" if df is not None else "") + "</p>",
             f"<div class='verdict {'pass' if ok else 'fail'}' id='verdict'>{'PASSED' if ok else 'FAILED'}: "
             f"{esc(verdict_counts(result))}</div>",
             "<h2>Checks</h2>" + checks_table(checks)]
    if result.get("skipped"):
        parts.append("<ul id='skipped'>" + "".join(f"<li>skipped <b>{esc(s['name'])}</b>{esc(f' [{c}]' if (c := s.get('column')) else '')}: "
                                                   f"{esc(s['reason'])}</li>"
                                                   for s in result["skipped"]) + "</ul>")
    parts += check_figures(checks)
    if df is not None:
        parts += _offending_rows(checks, df)
    parts.append("<h2>Raw result</h2><details><summary>JSON</summary><pre>"
                 + esc(json.dumps(result, indent=1, default=str)[:200000]) + "</pre></details></body></html>")
    return "\n".join(parts)


def checks_table(checks: list[dict], table_id: str = "checks") -> str:
    """One row per check: its mark (pass, FAIL or warn), name, column, details and what
    it found offending when it failed."""
    esc = html.escape
    rows = [f"<table id='{esc(table_id)}'><tr><th></th><th>check</th><th>column</th><th>details</th>"
            "<th>offending</th></tr>"]
    for c in checks:
        cls = "pass" if c["success"] else ("fail" if c["severity"] == "error" else "warn")
        mark = {"pass": "pass", "fail": "FAIL", "warn": "warn"}[cls]
        shown = "" if c["success"] else offenders_text(c)
        rows.append(f"<tr class='check'><td class='{cls}'>{mark}</td><td>{esc(c['name'])}</td>"
                    f"<td>{esc(c.get('column') or '')}</td><td>{esc(round_figures(c.get('details', '')))}</td>"
                    f"<td><code>{esc(shown)}</code></td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def check_figures(checks: list[dict], level: int = 2, balance: bool = True) -> list[str]:
    """The figures the checks have, each under a heading of ``level``: class balance per
    split (unless ``balance`` is False), label rate per group, drift per feature and the
    adversarial validation."""
    esc, h = html.escape, f"h{level}"
    parts = []
    img = _balance_plot(checks) if balance else None
    if img:
        parts.append(f"<{h}>Class balance</{h}><img alt='class balance per split' src='{img}'>")
    for c in checks:
        if c["name"] == "bias":
            img = _bias_plot(c)
            if img:
                parts.append(f"<{h}>Bias: {esc(c['column'] or '')}</{h}><img alt='label rate by group' src='{img}'>")
    for c in checks:
        if c["name"] == "drift":
            img = _drift_plot(c)
            if img:
                parts.append(f"<{h}>Drift: {esc(' vs '.join(c['observed']['pair']))}</{h}>"
                             f"<img alt='drift per feature' src='{img}'>")
    for c in checks:
        if c["name"] == "domain_classifier_auc":
            top = c["observed"].get("top_features") or []
            lean = "".join(f"<li>{esc(t['feature'])}: AUC drop {t['importance']:.3f}</li>" for t in top)
            parts.append(f"<{h}>Adversarial validation: {esc(' vs '.join(c['observed']['pair']))}</{h}>"
                         f"<p>AUC {c['observed']['auc']:.3f} (no shift: 0.5 ± {c['observed']['auc_null_sd']:.3f}; "
                         f"limit {c['observed']['max_auc']:g})</p>" + (f"<ul>{lean}</ul>" if lean else ""))
    return parts


#: Keys of ``observed`` that list what a check found, probed in this order when a result
#: has no typed ``offenders``: row ids first, then groups, features and pairs.
_OBSERVED_OFFENDERS = ("unexpected_ids", "unexpected_rows", "suspects", "rows", "violating_groups", "drifted",
                       "examples", "pairs", "groups")


def _listed(check: dict[str, Any]) -> list[Any]:
    """What a check names as offending: its typed ``offenders``, else what ``observed`` lists."""
    if check.get("offenders"):
        return list(check["offenders"])
    observed = check.get("observed") or {}
    for key in _OBSERVED_OFFENDERS:
        value = observed.get(key)
        if value and isinstance(value, list):
            return _drifted_features(observed) if key == "drifted" else value
    return []


def _drifted_features(observed: dict[str, Any]) -> list[str]:
    """The features of a drift result's ``drifted`` lines (``"feature: why"``)."""
    return [str(line).split(": ", 1)[0] for line in observed.get("drifted") or []]


def _item_text(item: Any) -> str:
    """One offender as people read it: an id, ``a & b`` for a pair, a group's name."""
    if isinstance(item, list):
        return " & ".join(_item_text(i) for i in item)
    if isinstance(item, dict):
        for key in ("id", "ids", "group", "feature"):
            if key in item:
                return _item_text(item[key])
        return json.dumps(item, default=str)
    return str(item)


def offending_ids(check: dict[str, Any]) -> list[str]:
    """The row ids a check's result names, in its order (ids inside pairs and groups too)."""
    ids: list[str] = []
    for item in _listed(check):
        if isinstance(item, dict):
            item = item.get("id", item.get("ids"))
        ids += [str(i) for i in (item if isinstance(item, list) else [item]) if i is not None]
    return list(dict.fromkeys(ids))


def offenders_text(check: dict[str, Any], limit: int = 10) -> str:
    """The first ``limit`` offenders of a check as one short line, and how many more."""
    items = _listed(check)
    shown = [_item_text(item) for item in items[:limit]]
    more = f" … (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(shown)[:400] + more


def _offending_rows(checks: list[dict], df: "pd.DataFrame", limit: int = 10) -> list[str]:
    """For each failed check that names samples, a table of those rows (first ``limit``)."""
    parts = []
    from curate.io.frames import row_names

    keyed = df.set_axis(row_names(df).to_numpy(), axis=0)
    keyed = keyed[~keyed.index.duplicated()]
    for c in checks:
        if c["success"]:
            continue
        ids = [i for i in offending_ids(c) if i in keyed.index][:limit]
        if not ids:
            continue
        rows = keyed.loc[ids].head(limit)
        if c["name"] == "label_issues":
            sug = {s["id"]: s["suggested"] for s in c["observed"]["suspects"]}
            rows = rows.assign(suggested_label=[sug.get(i) for i in rows.index])
        title = f"{c['name']}" + (f" ({c['column']})" if c.get("column") else "")
        parts.append(f"<h3>Offending rows: {html.escape(title)}</h3><div class='rows'>"
                     + _rows_html(rows, "id" in df.columns) + "</div>")
    return (["<h2>Offending rows</h2>"] + parts) if parts else []


def _rows_html(rows: "pd.DataFrame", has_id: bool) -> str:
    """Rows named first (their ``id``, else their row number, as the checks name them),
    missing cells left empty rather than written ``NaN``."""
    named = rows.reset_index(drop=True) if has_id else rows.rename_axis("row").reset_index()
    if has_id:
        named = named[["id", *[c for c in named.columns if c != "id"]]]
    shown = named.astype(object).where(named.notna(), "")
    return shown.to_html(index=False, border=0, max_cols=20, na_rep="")


def write_validation_report(result: dict[str, Any], df: "pd.DataFrame", path: str | os.PathLike) -> None:
    from curate.io.atomic import write_text_atomic

    write_text_atomic(path, render_validation_report(result, df))
