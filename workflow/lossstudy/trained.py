"""The rows that answer "does differentiability matter?": trained members and their measures.

Why one module: the training figures, the report section and the front-page sentence must pick
the same rows (a trained member is a row of ``estimators.csv`` whose ``solver`` is a gradient
solver; its exact counterpart is the exact fit of the same loss and objective) and read the same
measures (``divergence``, ``opt_error``, ``objective_gap``, ``test_mse``, ``test_mae`` on term
``model`` of ``performance.csv``). Everything here selects and reshapes rows the workflow wrote;
it estimates nothing. It imports no plotting library, so the front page can use it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LOSS_NAMES",
    "LOSS_ORDER",
    "MODEL_TERM",
    "TRAINED_SOLVERS",
    "TRAINING_MEASURES",
    "curve_rows",
    "divergence_rows",
    "divergence_verdict",
    "exact_fits",
    "exact_partners",
    "final_members",
    "prediction_error_rows",
    "sgd_lr_rows",
    "trained_members",
]

TRAINED_SOLVERS = ("gd", "sgd", "adam", "ista", "fista")
#: the order in which losses are listed and drawn: from unbounded to bounded gradient
LOSS_ORDER = ("squared", "log_cosh", "pseudo_huber", "huber", "absolute")
LOSS_NAMES = {
    "squared": "squared (L2)",
    "absolute": "absolute (L1)",
    "huber": "Huber",
    "pseudo_huber": "pseudo-Huber",
    "log_cosh": "log-cosh",
}
SOLVER_NAMES = {"gd": "GD", "sgd": "SGD", "adam": "Adam", "exact": "exact"}
#: the measures a trained fit adds to ``performance.csv`` (one row per estimator, term ``model``)
TRAINING_MEASURES = ("divergence", "opt_error", "objective_gap", "test_mse", "test_mae")
MODEL_TERM = "model"
#: a trained member's numeric settings (columns of ``estimators.csv`` where the study has them)
SETTINGS = ("lr_relative", "lr", "steps", "batch_size", "epochs", "delta", "scale")
#: the settings that make two fits of one loss minimise different objectives
OBJECTIVE = ("delta", "scale")


def loss_rank(loss: str) -> int:
    return LOSS_ORDER.index(loss) if loss in LOSS_ORDER else len(LOSS_ORDER)


def loss_name(loss: str) -> str:
    return LOSS_NAMES.get(loss, loss)


def _numeric(table: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    out = table.copy()
    for c in columns:
        out[c] = pd.to_numeric(out[c], errors="coerce") if c in out else np.nan
    return out


def exact_fits(names: Iterable[str], specs: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """The exactly fitted estimators among ``names`` (in order; specs as the config's): the
    per-scenario figures, the scoreboard and its claims compare these; trained members are
    judged in the training section against their exact fits."""
    specs = specs or {}
    # not trained: the exact solver, and those that tune a penalty first (gcv, cv); nor a
    # network (its solvers are the model's: ``mlp_gd``, ``mlp_adam``, ...)
    return [e for e in names if not _trained(specs.get(e, {}))]


def _trained(spec: Mapping[str, Any]) -> bool:
    """Fitted by gradient steps (a linear model's training solver, or any network): the
    registry's own flag; a spec it cannot resolve is judged by its solver's name."""
    from lossstudy import methods

    try:
        return bool(spec) and methods.fit_for(spec).trained
    except methods.SpecError:  # not a spec of the registry (a bare label)
        return str(spec.get("solver", "exact")) in TRAINED_SOLVERS


def classification_losses() -> set[str]:
    """Losses of the registry that model a 0/1 response only (``Fit.responses``)."""
    from lossstudy import methods

    return {f.loss for f in methods.fits().values() if "gaussian" not in f.responses}


def trained_members(estimators: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``estimators.csv`` trained by gradient steps on a regression loss, settings
    as numbers, with ``label`` = loss-solver (the contract's method label); empty when the study
    trains none."""
    if "solver" not in estimators:
        return pd.DataFrame(columns=["estimator", "family", "loss", "solver", "label", *SETTINGS])
    rows = estimators[estimators["solver"].astype(str).isin(TRAINED_SOLVERS)]
    # a classifier's trained fits have their own section (lossstudy.report.classification_section)
    rows = rows[~rows["loss"].astype(str).isin(classification_losses())]
    rows = _numeric(rows, SETTINGS)
    rows["label"] = rows["loss"].astype(str) + "-" + rows["solver"].astype(str)
    return rows.reset_index(drop=True)


def exact_partners(estimators: pd.DataFrame) -> dict[str, str]:
    """family of trained members -> the exact estimator minimising the same objective: the same
    loss and penalty, solver ``exact``, and the same ``delta``/``scale`` where the trained fit has
    one (Huber with a MAD scale is another objective than Huber with a fixed δ); the reference
    first, then an anchor, then file order. Families without such an estimator are left out."""
    members = trained_members(estimators)
    exact = _numeric(estimators[estimators["solver"].astype(str) == "exact"], OBJECTIVE)
    if "reference" in exact:
        exact = exact.assign(_ref=~exact["reference"].astype(bool))
    else:
        exact = exact.assign(_ref=True)
    anchor = exact["anchor"].astype(bool) if "anchor" in exact else True
    exact = exact.assign(_anchor=~pd.Series(anchor, index=exact.index).astype(bool))
    exact = exact.sort_values(["_ref", "_anchor"], kind="stable")
    out: dict[str, str] = {}
    for family, grp in members.groupby("family", sort=False):
        m = grp.iloc[0]
        ok = (exact["loss"] == m["loss"]) & (exact["penalty"] == m.get("penalty", "none"))
        for c in OBJECTIVE:
            if pd.notna(m[c]):
                ok &= np.isclose(exact[c].astype(float), float(m[c]))
        if ok.any():
            out[str(family)] = str(exact.loc[ok, "estimator"].iloc[0])
    return out


def _cells(scen: pd.DataFrame) -> pd.DataFrame:
    """scenario -> base, n, error law and ``cell_order`` (the row of ``scenarios.csv``: figures
    and tables list error laws in the config's order)."""
    cols = ["scenario", "base", "n"]
    out = scen[[c for c in cols if c in scen]].copy()
    out["cell_order"] = np.arange(len(out))
    out["scenario"] = out["scenario"].astype(str)
    if "base" not in out:
        out["base"] = out["scenario"]
    if "n" not in out:
        out["n"] = np.nan
    out["errors"] = scen["errors.distribution"].astype(str) if "errors.distribution" in scen else ""
    return out


def _rows(perf: pd.DataFrame, measures: Iterable[str], term: str = MODEL_TERM) -> pd.DataFrame:
    keep = perf["measure"].astype(str).isin(list(measures)) & (perf["term"].astype(str) == term)
    rows = perf.loc[keep].copy()
    rows = _numeric(rows, ("value", "mcse", "n_used"))
    if "defined" in rows:
        rows["defined"] = rows["defined"].map(
            lambda v: str(v).strip().lower() in ("true", "1") if isinstance(v, str) else bool(v)
        )
    else:
        rows["defined"] = True
    rows["usable"] = rows["defined"] & np.isfinite(rows["value"])
    return rows


def _with(rows: pd.DataFrame, members: pd.DataFrame, scen: pd.DataFrame) -> pd.DataFrame:
    keep = ["estimator", "family", "loss", "solver", "label", *SETTINGS]
    out = rows.merge(members[keep], on="estimator", how="inner")
    out = out.merge(_cells(scen), on="scenario", how="left")
    out["n"] = pd.to_numeric(out["n"], errors="coerce")
    return out.reset_index(drop=True)


def divergence_rows(
    perf: pd.DataFrame, estimators: pd.DataFrame, scen: pd.DataFrame
) -> pd.DataFrame:
    """Each trained member's ``divergence`` row per cell with its settings and cell (base, n,
    error law); of the members of one family at one step size, only the largest ``steps``
    (the share of a trajectory that has diverged by its end)."""
    rows = _with(_rows(perf, ["divergence"]), trained_members(estimators), scen)
    if rows.empty:
        return rows
    last = rows.groupby(["scenario", "family", "lr_relative"], dropna=False)["steps"].transform(
        "max"
    )
    rows = rows[(rows["steps"] == last) | last.isna()]
    return rows.sort_values(
        ["solver", "loss", "family", "lr_relative"],
        key=lambda s: s.map(loss_rank) if s.name == "loss" else s,
        kind="stable",
    ).reset_index(drop=True)


def curve_rows(
    perf: pd.DataFrame, estimators: pd.DataFrame, scen: pd.DataFrame, term: str
) -> pd.DataFrame:
    """Learning curves: ``opt_error`` (term ``model``) and ``rmse`` of ``term`` of the members
    of every family with at least two checkpoints, with ``exact_rmse``/``exact_mcse`` (the exact
    partner's RMSE of ``term`` in that cell) and ``exact_error`` (its root total MSE over every
    term: the exact fit's own distance from the truth, the scale ``opt_error`` is read on)."""
    members = trained_members(estimators)
    steps = members.groupby("family")["steps"].nunique()
    members = members[members["family"].isin(steps[steps >= 2].index)]
    opt = _rows(perf, ["opt_error"])
    rmse = _rows(perf, ["rmse"], term)
    rows = _with(pd.concat([opt, rmse], ignore_index=True), members, scen)
    if rows.empty:
        return rows
    partners = exact_partners(estimators)
    rows["exact"] = rows["family"].map(partners)
    ex = perf[perf["estimator"].isin(set(partners.values()))]
    ex = _numeric(ex, ("value", "mcse"))
    ex_rmse = ex[(ex["measure"] == "rmse") & (ex["term"] == term)]
    ex_total = ex[(ex["measure"] == "mse") & (ex["term"] != MODEL_TERM)]
    total = ex_total.groupby(["scenario", "estimator"])["value"].sum(min_count=1) ** 0.5
    look = ex_rmse.set_index(["scenario", "estimator"])
    keys = list(zip(rows["scenario"], rows["exact"], strict=True))
    rows["exact_rmse"] = [look["value"].get(k, math.nan) for k in keys]
    rows["exact_mcse"] = [look["mcse"].get(k, math.nan) for k in keys]
    rows["exact_error"] = [total.get(k, math.nan) for k in keys]
    return rows.sort_values(["family", "scenario", "measure", "steps"], kind="stable").reset_index(
        drop=True
    )


def final_members(estimators: pd.DataFrame) -> list[str]:
    """One member per trained family, the one a user would deploy: its largest ``steps``; among
    members of a step-size sweep, the largest ``lr_relative`` within squared-loss GD's stability
    limit (c ≤ 1), else the smallest c. The same rule for every loss, so they are compared at
    the same setting."""
    members = trained_members(estimators)
    out = []
    for _, grp in members.groupby("family", sort=False):
        grp = grp[(grp["steps"] == grp["steps"].max()) | grp["steps"].isna()]
        if grp["lr_relative"].nunique() > 1:
            stable = grp[grp["lr_relative"] <= 1]
            grp = (
                stable.sort_values("lr_relative").tail(1)
                if len(stable)
                else grp.sort_values("lr_relative").head(1)
            )
        out.append(str(grp["estimator"].iloc[0]))
    return out


def prediction_error_rows(
    perf: pd.DataFrame, estimators: pd.DataFrame, scen: pd.DataFrame
) -> pd.DataFrame:
    """``test_mse`` and ``test_mae`` of each trained family's final member and of the exact fits
    of the same losses (unpenalised; one of several estimators with identical point estimates,
    e.g. OLS under other standard errors), per cell, with ``kind`` exact/trained."""
    members = trained_members(estimators)
    if members.empty:
        return pd.DataFrame()
    finals = final_members(estimators)
    exact = estimators[
        (estimators["solver"].astype(str) == "exact")
        & estimators["loss"].isin(set(members["loss"]))
        & (estimators["penalty"].astype(str) == "none")
    ]
    params = [c for c in exact.columns if c not in ("estimator", "se", "intervals_text")]
    params = [c for c in params if c not in ("anchor", "reference", "family", "method")]
    exact = exact.loc[~exact[params].astype(str).duplicated()]
    shown = pd.concat(
        [
            exact.assign(kind="exact", label=exact["estimator"].astype(str) + " (exact)"),
            members[members["estimator"].isin(finals)].assign(
                kind="trained", label=lambda t: t["estimator"]
            ),
        ],
        ignore_index=True,
    )
    rows = _rows(perf, ["test_mse", "test_mae"])
    keep = ["estimator", "family", "loss", "solver", "kind", "label"]
    rows = rows.merge(shown[keep], on="estimator", how="inner")
    rows = rows.merge(_cells(scen), on="scenario", how="left")
    rows["n"] = pd.to_numeric(rows["n"], errors="coerce")
    rows["_rank"] = rows["loss"].map(loss_rank)
    rows["_kind"] = (rows["kind"] == "trained").astype(int)
    order = {e: i for i, e in enumerate(shown["estimator"])}
    rows["_order"] = rows["estimator"].map(order)
    rows = rows.sort_values(["_rank", "_kind", "_order"], kind="stable")
    return rows.drop(columns=["_rank", "_kind", "_order"]).reset_index(drop=True)


def sgd_lr_rows(
    perf: pd.DataFrame, estimators: pd.DataFrame, scen: pd.DataFrame, theory: pd.DataFrame
) -> pd.DataFrame:
    """SGD families swept over an absolute step size ``lr``, per cell and member: the
    coefficient risk E‖β_k − β‖² and the divergence share (``risk``, ``divergence`` on term
    ``model``), the risk beside its exact value from ``theory.csv`` where theory gives one
    (columns ``theoretical``, ``z``, ``flag``; NaN elsewhere). Empty when there are none."""
    members = trained_members(estimators)
    members = members[(members["solver"] == "sgd") & members["lr"].notna()]
    swept = members.groupby("family")["lr"].nunique()
    members = members[members["family"].isin(swept[swept >= 2].index)]
    rows = _with(_rows(perf, ["risk", "divergence"]), members, scen)
    th = theory
    if not th.empty:
        th = th[(th["term"] == MODEL_TERM) & (th["relation"] == "=")]
    th = th.reindex(columns=["scenario", "estimator", "quantity", "theoretical", "z", "flag"])
    th = th.rename(columns={"quantity": "measure"})
    out = rows.merge(th, on=["scenario", "estimator", "measure"], how="left")
    out["theoretical"] = pd.to_numeric(out["theoretical"], errors="coerce")
    out["z"] = pd.to_numeric(out["z"], errors="coerce")
    return out.sort_values(
        ["n", "loss", "lr"], key=lambda c: c.map(loss_rank) if c.name == "loss" else c
    ).reset_index(drop=True)


def _share(v: float) -> str:
    return f"{100 * v:.3g}%"


def divergence_verdict(div: pd.DataFrame) -> dict[str, Any]:
    """The numbers of the verdict, from :func:`divergence_rows` (GD members only: the solver the
    stability limit c = 1 is about): which losses diverge, and squared-loss GD just past c = 1.

    Keys: ``diverging`` and ``stable`` (losses with any / no diverged fit), ``fits`` (loss ->
    replicates counted over its cells and step sizes), ``max_c`` (loss -> largest c swept),
    ``past`` (the smallest swept c > 1 of a diverging loss's GD with its shares: ``loss``,
    ``c``, ``low``, ``high``, ``mcse`` (largest), ``cells``), ``below`` (the largest c ≤ 1
    swept for that loss and its largest share), or empty when no GD member was swept over c.
    """
    gd = div[(div["solver"] == "gd") & div["usable"] & div["lr_relative"].notna()]
    if gd.empty:
        return {}
    losses = sorted(dict.fromkeys(gd["loss"]), key=loss_rank)
    by = gd.groupby("loss")
    diverging = [loss for loss in losses if (by.get_group(loss)["value"] > 0).any()]
    out: dict[str, Any] = {
        "diverging": diverging,
        "stable": [loss for loss in losses if loss not in diverging],
        "fits": {loss: int(by.get_group(loss)["n_used"].fillna(0).sum()) for loss in losses},
        "max_c": {loss: float(by.get_group(loss)["lr_relative"].max()) for loss in losses},
        "cells": int(gd["scenario"].nunique()),
    }
    if diverging:
        first = diverging[0]
        rows = by.get_group(first)
        past = rows[rows["lr_relative"] > 1]
        if len(past):
            c = float(past["lr_relative"].min())
            at = past[past["lr_relative"] == c]
            out["past"] = {
                "loss": first,
                "c": c,
                "low": float(at["value"].min()),
                "high": float(at["value"].max()),
                "mcse": float(at["mcse"].max()),
                "cells": int(at["scenario"].nunique()),
            }
        below = rows[rows["lr_relative"] <= 1]
        if len(below):
            c = float(below["lr_relative"].max())
            out["below"] = {
                "loss": first,
                "c": c,
                "high": float(below.loc[below["lr_relative"] == c, "value"].max()),
            }
    return out


def share_text(low: float, high: float, mcse: float) -> str:
    """A share or a range of shares across cells in words, with the largest MCSE."""
    err = f"MCSE ≤ {100 * mcse:.2g} points" if mcse > 0 else "MCSE 0"
    if math.isclose(low, high):
        return f"{_share(high)} ({err})"
    return f"{_share(low)}–{_share(high)} ({err})"
