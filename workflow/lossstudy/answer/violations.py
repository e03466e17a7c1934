"""Topics where an assumption fails: bias, coverage, undefined moments, rank deficiency.

Why together: these claims say what breaks rather than which loss is best: under endogeneity or
misspecification every loss is biased; heteroskedastic or autocorrelated errors break the
classical OLS intervals (HC SEs may restore them under heteroskedasticity, only HAC SEs under
autocorrelation, each reported at every n); with infinite-variance errors the moments do
not exist and only robust summaries (median bias, MAD) are compared; with a rank-deficient
design the unpenalised fits fail.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._context import _at_n, _Ctx, _float, _holds, _largest, _n_label, _select
from .claims import Claim, Number, _code, _compare, _zword, basis_words, judge, z_limit


def _bias(ctx: _Ctx) -> Iterable[Claim]:
    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            not _holds(row, "exogeneity") or not _holds(row, "linearity")
        ) and not ctx.moments_undefined(s)

    for g in _select(ctx, pred):
        s = _largest(ctx, g)
        row = ctx.scen.get(s, {})
        why = "; ".join(
            str(row.get(f"{a}_why") or a)
            for a in ("exogeneity", "linearity")
            if not _holds(row, a) and str(row.get(f"{a}_why", "")) not in ("", "nan")
        )
        numbers: list[Number] = []
        cells: list[str] = []
        unbiased: list[str] = []
        shrunk: list[str] = []
        for e in ctx.tab.estimators:
            if e != ctx.reference and ctx.same_point(e, ctx.reference):
                continue
            b = ctx.tab.usable(s, e, "bias")
            if b is None:
                continue
            numbers.append(b)
            if ctx.roles[e]["penalised"]:
                shrunk.append(f"{_code(e)} {b.text()}")
            elif ctx.biased(s, e, b):
                how = ctx.contrary(s, e)
                cells.append(f"{_code(e)} {b.text()}" + (f" ({how[2:]})" if how else ""))
            else:
                unbiased.append(
                    f"{_code(e)} {b.text()} (within {_zword(b.z(0))} of 0{ctx.contrary(s, e)})"
                )
        if not cells and not unbiased:
            continue
        verdict = "biased" if not unbiased else "mixed"
        if not unbiased:
            text = (
                f"{ctx.label(g, s)} ({html.escape(why)}): every loss (L2, L1, Huber) gives "
                "a bias beyond Monte Carlo error; no loss function repairs it. Bias: "
                + "; ".join(cells)
                + "."
            )
        else:
            text = (
                f"{ctx.label(g, s)} ({html.escape(why)}): biased beyond Monte Carlo error: "
                + ("; ".join(cells) if cells else "none")
                + "; not detectably biased: "
                + "; ".join(unbiased)
                + "."
            )
        if shrunk:
            text += (
                " Penalised estimators are biased by construction (shrinkage adds to or offsets "
                "this bias): " + "; ".join(shrunk) + "."
            )
        small = ctx.groups[g][0]
        rb = ctx.tab.usable(small, ctx.reference, "bias")
        rl = ctx.tab.usable(s, ctx.reference, "bias")
        if small != s and rb is not None and rl is not None:
            numbers.append(rb)
            text += (
                f" It does not vanish with n: {_code(ctx.reference)} has bias {rb.text()} at "
                f"n = {int(ctx.nval[small])} and {rl.text()} at n = {int(ctx.nval[s])}."
            )
        yield Claim("bias", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _coverage(ctx: _Ctx) -> Iterable[Claim]:
    ols = [e for e in ctx.tab.estimators if ctx.roles[e]["method"] == "ols"]
    classical = [e for e in ols if str(ctx.roles[e].get("se")) == "classical"]
    robust = [e for e in ols if str(ctx.roles[e].get("se")) != "classical"]
    if not ols:
        return

    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            (
                _float(row, "heteroskedasticity.strength") > 0
                or not _holds(row, "no_autocorrelation")
            )
            and _holds(row, "exogeneity")
            and _holds(row, "linearity")
            and not ctx.moments_undefined(s)
        )

    lv = ctx.level
    for g in _select(ctx, pred):
        row = ctx.scen.get(_largest(ctx, g), {})
        why = "; ".join(
            str(row.get(f"{a}_why") or a)
            for a in ("homoskedasticity", "no_autocorrelation")
            if not _holds(row, a)
        )
        autocorrelated = not _holds(row, "no_autocorrelation")
        # HC SEs assume independent errors: under autocorrelation only HAC is meant to repair it,
        # and then the HAC intervals get a sentence of their own, n by n
        repair = [e for e in robust if not autocorrelated or ctx.roles[e].get("se") == "hac"]
        hac = repair if autocorrelated else []
        numbers: list[Number] = []
        per_n: list[str] = []
        hac_cells: dict[str, list[str]] = {e: [] for e in hac}
        status: dict[str, list[str]] = {e: [] for e in classical + robust}
        for s in ctx.groups[g]:
            cells = []
            for e in classical + robust:
                c = ctx.tab.usable(s, e, "coverage")
                if c is None:
                    continue
                numbers.append(c)
                v = _compare(c, lv, ctx.thresholds)
                how = basis_words(c, judge(c, lv, ctx.thresholds))
                status[e].append(v)
                kind = html.escape(str(ctx.roles[e].get("se")))
                word = {
                    "loss": "under-covers",
                    "win": "over-covers",
                    "tie": "nominal within Monte Carlo error",
                }[v]
                if e in hac_cells:
                    hac_cells[e].append(
                        f"{c.text()} at {_n_label(ctx, s)} ({word}, {_zword(c.z(lv))}{how})"
                    )
                else:
                    cells.append(
                        f"{_code(e)} ({kind} SE) {c.text()}, {word} ({_zword(c.z(lv))}{how})"
                    )
            if cells:
                per_n.append(_at_n(ctx, s, cells))
        hac_text = [
            f"{_code(e)} (HAC SE) covers " + ", ".join(c) for e, c in hac_cells.items() if c
        ]
        if not per_n and not hac_text:
            continue
        cls_bad = any("loss" in status[e] for e in classical)
        rob_ok = bool(repair) and all(status[e] and status[e][-1] == "tie" for e in repair)
        note = f"nominal {lv:g}"
        if cls_bad and rob_ok:
            verdict = "win"
            lead = (
                f"classical OLS intervals under-cover; {', '.join(map(_code, repair))} "
                "restores nominal coverage at the largest n"
            )
        elif cls_bad and hac:
            verdict = "undercovers"
            lead = (
                "OLS intervals under-cover; the HAC (Newey–West) SE of "
                f"{', '.join(map(_code, hac))} does not reach nominal coverage at the largest n"
            )
        elif cls_bad:
            verdict = "undercovers"
            lead = "OLS intervals under-cover, and no SE type here repairs it fully"
            if autocorrelated:
                note += (
                    "; HC SEs assume independent errors, and the study has no OLS estimator "
                    "with <code>se: hac</code>"
                )
        else:
            verdict = "tie"
            lead = "OLS coverage is within Monte Carlo error of nominal or above it"
        text = f"{_code(g)} ({html.escape(why)}): {lead} ({note}). " + ". ".join(hac_text + per_n)
        text += "."
        yield Claim("coverage", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _flagged(ctx: _Ctx, scenario: str, estimator: str, measure: str) -> bool:
    """The measure is flagged undefined although it rests on enough replicates."""
    n = ctx.tab.get(scenario, estimator, measure)
    return n is not None and not n.defined and n.n_used >= 2


def _undefined(ctx: _Ctx) -> Iterable[Claim]:
    for g in _select(ctx, lambda row, s: ctx.moments_undefined(s)):
        s = _largest(ctx, g)
        row = ctx.scen.get(s, {})
        dist = str(row.get("errors.distribution", "heavy-tailed"))
        if dist == "t" and np.isfinite(df := _float(row, "errors.df", math.nan)):
            dist = f"t (df {df:g})"

        no_var = [e for e in ctx.tab.estimators if _flagged(ctx, s, e, "empse")]
        no_mean = [e for e in no_var if _flagged(ctx, s, e, "bias")]
        mean_only = [e for e in no_var if e not in no_mean]
        numbers: list[Number] = []
        # the moments the sentence calls undefined, and the biases it calls defined, are rows
        for e in no_var:
            for m in ("bias", "empse") if e in no_mean else ("bias",):
                num = ctx.tab.get(s, e, m)
                if num is not None:
                    numbers.append(num)
        cells: list[str] = []
        mads: list[tuple[Number, str]] = []
        for e in ctx.tab.estimators:
            if e != ctx.reference and ctx.same_point(e, ctx.reference):
                continue
            mb = ctx.tab.usable(s, e, "median_bias")
            mad = ctx.tab.usable(s, e, "mad")
            if mb is None or mad is None:
                continue
            numbers.extend([mb, mad])
            mads.append((mad, e))
            cells.append(f"{_code(e)} median bias {mb.text()}, MAD {mad.text()}")
        if not cells:
            continue
        parts = []
        if no_mean or not no_var:
            parts.append(
                "the mean and variance of "
                + (", ".join(map(_code, no_mean)) or "the linear estimators")
                + " do not exist (their bias, EmpSE and MSE are flagged undefined, whatever the "
                "sample values)"
            )
        if mean_only:
            parts.append(
                "the mean of "
                + ", ".join(map(_code, mean_only))
                + " exists, so its bias is defined (zero where the estimator is unbiased), but "
                "its variance does not: EmpSE and MSE are flagged undefined and the MCSE of the "
                "bias is unreliable (the central limit theorem fails)"
            )
        text = (
            f"With {html.escape(dist)} errors, {ctx.label(g, s)}, "
            + "; ".join(parts)
            + ". Robust summaries instead: "
            + "; ".join(cells)
            + "."
        )
        verdict = "undefined"
        pairs: list[dict[str, Any]] = []
        mads.sort(key=lambda t: t[0].value)
        if len(mads) >= 2:
            best, runner = mads[0], mads[1]
            ref_mad = next((m for m, e in mads if e == ctx.reference), None)
            diff = runner[0].value - best[0].value
            se = math.hypot(best[0].mcse, runner[0].mcse)
            z = diff / se if se > 0 else math.inf
            limit = z_limit("mad_difference", ctx.thresholds)
            pairs.append(
                {
                    "scenario": s,
                    "estimator": best[1],
                    "versus": runner[1],
                    "measure": "mad_difference",
                    "value": -diff,
                    "mcse": se,
                    "statistic": z,
                    "threshold": limit,
                    "verdict": "better" if z > limit else "tie",
                    "basis": "mc",
                }
            )
            if z > limit:
                text += (
                    f" {_code(best[1])} has the smallest MAD, "
                    f"{diff:.3g} below the next ({_code(runner[1])}), {z:.1f} times their "
                    "combined MCSE"
                )
            else:
                text += (
                    f" {_code(best[1])} and {_code(runner[1])} have the smallest MAD, a tie "
                    f"within Monte Carlo error ({z:.1f} times their combined MCSE)"
                )
            if ref_mad is not None and best[1] != ctx.reference:
                text += (
                    f"; {_code(ctx.reference)}'s MAD is {ref_mad.value / best[0].value:.3g} "
                    "times as large"
                )
            text += "."
        yield Claim("undefined", text, verdict, tuple(numbers), tuple(ctx.groups[g]), tuple(pairs))


def _full_rank(ctx: _Ctx) -> Iterable[Claim]:
    for g in _select(ctx, lambda row, s: not _holds(row, "full_rank")):
        s = _largest(ctx, g)
        numbers: list[Number] = []
        failed: list[str] = []
        fitted: list[str] = []
        msg = ""
        for e in ctx.tab.estimators:
            fr = ctx.tab.get(s, e, "failure_rate")
            b = ctx.tab.usable(s, e, "bias")
            if fr is not None and np.isfinite(fr.value) and fr.value > 0:
                numbers.append(fr)
                failed.append(f"{_code(e)} {fr.value:.0%}")
                if not msg and "most common:" in fr.note:
                    msg = fr.note.split("most common:", 1)[1].strip()
            elif b is not None:
                numbers.append(b)
                fitted.append(f"{_code(e)} bias {b.text()}")
        if not numbers:
            continue
        text = f"{ctx.label(g, s)}, predictors perfectly correlated: "
        if failed:
            text += "fits failed for " + ", ".join(failed)
            text += f" (most common message: {html.escape(msg)})" if msg else ""
            text += ", excluded from their measures"
        if fitted:
            text += ("; " if failed else "") + "estimates exist only for " + "; ".join(fitted)
            text += ": the penalty picks one of infinitely many solutions, so the slope is biased"
        text += "."
        yield Claim("full_rank", text, "undefined", tuple(numbers), tuple(ctx.groups[g]))
