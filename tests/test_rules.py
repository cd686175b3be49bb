from __future__ import annotations

import pytest

from conftest import one_error_line
from curate.errors import CuraugError
from curate.rules.schema import load_rules, parse_rules


def _write(tmp_path, text: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_design_example_parses(sample):
    rules = load_rules(sample / "penguins.rules.yaml")
    assert rules.label == "species"
    assert [name for name, _ in rules.clean_steps()][:3] == ["standardize_columns", "drop_duplicates", "missing"]
    rule_names = [r[0] for r in rules.columns["bill_length_mm"].rules()]
    assert rule_names == ["not_null", "between"]


def test_unknown_key_names_key_path_line_and_file(tmp_path):
    path = _write(tmp_path, "label: species\ncolumns:\n  bill_length_mm:\n    not_null: true\n    betwen: [1, 2]\n")
    with pytest.raises(CuraugError) as exc:
        load_rules(path)
    msg = str(exc.value)
    assert str(path) in msg and "line 5" in msg
    assert "unknown key 'betwen' at columns.bill_length_mm.betwen" in msg
    assert "did you mean 'between'" in msg


def test_unknown_top_level_key(tmp_path):
    msg = str(pytest.raises(CuraugError, load_rules, _write(tmp_path, "lable: x\n")).value)
    assert "unknown key 'lable'" in msg and "did you mean 'label'" in msg and "line 1" in msg


def test_wrong_type_names_the_key(tmp_path):
    msg = str(pytest.raises(CuraugError, load_rules, _write(tmp_path, "dataset:\n  min_rows: many\n")).value)
    assert "dataset.min_rows" in msg and "line 2" in msg


def test_bad_range_and_bad_regex(tmp_path):
    msg = str(pytest.raises(CuraugError, load_rules, _write(tmp_path, "columns:\n  x: {between: [5, 1]}\n")).value)
    assert "columns.x.between" in msg and "greater than" in msg
    msg = str(pytest.raises(CuraugError, load_rules, _write(tmp_path, "columns:\n  x: {regex: '(['}\n")).value)
    assert "columns.x.regex" in msg and "regular expression" in msg


def test_clean_step_errors(tmp_path):
    msg = str(pytest.raises(CuraugError, load_rules, _write(tmp_path, "clean:\n  - drop_dupes: {}\n")).value)
    assert "clean.0" in msg and "did you mean 'drop_duplicates'" in msg
    msg = str(pytest.raises(CuraugError, load_rules,
                            _write(tmp_path, "clean:\n  - missing: {strategy: guess}\n")).value)
    assert "clean.0.missing.strategy" in msg and "line 2" in msg
    msg = str(pytest.raises(CuraugError, load_rules,
                            _write(tmp_path, "clean:\n  - missing: {strategy: impute_constant}\n")).value)
    assert "needs a 'value'" in msg


def test_long_form_rules_carry_mostly_and_severity():
    rules = parse_rules({"columns": {"x": {"mostly": 0.9, "between": {"value": [0, 1], "severity": "warn"},
                                           "not_null": True}}})
    assert rules.columns["x"].rules() == [("not_null", True, 0.9, "error"), ("between", (0, 1), 0.9, "warn")]


def test_split_ratios_must_sum_to_one():
    with pytest.raises(CuraugError, match="sum to 1"):
        parse_rules({"splits": {"ratios": {"train": 0.5, "val": 0.2, "test": 0.2}}})


def test_cli_rejects_bad_rules_with_exit_2(cli, sample, tmp_path):
    path = _write(tmp_path, "columns:\n  x: {nott_null: true}\n")
    line = one_error_line(cli("validate", sample / "penguins.csv", "--rules", path))
    assert "nott_null" in line and "rules.yaml" in line
    line = one_error_line(cli("validate", sample / "penguins.csv", "--rules", tmp_path / "none.yaml"))
    assert "no such rules file" in line
    (tmp_path / "bad.yaml").write_text("columns: [unclosed\n")
    assert "not valid YAML" in one_error_line(cli("validate", sample / "penguins.csv", "--rules", tmp_path / "bad.yaml"))


def test_unknown_normaliser_names_file_line_and_hint(tmp_path):
    msg = str(pytest.raises(CuraugError, load_rules,
                            _write(tmp_path, "label: y\nnormalize:\n  method: zcaa\n  columns: [a]\n")).value)
    assert "rules.yaml line 3" in msg and "normalize.method" in msg and "did you mean 'zca'" in msg


def test_a_third_party_clean_step_plugs_into_the_registry():
    import pandas as pd

    from curate.clean.base import CLEAN_STEPS, CleanStep, clean_step
    from curate.clean.steps import clean

    @clean_step("test_upper")
    class Upper(CleanStep):
        column: str

        def apply(self, df, ctx):
            changed = df[self.column].str.upper() != df[self.column]
            df[self.column] = df[self.column].str.upper()
            return df, [{"action": "upper", "cells_changed": {self.column: int(changed.sum())}}]

    assert CLEAN_STEPS.get("test_upper") is Upper
    rules = parse_rules({"clean": [{"test_upper": {"column": "name"}}]})
    out = clean(pd.DataFrame({"name": ["ab", "CD"]}), rules)
    assert out.data["name"].tolist() == ["AB", "CD"] and out.log[0]["cells_changed"] == {"name": 1}
    msg = str(pytest.raises(CuraugError, parse_rules, {"clean": [{"test_upper": {"column": "x", "colum": "x"}}]}).value)
    assert "clean.0.test_upper" in msg and "did you mean 'column'" in msg
