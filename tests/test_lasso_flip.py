"""The flip: ridge at its Bayes λ beats the lasso under a Gaussian prior, the lasso beats it
under a sparse one, beyond Monte Carlo error; the sweeps layer then reports the crossing with
its interval (crossovers.csv rows of measure ``risk``). A small study run by direct calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lossstudy.config import load_study
from lossstudy.dgp import simulate
from lossstudy.estimators import fit_dataset
from lossstudy.performance import performance_table
from lossstudy.pipeline import write_scenarios
from lossstudy.sweeps.flip import VERSUS, prior_flips
from lossstudy.vectorized import fit_dataset_vectorized

SCALE = 0.40824829046  # slab variance 1/6: ridge's Bayes λ = 6/(1 − sparsity)
CONFIG = {
    "seed": 11,
    "replicates": 300,
    "scenarios": {
        "sp": {
            "coefficients": [1.0, *[0.0] * 8],
            "prior": {"distribution": "spike_slab", "scale": SCALE},
            "sweep": {"prior.sparsity": [0, 0.6, 0.8]},
        }
    },
    "estimators": {
        "ols": {"method": "ols"},
        "ridge": {"method": "ridge", "sweep": {"penalty": [6, 15, 30]}},
        "lasso": {"method": "lasso", "penalty": 10.0},
    },
}


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    study = load_study(CONFIG)
    frames, losses = [], {}
    for sid, sc in study.scenarios.items():
        data = simulate(sc.knobs, study.seed, sid, 0, sc.replicates)
        rows = []
        for name, spec in study.estimators.items():
            fit = fit_dataset_vectorized(data, spec, 0.95)
            losses[sid, name] = ((fit.estimate - data.beta) ** 2).sum(axis=1)
            for j, term in enumerate(sc.terms):
                rows.append(
                    pd.DataFrame(
                        {
                            "scenario": sid,
                            "replicate": data.replicates,
                            "estimator": name,
                            "method": spec["method"],
                            "term": term,
                            "true_value": data.beta[:, j],
                            "estimate": fit.estimate[:, j],
                            "std_error": fit.std_error[:, j],
                            "ci_low": fit.ci_low[:, j],
                            "ci_high": fit.ci_high[:, j],
                            "status": fit.status,
                            "message": fit.message,
                        }
                    )
                )
        est = pd.concat(rows, ignore_index=True)
        frames.append(performance_table(est, "ols", 0.95, selecting=["lasso"]))
    path = tmp_path_factory.mktemp("flip") / "scenarios.csv"
    write_scenarios(study, path)
    return study, pd.concat(frames, ignore_index=True), pd.read_csv(path), losses


def test_the_ordering_flips_beyond_monte_carlo_error(small_study):
    _, _, _, losses = small_study
    for cell, ridge, lasso_wins in (
        ("sp-sparsity0", "ridge-penalty6", False),
        ("sp-sparsity0.8", "ridge-penalty30", True),
    ):
        d = losses[cell, ridge] - losses[cell, "lasso"]  # paired: the same datasets
        z = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
        assert (z > 3) if lasso_wins else (z < -3), (cell, z)


def test_the_crossing_is_a_row_of_the_sweeps_layer(small_study):
    study, perf, scen, _ = small_study
    knobs = {sid: sc.knobs for sid, sc in study.scenarios.items()}
    (row,) = prior_flips(perf, scen, knobs, study.estimators, study.seed)
    assert row["estimator"] == "lasso" and row["versus"] == VERSUS and row["measure"] == "risk"
    assert row["bracket_low"] == 0 and row["bracket_high"] in (0.6, 0.8)
    assert row["bracket_low"] < row["ci_low"] <= row["crossing"] <= row["ci_high"]
    assert row["ci_high"] <= row["bracket_high"] and row["better"] == "above"
    assert "ridge-penalty6, ridge-penalty15, ridge-penalty30" in row["note"]


def test_the_reference_engine_agrees_on_a_sparse_cell(small_study):
    study, _, _, _ = small_study
    sc = study.scenarios["sp-sparsity0.8"]
    data = simulate(sc.knobs, study.seed, sc.id, 0, 5)
    spec = study.estimators["lasso"]
    fast, slow = fit_dataset_vectorized(data, spec, 0.95), fit_dataset(data, spec, 0.95)
    np.testing.assert_allclose(fast.estimate, slow.estimate, rtol=0, atol=1e-8)
