"""The HTML validation report as a user reads it: the verdict counts, what each failed
check found offending, rounded figures, and a drift plot that only turns red on drift."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE
from pipelines.report.html import render_validation_report

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FAIL_BACKGROUND = (253, 228, 228)  # .fail in the report's style sheet


class _Page(HTMLParser):
    """The verdict banner, the rows of the checks table (cell texts) and the images by alt text."""

    def __init__(self):
        super().__init__()
        self.verdict, self.rows, self.images = "", [], {}
        self._in, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "verdict":
            self._in = "verdict"
        elif tag == "tr" and attrs.get("class") == "check":
            self.rows.append([])
        elif tag == "td" and self.rows and self._in is None:
            self._cell = ""
        elif tag == "img":
            self.images.setdefault(attrs["alt"], []).append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "div" and self._in == "verdict":
            self._in = None
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None
        elif tag == "table":
            self._cell = None

    def handle_data(self, data):
        if self._in == "verdict":
            self.verdict += data
        elif self._cell is not None:
            self._cell += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _row(page: _Page, name: str, column: str = "") -> list[str]:
    return next(r for r in page.rows if r[1] == name and r[2] == column)


@pytest.fixture(scope="module")
def raw_penguins(tmp_path_factory):
    """The raw penguins (missing values, a duplicate, odd spellings) with ids, split by island."""
    df = pd.read_csv(SAMPLE / "penguins.csv")
    df.insert(0, "id", [f"p{i:03d}" for i in range(len(df))])
    df["split"] = df["island"].map({"Biscoe": "train", "Dream": "val", "Torgersen": "test"})
    path = tmp_path_factory.mktemp("raw") / "penguins.csv"
    df.to_csv(path, index=False)
    return df, path


@pytest.fixture(scope="module")
def report(raw_penguins, tmp_path_factory):
    """The report of the raw penguins against their rules, and the same result as JSON (made once)."""
    from pipelines.cli import main

    _, path = raw_penguins
    out = tmp_path_factory.mktemp("report")
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(path), "--rules", str(SAMPLE / "penguins.rules.yaml"),
                     "--report", str(out / "report.html"), "--json", str(out / "result.json")])
    assert code == 1
    return out / "report.html", json.loads((out / "result.json").read_text())


def _expected_banner(result: dict) -> str:
    checks = result["checks"]
    passed = sum(c["success"] for c in checks)
    failed = sum(not c["success"] and c["severity"] == "error" for c in checks)
    warnings = sum(not c["success"] and c["severity"] == "warn" for c in checks)
    assert failed and warnings and passed
    return f"FAILED: {passed} passed, {failed} failed, {warnings} warning{'s' if warnings != 1 else ''} ({len(checks)} checks)"


def test_banner_counts_passed_failed_and_warnings(report):
    page_path, result = report
    assert _parse(page_path.read_text()).verdict == _expected_banner(result)


def test_failed_column_checks_show_their_offending_rows(report, raw_penguins):
    df, _ = raw_penguins
    page_path, _ = report
    text = page_path.read_text()
    page = _parse(text)
    missing = df.loc[df["bill_length_mm"].isna(), "id"].tolist()
    assert len(missing) == 2
    assert _row(page, "not_null", "bill_length_mm")[0] == "FAIL"
    assert _row(page, "not_null", "bill_length_mm")[4] == ", ".join(missing)
    odd_sex = df.loc[df["sex"].notna() & ~df["sex"].isin(["male", "female"]), "id"].tolist()
    assert _row(page, "in_set", "sex")[4] == ", ".join(odd_sex)
    assert _row(page, "regex", "notes")[0] == "warn" and _row(page, "regex", "notes")[4]
    assert all(r[4] == "" for r in page.rows if r[0] == "pass")  # passing checks list nothing
    rows_table = text[text.index("Offending rows: not_null (bill_length_mm)"):]
    rows_table = rows_table[:rows_table.index("</table>")]
    assert all(f"<td>{i}</td>" in rows_table for i in missing)


def test_typed_offenders_come_before_the_observed_figures():
    check = {"name": "unique", "column": "id", "success": False, "severity": "error", "details": "2 repeats",
             "observed": {"unexpected_ids": ["x"]}}
    result = {"success": False, "source": None, "checks": [],
              "statistics": {"evaluated": 1, "successful": 0, "unsuccessful": 1, "warnings": 0}}
    typed = _parse(render_validation_report({**result, "checks": [{**check, "offenders": ["r7", "r9"]}]}))
    assert _row(typed, "unique", "id")[4] == "r7, r9"
    probed = _parse(render_validation_report({**result, "checks": [check]}))
    assert _row(probed, "unique", "id")[4] == "x"
    many = {**check, "observed": {"unexpected_rows": list(range(25))}}
    assert _row(_parse(render_validation_report({**result, "checks": [many]})), "unique", "id")[4] \
        == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 … (+15 more)"


def test_figures_are_rounded_for_reading_and_whole_in_the_json(report):
    page_path, result = report
    mean = next(c for c in result["checks"] if c["name"] == "mean_between")["observed"]["observed_value"]
    assert len(str(mean).split(".")[1]) > 6  # the JSON keeps the measured value whole
    page = _parse(page_path.read_text())
    assert _row(page, "mean_between", "body_mass_g")[3] == f"mean_between (3500, 5000): observed {mean:.0f}"


def _pixels(src: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")).astype(int)


def _reddish(pixels: np.ndarray) -> int:
    return int(((pixels[..., 0] > 200) & (pixels[..., 1] < 120) & (pixels[..., 2] < 120)).sum())


def test_drift_plot_is_red_only_where_a_feature_drifted(cli, sample, tmp_path):
    df = pd.read_csv(sample / "penguins.csv").dropna(subset=["body_mass_g"]).drop_duplicates()
    df = df[["species", "island", "body_mass_g", "flipper_length_mm"]].reset_index(drop=True)
    rules = tmp_path / "r.yaml"
    rules.write_text("splits: {column: split, max_drift: {psi: 0.2}}\n")
    pages = {}
    for name, split in (("stratified", None), ("by_island", df["island"].map(
            {"Biscoe": "train", "Dream": "val", "Torgersen": "test"}))):
        data = tmp_path / f"{name}.csv"
        if split is None:
            assert cli("split", sample / "penguins.csv", "--label", "species", "-o", tmp_path / "s.csv").code == 0
            table = pd.read_csv(tmp_path / "s.csv").dropna(subset=["body_mass_g"]).drop_duplicates()
            table[["species", "island", "body_mass_g", "flipper_length_mm", "split"]].to_csv(data, index=False)
        else:
            df.assign(split=split).to_csv(data, index=False)
        cli("validate", data, "--rules", rules, "--report", tmp_path / f"{name}.html")
        pages[name] = _parse((tmp_path / f"{name}.html").read_text())
    calm = pages["stratified"].images["drift per feature"]
    assert len(calm) == 3 and all(_reddish(_pixels(src)) == 0 for src in calm)
    grey = np.array([217, 217, 217])  # the "expected with no drift" band
    assert all((np.abs(_pixels(src) - grey).sum(axis=2) < 6).sum() > 50 for src in calm)
    alarmed = pages["by_island"].images["drift per feature"]
    assert all(_reddish(_pixels(src)) > 200 for src in alarmed)


@pytest.mark.skipif(not BROWSER and not os.environ.get("CURAUG_REQUIRE_BROWSER"),
                    reason="Debian's chromium is not installed (CI installs it)")
def test_report_as_headless_chromium_shows_it(report, raw_penguins, tmp_path):
    from PIL import Image

    assert BROWSER, "CURAUG_REQUIRE_BROWSER is set but chromium is missing"
    page_path, result = report
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--dump-dom", page_path.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    page = _parse(dom)  # what the browser built from the file, not the file itself
    assert page.verdict == _expected_banner(result)
    df, _ = raw_penguins
    missing = df.loc[df["bill_depth_mm"].isna(), "id"].tolist()
    assert _row(page, "not_null", "bill_depth_mm")[4] == ", ".join(missing)
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--window-size=1200,900", f"--screenshot={shot}", page_path.as_uri()],
                   check=True, capture_output=True, timeout=120)
    top = np.asarray(Image.open(shot).convert("RGB"))[:250].astype(int)
    banner = (np.abs(top - np.array(FAIL_BACKGROUND)).sum(axis=2) < 4).sum()
    assert banner > 5000  # the red-tinted verdict banner is painted above the fold


def test_rows_of_a_table_without_ids_are_named_by_their_row_number(cli, sample, tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text("columns:\n  bill_length_mm: {not_null: true}\n")
    r = cli("validate", sample / "penguins.csv", "--rules", rules, "--report", tmp_path / "r.html")
    assert r.code == 1, r.err
    missing = pd.read_csv(sample / "penguins.csv")["bill_length_mm"].isna()
    rows = [str(i) for i in missing[missing].index]
    assert _row(_parse((tmp_path / "r.html").read_text()), "not_null", "bill_length_mm")[4] == ", ".join(rows)


def test_offending_rows_are_named_and_show_missing_cells_empty():
    """Each offending row starts with its id (or its row number when the table has no id
    column), and a missing cell is an empty cell, not the text NaN."""
    from pipelines.report.html import render_validation_report

    df = pd.DataFrame({"x": [1.0, np.nan, 3.0, np.nan], "name": ["a", None, "c", "d"]})
    check = {"name": "not_null", "column": "x", "success": False, "severity": "error", "details": "2 missing",
             "observed": {}, "offenders": ["1", "3"]}
    result = {"success": False, "source": None, "checks": [check],
              "statistics": {"evaluated": 1, "successful": 0, "unsuccessful": 1, "warnings": 0}}
    text = render_validation_report(result, df)
    rows = text[text.index("Offending rows: not_null (x)"):]
    rows = rows[:rows.index("</table>")]
    assert "<th>row</th>" in rows and "NaN" not in rows and "nan" not in rows
    assert "<td>1</td>\n      <td></td>\n      <td></td>" in rows  # row 1: x and name missing
    named_check = {**check, "offenders": ["r1", "r3"]}
    with_ids = render_validation_report({**result, "checks": [named_check]}, df.assign(id=["r0", "r1", "r2", "r3"]))
    named = with_ids[with_ids.index("Offending rows"):]
    assert named.index("<th>id</th>") < named.index("<th>x</th>")
