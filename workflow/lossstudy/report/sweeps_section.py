"""The answer in one screen (the front page) and "when does L2 stop winning?" (the sweeps)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from lossstudy.figures import optimum_cells
from lossstudy.frontpage import winner_rows, winner_sentences
from lossstudy.reasons import reason_rows, wrong_choice_rows
from lossstudy.sweeps.words import crossover_sentences, optimum_sentences

__all__ = ["bias_lookup", "front_page", "read_scoreboard", "sweeps_section"]


def _read(path: str | Path | None) -> pd.DataFrame | None:
    if path is None or not Path(path).exists():
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def sweeps_section(
    crossovers_csv: str | Path | None,
    optima_csv: str | Path | None,
    scen: pd.DataFrame,
    level: float,
) -> dict[str, Any]:
    """Crossovers and optima in words and as a table (``lossstudy.sweeps``)."""
    out: dict[str, Any] = {
        "available": False,
        "sentences": [],
        "coverage": [],
        "rows": [],
        "optima": [],
    }
    if crossovers_csv is None or not Path(crossovers_csv).exists():
        return out
    cross = pd.read_csv(crossovers_csv, keep_default_na=False, na_values=[""])
    opt = _read(optima_csv)
    if opt is None:
        opt = pd.DataFrame(columns=["cell"])
    words = pd.concat(
        [crossover_sentences(cross, level), optimum_sentences(opt, optimum_cells(scen))],
        ignore_index=True,
    )

    def num(v: Any) -> str:
        f = float(v) if pd.notna(v) else math.nan
        return f"{f:.4g}" if math.isfinite(f) else ""

    rows = [
        {
            "scenario": r.scenario,
            "knob": r.knob,
            "fixed": r.fixed if isinstance(r.fixed, str) else "",
            "estimator": r.estimator,
            "versus": r.versus,
            "measure": r.measure,
            "bracket": f"{num(r.bracket_low)}–{num(r.bracket_high)}" if num(r.crossing) else "",
            "crossing": num(r.crossing),
            "ci": f"{num(r.ci_low)}–{num(r.ci_high)}" if num(r.crossing) else "",
            "theory": _with_agreement(num(r.theory), r),
            "note": r.note if isinstance(r.note, str) else "",
        }
        for r in cross.itertuples(index=False)
        if r.measure in ("rel_mse", "coverage") and (num(r.crossing) or num(r.theory))
    ]
    optima = [
        {
            "scenario": r.scenario,
            "fixed": r.fixed if isinstance(r.fixed, str) else "",
            "estimator": r.estimator,
            "parameter": r.parameter,
            "argmin": num(r.argmin),
            "ci": f"{num(r.ci_low)}–{num(r.ci_high)}",
            "theory": _with_agreement(num(r.theory), r),
            "note": r.note if isinstance(r.note, str) else "",
        }
        for r in opt.itertuples(index=False)
        if r.cell in set(optimum_cells(scen))
    ]
    coverage = words["measure"] == "coverage"
    disagree = disagreements(cross, opt)
    return {
        "available": True,
        "sentences": words[~coverage].to_dict("records"),
        "coverage": words[coverage].to_dict("records"),
        "rows": rows,
        "n_rows": len(cross),
        "optima": optima,
        "n_optima": len(opt),
        "disagreements": disagree,
        "n_exact": _exact_count(cross) + _exact_count(opt),
    }


def _exact_count(table: pd.DataFrame) -> int:
    """Rows located beside exact theory (``agreement`` covered or disagrees)."""
    if "agreement" not in table:
        return 0
    return int(table["agreement"].astype(str).isin(["covered", "disagrees"]).sum())


def disagreements(cross: pd.DataFrame, opt: pd.DataFrame) -> list[str]:
    """Every crossing and optimum whose interval misses its exact theory, in words (the rows
    with ``agreement`` = disagrees of crossovers.csv and optima.csv): a disagreement is said,
    not hidden in a table."""

    def g(v: Any) -> str:
        f = float(v) if pd.notna(v) else math.nan
        return f"{f:.4g}" if math.isfinite(f) else "?"

    out = []
    for r in cross.itertuples(index=False):
        if str(getattr(r, "agreement", "")) == "disagrees":
            out.append(
                f"{html.escape(str(r.estimator))} against {html.escape(str(r.versus))} on "
                f"{html.escape(str(r.measure))} along {html.escape(str(r.knob))} in "
                f"{html.escape(str(r.scenario))} ({html.escape(str(r.fixed))}): crossing "
                f"{g(r.crossing)} (95% interval {g(r.ci_low)}–{g(r.ci_high)}) disagrees with "
                f"exact theory {g(r.theory)}"
            )
    for r in opt.itertuples(index=False):
        if str(getattr(r, "agreement", "")) == "disagrees":
            out.append(
                f"the best {html.escape(str(r.parameter))} of {html.escape(str(r.estimator))} "
                f"in {html.escape(str(r.cell))}: {g(r.argmin)} (95% interval "
                f"{g(r.ci_low)}–{g(r.ci_high)}) disagrees with exact theory {g(r.theory)}"
            )
    return out


def _with_agreement(theory: str, row: Any) -> str:
    """The theory value with how the row relates to it: "(asymptotic)" for a limit a finite-n
    value need not reach, "(disagrees)" where exact theory lies outside the interval."""
    agreement = str(getattr(row, "agreement", "") or "")
    word = {"finite-n": "asymptotic", "disagrees": "disagrees"}.get(agreement, "")
    return f"{theory} ({word})" if theory and word else theory


def read_scoreboard(path: str | Path) -> pd.DataFrame:
    """The claims step's ``results/scoreboard.csv`` (:mod:`lossstudy.answer.scoreboard`)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def bias_lookup(perf: pd.DataFrame, term: str) -> dict[tuple[str, str], tuple[float, float]]:
    """(scenario, estimator) -> (bias, MCSE) of ``term``, for the labels of the front page."""
    sub = perf[(perf["term"].astype(str) == term) & (perf["measure"] == "bias")]
    return {
        (str(s), str(e)): (float(v), float(m))
        for s, e, v, m in zip(
            sub["scenario"],
            sub["estimator"],
            pd.to_numeric(sub["value"], errors="coerce"),
            pd.to_numeric(sub["mcse"], errors="coerce"),
            strict=True,
        )
    }


def front_page(
    board: pd.DataFrame,
    scen_all: pd.DataFrame,
    reference: str,
    crossovers_csv: str | Path | None,
    optima_csv: str | Path | None,
    *,
    claims: pd.DataFrame,
    roles: Mapping[str, Mapping[str, Any]],
    training: Mapping[str, Any] | None = None,
    bias: Mapping[tuple[str, str], tuple[float, float]] | None = None,
    posterior: Mapping[str, Any] | None = None,
    network: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer in one screen (:mod:`lossstudy.frontpage`): one row per reason given for L2
    (:func:`lossstudy.reasons.reason_rows`: ``claims.csv``, ``optima.csv`` and the training
    section's divergence verdict), where another loss beats least squares along a sweep
    (``crossovers.csv``), and who beats it where an assumption breaks (the claims step's
    scoreboard), grouped by loss and labelled."""
    optima = _read(optima_csv)
    if optima is not None and "cell" in optima.columns:
        optima = optima[optima["cell"].isin(set(optimum_cells(scen_all)))]
    verdict = (training or {}).get("divergence") or {}
    crossovers = _read(crossovers_csv)
    reasons = reason_rows(claims, optima, verdict, roles, posterior, crossovers, network)
    wrong = wrong_choice_rows(crossovers, roles, reference or "")
    winners = (
        winner_rows(board, scen_all, roles, reference or "", bias)
        if not board.empty
        else pd.DataFrame(columns=["group"])
    )
    return {
        "reasons": reasons.to_dict("records"),
        "wrong": wrong.to_dict("records"),
        "winners": winner_sentences(winners),
    }
