"""Test-set prediction error: what a machine-learning reader measures, for every estimator.

Replicate r of a scenario gets a fresh test sample of m rows drawn from the scenario's own law
(:func:`draw_test`), from its own stream ``seeding.test_rng(seed, scenario, r)`` only:

* x fresh for every replicate, even when the training design is fixed (a fixed design is a
  device of the study, new data are not the training rows again), with the same distribution:
  the equicorrelation, AR(1) rows, and the same share of leverage rows (the last round(f·m));
* the replicate's own β (drawn from the prior when the scenario has one), read from its dataset;
* errors of the same law, with heteroskedasticity, AR(1) errors, endogeneity, bad leverage and
  the misspecified mean applied by :func:`lossstudy.dgp.respond`, the function that builds the
  training responses.

m = ⌈10⁵ / R⌉ for a scenario of R replicates (:func:`test_rows`), so a cell's test points number
at least 10⁵ and all estimators of a replicate are judged on the same sample. Per estimator,
``test_mse_r`` = mean (y_t − x_t'β̂_r)² and ``test_mae_r`` = mean |y_t − x_t'β̂_r| (NaN for a fit
that failed or diverged).

Why sd/√R is a valid MCSE of the mean of ``test_mse_r`` over replicates: replicate r's value
is a function of its training data (stream (s, 1, r), plus the fixed design) and its test
sample (stream (s, 2, r)) only, and these streams are independent across r, so the R values
are iid given the fixed design; the study's target, E[test_mse | design], is their common mean.
The test sample's own noise (m rows) is inside each value and so inside their spread.

Every operation here is elementwise per replicate or a reduction along one replicate's rows
(no BLAS call across replicates), so a replicate's test sample and errors are the same bits
however the replicates are split into jobs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy.dgp import _ar1_rows, equicorrelate, respond
from lossstudy.response import noise_sampler
from lossstudy.responses import is_uniform
from lossstudy.seeding import test_streams

__all__ = [
    "BLOCK_FLOATS",
    "TEST_POINTS",
    "TestSample",
    "draw_test",
    "prediction_errors",
    "score_fits",
    "test_rows",
]

#: test points per scenario at least (m per replicate × R replicates)
TEST_POINTS = 100_000
#: floats of one replicate block's test design (R_block × m × p): ≈ 16 MB, so a fit job's
#: test samples cost bounded memory whatever its replicates, m and p
BLOCK_FLOATS = 2_000_000


def test_rows(replicates: int) -> int:
    """m = ⌈10⁵ / R⌉: rows of each replicate's test sample."""
    return -(-TEST_POINTS // max(int(replicates), 1))


test_rows.__test__ = False  # type: ignore[attr-defined]  # a pytest import must not collect it


@dataclass(frozen=True)
class TestSample:
    """Fresh test data of a chunk of replicates: X (R×m×p, as the estimators see it), y (R×m)."""

    __test__ = False  # not a pytest test class

    X: np.ndarray
    y: np.ndarray


def draw_test(
    knobs: Mapping[str, Any],
    seed: int,
    scenario_id: str,
    replicates: np.ndarray,
    beta: np.ndarray,
    rows: int,
) -> TestSample:
    """The test samples of ``replicates`` (β: their R×p coefficients), ``rows`` rows each.

    Each replicate draws from its test stream, in this order: the standard normals of its x
    (m×(p−1); uniforms for a uniform design), then its m iid errors.
    """
    knobs = dict(knobs)
    R, p = beta.shape
    m = int(rows)
    d = knobs["design"]
    z = np.empty((R, m, p - 1))
    u = np.empty((R, m))
    uniform = is_uniform(knobs)
    noise = noise_sampler(knobs)
    # test_rng(seed, scenario_id, r) for each r, seeded in bulk (the same streams); the x
    # draws go straight into z (the same numbers as a fresh array)
    for i, rng in enumerate(test_streams(seed, scenario_id, np.asarray(replicates))):
        if uniform:
            rng.random(out=z[i])
        else:
            rng.standard_normal(out=z[i])
        u[i] = noise(rng, m)
    x_clean = np.empty((R, m, p))
    x_clean[:, :, 0] = 1.0
    if uniform:  # U(0, 1) inputs: no correlation, no AR(1) rows (the config allows none)
        x_clean[:, :, 1:] = z
    else:
        psi = float(d["autocorrelation"])
        if psi != 0.0:
            z = _ar1_rows(z, psi, math.sqrt(1.0 - psi * psi))
        x_clean[:, :, 1:] = equicorrelate(z, float(d["correlation"]))  # as the training rows
    x_obs = x_clean
    lev = int(round(float(d["leverage"]["fraction"]) * m))
    if lev:
        x_obs = x_clean.copy()
        x_obs[:, m - lev :, 1:] += float(d["leverage"]["distance"])
    y = respond(knobs, x_obs, x_clean, np.asarray(beta, dtype=float), u)
    return TestSample(x_obs, y)


def prediction_errors(
    test: TestSample, estimate: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate: mean squared and mean absolute error of x_t'β̂ on its test sample.

    ``estimate`` is R×p, ``usable`` R booleans (fit ok and finite); NaN elsewhere.
    """
    beta_hat = np.where(usable[:, None], estimate, 0.0)
    resid = test.y - np.einsum("rmp,rp->rm", test.X, beta_hat)
    mse = np.mean(resid * resid, axis=1)
    mae = np.mean(np.abs(resid), axis=1)
    return np.where(usable, mse, np.nan), np.where(usable, mae, np.nan)


def score_fits(
    knobs: Mapping[str, Any],
    seed: int,
    scenario_id: str,
    replicates: np.ndarray,
    beta: np.ndarray,
    rows: int,
    fits: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Test MSE and MAE per replicate of every fit (``fits``: name → (R×p estimates, usable)).

    The test samples are drawn once for all fits, in blocks of replicates of at most
    :data:`BLOCK_FLOATS` floats each, and dropped after their block: every value is a
    function of its own replicate, so the blocks change no bit, only the peak memory.
    """
    R, p = beta.shape
    step = max(1, BLOCK_FLOATS // max(int(rows) * p, 1))
    out = {name: (np.full(R, np.nan), np.full(R, np.nan)) for name in fits}
    for lo in range(0, R, step):
        hi = min(R, lo + step)
        sample = draw_test(knobs, seed, scenario_id, replicates[lo:hi], beta[lo:hi], rows)
        for name, (estimate, usable) in fits.items():
            mse, mae = prediction_errors(sample, estimate[lo:hi], usable[lo:hi])
            out[name][0][lo:hi] = mse
            out[name][1][lo:hi] = mae
    return out
