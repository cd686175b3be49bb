"""Dataset cards (issue 25 §3): ``curaug card`` and the ``card`` stage of ``curaug run``.

Every figure the card shows is checked against the JSON (or the computation) it came from;
what curaug did not measure is absent; bad input is one error line and no file."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import SAMPLE, one_error_line

from curate.api import profile, validate
from curate.card import write_card
from curate.card.facts import content_digest
from pipelines.run.runner import run_pipeline


def _header_and_body(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    _, meta, body = text.split("---\n", 2)
    return yaml.safe_load(meta), body


def _section(body: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", body, re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def _table(text: str, first: str) -> list[list[str]]:
    """The rows (cells without code marks) of the Markdown table whose header starts with ``first``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().strip("`") for c in line.strip("|").split(" | ")])
    return rows


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sample digits through rules, clean, split, augment, one epoch of training and the card."""
    folder = tmp_path_factory.mktemp("digits")
    (folder / "pipeline.yaml").write_text(f"""out: out
source: {SAMPLE / 'images'}
label: label
rules: {SAMPLE / 'digits.rules.yaml'}
split: {{ratios: [0.6, 0.2, 0.2], seed: 3}}
augment: {{modality: image, copies: 1, transforms: [{{HorizontalFlip: {{p: 0.5}}}}]}}
train: {{epochs: 1, width: 8, image_size: 16, device: cpu}}
card: {{license: cc-by-4.0, description: "Handwritten digits from UCI, upscaled."}}
""")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURAUG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        result = run_pipeline(folder / "pipeline.yaml")
    assert result.success, result.failed
    assert "card" in result.ran
    return result.out


def _json(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text(encoding="utf-8"))


def test_the_header_is_a_hugging_face_card_whose_configs_name_the_split_files(run):
    meta, _ = _header_and_body((run / "card.md").read_text(encoding="utf-8"))
    split = _json(run, "split.json")
    assert meta["license"] == "cc-by-4.0"
    assert meta["task_categories"] == ["image-classification"]
    assert meta["size_categories"] == ["n<1K"]
    (config,) = meta["configs"]
    assert config["config_name"] == "default"
    assert [f["split"] for f in config["data_files"]] == ["train", "val", "test"]
    for entry in config["data_files"]:
        rows = pd.read_parquet(run / entry["path"])
        assert len(rows) == split["sizes"][entry["split"]]
        assert set(rows["split"]) == {entry["split"]}


def test_provenance_and_composition_figures_come_from_ingest_and_the_profile(run):
    _, body = _header_and_body((run / "card.md").read_text(encoding="utf-8"))
    assert body.lstrip().startswith("# Dataset card: split.parquet\n\nHandwritten digits from UCI, upscaled.\n")
    ingest = _json(run, "ingest.json")
    data = pd.read_parquet(run / "split.parquet")
    facts = profile(run / "split.parquet", label="label")
    prov = _section(body, "Provenance")
    assert f"- Source: `{ingest['source']}` (folder)" in prov and f"{ingest['rows']} rows ingested" in prov
    assert f"`{content_digest(data)['sha256']}`" in prov
    formats = dict(_table(prov, "format"))
    suffixes = data["path"].str.extract(r"(\.\w+)$")[0].str.lower()
    assert {k: int(v) for k, v in formats.items()} == suffixes.value_counts().to_dict()
    assert _table(prov, "id") == [[r["id"], r["reason"]] for r in facts["status"]["corrupt_rows"]]
    comp = _section(body, "Composition")
    assert comp.lstrip().startswith(f"{facts['rows']} rows, {len(facts['columns'])} columns.")
    columns = {row[0]: row for row in _table(comp, "column")}
    for c in facts["columns"]:
        assert columns[c["name"]][1:4] == [c["dtype"], str(c["missing"]), _pct(c["missing_fraction"])]
    label = facts["label"]
    assert f"{label['n_classes']} classes, imbalance ratio {label['imbalance_ratio']:.4g}" in comp
    assert _table(comp, "class | rows") == [[c, str(n), _pct(label["shares"][c])] for c, n in label["counts"].items()]
    per_split = {row[0]: row[1:] for row in _table(comp, "class | train")}
    for cls, counts in _json(run, "split.json")["per_class"].items():
        assert per_split[cls] == [str(counts[s]) for s in ("train", "val", "test")]
    assert per_split["**all rows**"] == [str(n) for n in _json(run, "split.json")["sizes"].values()]
    balance = {c["observed"]["split"]: c["observed"]["imbalance_ratio"]
               for c in _json(run, "splits.validation.json")["checks"] if c["name"] == "class_balance"}
    assert per_split["**imbalance ratio**"] == [f"{balance[s]:.4g}" for s in ("train", "val", "test")]


def test_preprocessing_splits_augmentation_and_limitations_come_from_the_run_files(run):
    _, body = _header_and_body((run / "card.md").read_text(encoding="utf-8"))
    clean = _json(run, "clean.json")
    pre = _section(body, "Preprocessing")
    assert f"{clean['rows_in']} rows in, {clean['rows_out']} out." in pre
    assert [(r[1], int(r[3])) for r in _table(pre, "#")] == [(e["step"], e["rows_dropped"]) for e in clean["log"]]
    split = _json(run, "split.json")
    total = sum(split["sizes"].values())
    splits = _section(body, "Splits")
    assert "ratios requested 0.6, 0.2, 0.2 (train, val, test), seed 3." in splits
    assert ("- Achieved: " + ", ".join(f"{s} {n} rows ({_pct(n / total)})" for s, n in split["sizes"].items())
            + ".") in splits
    checks = _json(run, "splits.validation.json")["checks"]
    leakage = {row[0]: row[1] for row in _table(splits, "check | result")}
    for c in checks:
        if c["name"] in ("split_ratios", "duplicates_across_splits", "classes_in_every_split"):
            assert leakage[c["name"]] == ("passed" if c["success"] else "FAILED")
    assert len(_table(splits, "check | splits")) == sum(c["name"] == "drift" for c in checks)
    made = _json(run, "augment.json")
    aug = _section(body, "Augmentation and baseline")
    assert f"- {made['made']} samples made from {made['train_rows']} train rows" in aug
    assert "HorizontalFlip" in aug and "Ablation" not in aug  # no ablation ran: left out
    metrics = _json(run, "train/metrics.json")
    assert f"test accuracy {metrics['test']['accuracy']:.4g} on {metrics['rows']['test']} test rows" in aug
    limits = _section(body, "Known limitations")
    failed = [c for name in ("validation.json", "splits.validation.json") for c in _json(run, name)["checks"]
              if not c["success"]]
    assert failed and limits.count("\n- ") + limits.startswith("- ") == len(failed)
    for c in failed:
        assert f"`{c['name']}`" in limits
    assert "Bias" not in body  # the digits have no sensitive attribute: nothing measured, nothing said


def test_the_report_shows_the_card_as_a_section(run):
    page = (run / "report.html").read_text(encoding="utf-8")
    section = re.search(r"<section id='card'>(.*?)</section>", page, re.S).group(1)
    assert "license: cc-by-4.0" in section and "<h4>Known limitations</h4>" in section
    assert "<h4>Provenance</h4>" in section
    markdown = (run / "card.md").read_text(encoding="utf-8")
    assert section.count("<table>") == markdown.count("\n|---") > 5  # every Markdown table drawn as one
    assert section.count("<h4>") == markdown.count("\n## ")


def test_an_ablation_in_the_run_folder_gives_its_verdict(run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(run, out)
    ablation = {"metric": "val", "seeds": [0, 1, 2], "with": {"mean": 0.93}, "without": {"mean": 0.82},
                "difference": {"mean": 0.11}, "paired_test": {"name": "paired t-test", "pvalue": 0.0027},
                "verdict": "helps"}
    (out / "ablation.json").write_text(json.dumps(ablation))
    state = _json(out, ".curaug/stages.json")
    digest = hashlib.sha256((out / "ablation.json").read_bytes()).hexdigest()
    state["stages"]["ablation"] = {"settings": {"ablation": {"seeds": 3}}, "outputs": {"ablation.json": digest}}
    (out / ".curaug" / "stages.json").write_text(json.dumps(state))
    card = write_card(out / "split.parquet", tmp_path / "card" / "README.md")
    assert ("- Ablation over 3 seeds (val accuracy): 0.930 with augmentation, 0.820 without (difference +0.110, "
            "paired t-test p = 0.0027): augmentation **helps**.") in card.read_text(encoding="utf-8")


def test_a_figures_file_its_stage_did_not_write_is_not_read(run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(run, out)
    (out / "ablation.json").write_text(json.dumps({"verdict": "helps"}))  # no stage recorded it
    split = _json(out, "split.json")
    split["max_class_proportion_deviation"] = 0.5  # hand-edited: not the bytes the split stage wrote
    (out / "split.json").write_text(json.dumps(split))
    body = write_card(out / "split.parquet", tmp_path / "card.md").read_text(encoding="utf-8")
    assert "Ablation" not in body and "Largest gap" not in body and "`split.json`" not in body
    assert "- Achieved: train 84 rows" in body  # measured on the data itself


def test_a_stage_removed_from_the_pipeline_file_is_not_in_the_card(run, tmp_path):
    folder = tmp_path / "p"
    shutil.copytree(run.parent, folder)
    text = (folder / "pipeline.yaml").read_text()
    (folder / "pipeline.yaml").write_text("\n".join(line for line in text.splitlines()
                                                      if not line.startswith(("augment:", "train:"))) + "\n")
    result = run_pipeline(folder / "pipeline.yaml")
    assert result.success and result.ran == ["card", "report"], result.ran
    body = (folder / "out" / "card.md").read_text(encoding="utf-8")
    assert (folder / "out" / "augment.json").is_file()  # left by the earlier run...
    assert "## Augmentation" not in body and "augment.json" not in body  # ...and not read


PENGUIN_RULES = """label: species
group: individual_id
sensitive: [sex]
dataset:
  min_rows: 100
  bias: {max_parity_difference: 0.3}
clean:
  - drop_duplicates: {}
  - anonymize: {columns: [notes], entities: [email, phone]}
  - missing: {strategy: impute_mode, columns: [sex]}
"""


def test_a_penguins_run_card_shows_pii_scrubbed_fitted_statistics_groups_and_bias(tmp_path):
    (tmp_path / "rules.yaml").write_text(PENGUIN_RULES)
    (tmp_path / "pipeline.yaml").write_text(f"out: out\nsource: {SAMPLE / 'penguins.csv'}\nlabel: species\n"
                                            "rules: rules.yaml\nsplit: {ratios: [0.6, 0.2, 0.2], seed: 0}\ncard: {}\n")
    result = run_pipeline(tmp_path / "pipeline.yaml")
    assert result.success, result.failed
    out = tmp_path / "out"
    meta, body = _header_and_body((out / "card.md").read_text(encoding="utf-8"))
    assert "license" not in meta and meta["task_categories"] == ["tabular-classification"]
    pre = _section(body, "Preprocessing")
    (scrub,) = [e for e in _json(out, "clean.json")["log"] if e["action"] == "anonymize"]
    assert "PII replaced: " + ", ".join(f"{n} {k}" for k, n in scrub["entities"].items()) in pre
    (imputed,) = _json(out, "clean_fitted.json")["log"]
    assert f"fitted on {imputed['fit_on']} rows ({imputed['fitted_rows']})" in pre
    split = _json(out, "split.json")
    splits = _section(body, "Splits")
    assert "groups of `individual_id` kept whole" in splits
    assert "- Groups per split: " + ", ".join(f"{s} {n}" for s, n in split["groups_per_split"].items()) in splits
    (bias,) = [c for c in _json(out, "validation.json")["checks"] if c["name"] == "bias"]
    section = _section(body, "Bias and label noise")
    assert f"parity difference {bias['observed']['parity_difference']:.4g}" in section and "**passed**" in section
    groups = {row[0]: row for row in _table(section, "group")}
    for name, g in bias["observed"]["groups"].items():
        assert groups[repr(name) if name != name.strip() else name][1:3] == [str(g["count"]), _pct(g["share"])]


def test_a_table_card_from_the_cli_shows_bias_and_every_failed_check(cli, tmp_path):
    out = tmp_path / "card" / "README.md"
    result = cli("card", SAMPLE / "penguins.csv", "--rules", SAMPLE / "penguins.rules.yaml", "--license", "cc0-1.0",
                 "-o", out)
    assert result.code == 0, result.err
    meta, body = _header_and_body(out.read_text(encoding="utf-8"))
    assert meta == {"license": "cc0-1.0", "task_categories": ["tabular-classification"],
                    "size_categories": ["n<1K"]}  # no split column: no configs
    assert [h for h in re.findall(r"^## (.*)$", body, re.M)] == ["Provenance", "Composition", "Bias and label noise",
                                                                  "Known limitations"]
    checks = validate(SAMPLE / "penguins.csv", SAMPLE / "penguins.rules.yaml").to_dict()["checks"]
    (bias,) = [c for c in checks if c["name"] == "bias"]
    groups = {row[0]: row for row in _table(_section(body, "Bias and label noise"), "group")}
    for name, g in bias["observed"]["groups"].items():
        rates = [_pct(g["label_rates"][c]) for c in sorted(g["label_rates"])]
        shown = repr(name) if name != name.strip() else name  # "F ": the trailing space is the finding
        assert groups[shown][1:] == [str(g["count"]), _pct(g["share"]), *rates]
    assert f"parity difference {bias['observed']['parity_difference']:.4g}" in body
    limits = _section(body, "Known limitations")
    for c in checks:
        if not c["success"]:
            assert f"`{c['name']}` on `{c['column']}`" in limits if c["column"] else f"`{c['name']}`" in limits
    assert limits.count("**FAILED**") == sum(not c["success"] and c["severity"] == "error" for c in checks)
    assert limits.count("**warning**") == sum(not c["success"] and c["severity"] == "warn" for c in checks)


def test_a_table_cleaned_by_curaug_clean_names_its_normaliser(cli, tmp_path):
    cleaned = tmp_path / "clean" / "penguins.parquet"
    assert cli("clean", SAMPLE / "penguins.csv", "--rules", SAMPLE / "penguins.normalize.yaml", "-o", cleaned).code == 0
    params = json.loads((tmp_path / "clean" / "penguins.normalize.json").read_text())
    out = tmp_path / "card.md"
    assert cli("card", cleaned, "--label", "species", "-o", out).code == 0
    pre = _section(_header_and_body(out.read_text(encoding="utf-8"))[1], "Preprocessing")
    assert (f"- Normaliser `{params['method']}` on " + ", ".join(f"`{c}`" for c in params["columns"])
            + f": fitted on {params['fit_on']} rows") in pre


def test_label_noise_suspects_are_those_the_label_issues_check_found(cli, tmp_path):
    rules = {"label": "species", "dataset": {"label_issues": {"max_fraction": 0.5}, "conflicting_labels": {}}}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    out = tmp_path / "card.md"
    assert cli("card", SAMPLE / "penguins.csv", "--rules", tmp_path / "rules.yaml", "-o", out).code == 0
    section = _section(_header_and_body(out.read_text(encoding="utf-8"))[1], "Bias and label noise")
    checks = {c["name"]: c for c in validate(SAMPLE / "penguins.csv", rules).to_dict()["checks"]}
    found = checks["label_issues"]["observed"]
    assert found["suspects"]  # the sample has one: a Chinstrap the out-of-fold model calls Adelie
    assert f"Label-noise suspects (`penguins.csv`): {found['issues']} ({_pct(found['fraction'])})" in section
    assert _table(section, "id") == [[s["id"], s["given"], s["suggested"], f"{s['self_confidence']:.4g}"]
                                     for s in found["suspects"]]
    conflicts = checks["conflicting_labels"]["observed"]
    assert f"{conflicts['conflicting_groups']} groups, {conflicts['rows']} rows" in section


@pytest.mark.parametrize("table, task", [("text.csv", "text-classification"),
                                         ("penguins.csv", "tabular-classification")])
def test_a_tables_task_is_what_ingest_would_make_of_it(tmp_path, table, task):
    """A table without a modality column holds text when it has a ``text`` column (curaug ingest's rule)."""
    meta, _ = _header_and_body(write_card(SAMPLE / table, tmp_path / "card.md", label="label" if table == "text.csv"
                                          else "species").read_text(encoding="utf-8"))
    assert meta["task_categories"] == [task]


def test_markup_in_the_data_is_text_in_the_card_and_the_report(tmp_path):
    from pipelines.report.card import markdown_html, split_card

    data = tmp_path / "t.csv"
    pd.DataFrame({"x": range(8), "label": ["a|b", "<i>c</i>"] * 4}).to_csv(data, index=False)
    card = write_card(data, tmp_path / "out" / "card.md")
    _, body = split_card(card.read_text(encoding="utf-8"))
    rows = _table(body, "class | rows")
    assert sorted(r[0] for r in rows) == ["<i>c</i>", "a\\|b"] and all(len(r) == 3 for r in rows)
    page = markdown_html(body)
    assert "<i>c</i>" not in page and "&lt;i&gt;c&lt;/i&gt;" in page


@pytest.mark.parametrize("case", ["missing data", "data is a folder", "data is a partitioned table",
                                  "output is a folder", "output among the media", "unknown label", "output is the data"])
def test_bad_input_is_one_error_line_and_no_file(cli, run, tmp_path, case):
    data, out, extra = run / "split.parquet", tmp_path / "card.md", []
    if case == "missing data":
        data = tmp_path / "nope.parquet"
    elif case == "data is a folder":
        data = run
    elif case == "data is a partitioned table":
        data = tmp_path / "parts"
        pd.read_parquet(run / "split.parquet").to_parquet(data, partition_cols=["split"])
    elif case == "output is a folder":
        out = tmp_path
    elif case == "output among the media":
        out = SAMPLE / "images" / "card.md"
    elif case == "unknown label":
        extra = ["--label", "lable"]
    else:
        out = data
    before = data.read_bytes() if data.is_file() else None
    line = one_error_line(cli("card", data, *extra, "-o", out))
    expected = {"missing data": "no such file", "data is a folder": "is a folder; give a manifest or table file",
                "data is a partitioned table": "table file (a card of a partitioned table is not built yet)",
                "output is a folder": "is a folder",
                "output among the media": "is inside the data folder",
                "unknown label": "--label 'lable': no such column",
                "output is the data": "refusing to overwrite the data"}[case]
    assert expected in line, line
    if case != "output is a folder":
        assert not out.exists() or out == data
    assert not (tmp_path / "data").exists() and not (SAMPLE / "images" / "card.md").exists()
    if before is not None:
        assert data.read_bytes() == before


def test_a_card_that_cannot_be_rendered_leaves_the_old_one_untouched(run, tmp_path, monkeypatch):
    import curate.card.markdown

    out = tmp_path / "card.md"
    out.write_text("old card")

    def broken(*args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(curate.card.markdown, "render_card", broken)
    with pytest.raises(RuntimeError):
        write_card(run / "split.parquet", out)
    assert out.read_text() == "old card"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md"]  # nor a split file
