"""Error intervals and the rows a bound needs (issue 25 §4): checked against scipy's own
binomial test and against the split ``curaug split --error-bound`` makes."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE, one_error_line
from curate.errors import CuraugError
from curate.stats.bounds import error_bound_check
from curate.stats.intervals import (accuracy_interval, clopper_pearson, compare, hoeffding_epsilon,
                                    rows_for_error_bound)

COUNTS = [(0, 1), (1, 1), (0, 30), (30, 30), (1, 30), (29, 30), (7, 20), (50, 100), (957, 1000), (3, 4612)]


@pytest.mark.parametrize("k,n", COUNTS)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy_binomtest(k, n, confidence):
    from scipy.stats import binomtest

    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    low, high = clopper_pearson(k, n, confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_holds_the_measured_share_and_ends_are_exact(counts):
    k, n = counts
    low, high = clopper_pearson(k, n)
    assert 0 <= low <= k / n <= high <= 1
    assert (low == 0) == (k == 0) and (high == 1) == (k == n)


def test_edge_counts_give_the_one_sided_exact_bound():
    # k = 0: the upper end is 1 - (alpha/2)^(1/n), the closed form of the exact interval
    assert clopper_pearson(0, 30)[1] == pytest.approx(1 - 0.025 ** (1 / 30))
    assert clopper_pearson(30, 30)[0] == pytest.approx(0.025 ** (1 / 30))


def test_accuracy_interval_carries_both_bounds():
    interval = accuracy_interval(180, 200)
    assert interval["n"] == 200 and interval["correct"] == 180
    assert interval["error"] == [round(1 - interval["accuracy"][1], 4), round(1 - interval["accuracy"][0], 4)]
    eps = math.sqrt(math.log(1 / 0.05) / 400)
    assert interval["hoeffding"]["epsilon"] == round(eps, 4)
    assert interval["hoeffding"]["error_at_most"] == round(0.1 + eps, 4)


def test_hoeffding_rows_needed_gives_back_the_bound():
    assert rows_for_error_bound(0.02) == math.ceil(math.log(2 / 0.05) / (2 * 0.02 ** 2)) == 4612
    assert hoeffding_epsilon(1000) == pytest.approx(math.sqrt(math.log(20) / 2000))


def test_a_difference_within_the_intervals_is_called_so():
    close = compare("with", accuracy_interval(88, 100), "without", accuracy_interval(84, 100))
    far = compare("with", accuracy_interval(980, 1000), "without", accuracy_interval(900, 1000))
    assert close["within_intervals"] and "within the 95 % intervals" in close["sentence"]
    assert not far["within_intervals"] and "beyond" in far["sentence"]


@pytest.mark.parametrize("bad", [0, 1, -0.1, 2.0, "x"])
def test_bad_epsilon_names_the_parameter(bad):
    with pytest.raises(CuraugError, match="error_bound="):
        rows_for_error_bound(bad)


def test_bad_counts_are_refused():
    with pytest.raises(CuraugError, match="k=5 successes out of n=4"):
        clopper_pearson(5, 4)
    with pytest.raises(CuraugError, match="n=0"):
        accuracy_interval(0, 0)


def test_bound_check_per_class_names_each_short_class():
    report = {"sizes": {"train": 10, "val": 100, "test": 100},
              "per_class": {"a": {"val": 60, "test": 55}, "b": {"val": 40, "test": 45}}}
    needed = rows_for_error_bound(0.15)  # 82
    overall = error_bound_check(report, 0.15)
    per_class = error_bound_check(report, 0.15, per_class=True)
    assert overall["rows_needed"] == needed == 82 and overall["enough"]
    assert [(s["split"], s.get("class")) for s in per_class["short"]] == [
        ("val", "a"), ("test", "a"), ("val", "b"), ("test", "b")]


# ---------------------------------------------------------------- curaug split --error-bound
def test_split_error_bound_reports_rows_needed(cli, tmp_path):
    out = tmp_path / "split.csv"
    r = cli("split", SAMPLE / "penguins.csv", "--label", "species", "-o", out, "--error-bound", "0.2",
            "--json", tmp_path / "split.json")
    assert r.code == 0, r.err
    check = json.loads((tmp_path / "split.json").read_text())["error_bound"]
    sizes = pd.read_csv(out)["split"].value_counts()
    assert check["rows_needed"] == 47 and check["rows"] == {"val": sizes["val"], "test": sizes["test"]}
    assert check["enough"] and "47 rows needed in each of val and test" in r.out


def test_split_warns_when_the_data_cannot_give_the_bound(cli, tmp_path):
    r = cli("split", SAMPLE / "penguins.csv", "--label", "species", "-o", tmp_path / "s.csv", "--error-bound", "0.05")
    assert r.code == 0
    assert "warning: an error bound of ±0.05 at 95 % needs 738 rows in each of val and test; val has 69" in r.out


def test_strict_bound_fails_the_check_and_still_writes_the_split(cli, tmp_path):
    out = tmp_path / "s.csv"
    r = cli("split", SAMPLE / "penguins.csv", "--label", "species", "-o", out, "--error-bound", "0.2",
            "--bound-per-class", "--strict-bound")
    assert r.code == 1
    assert r.err.strip().splitlines() == [
        "bound check failed: an error bound of ±0.2 at 95 % needs 47 rows in each of val and test; class Adelie "
        "has 31 in val, class Adelie has 30 in test, class Chinstrap has 13 in val, class Chinstrap has 14 in test, "
        "class Gentoo has 25 in val, class Gentoo has 25 in test"]
    assert len(pd.read_csv(out)) == 345


@pytest.mark.parametrize("args,message", [
    (["--error-bound", "1.5"], "error: --error-bound 1.5 must lie strictly between 0 and 1"),
    (["--error-bound", "0"], "error: --error-bound 0.0 must lie strictly between 0 and 1"),
    (["--error-bound", "0.1", "--confidence", "1"], "error: --confidence 1.0 must lie strictly between 0 and 1"),
    (["--strict-bound"], "--bound-per-class and --strict-bound need --error-bound EPS"),
])
def test_bad_bound_options_exit_2_with_one_line(cli, tmp_path, args, message):
    out = tmp_path / "s.csv"
    line = one_error_line(cli("split", SAMPLE / "penguins.csv", "--label", "species", "-o", out, *args))
    assert message in line
    assert not out.exists()


def test_ablation_says_when_the_arms_differ_within_their_intervals():
    from pipelines.run.ablation import compare as compare_arms

    def run(correct):
        return {"val": {"accuracy": correct / 120, "per_class": {"a": {"f1": 0.9}},
                        "interval": accuracy_interval(correct, 120)}}

    # "with" is the arm the pipeline trained (offline here), "without" is none
    close = compare_arms({"none": [run(106), run(107)], "offline": [run(110), run(111)]}, [0, 1])
    assert close["intervals"]["within_intervals"]
    assert close["intervals"]["with"]["n"] == 120 and close["intervals"]["with"]["correct"] == round(110.5)
    far = compare_arms({"none": [run(80), run(82)], "offline": [run(118), run(119)], "online": [run(100), run(101)]},
                       [0, 1], main="offline")
    assert not far["intervals"]["within_intervals"] and "beyond the 95 % intervals" in far["intervals"]["sentence"]


@settings(deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=300))
def test_mcnemar_is_the_binomial_test_of_the_discordant_rows_and_symmetric(pairs):
    from scipy.stats import binomtest

    from curate.stats.paired import mcnemar

    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    r = mcnemar(a, b)
    only_a = sum(x and not y for x, y in pairs)
    only_b = sum(y and not x for x, y in pairs)
    assert (r["only_a"], r["only_b"], r["rows"]) == (only_a, only_b, len(pairs))
    expected = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    assert r["pvalue"] == pytest.approx(min(1.0, expected), abs=1e-4)  # rounded to 4 places
    assert r["shows"] == (expected < 0.05)
    assert mcnemar(b, a)["pvalue"] == r["pvalue"]  # which one is "a" does not matter


def test_mcnemar_refuses_classifiers_scored_on_different_rows():
    from curate.stats.paired import mcnemar

    with pytest.raises(CuraugError, match=r"scored on different rows \(\(3,\) vs \(2,\)\)"):
        mcnemar([True, False, True], [True, False])
