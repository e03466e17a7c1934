"""The performance table as the figures read it: ``_Data`` (one term, scenario metadata,
stable orders, one colour per estimator) and the reasons a cell is missing.

Why one class: every figure must look up (value, MCSE, usable) the same way, order scenarios
and estimators the same way and give one estimator the same colour in every figure, whatever
the scenarios and estimators of the study; doing that once here keeps the figure modules free
of table handling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns

from lossstudy.answer import scenario_groups

from ._colors import estimator_colors

Z = 1.96


class _Data:
    """The performance table for one term with scenario metadata and stable orders."""

    def __init__(
        self, perf: pd.DataFrame, scenarios: pd.DataFrame | None, term: str | None
    ) -> None:
        perf = perf.copy()
        for col in ("scenario", "estimator", "term", "measure"):
            perf[col] = perf[col].astype(str)
        terms = list(dict.fromkeys(perf["term"]))
        if term is None or term not in terms:
            slopes = [t for t in terms if t not in ("intercept", "model")]
            term = slopes[0] if slopes else (terms[0] if terms else "x1")
        self.term = term
        sub = perf[perf["term"] == term].copy()
        sub["value"] = pd.to_numeric(sub["value"], errors="coerce")
        sub["mcse"] = pd.to_numeric(sub["mcse"], errors="coerce")
        if "defined" in sub.columns:
            sub["defined"] = sub["defined"].map(
                lambda v: str(v).strip().lower() in ("true", "1") if isinstance(v, str) else bool(v)
            )
        else:
            sub["defined"] = True
        if "n_used" not in sub.columns:
            sub["n_used"] = 0
        if "note" not in sub.columns:
            sub["note"] = ""
        sub["note"] = sub["note"].astype(object).where(sub["note"].notna(), "").astype(str)
        self.perf = sub
        in_perf = list(dict.fromkeys(sub["scenario"]))
        if scenarios is not None and len(scenarios):
            meta = scenario_groups(scenarios)
            meta = meta[meta["scenario"].isin(in_perf)]
            extra = [s for s in in_perf if s not in set(meta["scenario"])]
        else:
            meta = pd.DataFrame({"scenario": [], "group": [], "n": []})
            extra = in_perf
        if extra:
            meta = pd.concat(
                [meta, pd.DataFrame({"scenario": extra, "group": extra, "n": np.nan})],
                ignore_index=True,
            )
        self.meta = meta.reset_index(drop=True)
        self.scenarios: list[str] = list(self.meta["scenario"])
        self.groups: list[str] = list(dict.fromkeys(self.meta["group"]))
        self.group_of = dict(zip(self.meta["scenario"], self.meta["group"], strict=True))
        self.n_of = {
            s: float(n) for s, n in zip(self.meta["scenario"], self.meta["n"], strict=True)
        }
        self.ns: list[float] = sorted({n for n in self.n_of.values() if np.isfinite(n)})
        self.gm_normal = _gm_normal(scenarios) if scenarios is not None else set()
        self.estimators: list[str] = list(dict.fromkeys(sub["estimator"]))
        #: (scenario, estimator) pairs with rows: an estimator's `scenarios:` may leave some out
        self.fitted = set(zip(sub["scenario"], sub["estimator"], strict=True))
        self.palette = _palette(self.estimators)
        self._index = {
            (r.scenario, r.estimator, r.measure): r
            for r in sub[
                ["scenario", "estimator", "measure", "value", "mcse", "defined", "note", "n_used"]
            ].itertuples(index=False)
        }

    def get(self, scenario: str, estimator: str, measure: str) -> Any:
        return self._index.get((scenario, estimator, measure))

    def value(self, scenario: str, estimator: str, measure: str) -> tuple[float, float, bool]:
        """(value, mcse, usable): usable means defined and finite."""
        r = self.get(scenario, estimator, measure)
        if r is None:
            return math.nan, math.nan, False
        ok = bool(r.defined) and np.isfinite(r.value)
        return float(r.value), float(r.mcse), ok

    def members(self, group: str) -> list[str]:
        out = [s for s in self.scenarios if self.group_of[s] == group]
        return sorted(out, key=lambda s: self.n_of[s] if np.isfinite(self.n_of[s]) else math.inf)

    def label(self, scenario: str) -> str:
        n = self.n_of.get(scenario, math.nan)
        g = self.group_of.get(scenario, scenario)
        return f"{g}, n = {int(n)}" if np.isfinite(n) else scenario

    def n_colors(self) -> dict[float, Any]:
        cols = sns.color_palette("crest", max(len(self.ns), 1))
        return {n: cols[i] for i, n in enumerate(self.ns)}


def _palette(names: Sequence[str]) -> dict[str, Any]:
    """The estimators' colours (:func:`._colors.estimator_colors`, the one place they are set)."""
    return estimator_colors(names)


def _gm_normal(scen: pd.DataFrame) -> set[str]:
    if "gauss_markov" not in scen.columns or "normal_errors" not in scen.columns:
        return set()
    ok = (scen["gauss_markov"].astype(str) == "holds") & (
        scen["normal_errors"].astype(str) == "holds"
    )
    return set(scen.loc[ok, "scenario"].astype(str))


def _reason(data: _Data, scenario: str, estimator: str, measure: str) -> str:
    r = data.get(scenario, estimator, measure)
    if r is None:
        return "not reported" if (scenario, estimator) in data.fitted else "not fitted here"
    if "no intervals" in r.note:
        return "no intervals"
    if "no model SE" in r.note:
        return "no model SE"
    if r.n_used == 0 or "usable replicates" in r.note:
        return "no estimates"
    return "undefined"


def _guess_reference(data: _Data) -> str | None:
    """The estimator whose rel_efficiency is exactly 1 with MCSE 0 everywhere it is reported."""
    for e in data.estimators:
        rows = data.perf[(data.perf["estimator"] == e) & (data.perf["measure"] == "rel_efficiency")]
        rows = rows[np.isfinite(rows["value"])]
        if len(rows) and (rows["value"] == 1).all() and (rows["mcse"].fillna(0) == 0).all():
            return e
    return None
