from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from conftest import one_error_line
from curate.clean.anonymize import scrub
from curate.clean.steps import clean
from curate.rules.schema import parse_rules

ALL = ["email", "phone", "ip", "credit_card", "iban", "url_credentials"]

# a labelled set: (text, entity it holds)
PII = [
    ("write to jane.doe+tag@mail.example.co.uk today", "email"), ("j.smith@uni.edu", "email"),
    ("call +44 20 7946 0958 now", "phone"), ("call +1 (555) 010-7788", "phone"), ("tel 020 7946 0958", "phone"),
    ("ring (212) 555-0187 tomorrow", "phone"), ("mobile 06 12 34 56 78", "phone"), ("call 0612345678", "phone"),
    ("+4915123456789", "phone"), ("server at 192.168.10.254 down", "ip"), ("v6 2001:db8::8a2e:370:7334 up", "ip"),
    ("link-local fe80::1ff:fe23:4567:890a", "ip"), ("card 4111 1111 1111 1111 expired", "credit_card"),
    ("pay 5500-0000-0000-0004", "credit_card"), ("amex 378282246310005", "credit_card"),
    ("iban GB82 WEST 1234 5698 7654 32 ok", "iban"), ("DE89370400440532013000", "iban"),
    ("see https://admin:hunter2@db.example.com/x", "url_credentials"), ("ftp://bob:pw@files.example.org/pub", "url_credentials"),
]
CLEAN = ["Meeting at 12:30:45 in room 101.", "Version 3.11.7 released in 2023.", "The year 1999 had 365 days.",
         "Scores: 12-10, 8-7.", "Adult not sampled.", "Ratio 3:2 and 16:9 screens.",
         "Card 4111 1111 1111 1112 fails its checksum.", "Visit https://example.com/path?q=1",
         "Price $1,234.56 for 3 items", "dated 2024-05-17", "route 66 and I-95", "at 10:00-11:00"]


def test_anonymisation_recall_and_no_changes_on_clean_text():
    texts = pd.Series([t for t, _ in PII] + CLEAN)
    out, counts, changed = scrub(texts, ALL)
    for (text, entity), new in zip(PII, out[: len(PII)]):
        assert f"<{entity.upper()}>" in new, (text, new)
    assert changed[: len(PII)].all()
    assert out[len(PII):].tolist() == CLEAN
    assert not changed[len(PII):].any()
    assert sum(counts.values()) == len(PII)


def test_hash_replacement_is_a_stable_pseudonym():
    texts = pd.Series(["mail a@b.org", "again a@b.org", "other c@d.org", None])
    out, _, changed = scrub(texts, ["email"], replace="hash", salt="s1")
    assert out[0].split()[-1] == out[1].split()[-1] != out[2].split()[-1]
    assert out[0].startswith("mail <EMAIL:") and pd.isna(out[3]) and changed.tolist() == [True, True, True, False]
    again, _, _ = scrub(texts, ["email"], replace="hash", salt="s2")
    assert again[0] != out[0]


def _run(df, steps, **extra):
    return clean(df, parse_rules({"clean": steps, **extra}))


def test_each_step_logs_its_counts(sample):
    df = pd.read_csv(sample / "penguins.csv")
    before = df.copy()
    res = clean(df, parse_rules(json.loads(json.dumps({"label": "species", "clean": [
        {"standardize_columns": {"mappings": {"sex": {"male": ["M"], "female": ["F"]}}}},
        {"drop_duplicates": {}},
        {"missing": {"strategy": "drop", "columns": ["bill_length_mm"]}},
        {"missing": {"strategy": "flag", "columns": ["sex"]}},
        {"missing": {"strategy": "impute_mode", "columns": ["sex"]}},
        {"anonymize": {"columns": ["notes"]}},
        {"clip": {"columns": ["body_mass_g"], "method": "values", "values": [3000, 6000]}},
        {"relabel": {"mapping": {"Chinstrap": "Adelie"}}},
        {"drop_rows": {"query": "year == 2009", "reason": "season excluded"}},
    ]}))))
    pd.testing.assert_frame_equal(df, before)  # the input is never modified
    log = {(e["step"], e["action"]): e for e in res.log}
    assert log[("standardize_columns", "strip_whitespace")]["cells_changed"] == {"sex": 1}
    assert log[("standardize_columns", "map_values")]["cells_changed"] == {"sex": 2}
    assert log[("drop_duplicates", "drop_rows")]["rows_dropped"] == 1
    assert log[("drop_duplicates", "drop_rows")]["ids"] == ["344"]
    dropped = log[("missing", "drop_rows")]
    assert dropped["rows_dropped"] == 2 and dropped["ids"] == ["3", "271"]
    assert log[("missing", "flag_missing")]["columns_added"] == {"sex_was_missing": 9}
    assert log[("missing", "impute_mode")]["cells_changed"] == {"sex": 9}
    assert log[("anonymize", "anonymize")]["entities"] == {"email": 1, "phone": 1}
    n_clip = int(((df["body_mass_g"] < 3000) | (df["body_mass_g"] > 6000)).sum())
    assert log[("clip", "clip")]["cells_changed"] == {"body_mass_g": n_clip} and n_clip > 0
    assert log[("relabel", "relabel")]["cells_changed"] == {"species": 68}
    out = res.data
    assert set(out["sex"]) == {"male", "female"} and out["body_mass_g"].between(3000, 6000).all()
    assert "Chinstrap" not in set(out["species"]) and (out["year"] != 2009).all()
    assert log[("drop_rows", "drop_rows")]["reason"] == "season excluded"
    assert "john.smith" not in " ".join(out["notes"].dropna())


def test_impute_median_and_iqr_clip_fit_on_train_only():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, None, 100.0, None],
                       "split": ["train", "train", "train", "train", "test", "test"]})
    res = _run(df, [{"missing": {"strategy": "impute_median", "columns": ["x"]}}])
    assert res.data["x"].tolist()[3] == 2.0 and res.data["x"].tolist()[5] == 2.0  # the test row's 100 is ignored
    res = _run(df.fillna(2.0), [{"clip": {"columns": ["x"], "method": "iqr", "k": 1.5}}])
    # train rows [1, 2, 3, 2]: q1 1.75, q3 2.25, so the upper fence is 2.25 + 1.5 * 0.5 = 3.0
    assert res.data["x"].max() == pytest.approx(3.0)
    assert res.log[0]["cells_changed"] == {"x": 1}


def test_standardize_snake_cases_names():
    res = _run(pd.DataFrame({"Bill Length (mm)": [1], "bodyMass": [2]}), [{"standardize_columns": {}}])
    assert list(res.data.columns) == ["bill_length_mm", "body_mass"]


def test_media_duplicates_by_content_hash(cli, sample, tmp_path):
    manifest, out = tmp_path / "m.parquet", tmp_path / "c.parquet"
    rules = tmp_path / "r.yaml"
    rules.write_text("clean:\n  - drop_duplicates: {}\n")
    assert cli("ingest", sample / "images", "-o", manifest).code == 0
    r = cli("clean", manifest, "--rules", rules, "-o", out, "--log", tmp_path / "log.jsonl")
    assert r.code == 0, r.err
    entry = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    before, after = pd.read_parquet(manifest), pd.read_parquet(out)
    extra = int(before["sha256"].dropna().duplicated().sum())
    assert entry["rows_dropped"] == extra == len(before) - len(after) >= 1
    assert len(set(entry["ids"]) & {"7/copy_of_digit.png", "7/digit_0007.png"}) == 1
    assert after["sha256"].dropna().is_unique


def test_clean_cli_normalize_and_apply(cli, sample, tmp_path):
    digest = hashlib.sha256((sample / "penguins.csv").read_bytes()).hexdigest()
    cleaned = tmp_path / "p.csv"
    assert cli("clean", sample / "penguins.csv", "--rules", sample / "penguins.rules.yaml", "-o", cleaned).code == 0
    whitened = tmp_path / "w.parquet"
    r = cli("clean", cleaned, "--rules", sample / "penguins.normalize.yaml", "-o", whitened)
    assert r.code == 0, r.err
    params = tmp_path / "w.normalize.json"
    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    w = pd.read_parquet(whitened)[cols].to_numpy()
    assert np.allclose(np.cov(w, rowvar=False), np.eye(4), atol=1e-6)
    again = tmp_path / "again.parquet"
    assert cli("clean", cleaned, "--apply", params, "-o", again).code == 0
    assert np.allclose(pd.read_parquet(again)[cols].to_numpy(), w)
    assert hashlib.sha256((sample / "penguins.csv").read_bytes()).hexdigest() == digest


def test_clean_bad_input(cli, sample, tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text("clean:\n  - clip: {columns: [nope]}\n")
    out = tmp_path / "o.csv"
    assert "'nope' not found" in one_error_line(cli("clean", sample / "penguins.csv", "--rules", rules, "-o", out))
    assert not out.exists()
    rules.write_text("clean:\n  - drop_rows: {query: 'year ==== 3'}\n")
    assert "cannot evaluate query" in one_error_line(cli("clean", sample / "penguins.csv", "--rules", rules, "-o", out))
    assert "refusing to overwrite" in one_error_line(
        cli("clean", sample / "penguins.csv", "--rules", rules, "-o", sample / "penguins.csv"))
    assert "needs --rules" in one_error_line(cli("clean", sample / "penguins.csv", "-o", out))
    (tmp_path / "p.json").write_text("{}")
    assert "not a normaliser parameters file" in one_error_line(
        cli("clean", sample / "penguins.csv", "--apply", tmp_path / "p.json", "-o", out))
    rules.write_text("normalize: {method: zca, columns: [year, year]}\n")
    assert "columns repeated: year" in one_error_line(cli("clean", sample / "penguins.csv", "--rules", rules, "-o", out))
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 4.0, 6.0]}).to_csv(tmp_path / "lin.csv", index=False)
    rules.write_text("normalize: {method: zca, columns: [a, b]}\n")
    assert "singular" in one_error_line(cli("clean", tmp_path / "lin.csv", "--rules", rules, "-o", out))
    assert not out.exists()


def test_a_normalised_table_is_not_judged_by_raw_unit_rules(cli, tmp_path):
    """One rules file with column rules and ``normalize:``: the raw wine passes its rules,
    clean zscores alcohol, and validating the cleaned table with the same file lists the
    raw-unit rules of the normalised columns as skipped instead of failing 178 of 178 rows
    (in memory, from the Parquet file, and in partitions); not_null still runs on them."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    wine.insert(0, "id", [f"w{i:03d}" for i in range(len(wine))])
    wine.to_csv(tmp_path / "wine.csv", index=False)
    rules = tmp_path / "wine.rules.yaml"
    rules.write_text("label: cultivar\ncolumns:\n  alcohol: {not_null: true, between: [10, 15.5]}\n"
                     "  magnesium: {between: [60, 170], mean_between: [90, 110]}\n"
                     "normalize: {method: zscore, columns: [alcohol, malic_acid]}\n")
    assert cli("validate", tmp_path / "wine.csv", "--rules", rules).code == 0
    assert cli("clean", tmp_path / "wine.csv", "--rules", rules, "-o", tmp_path / "clean.parquet").code == 0
    r = cli("validate", tmp_path / "clean.parquet", "--rules", rules, "--json", tmp_path / "v.json")
    assert r.code == 0, r.out
    result = json.loads((tmp_path / "v.json").read_text())
    assert [(s["name"], s["column"]) for s in result["skipped"]] == [("between", "alcohol")]
    assert "alcohol was normalised (zscore, fitted on all) by curaug clean" in result["skipped"][0]["reason"]
    ran = {(c["name"], c["column"]) for c in result["checks"]}
    assert {("not_null", "alcohol"), ("between", "magnesium"), ("mean_between", "magnesium")} <= ran
    assert ("between", "alcohol") not in ran
    from curate.checks.validate import validate
    from curate.partitioned.table import open_table
    from curate.rules.schema import load_rules

    parts = validate(open_table(tmp_path / "clean.parquet"), load_rules(rules)).to_dict()
    assert parts["skipped"] == result["skipped"] and parts["success"]
    # a CSV keeps no attributes: the fitted parameters clean wrote beside it say the same
    assert cli("clean", tmp_path / "wine.csv", "--rules", rules, "-o", tmp_path / "clean.csv").code == 0
    r = cli("validate", tmp_path / "clean.csv", "--rules", rules, "--json", tmp_path / "c.json")
    assert r.code == 0 and json.loads((tmp_path / "c.json").read_text())["skipped"] == result["skipped"]
    # ... unless the table was written again after them, without a normaliser
    rules.write_text(rules.read_text().split("normalize:")[0])
    assert cli("clean", tmp_path / "wine.csv", "--rules", rules, "-o", tmp_path / "clean.csv").code == 0
    assert json.loads((tmp_path / "c.json").read_text())["skipped"]  # (the earlier result, for contrast)
    r = cli("validate", tmp_path / "clean.csv", "--rules", rules, "--json", tmp_path / "c2.json")
    assert r.code == 0 and json.loads((tmp_path / "c2.json").read_text())["skipped"] == []
