"""Sweeps through the workflow: a tiny sweep study end to end, and incremental reruns."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from test_workflow import AGGREGATION, job_counts, snakemake, write_config

from lossstudy.sweeps import CROSSOVER_COLUMNS, OPTIMA_COLUMNS

pytestmark = pytest.mark.slow

SWEEP = {
    "seed": 11,
    "replicates": 40,
    "replicates_per_job": 40,
    "defaults": {"n": 40, "coefficients": [1.0, 0.5, 0.0]},
    "scenarios": {
        "gm": {},
        "tails": {"errors": {"distribution": "t", "df": 3}, "sweep": {"errors.df": [2.5, 3, 30]}},
        "prior": {"prior": {"tau": 0.5}},
    },
    "grid": {"n": [30, 60]},
    "estimators": {
        "ols": {"method": "ols"},
        "lad": {"method": "lad"},
        "ridge": {"method": "ridge", "penalty": 4, "sweep": {"penalty": [0, 1, 4, 16]}},
    },
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("sweep")
    write_config(workdir, SWEEP)
    run = snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_crossovers_have_one_row_per_series_and_comparison(swept: Path):
    cross = pd.read_csv(swept / "results" / "crossovers.csv")
    assert tuple(cross.columns[:13]) == CROSSOVER_COLUMNS[:13]
    assert set(cross["scenario"]) == {"tails"}
    assert set(cross["fixed"]) == {"n=30", "n=60"}
    # lad and the anchor ridge against ols on two measures; coverage of ols and lad
    keys = cross[["fixed", "estimator", "measure"]].apply(tuple, axis=1)
    assert keys.is_unique
    comparisons = cross[cross["measure"].isin(["rel_efficiency", "rel_mse"])]
    assert set(comparisons["estimator"]) == {"lad", "ridge-penalty4"}
    assert set(cross.loc[cross["measure"] == "coverage", "estimator"]) == {"ols", "lad"}
    lad = cross[(cross["estimator"] == "lad") & (cross["measure"] == "rel_mse")]
    assert lad["theory"].round(2).tolist() == [4.68, 4.68]  # LAD vs OLS under t errors
    # every row either has a crossing with its bracket and interval, or says why not
    for row in cross.itertuples():
        if pd.notna(row.crossing):
            assert row.bracket_low <= row.crossing <= row.bracket_high
            assert row.ci_low <= row.crossing <= row.ci_high
        else:
            assert "no crossing in range" in row.note or "fewer than" in row.note


def test_optima_per_cell_with_bayes_rule_as_theory(swept: Path):
    opt = pd.read_csv(swept / "results" / "optima.csv")
    assert tuple(opt.columns[: len(OPTIMA_COLUMNS) - 1]) == OPTIMA_COLUMNS[:-1]
    scen = pd.read_csv(swept / "results" / "scenarios.csv")
    assert len(opt) == len(scen)  # one family, every cell
    prior = opt[opt["scenario"] == "prior"]
    # sigma² / tau² = 1 / 0.25 = 4 under the prior with normal errors
    assert prior["theory"].round(6).tolist() == [4.0, 4.0]
    assert prior["note"].str.contains("Bayes rule").all()
    assert ((prior["ci_low"] <= prior["argmin"]) & (prior["argmin"] <= prior["ci_high"])).all()


def test_sweep_figures_and_report_section(swept: Path):
    figs = swept / "results" / "figures"
    for name in ("sweep_tails", "optimum_ridge", "nested_loop"):
        assert (figs / f"{name}.png").stat().st_size > 10_000
        assert (figs / f"{name}.svg").exists()
    html = (swept / "report" / "report.html").read_text()
    assert "When does L2 stop winning?" in html
    assert 'href="#fig-sweep_tails"' in html and 'id="fig-sweep_tails"' in html
    # the answer in one screen: the reasons, then the scoreboard, before everything collapsed
    front = html.index('class="reasons"')
    assert front < html.index('id="fig-scoreboard"') < html.index('<details class="more"')
    assert html.count('href="#', front, html.index('<details class="more"')) <= 20
    assert (figs / "scoreboard.png").exists()
    # per-scenario sections show the sweep's anchor and the anchor ridge only
    assert "tails-df3-n60" in html
    assert "<td>tails-df30-n60</td>" not in html


def test_adding_a_sweep_value_runs_only_its_jobs(swept: Path, tmp_path: Path):
    """One more df: its two cells (n = 30, 60), each one `cell` job (40 replicates in one job),
    plus the aggregations; no other cell's job."""
    config = copy.deepcopy(SWEEP)
    config["scenarios"]["tails"]["sweep"]["errors.df"].append(8)
    work = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(swept), str(work)], check=True)
    write_config(work, config)
    run = snakemake(work, "-n")
    assert run.returncode == 0, run.stderr[-2000:]
    counts = job_counts(run.stdout)
    assert counts == {"cell": 2, "scenarios": 1, **AGGREGATION}
