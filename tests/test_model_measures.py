"""Per-estimator measures on the term ``model`` (lossstudy.performance): test-set errors of every
estimator and the training diagnostics of trained fits, checked against plain formulas on
synthetic estimate frames with the contract's columns (test_mse, test_mae, opt_diff,
objective_gap, status ``diverged``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lossstudy.measures import names
from lossstudy.moments import moment_rules
from lossstudy.performance import MEASURES, MODEL_MEASURES, performance_table
from lossstudy.pipeline import failure_rows

TERMS = ("intercept", "x1")
#: the model measures of a regression scenario with a linear mean: no classifier's scores (they
#: need a 0/1 response) and no ise (the frame carries no ise column)
# a linear fit's: no ise (a linear mean) and no sharpness (a network's, by GD on squared loss)
REGRESSION_MODEL_MEASURES = tuple(
    m
    for m in MODEL_MEASURES
    if m not in names(response="bernoulli") and m not in ("ise", "sharpness")
)


def frame(
    estimator: str,
    test_mse,
    test_mae=None,
    *,
    status=None,
    opt_diff=None,
    objective_gap=None,
) -> pd.DataFrame:
    """Rows replicate × term of one estimator; per-replicate values repeated on term rows;
    ``opt_diff`` is R × terms."""
    mse = np.asarray(test_mse, dtype=float)
    R, p = mse.size, len(TERMS)
    mae = np.sqrt(np.abs(mse)) if test_mae is None else np.asarray(test_mae, dtype=float)
    status = np.asarray(["ok"] * R if status is None else status, dtype=object)
    out = pd.DataFrame(
        {
            "scenario": "s",
            "replicate": np.repeat(np.arange(R), p),
            "estimator": estimator,
            "method": estimator,
            "term": np.tile(TERMS, R),
            "true_value": 0.0,
            "estimate": np.where(np.repeat(status == "ok", p), 0.1 * np.arange(R * p), np.nan),
            "std_error": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "status": np.repeat(status, p),
            "message": "",
            "test_mse": np.repeat(mse, p),
            "test_mae": np.repeat(mae, p),
            "opt_diff": np.nan,
            "objective_gap": np.nan,
        }
    )
    if opt_diff is not None:
        out["opt_diff"] = np.asarray(opt_diff, dtype=float).ravel()
    if objective_gap is not None:
        out["objective_gap"] = np.repeat(np.asarray(objective_gap, dtype=float), p)
    return out


def model_row(table: pd.DataFrame, estimator: str, measure: str) -> pd.Series:
    hit = table[
        (table.estimator == estimator) & (table.term == "model") & (table.measure == measure)
    ]
    assert len(hit) == 1, (estimator, measure, len(hit))
    return hit.iloc[0]


RNG = np.random.default_rng(3)
EXACT_MSE = RNG.gamma(4.0, 0.5, size=40)
TRAINED_MSE = EXACT_MSE + RNG.exponential(0.2, size=40)
STATUS = np.array(["ok"] * 33 + ["diverged"] * 6 + ["failed"])
OPT = RNG.normal(0, 0.3, size=(40, 2))
GAP = RNG.exponential(0.05, size=40)


def study_frame() -> pd.DataFrame:
    trained_mse = np.where(STATUS == "ok", TRAINED_MSE, np.nan)
    return pd.concat(
        [
            frame("ols", EXACT_MSE, EXACT_MSE / 3),
            frame(
                "gd",
                trained_mse,
                trained_mse / 3,
                status=STATUS,
                opt_diff=np.where((STATUS == "ok")[:, None], OPT, np.nan),
                objective_gap=np.where(STATUS == "ok", GAP, np.nan),
            ),
        ],
        ignore_index=True,
    )


def test_test_errors_are_means_over_usable_replicates_with_sd_over_root_r():
    table = performance_table(study_frame(), "ols", 0.95)
    for est, values in (("ols", EXACT_MSE), ("gd", TRAINED_MSE[STATUS == "ok"])):
        for measure, x in (("test_mse", values), ("test_mae", values / 3)):
            r = model_row(table, est, measure)
            assert r.value == pytest.approx(x.mean(), rel=1e-13)
            assert r.mcse == pytest.approx(x.std(ddof=1) / math.sqrt(x.size), rel=1e-12)
            assert r.n_used == x.size and r.defined and r.mcse_valid and r.note == ""


def test_training_diagnostics_for_trained_fits_only():
    table = performance_table(study_frame(), "ols", 0.95)
    model = table[table.term == "model"]
    assert set(model[model.estimator == "ols"].measure) == {"risk", "test_mse", "test_mae"}
    selection = names(selection_only=True)  # fits that set slopes to 0 only (test_lasso.py)
    assert tuple(model[model.estimator == "gd"].measure) == tuple(
        m for m in REGRESSION_MODEL_MEASURES if m not in selection
    )
    # divergence: over all 40 replicates (the failed one counts as not diverged)
    r = model_row(table, "gd", "divergence")
    assert r.value == pytest.approx(6 / 40) and r.n_used == 40
    assert r.mcse == pytest.approx(math.sqrt(0.15 * 0.85 / 40))
    # opt_error: √ mean ‖β_K − β̂‖² over the usable (ok) replicates, delta-method MCSE
    sq = (OPT[STATUS == "ok"] ** 2).sum(axis=1)
    r = model_row(table, "gd", "opt_error")
    assert r.value == pytest.approx(math.sqrt(sq.mean()), rel=1e-13) and r.n_used == 33
    delta = sq.std(ddof=1) / math.sqrt(33) / (2 * math.sqrt(sq.mean()))
    assert r.mcse == pytest.approx(delta, rel=1e-12)
    gaps = GAP[STATUS == "ok"]
    r = model_row(table, "gd", "objective_gap")
    assert r.value == pytest.approx(gaps.mean(), rel=1e-13)
    assert r.mcse == pytest.approx(gaps.std(ddof=1) / math.sqrt(33), rel=1e-12)


def test_the_delta_method_mcse_of_opt_error_matches_the_spread_of_replications():
    """Many independent sets of R replicates: the SD of their opt_error ≈ the reported MCSE."""
    rng = np.random.default_rng(0)
    values, mcses = [], []
    for _ in range(300):
        opt = rng.normal(0, 0.5, size=(200, 2))
        t = performance_table(frame("gd", np.ones(200), opt_diff=opt), None, 0.95)
        r = model_row(t, "gd", "opt_error")
        values.append(r.value)
        mcses.append(r.mcse)
    # SD of 300 replications estimated within ≈ 4% (1/√(2·299)); allow 15%
    assert np.std(values, ddof=1) == pytest.approx(np.mean(mcses), rel=0.15)


def test_all_at_the_minimiser_is_an_exact_zero_and_all_diverged_leaves_nothing_usable():
    zero = frame("gd", np.ones(5), opt_diff=np.zeros((5, 2)), objective_gap=np.zeros(5))
    t = performance_table(zero, None, 0.95)
    r = model_row(t, "gd", "opt_error")
    assert (r.value, r.mcse, bool(r.mcse_valid)) == (0.0, 0.0, True)
    assert model_row(t, "gd", "divergence").value == 0.0
    gone = frame("gd", np.full(4, np.nan), status=["diverged"] * 4)
    t = performance_table(gone, None, 0.95)
    assert model_row(t, "gd", "divergence").value == 1.0
    r = model_row(t, "gd", "test_mse")
    assert not r.defined and np.isnan(r.value) and "0 usable replicates" in r.note
    for m in ("opt_error", "objective_gap"):  # over non-diverged replicates: none
        r = model_row(t, "gd", m)
        assert not r.defined and r.n_used == 0


def test_moment_rules_mark_test_mse_under_cauchy_errors_as_not_existing():
    rules = {
        e: moment_rules({"distribution": "cauchy"}, {"method": m})
        for e, m in (("ols", "ols"), ("lad", "lad"))
    }
    data = pd.concat([frame("ols", EXACT_MSE), frame("lad", EXACT_MSE)], ignore_index=True)
    table = performance_table(data, "ols", 0.95, rules=rules)
    for est in ("ols", "lad"):
        r = model_row(table, est, "test_mse")
        assert not r.defined and not r.mcse_valid
        assert "does not exist" in r.note and "fresh error" in r.note
        r = model_row(table, est, "test_mae")  # Cauchy has no mean either
        assert not r.defined and "no mean" in r.note


def test_per_term_rows_keep_their_bits_and_order():
    """The new columns add rows on the term model only; every per-term row is unchanged."""
    data = study_frame()
    old = performance_table(
        data.drop(columns=["test_mse", "test_mae", "opt_diff", "objective_gap"]), "ols", 0.95
    )
    new = performance_table(data, "ols", 0.95)
    per_term = old[old.term != "model"]
    assert len(per_term) == 2 * len(TERMS) * len(MEASURES)
    pd.testing.assert_frame_equal(new.iloc[: len(per_term)], per_term)
    assert (new.iloc[len(per_term) :].term == "model").all()
    # without the new columns only the status tells a trained fit: its divergence, nothing else
    assert list(old[old.term == "model"].measure) == ["risk", "risk", "divergence"]
    # the failure rate stays per term (the model term has no failure rows)
    assert "model" not in set(failure_rows(data).term)


def test_the_report_shows_a_prediction_block_and_no_model_row_among_the_terms():
    from lossstudy.report.results import scenario_results

    table = performance_table(study_frame(), "ols", 0.95)
    groups = scenario_results(table, [{"id": "s", "group": "g"}], ["ols", "gd"], "x1", 0.95)
    entry = groups[0]["scenarios"][0]
    assert {o["term"] for o in entry["others"]} == {"intercept"}
    block = entry["prediction"]
    selection = names(selection_only=True)  # no selecting fit here
    assert block["measures"] == [m for m in REGRESSION_MODEL_MEASURES if m not in selection]
    ols, gd = block["rows"]
    assert ols["test_mse"]["ok"] and ols["test_mse"]["value"] == pytest.approx(EXACT_MSE.mean())
    assert ols["divergence"]["text"] == ""  # not a trained fit: an empty cell, not a zero
    assert gd["divergence"]["value"] == pytest.approx(6 / 40)
    # older results without the model term: no block
    old = table[table.term != "model"]
    groups = scenario_results(old, [{"id": "s", "group": "g"}], ["ols", "gd"], "x1", 0.95)
    assert groups[0]["scenarios"][0]["prediction"] is None


def test_coefficient_risk_is_the_sum_of_the_terms_mse_with_its_own_mcse():
    """risk = mean_r ‖β̂_r − β‖² equals Σ_j MSE_j on the same replicates (an identity), and its
    MCSE is the SD of the per-replicate squared norms over √R (not a sum of the terms' MCSEs);
    a replicate with a missing term (failed fit) is left out of both."""
    rng = np.random.default_rng(11)
    R = 50
    data = frame("ols", rng.uniform(1, 2, R), status=["ok"] * (R - 1) + ["failed"])
    data["estimate"] = np.where(data.status == "ok", rng.standard_normal(len(data)), np.nan)
    data["true_value"] = np.tile([1.0, -0.5], R)
    table = performance_table(data, "ols", 0.95)
    row = table[(table.term == "model") & (table.measure == "risk")].iloc[0]
    mse = table[(table.term != "model") & (table.measure == "mse")].value.sum()
    err = (data.estimate - data.true_value).to_numpy().reshape(R, 2)[: R - 1]
    norms = (err**2).sum(axis=1)
    assert row.value == pytest.approx(mse, rel=1e-12)
    assert row.value == pytest.approx(norms.mean(), rel=1e-12)
    assert row.mcse == pytest.approx(norms.std(ddof=1) / math.sqrt(R - 1), rel=1e-12)
    assert row.n_used == R - 1 and row.defined and row.mcse_valid
