"""Balance (multilabel), bias intersections, label conflicts and errors, outliers, drift
on embeddings, adversarial validation and the report (issue 5)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import one_error_line
from curate.rules.schema import parse_rules
from curate.split.splitters import split_frame
from curate.checks.validate import validate

MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _checks(result, name):
    return [c for c in result.checks if c.name == name]


@pytest.fixture
def penguins(sample):
    df = pd.read_csv(sample / "penguins.csv").drop(columns=["notes"])
    df = df.dropna(subset=MEASURES).drop_duplicates().reset_index(drop=True)
    df.insert(0, "id", [f"p{i:03d}" for i in range(len(df))])
    return df


def test_multilabel_class_balance_counts_each_label():
    df = pd.DataFrame({"tags": ["cat;dog", "cat", "cat; bird", "dog", "cat;dog;bird", ""]})
    result = validate(df, parse_rules({"dataset": {"class_balance": {"max_ratio": 1.5}}}), label="tags",
                      label_sep=";")
    balance = _checks(result, "class_balance")[0]
    assert balance.observed["counts"] == {"cat": 4, "dog": 3, "bird": 2}
    assert balance.observed["imbalance_ratio"] == 2.0 and not balance.success
    assert balance.observed["label_cardinality"] == pytest.approx(9 / 6)


def test_bias_intersections_and_multilabel_rates():
    df = pd.DataFrame({"sex": ["F", "F", "M", "M"] * 25, "site": ["a", "b"] * 50,
                       "y": ["pos", "neg", "neg", "neg"] * 25})
    rules = parse_rules({"sensitive": ["sex"], "dataset": {"bias": {"max_parity_difference": 0.6,
                                                                    "intersections": [["sex", "site"]]}}})
    bias = {c.column: c for c in _checks(validate(df, rules, label="y"), "bias")}
    assert bias["sex"].success and bias["sex"].observed["parity_difference"] == pytest.approx(0.5)
    inter = bias["sex & site"]
    assert not inter.success and inter.observed["parity_difference"] == pytest.approx(1.0)
    assert inter.observed["groups"]["F & a"]["label_rates"]["pos"] == 1.0
    assert "F & a" in inter.observed["violating_groups"]
    tags = pd.DataFrame({"g": ["A"] * 10 + ["B"] * 10, "t": ["x;y"] * 10 + ["y"] * 10})
    bias = _checks(validate(tags, parse_rules({"sensitive": ["g"]}), label="t", label_sep=";"), "bias")[0]
    assert bias.observed["groups"]["A"]["label_rates"] == {"x": 1.0, "y": 1.0}
    assert bias.observed["groups"]["B"]["label_rates"] == {"x": 0.0, "y": 1.0}


def test_penguins_imbalance_and_island_bias_flagged_with_figures(penguins):
    rules = parse_rules({"label": "species", "sensitive": ["island", "sex"],
                         "dataset": {"class_balance": {"max_ratio": 2.0}, "bias": {"max_parity_difference": 0.25}}})
    result = validate(penguins, rules)
    counts = penguins["species"].value_counts()
    balance = _checks(result, "class_balance")[0]
    assert not balance.success and balance.observed["imbalance_ratio"] == pytest.approx(counts.max() / counts.min())
    bias = {c.column: c for c in _checks(result, "bias")}
    rates = pd.crosstab(penguins["island"], penguins["species"], normalize="index")
    gap = (rates.max() - rates.min()).max()
    assert not bias["island"].success and bias["island"].observed["parity_difference"] == pytest.approx(gap, abs=1e-6)
    assert "Biscoe" in bias["island"].observed["violating_groups"]  # the only island with Gentoo
    assert bias["sex"].success


def test_split_along_an_attribute_drifts_and_a_stratified_one_does_not(penguins):
    random = penguins.assign(split=split_frame(penguins, "species", seed=0).split)
    assert not _checks(validate(random, label="species", split_col="split"), "domain_classifier_auc")  # not asked
    adversarial = parse_rules({"splits": {"max_drift": {"psi": 0.2, "ks_pvalue": 0.001, "domain_auc": 0.75}}})
    result = validate(random, adversarial, label="species")
    assert all(c.success for c in _checks(result, "drift"))
    domain = _checks(result, "domain_classifier_auc")
    assert len(domain) == 2 and all(c.success and c.observed["auc"] < 0.65 for c in domain)
    along = penguins.assign(split=penguins["island"].map({"Biscoe": "train", "Dream": "val", "Torgersen": "test"}))
    result = validate(along, adversarial, label="species")
    assert not any(c.success for c in _checks(result, "drift"))
    domain = {c.observed["pair"][1]: c for c in _checks(result, "domain_classifier_auc")}
    assert not domain["val"].success and domain["val"].observed["auc"] > 0.95
    assert domain["val"].observed["top_features"][0]["feature"] == "island"


def test_embedding_drift_is_measured_on_principal_components():
    rng = np.random.default_rng(0)
    n = 600
    emb = rng.normal(size=(n, 8))
    split = np.array(["train"] * 400 + ["test"] * 200)
    emb[split == "test", :3] += 1.5
    df = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "emb": list(emb), "split": split})
    drift = _checks(validate(df, split_col="split"), "drift")[0]
    assert not drift.success and any(d.startswith("emb:pc1") for d in drift.observed["drifted"])
    df["emb"] = list(rng.normal(size=(n, 8)))
    assert _checks(validate(df, split_col="split"), "drift")[0].success


def test_conflicting_labels_name_the_rows(penguins):
    twin = penguins.iloc[[10]].assign(id="twin", species="Gentoo")
    df = pd.concat([penguins, twin], ignore_index=True)
    assert not _checks(validate(df, label="species"), "conflicting_labels")  # runs only when asked
    asked = parse_rules({"dataset": {"conflicting_labels": {}}})
    check = _checks(validate(df, asked, label="species"), "conflicting_labels")[0]
    assert not check.success and check.observed["conflicting_groups"] == 1
    assert sorted(check.observed["examples"][0]["ids"]) == ["p010", "twin"] == sorted(check.offenders)
    assert check.observed["examples"][0]["labels"] == sorted({penguins.loc[10, "species"], "Gentoo"})
    assert _checks(validate(penguins, asked, label="species"), "conflicting_labels")[0].success


def test_label_issues_find_flipped_labels_and_relabel_applies_them(penguins, cli, tmp_path):
    rng = np.random.default_rng(1)
    flipped = rng.choice(len(penguins), 12, replace=False)
    noisy = penguins.copy()
    truth = dict(zip(noisy.loc[flipped, "id"], noisy.loc[flipped, "species"]))
    noisy.loc[flipped, "species"] = [{"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"}[s]
                                     for s in noisy.loc[flipped, "species"]]
    rules = {"label": "species", "dataset": {"label_issues": {"max_fraction": 0.01, "severity": "error"}}}
    check = _checks(validate(noisy, parse_rules(rules)), "label_issues")[0]
    found = {s["id"]: s["suggested"] for s in check.observed["suspects"]}
    hits = [i for i in truth if i in found]
    assert len(hits) >= 10, found  # recall >= 10/12
    assert all(found[i] == truth[i] for i in hits)  # and the suggestion is the true species
    assert len(set(found) - set(truth)) <= 3  # few clean rows accused
    assert not check.success and check.observed["out_of_fold_accuracy"] < 0.97

    data, result = tmp_path / "noisy.csv", tmp_path / "result.json"
    noisy.to_csv(data, index=False)
    (tmp_path / "r.yaml").write_text(json.dumps(rules))
    assert cli("validate", data, "--rules", tmp_path / "r.yaml", "--json", result).code == 1
    (tmp_path / "fix.yaml").write_text(json.dumps({"label": "species", "clean": [{"relabel": {"suggestions": str(result)}}]}))
    out = tmp_path / "fixed.csv"
    assert cli("clean", data, "--rules", tmp_path / "fix.yaml", "-o", out).code == 0
    fixed = pd.read_csv(out).set_index("id")["species"]
    assert sum(fixed[i] == truth[i] for i in truth) >= 10
    assert (fixed != penguins.set_index("id")["species"]).sum() <= 5


def test_outliers_robust_z_and_isolation_forest(penguins):
    df = penguins.copy()
    df.loc[[5, 50, 150], "body_mass_g"] = [25000, 30, 41000]  # one column far out: robust z
    rules = parse_rules({"dataset": {"outliers": {"columns": MEASURES, "max_fraction": 0.005}}})
    check = _checks(validate(df, rules), "outliers")[0]
    assert [r["id"] for r in check.observed["rows"]] == ["p150", "p005", "p050"]  # worst first
    assert check.observed["per_column"] == {"body_mass_g": 3} and not check.success
    df = penguins.copy()  # impossible combinations of plausible values: the forest
    df.loc[[5, 50, 150], MEASURES] = [[70, 25, 160, 7500], [30, 12, 240, 2000], [65, 24, 170, 7000]]
    rules = parse_rules({"dataset": {"outliers": {"method": "isolation_forest", "columns": MEASURES}}})
    flagged = [r["id"] for r in _checks(validate(df, rules), "outliers")[0].observed["rows"]]
    assert set(flagged[:3]) == {"p005", "p050", "p150"} and len(flagged) <= 5
    clean = _checks(validate(penguins, parse_rules({"dataset": {"outliers": {"columns": MEASURES}}})), "outliers")[0]
    assert clean.success and clean.observed["outliers"] == 0


def test_new_rule_keys_are_checked(cli, sample, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset:\n  label_issues: {fold: 3}\n")
    line = one_error_line(cli("validate", sample / "penguins.csv", "--rules", bad))
    assert "unknown key 'fold'" in line and "did you mean 'folds'" in line
    bad.write_text("splits:\n  max_drift: {domain_auc: 0.4}\n")
    assert "domain_auc" in one_error_line(cli("validate", sample / "penguins.csv", "--rules", bad))


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.headings, self._h = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._h = tag in ("h2", "h3")

    def handle_data(self, data):
        if self._h:
            self.headings.append(data)
            self._h = False


@pytest.fixture
def report(penguins, cli, tmp_path):
    data = tmp_path / "drifted.csv"
    penguins.assign(split=penguins["island"].map({"Biscoe": "train", "Dream": "val", "Torgersen": "test"})) \
        .to_csv(data, index=False)
    (tmp_path / "r.yaml").write_text(json.dumps({
        "label": "species", "sensitive": ["island"],
        "dataset": {"class_balance": {"max_ratio": 2}, "bias": {"max_parity_difference": 0.25},
                    "outliers": {"columns": MEASURES}},
        "splits": {"max_drift": {"psi": 0.2, "domain_auc": 0.75}}}))
    page = tmp_path / "report.html"
    assert cli("validate", data, "--rules", tmp_path / "r.yaml", "--report", page).code == 1
    return page


def test_report_is_self_contained_with_plots_and_offending_rows(report):
    from PIL import Image

    text = report.read_text()
    parser = _Page()
    parser.feed(text)
    assert len(parser.images) >= 4  # balance, bias heatmap, drift per pair
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert img.size[0] > 100 and np.asarray(img.convert("L")).std() > 5  # not blank
    assert "Bias: island" in parser.headings and any(h.startswith("Drift: train vs") for h in parser.headings)
    assert any(h.startswith("Offending rows: bias") or h.startswith("Offending rows") for h in parser.headings)
    assert any(h.startswith("Adversarial validation") for h in parser.headings)
    assert text.index("FAIL") < text.index(">pass<")
    assert "http://" not in text and "https://" not in text and "<script" not in text


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not BROWSER and not os.environ.get("CURAUG_REQUIRE_BROWSER"),
                    reason="Debian's chromium is not installed (CI installs it)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    from PIL import Image

    assert BROWSER, "CURAUG_REQUIRE_BROWSER is set but chromium is missing"
    shot = tmp_path / "shot.png"
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1200,2400",
                    f"--screenshot={shot}", report.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (2400, 1200)
    assert (pixels.sum(axis=2) < 600).mean() > 0.02  # text and plots drawn, not a blank page
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 120) & (pixels[..., 2] < 120)
    assert red.sum() > 200  # the drift bars (#e45756) are painted from the embedded PNGs


def test_conflicting_labels_on_images_use_the_perceptual_hash(cli, sample, tmp_path):
    manifest, rules = tmp_path / "m.parquet", tmp_path / "r.yaml"
    assert cli("ingest", sample / "images", "-o", manifest).code == 0
    rules.write_text("dataset:\n  conflicting_labels: {}\n")
    r = cli("validate", manifest, "--rules", rules, "--json", "-")
    assert r.code == 1
    check = next(c for c in json.loads(r.out)["checks"] if c["name"] == "conflicting_labels")
    assert not check["success"] and check["observed"]["by"] == "sha256+phash"
    assert check["observed"]["examples"] == [{"ids": ["1/digit_0042.png", "7/mislabelled_one.png"],
                                              "labels": ["1", "7"], "majority": None}]
