"""A classifier's scores on fresh data: misclassification rate, log loss and Brier score per
replicate, and their rows in the performance table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lossstudy.classification import COLUMNS, scores
from lossstudy.config import load_study
from lossstudy.measures import names
from lossstudy.pipeline import fit_and_summarise, simulate_and_fit_chunk

CONFIG = {
    "seed": 5,
    "replicates": 24,
    "defaults": {"n": 150, "coefficients": [0.0, 1.5, -1.0]},
    "scenarios": {"logistic": {"response": {"family": "bernoulli"}}},
    "estimators": {"mle": {"method": "logit"}, "brier": {"loss": "brier"}},
}


def test_scores_by_hand():
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    eta = np.array([[2.0, -1.0, -0.5, 0.0]])
    error, log_loss, brier = scores(y, eta)
    p = 1 / (1 + np.exp(-eta[0]))
    assert error[0] == pytest.approx(1 / 4)  # η = −0.5 with y = 1; η = 0 says "0", right
    ll = -np.mean(y[0] * np.log(p) + (1 - y[0]) * np.log(1 - p))
    assert log_loss[0] == pytest.approx(ll, rel=1e-14)
    assert brier[0] == pytest.approx(np.mean((y[0] - p) ** 2), rel=1e-14)
    # a saturated wrong prediction has a large, finite log loss (no log 0)
    assert math.isfinite(scores(np.array([[1.0]]), np.array([[-800.0]]))[1][0])


def test_classification_columns_and_job_split(tmp_path):
    study = load_study(CONFIG)
    sc = study.scenarios["logistic"]
    est = study.estimators_in("logistic")
    run = lambda a, b: simulate_and_fit_chunk(  # noqa: E731
        sc.knobs,
        5,
        "logistic",
        a,
        b,
        est,
        0.95,
        "vectorized",
        tmp_path / f"{a}.npz",
        None,
        test_rows=500,
    ).to_pandas()
    whole = run(0, 24)
    parts = pd.concat([run(0, 10), run(10, 24)])
    for col in COLUMNS:
        w = whole.sort_values(["estimator", "replicate", "term"])[col].to_numpy()
        p = parts.sort_values(["estimator", "replicate", "term"])[col].to_numpy()
        assert np.array_equal(w, p)
        assert np.isfinite(w).all()
    # regression scores mean nothing for a 0/1 y: left NaN
    assert whole["test_mse"].isna().all() and whole["test_mae"].isna().all()
    assert (whole["test_error"] < 0.5).all()


def test_performance_rows_of_a_classification_scenario(tmp_path):
    study = load_study(CONFIG)
    sc = study.scenarios["logistic"]
    out = tmp_path / "p.csv"
    fit_and_summarise(
        sc.knobs,
        5,
        "logistic",
        24,
        study.estimators_in("logistic"),
        0.95,
        "vectorized",
        study.reference_in("logistic"),
        tmp_path / "d.npz",
        tmp_path / "e.parquet",
        out,
        test_rows=500,
    )
    perf = pd.read_csv(out)
    model = perf[perf.term == "model"]
    for est in ("mle", "brier"):
        got = tuple(model[model.estimator == est].measure)
        assert got == ("risk", *names(response="bernoulli"))
    # efficiency against the MLE (the scenario's reference), by the existing measures
    rel = perf[(perf.estimator == "brier") & (perf.measure == "rel_efficiency")]
    assert rel["value"].notna().all() and (rel["value"] < 1).all()
    cov = perf[(perf.estimator == "mle") & (perf.measure == "coverage")]
    assert cov["value"].between(0.7, 1.0).all()
