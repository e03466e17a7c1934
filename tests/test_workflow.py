"""The Snakemake workflow end to end on a tiny study in a temporary directory."""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lossstudy.performance import MEASURES

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

TINY = {
    "seed": 7,
    "replicates": 20,
    "replicates_per_job": 10,
    "level": 0.9,
    "defaults": {"n": 30, "coefficients": [1.0, 0.5, 0.0]},
    "scenarios": {
        "gm": {},
        "cauchy": {"errors": {"distribution": "cauchy"}},
        "singular": {"design": {"correlation": 1.0}},
    },
    "estimators": {
        "ols": {"method": "ols"},
        "hc3": {"method": "ols", "se": "hc3"},
        "lad": {"method": "lad"},
        "huber": {"method": "huber", "k": 1.345},
        "ridge": {"method": "ridge", "penalty": 2.0},
        # a trained estimator (two checkpoints of one trajectory) in two of the three scenarios
        "gd": {
            "loss": "huber",
            "delta": 1.0,
            "solver": "gd",
            "lr_relative": 0.5,
            "steps": [5, 200],
            "scenarios": ["gm", "cauch*"],
        },
    },
}
#: the members of each estimator and the scenarios each is fitted in
MEMBERS = {
    **{e: ([e], list(TINY["scenarios"])) for e in TINY["estimators"] if e != "gd"},
    "gd": (["gd-steps5", "gd-steps200"], ["gm", "cauchy"]),
}


def members_in(scenario: str) -> list[str]:
    return [m for names, where in MEMBERS.values() if scenario in where for m in names]


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, check=False)


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run into {rule: count}."""
    if "Nothing to be done" in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:")[1]
    counts = {}
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) == "total":
            break
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("study")
    write_config(workdir, TINY)
    run = snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_performance_table_covers_every_cell(study: Path):
    perf = pd.read_csv(study / "results" / "performance.csv")
    assert list(perf.columns[:7]) == [
        "scenario",
        "estimator",
        "term",
        "measure",
        "value",
        "mcse",
        "n_used",
    ]
    expected = {
        (s, e, t, m)
        for s in TINY["scenarios"]
        for e in members_in(s)
        for t in ("intercept", "x1", "x2")
        for m in (*MEASURES, "failure_rate")
    }
    # every estimator's coefficient risk and test-set errors on the term model, and the trained
    # members' diagnostics
    expected |= {
        (s, e, "model", m)
        for s in TINY["scenarios"]
        for e in members_in(s)
        for m in ("risk", "test_mse", "test_mae")
        + (("divergence", "opt_error", "objective_gap") if e.startswith("gd-") else ())
    }
    got = set(perf[["scenario", "estimator", "term", "measure"]].itertuples(index=False, name=None))
    assert got == expected
    # the test MSE exists where the errors have a variance, and exceeds it (estimation error)
    test_mse = perf[(perf.term == "model") & (perf.measure == "test_mse")]
    assert not test_mse[test_mse.scenario == "cauchy"]["defined"].any()
    gm = test_mse[test_mse.scenario == "gm"]
    assert gm["defined"].all() and (gm["value"] > 1.0).all() and (gm["n_used"] == 20).all()
    # moments of linear estimators under Cauchy errors are flagged as non-existent
    cauchy = perf[(perf.scenario == "cauchy") & (perf.measure == "empse")]
    flagged = dict(zip(cauchy.estimator, cauchy.defined, strict=True))
    assert not flagged["ols"] and not flagged["ridge"]
    assert flagged["lad"] and flagged["huber"]
    # a separate flag for MCSEs that are not valid standard errors, appended as the last column
    assert list(perf.columns[-3:]) == ["defined", "note", "mcse_valid"]
    valid = dict(zip(cauchy.estimator, cauchy.mcse_valid, strict=True))
    assert not valid["ols"] and valid["lad"]
    # singular design: OLS/LAD/Huber fail on every replicate (recorded, not crashed), ridge fits
    singular = perf[(perf.scenario == "singular") & (perf.measure == "failure_rate")]
    rates = dict(zip(singular.estimator, singular.value, strict=True))
    assert rates == {"ols": 1.0, "hc3": 1.0, "lad": 1.0, "huber": 1.0, "ridge": 0.0}
    note = singular[singular.estimator == "ols"].note.iloc[0]
    assert "rank" in note


def test_estimates_are_tidy_and_complete(study: Path):
    est = pd.read_parquet(study / "results" / "estimates" / "gm.parquet")
    for col in (
        "scenario",
        "replicate",
        "estimator",
        "term",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "status",
        "true_value",
    ):
        assert col in est.columns
    assert len(est) == 20 * 7 * 3
    assert sorted(est.replicate.unique()) == list(range(20))
    assert (est.status == "ok").all()
    ridge = est[est.estimator == "ridge"]
    assert ridge.ci_low.isna().all()  # no interval for a biased-by-design estimator
    # the trained members: distances to their exact minimiser (the fixed-δ Huber), NaN elsewhere
    gd = est[est.estimator.str.startswith("gd-")]
    assert set(gd.method) == {"huber-gd"} and gd.std_error.isna().all()
    assert (
        est[~est.estimator.str.startswith("gd-")][["opt_diff", "objective_gap"]].isna().all().all()
    )
    late = gd[gd.estimator == "gd-steps200"]
    assert late.opt_diff.abs().max() < 1e-6 < gd[gd.estimator == "gd-steps5"].opt_diff.abs().max()
    # a scenario without trained members writes the columns it always wrote
    singular = pd.read_parquet(study / "results" / "estimates" / "singular.parquet")
    assert "opt_diff" not in singular.columns
    assert set(singular.estimator) == set(members_in("singular"))
    table = pd.read_csv(study / "results" / "estimators.csv", keep_default_na=False)
    assert dict(zip(table.estimator, table.scenarios, strict=True))["gd-steps5"] == "gm cauch*"
    # the MSE scoreboard compares exact fits only: trained members are judged in their section
    board = pd.read_csv(study / "results" / "scoreboard.csv")
    assert "ols" in set(board.estimator) and not board.estimator.str.startswith("gd-").any()


def test_side_outputs_exist(study: Path):
    res = study / "results"
    scen = pd.read_csv(res / "scenarios.csv")
    assert set(scen.scenario) == set(TINY["scenarios"])
    row = scen.set_index("scenario").loc["singular"]
    assert row["full_rank"] == "breaks" and row["gauss_markov"] == "breaks"
    assert scen.set_index("scenario").loc["gm", "gauss_markov"] == "holds"
    for s in TINY["scenarios"]:
        assert (res / "tables" / f"{s}.csv").exists()
        tex = (res / "tables" / f"{s}.tex").read_text()
        assert "\\toprule" in tex and "\\bottomrule" in tex
    with np.load(res / "datasets" / "gm" / "chunk1.npz") as data:
        assert data["y"].shape == (10, 30)
        assert list(data["replicates"]) == list(range(10, 20))
    # each fit chunk is temporary: deleted once its scenario's estimates gathered it
    assert (res / "logs" / "fit" / "gm" / "chunk1.log").exists()
    assert not list(res.glob("fits/**/*.parquet"))
    assert not list(res.rglob("*.part"))
    claims = pd.read_csv(res / "claims.csv", keep_default_na=False)
    for col in ("section", "scenario", "estimator", "versus", "term", "measure", "value"):
        assert col in claims.columns
    for col in ("mcse", "statistic", "threshold", "verdict", "text"):
        assert col in claims.columns
    assert len(claims) and set(claims["scenario"]) <= set(TINY["scenarios"])


def test_report_is_self_contained_and_complete(study: Path):
    html = (study / "report" / "report.html").read_text()
    assert not re.search(r'(src|href)="https?:', html)
    for name in [*TINY["scenarios"], *TINY["estimators"]]:
        assert name in html
    for section in ("short answer", "Design (ADEMP)", "Figures", "Failures", "Reproducibility"):
        assert section in html
    assert html.count('src="data:image/png;base64,') >= 6
    assert "<code>claim = 1</code> in <code>results/claims.csv</code>" in html
    figures = {p.stem for p in (study / "results" / "figures").glob("*.png")}
    assert {"mse_decomposition", "relative_efficiency", "bias", "coverage", "zip"} <= figures


def test_theory_table_and_report_section(study: Path):
    """The `theory` rule writes results/theory.csv; the report shows it. With 20 replicates the
    z-scores are noisy but defined; the Cauchy scenario has no finite-variance theory, the
    singular one only ridge's exact moments."""
    from lossstudy.theory import COLUMNS, KINDS

    th = pd.read_csv(study / "results" / "theory.csv", keep_default_na=False, na_values=[""])
    assert list(th.columns) == list(COLUMNS)
    assert set(th["kind"]) <= set(KINDS) and "exact" in set(th["kind"])
    # under Cauchy errors only the trained Huber's rows (no divergence, convergence)
    assert set(th.loc[th["scenario"] == "cauchy", "estimator"]) <= {"gd-steps5", "gd-steps200"}
    assert set(th.loc[th["scenario"] == "cauchy", "quantity"]) <= {
        "divergence",
        "opt_error",
        "objective_gap",
    }
    assert set(th.loc[th["scenario"] == "singular", "estimator"]) == {"ridge"}
    gm = th[th["scenario"] == "gm"]
    assert {"bias", "variance", "coverage", "rel_efficiency"} <= set(gm["quantity"])
    assert gm["z"].notna().all() and (gm["n_used"] > 0).all()
    skipped = pd.read_csv(study / "results" / "theory_skipped.csv")
    assert (skipped["scenario"] == "cauchy").any()
    html = (study / "report" / "report.html").read_text(encoding="utf-8")
    assert "Does the simulation agree with theory?" in html and 'id="th-gm"' in html


def test_rerun_is_a_no_op(study: Path):
    assert job_counts(snakemake(study, "-n").stdout) == {}


# the study-wide steps that any change reruns
AGGREGATION = {
    "settings": 1,
    "performance": 1,
    "theory": 1,
    "sweeps": 1,
    "claims": 1,
    "figure_cells": 1,
    "figure_board": 1,
    "figure_sweeps": 1,
    "figure_training": 1,
    "figures": 1,
    "report": 1,
    "all": 1,
}


def _extend(study: Path, tmp_path: Path, config: dict) -> dict[str, int]:
    """Copy a finished study, change its config, and dry-run it."""
    work = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(study), str(work)], check=True)
    write_config(work, config)
    run = snakemake(work, "-n")
    assert run.returncode == 0, run.stderr[-2000:]
    return job_counts(run.stdout)


def test_a_scenario_in_one_job_is_one_cell_job(tmp_path: Path):
    """A dry run from scratch: scenarios of 20 replicates in jobs of 20 are one `cell` job each
    (draw, fit and summarise); one of 30 is split into fit jobs of 20 + 10 and a summary."""
    config = copy.deepcopy(TINY)
    config["replicates_per_job"] = 20
    config["scenarios"]["big"] = {"replicates": 30}
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "-n")
    assert run.returncode == 0, run.stderr[-2000:]
    counts = job_counts(run.stdout)
    assert counts == {
        "cell": 3,
        "fit": 2,
        "summarise": 1,
        "scenarios": 1,
        "estimators": 1,
        **AGGREGATION,
    }
    assert re.findall(r"wildcards: scenario=(\w+), chunk=", run.stdout) == ["big", "big"]


def test_adding_a_scenario_runs_only_its_jobs(study: Path, tmp_path: Path):
    config = copy.deepcopy(TINY)
    config["scenarios"]["laplace"] = {"errors": {"distribution": "laplace"}}
    counts = _extend(study, tmp_path, config)
    assert counts == {"fit": 2, "summarise": 1, "scenarios": 1, **AGGREGATION}


def test_adding_an_estimator_reruns_fits_only(study: Path, tmp_path: Path):
    """A fit job draws its replicates and fits every estimator (docs/job-granularity.md), so
    a new estimator reruns each scenario × job's fit job (drawing the same data again), then
    the summaries; nothing else per scenario."""
    config = copy.deepcopy(TINY)
    config["estimators"]["ridge_big"] = {"method": "ridge", "penalty": 50.0}
    counts = _extend(study, tmp_path, config)
    assert counts == {"fit": 3 * 2, "summarise": 3, "estimators": 1, **AGGREGATION}


def test_adding_a_trained_estimator_reruns_only_the_scenarios_it_is_fitted_in(
    study: Path, tmp_path: Path
):
    """Its `scenarios:` patterns leave the other scenarios' fit jobs (and parameters) alone."""
    config = copy.deepcopy(TINY)
    config["estimators"]["sgd"] = {
        "loss": "absolute",
        "solver": "sgd",
        "lr": 0.05,
        "batch_size": 10,
        "steps": 100,
        "scenarios": ["singular"],
    }
    counts = _extend(study, tmp_path, config)
    assert counts == {"fit": 2, "summarise": 1, "estimators": 1, **AGGREGATION}


def test_reordering_estimators_reruns_the_summaries_from_new_fits(study: Path, tmp_path: Path):
    """The estimates follow the config's order of estimators, so the summaries run again; the
    fit chunks they gather are temporary (deleted once gathered, halving the study's disk), so
    the fit jobs run again too, drawing the same data; results/estimators.csv follows the new
    order. Nothing else per scenario."""
    config = copy.deepcopy(TINY)
    config["estimators"] = dict(reversed(TINY["estimators"].items()))
    counts = _extend(study, tmp_path, config)
    assert counts == {"fit": 3 * 2, "summarise": 3, "estimators": 1, **AGGREGATION}


def test_changing_one_scenario_reruns_that_scenario_only(study: Path, tmp_path: Path):
    config = copy.deepcopy(TINY)
    config["scenarios"]["gm"] = {"errors": {"scale": 2.0}}
    counts = _extend(study, tmp_path, config)
    assert counts == {"fit": 2, "summarise": 1, "scenarios": 1, **AGGREGATION}


@pytest.mark.parametrize("per_job", [7, "auto"])
def test_job_split_and_cores_do_not_change_results(study: Path, tmp_path: Path, per_job):
    """Another split (7 per job, or `auto`: one job of 20 under the default memory budget, so
    one `cell` job per scenario that draws, fits and summarises in one process) and one core
    instead of two: the same estimates, performance and tables, byte for byte. With
    `keep_datasets: false` (the `auto` run) the dataset is temporary: none is left, and a rerun
    of the same targets plans nothing."""
    config = copy.deepcopy(TINY)
    config["replicates_per_job"] = per_job
    config["keep_datasets"] = per_job != "auto"
    config["scenarios"] = {"cauchy": TINY["scenarios"]["cauchy"], "gm": {}}  # reordered, fewer
    write_config(tmp_path, config)
    # the per-scenario outputs compared below (the study-wide steps read only these); the
    # `auto` run goes to the end, where the last reader of its temporary dataset has run
    targets = [
        f"results/{kind.format(s)}"
        for s in ("gm", "cauchy")
        for kind in ("estimates/{}.parquet", "performance/{}.csv", "tables/{}.csv", "tables/{}.tex")
        if per_job != "auto"
    ]
    run = snakemake(tmp_path, "--cores", "1", *targets)
    assert run.returncode == 0, run.stderr[-2000:]
    logs = tmp_path / "results" / "logs"
    if per_job == "auto":
        assert (logs / "cell" / "gm.log").exists() and not (logs / "fit").exists()
    else:
        chunks = sorted(p.name for p in (logs / "fit" / "gm").iterdir())
        assert chunks == [f"chunk{i}.log" for i in range(3)]
    datasets = sorted(p.name for p in (tmp_path / "results").glob("datasets/gm/*.npz"))
    assert datasets == ([] if per_job == "auto" else [f"chunk{i}.npz" for i in range(3)])
    assert not list((tmp_path / "results").glob("fits/**/*.parquet"))
    assert job_counts(snakemake(tmp_path, "-n", *targets).stdout) == {}
    for s in ("gm", "cauchy"):
        per_scenario = (
            "estimates/{}.parquet",
            "performance/{}.csv",
            "tables/{}.csv",
            "tables/{}.tex",
        )
        for kind in per_scenario:
            name = kind.format(s)
            a, b = ((w / "results" / name).read_bytes() for w in (study, tmp_path))
            assert a == b, name


def _with(path: str, value):
    """TINY with one entry changed, addressed by a dotted path."""
    config = copy.deepcopy(TINY)
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return config


# one case per kind of bad input; tests/test_config.py covers the messages in depth
BAD_INPUTS = {
    "replicates 0": (_with("replicates", 0), "'replicates'", ">= 1"),
    "replicates -3": (_with("replicates", -3), "'replicates'", ">= 1"),
    "replicates_per_job 0": (_with("replicates_per_job", 0), "'replicates_per_job'", ">= 1"),
    "n <= p": (_with("scenarios.gm.n", 3), "'scenarios.gm.n'", "greater than the number"),
    "unknown distribution": (
        _with("scenarios.gm.errors", {"distribution": "gamma"}),
        "'scenarios.gm.errors.distribution'",
        "allowed values",
    ),
    "unknown method": (_with("estimators.ols.method", "l3"), "'estimators.ols.method'", "lad"),
    "df <= 0": (
        _with("scenarios.gm.errors", {"distribution": "t", "df": -1}),
        "'scenarios.gm.errors.df'",
        "> 0",
    ),
    "correlation": (
        _with("scenarios.gm.design", {"correlation": -1.5}),
        "'scenarios.gm.design.correlation'",
        "outside",
    ),
    "phi": (_with("scenarios.gm.autocorrelation", {"phi": 1}), "phi'", "< 1"),
    "contamination": (
        _with("scenarios.gm.errors", {"distribution": "contaminated", "fraction": 2}),
        "'scenarios.gm.errors.fraction'",
        "<= 1",
    ),
    "coefficients": (_with("defaults.coefficients", [1, "a", 0]), "coefficients.1'", "number"),
    "slash in name": (_with("scenarios", {"a/b": {}}), "'scenarios'", "letters"),
    "dots in name": (_with("scenarios", {"..": {}}), "'scenarios'", "letters"),
    "space in name": (
        _with("estimators", {"my ols": {"method": "ols"}}),
        "'estimators'",
        "letters",
    ),
    "typo": (_with("replicatse", 5), "Did you mean 'replicates'?", "replicatse"),
    "grid knob": (_with("grid", {"sample_size": [10]}), "'grid.sample_size'", "unknown knob"),
    "no scenarios": (_with("scenarios", {}), "'scenarios'", "must not be empty"),
    "empty sweep": (
        _with("scenarios.gm.sweep", {"errors.scale": []}),
        "'scenarios.gm.sweep.errors.scale'",
        "non-empty list",
    ),
    "sweep value out of range": (
        _with("scenarios.gm.sweep", {"autocorrelation.phi": [0.5, 1.0]}),
        "'scenarios.gm.sweep.autocorrelation.phi[1]'",
        "< 1",
    ),
    "learning rate 0": (
        _with("estimators.gd.lr_relative", 0),
        "'estimators.gd.lr_relative'",
        "> 0",
    ),
    "scenario pattern matching none": (
        _with("estimators.gd.scenarios", ["gm", "train_*"]),
        "'estimators.gd.scenarios[1]'",
        "matches no scenario",
    ),
    "one replicate over the memory budget": (
        {**_with("replicates_per_job", "auto"), "memory_mb_per_job": 50},
        "'memory_mb_per_job'",
        "allowed: at least",
    ),
}


#: the cases also run through Snakemake (each a Snakemake start, ≈ 3 s): one of the schema's,
#: one of the trained estimators' and one of the memory model's checks
THROUGH_SNAKEMAKE = ("typo", "learning rate 0", "one replicate over the memory budget")


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_invalid_config_is_refused_with_one_message(case: str):
    """What the workflow's first lines do with the config file (workflow/rules/common.smk:
    ``load_study`` with the repository's schema; a ConfigError becomes the one message
    Snakemake prints), on the YAML as written."""
    from lossstudy.config import SCHEMA_IN_REPOSITORY, ConfigError, load_study

    config, field, allowed = BAD_INPUTS[case]
    with pytest.raises(ConfigError) as err:
        load_study(yaml.safe_load(yaml.safe_dump(config)), ROOT / SCHEMA_IN_REPOSITORY)
    assert field in str(err.value) and allowed in str(err.value)


@pytest.mark.parametrize("case", THROUGH_SNAKEMAKE)
def test_invalid_config_fails_before_any_job(tmp_path: Path, case: str):
    config, field, allowed = BAD_INPUTS[case]
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "--cores", "1")
    out = run.stderr + run.stdout
    assert run.returncode != 0
    assert field in out and allowed in out
    assert "Traceback" not in out
    assert not (tmp_path / "results").exists()


def test_more_replicates_keep_the_first_ones(study: Path, tmp_path: Path):
    """replicates 20 -> 8 (and a different job split): the 8 are the first 8 of the 20."""
    config = copy.deepcopy(TINY)
    config["replicates"], config["replicates_per_job"] = 8, 3
    config["scenarios"] = {"gm": {}}
    config["estimators"]["gd"]["scenarios"] = ["gm"]  # a pattern must match a scenario
    write_config(tmp_path, config)
    run = snakemake(tmp_path, "--cores", "2", "results/estimates/gm.parquet")
    assert run.returncode == 0, run.stderr[-2000:]
    small = pd.read_parquet(tmp_path / "results" / "estimates" / "gm.parquet")
    big = pd.read_parquet(study / "results" / "estimates" / "gm.parquet")
    big = big[big.replicate < 8].reset_index(drop=True)
    # every estimate keeps its bits; the test errors do not, by design: each replicate's fresh
    # test sample has ⌈10⁵/R⌉ rows, 12 500 here against 5 000 (docs/reproducibility.md)
    test_cols = ["test_mse", "test_mae"]
    pd.testing.assert_frame_equal(
        small.drop(columns=test_cols), big.drop(columns=test_cols), check_exact=True
    )
    assert small[test_cols].notna().all().all() and not small["test_mse"].equals(big["test_mse"])


def test_raising_replicates_refits_the_grown_scenarios(study: Path, tmp_path: Path):
    """20 -> 40 replicates: the summaries gather chunks 0-3, and the fit chunks 0 and 1 were
    deleted once gathered, so all four fit jobs of each scenario run (the first two draw the
    same data again)."""
    config = copy.deepcopy(TINY)
    config["replicates"] = 40
    counts = _extend(study, tmp_path, config)
    n_scen = len(TINY["scenarios"])
    assert counts == {"fit": 4 * n_scen, "summarise": n_scen, **AGGREGATION}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_killed_run_resumes_to_identical_results(study: Path, tmp_path: Path, sig: int):
    """SIGTERM (scheduler, Ctrl-C): the next plain run resumes. SIGKILL (power loss): Snakemake
    keeps its lock as a safety, so `snakemake --unlock` comes first, as its message says."""
    write_config(tmp_path, TINY)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
    proc = subprocess.Popen(
        [*cmd, "--cores", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    fits = tmp_path / "results" / "fits"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(list(fits.rglob("*.parquet"))) < 2:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, sig)  # the whole run, jobs included, mid-way
    proc.wait(timeout=120)  # a run that does not stop is a failure, not a hung CI
    if sig == signal.SIGKILL:
        assert snakemake(tmp_path, "--unlock").returncode == 0
    done = len(list(fits.rglob("*.parquet")))
    # Snakemake may delete the output of a job it had not yet registered as finished
    assert done < 3 * 2, "the run was not interrupted mid-way"
    for f in fits.rglob("*.parquet"):  # nothing truncated sits under a final name
        pd.read_parquet(f)
    # the next run resumes (to the estimates it is compared on: the study-wide steps after
    # them are tested by the fixture's full run)
    targets = [f"results/estimates/{s}.parquet" for s in TINY["scenarios"]]
    run = snakemake(tmp_path, "--cores", "2", *targets)
    assert run.returncode == 0, run.stderr[-2000:]
    for s in TINY["scenarios"]:
        a, b = (
            pd.read_parquet(w / "results" / "estimates" / f"{s}.parquet") for w in (study, tmp_path)
        )
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_replay_reproduces_a_stored_replicate(study: Path, tmp_path: Path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lossstudy",
            "replay",
            "cauchy",
            "13",
            "--estimator",
            "lad",
            "--dataset-csv",
            str(tmp_path / "rep.csv"),
        ],
        cwd=study,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "identical to stored" in out and "DIFFERS" not in out
    data = pd.read_csv(tmp_path / "rep.csv")
    assert list(data.columns) == ["row", "y", "x1", "x2"] and len(data) == 30
    stored = pd.read_parquet(study / "results" / "estimates" / "cauchy.parquet")
    lad = stored[(stored.estimator == "lad") & (stored.replicate == 13)]
    for term, value in zip(lad.term, lad.estimate, strict=True):
        assert f"{value:.6g}" in out, term


def test_overhead_command_accounts_for_every_fit(study: Path, tmp_path: Path):
    """`python -m lossstudy overhead` refits the stored datasets in one process and sets the
    fitting time against the fit jobs' benchmarks; with a reference sample it counts its fits.
    Its floor draws exactly the datasets the study stored and fits each once."""
    import json

    out = tmp_path / "overhead.json"
    cmd = [sys.executable, "-m", "lossstudy", "overhead", "--reference-sample", "0.2"]
    run = subprocess.run(
        [*cmd, "--floor-repeats", "2", "--out", str(out)],
        cwd=study,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    m = json.loads(out.read_text())
    jobs = {r["rule"]: r["jobs"] for r in m["rules"]}
    assert jobs["fit"] == 3 * 2 and jobs["summarise"] == 3 and "simulate" not in jobs
    fits = {k: v["fits"] for k, v in m["warm_fit_by_estimator"].items()}
    # each member on the 20 replicates of each scenario it is fitted in
    assert fits == {e: 20 * len(where) for names, where in MEMBERS.values() for e in names}
    in_cells = sum(len(members_in(s)) for s in TINY["scenarios"])
    assert m["reference"]["fits"] == 2 * 2 * in_cells  # ceil(0.2 × 10) per job
    assert 0 < m["warm_fit_seconds"] < m["fit_jobs_seconds"]
    assert 0 < m["fit_job_overhead_share"] < 1
    assert m["snakemake_run"]["command"].endswith("--cores 2")
    assert m["snakemake_run"]["seconds"] > m["fit_jobs_seconds"] / 2  # 2 cores at most
    assert "jobs that fit (fit + cell): 6 jobs" in run.stdout and "start-up, I/O" in run.stdout
    # the floor: every replicate of every cell, the very values stored, one OLS fit each
    floor = m["floor"]
    assert floor["replicates_by_cell"] == {s: 20 for s in TINY["scenarios"]}
    assert floor["replicates"] == floor["ols_fits"] == 3 * 20 and len(floor["passes"]) == 2
    stored = 0
    for path in (study / "results" / "datasets").rglob("*.npz"):
        with np.load(path) as data:
            stored += data["X"].size + data["y"].size + data["beta"].size
    assert floor["dataset_values"] == stored
    wall = m["snakemake_run"]["seconds"]
    assert floor["wall_over_floor"] == pytest.approx(wall / floor["seconds"])
    assert floor["jobs_over_floor"] == pytest.approx(m["jobs_total_seconds"] / floor["seconds"])
    assert f"wall {wall:.0f} s ÷ floor: {wall / floor['seconds']:.0f}×" in run.stdout
    # the bulk floor: the same OLS pass, the draws from one stream per cell
    bulk = floor["bulk_seconds"] + floor["ols_seconds"]
    assert 0 < floor["bulk_floor_seconds"] == pytest.approx(bulk)
    assert floor["wall_over_bulk_floor"] == pytest.approx(wall / bulk)
    assert floor["jobs_over_bulk_floor"] == pytest.approx(m["jobs_total_seconds"] / bulk)
    assert f"÷ bulk floor: {wall / bulk:.0f}×" in run.stdout
    # a wall time measured elsewhere, and no refitting
    quick = subprocess.run(
        [sys.executable, "-m", "lossstudy", "overhead", "--floor-only", "--wall", "100"],
        cwd=study,
        capture_output=True,
        text=True,
        check=False,
    )
    assert quick.returncode == 0, quick.stderr[-2000:]
    m = json.loads((study / "results" / "overhead.json").read_text())
    assert "warm_fit_seconds" not in m and m["floor"]["wall_seconds"] == 100
    assert m["floor"]["wall_over_floor"] == pytest.approx(100 / m["floor"]["seconds"])
    assert "wall 100 s ÷ floor" in quick.stdout
