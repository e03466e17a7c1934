"""The scoreboard: who has the lowest MSE of the focus slope in each scenario family.

Why in the answer: its verdicts are claims (rows of ``claims.csv``, :func:`board_rows`), judged
by the same Bonferroni rule; the front page (:mod:`lossstudy.frontpage`) and the scoreboard
figure read the board from here.

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.mcse import bonferroni

from .claims import _code
from .roles import estimator_roles

__all__ = ["BOARD_COLUMNS", "BOARD_SECTION", "board_rows", "scoreboard", "who", "winners"]

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
    # an estimator fitted only in some scenarios (`scenarios:` patterns) has no row elsewhere
    fitted = set(zip(sub["scenario"].astype(str), sub["estimator"].astype(str), strict=True))
    rows: list[dict[str, Any]] = []
    for rec in _largest_anchor(scen).itertuples(index=False):
        sid = str(rec.scenario)
        mine = [e for e in shown if (sid, e) in fitted]
        vals = {e: look.get((sid, e), (math.nan, math.nan)) for e in mine}
        finite = {e: vm for e, vm in vals.items() if math.isfinite(vm[0])}
        best = min(finite, key=lambda e: finite[e][0]) if finite else None
        for e in mine:
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


def winners(board: pd.DataFrame, family: str) -> tuple[list[str], list[str]]:
    sub = board[board["family"] == family]
    return (
        sub.loc[sub["verdict"] == "wins", "estimator"].tolist(),
        sub.loc[sub["verdict"] == "ties", "estimator"].tolist(),
    )


def who(board: pd.DataFrame, family: str) -> str:
    win, tie = winners(board, family)
    if not win:
        return "no estimator has a finite MSE"
    text = _code(win[0])
    if tie:
        text += " (tied within Monte Carlo error with " + ", ".join(_code(t) for t in tie) + ")"
    return text


#: ``section`` of the scoreboard's rows in ``claims.csv``
BOARD_SECTION = "Scoreboard: the lowest MSE of the focus slope at the largest n"


def board_rows(board: pd.DataFrame, term: str = "x1") -> list[list[dict[str, Any]]]:
    """The scoreboard as claims: per family, one sentence and one row per judged comparison
    (the winner against the runner-up, every other estimator against the winner), in the
    columns of :data:`lossstudy.answer.table.COLUMNS` without ``claim``."""
    out: list[list[dict[str, Any]]] = []
    for family, sub in board.groupby("family", sort=False):
        win, _ = winners(board, str(family))
        if not win:
            continue
        rec = sub.iloc[0]
        n = float(rec["n"]) if pd.notna(rec["n"]) else math.nan
        where = f"{_code(family)} (n = {int(n)})" if math.isfinite(n) else _code(family)
        lost = sub.loc[sub["verdict"] == "loses", "estimator"].tolist()
        undef = sub.loc[sub["verdict"] == "undefined", "estimator"].tolist()
        text = f"{where}: the lowest MSE of {_code(term)} is {who(board, str(family))}"
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
