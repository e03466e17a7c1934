"""Section 6 (figures, embedded as base64) and the captions of the figures drawn per sweep
and of the training figures (shown in section 2)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lossstudy.figures import (
    CAPTIONS,
    CURVES_CAPTION,
    CURVES_PREFIX,
    OPTIMUM_CAPTION,
    OPTIMUM_PREFIX,
    SWEEP_CAPTION,
    SWEEP_PREFIX,
    TRAINING_CAPTIONS,
    optimum_cells,
)
from lossstudy.figures.alt import figure_alts as _figure_alts
from lossstudy.figures.networks import cell_errors, largest_cell
from lossstudy.sweeps.series import sweep_series
from lossstudy.trained import exact_fits

__all__ = ["embedded_figures", "figure_alts", "per_sweep_names"]


def _read(path: str | Path | None) -> pd.DataFrame | None:
    if path is None or not Path(path).exists():
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def figure_alts(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    perf_all: pd.DataFrame,
    scen_all: pd.DataFrame,
    term: str,
    reference: str | None,
    level: float,
    crossovers_csv: str | Path | None = None,
    optima_csv: str | Path | None = None,
    specs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """The figures' alt texts (:func:`lossstudy.figures.alt.figure_alts`), with the crossover
    and optimum tables read from their files when they exist; with ``specs`` (the study's
    estimators) only the exactly fitted estimators, as the per-scenario figures draw them."""
    if specs:
        exact = set(exact_fits(list(specs), specs))
        perf = perf[perf["estimator"].astype(str).isin(exact)]
        perf_all = perf_all[perf_all["estimator"].astype(str).isin(exact)]
    return _figure_alts(
        perf, scen, perf_all, scen_all, term, reference, level,
        _read(crossovers_csv), _read(optima_csv),
    )  # fmt: skip


def _figure(
    path: Path, captions: Mapping[str, str] | None = None, alts: Mapping[str, str] | None = None
) -> dict[str, str] | None:
    suffix = path.suffix.lower()
    if suffix == ".png":
        mime = "image/png"
    elif suffix == ".svg":
        mime = "image/svg+xml"
    else:
        return None
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = path.stem
    title = name.replace("_", " ").capitalize()
    return {
        "name": name,
        "title": title,
        "alt": (alts or {}).get(name) or title,
        "caption": CAPTIONS.get(name, "") or (captions or {}).get(name, ""),
        "src": f"data:{mime};base64,{data}",
        "anchor": f"fig-{name}",
    }


def _sweep_captions(
    scen: pd.DataFrame,
    families: Mapping[str, Mapping[str, Any]],
    reference: str,
    level: float,
) -> dict[str, str]:
    """Captions of the figures drawn once per sweep, from the sweep they show."""
    out: dict[str, str] = {}
    for s in sweep_series(scen):
        name = f"{SWEEP_PREFIX}{s.base}"
        if name in out:
            continue
        out[name] = SWEEP_CAPTION.format(
            base=s.base,
            knob=s.knob,
            fixed=", ".join(s.fixed) or "series",
            measure="relative MSE",
            reference=reference or "the reference",
            theory="the asymptotic relative efficiency of LAD and Huber along error sweeps; for "
            "linear estimators the exact moments at each swept value on that cell's fixed design, "
            "joined by a monotone cubic",
            level=level,
        )
    cells = optimum_cells(scen) if len(scen) else []
    where = ", ".join(sorted({str(b) for b in scen.loc[scen["scenario"].isin(cells), "base"]}))
    for meta in families.values():
        name = f"{OPTIMUM_PREFIX}{meta['family']}"
        out.setdefault(
            name,
            OPTIMUM_CAPTION.format(
                family=meta["family"], parameter=meta["parameter"], scenario=where
            ),
        )
    return out


def _curve_captions(scen: pd.DataFrame, names: Sequence[str]) -> dict[str, str]:
    """Captions of the networks' fitted-curve figures (one per network scenario, drawn at its
    largest n) among ``names``."""
    out: dict[str, str] = {}
    for name in names:
        if not name.startswith(CURVES_PREFIX) or scen.empty:
            continue
        cells = scen[scen["base"].astype(str) == name.removeprefix(CURVES_PREFIX)]
        if cells.empty:
            continue
        row = largest_cell(cells)
        out[name] = CURVES_CAPTION.format(scenario=row["scenario"], errors=cell_errors(row))
    return out


def embedded_figures(
    figures: Sequence[str | Path],
    scen: pd.DataFrame,
    families: Mapping[str, Mapping[str, Any]],
    reference: str,
    level: float,
    alts: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """The figures that exist, as data URIs with their captions and alt texts (``alts``, from
    :func:`lossstudy.figures.alt.figure_alts`; the title where there is none), in the order of
    :data:`lossstudy.figures.CAPTIONS` then the sweeps' (an SVG is skipped beside its PNG)."""
    paths = [Path(f) for f in figures]
    captions = {
        **TRAINING_CAPTIONS,
        **_curve_captions(scen, [p.stem for p in paths]),
        **_sweep_captions(scen, families, reference, level),
    }
    pngs = {p.stem for p in paths if p.suffix.lower() == ".png"}
    figs = []
    for p in paths:
        if p.suffix.lower() == ".svg" and p.stem in pngs:
            continue
        if p.exists():
            fig = _figure(p, captions, alts)
            if fig is not None:
                figs.append(fig)
    order = {name: i for i, name in enumerate([*CAPTIONS, *captions])}
    figs.sort(key=lambda f: order.get(f["name"], len(order)))
    return figs


def per_sweep_names(figs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The figures drawn once per sweep or per estimator optimum: collapsed in the report (one
    page each, a dozen of them), the study-wide figures shown."""
    return [
        str(f["name"]) for f in figs if str(f["name"]).startswith((SWEEP_PREFIX, OPTIMUM_PREFIX))
    ]
