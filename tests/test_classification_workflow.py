"""A classification scenario through the workflow: one tiny cell, its rows and its scores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_workflow import snakemake, write_config

pytestmark = pytest.mark.slow

TINY = {
    "seed": 7,
    "replicates": 16,
    "defaults": {"n": 80, "coefficients": [0.0, 1.0, -1.0]},
    "scenarios": {"gm": {}, "logistic": {"response": {"family": "bernoulli"}}},
    "estimators": {
        "ols": {"method": "ols"},
        "mle": {"method": "logit"},
        "ce": {"loss": "cross_entropy", "solver": "gd", "lr": 1.0, "steps": [5, 300]},
    },
}


def test_a_classification_cell_through_the_workflow(tmp_path: Path):
    write_config(tmp_path, TINY)
    run = snakemake(tmp_path, "--cores", "1", "results/performance/logistic.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    est = pd.read_parquet(tmp_path / "results/estimates/logistic.parquet")
    assert list(dict.fromkeys(est["estimator"])) == ["mle", "ce-steps5", "ce-steps300"]
    assert set(est["true_value"]) == {0.0, 1.0, -1.0}
    perf = pd.read_csv(tmp_path / "results/performance/logistic.csv")
    model = perf[(perf.term == "model") & (perf.estimator == "ce-steps300")]
    assert {"test_error", "test_log_loss", "test_brier", "opt_error"} <= set(model.measure)
    # the scenario's reference is its MLE: exact relative measures for it, finite for GD
    rel = perf[(perf.measure == "rel_efficiency") & (perf.term == "x1")].set_index("estimator")
    assert rel.loc["mle", "value"] == 1.0 and 0 < rel.loc["ce-steps300", "value"] < 10


NONLINEAR = {
    "seed": 7,
    "replicates": 128,
    "defaults": {
        "n": 400,
        "coefficients": [0.0, 1.0],
        "design": {"distribution": "uniform", "fixed": False},
    },
    "scenarios": {"wavy": {"response": {"family": "bernoulli", "function": "heavisine"}}},
    "estimators": {"mle": {"method": "logit"}, "brier": {"loss": "brier"}},
}


def test_a_nonlinear_logit_through_the_workflow(tmp_path: Path):
    """y ~ Bernoulli(σ(heavisine(x))), a fresh design per replicate: the linear logistic MLE
    estimates the logistic (Kullback–Leibler) projection, stored as the true value, and the
    Brier fit its own projection, each within 4 MCSE; neither reaches the Bayes error."""
    from lossstudy import responses

    write_config(tmp_path, NONLINEAR)
    run = snakemake(tmp_path, "--cores", "1", "results/performance/wavy.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    est = pd.read_parquet(tmp_path / "results/estimates/wavy.parquet")
    target = responses.logistic_projection("heavisine")
    assert set(est["true_value"]) == set(target)
    perf = pd.read_csv(tmp_path / "results/performance/wavy.csv").set_index(
        ["estimator", "term", "measure"]
    )
    for term in ("intercept", "x1"):
        bias = perf.loc[("mle", term, "bias")]
        assert abs(bias["value"]) < 4 * bias["mcse"], (term, bias["value"], bias["mcse"])
    # the Brier fit's target is its own projection: its bias against the logistic one
    for term, mine, logistic in zip(
        ("intercept", "x1"), responses.brier_projection("heavisine"), target, strict=True
    ):
        bias = perf.loc[("brier", term, "bias")]
        assert abs(bias["value"] - (mine - logistic)) < 4 * bias["mcse"], (term, bias["value"])
    error = perf.loc[("mle", "model", "test_error")]
    bayes = responses.bayes_error("heavisine")
    assert error["value"] > bayes + 4 * error["mcse"]
