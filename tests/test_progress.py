"""Long jobs log replicates done / total to their log; reporting progress changes no result."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossstudy import vectorized
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.dgp import simulate
from lossstudy.estimators import fit_dataset
from lossstudy.pipeline import Progress, fit_chunk, setup_logging, simulate_chunk
from lossstudy.vectorized import _chunk_size, fit_dataset_vectorized

N = 400  # several internal chunks of the vectorised engine for a few hundred replicates
R = 400
KNOBS = deep_merge(
    copy.deepcopy(BUILTIN_DEFAULTS), {"n": N, "errors": {"distribution": "t", "df": 3}}
)


class Calls(list):
    def __call__(self, done: int, total: int) -> None:
        self.append((done, total))


def _same(a, b) -> None:
    for name in ("estimate", "std_error", "ci_low", "ci_high"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert list(a.status) == list(b.status) and list(a.message) == list(b.message)


def test_simulate_reports_every_replicate_and_draws_the_same_data():
    calls = Calls()
    a = simulate(KNOBS, 5, "s", 10, 30, progress=calls)
    b = simulate(KNOBS, 5, "s", 10, 30)
    assert calls == [(i, 20) for i in range(1, 21)]
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.parametrize("method", ["ols", "lad"])
def test_vectorised_engine_reports_per_internal_chunk_with_identical_results(
    method: str, monkeypatch: pytest.MonkeyPatch
):
    # LAD on a fixed design would fit these R replicates in one chunk of its own size
    monkeypatch.setattr(vectorized, "SHARED_ITERATIVE_CELLS", vectorized.CHUNK_CELLS)
    data = simulate(KNOBS, 5, "s", 0, R)
    spec = {"method": method}
    calls = Calls()
    with_progress = fit_dataset_vectorized(data, spec, 0.9, progress=calls)
    _same(with_progress, fit_dataset_vectorized(data, spec, 0.9))
    step = _chunk_size(N, data.beta.shape[1])
    assert step < R  # several chunks
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1] == (R, R)
    assert len(calls) >= -(-R // step)  # at least one call per chunk


def test_reference_engine_reports_every_replicate():
    data = simulate(KNOBS, 5, "s", 0, 6)
    calls = Calls()
    _same(
        fit_dataset(data, {"method": "ols"}, 0.9, progress=calls),
        fit_dataset(data, {"method": "ols"}, 0.9),
    )
    assert calls == [(i, 6) for i in range(1, 7)]


def test_progress_logs_about_every_tenth(caplog: pytest.LogCaptureFixture):
    progress = Progress("fit s ols", 1000)
    with caplog.at_level(logging.INFO, logger="lossstudy"):
        for done in range(1, 1001):
            progress(done, 1000)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10
    assert lines[0].startswith("fit s ols: 100/1000 replicates done (10%")
    assert lines[-1].startswith("fit s ols: 1000/1000 replicates done (100%")


def test_fit_job_log_shows_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from lossstudy import vectorized

    # OLS on the shared design fits whole blocks of 48; make that several chunks here
    monkeypatch.setattr(vectorized, "SHARED_ITERATIVE_CELLS", N * 100)
    log = tmp_path / "fit.log"
    setup_logging(log)
    try:
        simulate_chunk(KNOBS, 5, "s", 0, R, tmp_path / "d.npz")
        fit_chunk(
            tmp_path / "d.npz",
            "s",
            {"ols": {"method": "ols"}, "lad": {"method": "lad"}},
            0.9,
            "vectorized",
            tmp_path / "f.parquet",
        )
    finally:
        logging.getLogger("lossstudy").handlers[:] = []
    text = log.read_text()
    assert "simulate s: 400/400 replicates done (100%" in text
    assert "fitting s with 2 estimators (vectorized engine): 400 replicates, n = 400" in text
    step = vectorized._chunk_size(N, 5, shared_linear=True)
    assert step == 96 and f"fit s ols: {step}/400 replicates done" in text
    assert "fit s ols: 400/400 replicates done (100%" in text
    assert "fit s lad: 400/400 replicates done (100%" in text
    assert "fitted s with lad in" in text
    fits = pd.read_parquet(tmp_path / "f.parquet")
    assert len(fits) == 2 * R * 5 and list(fits["estimator"].unique()) == ["ols", "lad"]


def test_fitting_estimators_together_equals_fitting_each_alone(tmp_path: Path):
    """A fit job fits all estimators in one process; no estimator's rows may depend on which
    others share the job or on their order (so adding an estimator changes no other's fits)."""
    simulate_chunk(KNOBS, 9, "s", 0, 30, tmp_path / "d.npz")
    specs = {
        "huber": {"method": "huber", "k": 1.345},
        "lad": {"method": "lad"},
        "ols": {"method": "ols", "se": "hc3"},
    }
    fit_chunk(tmp_path / "d.npz", "s", specs, 0.9, "vectorized", tmp_path / "all.parquet")
    together = pd.read_parquet(tmp_path / "all.parquet")
    assert list(together["estimator"].unique()) == list(specs)
    for name, spec in reversed(specs.items()):
        out = tmp_path / f"{name}.parquet"
        fit_chunk(tmp_path / "d.npz", "s", {name: spec}, 0.9, "vectorized", out)
        alone = pd.read_parquet(out)
        part = together[together["estimator"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone, check_exact=True)
