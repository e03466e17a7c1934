"""Section 4, "Does the simulation agree with theory?", from ``results/theory.csv``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.mcse import P_CHANCE, Z_FLAG, format_pm, mcse_digits
from lossstudy.theory import FLOOR_NOTE, QUANTITIES, flagged_rows, outside_the_theorem

from .long_tables import top_rows

__all__ = ["theory_section"]


def theory_section(
    theory_csv: str | Path | None,
    skipped_csv: str | Path | None,
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    scen_rows: list[dict[str, Any]],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str,
    term: str,
) -> dict[str, Any]:
    """The section "Does the simulation agree with theory?" from ``results/theory.csv``."""
    empty = {"available": False, "z_flag": f"{Z_FLAG:g}"}
    if theory_csv is None or not Path(theory_csv).exists():
        return empty
    tab = pd.read_csv(theory_csv, keep_default_na=False, na_values=[""])
    if tab.empty:
        return {**empty, "available": True, "n_rows": 0, "scenarios": [], "summary": []}
    for col in ("note", "versus"):  # an all-empty column reads as float64: "" is no float
        tab[col] = tab[col].astype(object).fillna("").astype(str)
    tab["flag"] = tab["flag"].map(lambda v: str(v).strip().lower() in ("true", "1"))
    for col in ("simulated", "mcse", "theoretical", "z"):
        tab[col] = pd.to_numeric(tab[col], errors="coerce")
    kinds = {"exact": 0, "asymptotic": 1, "ordering": 2}
    qorder = {q: i for i, q in enumerate(QUANTITIES)}

    def row(r: Any, notes: dict[str, int] | None) -> dict[str, Any]:
        digits = mcse_digits(float(r.mcse))
        theo = float(r.theoretical)
        if r.relation == "=":
            theo_text = f"{theo:.{min(digits + 1, 7)}f}" if np.isfinite(theo) else "--"
        else:
            theo_text = f"{'≥' if r.relation == '>=' else '≤'} {theo:g}"
        note_id = None
        if notes is not None and r.note:
            note_id = notes.setdefault(r.note, len(notes) + 1)
        return {
            "scenario": r.scenario,
            "estimator": r.estimator,
            "versus": r.versus,
            "term": r.term,
            "quantity": QUANTITIES.get(r.quantity, r.quantity),
            "kind": r.kind,
            "simulated": (
                "= theory (rounding only)"
                if FLOOR_NOTE in r.note
                else format_pm(float(r.simulated), float(r.mcse))
            ),
            "theoretical": theo_text,
            "z": f"{float(r.z):+.1f}" if np.isfinite(r.z) else "--",
            "flag": bool(r.flag),
            "note": r.note,
            "note_id": note_id,
        }

    summary = []
    for (kind, q), grp in sorted(
        tab.groupby(["kind", "quantity"]),
        key=lambda kv: (kinds.get(kv[0][0], 9), qorder.get(kv[0][1], 99)),
    ):
        flagged = grp[grp["flag"]]
        summary.append(
            {
                "kind": kind,
                "quantity": QUANTITIES.get(q, q),
                "rows": len(grp),
                "scenarios": grp["scenario"].nunique(),
                "agree": int((~grp["flag"]).sum()),
                "flagged": len(flagged),
                "explained": int((flagged["note"] != "").sum()),
                "chance": int(flagged["note"].str.contains("by chance alone", regex=False).sum()),
                "max_z": f"{grp['z'].abs().max():.1f}" if grp["z"].notna().any() else "--",
            }
        )
    # per-scenario detail for the scenarios and estimators the report shows (sweep anchors);
    # the summary and the flagged rows above cover every cell and estimator of the study
    order = [r["id"] for r in scen_rows]
    shown = set(perf["estimator"].astype(str))
    by_scenario = []
    for sid in order:
        sub = tab[(tab["scenario"] == sid) & tab["estimator"].astype(str).isin(shown)]
        if sub.empty:
            continue
        notes: dict[str, int] = {}
        rows = [row(r, notes) for r in sub.itertuples(index=False)]
        by_scenario.append(
            {
                "id": sid,
                "rows": rows,
                "n_flagged": int(sub["flag"].sum()),
                "kinds": ", ".join(
                    f"{(sub['kind'] == k).sum()} {k}" for k in kinds if (sub["kind"] == k).any()
                ),
                "notes": sorted(((i, n) for n, i in notes.items()), key=lambda t: t[0]),
            }
        )
    skipped: list[dict[str, Any]] = []
    if skipped_csv is not None and Path(skipped_csv).exists():
        sk = pd.read_csv(skipped_csv, keep_default_na=False, na_values=[""]).fillna("")
        for (check, reason), grp in sk.groupby(["check", "reason"], sort=False):
            where = [
                f"{r.scenario} ({r.estimator})" if r.estimator else str(r.scenario)
                for r in grp.itertuples(index=False)
            ]
            skipped.append({"check": check, "reason": reason, "where": where})
    gm = scen.loc[scen.get("gauss_markov", pd.Series(dtype=str)).astype(str) == "holds", "scenario"]
    n_exact = int((tab["kind"] == "exact").sum())
    flagged = flagged_rows(tab)
    linked = {s["id"] for s in by_scenario}
    return {
        "available": True,
        "z_flag": f"{Z_FLAG:g}",
        "n_rows": len(tab),
        "n_scenarios": tab["scenario"].nunique(),
        "n_exact": n_exact,
        "chance": f"{n_exact * P_CHANCE:.1f}",
        "p_chance": f"{100 * P_CHANCE:.2f}",
        "n_flagged": len(flagged),
        "n_unexplained": int((flagged["note"] == "").sum()),
        "summary": summary,
        # the largest |z| first; a flagged row links to its scenario's detail only where the
        # report shows one; all of them are in theory_flagged.csv (the theory job writes it)
        "flagged": top_rows(
            [
                {**row(r, None), "linked": r.scenario in linked}
                for r in flagged.itertuples(index=False)
            ],
            "results/theory_flagged.csv",
            "flagged comparisons, largest |z| first",
        ),
        "scenarios": by_scenario,
        "skipped": skipped,
        "outside": outside_the_theorem(perf, list(gm), estimators, reference or None, term),
        "term": term,
    }
