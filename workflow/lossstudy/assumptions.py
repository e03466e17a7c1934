"""Which Gauss–Markov assumptions a scenario meets, derived from its knobs (never typed by hand).

The Gauss–Markov theorem needs: a model linear in β (linearity), E[e | X] = 0 (exogeneity),
X of full column rank (full rank), Var(e_i | X) = σ² < ∞ (homoskedasticity), and
Cov(e_i, e_j | X) = 0 for i ≠ j (no autocorrelation). Normality is *not* among them; it is
reported separately because it decides whether OLS is also best among non-linear estimators.
"""

from __future__ import annotations

from typing import Any

from lossstudy.dgp import leverage_rows
from lossstudy.errorlaws import error_moments, is_normal, note
from lossstudy.responses import function_name, is_linear

GAUSS_MARKOV = ("linearity", "exogeneity", "full_rank", "homoskedasticity", "no_autocorrelation")


def assumptions(knobs: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """Map each assumption (plus ``normal_errors``) to (holds, reason)."""
    mom = error_moments(knobs["errors"])
    lev = knobs["design"]["leverage"]
    bad_leverage = leverage_rows(knobs) > 0 and not lev["follows_model"]
    endo = knobs["endogeneity"]["correlation"]
    mis = knobs["misspecification"]["strength"]
    het = knobs["heteroskedasticity"]["strength"]
    phi = knobs["autocorrelation"]["phi"]
    rho = knobs["design"]["correlation"]
    dist = knobs["errors"]["distribution"]

    out: dict[str, tuple[bool, str]] = {}
    out["linearity"] = (
        (False, f"omitted {knobs['misspecification']['form']} term (strength {mis})")
        if mis != 0
        else (True, "")
    )
    if not is_linear(knobs):
        out["linearity"] = (False, f"nonlinear mean: {function_name(knobs)}")
    if endo != 0:
        out["exogeneity"] = (False, f"corr(x{knobs['endogeneity']['predictor']}, e) = {endo}")
    elif bad_leverage:
        out["exogeneity"] = (False, "leverage rows: observed x differs from the x generating y")
    elif not mom.mean_finite:
        out["exogeneity"] = (False, f"{dist} errors have no mean")
    else:
        out["exogeneity"] = (True, "")
    out["full_rank"] = (
        (False, "predictors perfectly correlated (correlation = 1)")
        if rho >= 1.0
        else (True, f"near-collinear (correlation {rho})" if rho >= 0.9 else "")
    )
    if not mom.var_finite:
        out["homoskedasticity"] = (False, f"{dist} errors have infinite variance")
    elif het > 0:
        out["homoskedasticity"] = (
            False,
            f"Var(e|x) = σ²(1 + {het}·x{knobs['heteroskedasticity']['predictor']}²)",
        )
    else:
        out["homoskedasticity"] = (True, "")
    out["no_autocorrelation"] = (False, f"AR(1) errors, phi = {phi}") if phi != 0 else (True, "")
    # the reason of a law that is normal by a limit says so ("t with df = ∞ is ... N(0, scale²)")
    out["normal_errors"] = (
        (True, note(knobs["errors"]))
        if is_normal(knobs["errors"]) and het == 0 and endo == 0 and not bad_leverage
        else (False, dist)
    )
    return out


def gauss_markov_holds(knobs: dict[str, Any]) -> bool:
    """True when every Gauss–Markov assumption holds, i.e. OLS is BLUE."""
    flags = assumptions(knobs)
    return all(flags[a][0] for a in GAUSS_MARKOV)
