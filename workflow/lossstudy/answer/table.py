"""``results/claims.csv``: every generated claim, one row per comparison it judges.

Why a table: a sentence of the answer is only as good as the comparisons behind it, so each
comparison becomes a row first (numbers, test, threshold, verdict) and the report renders the
sentences from these rows. A reader can filter the file for every verdict on one estimator, count
false-verdict opportunities per family, or check a sentence against its numbers.

Columns (:data:`COLUMNS`): ``claim`` numbers the sentence (rows of one sentence share it, with its
``section``, overall ``claim_verdict`` and HTML ``text``); ``versus`` is empty for one-estimator
claims (bias, coverage); ``statistic`` is the distance from the null (1 for a ratio, 0 for a
bias, the nominal level for coverage) in MCSE; ``threshold`` is the z that ``statistic`` had to
exceed (the family's Bonferroni threshold, or the theory check's bar where theory fixes the
answer); ``basis`` says who decided (``mc``, ``theory``, ``contrary``: see
:func:`lossstudy.answer.claims.judge`), ``theory`` the exact value where one is known, and
``mcse_valid`` whether the MCSE rests on moments that exist. ``verdict`` is one of
:data:`VERDICTS`.

Numbers a sentence cites without judging them (the reference's EmpSE, a median bias, a MAD) are
not comparisons and are not rows; they are in ``performance.csv``. A sentence that judges no
comparison at all keeps one row with an empty verdict, so that it still renders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy.io import atomic_path
from lossstudy.mcse import ALPHA, bonferroni, format_pm

from .claims import FAMILIES, TOPICS, Claim, Number, Thresholds, judge

COLUMNS = [
    "claim",
    "section",
    "scenario",
    "estimator",
    "versus",
    "term",
    "measure",
    "value",
    "mcse",
    "statistic",
    "threshold",
    "verdict",
    "basis",
    "theory",
    "mcse_valid",
    "family",
    "claim_verdict",
    "text",
]

VERDICTS = (
    "better",
    "worse",
    "tie",
    "biased",
    "unbiased",
    "undercovers",
    "overcovers",
    "nominal",
    "undefined",
)

#: generic verdict of :func:`judge` -> the word of claims.csv, per family
_WORDS: dict[str, dict[str, str]] = {
    "relative": {"win": "better", "loss": "worse", "tie": "tie"},
    "robust": {"win": "better", "loss": "worse", "tie": "tie"},
    "bias": {"win": "biased", "loss": "biased", "tie": "unbiased"},
    "coverage": {"win": "overcovers", "loss": "undercovers", "tie": "nominal"},
}


def _null(family: str, level: float) -> float:
    return {"relative": 1.0, "bias": 0.0, "coverage": level}.get(family, 0.0)


def _number_row(
    num: Number, reference: str, level: float, thresholds: Thresholds
) -> dict[str, Any] | None:
    """The comparison a cited number stands for (None for a number cited as context)."""
    family = FAMILIES.get(num.measure, "")
    failed = num.measure == "failure_rate" and np.isfinite(num.value) and num.value >= 1.0
    if not family and num.defined and not failed:
        return None
    versus = reference if family == "relative" else ""
    base = {
        "scenario": num.scenario,
        "estimator": num.estimator,
        "versus": versus,
        "term": num.term,
        "measure": num.measure,
        "value": num.value,
        "mcse": num.mcse,
        "theory": num.theory,
        "mcse_valid": bool(num.mcse_valid),
        "family": family,
    }
    if failed or not family:
        # every fit failed (rank deficiency) or the moment does not exist: no comparison
        return {**base, "statistic": math.nan, "threshold": math.nan, "verdict": "undefined"}
    j = judge(num, _null(family, level), thresholds)
    verdict = "undefined" if j.verdict == "undefined" else _WORDS[family][j.verdict]
    return {
        **base,
        "statistic": j.statistic,
        "threshold": j.threshold,
        "verdict": verdict,
        "basis": j.basis if verdict != "undefined" else "",
    }


def claim_rows(
    claims: Sequence[Claim], reference: str, level: float, thresholds: Thresholds
) -> list[dict[str, Any]]:
    """One row per comparison of every claim, in the order of the claims (see module doc),
    judged with the family ``thresholds`` the claims were written with."""
    rows: list[dict[str, Any]] = []
    for i, c in enumerate(claims, start=1):
        head = {
            "claim": i,
            "section": TOPICS.get(c.topic, c.topic),
            "claim_verdict": c.verdict,
            "text": c.text,
        }
        seen: set[tuple[str, str, str]] = set()
        mine: list[dict[str, Any]] = []
        for num in c.numbers:
            key = (num.scenario, num.estimator, num.measure)
            if key in seen:
                continue
            seen.add(key)
            row = _number_row(num, reference, level, thresholds)
            if row is not None:
                mine.append(row)
        for pair in c.pairs:
            mine.append(
                {
                    "term": c.numbers[0].term if c.numbers else "",
                    "theory": math.nan,
                    "mcse_valid": True,
                    "family": FAMILIES.get(str(pair.get("measure")), ""),
                    **pair,
                }
            )
        if not mine:  # a sentence that judges nothing still traces to one row
            mine.append({"term": c.numbers[0].term if c.numbers else "", "verdict": ""})
        rows.extend({**head, **r} for r in mine)
    return rows


def claims_frame(
    claims: Sequence[Claim],
    reference: str,
    level: float,
    thresholds: Thresholds,
    extra: Sequence[Sequence[dict[str, Any]]] = (),
) -> pd.DataFrame:
    """:func:`claim_rows` as a frame with :data:`COLUMNS` in order; ``extra`` appends further
    sentences, each given as its rows without ``claim`` (e.g. the scoreboard's)."""
    rows = claim_rows(claims, reference, level, thresholds)
    first = len(claims) + 1
    for i, sentence in enumerate(extra):
        rows.extend({"claim": first + i, **r} for r in sentence)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["basis"] = frame["basis"].fillna("")
    frame["versus"] = frame["versus"].fillna("")
    return frame


def write_claims_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write atomically, with full float precision (the report re-reads the values)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.17g")


def read_claims_csv(path: str | Path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for col in ("versus", "basis", "family", "text", "section", "claim_verdict"):
        frame[col] = frame[col].fillna("").astype(str)
    frame["mcse_valid"] = frame["mcse_valid"].map(lambda v: str(v).strip().lower() == "true")
    return frame


def family_sizes_of(frame: pd.DataFrame) -> dict[str, int]:
    """Distinct judged comparisons per verdict family (undefined rows judge nothing)."""
    judged = _distinct(frame[(frame["family"] != "") & (frame["verdict"] != "undefined")])
    return {str(f): len(g) for f, g in judged.groupby("family", sort=False)}


def _distinct(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison: a with b is the same comparison as b with a."""
    pair = [
        "|".join(sorted((str(e), str(v))))
        for e, v in zip(frame["estimator"], frame["versus"], strict=True)
    ]
    keys = ["scenario", "_pair", "term", "measure"]
    return frame.assign(_pair=pair).drop_duplicates(subset=keys).drop(columns="_pair")


def multiplicity_of(frame: pd.DataFrame, alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Per verdict family: comparisons m, the Bonferroni z, verdicts called (not a tie, not
    ``unbiased``/``nominal``), those resting on an unreliable MCSE, and the bound on the expected
    number of false verdicts: E[V] ≤ α·m₀/m ≤ α (Bonferroni at family-wise level α)."""
    out = []
    nulls = {"tie", "unbiased", "nominal", "undefined"}
    for family, m in family_sizes_of(frame).items():
        sub = _distinct(frame[(frame["family"] == family) & (frame["verdict"] != "undefined")])
        called = sub[~sub["verdict"].isin(nulls)]
        out.append(
            {
                "family": family,
                "m": m,
                "z": bonferroni(m, alpha),
                "called": int(len(called)),
                "by_theory": int((sub["basis"] == "theory").sum()),
                "unreliable": int((~sub["mcse_valid"]).sum()),
                "expected_false": alpha,
            }
        )
    return out


_BASIS = {"mc": "Monte Carlo", "theory": "theory", "contrary": "Monte Carlo, contrary to theory"}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the report's evidence table shows it (rounded to the MCSE's precision)."""

    def num(v: Any, fmt: str) -> str:
        return format(float(v), fmt) if v is not None and np.isfinite(float(v)) else ""

    theory = row.get("theory")
    basis = _BASIS.get(str(row.get("basis", "")), "")
    if basis and theory is not None and np.isfinite(float(theory)):
        basis += f" (exactly {float(theory):.4g})"
    return {
        **row,
        "shown": format_pm(float(row["value"]), float(row["mcse"])),
        "z": num(row.get("statistic"), ".1f"),
        "thr": num(row.get("threshold"), ".2f"),
        "basis_text": basis,
    }


def claim_groups(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The report's claims, section by section, each with its rows, rebuilt from the table."""
    sections: dict[str, dict[str, Any]] = {}
    for cid, rows in frame.groupby("claim", sort=True):
        first = rows.iloc[0]
        sec = sections.setdefault(
            first["section"], {"heading": first["section"], "claims": [], "topic": ""}
        )
        sec["claims"].append(
            {
                "id": int(cid),
                "text": first["text"],
                "verdict": first["claim_verdict"],
                "rows": [_shown(r) for r in rows.to_dict("records") if r["verdict"]],
            }
        )
    return list(sections.values())
