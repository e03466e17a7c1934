"""Series: one sweep at fixed values of every other factor, read from ``scenarios.csv``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lossstudy.answer.roles import _knob_columns


@dataclass(frozen=True)
class Series:
    base: str
    knob: str
    fixed: dict[str, object]  # the other factors that vary within the family, at their values
    values: list[float]
    scenarios: list[str]  # one per value, ascending

    @property
    def fixed_text(self) -> str:
        return factors_text(self.fixed)


def factors_text(factors: Mapping[str, object]) -> str:
    """``n=100; errors.df=3``: the ``fixed`` column of crossovers.csv and optima.csv."""
    return "; ".join(f"{k}={_show(v)}" for k, v in factors.items())


def factor_columns(scen: pd.DataFrame) -> list[str]:
    """The columns a family can vary along: ``n`` and the knob columns."""
    return [c for c in ["n", *_knob_columns(scen)] if c in scen.columns]


def varying(fam: pd.DataFrame, columns: list[str], exclude: str = "") -> list[str]:
    """Those of ``columns`` that take more than one value within a family's rows."""
    return [c for c in columns if c != exclude and fam[c].astype(str).nunique(dropna=False) > 1]


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float(json.loads(str(value)))


def sweep_series(scen: pd.DataFrame) -> list[Series]:
    """Every series of every swept family, in file order; the values ascend within a series.

    The factors held fixed are the knob columns (and ``n``) that vary within the family other
    than the swept knob itself.
    """
    if "sweep" not in scen.columns:
        return []
    out: list[Series] = []
    sc = scen.reset_index(drop=True)
    knobs = factor_columns(sc)
    for base, fam in sc.groupby(sc["base"].astype(str), sort=False):
        swept = str(fam["sweep"].iloc[0]) if pd.notna(fam["sweep"].iloc[0]) else ""
        for knob in [k for k in swept.split(",") if k]:
            if knob not in fam.columns:
                continue
            others = varying(fam, knobs, exclude=knob)
            groups = fam.groupby(others, sort=False, dropna=False) if others else [((), fam)]
            for key, part in groups:
                key = key if isinstance(key, tuple) else (key,)
                vals = np.array([_number(v) for v in part[knob]])
                order = np.argsort(vals, kind="stable")
                out.append(
                    Series(
                        str(base),
                        knob,
                        {c: _plain(v) for c, v in zip(others, key, strict=True)},
                        [float(vals[i]) for i in order],
                        [str(part["scenario"].iloc[i]) for i in order],
                    )
                )
    return out


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value
