"""Rule ``claims``: ``results/claims.csv`` and ``results/scoreboard.csv`` from the files the
workflow wrote.

Why here: the claims are this package's product, so the step that writes them lives with them;
the report only reads the file. :func:`study_tables` is also how the report reads the
performance and scenario tables, so both show the same cells and estimators: the sweeps'
anchors (:func:`representative`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lossstudy.io import atomic_path
from lossstudy.performance import read_performance
from lossstudy.studyfile import anchors, read_estimators, read_study
from lossstudy.trained import exact_fits

from . import answer_table, thresholds
from .scoreboard import board_rows, comparisons, scoreboard
from .table import write_claims_csv

__all__ = [
    "StudyTables",
    "claims_and_board",
    "claims_table",
    "representative",
    "scoreboard_path",
    "study_scoreboard",
    "study_tables",
    "write_claims",
]


def representative(
    perf: pd.DataFrame, scen: pd.DataFrame, estimators: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-scenario view: sweep anchors only, and only ``estimators`` (default: all).

    Per-scenario figures, tables and claims read this view, so a sweep adds one figure rather
    than a panel per member; the sweep figures and tables read everything.
    """
    if "anchor" in scen.columns:
        keep = scen["anchor"].astype(str).str.lower().isin(["true", "1"])
        scen = scen[keep].reset_index(drop=True)
    perf = perf[perf["scenario"].astype(str).isin(set(scen["scenario"].astype(str)))]
    if estimators is not None:
        perf = perf[perf["estimator"].astype(str).isin(set(estimators))]
    return perf.reset_index(drop=True), scen


@dataclass
class StudyTables:
    """The performance and scenario tables as the claims and the report read them: every cell
    (``*_all``) and the cells and estimators the per-scenario sections show (the anchors)."""

    perf_all: pd.DataFrame
    scen_all: pd.DataFrame
    perf: pd.DataFrame
    scen: pd.DataFrame
    #: estimator -> resolved spec (``{"method": "unknown"}`` for one the study does not name)
    estimators: dict[str, dict[str, Any]]
    term: str


def study_tables(
    study: Mapping[str, Any],
    shown: list[str],
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    term: str,
) -> StudyTables:
    """Read both tables once, keeping the ``shown`` estimators (the anchors) in the per-scenario
    view; ``term`` falls back on the first slope the table has."""
    perf_all = read_performance(performance_csv)
    scen_all = pd.read_csv(scenarios_csv)
    scen_all["scenario"] = scen_all["scenario"].astype(str)
    perf, scen = representative(perf_all, scen_all, shown)
    estimators = {str(k): dict(v) for k, v in study["estimators"].items()}
    for e in dict.fromkeys(perf["estimator"]):
        estimators.setdefault(e, {"method": "unknown"})
    terms = list(dict.fromkeys(perf["term"]))
    if term not in terms:
        slopes = [t for t in terms if t not in ("intercept", "model")]
        term = slopes[0] if slopes else (terms[0] if terms else term)
    return StudyTables(perf_all, scen_all, perf, scen, estimators, term)


def claims_table(
    study: Mapping[str, Any],
    tables: StudyTables,
    theory: pd.DataFrame | None,
) -> pd.DataFrame:
    """The answer's claims and the scoreboard's, one row per comparison."""
    return claims_and_board(study, tables, theory)[0]


def claims_and_board(
    study: Mapping[str, Any], tables: StudyTables, theory: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``claims.csv`` and the scoreboard, judged at one threshold for every comparison of two
    estimators: Bonferroni over the claims' relative comparisons and the board's together
    (:mod:`lossstudy.answer.compare`). The board's statistics do not depend on the threshold,
    so it is counted first and judged once the threshold is known."""
    perf, scen, estimators, term = tables.perf, tables.scen, tables.estimators, tables.term
    kw: dict[str, Any] = {
        "estimators": estimators,
        "level": float(study["level"]),
        "theory": theory,
        "extra_counts": {"relative": comparisons(study_scoreboard(tables))},
    }
    ref = study["reference"] or None
    zs = thresholds(perf, scen, ref, term, **kw)
    board = study_scoreboard(tables, zs.get("relative"))
    frame = answer_table(
        perf, scen, ref, term, extra=board_rows(board, term) if not board.empty else (), **kw
    )
    return frame, board


def study_scoreboard(tables: StudyTables, threshold: float | None = None) -> pd.DataFrame:
    """Who wins on the focus slope's MSE in each family (:mod:`.scoreboard`), over every
    exactly fitted estimator of the performance table: trained members (gradient solvers) are
    judged in the report's training section, against their exact fits, not on this board."""
    shown = exact_fits(dict.fromkeys(tables.perf["estimator"].astype(str)), tables.estimators)
    return scoreboard(
        tables.perf, tables.scen, shown, tables.estimators, tables.term, threshold=threshold
    )


def write_claims(
    study_json: str | Path,
    estimators_csv: str | Path,
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    theory_csv: str | Path,
    out_csv: str | Path,
    out_scoreboard: str | Path | None = None,
    *,
    term: str = "x1",
) -> None:
    """Rule ``claims``: ``results/claims.csv`` (see :func:`claims_table`) and the scoreboard
    behind its scoreboard rows, ``results/scoreboard.csv`` (beside it unless
    ``out_scoreboard`` says otherwise), which the report's front page reads."""
    study = read_study(study_json)
    shown = anchors(read_estimators(estimators_csv))
    tables = study_tables(study, shown, performance_csv, scenarios_csv, term)
    theory = pd.read_csv(theory_csv, keep_default_na=False, na_values=[""])
    frame, board = claims_and_board(study, tables, theory)
    write_claims_csv(frame, out_csv)
    out_scoreboard = scoreboard_path(out_csv) if out_scoreboard is None else out_scoreboard
    with atomic_path(out_scoreboard) as tmp:
        board.to_csv(tmp, index=False)


def scoreboard_path(claims_csv: str | Path) -> Path:
    """Where the claims step writes the scoreboard by default: beside ``claims.csv``."""
    return Path(claims_csv).with_name("scoreboard.csv")
