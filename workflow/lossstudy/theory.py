"""Does the simulation agree with theory? Exact and asymptotic results, checked against the runs.

A reader trusts a simulation that reproduces what is known exactly before it shows what is not.
For every scenario where a closed form or an asymptotic result applies, :func:`scenario_checks`
derives the theoretical value from the scenario's knobs, the study seed and the estimator specs
alone (the fixed design is regenerated from the seed exactly as ``dgp.simulate`` draws it), and
:func:`compare` puts the simulated value next to it, with its Monte Carlo standard error (MCSE)
and z = (simulated − theoretical) / MCSE. A row is flagged beyond ``Z_FLAG`` = 3 MCSE.

What is checked (``kind``):

exact
    *Linear estimators* (OLS, WLS, ridge) under a **fixed design** with finite error variance:
    every draw is y = K β + c + e with Cov(e) = Ω known in closed form (heteroskedasticity, AR(1)
    errors and endogeneity included: with a fixed design the endogeneity and misspecification
    terms are fixed vectors c, bad leverage rows make K ≠ X), so for b = M y,

        E[d] = (M K − I) E[β] + M c,   Cov(d) = (M K − I) Cov(β) (M K − I)' + M Ω M',

    with M = (X'X)⁻¹X' (OLS: unbiased, σ²(X'X)⁻¹ under Gauss–Markov), (X'WX)⁻¹X'W (WLS) or
    (X'X + λD)⁻¹X' (ridge: bias −λ(X'X+λD)⁻¹Dβ, variance σ²(X'X+λD)⁻¹X'X(X'X+λD)⁻¹). Under a
    prior on β the moments are over the prior too (E[β] has zero slopes, Cov(β) = τ² on the
    slopes). Checked per coefficient: ``bias`` and ``variance`` (of d = estimate − true value).
    *OLS under a random normal design* (iid rows N(0, Σ), homoskedastic errors): unbiased, and
    by the inverse-Wishart mean Var(slope j) = σ² [Σ⁻¹]_jj / (n − p − 1), Var(intercept) =
    σ² (n − 2) / (n (n − p − 1)).
    *Coverage* of the classical t intervals of OLS and WLS when their weights match Var(e | x)
    (OLS: homoskedastic; WLS: Var ∝ 1 + strength·x_j²), the estimator is unbiased and the errors
    are uncorrelated and **normal**: exactly the nominal level, at every n.

asymptotic
    The same coverage under non-normal finite-variance errors (nominal only as n → ∞), and the
    relative efficiency Var(OLS)/Var(method) of LAD and Huber under iid symmetric errors:
    ARE_LAD = 4 f(0)² Var(e); ARE_Huber = Var(e) / (s² E[ψ_k(e/s)²] / P(|e| ≤ k s)²) with s the
    limit of RLM's MAD scale, median|e| / Φ⁻¹(3/4) (not the SD: that is the "MAD-scale-consistent"
    formula). Pooled over all coefficients (the theory is the same for each).

ordering
    *Gauss–Markov / Aitken*: where one linear unbiased estimator of the study has weights that
    match Var(e | x) (OLS under homoskedasticity, WLS with strength = γ under Var ∝ 1 + γ x_j²), it
    is the BLUE: every other linear unbiased estimator's variance is at least its variance
    (``variance_excess`` ≥ 0, per coefficient, paired MCSE).
    *Bayes*: with slopes ~ N(0, τ²), normal homoskedastic errors and a ridge with λ = σ²/τ² in the
    study, that ridge is the posterior mean given X (flat prior on the intercept), so its average
    MSE over the slopes is the lowest of all estimators whose slopes do not depend on the
    intercept (all of the study's): ``bayes_risk_excess`` ≥ 0 for every other estimator.

Everything that does not apply is listed with its reason by :func:`scenario_checks` (``skipped``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.config import term_names
from lossstudy.dgp import draw_design, equicorrelation_root, error_moments, leverage_rows
from lossstudy.io import atomic_path
from lossstudy.seeding import design_rng

__all__ = [
    "COLUMNS",
    "P_CHANCE",
    "QUANTITIES",
    "KINDS",
    "Z_FLAG",
    "Check",
    "LinearDGP",
    "are_huber",
    "are_lad",
    "compare",
    "error_law",
    "huber_asymptotic_variance",
    "linear_dgp",
    "linear_map",
    "linear_moments",
    "mad_scale",
    "outside_the_theorem",
    "scenario_checks",
    "theory_table",
    "write_theory",
]

log = logging.getLogger("lossstudy")

Z_FLAG = 3.0
KINDS = ("exact", "asymptotic", "ordering")
COLUMNS = (
    "scenario",
    "estimator",
    "versus",
    "term",
    "quantity",
    "simulated",
    "mcse",
    "theoretical",
    "relation",
    "z",
    "kind",
    "flag",
    "rel_diff",
    "n_used",
    "note",
)
#: quantity -> label (``est``: the row's estimator, ``vs``: its comparator), in report order.
QUANTITIES: dict[str, str] = {
    "bias": "bias (mean of d)",
    "variance": "variance of d",
    "coverage": "coverage of the t interval",
    "rel_efficiency": "Var(vs) / Var(est), pooled over terms",
    "variance_excess": "Var(est) − Var(vs), vs the BLUE",
    "bayes_risk_excess": "mean slope MSE: est − vs, vs the Bayes rule",
}
SKIPPED_COLUMNS = ("scenario", "check", "estimator", "reason")
#: Φ⁻¹(3/4): statsmodels' MAD constant (RLM's scale is median|r| / MAD_C).
MAD_C = 0.6744897501960817
#: Two-sided P(|Z| > 3): the share of exact rows expected beyond 3 MCSE by chance alone.
P_CHANCE = math.erfc(Z_FLAG / math.sqrt(2.0))
#: A ridge is "the" Bayes rule when its λ is within this relative tolerance of σ²/τ².
BAYES_RTOL = 1e-6

HEAVY_TAILS_NOTE = (
    "errors have no finite fourth moment: the MCSE of a variance (or of a ratio or difference "
    "of variances) is unreliable and z is not a valid test here (rare huge errors make the "
    "sample variance converge slowly)"
)


# --------------------------------------------------------------------------- error laws


@dataclass(frozen=True)
class ErrorLaw:
    """The iid error distribution of a scenario, including its scale."""

    distribution: str
    variance: float
    pdf: Callable[[float], float]
    cdf: Callable[[float], float]
    symmetric: bool
    median: float


def error_law(errors: Mapping[str, Any]) -> ErrorLaw:
    """Density, distribution function and variance of ``errors`` (as ``dgp.draw_errors``)."""
    from scipy import stats

    dist, s = str(errors["distribution"]), float(errors.get("scale", 1.0))
    mom = error_moments(dict(errors))
    var = mom.sd**2 if mom.var_finite else math.inf
    if dist == "normal":
        law: Any = stats.norm(scale=s)
    elif dist == "t":
        law = stats.t(float(errors["df"]), scale=s)
    elif dist == "laplace":
        law = stats.laplace(scale=s)
    elif dist == "cauchy":
        law = stats.cauchy(scale=s)
    elif dist == "exponential":
        law = stats.expon(loc=-s, scale=s)
    elif dist == "lognormal":
        sig = float(errors["sigma"])
        law = stats.lognorm(sig, loc=-s * math.exp(sig * sig / 2), scale=s)
    elif dist == "contaminated":
        f, o = float(errors["fraction"]), float(errors["outlier_scale"])
        a, b = stats.norm(scale=s), stats.norm(scale=s * o)
        return ErrorLaw(
            dist,
            var,
            lambda x: (1 - f) * a.pdf(x) + f * b.pdf(x),
            lambda x: (1 - f) * a.cdf(x) + f * b.cdf(x),
            True,
            0.0,
        )
    else:
        raise ValueError(f"unknown error distribution {dist!r}")
    return ErrorLaw(dist, var, law.pdf, law.cdf, mom.symmetric, mom.median)


def mad_scale(errors: Mapping[str, Any]) -> float:
    """Limit of RLM's scale median|r| / Φ⁻¹(3/4) at the true errors: median|e| / Φ⁻¹(3/4)."""
    from scipy.optimize import brentq

    law = error_law(errors)
    hi = 1.0
    while law.cdf(hi) - law.cdf(-hi) < 0.5:
        hi *= 2.0
    m = brentq(lambda x: law.cdf(x) - law.cdf(-x) - 0.5, 0.0, hi, xtol=1e-14, rtol=1e-14)
    return float(m) / MAD_C


def are_lad(errors: Mapping[str, Any]) -> float:
    """Asymptotic efficiency of LAD relative to OLS: 4 f(median)² Var(e) (NaN without variance)."""
    law = error_law(errors)
    if not math.isfinite(law.variance):
        return math.nan
    return 4.0 * float(law.pdf(law.median)) ** 2 * law.variance


def huber_asymptotic_variance(
    errors: Mapping[str, Any], k: float = 1.345, scale: float | None = None
) -> float:
    """s² E[ψ_k(e/s)²] / P(|e/s| ≤ k)² for symmetric errors, where s is the limit of the
    scale estimate: by default RLM's MAD scale, :func:`mad_scale` (``scale`` overrides it)."""
    from scipy.integrate import quad

    law = error_law(errors)
    s = mad_scale(errors) if scale is None else float(scale)
    c = k * s
    inside = quad(lambda x: (x / s) ** 2 * law.pdf(x), -c, c, points=[0.0], limit=200)[0]
    tails = 1.0 - (law.cdf(c) - law.cdf(-c))
    e_psi2 = inside + k * k * tails
    e_dpsi = law.cdf(c) - law.cdf(-c)
    return s * s * e_psi2 / e_dpsi**2


def are_huber(errors: Mapping[str, Any], k: float = 1.345) -> float:
    """Asymptotic efficiency of Huber (MAD scale) relative to OLS: Var(e) / its variance."""
    law = error_law(errors)
    if not math.isfinite(law.variance):
        return math.nan
    return law.variance / huber_asymptotic_variance(errors, k)


# --------------------------------------------------------------------------- linear theory


@dataclass
class LinearDGP:
    """A fixed-design scenario as a linear model: y = K β + offset + e, Cov(e) = omega."""

    X: np.ndarray  # the design the estimators see (n×p)
    K: np.ndarray  # E[y | β] = K β + offset (K ≠ X with bad leverage rows)
    offset: np.ndarray
    omega: np.ndarray
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
    phi = float(knobs["autocorrelation"]["phi"])
    L = _ar1_filter(n, phi) if phi != 0.0 else np.eye(n)
    omega = sigma2 * (L * h2[None, :]) @ L.T
    offset = np.zeros(n)
    endo = knobs["endogeneity"]
    if float(endo["correlation"]) != 0:
        rho = float(endo["correlation"])
        omega = (1.0 - rho * rho) * omega
        offset = offset + rho * mom.sd * x_clean[:, int(endo["predictor"])]
    mis = knobs["misspecification"]
    if float(mis["strength"]) != 0:
        xj = x_clean[:, int(mis["predictor"])]
        g = xj**2 - 1.0 if mis["form"] == "quadratic" else xj**3
        offset = offset + float(mis["strength"]) * g
    follows = bool(knobs["design"]["leverage"]["follows_model"])
    K = x_obs if follows else x_clean
    beta_mean = np.asarray(knobs["coefficients"], dtype=float).copy()
    beta_cov = np.zeros((p, p))
    tau = float(knobs["prior"]["tau"])
    if tau > 0:
        beta_mean[1:] = 0.0
        beta_cov[1:, 1:] = tau * tau * np.eye(p - 1)
    return LinearDGP(x_obs, K, offset, omega, beta_mean, beta_cov, sigma2), ""


def linear_map(spec: Mapping[str, Any], X: np.ndarray) -> tuple[np.ndarray | None, str]:
    """M with b = M y for a linear estimator on design X, or (None, reason)."""
    method = spec["method"]
    n, p = X.shape
    rank = int(np.linalg.matrix_rank(X))
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
        lam = float(spec.get("penalty", 1.0))
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
    cov = B @ dgp.beta_cov @ B.T + M @ dgp.omega @ M.T
    return mean, cov


def _random_design_ols(knobs: Mapping[str, Any]) -> tuple[np.ndarray | None, str]:
    """Var of OLS per coefficient under iid N(0, Σ) rows and homoskedastic iid errors."""
    n, p = int(knobs["n"]), len(knobs["coefficients"])
    d = knobs["design"]
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


# --------------------------------------------------------------------------- checks


@dataclass
class Check:
    """One theoretical statement about one estimator (and a comparator, for orderings)."""

    estimator: str
    term: str
    quantity: str
    theoretical: float
    relation: str  # "=", ">=" or "<="
    kind: str
    note: str = ""
    versus: str = ""


def _point_groups(estimators: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """First estimator of each set with identical point estimates (OLS classical/HC3) → all."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, spec in estimators.items():
        key = (spec["method"], tuple(sorted((k, str(v)) for k, v in spec.items() if k != "se")))
        groups.setdefault(key, []).append(name)
    return {names[0]: names for names in groups.values()}


def _unbiased_setting(knobs: Mapping[str, Any]) -> tuple[bool, str]:
    """Are linear unbiased estimators unbiased here (linear mean, exogenous errors)?"""
    if float(knobs["misspecification"]["strength"]) != 0:
        return False, "the mean is not linear in x (omitted term)"
    if float(knobs["endogeneity"]["correlation"]) != 0:
        return False, "errors correlated with a predictor"
    lev = knobs["design"]["leverage"]
    if leverage_rows(dict(knobs)) > 0 and not lev["follows_model"]:
        return False, "bad leverage rows: y follows other x than observed"
    if not error_moments(dict(knobs["errors"])).mean_finite:
        return False, "errors have no mean"
    return True, ""


def _weights_match(knobs: Mapping[str, Any], spec: Mapping[str, Any]) -> tuple[bool, str]:
    """Do the estimator's (implicit) weights equal 1/Var(e_i | x) up to a constant?"""
    if float(knobs["autocorrelation"]["phi"]) != 0:
        return False, "autocorrelated errors"
    het = knobs["heteroskedasticity"]
    gamma, j = float(het["strength"]), int(het["predictor"])
    if spec["method"] == "wls":
        g_e, j_e = float(spec.get("strength", 1.0)), int(spec.get("predictor", 1))
    elif spec["method"] == "ols" and spec.get("se", "classical") == "classical":
        g_e, j_e = 0.0, j
    else:
        return False, "not a classical (weighted) least-squares interval"
    if gamma == 0 and g_e == 0:
        return True, ""
    if gamma > 0 and g_e == gamma and j_e == j:
        if leverage_rows(dict(knobs)) > 0:
            return False, "leverage rows: the weights use shifted x, the variance clean x"
        return True, ""
    if gamma == 0:
        return False, "homoskedastic errors, but the weights are not constant"
    return False, f"Var(e|x) ∝ 1 + {gamma:g}·x{j}², not 1/weights"


def _full_rank(knobs: Mapping[str, Any]) -> bool:
    return float(knobs["design"]["correlation"]) < 1.0


def scenario_checks(
    scenario_id: str,
    knobs: Mapping[str, Any],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
) -> tuple[list[Check], list[dict[str, str]]]:
    """The theoretical statements that apply to one scenario, and those that do not (why)."""
    from lossstudy.estimators import is_linear_in_y

    p = len(knobs["coefficients"])
    n = int(knobs["n"])
    terms = term_names(p)
    errors = dict(knobs["errors"])
    dist = str(errors["distribution"])
    mom = error_moments(errors)
    tau = float(knobs["prior"]["tau"])
    fixed = bool(knobs["design"]["fixed"])
    checks: list[Check] = []
    skipped: list[dict[str, str]] = []

    def skip(check: str, reason: str, estimator: str = "") -> None:
        skipped.append({"check": check, "estimator": estimator, "reason": reason})

    groups = _point_groups(estimators)
    heavy = mom.var_finite and not mom.fourth_finite
    unbiased, why_biased = _unbiased_setting(knobs)
    homoskedastic = (
        float(knobs["heteroskedasticity"]["strength"]) == 0
        and float(knobs["autocorrelation"]["phi"]) == 0
    )

    # ---- exact bias and variance of linear estimators
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

    # ---- coverage of classical t intervals (OLS classical, WLS)
    for name, spec in estimators.items():
        if not (
            spec["method"] == "wls"
            or (spec["method"] == "ols" and spec.get("se", "classical") == "classical")
        ):
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
        ok, why_w = _weights_match(knobs, spec)
        if not ok:
            skip("coverage", f"the classical SE is wrong here: {why_w}", name)
            continue
        exact = dist == "normal"
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

    # ---- asymptotic relative efficiency of LAD and Huber vs OLS
    robust = [e for e in groups if estimators[e]["method"] in ("lad", "huber")]
    ols = next((e for e in groups if estimators[e]["method"] == "ols"), None)
    if robust:
        reason = ""
        if ols is None:
            reason = "no OLS estimator in the study"
        elif not mom.var_finite:
            reason = f"{dist} errors have no finite variance: OLS has none"
        elif not mom.symmetric:
            reason = f"{dist} errors are not symmetric"
        elif not unbiased:
            reason = f"not iid errors around the linear mean: {why_biased}"
        elif not homoskedastic:
            reason = "errors are not iid (heteroskedastic or autocorrelated)"
        elif not _full_rank(knobs):
            reason = "rank-deficient design"
        for name in robust:
            if reason:
                skip("asymptotic relative efficiency", reason, name)
                continue
            spec = estimators[name]
            if spec["method"] == "lad":
                value = are_lad(errors)
                formula = "4 f(0)² Var(e)"
            else:
                value = are_huber(errors, float(spec.get("k", 1.345)))
                formula = "Var(e) / (s² E[ψ²] / P(|e| ≤ ks)²), s = median|e|/Φ⁻¹(3/4)"
            note = _join(
                f"asymptotic ({formula}); at n = {n}, p = {p} the finite-sample value can differ "
                "beyond Monte Carlo error",
                _are_caveat(dist, spec["method"]),
                HEAVY_TAILS_NOTE if heavy else "",
            )
            checks.append(
                Check(name, "all", "rel_efficiency", value, "=", "asymptotic", note, versus=ols)
            )

    # ---- Gauss–Markov / Aitken: the BLUE among the study's linear unbiased estimators
    candidates = [
        e
        for e in groups
        if estimators[e]["method"] in ("ols", "wls")
        or (estimators[e]["method"] == "ridge" and float(estimators[e].get("penalty", 1.0)) == 0)
    ]
    if len(candidates) >= 2:
        reason = ""
        if not mom.var_finite:
            reason = f"{dist} errors have no finite variance"
        elif not unbiased:
            reason = f"linear estimators are biased here: {why_biased}"
        elif not _full_rank(knobs):
            reason = "rank-deficient design"
        blue = None
        if not reason:
            blue = next(
                (e for e in candidates if _weights_match(knobs, _as_ls(estimators[e]))[0]), None
            )
            if blue is None:
                reason = "no linear estimator of the study has weights 1/Var(e|x) (GLS would)"
        if reason:
            skip("Gauss–Markov ordering", reason)
        else:
            assert blue is not None
            theorem = (
                "Gauss–Markov: OLS is the BLUE under homoskedastic uncorrelated errors"
                if estimators[blue]["method"] != "wls"
                or float(estimators[blue].get("strength", 1.0)) == 0
                else "Aitken: WLS with weights 1/Var(e|x) is the BLUE"
            )
            for name in candidates:
                if name == blue:
                    continue
                for j, t in enumerate(terms):
                    note = f"{theorem}; Var({name}) − Var({blue}) ≥ 0"
                    if name in moments and blue in moments:
                        exact = moments[name][1][j, j] - moments[blue][1][j, j]
                        note += f"; exact expected difference {exact:.4g}"
                    if heavy:
                        note = _join(note, HEAVY_TAILS_NOTE)
                    checks.append(
                        Check(name, t, "variance_excess", 0.0, ">=", "ordering", note, versus=blue)
                    )

    # ---- Bayes: ridge with λ = σ²/τ² under a Gaussian prior
    if tau > 0:
        lam = mom.sd**2 / tau**2 if mom.var_finite else math.nan
        bayes = next(
            (
                e
                for e in groups
                if estimators[e]["method"] == "ridge"
                and math.isclose(float(estimators[e].get("penalty", 1.0)), lam, rel_tol=BAYES_RTOL)
            ),
            None,
        )
        reason = ""
        if dist != "normal":
            reason = f"{dist} errors: the ridge is the posterior mean only under normal errors"
        elif not unbiased or not homoskedastic:
            reason = "y | β is not N(Xβ, σ²I) here"
        elif bayes is None:
            reason = f"no ridge with λ = σ²/τ² = {lam:.6g} in the study"
        elif p < 2:
            reason = "no slopes"
        if reason:
            skip("Bayes ordering", reason)
        else:
            assert bayes is not None
            for name in groups:
                if name == bayes:
                    continue
                note = (
                    f"Bayes: {bayes} (λ = σ²/τ² = {lam:.4g}) is the posterior mean of the slopes, "
                    "so no estimator has a lower average MSE over the prior"
                )
                if name in moments and bayes in moments:
                    a = _slope_mse(*moments[name])
                    b = _slope_mse(*moments[bayes])
                    note += f"; exact expected difference {a - b:.4g}"
                checks.append(
                    Check(name, "slopes", "bayes_risk_excess", 0.0, ">=", "ordering", note, bayes)
                )
    return checks, skipped


def _as_ls(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Ridge with λ = 0 is OLS; classical SE assumed for the weight question only."""
    if spec["method"] == "ridge":
        return {"method": "ols", "se": "classical"}
    if spec["method"] == "ols":
        return {**spec, "se": "classical"}
    return dict(spec)


def _slope_mse(mean: np.ndarray, cov: np.ndarray) -> float:
    return float(np.mean(mean[1:] ** 2 + np.diag(cov)[1:]))


def _twins_note(names: Sequence[str]) -> str:
    if len(names) < 2:
        return ""
    return f"also {', '.join(names[1:])} (same point estimates)"


def _moment_note(knobs: Mapping[str, Any]) -> str:
    parts = ["fixed design regenerated from the seed"]
    if float(knobs["prior"]["tau"]) > 0:
        parts.append("moments over the prior on β too")
    return "; ".join(parts)


def _are_caveat(dist: str, method: str) -> str:
    if dist == "laplace" and method == "lad":
        return (
            "LAD under Laplace errors approaches its limit slowly, O(n^−1/2), because of the cusp "
            "of the density at 0: expect the simulated efficiency clearly below 2 (≈ 1.8 at "
            "n = 1000, p = 5)"
        )
    return ""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------- simulated side


def _errors(est: pd.DataFrame, terms: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per estimator: d (R×p, replicates aligned across estimators) and its usable mask."""
    reps = np.sort(pd.unique(est["replicate"]))
    r_idx = pd.Index(reps)
    t_idx = pd.Index(list(terms))
    out = {}
    for name, grp in est.groupby("estimator", sort=False):
        d = np.full((len(reps), len(terms)), np.nan)
        ok = np.zeros(d.shape, dtype=bool)
        ri = r_idx.get_indexer(grp["replicate"])
        ti = t_idx.get_indexer(grp["term"])
        keep = (ri >= 0) & (ti >= 0)
        diff = pd.to_numeric(grp["estimate"], errors="coerce").to_numpy(float) - pd.to_numeric(
            grp["true_value"], errors="coerce"
        ).to_numpy(float)
        d[ri[keep], ti[keep]] = diff[keep]
        ok[ri[keep], ti[keep]] = (grp["status"].to_numpy() == "ok")[keep]
        out[str(name)] = (d, ok & np.isfinite(d))
    return out


def _coverage(est: pd.DataFrame, name: str, term: str) -> tuple[float, float, int]:
    sub = est[(est["estimator"] == name) & (est["term"] == term) & (est["status"] == "ok")]
    lo, hi, tv = (
        pd.to_numeric(sub[c], errors="coerce") for c in ("ci_low", "ci_high", "true_value")
    )
    use = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(tv)
    n = int(use.sum())
    if n == 0:
        return math.nan, math.nan, 0
    c = float(((lo[use] <= tv[use]) & (tv[use] <= hi[use])).mean())
    return c, math.sqrt(c * (1 - c) / n), n


def _variance(d: np.ndarray, use: np.ndarray) -> tuple[float, float, int]:
    x = d[use]
    n = x.size
    if n < 3:
        return math.nan, math.nan, n
    c2 = (x - x.mean()) ** 2
    return float(x.var(ddof=1)), float(c2.std(ddof=1) / math.sqrt(n)), n


def _paired_excess(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    """mean(a − b) and its MCSE sd(a − b)/√R over paired replicates."""
    diff = a - b
    n = diff.size
    if n < 3:
        return math.nan, math.nan, n
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n)), n


def _simulate(
    check: Check,
    dd: Mapping[str, tuple[np.ndarray, np.ndarray]],
    est: pd.DataFrame,
    perf_idx: Mapping[tuple[str, str, str], tuple[float, float, int]],
    terms: Sequence[str],
) -> tuple[float, float, int]:
    """Simulated value, MCSE and number of replicates for one check."""
    name, q = check.estimator, check.quantity
    if name not in dd or (check.versus and check.versus not in dd):
        return math.nan, math.nan, 0
    d, use = dd[name]
    if q in ("bias", "coverage"):
        hit = perf_idx.get((name, check.term, q))
        if hit is not None:
            return hit
        j = list(terms).index(check.term)
        if q == "bias":
            x = d[use[:, j], j]
            n = x.size
            return float(x.mean()), float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan, n
        return _coverage(est, name, check.term)
    if q == "variance":
        j = list(terms).index(check.term)
        return _variance(d[:, j], use[:, j])
    d_v, use_v = dd[check.versus]
    if q == "variance_excess":
        j = list(terms).index(check.term)
        pair = use[:, j] & use_v[:, j]
        x, y = d[pair, j], d_v[pair, j]
        n = x.size
        if n < 3:
            return math.nan, math.nan, n
        value, mcse, n = _paired_excess((x - x.mean()) ** 2, (y - y.mean()) ** 2)
        return value * n / (n - 1), mcse * n / (n - 1), n
    if q == "bayes_risk_excess":
        pair = use[:, 1:].all(axis=1) & use_v[:, 1:].all(axis=1)
        a = (d[pair, 1:] ** 2).mean(axis=1)
        b = (d_v[pair, 1:] ** 2).mean(axis=1)
        return _paired_excess(a, b)
    if q == "rel_efficiency":
        pair = use.all(axis=1) & use_v.all(axis=1)
        x, y = d[pair], d_v[pair]
        n = int(pair.sum())
        if n < 3:
            return math.nan, math.nan, n
        a = ((y - y.mean(axis=0)) ** 2).sum(axis=1)  # the comparator (OLS)
        b = ((x - x.mean(axis=0)) ** 2).sum(axis=1)
        ratio = a.mean() / b.mean()
        mcse = math.sqrt(np.var(a - ratio * b, ddof=1) / n) / b.mean()
        return float(ratio), float(mcse), n
    raise ValueError(f"unknown quantity {q!r}")


def compare(
    scenario_id: str,
    checks: Sequence[Check],
    estimates: pd.DataFrame,
    performance: pd.DataFrame | None,
    terms: Sequence[str],
) -> pd.DataFrame:
    """One row per check: simulated ± MCSE against the theoretical value, z and flag.

    ``estimates`` are the scenario's per-replicate estimates (``results/estimates``), and
    ``performance`` its performance rows (bias and coverage are taken from there when present,
    so that they are the report's numbers; otherwise computed the same way from the estimates).
    """
    dd = _errors(estimates, terms)
    perf_idx: dict[tuple[str, str, str], tuple[float, float, int]] = {}
    if performance is not None and len(performance):
        sub = performance[
            (performance["scenario"].astype(str) == scenario_id)
            & performance["measure"].isin(["bias", "coverage"])
        ]
        for r in sub.itertuples(index=False):
            perf_idx[(str(r.estimator), str(r.term), str(r.measure))] = (
                float(r.value),
                float(r.mcse),
                int(r.n_used),
            )
    rows = []
    for c in checks:
        value, mcse, n = _simulate(c, dd, estimates, perf_idx, terms)
        note = c.note
        if c.quantity == "coverage" and not mcse > 0 and n > 0:
            # all or no intervals covered (small R): use the binomial SE at the nominal level
            mcse = math.sqrt(c.theoretical * (1.0 - c.theoretical) / n)
            note = _join(note, "MCSE at the nominal level: the observed coverage is 0 or 1")
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (value - c.theoretical) / mcse if mcse > 0 else math.nan
        if not math.isfinite(z):
            z = math.nan
            note = _join(note, "no usable replicates" if n == 0 else "MCSE not computable")
        if c.relation == ">=":
            flag = bool(z < -Z_FLAG)
        elif c.relation == "<=":
            flag = bool(z > Z_FLAG)
        else:
            flag = bool(abs(z) > Z_FLAG)
        rel = (value - c.theoretical) / abs(c.theoretical) if c.theoretical != 0 else math.nan
        rows.append(
            {
                "scenario": scenario_id,
                "estimator": c.estimator,
                "versus": c.versus,
                "term": c.term,
                "quantity": c.quantity,
                "simulated": value,
                "mcse": mcse,
                "theoretical": c.theoretical,
                "relation": c.relation,
                "z": z,
                "kind": c.kind,
                "flag": flag,
                "rel_diff": rel,
                "n_used": n,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _explain_chance(table: pd.DataFrame) -> pd.DataFrame:
    """Flagged exact rows with no known caveat: say how many such flags chance alone gives."""
    exact = table["kind"] == "exact"
    n_exact = int(exact.sum())
    bare = exact & table["flag"] & ~table["note"].str.contains("fourth moment", regex=False)
    if bare.any():
        note = (
            f"no known cause: of {n_exact} exact rows about {n_exact * P_CHANCE:.1f} exceed "
            f"{Z_FLAG:g} MCSE by chance alone (P(|Z| > {Z_FLAG:g}) = {100 * P_CHANCE:.2f}%); "
            "more replicates would settle it"
        )
        table.loc[bare, "note"] = table.loc[bare, "note"].map(lambda s: _join(s, note))
    return table


def theory_table(
    scenarios: Mapping[str, Mapping[str, Any]],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    estimates: Mapping[str, pd.DataFrame],
    performance: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's theory table and the list of checks that do not apply (with reasons).

    ``scenarios`` maps scenario id → resolved knobs; ``estimates`` maps scenario id → its
    per-replicate estimates. Scenarios without estimates are skipped.
    """
    tables, skipped = [], []
    for sid, knobs in scenarios.items():
        if sid not in estimates:
            continue
        checks, skips = scenario_checks(sid, knobs, seed, estimators, level)
        terms = term_names(len(knobs["coefficients"]))
        if checks:
            tables.append(compare(sid, checks, estimates[sid], performance, terms))
        skipped += [{"scenario": sid, **s} for s in skips]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(COLUMNS))
    table["flag"] = table["flag"].astype(bool)
    table["note"] = table["note"].fillna("").astype(str)
    table = _explain_chance(table)
    return table, pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS))


def outside_the_theorem(
    performance: pd.DataFrame,
    gauss_markov_scenarios: Sequence[str],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str | None,
    term: str,
) -> list[dict[str, Any]]:
    """Where an estimator outside the theorem's class beats OLS in MSE although every
    Gauss–Markov assumption holds: no contradiction, the theorem speaks of *linear unbiased*
    estimators only. Per estimator (non-linear in y, or biased by a penalty), the scenarios where
    its ``rel_mse`` against the OLS reference exceeds 1 by more than ``Z_FLAG`` MCSE."""
    from lossstudy.answer import format_pm

    if reference is None or estimators.get(reference, {}).get("method") != "ols":
        return []
    perf = performance[
        (performance["measure"] == "rel_mse")
        & (performance["term"].astype(str) == term)
        & performance["scenario"].astype(str).isin(list(gauss_markov_scenarios))
    ]
    out = []
    for name, spec in estimators.items():
        method = spec["method"]
        if method in ("lad", "huber"):
            why = "not linear in y"
        elif method == "ridge" and float(spec.get("penalty", 1.0)) > 0:
            why = "biased by its penalty"
        else:
            continue
        cases = []
        for r in perf[perf["estimator"].astype(str) == name].itertuples(index=False):
            defined = str(r.defined).strip().lower() in ("true", "1")
            value, mcse = float(r.value), float(r.mcse)
            if defined and mcse > 0 and (value - 1.0) / mcse > Z_FLAG:
                cases.append({"scenario": str(r.scenario), "text": format_pm(value, mcse)})
        if cases:
            out.append({"estimator": name, "method": method, "why": why, "cases": cases})
    return out


def write_theory(
    scenarios: Mapping[str, Mapping[str, Any]],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    estimate_files: Mapping[str, str | Path],
    performance_csv: str | Path | None,
    out_csv: str | Path,
    out_skipped: str | Path,
) -> None:
    """Read every scenario's estimates and the performance table; write theory.csv and the
    checks that do not apply."""
    estimates = {sid: pd.read_parquet(path) for sid, path in estimate_files.items()}
    perf = None
    if performance_csv is not None:
        perf = pd.read_csv(performance_csv, keep_default_na=False, na_values=[""])
    table, skipped = theory_table(scenarios, seed, estimators, level, estimates, perf)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out_skipped) as tmp:
        skipped.to_csv(tmp, index=False)
    log.info(
        "theory: %d rows (%d exact, %d asymptotic, %d ordering), %d flagged; %d checks skipped",
        len(table),
        int((table["kind"] == "exact").sum()),
        int((table["kind"] == "asymptotic").sum()),
        int((table["kind"] == "ordering").sum()),
        int(table["flag"].sum()),
        len(skipped),
    )
