"""Why L2? One row per reason usually given for it, judged by this study's evidence.

Why a module of its own: the front page must answer the question as asked ("why is L2 the
default?") before it says where L2 loses, and each answer must be a row of data first (reason,
verdict, one number with its uncertainty, the section holding the evidence, and the file and
row the number comes from) so that a sentence cannot claim more than its row. The rows are
derived from files the workflow already wrote (``claims.csv``, ``optima.csv``,
``crossovers.csv``, ``scoreboard.csv``) and from the training section's divergence verdict
(:func:`lossstudy.trained.divergence_verdict`); a reason no part of the study tests yet says so
and carries no verdict.

Config keys and member ids (``errors.df``, ``ridge-penalty10``) appear only in the ``source``
column, never in ``reason`` or ``text``: a reader meets the answer before the design.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from lossstudy.mcse import format_pm
from lossstudy.sweeps.flip import VERSUS
from lossstudy.trained import loss_name, share_text

__all__ = [
    "KNOB_WORDS",
    "L2_METHODS",
    "NOT_YET",
    "REASON_COLUMNS",
    "VERDICTS",
    "WRONG_COLUMNS",
    "estimator_words",
    "reason_rows",
    "wrong_choice_rows",
]

REASON_COLUMNS = ("key", "reason", "verdict", "number", "uncertainty", "text", "link", "source")
#: the verdicts a reason can get; ``not yet tested`` rows carry no number and no verdict
VERDICTS = ("held", "held with a caveat", "does not hold")
NOT_YET = "not yet tested"
#: methods whose loss is the squared error (the L2 family of the question)
L2_METHODS = frozenset({"ols", "wls", "ridge"})

_WORSE = {"worse": "less efficient", "better": "more efficient", "tie": "a tie"}
GAUSS_MARKOV_SECTION = "All Gauss–Markov assumptions hold, normal errors"

_METHOD_WORDS = {
    "ols": "ordinary least squares",
    "wls": "weighted least squares",
    "lad": "least absolute deviations",
    "huber": "Huber's loss",
    "ridge": "ridge (least squares with an L2 penalty)",
}

#: knob -> (what grows along the sweep, in words; how its crossing value is written)
KNOB_WORDS: dict[str, tuple[str, str]] = {
    "errors.df": ("t-distributed errors of {side} about {x} degrees of freedom", "g"),
    "errors.fraction": ("{side} about {x} of the errors drawn from a much wider law", "%"),
    "errors.sigma": ("log-normal errors whose log-scale spread is {side} about {x}", "g"),
    "heteroskedasticity.strength": (
        "an error spread growing with the regressor at a strength {side} about {x}",
        "g",
    ),
    "autocorrelation.phi": ("errors autocorrelated with φ {side} about {x}", "g"),
    "endogeneity.correlation": (
        "a regressor whose correlation with the error is {side} about {x}",
        "g",
    ),
    "misspecification.strength": ("a curved mean whose strength is {side} about {x}", "g"),
    "design.correlation": ("regressors whose correlation is {side} about {x}", "g"),
    "design.leverage.fraction": ("{side} about {x} of the rows far out in x", "%"),
}

#: (knob, side) -> words for the side on which the challenger wins (default: above / below)
_SIDE = {
    ("errors.df", "below"): "fewer than",
    ("errors.df", "above"): "more than",
    ("errors.fraction", "above"): "more than",
    ("design.leverage.fraction", "above"): "more than",
}


def estimator_words(name: str, role: Mapping[str, Any]) -> str:
    """An estimator in plain words (``least absolute deviations``), never its member id."""
    method = str(role.get("method", ""))
    words = _METHOD_WORDS.get(method, method or name)
    if method == "ridge" and role.get("penalty") is not None:
        words = f"ridge with penalty λ = {float(role['penalty']):g}"
    return words


def _num(x: Any) -> float:
    try:
        out = float(x)
    except (TypeError, ValueError):
        return math.nan
    return out


def _g(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else "?"


def _row(**kw: Any) -> dict[str, Any]:
    return {c: kw.get(c, "") for c in REASON_COLUMNS}


def _training_row(verdict: Mapping[str, Any] | None) -> dict[str, Any]:
    """(a) "it is differentiable, so it trains stably": squared-loss gradient descent past
    its exact stability limit, against the losses whose gradient is bounded."""
    reason = "It is differentiable, so gradient training is stable"
    if not verdict:
        return _row(
            key="training",
            reason=reason,
            verdict=NOT_YET,
            link="training",
            text="No gradient-descent fit was swept over the step size in this run.",
        )
    diverging, stable = list(verdict["diverging"]), list(verdict["stable"])
    past, below = verdict.get("past"), verdict.get("below") or {}
    names = [html.escape(loss_name(x)) for x in stable]
    if "squared" not in diverging:
        top = verdict["max_c"].get("squared", math.nan)
        return _row(
            key="training",
            reason=reason,
            verdict="held",
            link="training",
            number=f"0 of {verdict['fits'].get('squared', 0):,} fits diverged",
            text=f"No squared-loss fit diverged at any step up to {top:g} times its limit.",
            source="divergence rows of performance.csv (GD members)",
        )
    safe = below.get("loss") == "squared" and below.get("high", 1.0) == 0
    text = "Squared-loss gradient descent is stable only below its step-size limit"
    if past and past["loss"] == "squared":
        text += (
            f": just past it (c = {past['c']:g}) "
            f"{share_text(past['low'], past['high'], past['mcse'])} of fits diverge"
        )
    if safe:
        text += f", none at c = {below['c']:g}"
    refuted = bool(names) and "absolute" in stable
    if refuted:
        text += (
            f"; the {' and '.join(names)} loss{'es' if len(names) > 1 else ''} never diverged, "
            "and the absolute loss is not differentiable: a bounded gradient, not "
            "differentiability, is what keeps training stable. What differentiability does buy "
            "is convergence to the exact fit: constant-step gradient descent on the absolute "
            "loss stalls at a distance from it"
        )
    number = uncertainty = ""
    if past and past["loss"] == "squared":
        low, high = (f"{100 * past[k]:.3g}" for k in ("low", "high"))
        share = high if low == high else f"{low}–{high}"
        number = f"{share}% of fits diverge at c = {past['c']:g}"
        uncertainty = f"MCSE ≤ {100 * past['mcse']:.2g} points"
    return _row(
        key="training",
        reason=reason,
        verdict="held with a caveat" if safe and not refuted else "does not hold",
        number=number,
        uncertainty=uncertainty,
        text=text + ".",
        link="training",
        source="divergence rows of performance.csv (GD members); trained.divergence_verdict",
    )


def _blue_row(claims: pd.DataFrame, roles: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """(b) "OLS is BLUE": the Gauss–Markov claim's relative efficiencies, the other linear
    unbiased estimator first (the theorem's class), the non-linear ones as context."""
    reason = "Least squares is the best linear unbiased estimator (Gauss–Markov)"
    rows = claims[(claims["section"] == GAUSS_MARKOV_SECTION)]
    rows = rows[rows["measure"] == "rel_efficiency"]
    if rows.empty:
        return _row(
            key="blue",
            reason=reason,
            verdict=NOT_YET,
            link="claims",
            text="No cell of this run has every Gauss–Markov assumption and normal errors.",
        )
    rows = rows[rows["claim"] == rows["claim"].iloc[0]]
    linear = rows[rows["estimator"].map(lambda e: bool(roles.get(e, {}).get("linear")))]
    other = rows[~rows.index.isin(linear.index)]
    verdicts = set(rows["verdict"])
    if "better" in verdicts:
        verdict = "does not hold"
    elif "tie" in set(linear["verdict"]):
        verdict = "held with a caveat"
    else:
        verdict = "held"
    lead = linear.iloc[0] if len(linear) else rows.iloc[0]
    e = str(lead["estimator"])
    theory = _num(lead["theory"])
    value, _, mcse = format_pm(_num(lead["value"]), _num(lead["mcse"])).partition(" ± ")
    number = f"{estimator_words(e, roles.get(e, {}))}: relative efficiency {value}"
    unc = f"± {mcse} MCSE" + (f"; theory exactly {theory:.4g}" if math.isfinite(theory) else "")
    parts = [
        f"{estimator_words(str(r.estimator), roles.get(str(r.estimator), {}))} "
        f"{format_pm(_num(r.value), _num(r.mcse))} ({_WORSE.get(str(r.verdict), r.verdict)})"
        for r in other.itertuples(index=False)
    ]
    scen = str(lead["scenario"])
    n = re.search(r"n(\d+)$", scen)
    text = (
        "With every assumption holding and normal errors"
        + (f" (n = {n.group(1)})" if n else "")
        + ", the other linear unbiased estimator is less efficient than least squares"
    )
    if parts:
        text += "; so are the non-linear ones: " + ", ".join(parts)
    if verdict == "does not hold":
        text = "Some unbiased estimator is more efficient than least squares here"
    return _row(
        key="blue",
        reason=reason,
        verdict=verdict,
        number=number,
        uncertainty=unc,
        text=text + ". Relative efficiency = variance of least squares / variance of the other.",
        link=f"claim-{int(lead['claim'])}",
        source=f"claims.csv, claim {int(lead['claim'])} ({scen})",
    )


#: Said until the run sweeps a prior's sparsity with a lasso beside ridge at σ²/τ²
#: (``crossovers.csv`` rows of :mod:`lossstudy.sweeps.flip`).
PRIOR_SHAPE_SLOT = "where a sparser prior makes the L1 penalty overtake it is not yet tested"


def _prior_shape(crossovers: pd.DataFrame | None) -> str:
    """Where the L1 penalty overtakes the L2 penalty at its best λ along a prior sweep: the
    earliest crossing at the largest n, with its interval (the flip rows of crossovers.csv)."""
    if crossovers is None or crossovers.empty or "versus" not in crossovers.columns:
        return PRIOR_SHAPE_SLOT
    flips = crossovers[crossovers["versus"].astype(str) == VERSUS].copy()
    if flips.empty:
        return PRIOR_SHAPE_SLOT
    flips["_x"] = pd.to_numeric(flips["crossing"], errors="coerce")
    flips["_n"] = pd.to_numeric(
        flips["fixed"].astype(str).str.extract(r"n=(\d+)")[0], errors="coerce"
    )
    flips = flips.dropna(subset=["_x"])
    if flips.empty:
        return "along the prior sweep the lasso never overtakes ridge at its best λ"
    top = flips[flips["_n"] == flips["_n"].max()] if flips["_n"].notna().any() else flips
    r = top.sort_values("_x", kind="stable").iloc[0]
    knob = str(r["knob"]).removeprefix("prior.")
    what = "share of zero slopes" if knob == "sparsity" else f"prior {knob}"
    n = f"n = {int(r['_n'])}, " if math.isfinite(r["_n"]) else ""
    return (
        f"the lasso ({r['estimator']}) overtakes ridge at its best λ (σ²/τ²) once the {what} "
        f"exceeds {_g(r['_x'])} ({n}95% interval {_g(_num(r['ci_low']))}–"
        f"{_g(_num(r['ci_high']))}); under the Gaussian prior it never does"
    )


def _posterior_words(posterior: Mapping[str, Any]) -> tuple[str, bool]:
    """The sentence on the posterior's credible intervals, and whether their coverage held."""
    level = float(posterior["level"])
    known = "with σ² known and integrated out" if posterior.get("plug_in") else "with σ² known"
    words = (
        f"{100 * level:g}% credible intervals ({known}) covered {100 * posterior['mean']:.1f}% "
        f"of the slopes on average over {posterior['rows']} rows"
    )
    if posterior["holds"]:
        words += (
            f", each within 3 MCSE of {100 * level:g}% (largest |z| {posterior['max_abs_z']:.1f})"
        )
    else:
        words += (
            f", but not all within 3 MCSE of {100 * level:g}% (largest |z| "
            f"{posterior['max_abs_z']:.1f}: {posterior['worst']})"
        )
    return words, bool(posterior["holds"])


def _prior_row(
    optima: pd.DataFrame | None,
    posterior: Mapping[str, Any] | None = None,
    crossovers: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """(c) "the L2 penalty is a Gaussian prior": the penalty with the lowest MSE against the
    Bayes rule σ²/τ², and the coverage of the posterior's credible intervals over a matching
    prior (:func:`lossstudy.report.prior_section.coverage_summary`). Held when both agree with
    theory; with a caveat when only one part is in the run or the optimum's interval misses
    the Bayes rule; does not hold when the intervals miscover."""
    reason = "The L2 penalty is a Gaussian prior, and the posterior is Gaussian"
    post = dict(posterior or {})
    bayes = pd.DataFrame()
    if optima is not None and len(optima):
        found = optima["note"].astype(str).str.extract(r"Bayes rule σ²/τ² = ([0-9.e+-]+)")[0]
        bayes = optima.assign(_bayes=pd.to_numeric(found, errors="coerce")).dropna(
            subset=["_bayes"]
        )
    if bayes.empty and not post:
        later = "not yet tested: no penalty sweep or posterior interval under a Gaussian prior"
        return _row(
            key="prior", reason=reason, verdict=NOT_YET, link="claims", text=f"{later} in this run."
        )
    parts, fine, number, uncertainty, source, link = [], [], "", "", [], "prior"
    if not bayes.empty:
        n = bayes["fixed"].astype(str).str.extract(r"n=(\d+)")[0].astype(float)
        r = bayes[n == n.max()].iloc[0] if n.notna().any() else bayes.iloc[0]
        lo, hi, best, rule = (_num(r["ci_low"]), _num(r["ci_high"]), _num(r["argmin"]), r["_bayes"])
        covered = lo <= rule <= hi
        text = (
            f"Under a Gaussian prior on the coefficients, the penalty with the lowest MSE is "
            f"{_g(best)} ({_g(lo)}–{_g(hi)}), where the Bayes rule σ²/τ² puts it at {rule:g}"
        )
        parts.append(text + ("" if covered else "; the interval misses it"))
        fine.append(covered)
        number = f"best penalty {_g(best)} (Bayes rule {rule:g})"
        uncertainty = f"95% interval {_g(lo)}–{_g(hi)}"
        source.append(f"optima.csv, {r['cell']} ({r['estimator']}, {r['parameter']})")
        link = f"fig-optimum_{r['estimator']}"
    if post:
        words, held = _posterior_words(post)
        parts.append(("and ridge's " if parts else "Under a Gaussian prior, ridge's ") + words)
        fine.append(held)
        number = f"coverage {100 * post['mean']:.1f}% (nominal {100 * float(post['level']):g}%)"
        uncertainty = (
            f"MCSE ≈ {100 * post['mcse']:.1f}% per row; largest |z| {post['max_abs_z']:.1f}"
        )
        source.append("theory.csv, coverage of the se: posterior members")
        link = "prior"
    if post and not fine[-1]:
        verdict = "does not hold"
    elif all(fine) and len(fine) == 2:
        verdict = "held"
    else:
        verdict = "held with a caveat"
    if not post:
        parts.append("the posterior's intervals are not in this run")
    return _row(
        key="prior",
        reason=reason,
        verdict=verdict,
        number=number,
        uncertainty=uncertainty,
        text="; ".join(parts) + f". The prior's shape matters too: {_prior_shape(crossovers)}.",
        link=link,
        source="; ".join(source),
    )


def _networks_row(network: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """(d) "it is what neural networks use": the network part's verdict rows
    (:func:`lossstudy.report.network_section.network_verdicts`, at the largest n). Held when
    the L2-trained network is never beaten; with a caveat when it ties under light tails but
    loses under heavy ones; does not hold when it loses under light tails too."""
    reason = "It is what neural networks are trained with"
    if not network or not (network.get("light") or network.get("heavy")):
        return _row(
            key="networks",
            reason=reason,
            verdict=NOT_YET,
            text="Not yet tested: no network is trained in this run.",
            link="training",
        )
    light, heavy = list(network.get("light", [])), list(network.get("heavy", []))
    loses_light = any(v["verdict"] == "L2 loses" for v in light)
    loses_heavy = any(v["verdict"] == "L2 loses" for v in heavy)
    verdict = "does not hold" if loses_light else ("held with a caveat" if loses_heavy else "held")
    # the number: the largest ratio among the rows that carry the verdict (a tie that is not
    # the verdict's evidence is not shown as its number)
    losing = [v for v in (light if loses_light else heavy) if v["verdict"] == "L2 loses"]
    pool = losing or heavy or light
    lead = max(pool, key=lambda v: v["ratio"] if math.isfinite(v["ratio"]) else 0)
    number = f"ISE ratio L2 / {lead['best']} {lead['ratio']:.3g}"
    test = (
        f"worse in {lead['worse']} of {lead['pairs']} replicates, sign test p = "
        f"{lead['sign_p']:.1g}"
        if lead.get("test") == "sign"
        else f"z = {lead['z']:.1f}"
    )
    mean = f"{lead['function']} mean, " if lead.get("function") else ""
    uncertainty = f"{test}, {mean}{lead['errors']} errors, n = {lead['n']}"
    return _row(
        key="networks",
        reason=reason,
        verdict=verdict,
        number=number,
        uncertainty=uncertainty,
        text=(network.get("front") or ". ".join(network.get("sentences", []))) + ".",
        link="networks",
        source="performance.csv, ise of the network members (term model)",
    )


def reason_rows(
    claims: pd.DataFrame,
    optima: pd.DataFrame | None,
    training_verdict: Mapping[str, Any] | None,
    roles: Mapping[str, Mapping[str, Any]],
    posterior: Mapping[str, Any] | None = None,
    crossovers: pd.DataFrame | None = None,
    network: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The four reasons, one row each (:data:`REASON_COLUMNS`), in the order a reader asks;
    ``posterior``: the coverage summary of ridge's posterior intervals (may be empty);
    ``crossovers``: crossovers.csv, whose prior-sweep rows say where the L1 penalty wins;
    ``network``: the network section's summary (None: no network trained)."""
    rows = [
        _training_row(training_verdict),
        _blue_row(claims, roles),
        _prior_row(optima, posterior, crossovers),
        _networks_row(network),
    ]
    for r in rows:  # a reason nothing tests yet has no number
        if r["verdict"] == NOT_YET:
            r["number"] = r["uncertainty"] = ""
    return pd.DataFrame(rows, columns=list(REASON_COLUMNS))


WRONG_COLUMNS = ("key", "text", "number", "theory", "link", "source")


def _shown(knob: str, x: float, digits: int = 2) -> str:
    """A knob value in the unit the sentence uses (a percentage for a fraction)."""
    if not math.isfinite(x):
        return "?"
    if KNOB_WORDS.get(knob, ("", "g"))[1] == "%":
        return f"{100 * x:.{digits}g}%"
    return f"{x:.{digits}g}"


def _knob_text(knob: str, better: str, x: float) -> str:
    words, _ = KNOB_WORDS.get(knob, ("", "g"))
    side = _SIDE.get((knob, better), better)
    shown = _shown(knob, x)
    if not words:
        return f"once the departure from the ideal reaches about {shown}"
    return "with " + words.format(side=side, x=shown)


def _kind(row: Any) -> str:
    """exact or asymptotic: ``theory_kind`` of crossovers.csv (older files: from the note)."""
    kind = getattr(row, "theory_kind", "")
    if isinstance(kind, str) and kind:
        return kind
    note = getattr(row, "note", "")
    return "asymptotic" if isinstance(note, str) and "asymptotic" in note else "exact"


def _theory_words(row: Any, value: str) -> str:
    """Theory beside a crossing by its kind: asymptotic theory is a limit the finite-n crossing
    need not reach; exact theory outside the interval is called a disagreement."""
    if _kind(row) == "asymptotic":
        return f"; asymptotic theory: {value}"
    if str(getattr(row, "agreement", "")) == "disagrees":
        return f"; disagrees with exact theory: {value}"
    return f"; exact theory: {value}"


def wrong_choice_rows(
    cross: pd.DataFrame | None,
    roles: Mapping[str, Mapping[str, Any]],
    reference: str,
) -> pd.DataFrame:
    """ "When is L2 the wrong choice?": per sweep, each estimator with another loss that beats
    the reference on MSE past a crossing at the largest n, in words, with its 95% interval and
    theory (asymptotic theory called asymptotic). One row per crossing, config keys and member
    ids only in ``source``."""
    out: list[dict[str, Any]] = []
    if cross is None or cross.empty:
        return pd.DataFrame(out, columns=list(WRONG_COLUMNS))
    sub = cross[(cross["measure"] == "rel_mse") & (cross["versus"].astype(str) == reference)]
    sub = sub[pd.to_numeric(sub["crossing"], errors="coerce").notna()]
    sub = sub.assign(nval=sub["fixed"].astype(str).str.extract(r"n=(\d+)")[0].astype(float))
    for (scen, knob), grp in sub.groupby(["scenario", "knob"], sort=False):
        grp = grp[grp["nval"] == grp["nval"].max()]
        for r in grp.itertuples(index=False):
            role = roles.get(str(r.estimator), {})
            if str(role.get("method")) in L2_METHODS:
                continue
            x, lo, hi, th = (_num(r.crossing), _num(r.ci_low), _num(r.ci_high), _num(r.theory))
            k = str(knob)
            theory = _theory_words(r, _shown(k, th, 3)) if math.isfinite(th) else ""
            n = f"n = {int(r.nval)}" if math.isfinite(r.nval) else ""
            finite = "finite-n " if _kind(r) == "asymptotic" else ""
            text = (
                f"{_knob_text(str(knob), str(r.better), x)}, "
                f"{estimator_words(str(r.estimator), role)} has a lower MSE than least squares "
                f"({n}; {finite}95% interval {_shown(k, lo, 3)}–{_shown(k, hi, 3)}{theory})."
            )
            out.append(
                {
                    "key": f"{scen}:{r.estimator}",
                    "text": text[0].upper() + text[1:],
                    "number": x,
                    "theory": th,
                    "link": f"fig-sweep_{scen}",
                    "source": f"crossovers.csv: {scen}, {knob}, {r.estimator} vs {reference}, "
                    f"{r.fixed}",
                }
            )
    return pd.DataFrame(out, columns=list(WRONG_COLUMNS))
