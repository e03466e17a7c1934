"""Tests for lossstudy.moments: which measures exist and which MCSEs are valid (science.md §4)."""

from __future__ import annotations

import pytest

from lossstudy.moments import (
    MEASURE_ORDERS,
    MODEL_ORDERS,
    MeasureRule,
    moment_rule_table,
    moment_rules,
)
from lossstudy.performance import MEASURES

OLS = {"method": "ols"}
RIDGE = {"method": "ridge", "lambda": 1.0}
LAD = {"method": "lad"}

BIAS = {"bias", "be_coverage"}  # need the mean; MCSE needs the variance
VARIANCE = {"empse", "mse", "rmse", "modse", "rel_error_modse"}  # variance; MCSE 4th moment
RELATIVE = {"rel_precision", "rel_efficiency", "rel_mse"}  # the same, for estimator and ref
ALWAYS = {"coverage", "rejection", "median_bias", "mad"}

# errors -> (mean exists, variance exists, 4th moment exists) of a linear estimator
ERRORS = {
    "cauchy": ({"distribution": "cauchy"}, (False, False, False)),
    "t0.8": ({"distribution": "t", "df": 0.8}, (False, False, False)),
    "t1": ({"distribution": "t", "df": 1}, (False, False, False)),
    "t1.5": ({"distribution": "t", "df": 1.5}, (True, False, False)),
    "t2": ({"distribution": "t", "df": 2}, (True, False, False)),
    "t3": ({"distribution": "t", "df": 3}, (True, True, False)),
    "t4": ({"distribution": "t", "df": 4}, (True, True, False)),
    "t5": ({"distribution": "t", "df": 5}, (True, True, True)),
    "normal": ({"distribution": "normal"}, (True, True, True)),
    "laplace": ({"distribution": "laplace"}, (True, True, True)),
    "lognormal": ({"distribution": "lognormal", "sigma": 1.0}, (True, True, True)),
    "exponential": ({"distribution": "exponential"}, (True, True, True)),
    "contaminated": (
        {"distribution": "contaminated", "fraction": 0.1, "outlier_scale": 3.0},
        (True, True, True),
    ),
}


def test_every_measure_has_a_rule():
    assert set(MEASURE_ORDERS) == set(MEASURES) == BIAS | VARIANCE | RELATIVE | ALWAYS


def _expected(measure: str, mean: bool, var: bool, fourth: bool) -> tuple[bool, bool]:
    if measure in BIAS:
        return mean, var
    if measure in VARIANCE | RELATIVE:
        return var, fourth
    return True, True


@pytest.mark.parametrize("case", list(ERRORS))
@pytest.mark.parametrize("estimator", [OLS, RIDGE], ids=["ols", "ridge"])
def test_linear_estimators_inherit_the_errors_moments(case, estimator):
    errors, (mean, var, fourth) = ERRORS[case]
    rules = moment_rules(errors, estimator, LAD)
    for measure in MEASURES:
        rule = rules[measure]
        defined, valid = _expected(measure, mean, var, fourth)
        assert (rule.defined, rule.mcse_valid) == (defined, valid), (case, measure)
        if not defined:
            assert rule.reason.startswith("does not exist: ")
            assert f"{estimator['method']} is linear in y" in rule.reason
        elif not valid:
            assert rule.reason.startswith("exists, but MCSE unreliable: ")
        else:
            assert rule == MeasureRule(True, True, "")


@pytest.mark.parametrize("case", list(ERRORS))
def test_lad_is_treated_as_having_every_moment(case):
    errors, _ = ERRORS[case]
    rules = moment_rules(errors, LAD, LAD)
    assert all(rules[m] == MeasureRule(True, True, "") for m in MEASURE_ORDERS)


@pytest.mark.parametrize("case", list(ERRORS))
@pytest.mark.parametrize("estimator", [OLS, LAD], ids=["ols", "lad"])
def test_test_errors_need_the_errors_moments_whatever_the_estimator(case, estimator):
    """A test error y − x'β̂ contains a fresh error: its square needs the errors' variance (MCSE:
    4th moment), its absolute value their mean (MCSE: variance), even for LAD."""
    errors, (mean, var, fourth) = ERRORS[case]
    rules = moment_rules(errors, estimator, OLS)
    assert set(MODEL_ORDERS) <= set(rules)
    assert (rules["test_mse"].defined, rules["test_mse"].mcse_valid) == (var, fourth)
    assert (rules["test_mae"].defined, rules["test_mae"].mcse_valid) == (mean, var)
    if not var:
        assert "fresh error" in rules["test_mse"].reason
    for m in ("divergence", "opt_error", "objective_gap"):
        assert rules[m] == MeasureRule(True, True, "")


@pytest.mark.parametrize("case", list(ERRORS))
def test_relative_measures_need_the_reference_moments_too(case):
    errors, (mean, var, fourth) = ERRORS[case]
    rules = moment_rules(errors, LAD, OLS)
    for measure in MEASURES:
        rule = rules[measure]
        if measure in RELATIVE:
            assert (rule.defined, rule.mcse_valid) == (var, fourth), (case, measure)
            if not fourth:
                assert "the reference (ols) is linear in y" in rule.reason
        else:
            assert rule == MeasureRule(True, True, ""), (case, measure)


def test_issue_df_1_5_wording():
    rules = moment_rules({"distribution": "t", "df": 1.5}, OLS)
    assert rules["bias"].defined and not rules["bias"].mcse_valid
    assert rules["bias"].reason == (
        "exists, but MCSE unreliable: the mean exists but ols is linear in y and t (df 1.5) "
        "errors have no variance, so the CLT behind the normal-theory MCSE fails; "
        "see median_bias and mad"
    )
    assert rules["empse"].reason == (
        "does not exist: ols is linear in y and t (df 1.5) errors have no variance"
    )
    cauchy = moment_rules({"distribution": "cauchy"}, OLS)
    assert (
        cauchy["bias"].reason == "does not exist: ols is linear in y and Cauchy errors have no mean"
    )
    # the variance-based measures name the first missing moment: the mean
    assert cauchy["mse"].reason.endswith("have no mean")
    t3 = moment_rules({"distribution": "t", "df": 3}, OLS)
    assert t3["mse"].reason.startswith("exists, but MCSE unreliable: the variance exists")
    assert "no finite fourth moment" in t3["mse"].reason


def test_report_table_is_science_md_section_4():
    """The rule as the report shows it, row for row the table in science.md §4."""
    rows = [
        (r["bias"], r["bias_mcse"], r["variance"], r["variance_mcse"]) for r in moment_rule_table()
    ]
    assert rows == [
        ("not defined", "—", "not defined", "—"),
        ("defined", "unreliable", "not defined", "—"),
        ("defined", "valid", "defined", "unreliable"),
        ("defined", "valid", "defined", "valid"),
    ]
