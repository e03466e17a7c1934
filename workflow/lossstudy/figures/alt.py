"""Alt texts of the figures: what each figure shows, in the numbers a reader would take from it.

Why generated: a screen reader (or a reader whose image did not load) should get the figure's
message, not its title; the message is computed from the rows the figure draws (the same
performance table, crossover and optimum tables), so it cannot drift from the picture.
Each text names at most a few cells, largest effects first, and says how many there are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._data import Z, _Data, _guess_reference
from .replicates import representative_scenarios, zip_scenarios

__all__ = ["figure_alts"]

_SHOW = 3  # cells named per statement


def _g(v: float) -> str:
    return f"{v:.3g}"


def _signed(v: float) -> str:
    return f"{v:+.3g}"


def _listed(items: Sequence[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(items[:_SHOW])
    return shown + (f" and {total - _SHOW} more" if total > _SHOW else "")


def _values(data: _Data, measure: str, scenarios: Sequence[str]) -> pd.DataFrame:
    """(scenario, estimator, value, mcse, n_used) of the usable cells of ``measure``."""
    rows = []
    for s in scenarios:
        for e in data.estimators:
            v, m, ok = data.value(s, e, measure)
            if ok:
                rows.append((s, e, v, m, float(data.get(s, e, measure).n_used)))
    return pd.DataFrame(rows, columns=["scenario", "estimator", "value", "mcse", "n_used"])


def _largest_n(data: _Data) -> list[str]:
    return representative_scenarios(data)


def alt_scoreboard(data: _Data) -> str:
    tab = _values(data, "mse", _largest_n(data))
    if not len(tab):
        return ""
    best = tab.loc[tab.groupby("scenario", sort=False)["value"].idxmin()]
    items = [f"{data.group_of[r.scenario]}: {r.estimator}" for r in best.itertuples()]
    return (
        f"Lowest MSE of {data.term} per scenario family at its largest n: " + "; ".join(items) + "."
    )


def alt_mse_decomposition(data: _Data) -> str:
    mse = _values(data, "mse", data.scenarios)
    bias = _values(data, "bias", data.scenarios)
    if not len(mse):
        return ""
    tab = mse.merge(bias, on=["scenario", "estimator"], suffixes=("", "_bias"))
    tab["share"] = tab["value_bias"] ** 2 / tab["value"]
    heavy = tab[tab["share"] > 0.5].sort_values("share", ascending=False)
    items = [
        f"{r.estimator} in {data.label(r.scenario)} (bias² {_g(r.value_bias**2)} of MSE "
        f"{_g(r.value)})"
        for r in heavy.itertuples()
    ]
    head = (
        f"MSE of {data.term} split into squared bias and variance for {len(mse)} estimator–"
        f"scenario cells. "
    )
    if not items:
        return head + "Variance is most of the MSE in every cell."
    return head + f"Squared bias is more than half of the MSE in {len(items)}: " + _listed(items)


def _ranges(data: _Data, measure: str, skip: str | None) -> list[str]:
    """Per estimator: its smallest and largest value (where) and its median; estimators whose
    value is 1 with MCSE 0 everywhere, up to rounding (the reference's estimates), are named
    once."""
    tab = _values(data, measure, data.scenarios)
    out, same = [], []
    for e, g in tab.groupby("estimator", sort=False):
        if e == skip or not len(g):
            continue
        if (np.isclose(g["value"], 1, rtol=0, atol=1e-9) & (g["mcse"].fillna(0) <= 1e-6)).all():
            same.append(str(e))
            continue
        lo, hi = g.loc[g["value"].idxmin()], g.loc[g["value"].idxmax()]
        out.append(
            f"{e} {_g(lo.value)} ({data.label(lo.scenario)}) to {_g(hi.value)} "
            f"({data.label(hi.scenario)}), median {_g(float(g['value'].median()))}"
        )
    if same:
        # the reference's own estimates: ridge with λ = 0 is OLS; a classification cell's
        # reference is its MLE (lossstudy.config.Study.reference_in)
        out.append(
            f"{', '.join(same)} 1 everywhere (the estimates of {skip}, "
            "or the reference of its own cells)"
        )
    return out


def alt_relative_efficiency(data: _Data, reference: str | None) -> str:
    items = _ranges(data, "rel_efficiency", reference)
    if not items:
        return ""
    return (
        f"Relative efficiency against {reference} (above 1: less variable) per estimator: "
        + "; ".join(items)
        + "."
    )


def alt_nested_loop(data: _Data, reference: str | None) -> str:
    items = _ranges(data, "rel_mse", reference)
    if not items:
        return ""
    return (
        f"Relative MSE against {reference} (above 1: more accurate) across "
        f"{len(data.scenarios)} scenarios, per estimator: " + "; ".join(items) + "."
    )


def alt_sampling_distributions(data: _Data) -> str:
    tab = _values(data, "empse", _largest_n(data))
    if not len(tab):
        return ""
    items = []
    for s, g in tab.groupby("scenario", sort=False):
        lo, hi = g.loc[g["value"].idxmin()], g.loc[g["value"].idxmax()]
        items.append(
            f"{data.label(s)}: narrowest {lo.estimator} (EmpSE {_g(lo.value)}), widest "
            f"{hi.estimator} ({_g(hi.value)})"
        )
    return "Sampling distributions of estimate − true value; " + "; ".join(items) + "."


def alt_bias(data: _Data) -> str:
    tab = _values(data, "bias", data.scenarios)
    if not len(tab):
        return ""
    off = tab[(tab["value"].abs() > Z * tab["mcse"]) & (tab["mcse"] > 0)]
    parts: list[str] = []
    seen: dict[tuple[float, ...], str] = {}
    for e in data.estimators:
        key = tuple(tab.loc[tab["estimator"] == e, "value"])
        if key in seen:  # the same estimates (OLS under another SE)
            parts.append(f"{e} as {seen[key]}")
            continue
        seen[key] = e
        g = off[off["estimator"] == e]
        g = g.reindex(g["value"].abs().sort_values(ascending=False).index)
        total = int((tab["estimator"] == e).sum())
        if not total:
            continue
        if not len(g):
            parts.append(f"{e} unbiased within Monte Carlo error in all {total} scenarios")
            continue
        items = [f"{data.label(r.scenario)} ({_signed(r.value)})" for r in g.itertuples()]
        parts.append(f"{e} biased in {len(g)} of {total}: " + _listed(items))
    return f"Bias of {data.term} per scenario: " + "; ".join(parts) + "."


def alt_coverage(data: _Data, level: float) -> str:
    tab = _values(data, "coverage", data.scenarios)
    if not len(tab):
        return ""
    parts = []
    for e, g in tab.groupby("estimator", sort=False):
        # below the figure's grey band: nominal − 1.96·sqrt(level·(1 − level)/R)
        band = Z * np.sqrt(level * (1 - level) / g["n_used"].clip(lower=1))
        low = g[g["value"] < level - band].sort_values("value")
        items = [f"{data.label(r.scenario)} ({r.value:.3f})" for r in low.itertuples()]
        text = f"{e} from {g['value'].min():.3f} to {g['value'].max():.3f}"
        if items:
            text += f", below {level:g} in {len(items)} scenarios: " + _listed(items)
        parts.append(text)
    return f"Coverage of the nominal {level:g} intervals of {data.term}: " + "; ".join(parts) + "."


def alt_zip(data: _Data, level: float) -> str:
    chosen = zip_scenarios(data, set(data.scenarios), level)
    parts = []
    for s in chosen:
        cov = _values(data, "coverage", [s])
        items = [f"{r.estimator} {r.value:.3f}" for r in cov.itertuples()]
        if items:
            parts.append(f"{data.label(s)}: " + ", ".join(items))
    if not parts:
        return ""
    return f"Zip plots, observed coverage (nominal {level:g}): " + "; ".join(parts) + "."


def alt_mse_vs_n(data: _Data) -> str:
    if len(data.ns) < 2:
        return ""
    flat = []
    for g in data.groups:
        members = [s for s in data.members(g) if np.isfinite(data.n_of[s])]
        if len(members) < 2:
            continue
        a, b = members[0], members[-1]
        for e in data.estimators:
            (va, _, oka), (vb, _, okb) = data.value(a, e, "mse"), data.value(b, e, "mse")
            if oka and okb and va > 0 and vb > 0:
                slope = math.log(vb / va) / math.log(data.n_of[b] / data.n_of[a])
                if slope > -0.5:
                    flat.append((slope, f"{e} in {g} (slope {slope:.2f})"))
    flat.sort(reverse=True)
    head = f"MSE of {data.term} against n on log–log axes (slope −1: MSE ∝ 1/n). "
    if not flat:
        return head + "Every MSE falls at least as fast as n^−½."
    return (
        head
        + f"Flatter than n^−½ (bias that does not vanish) in {len(flat)} lines: "
        + (_listed([t for _, t in flat]))
    )


def alt_sweep(cross: pd.DataFrame, base: str) -> str:
    rows = cross[cross["scenario"].astype(str) == base]
    rows = rows[pd.to_numeric(rows["crossing"], errors="coerce").notna()]
    if not len(rows):
        return f"{base}: no comparison changes sign beyond Monte Carlo error along the sweep."
    items = [
        f"{r.estimator} vs {r.versus} at {r.knob} = {float(r.crossing):.3g} "
        f"[{float(r.ci_low):.3g}, {float(r.ci_high):.3g}] ({r.fixed})"
        for r in rows.itertuples()
    ]
    return f"{base}: {len(items)} crossovers: " + _listed(items) + "."


def alt_optimum(opt: pd.DataFrame, family: str) -> str:
    rows = opt[opt["estimator"].astype(str) == family]
    rows = rows[pd.to_numeric(rows["argmin"], errors="coerce").notna()]
    if not len(rows):
        return ""
    items = [
        f"{r.scenario}, {r.fixed}: simulated argmin {float(r.argmin):.3g} "
        f"[{float(r.ci_low):.3g}, {float(r.ci_high):.3g}]"
        + (f", exact {float(r.theory):.3g}" if np.isfinite(float(r.theory)) else "")
        for r in rows.itertuples()
    ]
    return f"Best {rows['parameter'].iloc[0]} of {family}: " + _listed(items) + "."


def figure_alts(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    perf_all: pd.DataFrame,
    scen_all: pd.DataFrame,
    term: str,
    reference: str | None,
    level: float,
    crossovers: pd.DataFrame | None = None,
    optima: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Alt text per figure name (the keys of :data:`lossstudy.figures.CAPTIONS`, and
    ``sweep_{base}`` / ``optimum_{family}`` when their tables are given); "" where the data
    give nothing to say."""
    data = _Data(perf, scen, term)
    reference = reference or _guess_reference(data)
    every = _Data(perf_all[perf_all["estimator"].isin(set(data.estimators))], scen_all, term)
    makers: Mapping[str, Callable[[], str]] = {
        "scoreboard": lambda: alt_scoreboard(data),
        "mse_decomposition": lambda: alt_mse_decomposition(data),
        "relative_efficiency": lambda: alt_relative_efficiency(data, reference),
        "sampling_distributions": lambda: alt_sampling_distributions(data),
        "bias": lambda: alt_bias(data),
        "coverage": lambda: alt_coverage(data, level),
        "zip": lambda: alt_zip(data, level),
        "mse_vs_n": lambda: alt_mse_vs_n(data),
        "nested_loop": lambda: alt_nested_loop(every, reference),
    }
    out = {name: make() for name, make in makers.items()}
    if crossovers is not None and len(crossovers):
        for base in dict.fromkeys(crossovers["scenario"].astype(str)):
            out[f"sweep_{base}"] = alt_sweep(crossovers, base)
    if optima is not None and len(optima):
        for family in dict.fromkeys(optima["estimator"].astype(str)):
            out[f"optimum_{family}"] = alt_optimum(optima, family)
    return out
