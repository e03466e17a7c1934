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
from lossstudy.speed.membench import _knobs as membench_knobs

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


@pytest.mark.parametrize(
    ("replicates", "n", "p", "fixed"), [(300, 2000, 5, False), (100, 3000, 12, True)]
)
def test_prediction_bounds_a_cell_job(replicates: int, n: int, p: int, fixed: bool) -> None:
    """A scenario in one job (rule `cell`: draws, fits and summary in one process): measured ≤
    predicted (the largest step's, the summary's with the fits' libraries still loaded), and
    its request is at least what a fit and a summary job would each ask for."""
    (m,) = measure_cell(replicates, n, p, fixed, ESTIMATORS, rules=("cell",))
    assert m.peak_mb <= m.predicted_mb <= m.request_mb, m
    shape = memory.shape_of(membench_knobs(n, p, fixed), ESTIMATORS, "vectorized", replicates)
    assert m.request_mb >= max(memory.request_mb(r, shape) for r in memory.RULES)


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


# --------------------------------------------------------------------------- theory (study-wide)

#: Measured peaks (VmHWM, MiB) of theory jobs over two scenarios (normal errors; AR(1)
#: heteroskedastic errors) with the default study's 15 estimators: (replicates, n, p, MiB).
THEORY_PEAKS = [
    (20, 100, 5, 195),
    (2000, 100, 5, 253),
    (2000, 400, 5, 266),
    (20, 20000, 10, 211),
    (20, 2000, 100, 253),
    (20, 10000, 50, 265),
]

THEORY_JOB = """
import json, sys
from lossstudy.theory import write_theory
s = json.loads(sys.argv[1])
write_theory(s["scenarios"], s["seed"], s["estimators"], s["level"], s["files"], s["perf"],
             s["out"], s["skipped"])
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""


@pytest.mark.parametrize(("replicates", "n", "p", "peak"), THEORY_PEAKS)
def test_theory_model_bounds_measured_theory_jobs(replicates: int, n: int, p: int, peak: int):
    shape = memory.JobShape(replicates, n, p, True, ("ols",) * 15, study_terms=2 * 15 * p)
    assert peak <= memory.peak_mb("theory", shape) <= peak + 60


def test_theory_job_holds_no_n_by_n_matrix(tmp_path: Path) -> None:
    """A real theory job at n = 8000 (AR(1) heteroskedastic errors, endogeneity): its peak is
    below the prediction and below the 488 MB of one n×n matrix (it held three: 2.5 GB at
    n = 10 000, p = 50)."""
    import subprocess
    import sys

    from lossstudy.pipeline import aggregate_performance, simulate_and_fit_chunk, summarise_scenario

    n, linear = 8000, {k: v for k, v in ESTIMATORS.items() if k in ("ols", "hc3", "wls", "ridge")}
    departures = {
        "autocorrelation": {"phi": 0.6},
        "heteroskedasticity": {"strength": 1.0, "predictor": 1},
        "endogeneity": {"correlation": 0.3},
    }
    config = {
        "seed": 4,
        "replicates": 10,
        "replicates_per_job": 10,
        "defaults": {"n": n, "coefficients": [1.0] * 20},
        "scenarios": {"gm": {}, "ar1": departures},
        "estimators": linear,
    }
    study = load_study(config)
    files = {}
    for sid, sc in study.scenarios.items():
        fits, files[sid] = tmp_path / f"{sid}-fits.parquet", str(tmp_path / f"{sid}.parquet")
        simulate_and_fit_chunk(
            sc.knobs, study.seed, sid, 0, 10, study.estimators, study.level, "vectorized",
            tmp_path / f"{sid}.npz", fits,
        )  # fmt: skip
        summarise_scenario(
            [fits], sc.knobs, study.estimators, "ols", study.level, files[sid],
            tmp_path / f"{sid}.csv",
        )  # fmt: skip
    aggregate_performance([tmp_path / f"{sid}.csv" for sid in files], tmp_path / "perf.csv")
    job = {
        "scenarios": {sid: sc.knobs for sid, sc in study.scenarios.items()},
        "seed": study.seed,
        "estimators": study.estimators,
        "level": study.level,
        "files": files,
        "perf": str(tmp_path / "perf.csv"),
        "out": str(tmp_path / "theory.csv"),
        "skipped": str(tmp_path / "skipped.csv"),
    }
    run = subprocess.run(
        [sys.executable, "-c", THEORY_JOB, json.dumps(job)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(run.stdout.split()[-1]) / 1024
    theory = pd.read_csv(tmp_path / "theory.csv")
    assert {"exact"} <= set(theory["kind"]) and "ar1" in set(theory["scenario"])
    assert peak <= memory.peak_mb("theory", _theory_shape(study, "ar1")) < 8 * n * n / memory.MB
    assert study.mem_mb("theory") == memory.request_mb("theory", _theory_shape(study, "ar1"))


def _theory_shape(study, sid: str) -> memory.JobShape:
    terms = len(study.estimators) * sum(sc.p for sc in study.scenarios.values())
    shape = study.job_shape(sid, study.scenarios[sid].replicates)
    return memory.JobShape(**{**shape.__dict__, "study_terms": terms})


def test_theory_request_is_the_largest_scenarios() -> None:
    """One theory job for the study, sized by its largest scenario; the default study's
    request is a third of the former fixed 1500 MB."""
    small = {**BASE, "replicates_per_job": 60}
    big = copy.deepcopy(small)
    big["scenarios"]["huge"] = {"n": 10000, "coefficients": [1.0] * 50}
    a, b = load_study(small), load_study(big)
    assert b.mem_mb("theory") == memory.request_mb("theory", _theory_shape(b, "huge"))
    assert (
        b.mem_mb("theory")
        > a.mem_mb("theory")
        >= memory.request_mb("theory", _theory_shape(a, "small"))
    )
    root = Path(__file__).resolve().parents[1]
    default = load_study(
        __import__("yaml").safe_load((root / "config" / "config.yaml").read_text()),
        root / "workflow" / "schemas" / "config.schema.yaml",
    )
    # the default study with its training part (17,640 estimator × term pairs) asks ≤ 600 MB
    assert 308 * (1 + memory.MARGIN) <= default.mem_mb("theory") <= 600
