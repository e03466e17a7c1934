"""``model: mlp`` through the workflow: a tiny nonlinear study to results/performance.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_workflow import snakemake, write_config

pytestmark = pytest.mark.slow

NETWORKS = {
    "seed": 5,
    "replicates": 8,
    "defaults": {"n": 50, "coefficients": [0.0, 1.0]},
    "scenarios": {
        "sine": {"design": {"distribution": "uniform"}, "response": {"function": "sine"}},
    },
    "estimators": {
        "ols": {"method": "ols"},
        "net_l2": {
            "loss": "squared",
            "solver": "adam",
            "model": "mlp",
            "hidden": [8],
            "lr": 0.05,
            "steps": [50, 200],
        },
        "net_huber": {
            "loss": "huber",
            "delta": 1.345,
            "solver": "adam",
            "model": "mlp",
            "hidden": [8],
            "activation": "relu",
            "lr": 0.05,
            "steps": 200,
        },
    },
}
NETS = ("net_l2-steps50", "net_l2-steps200", "net_huber")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("networks")
    write_config(workdir, NETWORKS)
    run = snakemake(workdir, "--cores", "2", "results/performance.csv")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_network_rows_carry_ise_and_test_errors_per_replicate(study: Path):
    est = pd.concat(pd.read_parquet(p) for p in (study / "results").rglob("*.parquet"))
    nets = est[est["estimator"].isin(NETS)]
    assert set(nets["term"]) == {"model"}
    assert nets.groupby("estimator")["replicate"].nunique().to_dict() == dict.fromkeys(NETS, 8)
    assert nets["estimate"].isna().all() and nets["true_value"].isna().all()
    assert np.isfinite(nets[["ise", "test_mse", "test_mae"]].to_numpy()).all()
    ols = est[est["estimator"] == "ols"]
    assert set(ols["term"]) == {"intercept", "x1"}
    assert np.isfinite(ols["ise"]).all()


def test_performance_summarises_ise_beside_the_linear_fit(study: Path):
    perf = pd.read_csv(study / "results" / "performance.csv")
    ise = perf[perf["measure"] == "ise"].set_index("estimator")
    assert set(ise.index) == {"ols", *NETS}
    assert (ise["term"] == "model").all()
    assert np.isfinite(ise[["value", "mcse"]].to_numpy()).all()
    assert (ise["mcse"] > 0).all() and (ise["n_used"] == 8).all()
    # a network has no coefficients: no per-term measures and no risk, but its divergence
    nets = perf[perf["estimator"].isin(NETS)]
    assert set(nets["term"]) == {"model"}
    assert set(nets["measure"]) == {"test_mse", "test_mae", "ise", "divergence", "failure_rate"}
    # the sine is no line: a trained network beats OLS's best line in ise
    assert ise.loc["net_l2-steps200", "value"] < ise.loc["ols", "value"]
