"""Exact finite-sample theory: bias, variance and t-interval coverage of linear estimators.

Why: OLS, WLS and ridge are linear in y, b = M y, so under a fixed design with finite error
variance their first two moments follow in closed form from y = K β + c + e, Cov(e) = Ω, for
every n (heteroskedastic, AR(1), endogenous and misspecified scenarios included), with the design
regenerated from the seed exactly as ``dgp.simulate`` draws it. A random normal design has a
closed form for OLS only (inverse Wishart). The classical t interval covers exactly at the
nominal level when the weights match Var(e | x) and the errors are normal; under other
finite-variance errors the same check is asymptotic only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy import responses
from lossstudy.dgp import (
    draw_design,
    equicorrelation_root,
    error_moments,
    leverage_rows,
    prior_sd,
)
from lossstudy.seeding import design_rng

from .checks import (
    HEAVY_TAILS_NOTE,
    Check,
    Setting,
    _full_rank,
    _join,
    _twins_note,
    _weights_match,
)

#: Up to this n an AR(1) Ω is built densely (3 n×n matrices, ≤ 6 MB each), the very
#: arithmetic the stored results were computed with; above, only O(n p) products.
DENSE_UP_TO = 500


@dataclass(frozen=True, eq=False)
class ErrorCovariance:
    """Cov(e) = Ω = L diag(d) L', L the AR(1) filter of ``dgp._ar1_rows`` (the identity when
    φ = 0), d = shrink · σ² · h² the innovations' variances (endogeneity's 1 − ρ², the scale,
    heteroskedasticity).

    Why not the n×n matrix: at n = 10 000 Ω and L took 2.5 GB. Every product the moments
    need, M Ω M', is (M L) diag(d) (M L)', M L in O(n p) by a recursion (equal to the dense
    product to ~1e-15). With φ = 0 it is (M d) M', the very bits of M Ω M' (the zeros of a
    diagonal Ω add nothing); with φ ≠ 0 and n ≤ ``DENSE_UP_TO`` Ω is built as before, so that
    the exact values (and the optimiser's optima over them) keep their bits.
    """

    sigma2: float
    h2: np.ndarray
    shrink: float
    phi: float

    @property
    def d(self) -> np.ndarray:
        return self.shrink * (self.sigma2 * self.h2)

    @functools.cached_property
    def _dense(self) -> np.ndarray:
        n = self.h2.size
        L = _ar1_filter(n, self.phi) if self.phi != 0.0 else np.eye(n)
        return self.shrink * (self.sigma2 * (L * self.h2[None, :]) @ L.T)

    def dense(self) -> np.ndarray:
        """Ω itself, n×n (for small n only)."""
        return self._dense

    def filtered(self, M: np.ndarray) -> np.ndarray:
        """M L for M of shape (…, n): A_{n−1} = M_{n−1}, A_t = M_t + φ A_{t+1}, A_0 /= √(1−φ²)."""
        if self.phi == 0.0:
            return M
        A = np.empty_like(M, dtype=float)
        A[..., -1] = M[..., -1]
        for t in range(M.shape[-1] - 2, -1, -1):
            A[..., t] = M[..., t] + self.phi * A[..., t + 1]
        A[..., 0] /= math.sqrt(1.0 - self.phi * self.phi)
        return A

    def sandwich(self, M: np.ndarray, *, dense: bool | None = None) -> np.ndarray:
        """M Ω M' for a k×n matrix (k×k), or m Ω m for a vector of length n (a scalar).
        ``dense`` forces (True) or forbids (False) the n×n route; by default it is taken for
        φ ≠ 0 and n ≤ ``DENSE_UP_TO``."""
        if dense is None:
            dense = self.phi != 0.0 and self.h2.size <= DENSE_UP_TO
        if dense:
            return M @ self._dense @ M.T
        A = self.filtered(M)
        return (A * self.d) @ A.T


@dataclass
class LinearDGP:
    """A fixed-design scenario as a linear model: y = K β + offset + e, Cov(e) = cov."""

    X: np.ndarray  # the design the estimators see (n×p)
    K: np.ndarray  # E[y | β] = K β + offset (K ≠ X with bad leverage rows)
    offset: np.ndarray
    cov: ErrorCovariance
    beta_mean: np.ndarray
    beta_cov: np.ndarray
    sigma2: float  # Var of the iid innovations (scale included)


def _ar1_filter(n: int, phi: float) -> np.ndarray:
    """L with e = L u for ``dgp._ar1_rows``: e_0 = u_0/√(1−φ²), e_t = φ e_{t−1} + u_t."""
    t = np.arange(n)
    lag = t[:, None] - t[None, :]
    L = np.where(lag >= 0, phi ** np.maximum(lag, 0), 0.0)
    L[:, 0] /= math.sqrt(1.0 - phi * phi)
    return L


def linear_dgp(
    knobs: Mapping[str, Any], seed: int, scenario_id: str
) -> tuple[LinearDGP | None, str]:
    """The scenario's fixed design (regenerated from the seed) and the first two moments of y.

    Returns (None, reason) where no closed form applies: a random design or infinite variance.
    """
    if not bool(knobs["design"]["fixed"]):
        return None, "random design: the closed forms are conditional on X, which varies"
    mom = error_moments(dict(knobs["errors"]))
    if not mom.var_finite:
        return None, f"{knobs['errors']['distribution']} errors have no finite variance"
    x_obs, x_clean = draw_design(design_rng(seed, scenario_id), dict(knobs))
    n, p = x_obs.shape
    sigma2 = mom.sd**2
    het = knobs["heteroskedasticity"]
    h2 = np.ones(n)
    if float(het["strength"]) > 0:
        h2 = 1.0 + float(het["strength"]) * x_clean[:, int(het["predictor"])] ** 2
    shrink = 1.0
    offset = np.zeros(n)
    endo = knobs["endogeneity"]
    if float(endo["correlation"]) != 0:
        rho = float(endo["correlation"])
        shrink = 1.0 - rho * rho
        offset = offset + rho * mom.sd * x_clean[:, int(endo["predictor"])]
    mis = knobs["misspecification"]
    if float(mis["strength"]) != 0:
        xj = x_clean[:, int(mis["predictor"])]
        g = xj**2 - 1.0 if mis["form"] == "quadratic" else xj**3
        offset = offset + float(mis["strength"]) * g
    follows = bool(knobs["design"]["leverage"]["follows_model"])
    K = x_obs if follows else x_clean
    beta_mean = responses.pseudo_true(knobs)
    if not responses.is_linear(knobs):  # y = Kβ* + (f − Kβ*) + e: the misfit is an offset
        offset = offset + responses.mean_of(knobs, K, beta_mean) - K @ beta_mean
    beta_cov = np.zeros((p, p))
    tau = prior_sd(dict(knobs["prior"]))  # second moments: all a linear fit's risk needs
    if tau > 0:
        beta_mean[1:] = 0.0
        beta_cov[1:, 1:] = tau * tau * np.eye(p - 1)
    cov = ErrorCovariance(sigma2, h2, shrink, float(knobs["autocorrelation"]["phi"]))
    return LinearDGP(x_obs, K, offset, cov, beta_mean, beta_cov, sigma2), ""


def linear_map(spec: Mapping[str, Any], X: np.ndarray) -> tuple[np.ndarray | None, str]:
    """M with b = M y for a linear estimator on design X, or (None, reason)."""
    method = spec["method"]
    n, p = X.shape
    lam = float(spec.get("penalty", 1.0)) if method == "ridge" else 0.0
    # the rank only where it decides (an SVD: the sweeps ask for ridge at thousands of λ > 0)
    rank = int(np.linalg.matrix_rank(X)) if method in ("ols", "wls") or lam == 0 else p
    if method == "ols":
        if rank < p:
            return None, f"design rank {rank} < p = {p}: the fit fails"
        return np.linalg.pinv(X), ""
    if method == "wls":
        if rank < p:
            return None, f"design rank {rank} < p = {p}: the fit fails"
        w = 1.0 / (
            1.0 + float(spec.get("strength", 1.0)) * X[:, int(spec.get("predictor", 1))] ** 2
        )
        xtw = X.T * w
        return np.linalg.solve(xtw @ X, xtw), ""
    if method == "ridge":
        if lam == 0 and rank < p:
            return None, f"design rank {rank} < p = {p} and λ = 0: the fit fails"
        D = np.eye(p)
        D[0, 0] = 0.0
        return np.linalg.solve(X.T @ X + lam * D, X.T), ""
    return None, f"{method} is not linear in y"


def linear_moments(M: np.ndarray, dgp: LinearDGP) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of d = M y − β over errors (and the prior on β, if any)."""
    B = M @ dgp.K - np.eye(M.shape[0])
    mean = B @ dgp.beta_mean + M @ dgp.offset
    cov = B @ dgp.beta_cov @ B.T + dgp.cov.sandwich(M)
    return mean, cov


def _random_design_ols(knobs: Mapping[str, Any]) -> tuple[np.ndarray | None, str]:
    """Var of OLS per coefficient under iid N(0, Σ) rows and homoskedastic iid errors."""
    n, p = int(knobs["n"]), len(knobs["coefficients"])
    d = knobs["design"]
    if responses.is_uniform(knobs):
        return None, "uniform design: the closed form is for normal rows"
    if float(d["autocorrelation"]) != 0 or leverage_rows(dict(knobs)) > 0:
        return None, "random design with autocorrelated or shifted rows: no closed form"
    rho = float(d["correlation"])
    if rho >= 1.0:
        return None, "rank-deficient design"
    if n - p - 1 <= 0:
        return None, "n − p − 1 ≤ 0: E[(X'X)⁻¹] is infinite"
    root = equicorrelation_root(p - 1, rho)
    sigma_inv = np.linalg.inv(root @ root)
    s2 = error_moments(dict(knobs["errors"])).sd ** 2
    var = np.empty(p)
    var[0] = s2 * (n - 2) / (n * (n - p - 1))
    var[1:] = s2 * np.diag(sigma_inv) / (n - p - 1)
    return var, ""


def _moment_note(knobs: Mapping[str, Any]) -> str:
    parts = ["fixed design regenerated from the seed"]
    if prior_sd(dict(knobs["prior"])) > 0:
        parts.append("moments over the prior on β too")
    return "; ".join(parts)


def moment_checks(s: Setting) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Exact bias and variance of each linear estimator (one of each set with equal point
    estimates); returns the exact moments of d per estimator, which the orderings quote."""
    from lossstudy.estimators import is_linear_in_y

    scenario_id, seed, knobs, estimators = s.scenario_id, s.seed, s.knobs, s.estimators
    groups, fixed, terms, checks, skip = s.groups, s.fixed, s.terms, s.checks, s.skip
    mom, dist, heavy, unbiased, why_biased = s.mom, s.dist, s.heavy, s.unbiased, s.why_biased
    homoskedastic = s.homoskedastic
    linear = [e for e in groups if is_linear_in_y(estimators[e])]
    moments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    dgp, why = linear_dgp(knobs, seed, scenario_id) if linear and fixed else (None, "")
    for name in linear:
        twins = _twins_note(groups[name])
        if dgp is not None:
            M, why_m = linear_map(estimators[name], dgp.X)
            if M is None:
                skip("exact moments", why_m, name)
                continue
            mean, cov = linear_moments(M, dgp)
            moments[name] = (mean, cov)
            scale = np.sqrt(np.maximum(np.diag(cov), 0.0))
            mean = np.where(np.abs(mean) < 1e-12 * np.maximum(scale, 1e-300), 0.0, mean)
            base = _moment_note(knobs)
            for j, t in enumerate(terms):
                checks.append(
                    Check(name, t, "bias", float(mean[j]), "=", "exact", _join(base, twins))
                )
                vnote = _join(base, HEAVY_TAILS_NOTE if heavy else "", twins)
                checks.append(Check(name, t, "variance", float(cov[j, j]), "=", "exact", vnote))
            continue
        if fixed:
            skip("exact moments", why, name)
            continue
        # random design: E[(X'X)⁻¹] has a closed form for OLS with iid normal rows only
        reason = ""
        if estimators[name]["method"] != "ols":
            reason = "random design: a closed form exists for OLS only (inverse Wishart)"
        elif not mom.var_finite:
            reason = f"{dist} errors have no finite variance"
        elif not unbiased:
            reason = f"biased here: {why_biased}"
        elif not homoskedastic:
            reason = "random design with heteroskedastic or autocorrelated errors: no closed form"
        var, why_r = _random_design_ols(knobs) if not reason else (None, reason)
        if var is None:
            skip("exact moments", why_r, name)
            continue
        note = "random design: E[σ²(X'X)⁻¹] over iid N(0, Σ) rows (inverse Wishart)"
        for j, t in enumerate(terms):
            checks.append(Check(name, t, "bias", 0.0, "=", "exact", _join(note, twins)))
            vnote = _join(note, HEAVY_TAILS_NOTE if heavy else "", twins)
            checks.append(Check(name, t, "variance", float(var[j]), "=", "exact", vnote))
    return moments


def coverage_checks(s: Setting) -> None:
    """Coverage of the classical t intervals of OLS and WLS where their weights match
    Var(e | x) and they are unbiased: exact under normal errors, asymptotic otherwise."""
    knobs, estimators, level, n, tau, terms = s.knobs, s.estimators, s.level, s.n, s.tau, s.terms
    mom, dist, unbiased, why_biased = s.mom, s.dist, s.unbiased, s.why_biased
    checks, skip = s.checks, s.skip
    for name, spec in estimators.items():
        if spec["method"] not in ("ols", "wls"):
            continue
        if not mom.var_finite:
            skip("coverage", f"{dist} errors have no finite variance", name)
            continue
        if not unbiased:
            skip("coverage", f"biased here: {why_biased}", name)
            continue
        if not _full_rank(knobs):
            skip("coverage", "rank-deficient design: the fit fails", name)
            continue
        se = str(spec.get("se", "classical"))
        if spec["method"] == "ols" and se != "classical":
            # HC0–HC3 and HAC intervals are only asymptotically nominal, with no closed-form
            # finite-sample level to check against (the coverage claims report them instead)
            skip("coverage", f"{se} SE: no exact finite-sample coverage (asymptotic only)", name)
            continue
        ok, why_w = _weights_match(knobs, spec)
        if not ok:
            skip("coverage", f"the classical SE is wrong here: {why_w}", name)
            continue
        exact = s.normal
        note = (
            "normal errors, weights = 1/Var(e|x): the t interval is exact at every n"
            if exact
            else (
                f"{dist} errors: the t interval is only asymptotically exact (CLT); at n = {n} "
                "a small departure from the nominal level is expected"
            )
        )
        if tau > 0:
            note = _join(note, "holds for every β, hence over the prior")
        for t in terms:
            checks.append(
                Check(
                    name, t, "coverage", float(level), "=", "exact" if exact else "asymptotic", note
                )
            )
