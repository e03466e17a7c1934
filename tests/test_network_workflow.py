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
        # full-batch GD on the squared loss: records its sharpness
        "net_gd": {
            "loss": "squared", "solver": "gd", "model": "mlp", "hidden": [8], "lr": 0.2,
            "steps": 100,
        },
    },
}  # fmt: skip
NETS = ("net_l2-steps50", "net_l2-steps200", "net_huber", "net_gd")


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
    measures = {"test_mse", "test_mae", "ise", "divergence", "failure_rate"}
    assert set(nets.loc[nets["estimator"] != "net_gd", "measure"]) == measures
    # GD on the squared loss adds its sharpness (< 2/η = 10: it did not diverge)
    assert set(nets.loc[nets["estimator"] == "net_gd", "measure"]) == {*measures, "sharpness"}
    sharp = perf[perf["measure"] == "sharpness"]
    assert list(sharp["estimator"]) == ["net_gd"] and (sharp["n_used"] == 8).all()
    assert 0 < sharp["value"].iloc[0] < 2 / 0.2 and sharp["mcse"].iloc[0] > 0
    # the sine is no line: a trained network beats OLS's best line in ise
    assert ise.loc["net_l2-steps200", "value"] < ise.loc["ols", "value"]


def test_network_rows_keep_their_fitted_curve_on_the_curve_grid(study: Path):
    from lossstudy.responses import GRID_POINTS, curve_grid

    est = pd.read_parquet(study / "results" / "estimates" / "sine.parquet")
    x, f = curve_grid({"coefficients": [0.0, 1.0], "response": {"function": "sine"}})
    assert len(x) == len(f) == GRID_POINTS // 8
    nets = est[est["estimator"].isin(NETS)]
    curves = np.stack(nets["curve"].to_numpy())
    assert curves.shape == (len(nets), len(x)) and np.isfinite(curves).all()
    # the stored curve is the fit the ise scores: its mean squared error against f on these
    # 128 points (a coarser midpoint rule) is the ise to a few percent
    coarse = np.mean((curves - f) ** 2, axis=1)
    assert np.allclose(coarse, nets["ise"].to_numpy(), rtol=0.03)
    # a line stores no curve (x'β̂ is its curve)
    assert all(len(c) == 0 for c in est.loc[est["estimator"] == "ols", "curve"])


def test_the_fitted_curves_figure_draws_the_stored_curves_per_loss(study: Path):
    from lossstudy.figures.networks import chosen_replicates, network_curve_figures

    ise = pd.Series([5.0, 1.0, np.nan, 3.0, 2.0, 4.0], index=[10, 11, 12, 13, 14, 15])
    # finite values in order: 11, 14, 13, 15, 10; ranks round(q * 4) for q = .1, .3, .5, .7, .9
    assert chosen_replicates(ise) == [11, 14, 13, 15, 10]
    assert chosen_replicates(pd.Series([1.0, 2.0]), (0.1, 0.2)) == [0]

    scen = pd.DataFrame(  # the columns of results/scenarios.csv the figure reads
        {
            "scenario": ["sine"], "base": ["sine"], "n": [50], "coefficients": ["[0.0, 1.0]"],
            "response.function": ["sine"], "design.distribution": ["uniform"],
            "errors.distribution": ["normal"],
        }
    )  # fmt: skip
    from lossstudy.config import load_study

    specs = load_study(NETWORKS).estimators  # the members, as the workflow stores them
    figs = network_curve_figures(scen, study / "results" / "estimates", specs)
    assert list(figs) == ["network_curves_sine"]
    axes = [ax for ax in figs["network_curves_sine"].axes if ax.get_title()]
    # one panel per loss (net_l2 at its last checkpoint; net_huber), five replicates and f
    assert [ax.get_title().split(",")[0] for ax in axes] == ["squared (L2)", "Huber"]
    assert all(len(ax.get_lines()) == 6 for ax in axes)
    only_ols = {"ols": specs["ols"]}
    assert network_curve_figures(scen, study / "results" / "estimates", only_ols) == {}


def test_replay_and_overhead_refit_the_networks(study: Path, tmp_path: Path):
    """`lossstudy replay` retrains a network member on one replicate alone and finds the stored
    ISE bit for bit (each checkpoint member of a trajectory on its own); `lossstudy overhead`
    refits every member, networks included, on the stored datasets, a trajectory once (both
    raised before: a network needs the scenario's true mean, which neither passed)."""
    import json
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "lossstudy", "replay", "sine", "5"],
        cwd=study, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    stored = pd.read_parquet(study / "results" / "estimates" / "sine.parquet")
    for name in NETS:
        line = next(x for x in run.stdout.splitlines() if x.split()[:2] == [name, "model"])
        assert "identical to stored" in line, line
        ise = stored[(stored.estimator == name) & (stored.replicate == 5)]["ise"].item()
        assert f"{ise:.6g}" in line
    assert "DIFFERS" not in run.stdout
    out = tmp_path / "overhead.json"
    run = subprocess.run(
        [sys.executable, "-m", "lossstudy", "overhead", "--floor-repeats", "1", "--out", str(out)],
        cwd=study, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    warm = json.loads(out.read_text())["warm_fit_by_estimator"]
    assert {k: v["fits"] for k, v in warm.items()} == {name: 8 for name in ("ols", *NETS)}
    # net_l2's two checkpoints are one trajectory, trained once and its time split between them
    assert warm["net_l2-steps50"]["seconds"] == warm["net_l2-steps200"]["seconds"] > 0
