"""The answer in one screen: a scoreboard and at most six sentences, each a row of data first.

Why: the report's claims and crossovers are many and dense; a reader should see the answer to
"why L2, and when is it wrong?" before scrolling. Everything here is derived from the files of
earlier stages (performance table, scenario table, ``crossovers.csv``, ``optima.csv``), names
nothing by hand, and links every sentence to the figure or section that holds its evidence.

Scoreboard
    Who wins on the focus slope's MSE in each family: :mod:`lossstudy.answer.scoreboard`
    (its rows are claims).
Sentences
    1. every Gauss–Markov assumption holding with normal errors: who wins there;
    2.–4. one per error-distribution sweep (at most three): each robust estimator's crossing
       with the reference at the largest ``n``, with its interval and theory;
    5. the families where an assumption breaks: who wins each;
    6. an estimator sweep's optimum where theory names the best value (the Bayes rule).

Training
    One sentence on "does differentiability matter?" (:func:`training_sentence`): which losses
    diverge under gradient descent as the step size crosses the squared loss's stability limit,
    from the row :func:`lossstudy.trained.divergence_verdict` makes of the divergence measures.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from lossstudy.answer.roles import ASSUMPTIONS
from lossstudy.answer.scoreboard import BOARD_COLUMNS as BOARD_COLUMNS
from lossstudy.answer.scoreboard import board_rows as board_rows
from lossstudy.answer.scoreboard import scoreboard as scoreboard
from lossstudy.answer.scoreboard import who as _who
from lossstudy.answer.scoreboard import winners as _winners
from lossstudy.trained import loss_name, share_text

SENTENCE_COLUMNS = ("key", "text", "link")
GAUSS_MARKOV = ASSUMPTIONS[:5]


def _code(name: Any) -> str:
    return f"<code>{html.escape(str(name))}</code>"


def _g(x: float) -> str:
    if not math.isfinite(x):
        return "?"
    return f"{x:.3g}"


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _flags(scen: pd.DataFrame, sid: str) -> dict[str, str]:
    row = scen[scen["scenario"].astype(str) == sid]
    return {a: str(row[a].iloc[0]) for a in ASSUMPTIONS if a in row.columns and len(row)}


def front_sentences(
    board: pd.DataFrame,
    scen: pd.DataFrame,
    cross: pd.DataFrame | None,
    optima: pd.DataFrame | None,
    optimum_cells: Sequence[str] = (),
    reference: str = "ols",
) -> pd.DataFrame:
    """At most six sentences (see the module doc), each with the anchor of its evidence."""
    rows: list[dict[str, str]] = []
    families = list(dict.fromkeys(board["family"]))
    cells = dict(zip(board["family"], board["scenario"], strict=False))
    n_of = dict(zip(board["family"], board["n"], strict=False))
    # 1. Gauss–Markov with normal errors
    ideal = [
        f
        for f in families
        if all(v == "holds" for v in _flags(scen, cells[f]).values())
        and len(_flags(scen, cells[f])) == len(ASSUMPTIONS)
    ]
    if ideal:
        f = ideal[0]
        rows.append(
            {
                "key": "gauss_markov",
                "text": f"Where every Gauss–Markov assumption holds and the errors are normal "
                f"({_code(f)}, n = {int(n_of[f])}), the lowest MSE of the focus slope is "
                f"{_who(board, f)}.",
                "link": "fig-scoreboard",
            }
        )
    # 2.–4. error-distribution sweeps
    if cross is not None and len(cross):
        sub = cross[
            (cross["measure"] == "rel_mse") & cross["knob"].astype(str).str.startswith("errors.")
        ]
        sub = sub.assign(_n=sub["fixed"].astype(str).str.extract(r"n=(\d+)")[0].astype(float))
        for (fam, knob), grp in sub.groupby(["scenario", "knob"], sort=False):
            grp = grp[grp["_n"] == grp["_n"].max()]
            parts = []
            for r in grp.itertuples(index=False):
                if not math.isfinite(float(r.crossing)):
                    continue
                side = "above" if r.better == "above" else "below"
                theory = _theory_phrase(r)
                finite_n = "finite-n " if getattr(r, "theory_kind", "") == "asymptotic" else ""
                parts.append(
                    f"{_code(r.estimator)} {side} {finite_n}{_g(float(r.crossing))} "
                    f"({_g(float(r.ci_low))}–{_g(float(r.ci_high))}{theory})"
                )
            if not parts:
                continue
            n = int(grp["_n"].iloc[0]) if grp["_n"].notna().any() else None
            rows.append(
                {
                    "key": f"sweep_{fam}",
                    "text": f"Along {_code(knob)} ({_code(fam)}{f', n = {n}' if n else ''}), "
                    f"{_code(reference)} loses its lead on MSE to " + _and(parts) + ".",
                    "link": f"fig-sweep_{fam}",
                }
            )
            if sum(r["key"].startswith("sweep_") for r in rows) == 3:
                break
    # 5. broken assumptions
    broken = []
    for f in families:
        flags = _flags(scen, cells[f])
        gone = [a for a in GAUSS_MARKOV if flags.get(a) == "breaks"]
        win, _ = _winners(board, f)
        beaten = ((board["family"] == f) & (board["estimator"] == reference)).any() and (
            board.loc[(board["family"] == f) & (board["estimator"] == reference), "verdict"]
            .isin(["loses", "undefined"])
            .all()
        )
        if gone and win and win[0] != reference and beaten:
            broken.append(f"{_code(f)}: {_code(win[0])}")
    if broken:
        rows.append(
            {
                "key": "broken",
                "text": f"Where an assumption breaks, {_code(reference)} is beaten at the largest "
                "n in " + "; ".join(broken) + ".",
                "link": "fig-scoreboard",
            }
        )
    # 6. an optimum theory names
    if optima is not None and len(optima):
        opt = optima[optima["cell"].isin(list(optimum_cells))]
        opt = opt.assign(_n=opt["fixed"].astype(str).str.extract(r"n=(\d+)")[0].astype(float))
        opt = opt[opt["_n"] == opt["_n"].max()] if opt["_n"].notna().any() else opt
        for r in opt.head(1).itertuples(index=False):
            bayes = re.search(r"Bayes rule σ²/τ² = ([0-9.e+-]+)", str(r.note))
            theory = (
                f"the Bayes rule σ²/τ² = {_g(float(bayes.group(1)))}"
                if bayes
                else f"exact {_g(float(r.theory))}"
            )
            if str(getattr(r, "agreement", "")) == "disagrees":
                theory = f"disagrees with {theory}"
            rows.append(
                {
                    "key": "optimum",
                    "text": f"Under {_code(r.scenario)} the MSE of {_code(r.estimator)} is lowest "
                    f"at {r.parameter} ≈ {_g(float(r.argmin))} ({_g(float(r.ci_low))}–"
                    f"{_g(float(r.ci_high))}; {theory}).",
                    "link": f"fig-optimum_{r.estimator}",
                }
            )
    return pd.DataFrame(rows[:6], columns=list(SENTENCE_COLUMNS))


def _theory_phrase(row: Any) -> str:
    """Theory beside a crossing by its kind (``theory_kind``, ``agreement`` of crossovers.csv):
    asymptotic theory is a limit, exact theory outside the interval a disagreement."""
    if pd.isna(row.theory):
        return ""
    value = _g(float(row.theory))
    kind = str(getattr(row, "theory_kind", "") or "")
    if kind == "asymptotic":
        return f" vs asymptotic {value}"
    if str(getattr(row, "agreement", "")) == "disagrees":
        return f"; disagrees with exact theory {value}"
    return f"; {kind + ' ' if kind else ''}theory {value}"


def _or(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def training_sentence(verdict: dict[str, Any]) -> dict[str, str] | None:
    """The verdict on "L2 is differentiable, so it trains stably" in one sentence, from the
    numbers of :func:`lossstudy.trained.divergence_verdict` (None when no GD fit was swept over
    the step size c)."""
    if not verdict:
        return None
    diverging, stable = verdict["diverging"], verdict["stable"]
    names = {x: html.escape(loss_name(x)) for x in [*diverging, *stable]}
    fits = verdict["fits"]
    cells = verdict["cells"]
    where = f"{cells} cell{'s' if cells != 1 else ''}"
    if not diverging:
        top = max(verdict["max_c"].values())
        text = (
            f"No gradient-descent fit diverged, for any loss, at any step size up to c = {top:g} "
            f"times the squared loss's stability limit ({sum(fits.values()):,} fits in {where})."
        )
        return {"key": "training", "text": text, "link": "training"}
    lead = "Only the" if stable else "The"
    loss_word = "loss" if len(diverging) == 1 else "losses"
    text = (
        f"{lead} {_and([names[x] for x in diverging])} {loss_word} diverged under gradient descent"
    )
    past = verdict.get("past")
    if past:
        whose = "its" if len(diverging) == 1 else f"the {names[past['loss']]} loss's"
        text += (
            f": {share_text(past['low'], past['high'], past['mcse'])} of {whose} fits at a step "
            f"c = {past['c']:g} times the exact stability limit, in {past['cells']} "
            f"cell{'s' if past['cells'] != 1 else ''}"
        )
        below = verdict.get("below")
        if below:
            at = "none" if below["high"] == 0 else f"at most {100 * below['high']:.3g}%"
            text += f" (at c = {below['c']:g}: {at})"
    if stable:
        top = max(verdict["max_c"][x] for x in stable)
        n = sum(fits[x] for x in stable)
        text += (
            f"; no {_or([names[x] for x in stable])} fit diverged at any c up to {top:g} "
            f"({n:,} fits)"
        )
    text += "."
    if "squared" in diverging and "absolute" in stable:
        text += " So a bounded gradient, not differentiability, is what keeps training stable."
    return {"key": "training", "text": text, "link": "training"}
