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


def test_cell_stages_split_a_cell_jobs_log_into_its_stages(study, tmp_path):
    """A cell job (draw, fit, summarise, tables in one process) logs the end of each stage;
    the stages read from a real cell's log cover it from its first to its last line."""
    import logging
    from datetime import datetime

    from lossstudy.pipeline import fit_and_summarise, setup_logging
    from lossstudy.runtimes import cell_stages
    from lossstudy.tables import write_scenario_tables

    logs, out = tmp_path / "logs", tmp_path / "out"
    (logs / "cell").mkdir(parents=True)
    sid = "gm-n12"
    sc = study.scenarios[sid]
    setup_logging(logs / "cell" / f"{sid}.log")
    try:
        fit_and_summarise(
            sc.knobs, study.seed, sid, sc.replicates, study.estimators_in(sid), study.level,
            study.engine, study.reference_in(sid), out / "d.npz", out / "e.parquet",
            out / "p.csv", test_rows=50,
        )  # fmt: skip
        write_scenario_tables(out / "p.csv", sid, out / "t.csv", out / "t.tex")
    finally:
        for handler in logging.getLogger("lossstudy").handlers:
            handler.close()
        logging.getLogger("lossstudy").handlers.clear()
    # a split scenario's fit log has no summary: not counted
    (logs / "cell" / "other.log").write_text("2026-01-01 10:00:00,000 INFO fitting x\n")
    stages = cell_stages(logs)
    assert stages["cells"] == 1
    stamps = [ln[:23] for ln in (logs / "cell" / f"{sid}.log").read_text().splitlines()]
    span = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f").timestamp() for s in stamps]
    parts = ("drawing", "fit stage", "summaries", "tables")
    assert sum(stages[k] for k in parts) == pytest.approx(span[-1] - span[0], abs=1e-6)
    assert all(stages[k] >= 0 for k in parts) and stages["summaries"] > 0
    assert 0 <= stages["test scoring"] <= stages["fit stage"] + 0.01
    # stamps a second apart: each stage is the time between its marks, scoring as logged
    (logs / "cell" / f"{sid}.log").write_text(
        "2026-01-01 10:00:00,000 INFO simulating s replicates 0..9\n"
        "2026-01-01 10:00:01,500 INFO simulated s replicates 0..9 (n=5) in 1.50s\n"
        "2026-01-01 10:00:02,000 INFO scored s on fresh test samples: 10 replicates in 1.25s\n"
        "2026-01-01 10:00:04,000 INFO fitted s: 2 estimators × 10 replicates in 2.50s\n"
        "2026-01-01 10:00:04,750 INFO summarised 60 estimate rows into 12 performance rows\n"
        "2026-01-01 10:00:05,000 INFO ran in a warm worker's child: 5.00 s wall\n"
    )
    stages = cell_stages(logs)
    assert stages == pytest.approx(
        {"drawing": 1.5, "fit stage": 2.5, "test scoring": 1.25, "summaries": 0.75,
         "tables": 0.25, "cells": 1.0}
    )  # fmt: skip
    assert cell_stages(tmp_path / "none") == {**dict.fromkeys(parts, 0.0), "test scoring": 0.0,
                                              "cells": 0.0}  # fmt: skip
