"""Topics ``gauss_markov`` and ``heavy_tails``: is L2 the most efficient, and when is it not?

Why together: both compare the relative efficiency of the unpenalised estimators with the
reference in groups where every Gauss–Markov assumption holds; they differ only in the errors
(normal, where OLS should have the smallest empirical SE, or non-normal, where a robust loss
may beat it although OLS stays the best *linear* unbiased estimator).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from ._context import _Ctx, _holds, _largest, _others, _ref_ok, _select
from .claims import Claim, Number, _code, _compare, _versus, _zword, basis_words, judge


def _gauss_markov(ctx: _Ctx) -> Iterable[Claim]:
    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            str(row.get("gauss_markov")) == "holds"
            and _holds(row, "normal_errors")
            and not ctx.moments_undefined(s)
        )

    ref = ctx.reference
    for g in _select(ctx, pred):
        s = _largest(ctx, g)
        if not _ref_ok(ctx, s):
            continue
        penalised = [e for e in ctx.tab.estimators if ctx.roles[e]["penalised"]]
        twins = [e for e in ctx.tab.estimators if e != ref and ctx.same_point(e, ref)]
        numbers: list[Number] = []
        parts: list[str] = []
        biased: list[str] = []
        verdicts: list[str] = []
        for e in _others(ctx, s):
            bias = ctx.tab.usable(s, e, "bias")
            rel = ctx.tab.usable(s, e, "rel_efficiency")
            if bias is None or rel is None:
                continue
            if ctx.biased(s, e, bias):
                biased.append(
                    f"{_code(e)} (bias {bias.text()}, {_zword(bias.z(0))} from 0"
                    f"{ctx.contrary(s, e)})"
                )
                numbers.append(bias)
                continue
            numbers.append(rel)
            v = _compare(rel, 1.0, ctx.thresholds)
            verdicts.append(v)
            parts.append(
                f"{_code(e)} {rel.text()}, "
                + _versus(
                    rel,
                    1.0,
                    f"more efficient than {_code(ref)}",
                    "less efficient",
                    ctx.thresholds,
                )
            )
        if not parts:
            continue
        empse = ctx.tab.usable(s, ref, "empse")
        rbias = ctx.tab.usable(s, ref, "bias")
        assert empse is not None
        numbers[:0] = [n for n in (rbias, empse) if n is not None]
        if "win" in verdicts:
            verdict, lead = "loss", "does <em>not</em> have the smallest empirical SE"
        elif "tie" in verdicts:
            verdict = "tie"
            lead = (
                "has the smallest empirical SE among the unbiased estimators, though not beyond "
                "Monte Carlo error against all of them"
            )
        else:
            verdict, lead = "win", "has the smallest empirical SE among the unbiased estimators"
        text = (
            f"With every Gauss–Markov assumption holding and normal errors, {ctx.label(g, s)}, "
            f"{_code(ref)} {lead}: EmpSE {empse.text()}"
            + (f", bias {rbias.text()}" if rbias is not None else "")
            + ". Relative efficiency (EmpSE ratio squared) vs "
            + f"{_code(ref)}: "
            + "; ".join(parts)
            + "."
        )
        if twins:
            text += f" {', '.join(map(_code, twins))}: same point estimates as {_code(ref)}."
        if penalised:
            text += (
                f" Not compared: {', '.join(map(_code, penalised))} (penalised, biased by "
                "construction: Gauss–Markov speaks of unbiased estimators)."
            )
        if biased:
            text += f" Not compared, biased here: {'; '.join(biased)}."
        yield Claim("gauss_markov", text, verdict, tuple(numbers), tuple(ctx.groups[g]))


def _heavy_tails(ctx: _Ctx) -> Iterable[Claim]:
    def pred(row: Mapping[str, Any], s: str) -> bool:
        return (
            str(row.get("gauss_markov")) == "holds"
            and not _holds(row, "normal_errors")
            and not ctx.moments_undefined(s)
        )

    ref = ctx.reference
    for g in _select(ctx, pred):
        s = _largest(ctx, g)
        if not _ref_ok(ctx, s):
            continue
        row = ctx.scen.get(s, {})
        dist = str(row.get("errors.distribution", row.get("normal_errors_why", "non-normal")))
        numbers: list[Number] = []
        parts: list[str] = []
        wins: list[tuple[float, str]] = []
        verdicts: list[str] = []
        caveat = False
        for e in _others(ctx, s):
            rel = ctx.tab.usable(s, e, "rel_efficiency")
            if rel is None:
                continue
            numbers.append(rel)
            v = _compare(rel, 1.0, ctx.thresholds)
            how = basis_words(rel, judge(rel, 1.0, ctx.thresholds))
            verdicts.append(v)
            caveat = caveat or any(
                num is not None and ("unreliable" in num.note or not num.mcse_valid)
                for num in (rel, ctx.tab.get(s, e, "empse"), ctx.tab.get(s, ref, "empse"))
            )
            if v == "win":
                wins.append((rel.value, e))
                parts.append(
                    f"{_code(e)} beats {_code(ref)} by a factor {rel.value:.2f} in variance "
                    f"(relative efficiency {rel.text()}, {_zword(rel.z(1))} above 1{how})"
                )
            elif v == "loss":
                parts.append(
                    f"{_code(e)} is less efficient than {_code(ref)} "
                    f"(relative efficiency {rel.text()}, {_zword(rel.z(1))} below 1{how})"
                )
            else:
                parts.append(
                    f"{_code(e)} ties with {_code(ref)}: relative efficiency {rel.text()}, "
                    f"within Monte Carlo error ({_zword(rel.z(1))} from 1{how})"
                )
        if not parts:
            continue
        if wins:
            verdict = "win"
        elif "tie" in verdicts:
            verdict = "tie"
        else:
            verdict = "loss"
        text = (
            f"With {html.escape(dist)} errors and every Gauss–Markov assumption holding, "
            f"{ctx.label(g, s)}: " + "; ".join(parts) + "."
        )
        if wins:
            best = max(wins)[1]
            text += (
                f" {_code(ref)} is still the best <em>linear</em> unbiased estimator, but "
                f"{_code(best)} is not linear in y."
            )
        if caveat:
            text += (
                " The errors have no finite fourth moment, so these normal-theory MCSEs are "
                "unreliable; compare median bias and MAD."
            )
        # the same comparison at smaller n, as a range
        others_n = [m for m in ctx.groups[g] if m != s]
        if others_n and wins:
            best = max(wins)[1]
            vals = []
            for m in others_n:
                r = ctx.tab.usable(m, best, "rel_efficiency")
                if r is not None:
                    vals.append(f"{r.text()} at n = {int(ctx.nval[m])}")
                    numbers.append(r)
            if vals:
                text += f" For {_code(best)} at smaller n: {'; '.join(vals)}."
        yield Claim("heavy_tails", text, verdict, tuple(numbers), tuple(ctx.groups[g]))
