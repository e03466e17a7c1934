"""Function estimates: a network or a linear fit judged by how close f̂ is to the true mean.

Why one module for both: "network vs linear fit" and "network trained with L2 vs Huber vs L1"
only sit in one table if every estimator is scored by the same rules on the same points. Per
replicate:

* ``ise`` = ∫(f̂ − f)² over [0, 1]^d, as the mean over the fixed midpoint grid of
  :func:`lossstudy.responses.grid` (≥ 1000 points; d = 1: a regular grid). A linear fit's f̂ is
  x'β̂ on the grid (the grid's rows carry the intercept column), a network's its forward pass
  on the grid's input columns.
* ``test_mse``/``test_mae`` on the replicate's fresh test sample
  (:func:`lossstudy.prediction.draw_test`, the study's own test streams).
* ``diverged``: the network's θ became non-finite or left ‖θ‖ ≤ 10⁶ (ise and test errors NaN).
* ``sharpness`` (full-batch GD on the squared loss): λ_max of the training loss's Hessian in θ.
* ``curve`` (one input only): f̂ on every 8th point of that grid (``responses.CURVE_POINTS``
  and :func:`lossstudy.responses.curve_grid`), kept so a figure can show what a fit looks like,
  not only its ise.

The mean over replicates of each is the measure; its MCSE is sd/√R (replicates are iid: each
value depends only on its own streams), as for every measure of the study.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy import responses
from lossstudy.dgp import Dataset
from lossstudy.prediction import draw_test
from lossstudy.responses import true_on_grid
from lossstudy.seeding import training_rng

from .engine import Solver
from .losses import Loss
from .mlp import Network, predict, predict_rows, train_mlp

__all__ = [
    "FunctionScores",
    "fit_network",
    "ise_rows",
    "mean_mcse",
    "score_linear",
    "true_on_grid",
]


@dataclass(frozen=True)
class FunctionScores:
    """Per replicate (R) and checkpoint (K; a linear fit has K = 1)."""

    ise: np.ndarray
    test_mse: np.ndarray
    test_mae: np.ndarray
    diverged: np.ndarray
    #: R×K×G fitted curve on ``responses.curve_grid`` (a network with one input; else None)
    curve: np.ndarray | None = None
    #: R×K top Hessian eigenvalue of the training loss in θ (``sharpness=True``; else None)
    sharpness: np.ndarray | None = None


def score_linear(
    knobs: Mapping[str, Any],
    beta_hat: np.ndarray,
    *,
    test: tuple[int, str, Dataset, int] | None = None,
) -> FunctionScores:
    """A linear fit's scores from its R×p estimates (NaN rows: a failed fit, NaN scores).
    ``test`` = (seed, scenario id, dataset, rows) scores it on the fresh test samples."""
    g, f = true_on_grid(knobs)
    usable = np.isfinite(beta_hat).all(axis=1)
    fhat = np.where(usable[:, None], beta_hat, 0.0) @ g.T
    ise = np.where(usable, np.mean((fhat - f) ** 2, axis=1), np.nan)
    mse = mae = np.full(len(beta_hat), np.nan)
    if test is not None:
        seed, sid, data, rows = test
        t = draw_test(knobs, seed, sid, data.replicates, data.beta, rows)
        resid = t.y - np.einsum("rmp,rp->rm", t.X, np.where(usable[:, None], beta_hat, 0.0))
        mse = np.where(usable, np.mean(resid**2, axis=1), np.nan)
        mae = np.where(usable, np.mean(np.abs(resid), axis=1), np.nan)
    return FunctionScores(ise[:, None], mse[:, None], mae[:, None], ~usable[:, None])


def fit_network(
    knobs: Mapping[str, Any],
    data: Dataset,
    loss: Loss,
    solver: Solver,
    net: Network,
    seed: int,
    scenario_id: str,
    *,
    test_rows: int | None = None,
    sharpness: bool = False,
) -> tuple[FunctionScores, np.ndarray]:
    """Train one network per replicate of ``data`` (its inputs: the design without the
    intercept column) and score it at each checkpoint; returns the scores and θ (R×K×P).
    ``sharpness``: also the top eigenvalue of the training loss's Hessian in θ at each
    checkpoint (:mod:`lossstudy.training.sharpness`; Cohen et al.'s edge of stability).

    Each replicate's θ₀ and minibatch order come from ``seeding.training_rng(seed, scenario,
    replicate)``, so its numbers depend on (seed, scenario, replicate) only."""
    x = data.X[..., 1:]
    rngs = [training_rng(seed, scenario_id, int(r)) for r in data.replicates]
    run = train_mlp(x, data.y, loss, solver, net, rngs)
    g, f = true_on_grid(knobs)
    R, K = run.diverged.shape
    ise = np.full((R, K), np.nan)
    mse, mae = np.full((R, K), np.nan), np.full((R, K), np.nan)
    curve = np.full((R, K, len(g[responses.CURVE_POINTS])), np.nan) if g.shape[1] == 2 else None
    sharp = np.full((R, K), np.nan) if sharpness else None
    if sharpness:
        from .sharpness import sharpness as top_eigenvalue
    sample = None
    if test_rows is not None:
        sample = draw_test(knobs, seed, scenario_id, data.replicates, data.beta, test_rows)
    for k in range(K):
        theta = run.theta[:, k]
        ok = ~run.diverged[:, k]
        safe = np.where(ok[:, None], theta, 0.0)
        fhat = predict(net, safe, g[:, 1:])
        ise[:, k] = np.where(ok, np.mean((fhat - f) ** 2, axis=1), np.nan)
        if curve is not None:
            curve[:, k] = np.where(ok[:, None], fhat[:, responses.CURVE_POINTS], np.nan)
        if sharp is not None:
            theta_ok = np.where(ok[:, None], theta, np.nan)
            sharp[:, k] = top_eigenvalue(net, loss, theta_ok, x, data.y)
        if sample is not None:
            resid = sample.y - predict_rows(net, safe, sample.X[..., 1:])
            mse[:, k] = np.where(ok, np.mean(resid**2, axis=1), np.nan)
            mae[:, k] = np.where(ok, np.mean(np.abs(resid), axis=1), np.nan)
    return FunctionScores(ise, mse, mae, run.diverged.copy(), curve, sharp), run.theta


def mean_mcse(values: np.ndarray) -> tuple[float, float]:
    """Mean over the finite replicates and its MCSE sd/√R (NaN with fewer than two)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


def ise_rows(ise: Mapping[str, np.ndarray], reference: str) -> list[dict[str, Any]]:
    """One row per estimator (name → R per-replicate ise, the same replicates for all): mean
    ise ± MCSE, the paired difference to ``reference`` ± its MCSE, z and a verdict ("lower",
    "higher" or "tie" within ``Z_TIE`` MCSE), and the share of replicates where it beats the
    reference (the paired sign, robust where heavy tails leave the mean without use)."""
    from lossstudy.mcse import Z_TIE

    base = np.asarray(ise[reference], dtype=float)
    rows = []
    for name, values in ise.items():
        v = np.asarray(values, dtype=float)
        mean, mcse = mean_mcse(v)
        row: dict[str, Any] = {"estimator": name, "ise": mean, "ise_mcse": mcse}
        if name == reference:
            row.update(diff=0.0, diff_mcse=0.0, z=math.nan, verdict="reference", wins=math.nan)
        else:
            diff, dmcse = mean_mcse(v - base)
            z = diff / dmcse if dmcse > 0 else math.nan
            verdict = "tie" if not abs(z) > Z_TIE else ("lower" if z < 0 else "higher")
            both = np.isfinite(v) & np.isfinite(base)
            wins = float(np.mean(v[both] < base[both])) if both.any() else math.nan
            row.update(diff=diff, diff_mcse=dmcse, z=z, verdict=verdict, wins=wins)
        rows.append(row)
    return rows
