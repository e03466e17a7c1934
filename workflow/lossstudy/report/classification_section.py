"""The section "Classification: why cross-entropy, not L2?", and its front-page sentence.

Why: the question's L2 is the regression default; a classifier's default is cross-entropy.
The section answers from the rows the workflow wrote for the scenarios with a ``bernoulli``
response (``scenarios.csv`` column ``response.family``): per cell and fit, the classifier's
scores on fresh data (misclassification rate, log loss, Brier score), the focus slope's MSE and
efficiency against the MLE (the scenario's reference), and, per trajectory of a trained fit,
the steps it took to reach its exact minimiser within Monte Carlo error. Each statement is a
row (numbers and verdict) before it is a sentence (:func:`convergence_rows`,
:func:`verdict_row`).

"Within Monte Carlo error" of a trajectory at checkpoint K: its ``opt_error``
(√mean‖β_K − β̂‖², β̂ its loss's exact minimiser on the same data) is at most the MLE's own
Monte Carlo error, √(Σⱼ EmpSEⱼ²/R) over the coefficients: from there on, training longer
cannot change any comparison the study makes by more than its noise.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from lossstudy.mcse import format_pm

__all__ = [
    "classification_section",
    "convergence_rows",
    "misspecified_rows",
    "misspecified_sentence",
    "verdict_row",
]

SCORES = (
    ("test_error", "misclassification"),
    ("test_log_loss", "log loss"),
    ("test_brier", "Brier score"),
)
LOSS_WORDS = {"cross_entropy": "cross-entropy", "brier": "Brier (L2 on σ)"}
CONVERGENCE_COLUMNS = (
    "scenario",
    "n",
    "logit",
    "family",
    "loss",
    "solver",
    "init",
    "tolerance",
    "steps",
    "reached",
    "last_steps",
    "last_opt_error",
)


def _bernoulli_cells(scen: pd.DataFrame) -> pd.DataFrame:
    """The scenarios.csv rows with a bernoulli response, with their ``logit``: ``linear``
    (x'β) or the name of the nonlinear f (``response.function``)."""
    col = "response.family"
    if col not in scen.columns:
        return scen.iloc[0:0].assign(logit=pd.Series(dtype=str))
    cells = scen[scen[col].astype(str) == "bernoulli"]
    fn = cells.get("response.function", pd.Series(index=cells.index, dtype=object))
    return cells.assign(logit=fn.where(fn.notna(), "linear").astype(str))


def _value(perf: pd.DataFrame, sid: str, est: str, term: str, measure: str) -> tuple[float, float]:
    row = perf[
        (perf["scenario"] == sid)
        & (perf["estimator"] == est)
        & (perf["term"] == term)
        & (perf["measure"] == measure)
    ]
    if row.empty:
        return math.nan, math.nan
    return float(row["value"].iloc[0]), float(row["mcse"].iloc[0])


def _steps(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def convergence_rows(
    perf: pd.DataFrame, scen: pd.DataFrame, members: pd.DataFrame, reference: str
) -> pd.DataFrame:
    """Per bernoulli cell and trajectory (a trained estimator family): the first checkpoint
    whose ``opt_error`` is within the MLE's Monte Carlo error (``steps``; NaN: none), the
    tolerance, and the distance left at the last checkpoint."""
    rows = []
    trained = members[~members["solver"].isin(["exact", ""])]
    for _, cell in _bernoulli_cells(scen).iterrows():
        sid = str(cell["scenario"])
        ref = perf[(perf["scenario"] == sid) & (perf["estimator"] == reference)]
        empse = ref[(ref["measure"] == "empse") & (ref["term"] != "model")]["value"]
        used = ref[ref["measure"] == "failure_rate"]["n_used"]
        if empse.empty or used.empty:
            continue
        R = float(used.iloc[0]) * (
            1.0 - float(ref[ref["measure"] == "failure_rate"]["value"].iloc[0])
        )
        tol = math.sqrt(float((empse.astype(float) ** 2).sum()) / max(R, 1.0))
        for family, grp in trained.groupby("family", sort=False):
            points = []
            for _, m in grp.iterrows():
                k = _steps(m.get("steps"))
                v, _ = _value(perf, sid, str(m["estimator"]), "model", "opt_error")
                if k is not None and math.isfinite(v):
                    points.append((k, v))
            if not points:
                continue
            points.sort()
            reached = next((k for k, v in points if v <= tol), None)
            first = grp.iloc[0]
            rows.append(
                {
                    "scenario": sid,
                    "n": int(cell["n"]),
                    "logit": cell["logit"],
                    "family": str(family),
                    "loss": str(first["loss"]),
                    "solver": str(first["solver"]),
                    "init": str(first.get("init", "") or "zeros"),
                    "tolerance": tol,
                    "steps": math.nan if reached is None else reached,
                    "reached": reached is not None,
                    "last_steps": points[-1][0],
                    "last_opt_error": points[-1][1],
                }
            )
    return pd.DataFrame(rows, columns=list(CONVERGENCE_COLUMNS))


def _brier_exact(members: pd.DataFrame) -> str | None:
    sub = members[(members["loss"] == "brier") & (members["solver"] == "exact")]
    return None if sub.empty else str(sub["estimator"].iloc[0])


def verdict_row(
    perf: pd.DataFrame, conv: pd.DataFrame, members: pd.DataFrame, reference: str, term: str
) -> dict[str, Any] | None:
    """The front page's claim at the largest n of a linear logit (where both losses target the
    true β): GD from the saturated start, cross-entropy against Brier (steps to the exact
    minimiser, test error at the last checkpoint), and the MLE's efficiency against the exact
    Brier fit. None without both trajectories."""
    gd = (conv["init"] == "saturated") & (conv["solver"] == "gd")
    sat = conv[gd & (conv["logit"] == "linear")]
    if sat.empty:
        return None
    n = int(sat["n"].max())
    at = sat[sat["n"] == n]
    ce, br = at[at["loss"] == "cross_entropy"], at[at["loss"] == "brier"]
    if ce.empty or br.empty:
        return None
    ce, br = ce.iloc[0], br.iloc[0]
    sid = str(ce["scenario"])
    last = members.loc[members["family"] == br["family"], "estimator"].iloc[-1]
    ce_last = members.loc[members["family"] == ce["family"], "estimator"].iloc[-1]
    err_br = _value(perf, sid, str(last), "model", "test_error")
    err_ce = _value(perf, sid, str(ce_last), "model", "test_error")
    brier = _brier_exact(members)
    eff = _value(perf, sid, brier, term, "rel_efficiency") if brier else (math.nan, math.nan)
    holds = bool(ce["reached"]) and (
        not bool(br["reached"]) or float(ce["steps"]) < float(br["steps"])
    )
    return {
        "scenario": sid,
        "n": n,
        "ce_steps": ce["steps"],
        "ce_reached": bool(ce["reached"]),
        "brier_steps": br["steps"],
        "brier_reached": bool(br["reached"]),
        "last_steps": int(br["last_steps"]),
        "brier_opt_error": float(br["last_opt_error"]),
        "tolerance": float(ce["tolerance"]),
        "error_ce": err_ce,
        "error_brier": err_br,
        "efficiency_brier": eff,
        "verdict": "holds" if holds else "does not hold",
    }


def front_sentence(v: dict[str, Any], term: str) -> dict[str, str]:
    """The front page's sentence from :func:`verdict_row`."""
    ce = (
        f"gradient descent on cross-entropy (log loss) reaches the MLE within Monte Carlo error "
        f"within {int(v['ce_steps']):,} steps"
        if v["ce_reached"]
        else "gradient descent on cross-entropy does not reach the MLE in "
        f"{v['last_steps']:,} steps"
    )
    br = (
        f"on the Brier score (L2 on the probability) it takes up to {int(v['brier_steps']):,}"
        if v["brier_reached"]
        else f"on the Brier score (L2 on the probability) it is still "
        f"{v['brier_opt_error']:.3g} from its own minimum after {v['last_steps']:,}"
    )
    text = (
        f"Cross-entropy, not L2, is the default for classification: from a saturated start "
        f"(n = {v['n']}), {ce}; {br}, because its gradient carries σ(1 − σ), which vanishes "
        f"where the fit is confidently wrong (test error {format_pm(*v['error_ce'])} against "
        f"{format_pm(*v['error_brier'])})."
    )
    eff, eff_mcse = v["efficiency_brier"]
    if math.isfinite(eff):
        text += (
            f" Fitted exactly, both target the true probability, but the Brier fit's "
            f"<code>{html.escape(term)}</code> has {format_pm(eff, eff_mcse)} times the MLE's "
            f"precision."
        )
    return {
        "key": "classification",
        "text": text,
        "link": "classification",
        "source": "performance.csv",
    }


MISSPECIFIED_COLUMNS = (
    "scenario",
    "n",
    "logit",
    "bayes_error",
    "score",
    "mle",
    "mle_mcse",
    "brier",
    "brier_mcse",
    "z",
    "better",
)


def misspecified_rows(
    perf: pd.DataFrame, scen: pd.DataFrame, members: pd.DataFrame, reference: str
) -> pd.DataFrame:
    """Per cell with a nonlinear logit and score: the exact MLE against the exact Brier fit
    on fresh data, z of their difference (the two MCSEs combined as independent: the fits
    share datasets, so conservative), which is lower beyond 2 MCSE (``tie`` otherwise), and
    the Bayes error (:func:`lossstudy.responses.bayes_error`) for scale."""
    from lossstudy import responses

    brier = _brier_exact(members)
    rows = []
    for _, cell in _bernoulli_cells(scen).iterrows():
        logit = cell["logit"]
        if logit == "linear" or not brier or not reference:
            continue
        sid = str(cell["scenario"])
        for key, label in SCORES:
            a, am = _value(perf, sid, reference, "model", key)
            b, bm = _value(perf, sid, brier, "model", key)
            z = (b - a) / math.hypot(am, bm) if am > 0 or bm > 0 else math.nan
            better = "tie" if not abs(z) > 2 else ("Brier" if z < 0 else "MLE")
            rows.append(
                {
                    "scenario": sid,
                    "n": int(cell["n"]),
                    "logit": logit,
                    "bayes_error": responses.bayes_error(logit),
                    "score": label,
                    "mle": a,
                    "mle_mcse": am,
                    "brier": b,
                    "brier_mcse": bm,
                    "z": z,
                    "better": better,
                }
            )
    return pd.DataFrame(rows, columns=list(MISSPECIFIED_COLUMNS))


def misspecified_sentence(rows: pd.DataFrame) -> str | None:
    """The section's sentence on a nonlinear logit, from :func:`misspecified_rows` at the
    largest n."""
    if rows.empty:
        return None
    at = rows[rows["n"] == rows["n"].max()]
    sid, logit = str(at["scenario"].iloc[0]), str(at["logit"].iloc[0])
    at = at[at["scenario"] == sid].set_index("score")

    def pair(label: str) -> str:
        r = at.loc[label]
        verdict = {"tie": "within Monte Carlo error", "Brier": "the Brier fit lower"}.get(
            str(r["better"]), "the MLE lower"
        )
        return (
            f"{label} {format_pm(r['brier'], r['brier_mcse'])} (Brier) against "
            f"{format_pm(r['mle'], r['mle_mcse'])} (MLE), {verdict} (z = {r['z']:.1f})"
        )

    return (
        f"When the logit is not linear (<code>{html.escape(sid)}</code>: y ~ "
        f"Bernoulli(σ({html.escape(logit)}(x))), n = {int(at['n'].iloc[0])}), every linear "
        f"classifier is wrong (the Bayes error is {at['bayes_error'].iloc[0]:.3f}) and the loss "
        f"chooses which wrong model is fitted: cross-entropy estimates the Kullback–Leibler "
        f"projection, the Brier score another line. On fresh data: "
        + "; ".join(pair(label) for _, label in SCORES)
        + ". Neither fit is right; z treats the two as independent (they share datasets), so a "
        "tie here is conservative."
    )


def _how(m: pd.Series) -> str:
    return f"{m['solver']} from {m.get('init') or 'zeros'}, {_steps(m.get('steps')) or '?'} steps"


def _fit_rows(perf: pd.DataFrame, sid: str, members: pd.DataFrame, term: str) -> list[dict]:
    """One row per fit shown: the exact fits and each trajectory's last checkpoint."""
    shown = [grp.iloc[-1] for _, grp in members.groupby("family", sort=False)]
    out = []
    for m in shown:
        est = str(m["estimator"])
        if perf[(perf["scenario"] == sid) & (perf["estimator"] == est)].empty:
            continue
        row: dict[str, Any] = {
            "estimator": est,
            "loss": LOSS_WORDS.get(str(m["loss"]), str(m["loss"])),
            "how": "exact" if m["solver"] == "exact" else _how(m),
        }
        for key, _ in SCORES:
            row[key] = format_pm(*_value(perf, sid, est, "model", key))
        row["mse"] = format_pm(*_value(perf, sid, est, term, "mse"))
        row["rel_efficiency"] = format_pm(*_value(perf, sid, est, term, "rel_efficiency"))
        fail = _value(perf, sid, est, term, "failure_rate")[0]
        row["failures"] = "" if not fail else f"{100 * fail:.1f}%"
        out.append(row)
    return out


def classification_section(
    perf: pd.DataFrame, scen: pd.DataFrame, members: pd.DataFrame, term: str
) -> dict[str, Any]:
    """What the template shows: ``available`` False when no scenario has a bernoulli
    response; else per cell the fits' table, the convergence rows and the front sentence."""
    cells = _bernoulli_cells(scen)
    if cells.empty:
        return {"available": False}
    # every lookup below is one of these cells': on their rows alone, each of its ≈ 300 costs
    # microseconds, not the ~10 ms of four text comparisons over the study's whole table
    perf = perf[perf["scenario"].isin(cells["scenario"].astype(str).tolist())]
    cls = members[members["loss"].isin(list(LOSS_WORDS))]
    mle = cls[(cls["loss"] == "cross_entropy") & (cls["solver"] == "exact")]
    reference = str(mle["estimator"].iloc[0]) if not mle.empty else ""
    conv = convergence_rows(perf, scen, cls, reference)
    verdict = verdict_row(perf, conv, cls, reference, term)
    wrong = misspecified_rows(perf, scen, cls, reference)
    tables = []
    # shown largest n first, the linear logit's cells before the nonlinear ones
    order = cells.assign(_linear=cells["logit"] == "linear").sort_values(["_linear", "n"])
    for _, cell in order.iterrows():
        sid = str(cell["scenario"])
        c = conv[conv["scenario"] == sid]
        tables.append(
            {
                "scenario": sid,
                "n": int(cell["n"]),
                "rows": _fit_rows(perf, sid, cls, term),
                "convergence": [
                    {
                        "loss": LOSS_WORDS.get(r.loss, r.loss),
                        "how": f"{r.solver} from {r.init}",
                        "steps": f"{int(r.steps):,}" if r.reached else f"> {r.last_steps:,}",
                        "left": f"{r.last_opt_error:.3g}",
                        "tolerance": f"{r.tolerance:.3g}",
                    }
                    for r in c.itertuples()
                ],
            }
        )
    return {
        "available": True,
        "reference": reference,
        "tables": tables,
        "verdict": verdict,
        "sentence": front_sentence(verdict, term) if verdict else None,
        "misspecified": misspecified_sentence(wrong),
        "scores": [label for _, label in SCORES],
    }
