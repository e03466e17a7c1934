"""The answer in one screen: why L2, when it is the wrong choice, and who beats it where.

Why: the report's claims and crossovers are many and dense; a reader should see the answer to
"why L2, and when is it wrong?" before scrolling. Everything here is derived from the files of
earlier stages (scoreboard, scenario table, ``claims.csv``, ``crossovers.csv``, ``optima.csv``),
names nothing by hand, and links every row to the section that holds its evidence.

Reasons
    One row per reason usually given for L2, with its verdict: :mod:`lossstudy.reasons`.
When L2 is the wrong choice
    The sweeps' crossings where another loss beats least squares
    (:func:`lossstudy.reasons.wrong_choice_rows`), then :func:`winner_rows`: where an
    assumption breaks and least squares loses on the scoreboard, who wins, grouped by loss
    (the L2 family: OLS, WLS, ridge; other losses), with a label where the win rests on a
    setting tuned for another scenario or on bias cancelling bias.
Training
    :func:`training_sentence`, the training section's verdict on "does differentiability
    matter?", from :func:`lossstudy.trained.divergence_verdict`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lossstudy.answer.roles import ASSUMPTIONS
from lossstudy.answer.scoreboard import BOARD_COLUMNS as BOARD_COLUMNS
from lossstudy.answer.scoreboard import board_rows as board_rows
from lossstudy.answer.scoreboard import scoreboard as scoreboard
from lossstudy.answer.scoreboard import winners as _winners
from lossstudy.mcse import format_pm
from lossstudy.reasons import L2_METHODS, estimator_words
from lossstudy.trained import loss_name, share_text

WINNER_COLUMNS = ("family", "scenario", "n", "broken", "winner", "group", "label", "text")

#: an assumption that breaks, in words a reader has met (its key stays in the evidence)
BROKEN_WORDS = {
    "linearity": "the mean is not linear in x",
    "exogeneity": "x is correlated with the error or with a misleading point",
    "full_rank": "the design is rank-deficient",
    "homoskedasticity": "the error spread varies",
    "no_autocorrelation": "the errors are autocorrelated",
    "normal_errors": "the errors are not normal",
}
TUNED = "tuned elsewhere"
BIAS_CANCELS = "bias cancelling bias"


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _flags(scen: pd.DataFrame, sid: str) -> dict[str, str]:
    row = scen[scen["scenario"].astype(str) == sid]
    return {a: str(row[a].iloc[0]) for a in ASSUMPTIONS if a in row.columns and len(row)}


def _label(
    winner: str,
    role: Mapping[str, Any],
    flags: Mapping[str, str],
    ref_bias: tuple[float, float] | None,
) -> tuple[str, str]:
    """(label, words) for a win that rests on something else than the loss: WLS weights built
    for heteroskedastic errors winning where the spread is constant (a setting tuned for another
    scenario), or a penalised fit winning where every unpenalised fit is biased (its shrinkage
    offsets the bias: bias cancelling bias)."""
    method = str(role.get("method", ""))
    if method == "wls" and flags.get("homoskedasticity") == "holds":
        return TUNED, (
            "tuned for another scenario: its weights were built for heteroskedastic errors, "
            "which this one does not have"
        )
    broken_mean = flags.get("exogeneity") == "breaks" or flags.get("linearity") == "breaks"
    if role.get("penalised") and broken_mean:
        size = ""
        if ref_bias is not None and math.isfinite(ref_bias[0]):
            size = f" of {format_pm(ref_bias[0], ref_bias[1])}"
        return BIAS_CANCELS, (
            f"bias cancelling bias: its shrinkage toward 0 offsets the bias{size} that least "
            "squares has here; not a property of the loss"
        )
    return "", ""


def winner_rows(
    board: pd.DataFrame,
    scen: pd.DataFrame,
    roles: Mapping[str, Mapping[str, Any]],
    reference: str = "ols",
    bias: Mapping[tuple[str, str], tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Families where an assumption breaks and the reference loses (or has no finite MSE), one
    row each: the winner, its loss family (``L2`` for least squares, weighted or penalised;
    ``other`` for another loss) and a label when the win rests on a setting tuned for another
    scenario or on bias cancelling bias (:func:`_label`). The verdicts are the board's, so the
    one comparison rule (:mod:`lossstudy.answer.compare`) decides here too."""
    rows: list[dict[str, Any]] = []
    bias = bias or {}
    for family in dict.fromkeys(board["family"]):
        sub = board[board["family"] == family]
        sid = str(sub["scenario"].iloc[0])
        flags = _flags(scen, sid)
        gone = [a for a in ASSUMPTIONS if flags.get(a) == "breaks"]
        win, _ = _winners(board, str(family))
        ref = sub[sub["estimator"] == reference]
        beaten = len(ref) > 0 and ref["verdict"].isin(["loses", "undefined"]).all()
        if not gone or not win or win[0] == reference or not beaten:
            continue
        w = win[0]
        role = roles.get(w, {})
        group = "L2" if str(role.get("method")) in L2_METHODS else "other"
        label, why = _label(w, role, flags, bias.get((sid, reference)))
        said = [BROKEN_WORDS.get(a, a) for a in gone if a != "normal_errors"]
        words = _and(said or [BROKEN_WORDS["normal_errors"]])
        if ref["verdict"].eq("undefined").all() and flags.get("full_rank") != "breaks":
            words = "least squares has no finite MSE (errors without a variance)"
        text = f"{html.escape(estimator_words(w, role))} where {words}"
        if why:
            text += f" ({why})"
        rows.append(
            {
                "family": str(family),
                "scenario": sid,
                "n": sub["n"].iloc[0],
                "broken": ", ".join(gone),
                "winner": w,
                "group": group,
                "label": label,
                "text": text,
            }
        )
    return pd.DataFrame(rows, columns=list(WINNER_COLUMNS))


def winner_sentences(rows: pd.DataFrame) -> list[dict[str, str]]:
    """Two sentences, L2-family winners first: who beats least squares where an assumption
    breaks, grouped by loss, each win's label stated beside it."""
    out = []
    heads = {
        "L2": "Least squares is beaten by another squared-error (L2) estimator",
        "other": "Least squares is beaten by another loss",
    }
    for group, head in heads.items():
        sub = rows[rows["group"] == group]
        if len(sub):
            parts = []
            for text, same in sub.groupby("text", sort=False):
                k = len(same)
                parts.append(text + (f" ({k} scenario families)" if k > 1 else ""))
            out.append(
                {
                    "key": f"winners_{group}",
                    "text": head + ": " + "; ".join(parts) + ".",
                    "link": "fig-scoreboard",
                    "evidence": ", ".join(sub["family"]),
                }
            )
    return out


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
