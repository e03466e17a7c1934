"""Coverage of ridge's posterior intervals (``se: posterior``): exact, over the prior.

Why: "the L2 penalty is a Gaussian prior and the posterior is Gaussian" has a sharp consequence
the study can test. With slopes ~ N(0, τ²), normal homoskedastic errors and λ = σ²/τ², the
credible interval is an exact Bayesian statement, so averaged over the prior it covers at the
nominal level at every n: with σ known, and with σ² integrated out too (S/σ² ~ χ²_ν independently
of b − b_λ, :mod:`lossstudy.posterior`). Beyond that premise, on a fixed design with normal
errors and σ known, d = b_λ − β is normal with the exact mean m and variance v of
:func:`.exact.linear_moments` (over the prior, if any), so the coverage of b_λ ± z σ √[A⁻¹]_jj is
Φ((h − m)/√v) − Φ((−h − m)/√v) with h = z σ √[A⁻¹]_jj: below nominal when λ is larger than
σ²/τ² (a prior narrower than the truth), above it when smaller, exactly nominal again at λ = 0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from lossstudy import methods
from lossstudy.posterior import posterior_scale
from lossstudy.quantiles import norm_ppf

from .checks import Check, Setting, _full_rank, is_trained
from .exact import linear_dgp, linear_map, linear_moments

#: The prior matches when λ τ² is within this relative tolerance of σ² (as the Bayes ridge).
MATCH_RTOL = 1e-6


def is_posterior(spec: dict) -> bool:
    """A ridge member with ``se: posterior``."""
    if is_trained(spec):
        return False
    try:
        r = methods.resolve(spec)
    except methods.SpecError:
        return False
    return r.fit.key == ("squared", "l2", "exact") and r.se == "posterior"


def _matching(s: Setting, lam: float, sigma: float | None) -> str:
    """Why the prior does not match the scenario's ("" if it does)."""
    if s.tau <= 0:
        return "fixed slopes, no prior to average over"
    if not (s.unbiased and s.homoskedastic):
        return "the model is not the scenario's (biased or heteroskedastic)"
    true = s.mom.sd
    if not math.isclose(lam * s.tau**2, true**2, rel_tol=MATCH_RTOL):
        return f"λ = {lam:g} is not σ²/τ² = {true**2 / s.tau**2:.4g}"
    if sigma is not None and not math.isclose(sigma, true, rel_tol=MATCH_RTOL):
        return f"the known σ = {sigma:g} is not the errors' SD {true:.4g}"
    return ""


def posterior_coverage(s: Setting, spec: dict, lam: float, sigma: float) -> tuple[np.ndarray, str]:
    """Exact coverage per coefficient of a known-σ posterior interval on a fixed design with
    normal errors, or (empty, reason)."""
    dgp, why = linear_dgp(s.knobs, s.seed, s.scenario_id)
    if dgp is None:
        return np.empty(0), why
    M, why = linear_map({"method": "ridge", "penalty": lam}, dgp.X)
    if M is None:
        return np.empty(0), why
    mean, cov = linear_moments(M, dgp)
    half = float(norm_ppf(0.5 + s.level / 2)) * sigma * posterior_scale(dgp.X, lam)
    sd = np.sqrt(np.diag(cov))
    return ndtr((half - mean) / sd) - ndtr((-half - mean) / sd), ""


def posterior_checks(s: Setting) -> None:
    """Coverage of each ``se: posterior`` member where theory gives it exactly."""
    for name, spec in s.estimators.items():
        if not is_posterior(spec):
            continue
        r = methods.resolve(spec)
        lam, sigma = float(r.params["penalty"]), r.params.get("sigma")
        if not s.normal:
            s.skip("posterior coverage", f"{s.dist} errors: the posterior is not Gaussian", name)
            continue
        if lam == 0 and not _full_rank(s.knobs):
            s.skip("posterior coverage", "rank-deficient design and λ = 0: the fit fails", name)
            continue
        mismatch = _matching(s, lam, sigma)
        if sigma is not None and s.fixed:
            cover, why = posterior_coverage(s, spec, lam, float(sigma))
            if not cover.size:
                s.skip("posterior coverage", why, name)
                continue
            note = (
                "the prior matches (λ = σ²/τ², σ known): the nominal level, exactly"
                if not mismatch
                else f"exact over the errors (and the prior) on the fixed design; {mismatch}"
            )
            for t, c in zip(s.terms, cover, strict=True):
                s.checks.append(Check(name, t, "coverage", float(c), "=", "exact", note))
            continue
        plain_ols = lam == 0 and sigma is None and s.unbiased and s.homoskedastic
        if mismatch and not plain_ols:
            s.skip(
                "posterior coverage",
                f"exact only under the matching prior or a known σ on a fixed design: {mismatch}",
                name,
            )
            continue
        note = (
            "λ = 0, σ² integrated out: the classical OLS t interval, exact for every β"
            if plain_ols and mismatch
            else "the prior matches (λ = σ²/τ²): the nominal level, exactly"
            + ("" if sigma is not None else ", with σ² integrated out too (t, n − 1 df)")
        )
        for t in s.terms:
            s.checks.append(Check(name, t, "coverage", float(s.level), "=", "exact", note))
