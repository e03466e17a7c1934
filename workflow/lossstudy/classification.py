"""Scores of a classifier on fresh data: what a classification scenario measures per fit.

Replicate r's fresh test sample is :func:`lossstudy.prediction.draw_test`'s (its own stream,
the scenario's law: y ~ Bernoulli(σ(xβ)) for a ``bernoulli`` response), shared by every fit.
Per fit and replicate, with p̂ = σ(x'β̂) on the m test rows:

* ``test_error``: the misclassification rate, mean 1[(p̂ > ½) ≠ y];
* ``test_log_loss``: mean −[y log p̂ + (1 − y) log(1 − p̂)], computed as log(1 + e^η̂) − yη̂
  (no log 0 however saturated p̂ is);
* ``test_brier``: mean (y − p̂)².

NaN for a fit that failed or diverged. The regression scores ``test_mse``/``test_mae`` (of
x'β̂ against y) mean nothing for a 0/1 y and are left NaN in such a scenario. Each value is a
function of its replicate's training data and test sample only, so sd/√R is its MCSE, as for
the test MSE (:mod:`lossstudy.prediction`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lossstudy.prediction import BLOCK_FLOATS, draw_test
from lossstudy.response import sigmoid

#: the per-replicate columns a classification scenario's estimates carry (and their measures)
COLUMNS = ("test_error", "test_log_loss", "test_brier")


def scores(y: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replicate (rows of R×m ``y`` 0/1 and ``eta`` = x'β̂): error, log loss, Brier."""
    p_hat = sigmoid(eta)
    error = np.mean((eta > 0.0) != (y > 0.5), axis=1)
    log_loss = np.mean(np.logaddexp(0.0, eta) - y * eta, axis=1)
    d = y - p_hat
    return error, log_loss, np.mean(d * d, axis=1)


def score_classifiers(
    knobs: Mapping[str, Any],
    seed: int,
    scenario_id: str,
    replicates: np.ndarray,
    beta: np.ndarray,
    rows: int,
    fits: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, tuple[np.ndarray, ...]]:
    """:data:`COLUMNS` per replicate of every fit (name → (R×p estimates, usable)), the test
    samples drawn once per block of replicates as :func:`lossstudy.prediction.score_fits`."""
    R, p = beta.shape
    step = max(1, BLOCK_FLOATS // max(int(rows) * p, 1))
    out = {name: tuple(np.full(R, np.nan) for _ in COLUMNS) for name in fits}
    for lo in range(0, R, step):
        hi = min(R, lo + step)
        sample = draw_test(knobs, seed, scenario_id, replicates[lo:hi], beta[lo:hi], rows)
        for name, (estimate, usable) in fits.items():
            ok = usable[lo:hi]
            b = np.where(ok[:, None], estimate[lo:hi], 0.0)
            eta = np.einsum("rmp,rp->rm", sample.X, b)
            for col, values in zip(out[name], scores(sample.y, eta), strict=True):
                col[lo:hi] = np.where(ok, values, np.nan)
    return out
