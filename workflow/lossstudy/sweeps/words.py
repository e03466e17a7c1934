"""Crossovers and optima in words: one row of data per sentence, so every sentence traces to a
row of ``crossovers.csv`` or ``optima.csv``.

Only the largest ``n`` of each series is put in words (the other sample sizes are in the tables
and figures); a comparison is worded when the simulation shows a crossing or theory has one in
the swept range (then the sentence says whether the simulation confirms it).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

SENTENCE_COLUMNS = ("scenario", "knob", "fixed", "estimator", "versus", "measure", "figure", "text")


def _n_of(fixed: Any) -> float:
    m = re.search(r"(?:^|; )n=(\d+)", str(fixed) if isinstance(fixed, str) else "")
    return float(m.group(1)) if m else math.nan


def _g(x: float) -> str:
    if not math.isfinite(x):
        return "?"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    digits = max(0, 1 - mag) if abs(x) < 10 else 0
    return f"{x:.{digits}f}"


def theory_phrase(row: Any) -> str:
    """Theory beside a simulated value, worded by its kind: an asymptotic value is a limit
    ("asymptotic 4.7"), exact theory outside the interval is a disagreement."""
    theory = float(row.theory) if pd.notna(row.theory) else math.nan
    if not math.isfinite(theory):
        return ""
    kind = str(getattr(row, "theory_kind", "") or "")
    if kind == "asymptotic":
        return f" vs asymptotic {_g(theory)}"
    if str(getattr(row, "agreement", "")) == "disagrees":
        return f"; disagrees with exact theory {_g(theory)}"
    return f"; {kind + ' ' if kind else ''}theory {_g(theory)}"


def _coarse(row: Any) -> str:
    flag = getattr(row, "needs_refinement", False)
    return "; grid too coarse to locate it closer" if str(flag).lower() in ("true", "1") else ""


def _interval(row: Any) -> str:
    lo, hi = float(row.ci_low), float(row.ci_high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"(bracket {_g(float(row.bracket_low))}–{_g(float(row.bracket_high))})"
    return f"({_g(lo)}–{_g(hi)})"


def _largest_n(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(_n=frame["fixed"].map(_n_of))
    keys = ["scenario", "knob", "estimator", "versus", "measure"]
    top = frame.groupby(keys, dropna=False)["_n"].transform("max")
    keep = (frame["_n"] == top) | frame["_n"].isna()
    return frame[keep].drop(columns="_n")


def crossover_sentences(cross: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One sentence per worded crossover (see the module doc), in table order."""
    rows: list[dict[str, Any]] = []
    if cross.empty:
        return pd.DataFrame(rows, columns=list(SENTENCE_COLUMNS))
    sub = _largest_n(cross[cross["measure"].isin(["rel_mse", "coverage"])])
    for r in sub.itertuples(index=False):
        crossing = float(r.crossing)
        theory = float(r.theory) if pd.notna(r.theory) else math.nan
        fixed = str(r.fixed) if isinstance(r.fixed, str) and r.fixed else ""
        where = f" ({r.scenario}{', ' + fixed.replace('=', ' = ') if fixed else ''})"
        knob = f"<code>{r.knob}</code>"
        est, vs = f"<code>{r.estimator}</code>", f"<code>{r.versus}</code>"
        if r.measure == "coverage":
            if not math.isfinite(crossing):
                continue
            nominal, under = (
                (r.bracket_low, r.bracket_high)
                if r.better == "below"
                else (r.bracket_high, r.bracket_low)
            )
            text = (
                f"{est}'s {level:g} intervals under-cover from {knob} = {_g(float(under))} "
                f"(nominal within Monte Carlo error at {_g(float(nominal))}){where}."
            )
        elif math.isfinite(crossing):
            side = "exceeds" if r.better == "above" else "falls below"
            finite_n = (
                "a finite-n crossing of " if getattr(r, "theory_kind", "") == "asymptotic" else ""
            )
            text = (
                f"{est} beats {vs} on MSE once {knob} {side} {finite_n}{_g(crossing)} "
                f"{_interval(r)}{theory_phrase(r)}{_coarse(r)}{where}."
            )
        elif math.isfinite(theory):
            values = str(r.values).split()
            span = f"{values[0]}–{values[-1]}" if values else "the swept range"
            kind = str(getattr(r, "theory_kind", "") or "")
            text = (
                f"{kind.capitalize() + ' theory' if kind else 'Theory'} puts the crossing of "
                f"{est} and {vs} at {knob} = {_g(theory)}, but the "
                f"simulation shows no change of sign beyond Monte Carlo error over {span}"
                f"{where}: {str(r.note).split(';')[0]}."
            )
        else:
            continue
        rows.append(
            {
                "scenario": r.scenario,
                "knob": r.knob,
                "fixed": fixed,
                "estimator": r.estimator,
                "versus": r.versus,
                "measure": r.measure,
                "figure": f"sweep_{r.scenario}",
                "text": text,
            }
        )
    return pd.DataFrame(rows, columns=list(SENTENCE_COLUMNS))


def optimum_sentences(opt: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """One sentence per optimum in ``cells`` (where theory names the best parameter)."""
    rows: list[dict[str, Any]] = []
    for r in opt[opt["cell"].isin(cells)].itertuples(index=False):
        theory = float(r.theory) if pd.notna(r.theory) else math.nan
        bayes = re.search(r"Bayes rule σ²/τ² = ([0-9.e+-]+)", str(r.note))
        if bayes:
            t_text = f"; Bayes rule σ²/τ² = {_g(float(bayes.group(1)))}"
        elif math.isfinite(theory):
            t_text = f"; exact {_g(theory)}"
        else:
            t_text = ""
        if str(getattr(r, "agreement", "")) == "disagrees":
            t_text = f"; disagrees with exact theory {_g(theory)}" + (
                f" (Bayes rule σ²/τ² = {_g(float(bayes.group(1)))})" if bayes else ""
            )
        grid = re.search(r"exact curve's refined minimum is ([0-9.e+-]+)", str(r.note))
        if grid:
            t_text += f" (the grid alone moves the estimate to {_g(float(grid.group(1)))})"
        fixed = str(r.fixed) if isinstance(r.fixed, str) and r.fixed else ""
        where = f"{r.scenario}{', ' + fixed.replace('=', ' = ') if fixed else ''}"
        text = (
            f"<code>{r.estimator}</code>'s MSE of <code>{r.term}</code> is lowest at "
            f"{r.parameter} ≈ {_g(float(r.argmin))} ({_g(float(r.ci_low))}–{_g(float(r.ci_high))})"
            f"{t_text}{_coarse(r)} ({where})."
        )
        rows.append(
            {
                "scenario": r.scenario,
                "knob": r.parameter,
                "fixed": fixed,
                "estimator": r.estimator,
                "versus": "",
                "measure": r.measure,
                "figure": f"optimum_{r.estimator}",
                "text": text,
            }
        )
    return pd.DataFrame(rows, columns=list(SENTENCE_COLUMNS))
