"""The validation report: one self-contained HTML page (plots embedded as PNG, no network).

Verdict first, failed checks before passed ones, class balance per split, label-rate per
group of each sensitive attribute, drift per feature, and the offending ids.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{margin-bottom:.2rem} .verdict{font-size:1.4rem;font-weight:600;padding:.5rem 1rem;border-radius:6px;display:inline-block}
.pass{background:#e3f6e5;color:#145a1e} .fail{background:#fde4e4;color:#8a1111} .warn{background:#fff4d6;color:#7a5a00}
table{border-collapse:collapse;margin:1rem 0;width:100%} td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} code{font-size:.85em;word-break:break-all} img{max-width:100%}
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
        ax.bar(list(counts), list(counts.values()), color="#4c78a8")
        ax.set_title(f"{c['observed'].get('split', 'all')} (ratio {c['observed'].get('imbalance_ratio')})", fontsize=9)
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


def _drift_plot(check: dict) -> str | None:
    features = check["observed"].get("features")
    if not features:
        return None
    plt = _pyplot()

    names = list(features)
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.3 * len(names)))
    ax.barh(names, [features[n]["psi"] for n in names], color="#e45756", label="PSI")
    ax.barh(names, [features[n]["psi_no_drift"] for n in names], color="#bbbbbb", label="no-drift level")
    if check["observed"].get("psi"):
        ax.axvline(check["observed"]["psi"], color="black", linestyle="--", linewidth=1)
    ax.set_title(" vs ".join(check["observed"]["pair"]), fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=8)
    return _png(fig)


def render_validation_report(result: dict[str, Any], df: "pd.DataFrame | None" = None) -> str:
    """The report as one HTML string."""
    esc = html.escape
    checks = result["checks"]
    ok = result["success"]
    stats = result["statistics"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>curaug validation report</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Validation report</h1><p>{esc(str(result.get('source') or ''))}"
             + (f" — {len(df)} rows" if df is not None else "") + "</p>",
             f"<div class='verdict {'pass' if ok else 'fail'}'>{'PASSED' if ok else 'FAILED'}: "
             f"{stats['successful']} of {stats['evaluated']} checks passed, {stats['warnings']} warnings</div>",
             "<h2>Checks</h2><table><tr><th></th><th>check</th><th>column</th><th>details</th><th>offending</th></tr>"]
    for c in checks:
        cls = "pass" if c["success"] else ("fail" if c["severity"] == "error" else "warn")
        mark = {"pass": "pass", "fail": "FAIL", "warn": "warn"}[cls]
        offenders = _offenders(c["observed"])
        parts.append(f"<tr><td class='{cls}'>{mark}</td><td>{esc(c['name'])}</td><td>{esc(c.get('column') or '')}</td>"
                     f"<td>{esc(c.get('details', ''))}</td><td><code>{esc(offenders)}</code></td></tr>")
    parts.append("</table>")
    balance = _balance_plot(checks)
    if balance:
        parts.append(f"<h2>Class balance</h2><img alt='class balance per split' src='{balance}'>")
    for c in checks:
        if c["name"] == "bias":
            img = _bias_plot(c)
            if img:
                parts.append(f"<h2>Bias: {esc(c['column'] or '')}</h2><img alt='label rate by group' src='{img}'>")
    for c in checks:
        if c["name"] == "drift":
            img = _drift_plot(c)
            if img:
                parts.append(f"<h2>Drift: {esc(' vs '.join(c['observed']['pair']))}</h2>"
                             f"<img alt='drift per feature' src='{img}'>")
    for c in checks:
        if c["name"] == "domain_classifier_auc":
            top = c["observed"].get("top_features") or []
            lean = "".join(f"<li>{esc(t['feature'])}: AUC drop {t['importance']:.3f}</li>" for t in top)
            parts.append(f"<h2>Adversarial validation: {esc(' vs '.join(c['observed']['pair']))}</h2>"
                         f"<p>AUC {c['observed']['auc']:.3f} (no shift: 0.5 ± {c['observed']['auc_null_sd']:.3f}; "
                         f"limit {c['observed']['max_auc']:g})</p>" + (f"<ul>{lean}</ul>" if lean else ""))
    if df is not None:
        parts += _offending_rows(checks, df)
    parts.append("<h2>Raw result</h2><details><summary>JSON</summary><pre>"
                 + esc(json.dumps(result, indent=1, default=str)[:200000]) + "</pre></details></body></html>")
    return "\n".join(parts)


def offending_ids(observed: dict[str, Any]) -> list[str]:
    """The sample ids a check's result names, in its order."""
    ids: list[str] = []
    for key in ("unexpected_ids", "suspects", "rows", "examples", "pairs", "groups"):
        for item in observed.get(key) or []:
            if isinstance(item, dict):
                item = item.get("id", item.get("ids"))
            ids += [str(i) for i in (item if isinstance(item, list) else [item]) if i is not None]
        if ids:
            break
    return list(dict.fromkeys(ids))


def _offending_rows(checks: list[dict], df: "pd.DataFrame", limit: int = 10) -> list[str]:
    """For each failed check that names samples, a table of those rows (first ``limit``)."""
    parts = []
    from curate.checks.base import row_names

    keyed = df.set_axis(row_names(df).to_numpy(), axis=0)
    keyed = keyed[~keyed.index.duplicated()]
    for c in checks:
        if c["success"]:
            continue
        ids = [i for i in offending_ids(c["observed"]) if i in keyed.index][:limit]
        if not ids:
            continue
        rows = keyed.loc[ids].head(limit)
        if c["name"] == "label_issues":
            sug = {s["id"]: s["suggested"] for s in c["observed"]["suspects"]}
            rows = rows.assign(suggested_label=[sug.get(i) for i in rows.index])
        title = f"{c['name']}" + (f" ({c['column']})" if c.get("column") else "")
        parts.append(f"<h3>Offending rows: {html.escape(title)}</h3>"
                     + rows.astype(str).to_html(index=False, border=0, max_cols=20))
    return (["<h2>Offending rows</h2>"] + parts) if parts else []


def _offenders(observed: dict[str, Any]) -> str:
    for key in ("unexpected_ids", "violating_groups", "drifted", "suspects", "pairs", "groups", "examples", "rows"):
        value = observed.get(key)
        if value:
            text = json.dumps(value[:10] if isinstance(value, list) else value, default=str)
            return text[:400]
    return ""


def write_validation_report(result: dict[str, Any], df: "pd.DataFrame", path: str | os.PathLike) -> None:
    from curate.io.atomic import write_text_atomic

    write_text_atomic(path, render_validation_report(result, df))
