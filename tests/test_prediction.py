"""Fresh test samples and test-set prediction errors (lossstudy.prediction, seeding, dgp)."""

from __future__ import annotations

import copy
import hashlib
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossstudy import prediction, seeding
from lossstudy.config import BUILTIN_DEFAULTS
from lossstudy.dgp import Dataset, simulate
from lossstudy.pipeline import TestSpec, fit_chunk, simulate_chunk

SEED = 11


def knobs_with(**changes) -> dict:
    """BUILTIN_DEFAULTS at n = 40 with ``a__b=value`` paths replaced."""
    k = copy.deepcopy(BUILTIN_DEFAULTS)
    k["n"] = 40
    for dotted, value in changes.items():
        d = k
        keys = dotted.split("__")
        for key in keys[:-1]:
            d = d[key]
        d[keys[-1]] = value
    return k


VARIANTS = {
    "default": {},
    "random_corr": {"design__fixed": False, "design__correlation": 0.5},
    "design_ar": {"design__autocorrelation": 0.6, "design__fixed": False},
    "leverage_bad": {
        "design__leverage": {"fraction": 0.1, "distance": 10.0, "follows_model": False}
    },
    "leverage_good": {
        "design__leverage": {"fraction": 0.1, "distance": 10.0, "follows_model": True}
    },
    "het": {"heteroskedasticity": {"strength": 1.0, "predictor": 2}},
    "ar_errors": {
        "autocorrelation": {"phi": 0.5},
        "errors": {"distribution": "t", "df": 3, "scale": 2.0},
    },
    "endo": {
        "endogeneity": {"correlation": 0.4, "predictor": 1},
        "errors": {"distribution": "exponential", "scale": 1.0},
    },
    "mis": {
        "misspecification": {"strength": 0.3, "predictor": 1, "form": "quadratic"},
        "design__fixed": False,
    },
    "prior": {"prior": {"tau": 0.7}},
    "all": {
        "design__fixed": False,
        "design__correlation": 0.3,
        "heteroskedasticity": {"strength": 0.5, "predictor": 1},
        "autocorrelation": {"phi": -0.3},
        "endogeneity": {"correlation": 0.2, "predictor": 2},
        "misspecification": {"strength": 0.2, "predictor": 1, "form": "cubic"},
        "prior": {"tau": 1.0},
        "design__leverage": {"fraction": 0.05, "distance": 5.0, "follows_model": True},
    },
}

#: SHA-256 (first 16 hex digits) of X, y, β and the replicate indices of replicates 3..8 of
#: each variant, computed with dgp.simulate as it was before the response construction moved
#: into dgp.respond (shared with the test samples): the training data keep every bit. "all"
#: was computed again when the cubic misspecification became x·x·x instead of x**3 (numpy's
#: power gave another last bit on AVX-512 machines; the product is the same on every CPU,
#: checked with numpy's AVX-512 and AVX2 loops switched off), and "random_corr" and "all"
#: when correlated designs became dgp.equicorrelate instead of z @ root (OpenBLAS's SkylakeX
#: kernel gave other last bits than its Haswell one; now no BLAS is involved: the same digests
#: with OPENBLAS_CORETYPE=Haswell, SkylakeX and Nehalem and with numpy's AVX2 and AVX-512 loops
#: off).
DIGESTS = {
    "default": "9ba532492db34228",
    "random_corr": "55d691574bcbc54f",
    "design_ar": "62a876b402fbc31a",
    "leverage_bad": "e34762c2fae46fda",
    "leverage_good": "5fa61c0e4649fae3",
    "het": "e1644449fa1d88a9",
    "ar_errors": "ab19e10bc09d97dd",
    "endo": "18b0e19920a0f583",
    "mis": "ee111b1edb3ac9bb",
    "prior": "c1525bc6ac6fd693",
    "all": "010d2388c1da9c0d",
}


def _digest(data: Dataset) -> str:
    h = hashlib.sha256()
    for a in (data.X, data.y, data.beta, data.replicates):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_training_datasets_keep_their_bits(name):
    data = simulate(knobs_with(**VARIANTS[name]), SEED, "sc_" + name, 3, 9)
    assert _digest(data) == DIGESTS[name]


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS's x86-64 kernels only"
)
def test_correlated_designs_do_not_depend_on_the_blas_kernel():
    """The correlated random design in a process whose OpenBLAS runs its SSE-only kernel
    (Nehalem: no FMA, other blocking) has the pinned digest: no BLAS product draws it."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from test_prediction import VARIANTS, _digest, knobs_with, SEED; "
        "from lossstudy.dgp import simulate; "
        "knobs = knobs_with(**VARIANTS['random_corr']); "
        "print(_digest(simulate(knobs, SEED, 'sc_random_corr', 3, 9)))"
    )
    env = {**os.environ, "OPENBLAS_CORETYPE": "Nehalem"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == DIGESTS["random_corr"]


def test_test_and_training_streams_are_new_branches_of_the_replicate_tree():
    key = seeding.scenario_key("s")
    for fn, branch in ((seeding.test_rng, 2), (seeding.training_rng, 3)):
        expect = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(5, spawn_key=(key, branch, 7)))
        ).standard_normal(4)
        assert np.array_equal(fn(5, "s", 7).standard_normal(4), expect)
    draws = [
        fn(5, "s", 7).standard_normal(4)
        for fn in (seeding.replicate_rng, seeding.test_rng, seeding.training_rng)
    ]
    assert not np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[1], draws[2])
    assert not np.array_equal(
        seeding.test_rng(5, "s", 7).standard_normal(4),
        seeding.test_rng(5, "s", 8).standard_normal(4),
    )


def test_rows_give_at_least_1e5_test_points_per_cell():
    for R in (1, 7, 500, 2000, 3000, 100_001):
        m = prediction.test_rows(R)
        assert m * R >= prediction.TEST_POINTS and (m - 1) * R < prediction.TEST_POINTS
    assert prediction.test_rows(2000) == 50 and prediction.test_rows(3000) == 34


def _sample(knobs, start, stop, rows=30, sid="s"):
    data = simulate(knobs, SEED, sid, start, stop)
    return data, prediction.draw_test(knobs, SEED, sid, data.replicates, data.beta, rows)


@pytest.mark.parametrize("name", ["default", "all", "leverage_bad", "ar_errors"])
def test_a_replicates_test_sample_does_not_depend_on_the_job_split(name):
    knobs = knobs_with(**VARIANTS[name])
    _, whole = _sample(knobs, 0, 8)
    _, tail = _sample(knobs, 5, 8)
    _, one = _sample(knobs, 6, 7)
    assert np.array_equal(tail.X, whole.X[5:]) and np.array_equal(tail.y, whole.y[5:])
    assert np.array_equal(one.X[0], whole.X[6]) and np.array_equal(one.y[0], whole.y[6])
    assert not np.array_equal(whole.X[0], whole.X[1])  # fresh x per replicate, fixed design too


def test_the_test_sample_follows_the_scenarios_law():
    """Correlated x, the share of leverage rows, the replicate's prior β, heteroskedastic errors
    applied through the same response function: checked on a large sample."""
    knobs = knobs_with(
        design__correlation=0.5,
        design__leverage={"fraction": 0.1, "distance": 4.0, "follows_model": True},
        heteroskedasticity={"strength": 1.0, "predictor": 1},
        prior={"tau": 1.0},
    )
    data = simulate(knobs, SEED, "law", 0, 4)
    test = prediction.draw_test(knobs, SEED, "law", data.replicates, data.beta, 20_000)
    assert test.X.shape == (4, 20_000, 5) and test.y.shape == (4, 20_000)
    lev = 2000
    clean = test.X[:, :-lev, 1:].reshape(-1, 4)
    assert np.allclose(test.X[:, :, 0], 1.0)
    assert np.allclose(np.corrcoef(clean.T)[np.triu_indices(4, 1)], 0.5, atol=0.02)
    assert np.allclose(clean.mean(axis=0), 0.0, atol=0.02)
    assert np.allclose(test.X[:, -lev:, 1:].mean(axis=(0, 1)), 4.0, atol=0.05)
    e = test.y - np.einsum("rmp,rp->rm", test.X, data.beta)  # leverage follows the model
    x1 = test.X[:, :-lev, 1]
    for lo, hi in ((0.0, 0.5), (1.5, 2.5)):
        sel = (np.abs(x1) >= lo) & (np.abs(x1) < hi)
        # Var(e | x) = 1 + x1² on the clean rows
        ratio = e[:, :-lev][sel].var() / (1.0 + x1[sel] ** 2).mean()
        assert abs(ratio - 1.0) < 0.06, (lo, hi, ratio)


def test_prediction_errors_and_nan_for_unusable_fits():
    test = prediction.TestSample(
        X=np.array([[[1.0, 0.0], [1.0, 2.0]], [[1.0, 1.0], [1.0, -1.0]]]),
        y=np.array([[1.0, 3.0], [0.0, 0.0]]),
    )
    est = np.array([[1.0, 0.5], [np.nan, np.nan]])
    mse, mae = prediction.prediction_errors(test, est, np.array([True, False]))
    # residuals of replicate 0: 1 − 1 = 0 and 3 − 2 = 1
    assert mse[0] == 0.5 and mae[0] == 0.5
    assert np.isnan(mse[1]) and np.isnan(mae[1])


def test_fit_chunk_writes_test_errors_shared_across_terms_and_splits(tmp_path):
    knobs = knobs_with(errors={"distribution": "t", "df": 5, "scale": 1.0})
    specs = {
        "ols": {"method": "ols", "se": "classical"},
        "lad": {"method": "lad"},
    }
    simulate_chunk(knobs, SEED, "s", 0, 6, tmp_path / "all.npz")
    simulate_chunk(knobs, SEED, "s", 2, 6, tmp_path / "tail.npz")
    test = TestSpec(knobs, SEED, 40)
    fit_chunk(
        tmp_path / "all.npz", "s", specs, 0.95, "vectorized", tmp_path / "a.parquet", test=test
    )
    fit_chunk(
        tmp_path / "tail.npz", "s", specs, 0.95, "vectorized", tmp_path / "t.parquet", test=test
    )
    a = pd.read_parquet(tmp_path / "a.parquet")
    t = pd.read_parquet(tmp_path / "t.parquet")
    assert (a["status"] == "ok").all()
    assert a.groupby(["estimator", "replicate"])["test_mse"].nunique().eq(1).all()
    merged = a.merge(t, on=["estimator", "replicate", "term"], suffixes=("", "_t"))
    assert len(merged) == len(t)
    assert np.array_equal(merged["test_mse"], merged["test_mse_t"])
    assert np.array_equal(merged["test_mae"], merged["test_mae_t"])
    # recomputed by hand from the fresh sample and the stored estimates
    data = Dataset.load(tmp_path / "all.npz")
    sample = prediction.draw_test(knobs, SEED, "s", data.replicates, data.beta, 40)
    ols = a[a.estimator == "ols"].pivot(index="replicate", columns="term", values="estimate")
    beta_hat = ols[["intercept", "x1", "x2", "x3", "x4"]].to_numpy()
    resid = sample.y - np.einsum("rmp,rp->rm", sample.X, beta_hat)
    got = a[(a.estimator == "ols") & (a.term == "x1")]["test_mse"].to_numpy()
    np.testing.assert_allclose(got, (resid**2).mean(axis=1), rtol=1e-12)
    # the test sample is a fresh one: the test MSE is not the training RSS/n
    assert np.all(np.isfinite(a["test_mse"])) and a["test_mae"].gt(0).all()


def test_without_a_test_spec_the_columns_are_nan(tmp_path):
    knobs = knobs_with()
    simulate_chunk(knobs, SEED, "s", 0, 3, tmp_path / "d.npz")
    fit_chunk(
        tmp_path / "d.npz",
        "s",
        {"ols": {"method": "ols"}},
        0.95,
        "vectorized",
        tmp_path / "f.parquet",
    )
    f = pd.read_parquet(tmp_path / "f.parquet")
    assert f["test_mse"].isna().all() and f["test_mae"].isna().all()


def test_ols_test_mse_of_a_well_specified_model_is_near_sigma2_plus_p_over_n():
    """Sanity of scale: fixed normal design, N(0, 1), OLS: E test MSE ≈ 1 + p/n (1 + O(1/n))."""
    knobs = knobs_with(n=200)
    data = simulate(knobs, SEED, "scale", 0, 200)
    beta_hat = np.linalg.lstsq(data.X, data.y.T, rcond=None)[0].T
    test = prediction.draw_test(knobs, SEED, "scale", data.replicates, data.beta, 500)
    mse, _ = prediction.prediction_errors(test, beta_hat, np.ones(200, bool))
    assert abs(mse.mean() - (1 + 5 / 200)) < 4 * mse.std(ddof=1) / math.sqrt(200) + 0.01


def test_scoring_in_replicate_blocks_changes_no_bit(monkeypatch):
    """The test samples are drawn in blocks of replicates to bound memory: same values."""
    knobs = knobs_with(**VARIANTS["all"])
    data = simulate(knobs, SEED, "blocks", 0, 9)
    rng = np.random.default_rng(0)
    fits = {
        "a": (data.beta + rng.normal(size=data.beta.shape), np.ones(9, bool)),
        "b": (data.beta * 0.9, np.arange(9) % 4 != 0),
    }
    whole = prediction.score_fits(knobs, SEED, "blocks", data.replicates, data.beta, 30, fits)
    monkeypatch.setattr(prediction, "BLOCK_FLOATS", 2 * 30 * 5)  # two replicates per block
    blocks = prediction.score_fits(knobs, SEED, "blocks", data.replicates, data.beta, 30, fits)
    for name in fits:
        for x, y in zip(whole[name], blocks[name], strict=True):
            assert np.array_equal(x, y, equal_nan=True)
    assert np.isnan(whole["b"][0][[0, 4, 8]]).all() and np.isfinite(whole["b"][0][1:4]).all()
