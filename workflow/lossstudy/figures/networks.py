"""The network section's figures: a few replicates' fitted curves per loss, per network scenario.

Why from the estimates: a fit job keeps each network's fitted curve f̂ on a fixed grid
(``curve``, :func:`lossstudy.responses.curve_grid`), so this draws files and fits
nothing. One figure per network scenario at its largest n, one panel per loss (a network at its
last checkpoint), the same replicates in every panel (common random numbers). The replicates are
chosen by the L2 network's ise, at :data:`QUANTILES` of its distribution over replicates, so the
figure shows typical and bad L2 fits rather than whichever replicates came first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lossstudy import errorlaws, methods
from lossstudy.responses import curve_grid

from ._colors import estimator_family
from .fitted_curves import fitted_curves

__all__ = [
    "CURVES_CAPTION",
    "CURVES_PREFIX",
    "QUANTILES",
    "cell_errors",
    "chosen_replicates",
    "largest_cell",
    "network_curve_figures",
    "network_losses",
    "panel_members",
]

#: a figure per network scenario: ``network_curves_{base scenario}``
CURVES_PREFIX = "network_curves_"
#: the replicates drawn: those at these quantiles of the L2 network's ise
QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
CURVES_CAPTION = (
    "Fitted curves of {scenario} ({errors} errors): five replicates per loss, the same five in "
    "every panel, chosen at the 10th, 30th, 50th, 70th and 90th percentiles of the L2 "
    "network's ISE over replicates; black: the true mean f. Each network at its last "
    "checkpoint; panel titles give the mean ISE over all replicates. Curves that leave the "
    "plot are clipped to it (said in the title)."
)


def network_losses(specs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Network member → its loss, in the study's order (the study's networks: any model but
    the linear one)."""
    out = {}
    for name, spec in specs.items():
        fit = methods.fit_for(spec)
        if fit.model != "linear":
            out[name] = str(fit.loss)
    return out


def _knobs(row: pd.Series) -> dict[str, Any]:
    """What the true mean needs from a scenarios.csv row: coefficients and the function."""
    function = row.get("response.function")
    return {
        "coefficients": json.loads(str(row["coefficients"])),
        "response": {"function": str(function) if pd.notna(function) else "linear"},
        "design": {"distribution": str(row.get("design.distribution", "normal"))},
    }


def cell_errors(row: Mapping[str, Any]) -> str:
    """A scenarios.csv row's error law in words: "normal", "t(2)", "Cauchy"."""
    law = row.get("errors.distribution")
    if law is None or (isinstance(law, float) and math.isnan(law)):
        return ""
    df = row.get("errors.df")
    if law == "t" and pd.notna(df):
        return f"t({float(df):g})"
    try:
        return errorlaws.law(str(law)).title
    except (KeyError, ValueError):
        return str(law)


def panel_members(names: Sequence[str], nets: Mapping[str, str]) -> dict[str, str]:
    """Loss → the network a panel draws: the first family (config order) of each loss, at
    its last member (its last checkpoint), so that one solver's fits are set side by side
    (a GD sweep of the squared loss does not replace the Adam-trained network)."""
    family: dict[str, str] = {}
    out: dict[str, str] = {}
    for name in names:
        loss, fam = nets[name], estimator_family(name)
        if family.setdefault(loss, fam) == fam:
            out[loss] = name
    return out


def largest_cell(cells: pd.DataFrame) -> pd.Series:
    """The scenarios.csv row of a scenario's cells with the largest n: the cell its
    fitted-curve figure draws."""
    return cells.loc[cells["n"].astype(int).idxmax()]


def chosen_replicates(ise: pd.Series, quantiles: tuple[float, ...] = QUANTILES) -> list[int]:
    """The replicates (index of ``ise``) at ``quantiles`` of its finite values: the value of
    rank round(q·(R − 1)) in the order by ise (ties: replicate index), distinct, in that order."""
    finite = ise[np.isfinite(ise.to_numpy(dtype=float))]
    if finite.empty:
        return []
    order = finite.sort_values(kind="stable").index.to_list()
    picks = [order[round(q * (len(order) - 1))] for q in quantiles]
    return list(dict.fromkeys(int(r) for r in picks))


def network_curve_figures(
    scen: pd.DataFrame,
    estimates_dir: str | Path,
    specs: Mapping[str, Mapping[str, Any]],
) -> dict[str, Figure]:
    """``network_curves_{base}`` for each scenario with network members whose largest-n cell's
    estimates carry curves; empty when the study trains no network."""
    nets = network_losses(specs)
    if not nets or scen.empty:
        return {}
    out: dict[str, Figure] = {}
    for base, cells in scen.groupby(scen["base"].astype(str), sort=False):
        row = largest_cell(cells)
        sid = str(row["scenario"])
        path = Path(estimates_dir) / f"{sid}.parquet"
        if not path.exists():
            continue
        import pyarrow.parquet as pq

        if "curve" not in pq.read_schema(path).names:
            continue
        grid = curve_grid(_knobs(row))
        if grid is None:
            continue
        est = pd.read_parquet(path, columns=["estimator", "replicate", "ise", "curve"])
        est = est[est["estimator"].astype(str).isin(list(nets))]
        if est.empty:
            continue
        by_loss = panel_members(list(dict.fromkeys(est["estimator"].astype(str))), nets)
        lead = by_loss.get("squared", next(iter(by_loss.values())))
        ise = est[est["estimator"] == lead].set_index("replicate")["ise"]
        picks = chosen_replicates(ise)
        curves, means = {}, {}
        for loss, name in by_loss.items():
            mine = est[est["estimator"] == name].set_index("replicate")
            curves[loss] = np.array([np.asarray(mine.at[r, "curve"], dtype=float) for r in picks])
            means[loss] = float(np.nanmean(mine["ise"].to_numpy(dtype=float)))
        x, truth = grid
        title = f"{sid}: {cell_errors(row)} errors, n = {int(row['n'])}"
        out[f"{CURVES_PREFIX}{base}"] = fitted_curves(x, truth, curves, title, means)
    return out
