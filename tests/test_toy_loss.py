"""A loss added through the registry alone joins a study: a toy loss, defined in a temporary
module and named in LOSSSTUDY_METHODS, runs through the tiny study of test_workflow.py, with
the package's own added losses (pseudo_huber, log_cosh)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import TINY as WORKFLOW_TINY

from lossstudy.performance import MEASURES

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

TOY = textwrap.dedent(
    '''
    """ρ(r) = r²/2 by Newton: the least-squares fit, reached through the registry alone."""
    import numpy as np

    from lossstudy.methods import Param
    from lossstudy.losses.smooth import Smooth, register_smooth

    register_smooth(
        "toy_half_squared",
        Smooth(
            lambda r, weight: weight * r**2 / 2,
            lambda r, weight: weight * r,
            lambda r, weight: np.full_like(r, weight),
        ),
        {"weight": Param(1.0, {"type": "number", "exclusiveMinimum": 0})},
        "toy: Σ w rᵢ²/2",
        lambda p: f"toy: Σ w rᵢ²/2, w = {p['weight']}",
        robust=False,
    )
    '''
)

#: the workflow test's tiny study (two of its scenarios), with the toy and the smooth losses
TINY = {
    **{k: v for k, v in WORKFLOW_TINY.items() if k not in ("scenarios", "estimators")},
    "scenarios": {k: WORKFLOW_TINY["scenarios"][k] for k in ("gm", "cauchy")},
    "estimators": {
        "ols": {"method": "ols"},
        "lad": {"method": "lad"},
        "toy": {"loss": "toy_half_squared", "weight": 2.0},
        "ph": {"loss": "pseudo_huber", "sweep": {"delta": [0.5, 2.0]}},
        "lc": {"loss": "log_cosh", "se": "none"},
    },
}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "toy_loss.py").write_text(TOY)
    workdir = tmp_path_factory.mktemp("toy_study")
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(copy.deepcopy(TINY)))
    paths = [str(plugins), str(ROOT / "workflow"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "LOSSSTUDY_METHODS": "toy_loss", "PYTHONPATH": os.pathsep.join(paths)}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    run = subprocess.run([*cmd, "--cores", "2"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_the_toy_loss_is_in_every_table(study: Path) -> None:
    perf = pd.read_csv(study / "results" / "performance.csv")
    toy = perf[perf.estimator == "toy"]
    assert set(toy.scenario) == set(TINY["scenarios"])
    assert set(toy.measure) == {*MEASURES, "failure_rate", "risk", "test_mse", "test_mae"}
    table = pd.read_csv(study / "results" / "estimators.csv", keep_default_na=False)
    row = table.set_index("estimator").loc["toy"]
    assert (row["loss"], row["solver"], row["se"], row["method"]) == (
        "toy_half_squared",
        "exact",
        "sandwich",
        "",
    )
    assert row["loss_text"] == "toy: Σ w rᵢ²/2, w = 2.0" and float(row["weight"]) == 2.0


def test_the_toy_fit_is_least_squares(study: Path) -> None:
    """Newton on w·r²/2 lands on OLS in one step: the same estimates, replicate by replicate."""
    est = pd.read_parquet(study / "results" / "estimates" / "gm.parquet")
    wide = est.pivot_table(index=["replicate", "term"], columns="estimator", values="estimate")
    np.testing.assert_allclose(wide["toy"], wide["ols"], rtol=0, atol=1e-12)
    assert set(est[est.estimator == "toy"].status) == {"ok"}
    assert set(est[est.estimator == "toy"].method) == {"toy_half_squared"}


def test_pseudo_huber_and_log_cosh_run_through_the_study(study: Path) -> None:
    perf = pd.read_csv(study / "results" / "performance.csv")
    for name in ("ph-delta0.5", "ph-delta2.0", "lc"):
        rows = perf[perf.estimator == name]
        assert set(rows.scenario) == set(TINY["scenarios"]), name
        failures = rows[rows.measure == "failure_rate"]
        assert (failures.value == 0).all(), name
    # a robust loss keeps its moments under Cauchy errors; log_cosh here has no intervals
    cauchy = perf[(perf.scenario == "cauchy") & (perf.measure == "empse")]
    defined = dict(zip(cauchy.estimator, cauchy.defined, strict=False))
    assert defined["ph-delta2.0"] and defined["lc"] and not defined["ols"]
    coverage = perf[(perf.measure == "coverage") & (perf.scenario == "gm")]
    values = coverage.groupby("estimator").value.apply(lambda v: v.notna().all())
    assert values["ph-delta2.0"] and not values["lc"]
    table = pd.read_csv(study / "results" / "estimators.csv", keep_default_na=False)
    table = table.set_index("estimator")
    assert table.loc["ph-delta0.5", "family"] == "ph"
    assert table.loc["ph-delta0.5", "parameter"] == "delta"
    assert table.loc["lc", "se"] == "none" and float(table.loc["lc", "scale"]) == 1.0
