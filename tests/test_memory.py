"""The memory model (lossstudy.memory): it bounds real jobs, sizes `auto` splits to the budget,
and an `auto` split gives the same results as any other."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from lossstudy import memory
from lossstudy.config import load_study
from lossstudy.pipeline import fit_chunk, simulate_chunk
from lossstudy.speed.membench import Measurement, measure_cell, repredict

ESTIMATORS = {
    "ols": {"method": "ols", "se": "classical"},
    "hc3": {"method": "ols", "se": "hc3"},
    "wls": {"method": "wls", "predictor": 1, "strength": 1.0},
    "lad": {"method": "lad"},
    "huber": {"method": "huber", "k": 1.345},
    "ridge": {"method": "ridge", "penalty": 1.0},
}
BASE = {
    "seed": 3,
    "replicates": 60,
    "replicates_per_job": "auto",
    "scenarios": {"big": {"n": 20000, "design": {"fixed": False}}, "small": {"n": 50}},
    "estimators": {k: v for k, v in ESTIMATORS.items() if k in ("ols", "lad", "huber")},
}


@pytest.mark.parametrize(
    ("replicates", "n", "p", "fixed"), [(300, 2000, 5, False), (100, 3000, 12, True)]
)
def test_prediction_bounds_the_measured_peak_of_real_jobs(
    replicates: int, n: int, p: int, fixed: bool
) -> None:
    """Each job in its own process, as the rule's script runs it: measured ≤ predicted, and the
    prediction is not so loose that every request would waste memory."""
    for m in measure_cell(replicates, n, p, fixed, ESTIMATORS):
        assert m.peak_mb <= m.predicted_mb <= m.request_mb, m
        assert m.predicted_mb <= 2.0 * m.peak_mb + 100.0, m


def test_model_bounds_every_calibration_measurement() -> None:
    """tests/data/memory_measurements.json: the jobs the coefficients were fitted to
    (``python -m lossstudy.speed.membench --from-json … --calibrate``), docs/memory.md."""
    data = json.loads((Path(__file__).parent / "data" / "memory_measurements.json").read_text())
    rows = repredict([Measurement(**m) for m in data])
    assert {m.rule for m in rows} == set(memory.RULES) and len(rows) >= 90
    for m in rows:
        assert m.peak_mb <= m.predicted_mb, m


def test_requests_grow_with_the_job_and_stay_small_for_small_jobs() -> None:
    shape = memory.JobShape(2000, 400, 5, True, tuple(s["method"] for s in ESTIMATORS.values()))
    for rule in memory.RULES:
        assert memory.request_mb(rule, shape.with_replicates(1)) <= 300, rule
        sizes = [memory.peak_mb(rule, shape.with_replicates(r)) for r in (1, 10, 100, 1000)]
        assert sizes == sorted(sizes), rule
    big = memory.JobShape(2000, 10000, 50, False, shape.methods)
    assert memory.request_mb("fit", big) > 8 * 2000 * 10000 * 50 / memory.MB  # holds X at least
    with pytest.raises(ValueError, match="allowed: simulate, fit, summarise"):
        memory.peak_mb("figures", shape)


@pytest.mark.parametrize("budget", [800, 1500, 4000])
def test_auto_split_picks_the_largest_jobs_the_budget_allows(budget: int) -> None:
    study = load_study({**BASE, "replicates": 2000, "memory_mb_per_job": budget})
    for sid in study.scenarios:
        size = study.job_size(sid)
        shape = study.job_shape(sid, 2000)
        jobs = len(study.chunks(sid))
        assert jobs == math.ceil(2000 / size)
        for chunk in study.chunks(sid):  # every job's request fits the budget
            assert study.mem_mb("simulate", sid, chunk) <= budget
            assert study.mem_mb("fit", sid, chunk) <= budget
        if jobs > 1:  # one job fewer would need a job that does not fit
            fewer = math.ceil(2000 / (jobs - 1))
            assert memory.chunk_request_mb(shape.with_replicates(fewer)) > budget
    assert study.chunks("small") == [0]  # 2000 replicates of n = 50 fit in one job
    assert len(study.chunks("big")) > 1 if budget < 4000 else True


def test_auto_split_gives_the_results_of_one_job(tmp_path: Path) -> None:
    """Bit for bit (results depend only on seed, scenario id and replicate index)."""
    sid = "big"
    one = load_study({**BASE, "replicates_per_job": 60})
    shape = one.job_shape(sid, 60)
    # the largest budget that cannot hold all 60 replicates in one job
    budget = memory.chunk_request_mb(shape) - memory.ROUND_MB
    assert budget >= memory.chunk_request_mb(shape.with_replicates(1))
    auto = load_study({**BASE, "memory_mb_per_job": budget})
    assert len(auto.chunks(sid)) >= 2 and one.chunks(sid) == [0]
    frames = {}
    for name, study in (("one", one), ("auto", auto)):
        knobs = study.scenarios[sid].knobs
        parts = []
        for chunk in study.chunks(sid):
            start, stop = study.chunk_range(sid, chunk)
            data, fits = tmp_path / f"{name}{chunk}.npz", tmp_path / f"{name}{chunk}.parquet"
            simulate_chunk(knobs, study.seed, sid, start, stop, data)
            fit_chunk(data, sid, study.estimators, study.level, study.engine, fits)
            parts.append(pd.read_parquet(fits))
        frames[name] = (
            pd.concat(parts).sort_values(["estimator", "replicate", "term"]).reset_index(drop=True)
        )
    assert len(frames["one"]) == 60 * 5 * 3
    pd.testing.assert_frame_equal(frames["one"], frames["auto"], check_exact=True)


def test_integer_split_ignores_the_budget() -> None:
    config = copy.deepcopy(BASE)
    config.update(replicates_per_job=7, memory_mb_per_job=1)
    study = load_study(config)
    assert study.replicates_per_job == 7 and study.chunks("big") == list(range(9))
