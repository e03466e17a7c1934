"""The floor of `lossstudy overhead`: every dataset the study draws, and OLS on each, once.

The floor is the yardstick of the study's wall time (docs/job-granularity.md), so what it
times must be the whole study: every scenario, every replicate, each exactly once, the very
numbers the workflow draws, and a real OLS fit of each.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossstudy.config import load_study
from lossstudy.dgp import simulate
from lossstudy.speed.overhead import ols_batch, study_floor
from lossstudy.vectorized import fit_dataset_vectorized

CONFIG = {
    "seed": 11,
    "replicates": 23,
    "replicates_per_job": 7,  # chunks of 7, 7, 7, 2: the floor must follow the split
    "defaults": {"n": 20, "coefficients": [1.0, 0.5, -0.5]},
    "scenarios": {
        "gm": {},
        "random": {"design": {"fixed": False}, "errors": {"distribution": "t", "df": 3}},
        "prior": {"prior": {"tau": 0.5}, "replicates": 9},
        "singular": {"design": {"correlation": 1.0}},
    },
    "grid": {"n": [12, 30]},
    "estimators": {"ols": {"method": "ols"}},
}


@pytest.fixture(scope="module")
def study():
    return load_study(CONFIG)


def test_floor_draws_every_replicate_of_every_cell_once(study):
    seen: dict[str, list[int]] = {}
    chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}

    def record(sid, data, beta):
        seen.setdefault(sid, []).extend(data.replicates.tolist())
        chunks.setdefault(sid, []).append((data.y, beta))

    floor = study_floor(study, repeats=2, on_chunk=record)
    assert set(seen) == set(study.scenarios) and floor["cells"] == len(study.scenarios) == 8
    for sid, sc in study.scenarios.items():
        assert seen[sid] == list(range(sc.replicates))  # each replicate once, in order
        assert floor["replicates_by_cell"][sid] == sc.replicates
        # the very numbers the workflow draws (one call for all replicates: same streams)
        whole = simulate(sc.knobs, study.seed, sid, 0, sc.replicates)
        np.testing.assert_array_equal(np.concatenate([y for y, _ in chunks[sid]]), whole.y)
    total = sum(sc.replicates for sc in study.scenarios.values())
    assert floor["replicates"] == floor["ols_fits"] == total == 2 * (3 * 23 + 9)
    assert len(floor["passes"]) == 2 and floor["seconds"] == min(floor["passes"])
    assert floor["seconds"] == pytest.approx(floor["draw_seconds"] + floor["ols_seconds"])
    assert floor["draw_seconds"] > 0 and floor["ols_seconds"] > 0 and floor["cpu_seconds"] > 0


@pytest.mark.parametrize("sid", ["gm-n12", "random-n30", "prior-n30"])
def test_floor_ols_equals_the_study_ols(study, sid):
    """One factorisation per fixed design (or stacked normal equations) gives the engine's OLS."""
    sc = study.scenarios[sid]
    data = simulate(sc.knobs, study.seed, sid, 0, sc.replicates)
    got = ols_batch(data)
    want = fit_dataset_vectorized(data, {"method": "ols"}, 0.95).estimate
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_floor_fits_a_rank_deficient_design_too(study):
    """OLS fails there in the study, but the floor still does the work: minimum-norm fits."""
    sc = study.scenarios["singular-n12"]
    data = simulate(sc.knobs, study.seed, "singular-n12", 0, 5)
    beta = ols_batch(data)
    assert beta.shape == (5, 3) and np.isfinite(beta).all()
    np.testing.assert_allclose(data.X @ beta.T, data.X @ np.linalg.lstsq(data.X, data.y.T)[0])


def test_wall_time_comes_from_the_newest_finished_run(tmp_path):
    """A dry run or lint after the study writes a log without an elapsed time: skipped."""
    from lossstudy.speed.overhead import snakemake_span

    logs = tmp_path / ".snakemake" / "log"
    logs.mkdir(parents=True)
    (logs / "2026-01-01T100000.000000.snakemake.log").write_text(
        "Command: snakemake --cores 2\n200 of 200 steps (100%) done\nElapsed time: 0:05:07.5\n"
    )
    (logs / "2026-01-01T110000.000000.snakemake.log").write_text("Command: snakemake -n\n")
    run = snakemake_span(tmp_path)
    assert run is not None and run["seconds"] == 307.5 and run["command"] == "snakemake --cores 2"
    assert snakemake_span(tmp_path / "elsewhere") is None
