"""Data-generating processes: each knob switches on one departure from Gauss–Markov.

Model of one replicate (rows are observations, read as time for the AR(1) knobs)::

    x_i  ~ N(0, Σ),  Σ = equicorrelation(correlation), columns AR(1) in i if design.autocorrelation
    X    = [1, x]; the last round(fraction·n) rows are shifted by +distance in every predictor
           (leverage); y follows the shifted rows only if leverage.follows_model
    β    = coefficients, or slopes drawn per replicate from the prior when its scale > 0
           (intercept kept): N(0, s²), Laplace with SD s, or spike and slab (0 with
           probability ``sparsity``, else N(0, s²)); s = prior.tau (older name) or prior.scale
    u_i  = errors(scale, ...) · sqrt(1 + strength · x_ij²)          (heteroskedasticity)
           with errors drawn by their law (lossstudy.errorlaws)
    e_i  = φ e_{i-1} + u_i, stationary start                        (autocorrelation)
    e_i  ← sqrt(1 − ρ²) e_i + ρ · sd(errors) · x_ij                  (endogeneity)
    y_i  = X_i β + δ · g(x_ij) + e_i,  g = x² − 1 or x³              (misspecified mean)
    or, with response.family bernoulli, y_i ~ Bernoulli(σ(X_i β))     (lossstudy.response)

A uniform design (``design: {distribution: uniform, inputs: d}``) draws x ~ U(0, 1)^d instead,
and ``response.function`` replaces X_i β by a nonlinear f(x_i1) (:mod:`lossstudy.responses`);
β is then f's best linear approximation, the target of a linear fit.

The true value of each coefficient is β (the structural parameter), whatever the knobs.
Random numbers come from ``lossstudy.seeding`` only: the draws of replicate r are a function of
(seed, scenario id, r) and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossstudy import response
from lossstudy.errorlaws import draw_errors, error_moments  # noqa: F401  (draw_errors: re-exported)
from lossstudy.io import atomic_path
from lossstudy.responses import is_linear, is_uniform, mean_of, pseudo_true
from lossstudy.seeding import design_rng, replicate_streams


def _ar1_rows(z: np.ndarray, phi: float, innovation_sd: float) -> np.ndarray:
    """Filter along axis -2 (rows): out_0 = z_0/sqrt(1-φ²)·sd, out_t = φ out_{t-1} + sd·z_t."""
    out = np.empty_like(z)
    out[..., 0, :] = z[..., 0, :] * innovation_sd / math.sqrt(1.0 - phi * phi)
    for t in range(1, z.shape[-2]):
        out[..., t, :] = phi * out[..., t - 1, :] + innovation_sd * z[..., t, :]
    return out


def _equicorrelation_weights(k: int, rho: float) -> tuple[float, float]:
    """(a, c) with Σ^{1/2} = a·I + c·11' for the k×k equicorrelation matrix Σ = (1 − ρ)I + ρ11'.

    Why closed form and not an eigendecomposition: Σ's eigenvalues are 1 − ρ (k − 1 times) and
    1 + (k − 1)ρ, so its symmetric root is a = √(1 − ρ) and c = ρ / (√(1 + (k − 1)ρ) + a)
    (the difference of the two roots over k, written without cancellation), a few correctly
    rounded operations that give the same bits on every CPU, where LAPACK's and BLAS's kernels
    do not; at ρ = 1 it is exactly rank one (identical predictors), at ρ = 0 the identity.
    """
    a = math.sqrt(1.0 - rho)
    return a, rho / (math.sqrt(1.0 + (k - 1) * rho) + a)


def equicorrelation_root(k: int, rho: float) -> np.ndarray:
    """Symmetric square root of the k×k equicorrelation matrix (valid up to rho = 1)."""
    a, c = _equicorrelation_weights(k, rho)
    return np.full((k, k), c) + a * np.eye(k)


def equicorrelate(z: np.ndarray, rho: float) -> np.ndarray:
    """z @ equicorrelation_root(k, rho) for rows z (..., k) of independent standard normals,
    as a·z + c·(z₁ + … + z_k) summed in a fixed order: elementwise operations, so a row's bits
    do not depend on the CPU's BLAS kernel or on the other rows of the batch (a matrix product
    promises neither). ρ = 0 returns z itself."""
    if rho == 0.0:
        return z
    a, c = _equicorrelation_weights(z.shape[-1], rho)
    total = z[..., 0].copy()
    for j in range(1, z.shape[-1]):
        total += z[..., j]
    return a * z + (c * total)[..., None]


def draw_design(rng: np.random.Generator, knobs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Observed design [1, x] and the clean one (before leverage shifts), both n×p."""
    n, p = int(knobs["n"]), len(knobs["coefficients"])
    d = knobs["design"]
    if is_uniform(knobs):
        x = rng.random((n, p - 1))
        clean = np.column_stack([np.ones(n), x])
        return _shift_leverage(clean, knobs), clean
    z = rng.standard_normal((n, p - 1))
    psi = float(d["autocorrelation"])
    if psi != 0.0:
        z = _ar1_rows(z, psi, math.sqrt(1.0 - psi * psi))
    x = equicorrelate(z, float(d["correlation"]))
    clean = np.column_stack([np.ones(n), x])
    return _shift_leverage(clean, knobs), clean


def _shift_leverage(clean: np.ndarray, knobs: dict[str, Any]) -> np.ndarray:
    """The observed design: the last leverage rows shifted by +distance in every predictor."""
    observed = clean.copy()
    n, m = len(clean), leverage_rows(knobs)
    if m:
        observed[n - m :, 1:] += float(knobs["design"]["leverage"]["distance"])
    return observed


def leverage_rows(knobs: dict[str, Any]) -> int:
    """How many (trailing) rows are high-leverage points."""
    return int(round(float(knobs["design"]["leverage"]["fraction"]) * int(knobs["n"])))


@dataclass
class Dataset:
    """A chunk of replicates: X is n×p when the design is fixed, else R×n×p."""

    X: np.ndarray
    y: np.ndarray
    beta: np.ndarray
    replicates: np.ndarray

    @property
    def fixed(self) -> bool:
        return self.X.ndim == 2

    def design(self, i: int) -> np.ndarray:
        return self.X if self.fixed else self.X[i]

    def head(self, m: int) -> Dataset:
        """The first ``m`` replicates (a fixed design is shared, not copied)."""
        X = self.X if self.fixed else self.X[:m]
        return Dataset(X, self.y[:m], self.beta[:m], self.replicates[:m])

    def stacked_design(self) -> np.ndarray:
        """R×n×p view of the design (broadcast, no copy, for a fixed design)."""
        if self.fixed:
            return np.broadcast_to(self.X, (len(self.replicates), *self.X.shape))
        return self.X

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary name, then rename) so a killed job leaves no stub."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, X=self.X, y=self.y, beta=self.beta, replicates=self.replicates)

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        with np.load(path) as f:
            return cls(f["X"], f["y"], f["beta"], f["replicates"])


#: The prior laws of the slopes (``prior.distribution``).
PRIORS = ("normal", "laplace", "spike_slab")


def prior_scale(prior: dict[str, Any]) -> float:
    """The prior's ``scale`` s (``tau``, its first name, when that is set); 0: no prior."""
    tau = float(prior.get("tau", 0.0))
    return tau if tau > 0 else float(prior.get("scale", 0.0))


def prior_sd(prior: dict[str, Any]) -> float:
    """SD of each slope under the prior (0: no prior): s for the normal and the Laplace (whose
    scale is set to b = s/√2, so the two have the same variance and every linear estimator the
    same risk), s·√(1 − sparsity) for the spike and slab. What the exact theory of linear
    estimators needs: their risk depends on the prior through its second moments only."""
    s = prior_scale(prior)
    if prior.get("distribution", "normal") == "spike_slab":
        return s * math.sqrt(1.0 - float(prior.get("sparsity", 0.0)))
    return s


def prior_is_normal(prior: dict[str, Any]) -> bool:
    """A normal prior (or none): ridge at λ = σ²/τ² is then the Bayes rule, not only the best
    linear one."""
    s = prior_scale(prior)
    law = prior.get("distribution", "normal")
    return s == 0 or law == "normal" or (law == "spike_slab" and prior.get("sparsity", 0) == 0)


def draw_slopes(rng: np.random.Generator, prior: dict[str, Any], k: int) -> np.ndarray:
    """k slopes from the prior. The normal draws s·z as the first studies did (``tau``), so
    their results stay bit for bit; the spike and slab draws the slab, then the spikes."""
    s = prior_scale(prior)
    law = prior.get("distribution", "normal")
    if law == "laplace":
        return rng.laplace(0.0, s / math.sqrt(2.0), k)
    slopes = s * rng.standard_normal(k)
    if law == "spike_slab":
        slopes = np.where(rng.random(k) < float(prior.get("sparsity", 0.0)), 0.0, slopes)
    return slopes


def respond(
    knobs: dict[str, Any],
    x_obs: np.ndarray,
    x_clean: np.ndarray,
    beta: np.ndarray,
    u: np.ndarray,
) -> np.ndarray:
    """y (R×n) from the designs (n×p, shared, or R×n×p), coefficients (R×p) and iid draws u
    (R×n) of the error law: heteroskedasticity, AR(1) errors, endogeneity, leverage rows that
    do or do not follow the model, and the misspecified mean, in that order.

    Why a function of its own: the fresh test samples of :mod:`lossstudy.prediction` must
    follow the very law the training data follow, so both are built by this one function.
    """
    R, n = u.shape
    p = beta.shape[1]
    if response.family(knobs) == response.BERNOULLI:  # y ~ Bernoulli(σ(η)): lossstudy.response
        follows = bool(knobs["design"]["leverage"]["follows_model"])
        x = np.broadcast_to(x_obs if follows else x_clean, (R, n, p))
        eta = np.einsum("rnp,rp->rn", x, beta) if is_linear(knobs) else mean_of(knobs, x, beta)
        return response.bernoulli_response(eta, u)
    xc = np.broadcast_to(x_clean, (R, n, p))
    het = knobs["heteroskedasticity"]
    if het["strength"] > 0:
        u = u * np.sqrt(1.0 + het["strength"] * xc[:, :, het["predictor"]] ** 2)
    phi = float(knobs["autocorrelation"]["phi"])
    e = _ar1_rows(u[:, :, None], phi, 1.0)[:, :, 0] if phi != 0.0 else u
    endo = knobs["endogeneity"]
    if endo["correlation"] != 0:
        rho = float(endo["correlation"])
        sd = error_moments(knobs["errors"]).sd
        e = math.sqrt(1.0 - rho * rho) * e + rho * sd * xc[:, :, endo["predictor"]]

    follows = bool(knobs["design"]["leverage"]["follows_model"])
    x_mean = np.broadcast_to(x_obs if follows else x_clean, (R, n, p))
    if is_linear(knobs):
        y = np.einsum("rnp,rp->rn", x_mean, beta) + e
    else:
        y = mean_of(knobs, x_mean, beta) + e
    mis = knobs["misspecification"]
    if mis["strength"] != 0:
        xj = xc[:, :, mis["predictor"]]
        # x·x·x, not x**3: numpy's power takes a SIMD path on AVX-512 machines whose last bit
        # differs from libm's, and a replicate's draws must not depend on the hardware
        g = xj * xj - 1.0 if mis["form"] == "quadratic" else xj * xj * xj
        y = y + float(mis["strength"]) * g
    return y


def simulate(
    knobs: dict[str, Any],
    seed: int,
    scenario_id: str,
    start: int,
    stop: int,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Dataset:
    """Replicates [start, stop) of one scenario.

    ``progress``, if given, is called as ``progress(done, total)`` after each replicate's draws.
    """
    n, p = int(knobs["n"]), len(knobs["coefficients"])
    reps = np.arange(start, stop, dtype=np.int64)
    fixed = bool(knobs["design"]["fixed"])
    prior = dict(knobs["prior"])
    drawn = prior_scale(prior) > 0
    base_beta = pseudo_true(knobs)

    if fixed:
        x_obs, x_clean = draw_design(design_rng(seed, scenario_id), knobs)
    else:
        x_obs = np.empty((len(reps), n, p))
        x_clean = np.empty((len(reps), n, p))
    beta = np.tile(base_beta, (len(reps), 1))
    u = np.empty((len(reps), n))
    noise = response.noise_sampler(knobs)
    # replicate_rng(seed, scenario_id, r) for each r, seeded in bulk (the same streams)
    for i, rng in enumerate(replicate_streams(seed, scenario_id, reps)):
        if not fixed:
            x_obs[i], x_clean[i] = draw_design(rng, knobs)
        if drawn:
            beta[i, 1:] = draw_slopes(rng, prior, p - 1)
        u[i] = noise(rng, n)
        if progress is not None:
            progress(i + 1, len(reps))

    y = respond(knobs, x_obs, x_clean, beta, u)
    return Dataset(x_obs, y, beta, reps)
