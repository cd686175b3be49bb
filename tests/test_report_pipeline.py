"""out/report.html, the pipeline report (issue 15): every section from a real run's files,
self-contained, escaped, partial runs reported, and drawn by a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.report.pipeline import render_pipeline_report, write_pipeline_report
from pipelines.run.runner import run_pipeline
from pipelines.run.stages import STAGES

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _pipeline(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.yaml"
    path.write_text(text)
    return path


def _run(path: Path, tmp_path_factory):
    """The pipeline with its own ingest cache (module fixtures outlive the per-test one)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURAUG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        return run_pipeline(path)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The sample digits through every stage but the ablation, with a tiny training run."""
    folder = tmp_path_factory.mktemp("digits")
    path = _pipeline(folder, f"""out: out
source: {SAMPLE / 'images'}
label: label
rules: {SAMPLE / 'digits.rules.yaml'}
split: {{ratios: [0.6, 0.2, 0.2], folds: 0, seed: 0}}
augment:
  modality: image
  copies: 1
  transforms: [{{HorizontalFlip: {{p: 0.5}}}}, {{Affine: {{rotate: [-10, 10], fill: 255, p: 0.8}}}}]
train: {{epochs: 2, width: 8, image_size: 16, device: cpu}}
""")
    result = _run(path, tmp_path_factory)
    assert result.success, result.failed
    return result


def _imgs(page: str, cls: str | None = None) -> list[str]:
    pattern = r"<img[^>]*class='" + cls + r"'[^>]*>" if cls else r"<img[^>]*>"
    return re.findall(pattern, page)


def test_the_run_writes_one_page_with_profile_checks_and_augmented_pairs(digits):
    page = (digits.out / "report.html").read_text(encoding="utf-8")
    assert "report" in digits.ran
    for heading in ("Stages", "Dataset profile", "Checks", "Augmentation", "Training", "Ablation"):
        assert f"<h2>{heading}" in page
    assert "PASSED: every check passed (2 warnings)" in page  # the truncated digit, and missing_values undeclared
    stages = re.search(r"<table id='stages'>.*?</table>", page, re.S).group()
    assert stages.count("<tr>") == len(STAGES)  # a header, then every stage but the report itself
    assert "<td>train</td><td>ran</td><td>ok</td>" in stages
    assert "<b>144</b> rows, 4 classes" in page and "1 corrupt" in page and "8/truncated_digit.png" in page
    assert "144 rows in, 141 out." in page and "near-duplicate of 0/digit_0010.png" in page
    split = json.loads((digits.out / "split.json").read_text())
    classes = re.search(r"<table id='classes'>.*?</table>", page, re.S).group()
    for cls, counts in split["per_class"].items():
        assert (f"<td>{cls}</td><td class='num'>{counts['train']}</td><td class='num'>{counts['val']}</td>"
                f"<td class='num'>{counts['test']}</td><td class='num'>{sum(counts.values())}</td>") in classes
    for name in ("validation", "splits.validation"):
        checks = json.loads((digits.out / f"{name}.json").read_text())["checks"]
        table_id = "checks-validate" if name == "validation" else "checks-validate_splits"
        table = re.search(f"<table id='{table_id}'>.*?</table>", page, re.S).group()
        assert table.count("<tr class='check'>") == len(checks)
    assert len(_imgs(page, "pair-img")) == 12  # up to 12 pairs, one strip (source | augmented) each
    assert "id='split-balance'" in page and page.count("alt='drift per feature'") == 3
    assert "Not shown: the ablation stage did not run." in page


def test_a_real_training_run_gives_its_curves_confusion_and_per_class_figures(digits):
    metrics = json.loads((digits.out / "train" / "metrics.json").read_text())
    page = (digits.out / "report.html").read_text(encoding="utf-8")
    assert f"test accuracy <b>{metrics['test']['accuracy']:.3f}</b>" in page
    assert "<img id='curves'" in page
    for split in ("test", "val"):
        assert f"<img id='confusion-{split}'" in page
        table = re.search(f"<table id='per-class-{split}'>.*?</table>", page, re.S).group()
        assert table.count("<tr>") == 1 + len(metrics[split]["labels"])
        support = re.findall(r"<td class='num'>(\d+)</td></tr>", table)
        assert sum(map(int, support)) == sum(map(sum, metrics[split]["confusion"]))
    assert f"<h3>Activations (epoch {metrics['histograms']['epoch']})</h3>" in page


def test_each_pair_shows_its_source_and_the_drawn_parameters(digits):
    made = pd.read_parquet(digits.out / "augmented" / "manifest.parquet")
    made = made[made["source_id"].notna()]
    page = (digits.out / "report.html").read_text(encoding="utf-8")
    pairs = re.findall(r"<div class='pair'>.*?</div>", page, re.S)
    assert len(pairs) == 12
    for pair in pairs:
        aug_id = re.search(r"<b>([^<]+)</b> \(label", pair).group(1)
        row = made[made["id"] == aug_id].iloc[0]
        assert pair.startswith(f"<div class='pair'><p>{row['source_id']} → ")
        applied = json.loads(row["augment"])["applied"]
        assert [name for name in re.findall(r"<li><b>([^<]+)</b>", pair)] == [a["name"] for a in applied]
        for step in applied:
            if step["name"] == "Affine":
                assert f"rotate={round(step['drawn']['rotate'], 3)}" in pair
                assert "matrix" not in pair  # matrices follow from the angle shown
        strip = _decode(_imgs(pair)[0])
        assert strip.shape[0] == 96 and strip.shape[1] == 96 * 2 + 8  # 32 px digits, both sides shown


def _decode(img_tag: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    data = re.search(r"src='data:image/png;base64,([^']+)'", img_tag).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_the_page_needs_no_network(digits):
    page = (digits.out / "report.html").read_text(encoding="utf-8")
    tags = re.findall(r"<[a-z][^>]*>", page)
    assert all("http://" not in t and "https://" not in t for t in tags)
    assert "<script" not in page and "<link" not in page and "url(" not in page
    srcs = re.findall(r"src='([^']*)'", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def _train_files(out: Path) -> dict:
    """A training run's outputs (the shape of DESIGN.md 'Training run'), on real sample ids."""
    train = out / "train"
    train.mkdir(exist_ok=True)
    from pipelines.report.html import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [0.9, 0.5, 0.3], color="#2ca02c", linewidth=4)
    fig.savefig(train / "curves.png")
    plt.close(fig)
    pd.DataFrame({"id": ["7/digit_0182.jpg", "1/digit_0186.jpg"], "label": ["7", "1"], "prediction": ["1", "7"],
                  "loss": [0.4, 2.5], "confidence": [0.6, 0.9]}).to_csv(train / "errors.csv", index=False)
    per_class = {c: {"precision": p, "recall": r, "f1": f, "support": s}
                 for c, p, r, f, s in [("0", 1.0, 1.0, 1.0, 9), ("1", 0.9, 0.889, 0.894, 9),
                                       ("7", 0.833, 0.833, 0.833, 6), ("8", 1.0, 1.0, 1.0, 4)]}
    evaluation = {"accuracy": 0.929, "loss": 0.2, "per_class": per_class, "labels": ["0", "1", "7", "8"],
                  "confusion": [[9, 0, 0, 0], [0, 8, 1, 0], [0, 1, 5, 0], [0, 0, 0, 4]]}
    metrics = {"device": "cpu", "model": "cnn", "best_epoch": 3, "stopped_epoch": 3, "test": evaluation,
               "val": evaluation, "history": [], "errors": {"failed": 2, "shown": 2, "top_confusions": [
                   {"label": "1", "prediction": "7", "count": 1}, {"label": "7", "prediction": "1", "count": 1}]},
               "histograms": {"epoch": 3, "dead_relu": {"blocks.0.2": 0.02, "blocks.1.2": 0.97},
                              "flagged": ["blocks.1.2"]}}
    return {"status": "ok", "ran": True, "seconds": 3.2, "summary": "test accuracy 0.929",
            "outputs": {"train/": str(train)}, "figures": metrics}


ABLATION = {"metric": "val", "seeds": [0, 1, 2],
            "with": {"accuracy": [0.93, 0.9, 0.96], "mean": 0.93, "std": 0.03,
                     "per_class_f1": {"0": {"mean": 0.97, "std": 0.01}, "<b>8</b>": {"mean": 0.81, "std": 0.05}}},
            "without": {"accuracy": [0.82, 0.79, 0.85], "mean": 0.82, "std": 0.03,
                        "per_class_f1": {"0": {"mean": 0.95, "std": 0.02}, "<b>8</b>": {"mean": 0.52, "std": 0.11}}},
            "difference": {"mean": 0.11, "std": 0.0, "per_seed": [0.11, 0.11, 0.11]},
            "paired_test": {"name": "paired t-test", "statistic": 19.05, "pvalue": 0.0027},
            "verdict": "helps",
            "arms": {"none": {"accuracy": [0.82, 0.79, 0.85], "mean": 0.82, "std": 0.03},
                     "offline": {"accuracy": [0.93, 0.9, 0.96], "mean": 0.93, "std": 0.03},
                     "online": {"accuracy": [0.95, 0.9, 0.97], "mean": 0.94, "std": 0.036}},
            "winner": {"arm": "online", "mean": 0.94, "std": 0.036, "verdict": "no clear winner",
                       "against": {"none": {"difference": 0.12, "pvalue": 0.004},
                                   "offline": {"difference": 0.01, "pvalue": 0.42}}}}


@pytest.fixture(scope="module")
def full(digits, tmp_path_factory):
    """The digits run plus training and ablation figures: every section of the page."""
    out = tmp_path_factory.mktemp("full") / "out"
    shutil.copytree(digits.out, out)
    stages = {name: {**s, "outputs": {k: v.replace(str(digits.out), str(out)) for k, v in s["outputs"].items()}}
              for name, s in digits.stages.items()}
    stages["train"] = _train_files(out)
    stages["ablation"] = {"status": "ok", "ran": True, "seconds": 9.0, "summary": "helps",
                          "outputs": {"ablation.json": str(out / "ablation.json")}, "figures": ABLATION}
    return write_pipeline_report(out, stages)


def test_after_a_search_the_training_section_says_whose_curves_and_val_figures_they_are(digits, tmp_path):
    """Issue 22 item 11: after a search the page showed the retrain's curves as "the"
    curves and "Activations (epoch 1)"; now it names the chosen trial and the retrain."""
    out = tmp_path / "out"
    shutil.copytree(digits.out, out)
    stages = {name: {**s, "outputs": {k: v.replace(str(digits.out), str(out)) for k, v in s["outputs"].items()}}
              for name, s in digits.stages.items()}
    stages["train"] = _train_files(out)
    metrics = stages["train"]["figures"]
    metrics["retrain"] = {"splits": ["train", "val"], "rows": 28, "epochs": 3, "trial": 2, "fits": 3}
    metrics["val"] = {**metrics["val"], "held_out": {"trial": 2, "fits": 3, "rows": 28}}
    metrics["warnings"] = ["class '8' is in test (4 rows) but not in train: the model cannot learn it"]
    metrics["search"] = {"best": {"trial": 2, "cv_mean": 0.93, "interval": {"accuracy": [0.765, 0.991],
                                                                             "confidence": 0.95},
                                  "runner_up": {"trial": 0, "cv_mean": 0.89, "paired_test": {
                                      "only_a": 2, "only_b": 1, "pvalue": 1.0, "shows": False}}}}
    page = write_pipeline_report(out, stages).read_text(encoding="utf-8")
    assert ("<p id='search-lead'>best trial 2 vs the next best, trial 0 (cv 0.890): 2 rows only trial 2 got right, "
            "1 only trial 0 (exact McNemar p = 1.000): not a lead these rows can show; 95 % interval of the best "
            "0.765-0.991.</p>") in page
    summary = re.search(r"<p id='train-summary'>(.*?)</p>", page).group(1)
    assert summary.startswith("cnn on cpu: search trial 2&#x27;s setting retrained 3 epochs on train+val (28 rows); "
                              "val accuracy <b>0.929</b> (search trial 2&#x27;s out-of-fold predictions, 28 rows "
                              "over 3 folds); test accuracy <b>0.929</b>")
    assert ("<h3>Curves of search trial 2 (mean of its 3 folds; the final model: 3 epochs on train+val, "
            "no val left)</h3>") in page
    assert "<h3>val: accuracy 0.929 (search trial 2&#x27;s out-of-fold predictions" in page
    assert "<h3>test: accuracy 0.929</h3>" in page
    assert "<h3>Activations (epoch 3 of the final retrain)</h3>" in page
    assert "<p class='warn'>warning: class &#x27;8&#x27; is in test (4 rows) but not in train" in page


def test_training_section_shows_curves_confusion_per_class_and_the_hardest(full):
    page = full.read_text(encoding="utf-8")
    assert "val accuracy <b>0.929</b>; test accuracy <b>0.929</b>" in page
    curves = _decode(re.search(r"<img id='curves'[^>]*>", page).group())
    assert ((curves[..., 1] > 120) & (curves[..., 0] < 80)).sum() > 50  # the green line of the PNG we wrote
    for split in ("test", "val"):
        heat = _decode(re.search(f"<img id='confusion-{split}'[^>]*>", page).group())
        assert heat.shape[0] > 100 and (heat[..., 2].astype(int) - heat[..., 0] > 80).sum() > 500  # blue cells
        table = re.search(f"<table id='per-class-{split}'>.*?</table>", page, re.S).group()
        assert ("<td>1</td><td class='num'>0.9</td><td class='num'>0.889</td><td class='num'>0.894</td>"
                "<td class='num'>9</td>") in table
    hardest = re.search(r"<table class='thumbs' id='hardest-errors'>.*?</table>", page, re.S).group()
    ids = re.findall(r"<td>(\d/digit_\d+\.jpg)</td>", hardest)
    assert ids == ["1/digit_0186.jpg", "7/digit_0182.jpg"]  # highest loss first
    assert len(_imgs(hardest)) == 2  # a thumbnail each (both are sample images)
    assert "Most confused: 1 → 7 (1), 7 → 1 (1)" in page
    assert "1 layer flagged: blocks.1.2." in page and "FLAGGED: mostly dead" in page


def test_ablation_section_gives_both_arms_the_test_and_the_verdict(full):
    page = full.read_text(encoding="utf-8")
    sentence = re.search(r"<p id='ablation-verdict'[^>]*>(.*?)</p>", page).group(1)
    assert sentence == ("Augmentation helps: val accuracy 0.93 ± 0.03 with vs 0.82 ± 0.03 without "
                        "(difference +0.11 ± 0 over 3 seeds; paired t-test statistic 19.1, p = 0.0027).")
    seeds = re.search(r"<table id='ablation-seeds'>.*?</table>", page, re.S).group()
    assert "<td class='num'>2</td><td class='num'>0.96</td><td class='num'>0.85</td>" in seeds
    f1 = re.search(r"<table id='ablation-f1'>.*?</table>", page, re.S).group()
    assert "<td>&lt;b&gt;8&lt;/b&gt;</td><td>0.81 ± 0.05</td><td>0.52 ± 0.11</td>" in f1
    plot = _decode(re.search(r"<img id='ablation-plot'[^>]*>", page).group())
    orange = (plot[..., 0] > 200) & (plot[..., 1] > 150) & (plot[..., 1] < 220) & (plot[..., 2] < 190)
    assert orange.sum() > 300  # the 'without' bar (#f58518 at 35%) is drawn


def test_ablation_section_names_the_best_of_none_offline_and_online_with_its_paired_tests(full):
    page = full.read_text(encoding="utf-8")
    sentence = re.search(r"<p id='ablation-winner' class='verdict warn'>(.*?)</p>", page).group(1)
    assert sentence == ("Best on val: online has the best mean, but no clear win, accuracy 0.94 ± 0.036 "
                        "(paired t-test against none +0.12, p = 0.004; against offline +0.01, p = 0.42).")
    arms = re.search(r"<table id='ablation-arms'>.*?</table>", page, re.S).group()
    assert "<th>seed</th><th>none</th><th>offline</th><th>online</th>" in arms
    assert "<td class='num'>2</td><td class='num'>0.85</td><td class='num'>0.96</td><td class='num'>0.97</td>" in arms


def test_text_pairs_are_word_diffs_with_markup_escaped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    rows = [{"text": f"<b>bold</b> {words[i % 6]} and {words[(i + 1) % 6]} go here {i}", "label": "ab"[i % 2]}
            for i in range(40)]
    pd.DataFrame(rows).to_csv(folder / "texts.csv", index=False)
    path = _pipeline(folder, """out: out
source: texts.csv
label: label
modality: text
split: {ratios: [0.6, 0.2, 0.2], folds: 0, seed: 0}
augment: {modality: text, copies: 1, transforms: [{word_noise: {action: swap, aug_p: 0.5}}]}
""")
    result = _run(path, tmp_path_factory)
    page = (result.out / "report.html").read_text(encoding="utf-8")
    diffs = re.findall(r"<p class='diff'>(.*?)</p>", page)
    assert len(diffs) == 12 and not _imgs(page, "pair-img")
    assert all("&lt;b&gt;bold&lt;/b&gt;" in d for d in diffs)  # kept, deleted or inserted: escaped
    assert "<b>bold" not in page
    assert sum("<ins>" in d and "<del>" in d for d in diffs) >= 6  # swapped words: one goes, one comes
    assert "<li><b>word_noise</b>" in page


def test_audio_pairs_are_spectrograms_side_by_side(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    # the sample clips hold one planted duplicate, and 35 clips cannot split within the default
    # ratio tolerance: allow both
    (folder / "rules.yaml").write_text("dataset:\n  max_duplicate_fraction: 0.05\n"
                                       "splits:\n  all_classes_in_each: true\n")
    path = _pipeline(folder, f"""out: out
source: {SAMPLE / 'audio'}
label: label
rules: rules.yaml
split: {{ratios: [0.6, 0.2, 0.2], folds: 0, seed: 0}}
augment: {{modality: audio, copies: 1, transforms: [{{gain: {{db: [-6, 6]}}}}]}}
""")
    result = _run(path, tmp_path_factory)
    page = (result.out / "report.html").read_text(encoding="utf-8")
    strips = [_decode(img) for img in _imgs(page, "pair-img")]
    assert len(strips) == 12
    for strip in strips:
        side = (strip.shape[1] - 8) // 2  # gain keeps the length: two spectrograms of one width
        assert strip.shape[0] == 96 and side > 48  # clips of 0.5 s and more at 160 px/s
        assert (strip[:, side:side + 8] == 255).all() and (strip[:, :side] != 255).any(axis=2).all()
        assert strip[..., 1].std() > 20  # viridis shades, not a blank picture
    assert re.search(r"<li><b>gain</b> \{db=-?\d", page)


def test_a_failed_validation_still_gets_its_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("failed")
    (folder / "rules.yaml").write_text("dataset:\n  min_rows: 1000\n")
    path = _pipeline(folder, f"""out: out
source: {SAMPLE / 'images'}
label: label
rules: rules.yaml
split: {{ratios: [0.6, 0.2, 0.2], folds: 0, seed: 0}}
""")
    result = _run(path, tmp_path_factory)
    assert not result.success and result.failed == "validate"
    page = (result.out / "report.html").read_text(encoding="utf-8")
    assert "FAILED: validate failed" in page
    assert "<td class='fail'>FAIL</td><td>min_rows</td>" in page
    assert "Not shown: the augment stage did not run." in page
    assert "<td>split</td><td>not run</td>" in page


def test_missing_and_odd_files_are_named_and_the_page_is_still_written(digits, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stages = {"ingest": {**digits.stages["ingest"], "figures": None},
              "augment": {**digits.stages["augment"], "figures": None},
              "train": {"status": "ok", "ran": True, "seconds": 1.0, "summary": "", "outputs": {},
                        "figures": {"model": "mlp", "test": {"accuracy": 0.5}}},
              "ablation": {"status": "ok", "ran": True, "seconds": 1.0, "summary": "", "outputs": {},
                           "figures": {"seeds": [0]}}}
    page = write_pipeline_report(out, stages).read_text(encoding="utf-8")
    assert "ingest.json is missing: no profile to show." in page
    assert "augmented/manifest.parquet is missing: no samples to show." in page
    assert "train/curves.png is missing." in page
    assert "<h2>Checks</h2>" in page and "Not shown: the validate and validate_splits stage did not run." in page
    assert "the test evaluation could not be drawn from the run&#x27;s files (KeyError: &#x27;labels&#x27;)" in page
    assert "the ablation section could not be drawn from the run&#x27;s files (KeyError: &#x27;with&#x27;)" in page
    assert page.endswith("</body></html>")


def test_the_same_stages_give_the_same_page(digits):
    assert render_pipeline_report(digits.out, digits.stages) == (digits.out / "report.html").read_text("utf-8")


@pytest.mark.skipif(not BROWSER and not os.environ.get("CURAUG_REQUIRE_BROWSER"),
                    reason="Debian's chromium is not installed (CI installs it)")
def test_report_renders_in_headless_chromium(full, tmp_path):
    from PIL import Image

    assert BROWSER, "CURAUG_REQUIRE_BROWSER is set but chromium is missing"
    shot = tmp_path / "shot.png"
    height = 12000  # taller than the page, so the whole page is drawn and white space closes it
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", f"--window-size=1200,{height}",
                    f"--screenshot={shot}", full.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (height, 1200)
    assert pixels.std() > 30  # text and plots drawn, not a blank page
    drawn = np.flatnonzero((pixels.sum(axis=2) < 700).any(axis=1))
    assert 6000 < drawn.max() < height - 200  # the page's own height: long, and all of it drawn
    bottom = pixels[drawn.max() - 1500:drawn.max()]
    orange = (bottom[..., 0] > 200) & (bottom[..., 1] > 150) & (bottom[..., 1] < 220) & (bottom[..., 2] < 190)
    assert orange.sum() > 300  # the ablation plot, the page's last figure, is painted from its PNG


def test_a_word_diff_marks_what_went_and_came_and_escapes_every_word():
    from pipelines.report.pipeline_samples import _text_diff

    assert _text_diff("keep <b>this</b> and that <i>", "keep <b>this</b> or that <i> & more") == (
        "<p class='diff'>keep &lt;b&gt;this&lt;/b&gt; <del>and</del> <ins>or</ins> that &lt;i&gt; "
        "<ins>&amp; more</ins></p>")
