"""Section 5 (results per scenario) and section 7 (failures): performance numbers ± MCSE."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.mcse import format_pm
from lossstudy.measures import BY_NAME, names

from .long_tables import top_rows

__all__ = ["failures", "scenario_results"]

#: the measures of each scenario's table (:mod:`lossstudy.measures`)
_TABLE_MEASURES = names(in_report_table=True)
#: the per-estimator measures (term ``model``) of each scenario's prediction block
_MODEL_MEASURES = names(scope="model")
_MODEL_TERM = "model"


def _cell(
    perf_idx: Mapping[tuple[str, str, str, str], Any],
    scenario: str,
    estimator: str,
    term: str,
    measure: str,
    notes: dict[str, int],
) -> dict[str, Any]:
    r = perf_idx.get((scenario, estimator, term, measure))
    if r is None:
        return {
            "text": "",
            "value": math.nan,
            "mcse": math.nan,
            "ok": False,
            "undefined": False,
            "note": None,
            "best": False,
            "missing": True,
        }
    value, mcse, defined = float(r.value), float(r.mcse), bool(r.defined)
    text = format_pm(value, mcse)
    note_id = None
    if r.note:
        note_id = notes.setdefault(r.note, len(notes) + 1)
    ok = defined and np.isfinite(value)
    return {
        "text": text if np.isfinite(value) else "--",
        "value": value,
        "mcse": mcse,
        "ok": ok,
        "undefined": not defined,
        "note": note_id,
        "best": False,
    }


def _mark_best(cells: list[dict[str, Any]], key: Any) -> None:
    usable = [c for c in cells if c.get("ok")]
    if len(usable) < 2:
        return
    best = min(key(c["value"]) for c in usable)
    for c in usable:
        if key(c["value"]) == best:
            c["best"] = True


def scenario_results(
    perf: pd.DataFrame,
    scen_rows: list[dict[str, Any]],
    estimators: list[str],
    term: str,
    level: float,
) -> list[dict[str, Any]]:
    idx = {
        (r.scenario, r.estimator, r.term, r.measure): r
        for r in perf[
            ["scenario", "estimator", "term", "measure", "value", "mcse", "defined", "note"]
        ].itertuples(index=False)
    }
    # the term model holds per-estimator measures (prediction block), not coefficient ones
    terms = [t for t in dict.fromkeys(perf["term"]) if t != _MODEL_TERM]
    # the estimators of each scenario (an estimator's `scenarios:` may leave it out of some)
    fitted = perf.groupby("scenario", sort=False)["estimator"].agg(set).to_dict()
    groups: list[dict[str, Any]] = []
    for srow in scen_rows:
        s = srow["id"]
        if s not in fitted:
            continue
        mine = [e for e in estimators if e in fitted[s]]
        notes: dict[str, int] = {}
        table = []
        for e in mine:
            row = {"estimator": e}
            for m in _TABLE_MEASURES:
                row[m] = _cell(idx, s, e, term, m, notes)
            b, sd = row["bias"], row["empse"]
            if b["ok"] and sd["ok"]:
                b2, var = b["value"] ** 2, sd["value"] ** 2
                row["bias2"] = f"{b2:.2g}"
                row["var"] = f"{var:.2g}"
                row["share"] = f"{100 * b2 / (b2 + var):.0f}%" if b2 + var > 0 else "--"
            else:
                row["bias2"] = row["var"] = row["share"] = "--"
            table.append(row)
        prediction = _prediction_block(idx, s, mine, notes)
        for m, key in (
            ("bias", abs),
            ("empse", lambda v: v),
            ("mse", lambda v: v),
            ("coverage", lambda v: abs(v - level)),
            ("median_bias", abs),
            ("mad", lambda v: v),
        ):
            _mark_best([row[m] for row in table], key)
        others = []
        for t in terms:
            if t == term:
                continue
            for e in mine:
                cells = {
                    m: _cell(idx, s, e, t, m, notes) for m in ("bias", "empse", "mse", "coverage")
                }
                # a term without coefficient measures (``model``: test error, divergence) is
                # not a coefficient: shown in its own section, not here
                if not all(c.get("missing") for c in cells.values()):
                    others.append({"term": t, "estimator": e, **cells})
        entry = {
            **srow,
            "table": table,
            "prediction": prediction,
            "others": others,
            "notes": sorted(((i, n) for n, i in notes.items()), key=lambda t: t[0]),
        }
        if not groups or groups[-1]["group"] != srow["group"]:
            groups.append({"group": srow["group"], "scenarios": []})
        groups[-1]["scenarios"].append(entry)
    return groups


def _prediction_block(
    idx: Mapping[tuple[str, str, str, str], Any],
    scenario: str,
    estimators: list[str],
    notes: dict[str, int],
) -> dict[str, Any] | None:
    """Test-set errors of every estimator (and training diagnostics of trained fits), with the
    measures present in this scenario as columns; None when it has none (older results)."""
    shown = [
        m for m in _MODEL_MEASURES if any((scenario, e, _MODEL_TERM, m) in idx for e in estimators)
    ]
    if not shown:
        return None
    rows = []
    for e in estimators:
        row = {"estimator": e, **{m: _cell(idx, scenario, e, _MODEL_TERM, m, notes) for m in shown}}
        rows.append(row)
    for m in ("test_mse", "test_mae", "divergence", "opt_error", "objective_gap"):
        if m in shown:
            _mark_best([row[m] for row in rows], lambda v: v)
    return {"measures": shown, "labels": [BY_NAME[m].label for m in shown], "rows": rows}


def failures(perf: pd.DataFrame) -> dict[str, Any]:
    """Estimators with failed fits, highest failure rate first: the top rows and where the
    rest are (the ``failure_rate`` rows of ``performance.csv``)."""
    fr = perf[(perf["measure"] == "failure_rate")]
    fr = fr[pd.to_numeric(fr["value"], errors="coerce").fillna(0) > 0]
    fr = fr.drop_duplicates(subset=["scenario", "estimator"], keep="first")
    fr = fr.iloc[np.argsort(-pd.to_numeric(fr["value"]).to_numpy(), kind="stable")]
    rows = [
        {
            "scenario": r.scenario,
            "estimator": r.estimator,
            "rate": format_pm(float(r.value), float(r.mcse), digits=3),
            "n": int(r.n_used) if pd.notna(r.n_used) else 0,
            "note": r.note,
        }
        for r in fr.itertuples(index=False)
    ]
    return top_rows(
        rows,
        "results/performance.csv",
        "estimators with failed fits, highest rate first",
        "rows with measure = failure_rate and value > 0",
    )
