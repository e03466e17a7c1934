"""Topic ``ridge``: what the L2 penalty buys in MSE and what it costs in bias.

Why a module of its own: ridge is the one estimator judged by MSE rather than efficiency or
bias. It is featured in groups with correlated predictors or slopes drawn from a prior (where
it may win, and where a Gaussian prior makes one λ the Bayes rule), and summarised elsewhere,
where a lower MSE is flagged when shrinkage merely offsets the bias of a broken assumption.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._context import _at_n, _Ctx, _float, _holds, _largest, _ref_ok, _select
from .claims import Claim, Number, _code, _compare, _zword, basis_words, judge

CORRELATED = 0.5  # design.correlation from which ridge is featured
NEAR_COLLINEAR = 0.9  # as in lossstudy.assumptions


def _ridge(ctx: _Ctx) -> Iterable[Claim]:
    ref = ctx.reference
    penalised = [e for e in ctx.tab.estimators if ctx.roles[e]["penalised"]]
    if not penalised:
        return

    def featured(row: Mapping[str, Any], s: str) -> bool:
        rho = _float(row, "design.correlation")
        tau = _float(row, "prior.tau")
        return (tau > 0 or (CORRELATED <= rho < 1.0)) and not ctx.moments_undefined(s)

    feature = _select(ctx, featured)
    rest_wins: list[str] = []
    rest_numbers: list[Number] = []
    rest_cells = 0
    offset = False
    for g, members in ctx.groups.items():
        if g in feature:
            continue
        for s in members:
            if ctx.moments_undefined(s) or not _ref_ok(ctx, s):
                continue
            row = ctx.scen.get(s, {})
            broken = not (_holds(row, "exogeneity") and _holds(row, "linearity"))
            for e in penalised:
                rel = ctx.tab.usable(s, e, "rel_mse")
                if rel is None:
                    continue
                rest_cells += 1
                rest_numbers.append(rel)  # every cell judged is a row of claims.csv
                if _compare(rel, 1.0, ctx.thresholds) == "win":
                    n = ctx.nval[s]
                    where = f"{_code(g)} at n = {int(n)}" if np.isfinite(n) else _code(s)
                    rest_wins.append(
                        f"{_code(e)} in {where}{'†' if broken else ''} (rel. MSE {rel.text()}, "
                        f"{_zword(rel.z(1))}"
                        f"{basis_words(rel, judge(rel, 1.0, ctx.thresholds))})"
                    )
                    offset = offset or broken

    for g in feature:
        row = ctx.scen.get(_largest(ctx, g), {})
        tau = _float(row, "prior.tau")
        rho = _float(row, "design.correlation")
        scale = _float(row, "errors.scale", 1.0)
        if tau > 0:
            why = f"slopes drawn from N(0, τ²), τ = {tau:g}"
        else:
            kind = "near-collinear" if rho >= NEAR_COLLINEAR else "correlated"
            why = f"{kind} predictors (correlation {rho:g})"
        numbers: list[Number] = []
        per_n: list[str] = []
        verdicts: list[str] = []
        for s in ctx.groups[g]:
            if not _ref_ok(ctx, s):
                continue
            cells = []
            for e in penalised:
                rel = ctx.tab.usable(s, e, "rel_mse")
                bias = ctx.tab.usable(s, e, "bias")
                if rel is None:
                    continue
                numbers.append(rel)
                v = _compare(rel, 1.0, ctx.thresholds)
                verdicts.append(v)
                word = {
                    "win": "lower MSE than",
                    "loss": "higher MSE than",
                    "tie": "MSE within Monte Carlo error of",
                }[v]
                how = basis_words(rel, judge(rel, 1.0, ctx.thresholds))
                if v == "tie" and how:
                    word = "MSE equal to that of"
                cell = (
                    f"{_code(e)} {word} {_code(ref)}, rel. MSE {rel.text()} "
                    f"({_zword(rel.z(1))} from 1{how})"
                )
                if bias is not None:
                    numbers.append(bias)
                    cell += f", paying bias {bias.text()}"
                cells.append(cell)
            if cells:
                per_n.append(_at_n(ctx, s, cells))
        if not per_n:
            continue
        if "win" in verdicts:
            verdict = "win" if "loss" not in verdicts else "mixed"
        elif "tie" in verdicts:
            verdict = "tie"
        else:
            verdict = "loss"
        text = (
            f"{_code(g)}, {html.escape(why)}: "
            + ". ".join(per_n)
            + ". Relative MSE is MSE of the reference over MSE of the estimator (> 1: lower MSE)."
        )
        if tau > 0 and _holds(row, "normal_errors"):
            lam = scale**2 / tau**2
            bayes = [
                e
                for e in penalised
                if isinstance(ctx.roles[e].get("penalty"), int | float)
                and np.isfinite(ctx.roles[e]["penalty"])
                and math.isclose(float(ctx.roles[e]["penalty"]), lam, rel_tol=0.05)
            ]
            text += f" Here λ = σ²/τ² = {lam:.3g} is the Bayes (posterior-mean) rule"
            text += (
                f": that is {', '.join(map(_code, bayes))}." if bayes else "; no estimator has it."
            )
            text += (
                " The bias is averaged over the prior, so it is near 0 although each β is shrunk."
            )
        yield Claim("ridge", text, verdict, tuple(numbers), tuple(ctx.groups[g]))

    if rest_cells:
        if rest_wins:
            text = (
                f"Elsewhere the penalty lowers the MSE of {_code(ctx.tab.term)} (beyond Monte "
                f"Carlo error, or by exact theory) in {len(rest_wins)} of {rest_cells} "
                "scenario × estimator cells: " + "; ".join(rest_wins) + "."
            )
            if offset:
                text += (
                    " † The unpenalised estimators are biased there: shrinkage towards 0 "
                    "offsets part of that bias, which is not a general property."
                )
            verdict = "win"
        else:
            text = (
                f"Elsewhere the penalty never lowers the MSE of {_code(ctx.tab.term)} beyond "
                f"Monte Carlo error or by exact theory ({rest_cells} scenario × estimator cells "
                "checked)."
            )
            verdict = "loss"
        yield Claim("ridge", text, verdict, tuple(rest_numbers), ())
