"""The answer in one screen: a scoreboard and at most six sentences, each a row of data first.

Why: the report's claims and crossovers are many and dense; a reader should see the answer to
"why L2, and when is it wrong?" before scrolling. Everything here is derived from the files of
earlier stages (performance table, scenario table, ``crossovers.csv``, ``optima.csv``), names
nothing by hand, and links every sentence to the figure or section that holds its evidence.

Scoreboard
    One row per scenario family (its anchor cell at the largest ``n``), one column per distinct
    point estimator (twins with identical estimates, such as OLS with other SEs, shown once).
    The winner has the smallest MSE of the focus slope; an estimator *ties* it when the
    difference is within ``Z_TIE`` standard errors of the difference, computed as if the two
    MSEs were independent, sqrt(m_a² + m_b²) (conservative: both are estimated on the same
    datasets, which makes the true MCSE of the difference smaller, so some ties are real wins).
    Undefined MSEs (no finite moments) never win.
Sentences
    1. every Gauss–Markov assumption holding with normal errors: who wins there;
    2.–4. one per error-distribution sweep (at most three): each robust estimator's crossing
       with the reference at the largest ``n``, with its interval and theory;
    5. the families where an assumption breaks: who wins each;
    6. an estimator sweep's optimum where theory names the best value (the Bayes rule).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.answer.roles import ASSUMPTIONS, estimator_roles

Z_TIE = 2.0
BOARD_COLUMNS = (
    "family",
    "scenario",
    "n",
    "estimator",
    "mse",
    "mcse",
    "ratio",
    "verdict",
)
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


def _largest_anchor(scen: pd.DataFrame) -> pd.DataFrame:
    """Per family (``base``), its anchor cell with the largest n, in file order."""
    sc = scen.copy()
    if "anchor" in sc.columns:
        sc = sc[sc["anchor"].astype(str).str.lower().isin(["true", "1"])]
    sc = sc.assign(_n=pd.to_numeric(sc.get("n", np.nan), errors="coerce").fillna(0))
    keep = sc.groupby(sc["base"].astype(str), sort=False)["_n"].transform("max") == sc["_n"]
    return sc[keep].drop_duplicates("base").drop(columns="_n")


def scoreboard(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    estimators: Sequence[str],
    specs: Mapping[str, Mapping[str, Any]] | None = None,
    term: str = "x1",
) -> pd.DataFrame:
    """Who wins on the focus slope's MSE in each family (see the module doc)."""
    roles = estimator_roles(list(estimators), specs)
    seen: set[Any] = set()
    shown = []
    for e in estimators:  # one column per point estimator
        if roles[e]["point"] not in seen:
            seen.add(roles[e]["point"])
            shown.append(e)
    sub = perf[(perf["term"].astype(str) == term) & (perf["measure"] == "mse")]
    ok = sub["defined"].astype(str).str.lower().isin(["true", "1"])
    val = pd.to_numeric(sub["value"], errors="coerce").where(ok)
    mc = pd.to_numeric(sub["mcse"], errors="coerce").where(ok)
    look = {
        (s, e): (float(v), float(m))
        for s, e, v, m in zip(sub["scenario"].astype(str), sub["estimator"].astype(str), val, mc,
                              strict=True)
    }  # fmt: skip
    rows: list[dict[str, Any]] = []
    for rec in _largest_anchor(scen).itertuples(index=False):
        sid = str(rec.scenario)
        vals = {e: look.get((sid, e), (math.nan, math.nan)) for e in shown}
        finite = {e: vm for e, vm in vals.items() if math.isfinite(vm[0])}
        best = min(finite, key=lambda e: finite[e][0]) if finite else None
        for e in shown:
            v, m = vals[e]
            if best is None or not math.isfinite(v):
                verdict, ratio = "undefined", math.nan
            else:
                vb, mb = finite[best]
                ratio = v / vb
                if e == best:
                    verdict = "wins"
                elif abs(v - vb) <= Z_TIE * math.hypot(m, mb):
                    verdict = "ties"
                else:
                    verdict = "loses"
            rows.append(
                {
                    "family": str(rec.base),
                    "scenario": sid,
                    "n": getattr(rec, "n", math.nan),
                    "estimator": e,
                    "mse": v,
                    "mcse": m,
                    "ratio": ratio,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows, columns=list(BOARD_COLUMNS))


def _winners(board: pd.DataFrame, family: str) -> tuple[list[str], list[str]]:
    sub = board[board["family"] == family]
    return (
        sub.loc[sub["verdict"] == "wins", "estimator"].tolist(),
        sub.loc[sub["verdict"] == "ties", "estimator"].tolist(),
    )


def _who(board: pd.DataFrame, family: str) -> str:
    win, tie = _winners(board, family)
    if not win:
        return "no estimator has a finite MSE"
    text = _code(win[0])
    if tie:
        text += " (tied within Monte Carlo error with " + ", ".join(_code(t) for t in tie) + ")"
    return text


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
                theory = f"; theory {_g(float(r.theory))}" if pd.notna(r.theory) else ""
                parts.append(
                    f"{_code(r.estimator)} {side} {_g(float(r.crossing))} "
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
        if gone and win and win[0] != reference:
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
