"""Asymptotic theory: the relative efficiency of LAD and Huber against OLS.

Why a module of its own: these checks need the whole error distribution (density, distribution
function, the limit of RLM's MAD scale), not only its first two moments as the exact ones do, and
they hold only as n → ∞, so the simulated value may differ beyond Monte Carlo error at finite n.
ARE_LAD = 4 f(0)² Var(e); ARE_Huber = Var(e) / (s² E[ψ_k(e/s)²] / P(|e| ≤ k s)²) with s the
limit of RLM's MAD scale (not the SD), pooled over all coefficients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lossstudy.errorlaws import density, error_moments

from .checks import HEAVY_TAILS_NOTE, Check, Setting, _full_rank, _join

#: Φ⁻¹(3/4): statsmodels' MAD constant (RLM's scale is median|r| / MAD_C).
MAD_C = 0.6744897501960817


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
    mom = error_moments(errors)
    var = mom.sd**2 if mom.var_finite else math.inf
    pdf, cdf = density(errors)
    return ErrorLaw(str(errors["distribution"]), var, pdf, cdf, mom.symmetric, mom.median)


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


def efficiency_checks(s: Setting) -> None:
    """ARE of each LAD and Huber estimator vs the study's OLS, where the errors are iid and
    symmetric with finite variance around a linear mean (else skipped, with the reason)."""
    estimators, knobs, errors, groups = s.estimators, s.knobs, s.errors, s.groups
    mom, dist, n, p, heavy, checks, skip = s.mom, s.dist, s.n, s.p, s.heavy, s.checks, s.skip
    unbiased, why_biased, homoskedastic = s.unbiased, s.why_biased, s.homoskedastic
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


def _are_caveat(dist: str, method: str) -> str:
    if dist == "laplace" and method == "lad":
        return (
            "LAD under Laplace errors approaches its limit slowly, O(n^−1/2), because of the cusp "
            "of the density at 0: expect the simulated efficiency clearly below 2 (≈ 1.8 at "
            "n = 1000, p = 5)"
        )
    return ""
