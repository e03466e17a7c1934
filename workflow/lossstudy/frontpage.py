"""The answer in one screen: a scoreboard and at most six sentences, each a row of data first.

Why: the report's claims and crossovers are many and dense; a reader should see the answer to
"why L2, and when is it wrong?" before scrolling. Everything here is derived from the files of
earlier stages (performance table, scenario table, ``crossovers.csv``, ``optima.csv``), names
nothing by hand, and links every sentence to the figure or section that holds its evidence.

Scoreboard
    One row per scenario family (its anchor cell at the largest ``n``), one column per distinct
    point estimator (twins with identical estimates, such as OLS with other SEs, shown once).
    The winner has the smallest MSE of the focus slope; an estimator *ties* it when the
    difference is within ``threshold`` standard errors of the difference, computed as if the two
    MSEs were independent, sqrt(m_a² + m_b²) (conservative: both are estimated on the same
    datasets, which makes the true MCSE of the difference smaller, so some ties are real wins).
    ``threshold`` is Bonferroni over the board's m comparisons with a winner,
    max(2, Φ⁻¹(1 − 0.05/(2m))), as for the claims: the whole board has at most a 5% chance of
    any false "loses". Undefined MSEs (no finite moments) never win. Its rows go into
    ``claims.csv`` (:func:`board_rows`).
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
from lossstudy.mcse import bonferroni

BOARD_COLUMNS = (
    "family",
    "scenario",
    "n",
    "estimator",
    "mse",
    "mcse",
    "ratio",
    "z",
    "threshold",
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
            ratio = z = math.nan
            if best is not None and math.isfinite(v):
                vb, mb = finite[best]
                ratio = v / vb
                se = math.hypot(m, mb)
                if e != best:
                    z = (v - vb) / se if se > 0 else (0.0 if v == vb else math.inf)
            rows.append(
                {
                    "family": str(rec.base),
                    "scenario": sid,
                    "n": getattr(rec, "n", math.nan),
                    "estimator": e,
                    "mse": v,
                    "mcse": m,
                    "ratio": ratio,
                    "z": z,
                    "best": e == best,
                }
            )
    m_board = sum(1 for r in rows if math.isfinite(r["z"]))
    threshold = bonferroni(m_board)
    for r in rows:
        r["threshold"] = threshold
        if r.pop("best"):
            r["verdict"] = "wins"
        elif not math.isfinite(r["ratio"]):
            r["verdict"] = "undefined"
        else:
            # "exactly at the threshold" stays a tie despite rounding
            r["verdict"] = "ties" if abs(r["z"]) <= threshold + 1e-9 else "loses"
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


#: ``section`` of the scoreboard's rows in ``claims.csv``
BOARD_SECTION = "Scoreboard: the lowest MSE of the focus slope at the largest n"


def board_rows(board: pd.DataFrame, term: str = "x1") -> list[list[dict[str, Any]]]:
    """The scoreboard as claims: per family, one sentence and one row per judged comparison
    (the winner against the runner-up, every other estimator against the winner), in the
    columns of :data:`lossstudy.answer.table.COLUMNS` without ``claim``."""
    out: list[list[dict[str, Any]]] = []
    for family, sub in board.groupby("family", sort=False):
        win, _ = _winners(board, str(family))
        if not win:
            continue
        rec = sub.iloc[0]
        n = float(rec["n"]) if pd.notna(rec["n"]) else math.nan
        where = f"{_code(family)} (n = {int(n)})" if math.isfinite(n) else _code(family)
        lost = sub.loc[sub["verdict"] == "loses", "estimator"].tolist()
        undef = sub.loc[sub["verdict"] == "undefined", "estimator"].tolist()
        text = f"{where}: the lowest MSE of {_code(term)} is {_who(board, str(family))}"
        if lost:
            text += "; higher beyond Monte Carlo error: " + ", ".join(map(_code, lost))
        if undef:
            text += "; MSE undefined (no finite moments, or every fit failed): " + ", ".join(
                map(_code, undef)
            )
        text += "."
        others = sub[(sub["verdict"].isin(["ties", "loses"]))]
        runner = others.loc[others["z"].abs().idxmin()] if len(others) else None
        rows: list[dict[str, Any]] = []
        for r in sub.itertuples(index=False):
            base = {
                "scenario": r.scenario,
                "estimator": r.estimator,
                "term": term,
                "measure": "mse",
                "value": r.mse,
                "mcse": r.mcse,
                "theory": math.nan,
                "mcse_valid": True,
                "family": "scoreboard",
                "basis": "mc",
                "threshold": r.threshold,
            }
            if r.verdict == "wins":
                if runner is None:
                    continue
                verdict = "better" if runner["verdict"] == "loses" else "tie"
                rows.append(
                    {**base, "versus": runner["estimator"], "statistic": runner["z"]}
                    | {"verdict": verdict}
                )
            elif r.verdict == "undefined":
                rows.append(
                    {**base, "versus": "", "statistic": math.nan, "threshold": math.nan}
                    | {"verdict": "undefined", "basis": ""}
                )
            else:
                verdict = "worse" if r.verdict == "loses" else "tie"
                rows.append({**base, "versus": win[0], "statistic": r.z, "verdict": verdict})
        badge = "win" if runner is None or runner["verdict"] == "loses" else "tie"
        out.append(
            [
                {**row, "section": BOARD_SECTION, "claim_verdict": badge, "text": text}
                for row in rows
            ]
        )
    return out
