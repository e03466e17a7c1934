"""The scoreboard: who has the lowest MSE of the focus slope in each scenario family.

Why in the answer: its verdicts are claims (rows of ``claims.csv``, :func:`board_rows`), judged
by the one rule of :mod:`lossstudy.answer.compare`; the front page (:mod:`lossstudy.frontpage`)
and the scoreboard figure read the board from here.

One row per scenario family (its anchor cell at the largest ``n``), one column per distinct
point estimator (twins with identical estimates, such as OLS with other SEs, shown once).
The winner has the smallest MSE of the focus slope; an estimator *ties* it when the
difference is within ``threshold`` MCSE. The statistic is the claims': where the pair includes
the reference, its paired relative MSE against 1; otherwise (no paired MCSE in the table) the
difference over sqrt(m_a² + m_b²), which is conservative (column ``statistic`` says which).
``threshold`` is the Bonferroni z of the ``relative`` family, counting the claims' relative
comparisons and the board's together (:func:`lossstudy.answer.step.claims_and_board`); without
it, Bonferroni over the board's own comparisons. Undefined MSEs (no finite moments) never win.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.mcse import bonferroni

from .claims import _code
from .compare import call, pair_statistic
from .roles import estimator_roles

__all__ = [
    "BOARD_COLUMNS",
    "BOARD_SECTION",
    "board_rows",
    "comparisons",
    "scoreboard",
    "who",
    "winners",
]

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
    "statistic",
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
    *,
    reference: str | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Who wins on the focus slope's MSE in each family (see the module doc); ``reference``
    (default: the first OLS estimator) is the one the paired relative MSEs compare with."""
    roles = estimator_roles(list(estimators), specs)
    if reference is None or reference not in roles:
        reference = next((e for e in estimators if roles[e]["method"] == "ols"), None)
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
    rel = perf[(perf["term"].astype(str) == term) & (perf["measure"] == "rel_mse")]
    rel_ok = rel["defined"].astype(str).str.lower().isin(["true", "1"])
    paired = {
        (s, e): (float(v), float(m))
        for s, e, v, m in zip(
            rel["scenario"].astype(str),
            rel["estimator"].astype(str),
            pd.to_numeric(rel["value"], errors="coerce").where(rel_ok),
            pd.to_numeric(rel["mcse"], errors="coerce").where(rel_ok),
            strict=True,
        )
    }
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
            how = ""
            if best is not None and math.isfinite(v):
                vb, mb = finite[best]
                ratio = v / vb
                if e != best:
                    pair = (
                        paired.get((sid, best)) if e == reference
                        else paired.get((sid, e)) if best == reference
                        else None
                    )  # fmt: skip
                    z, how = pair_statistic((v, m), (vb, mb), pair, e == reference)
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
                    "statistic": how,
                }
            )
    if threshold is None:
        threshold = bonferroni(comparisons(pd.DataFrame(rows, columns=["z"])))
    for r in rows:
        r["threshold"] = threshold
        if r.pop("best"):
            r["verdict"] = "wins"
        elif not math.isfinite(r["ratio"]):
            r["verdict"] = "undefined"
        else:
            r["verdict"] = "ties" if call(r["z"], threshold) == "tie" else "loses"
    return pd.DataFrame(rows, columns=list(BOARD_COLUMNS))


def comparisons(board: pd.DataFrame) -> int:
    """The board's judged comparisons (every finite statistic against a winner)."""
    return int(np.isfinite(pd.to_numeric(board["z"], errors="coerce")).sum())


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
                "family": "relative",
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
