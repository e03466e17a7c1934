"""The section "The L2 penalty is a Gaussian prior": coverage of ridge's posterior intervals,
and λ chosen from the data (``solver: gcv | cv``) against the oracle λ.

Why a module of its own: the claim "L2 regularisation is a Gaussian prior and the posterior is
Gaussian" is tested by one consequence, the coverage of the posterior's credible intervals
(``se: posterior``) against theory (exactly nominal over a matching prior; below nominal for a
penalty larger than σ²/τ², above for a smaller one). The rows come from ``results/theory.csv``
(:mod:`lossstudy.theory.posterior`: simulated coverage ± MCSE beside its exact value), one per
member and sample size at the report's focus term, and a summary the front page's reasons row
reads (:func:`lossstudy.reasons.reason_rows`) so that its verdict is computed from the same rows.
The tuned rows set the λ each tuned member chose (the estimates' ``chosen_strength``, median and
quartiles) beside the sweep's optimum λ of the same cell (``results/optima.csv``), and its MSE
beside that of the best swept fixed λ (``results/performance.csv``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from scipy.special import gammaln

from lossstudy import methods
from lossstudy.mcse import Z_FLAG
from lossstudy.quantiles import norm_ppf, t_ppf
from lossstudy.theory.posterior import is_posterior

#: the theory note of a row whose prior matches the scenario's (``theory.posterior``)
MATCHING = "the prior matches"


def _n_of(cell: str) -> int:
    found = re.search(r"-n(\d+)$", cell)
    return int(found.group(1)) if found else 0


def posterior_rows(
    theory: pd.DataFrame | None, specs: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """The theory rows on the coverage of ``se: posterior`` members, with the member's λ, its
    σ (None: integrated out), n and whether the prior matches the scenario's."""
    cols = ["scenario", "n", "estimator", "penalty", "sigma", "term", "simulated", "mcse",
            "theoretical", "z", "flag", "matching"]  # fmt: skip
    if theory is None or theory.empty:
        return pd.DataFrame(columns=cols)
    posterior = {e for e, s in specs.items() if is_posterior(dict(s))}
    rows = theory[(theory["quantity"] == "coverage") & theory["estimator"].isin(posterior)].copy()
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows["n"] = rows["scenario"].astype(str).map(_n_of)
    rows["penalty"] = [float(specs[e].get("penalty", 1.0)) for e in rows["estimator"]]
    rows["sigma"] = [specs[e].get("sigma") for e in rows["estimator"]]
    rows["matching"] = rows["note"].astype(str).str.startswith(MATCHING)
    rows["flag"] = rows["flag"].astype(str).str.lower() == "true"
    return rows[cols].reset_index(drop=True)


def coverage_summary(rows: pd.DataFrame, level: float) -> dict[str, Any]:
    """What the reasons row states: over the slopes of every member whose prior matches, the
    mean coverage, how many rows, the largest |z|, and whether every one is within
    ``Z_FLAG`` MCSE of the nominal level (``holds``); empty when no row matches."""
    slopes = rows[rows["matching"] & (rows["term"] != "intercept")]
    if slopes.empty:
        return {}
    z = pd.to_numeric(slopes["z"], errors="coerce").abs()
    worst = slopes.loc[z.idxmax()]
    return {
        "level": level,
        "mean": float(slopes["simulated"].mean()),
        "rows": len(slopes),
        "max_abs_z": float(z.max()),
        "worst": f"{worst['scenario']}, {worst['estimator']}, {worst['term']}",
        "mcse": float(slopes["mcse"].mean()),
        "holds": bool((z <= Z_FLAG).all() and not slopes["flag"].any()),
        "plug_in": bool(slopes["sigma"].isna().any()),
        "mismatched_low": int(
            ((rows["penalty"] > 0) & ~rows["matching"] & (rows["theoretical"] < level)).sum()
        ),
    }


def width_cost(n: int, level: float) -> float:
    """How much wider, on average, the interval with σ² integrated out is than the one with σ
    known, under the matching prior (exact): t_ν c₄(ν) / z − 1 with ν = n − 1, where
    c₄(ν) = E[σ̂]/σ = √(2/ν) Γ((ν + 1)/2) / Γ(ν/2) (ν σ̂²/σ² ~ χ²_ν)."""
    nu = n - 1
    c4 = math.sqrt(2.0 / nu) * math.exp(gammaln((nu + 1) / 2) - gammaln(nu / 2))
    q = 0.5 + level / 2
    return float(t_ppf(q, nu)) * c4 / float(norm_ppf(q)) - 1.0


def _table(rows: pd.DataFrame, term: str) -> list[dict[str, Any]]:
    shown = rows[rows["term"] == term].sort_values(["n", "sigma", "penalty"], na_position="last")
    out = []
    for r in shown.itertuples(index=False):
        z = float(r.z)
        out.append(
            {
                "n": int(r.n),
                "penalty": f"{r.penalty:g}",
                "sigma": "integrated out"
                if r.sigma is None or r.sigma != r.sigma
                else f"{r.sigma:g}",
                "coverage": f"{100 * r.simulated:.1f}% ± {100 * r.mcse:.1f}%",
                "theory": f"{100 * r.theoretical:.1f}%",
                "z": f"{z:+.1f}" if math.isfinite(z) else "",
                "flag": bool(r.flag),
                "matching": bool(r.matching),
            }
        )
    return out


def prior_section(
    theory_csv: str | Path | None,
    specs: Mapping[str, Mapping[str, Any]],
    level: float,
    term: str,
    *,
    perf: pd.DataFrame | None = None,
    optima_csv: str | Path | None = None,
    estimates_dir: str | Path | None = None,
    cells: list[str] | None = None,
) -> dict[str, Any]:
    """Rows (the focus term, every posterior member and n), the summary of the section, and
    the tuned members against the oracle λ in ``cells``."""
    theory = (
        pd.read_csv(theory_csv) if theory_csv is not None and Path(theory_csv).exists() else None
    )
    rows = posterior_rows(theory, specs)
    plug = rows[rows["matching"] & rows["sigma"].isna()]
    optima = (
        pd.read_csv(optima_csv) if optima_csv is not None and Path(optima_csv).exists() else None
    )
    tuned = (
        tuned_rows(specs, perf, optima, estimates_dir, cells or [], term)
        if perf is not None
        else []
    )
    return {
        "tuned": tuned,
        "width_cost": [
            {"n": n, "percent": f"{100 * width_cost(n, level):.1f}%"}
            for n in sorted(set(plug["n"].astype(int)))
        ],
        "rows": _table(rows, term),
        "term": term,
        "summary": coverage_summary(rows, level),
        "n_rows": len(rows),
        "n_flagged": int(rows["flag"].sum()) if len(rows) else 0,
    }


def _mse(perf: pd.DataFrame, cell: str, estimator: str, term: str) -> tuple[float, float]:
    row = perf[
        (perf["scenario"].astype(str) == cell)
        & (perf["estimator"].astype(str) == estimator)
        & (perf["term"].astype(str) == term)
        & (perf["measure"] == "mse")
    ]
    if row.empty:
        return math.nan, math.nan
    return float(row["value"].iloc[0]), float(row["mcse"].iloc[0])


def tuned_rows(
    specs: Mapping[str, Mapping[str, Any]],
    perf: pd.DataFrame,
    optima: pd.DataFrame | None,
    estimates_dir: str | Path | None,
    cells: list[str],
    term: str,
) -> list[dict[str, Any]]:
    """Per tuned member and cell (of ``cells``) where the sweeps found an optimum λ: the chosen
    λ (median, quartiles), the oracle λ (its interval, theory) and MSE(tuned)/MSE(best swept λ)
    ± MCSE (independent MCSEs combined: conservative for these paired fits)."""
    tuned = [e for e, sp in specs.items() if methods.fit_for(dict(sp)).choose is not None]
    if not tuned or optima is None or optima.empty or estimates_dir is None:
        return []
    opt = optima[(optima["measure"] == "mse") & (optima["term"].astype(str) == term)]
    perf = perf[perf["scenario"].astype(str).isin(cells)]  # looked up per cell: these rows only
    out = []
    for cell in cells:
        path = Path(estimates_dir) / f"{cell}.parquet"
        here = opt[opt["cell"].astype(str) == cell]
        if here.empty or not path.exists():
            continue
        oracle = here.iloc[0]
        family = str(oracle["estimator"])
        swept = perf[
            (perf["scenario"].astype(str) == cell)
            & perf["estimator"].astype(str).str.startswith(f"{family}-")
            & (perf["term"].astype(str) == term)
            & (perf["measure"] == "mse")
        ]
        if "chosen_strength" not in pq.read_schema(path).names:  # no tuned member here
            continue
        est = pd.read_parquet(path, columns=["estimator", "term", "chosen_strength"])
        for name in tuned:
            lam = est[(est["estimator"] == name) & (est["term"] == term)]["chosen_strength"]
            if lam.empty or swept.empty:
                continue
            best = swept.loc[swept["value"].idxmin()]
            mse, mcse = _mse(perf, cell, name, term)
            ratio = mse / float(best["value"])
            err = ratio * math.hypot(mcse / mse, float(best["mcse"]) / float(best["value"]))
            q1, med, q3 = (float(lam.quantile(q)) for q in (0.25, 0.5, 0.75))
            out.append(
                {
                    "cell": cell,
                    "estimator": name,
                    "chosen": f"{med:.3g} ({q1:.3g}–{q3:.3g})",
                    "oracle": f"{float(oracle['argmin']):.3g} "
                    f"({float(oracle['ci_low']):.3g}–{float(oracle['ci_high']):.3g})",
                    "theory": f"{float(oracle['theory']):.3g}"
                    if oracle["theory"] == oracle["theory"]
                    else "",
                    "best": str(best["estimator"]),
                    "ratio": f"{ratio:.3f} ± {err:.3f}",
                }
            )
    return out
