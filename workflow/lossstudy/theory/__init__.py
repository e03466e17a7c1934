"""Does the simulation agree with theory? Exact and asymptotic results, checked against the runs.

A reader trusts a simulation that reproduces what is known exactly before it shows what is not.
For every scenario where a closed form or an asymptotic result applies, :func:`scenario_checks`
derives the theoretical value from the scenario's knobs, the study seed and the estimator specs
alone (the fixed design is regenerated from the seed exactly as ``dgp.simulate`` draws it), and
:func:`compare` puts the simulated value next to it, with its Monte Carlo standard error (MCSE)
and z = (simulated − theoretical) / MCSE. A row is flagged beyond ``Z_FLAG`` = 3 MCSE.

What is checked (``kind``):

exact
    *Linear estimators* (OLS, WLS, ridge) under a **fixed design** with finite error variance:
    every draw is y = K β + c + e with Cov(e) = Ω known in closed form (heteroskedasticity, AR(1)
    errors and endogeneity included: with a fixed design the endogeneity and misspecification
    terms are fixed vectors c, bad leverage rows make K ≠ X), so for b = M y,

        E[d] = (M K − I) E[β] + M c,   Cov(d) = (M K − I) Cov(β) (M K − I)' + M Ω M',

    with M = (X'X)⁻¹X' (OLS: unbiased, σ²(X'X)⁻¹ under Gauss–Markov), (X'WX)⁻¹X'W (WLS) or
    (X'X + λD)⁻¹X' (ridge: bias −λ(X'X+λD)⁻¹Dβ, variance σ²(X'X+λD)⁻¹X'X(X'X+λD)⁻¹). Under a
    prior on β the moments are over the prior too (E[β] has zero slopes, Cov(β) = τ² on the
    slopes). Checked per coefficient: ``bias`` and ``variance`` (of d = estimate − true value).
    *OLS under a random normal design* (iid rows N(0, Σ), homoskedastic errors): unbiased, and
    by the inverse-Wishart mean Var(slope j) = σ² [Σ⁻¹]_jj / (n − p − 1), Var(intercept) =
    σ² (n − 2) / (n (n − p − 1)).
    *Coverage* of the classical t intervals of OLS and WLS when their weights match Var(e | x)
    (OLS: homoskedastic; WLS: Var ∝ 1 + strength·x_j²), the estimator is unbiased and the errors
    are uncorrelated and **normal**: exactly the nominal level, at every n.
    *Coverage of ridge's posterior intervals* (``se: posterior``, :mod:`.posterior`): the
    nominal level over a matching Gaussian prior (λ = σ²/τ², normal homoskedastic errors), σ
    known or integrated out; with σ known on a fixed design under normal errors, the exact
    coverage for any λ and prior (below nominal for λ > σ²/τ², above for λ < σ²/τ²).

asymptotic
    The same coverage under non-normal finite-variance errors (nominal only as n → ∞), and the
    relative efficiency Var(OLS)/Var(method) of LAD and Huber under iid symmetric errors:
    ARE_LAD = 4 f(0)² Var(e); ARE_Huber = Var(e) / (s² E[ψ_k(e/s)²] / P(|e| ≤ k s)²) with s the
    limit of RLM's MAD scale, median|e| / Φ⁻¹(3/4) (not the SD: that is the "MAD-scale-consistent"
    formula). Pooled over all coefficients (the theory is the same for each).

prediction (term ``model``; :mod:`lossstudy.theory.prediction`)
    The exact test MSE of linear estimators on a fixed design with iid homoskedastic errors,
    σ² + tr(S Cov(d)) + E[d]' S E[d] with S = E[x x'] of a fresh row (``exact``), and under
    centred exponential errors the asymptotic test-MSE price of LAD, σ²(1 − ln 2)², and
    test-MAE price of OLS, σ(2/e − ln 2) (``asymptotic``), both against the simulated mean of
    the replicates' test errors (paired for the gaps).

ordering
    *Gauss–Markov / Aitken*: where one linear unbiased estimator of the study has weights that
    match Var(e | x) (OLS under homoskedasticity, WLS with strength = γ under Var ∝ 1 + γ x_j²), it
    is the BLUE: every other linear unbiased estimator's variance is at least its variance
    (``variance_excess`` ≥ 0, per coefficient, paired MCSE).
    *Bayes*: with slopes ~ N(0, τ²), normal homoskedastic errors and a ridge with λ = σ²/τ² in the
    study, that ridge is the posterior mean given X (flat prior on the intercept), so its average
    MSE over the slopes is the lowest of all estimators whose slopes do not depend on the
    intercept (all of the study's): ``bayes_risk_excess`` ≥ 0 for every other estimator.

trained members (``solver: gd | sgd | adam``, :mod:`.training`)
    GD on the squared loss is linear in y: exact ``bias``, ``empse`` and ``mse`` per term and
    exact ``opt_error`` (distance to the OLS fit) and ``objective_gap`` at every checkpoint;
    ``divergence``: a bound (≤) where the step is stable, a lower bound (≥) past c = 1, exactly
    0 for bounded-gradient losses; convergence to the exact minimiser (asymptotic) for smooth
    losses at c < 1; the averaged subgradient plateau ηG²/2 on L1 (asymptotic). The exact-fit
    checks above leave trained members out.

Everything that does not apply is listed with its reason by :func:`scenario_checks` (``skipped``).

Modules: ``checks`` (:class:`Check`, the scenario's premises shared by the theorems), ``exact``
(closed-form moments and coverage of linear estimators), ``asymptotic`` (error laws, LAD and Huber
efficiency), ``ordering`` (the BLUE and the Bayes ridge), ``training`` (trained members),
``simulated`` (the simulated side, from the estimates); this one holds the table's constants and
columns, :func:`scenario_checks`, :func:`compare`, :func:`theory_table`,
:func:`outside_the_theorem` and :func:`write_theory`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy import methods, response
from lossstudy.config import term_names
from lossstudy.io import atomic_path
from lossstudy.mcse import P_CHANCE as P_CHANCE
from lossstudy.mcse import Z_FLAG as Z_FLAG
from lossstudy.mcse import format_pm

from .asymptotic import MAD_C as MAD_C  # re-exported, as all names of the former theory.py
from .asymptotic import ErrorLaw as ErrorLaw
from .asymptotic import (
    are_huber,
    are_lad,
    efficiency_checks,
    error_law,
    huber_asymptotic_variance,
    mad_scale,
)
from .checks import HEAVY_TAILS_NOTE as HEAVY_TAILS_NOTE
from .checks import Check, _join, is_trained, setting
from .exact import LinearDGP, coverage_checks, linear_dgp, linear_map, linear_moments, moment_checks
from .ordering import BAYES_RTOL as BAYES_RTOL
from .ordering import bayes_checks, gauss_markov_checks
from .posterior import posterior_checks
from .prediction import QUANTITIES as PREDICTION_QUANTITIES
from .prediction import TestErrors, prediction_checks
from .simulated import _errors, _simulate
from .training import training_checks

__all__ = [
    "COLUMNS",
    "FLOAT_FLOOR",
    "FLOOR_NOTE",
    "P_CHANCE",
    "QUANTITIES",
    "KINDS",
    "Z_FLAG",
    "Check",
    "LinearDGP",
    "are_huber",
    "are_lad",
    "below_floor",
    "compare",
    "flagged_rows",
    "error_law",
    "huber_asymptotic_variance",
    "linear_dgp",
    "linear_map",
    "linear_moments",
    "mad_scale",
    "outside_the_theorem",
    "scenario_checks",
    "theory_table",
    "write_theory",
]

log = logging.getLogger("lossstudy")

KINDS = ("exact", "asymptotic", "ordering")
COLUMNS = (
    "scenario",
    "estimator",
    "versus",
    "term",
    "quantity",
    "simulated",
    "mcse",
    "theoretical",
    "relation",
    "z",
    "kind",
    "flag",
    "rel_diff",
    "n_used",
    "note",
)
#: quantity -> label (``est``: the row's estimator, ``vs``: its comparator), in report order.
QUANTITIES: dict[str, str] = {
    "bias": "bias (mean of d)",
    "variance": "variance of d",
    "coverage": "coverage of the t interval",
    "rel_efficiency": "Var(vs) / Var(est), pooled over terms",
    "variance_excess": "Var(est) − Var(vs), vs the BLUE",
    "bayes_risk_excess": "mean slope MSE: est − vs, vs the Bayes rule",
    **PREDICTION_QUANTITIES,
    "empse": "empirical SE (SD of d)",
    "mse": "MSE (mean of d²)",
    "divergence": "share of replicates diverged",
    "opt_error": "RMS distance to the exact minimiser",
    "objective_gap": "mean objective gap f(β_K) − f(β̂)",
}
#: Quantities the performance table holds under the same name (taken from there when present,
#: so that the theory table quotes the report's numbers).
FROM_PERFORMANCE = (
    "bias",
    "coverage",
    "mse",
    "risk",
    "divergence",
    "opt_error",
    "objective_gap",
)
#: Shares whose z is a score test (binomial SE at the theoretical share): divergence is often
#: exactly 0 or 1 in theory, where the observed SE says nothing about a single departure.
SCORE_TESTED = ("divergence",)
SKIPPED_COLUMNS = ("scenario", "check", "estimator", "reason")
#: Columns of the estimates files no check reads (the scenario and method are the file's and
#: the spec's, messages go to the failure rows): text columns cost the most to read, and these
#: three were a quarter of the time it took the job to read the exact-fit study's 204 files.
UNREAD_COLUMNS = frozenset({"scenario", "method", "message"})
#: A difference at most this share of the values' scale is floating-point rounding, not a
#: finding (different code paths to the same number differ by ~1e-16 relative).
FLOAT_FLOOR = 1e-12
#: The note of a row whose simulated and theoretical values agree to the floating-point floor.
FLOOR_NOTE = "equal up to floating-point rounding: not a finding"


def below_floor(value: float, theoretical: float, scale: float = 0.0) -> bool:
    """A non-zero difference no larger than ``FLOAT_FLOOR`` × the values' scale (the larger of
    |value|, |theoretical| and ``scale``, the size of what a difference is taken between)."""
    diff = abs(value - theoretical)
    size = max(abs(value), abs(theoretical), abs(scale))
    return bool(math.isfinite(diff) and 0 < diff <= FLOAT_FLOOR * size)


def scenario_checks(
    scenario_id: str,
    knobs: Mapping[str, Any],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
) -> tuple[list[Check], list[dict[str, str]]]:
    """The theoretical statements that apply to one scenario, and those that do not (why)."""
    s = setting(scenario_id, knobs, seed, estimators, level)
    moments = moment_checks(s)
    coverage_checks(s)
    posterior_checks(s)
    efficiency_checks(s)
    gauss_markov_checks(s, moments)
    bayes_checks(s, moments)
    prediction_checks(s, moments)
    training_checks(s)
    return s.checks, s.skipped


def compare(
    scenario_id: str,
    checks: Sequence[Check],
    estimates: pd.DataFrame,
    performance: pd.DataFrame | None,
    terms: Sequence[str],
) -> pd.DataFrame:
    """One row per check: simulated ± MCSE against the theoretical value, z and flag.

    ``estimates`` are the scenario's per-replicate estimates (``results/estimates``), and
    ``performance`` its performance rows (bias and coverage are taken from there when present,
    so that they are the report's numbers; otherwise computed the same way from the estimates).
    """
    dd = _errors(estimates, terms)
    perf_idx: dict[tuple[str, str, str], tuple[float, float, int]] = {}
    if performance is not None and len(performance):
        sub = performance[
            (performance["scenario"].astype(str) == scenario_id)
            & performance["measure"].isin(list(FROM_PERFORMANCE))
        ]
        for r in sub.itertuples(index=False):
            perf_idx[(str(r.estimator), str(r.term), str(r.measure))] = (
                float(r.value),
                float(r.mcse),
                int(r.n_used),
            )
    rows = []
    cache = TestErrors(estimates)
    for c in checks:
        value, mcse, n = _simulate(c, dd, estimates, perf_idx, terms, cache)
        note = c.note
        if c.quantity == "coverage" and not mcse > 0 and n > 0:
            # all or no intervals covered (small R): use the binomial SE at the nominal level
            mcse = math.sqrt(c.theoretical * (1.0 - c.theoretical) / n)
            note = _join(note, "MCSE at the nominal level: the observed coverage is 0 or 1")
        scale = mcse
        if c.quantity in SCORE_TESTED and n > 0:
            # a score test: the binomial SE at the theoretical share (0 at a certainty, where
            # agreement is exact and any departure a flag)
            scale = math.sqrt(c.theoretical * (1.0 - c.theoretical) / n)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (value - c.theoretical) / scale if scale > 0 else math.nan
        certain = c.quantity in SCORE_TESTED and n > 0 and scale == 0
        off = _off(value, c.theoretical, c.relation)
        if certain and not off:
            z = 0.0
        if not math.isfinite(z):
            z = math.nan
            why = "no usable replicates" if n == 0 else "MCSE not computable"
            note = _join(note, "a theoretical certainty missed" if certain else why)
        if below_floor(value, c.theoretical, c.scale):
            z, flag, note = 0.0, False, _join(note, FLOOR_NOTE)
        elif not c.tested:
            flag = False
        elif certain:
            flag = off
        elif c.relation == ">=":
            flag = bool(z < -Z_FLAG)
        elif c.relation == "<=":
            flag = bool(z > Z_FLAG)
        else:
            flag = bool(abs(z) > Z_FLAG)
        rel = (value - c.theoretical) / abs(c.theoretical) if c.theoretical != 0 else math.nan
        rows.append(
            {
                "scenario": scenario_id,
                "estimator": c.estimator,
                "versus": c.versus,
                "term": c.term,
                "quantity": c.quantity,
                "simulated": value,
                "mcse": mcse,
                "theoretical": c.theoretical,
                "relation": c.relation,
                "z": z,
                "kind": c.kind,
                "flag": flag,
                "rel_diff": rel,
                "n_used": n,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _off(value: float, theoretical: float, relation: str) -> bool:
    """Whether ``value`` breaks the relation to ``theoretical`` at all (no error allowed)."""
    if relation == ">=":
        return bool(value < theoretical)
    if relation == "<=":
        return bool(value > theoretical)
    return bool(value != theoretical)


def _explain_chance(table: pd.DataFrame) -> pd.DataFrame:
    """Flagged exact rows with no known caveat: say how many such flags chance alone gives."""
    exact = table["kind"] == "exact"
    n_exact = int(exact.sum())
    bare = exact & table["flag"] & ~table["note"].str.contains("fourth moment", regex=False)
    if bare.any():
        note = (
            f"no known cause: of {n_exact} exact rows about {n_exact * P_CHANCE:.1f} exceed "
            f"{Z_FLAG:g} MCSE by chance alone (P(|Z| > {Z_FLAG:g}) = {100 * P_CHANCE:.2f}%); "
            "more replicates would settle it"
        )
        table.loc[bare, "note"] = table.loc[bare, "note"].map(lambda s: _join(s, note))
    return table


def theory_table(
    scenarios: Mapping[str, Mapping[str, Any]],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    estimates: Mapping[str, pd.DataFrame],
    performance: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's theory table and the list of checks that do not apply (with reasons).

    ``scenarios`` maps scenario id → resolved knobs; ``estimates`` maps scenario id → its
    per-replicate estimates. Scenarios without estimates are skipped.
    """
    tables, skipped = [], []
    for sid, knobs in scenarios.items():
        if sid not in estimates:
            continue
        if response.family(knobs) != response.GAUSSIAN:
            skipped.append(
                {
                    "scenario": sid,
                    "check": "all",
                    "estimator": "",
                    "reason": f"a {response.family(knobs)} response: the theory here is that of "
                    "y = Xβ + e (the classification section states its own)",
                }
            )
            continue
        # any member may be fitted in some scenarios only (``scenarios:``): the estimates say
        est = estimates[sid]
        present = set(est["estimator"].astype(str).unique())
        specs = {k: v for k, v in estimators.items() if k in present}
        checks, skips = scenario_checks(sid, knobs, seed, specs, level)
        terms = term_names(len(knobs["coefficients"]))
        if checks:
            tables.append(compare(sid, checks, est, performance, terms))
        skipped += [{"scenario": sid, **s} for s in skips]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(COLUMNS))
    table["flag"] = table["flag"].astype(bool)
    table["note"] = table["note"].fillna("").astype(str)
    table = _explain_chance(table)
    return table, pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS))


def outside_the_theorem(
    performance: pd.DataFrame,
    gauss_markov_scenarios: Sequence[str],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str | None,
    term: str,
) -> list[dict[str, Any]]:
    """Where an estimator outside the theorem's class beats OLS in MSE although every
    Gauss–Markov assumption holds: no contradiction, the theorem speaks of *linear unbiased*
    estimators only. Per estimator (non-linear in y, or biased by a penalty), the scenarios where
    its ``rel_mse`` against the OLS reference exceeds 1 by more than ``Z_FLAG`` MCSE."""
    if reference is None or estimators.get(reference, {}).get("method") != "ols":
        return []
    perf = performance[
        (performance["measure"] == "rel_mse")
        & (performance["term"].astype(str) == term)
        & performance["scenario"].astype(str).isin(list(gauss_markov_scenarios))
    ]
    out = []
    for name, spec in estimators.items():
        method = spec["method"]
        if is_trained(spec):
            why = "trained by gradient steps (stopped early, it shrinks like a penalty)"
        elif not methods.fit_for(spec).linear_in_y:
            why = "not linear in y"
        elif methods.penalised(spec):
            why = "biased by its penalty"
        else:
            continue
        cases = []
        for r in perf[perf["estimator"].astype(str) == name].itertuples(index=False):
            defined = str(r.defined).strip().lower() in ("true", "1")
            value, mcse = float(r.value), float(r.mcse)
            if defined and mcse > 0 and (value - 1.0) / mcse > Z_FLAG:
                cases.append({"scenario": str(r.scenario), "text": format_pm(value, mcse)})
        if cases:
            out.append(
                {
                    "estimator": name,
                    "method": method,
                    "why": why,
                    "cases": cases,
                    "n_cases": len(cases),
                }
            )
    return out


def flagged_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The flagged rows of a theory table, largest |z| first (NaN z, a missed certainty, first
    of all): the order the report shows its top rows in and ``theory_flagged.csv`` keeps."""
    flag = table["flag"].map(lambda v: str(v).strip().lower() in ("true", "1"))
    out = table[flag.astype(bool)].copy()
    z = pd.to_numeric(out["z"], errors="coerce").abs().fillna(math.inf)
    return out.iloc[np.argsort(-z.to_numpy(), kind="stable")].reset_index(drop=True)


class _LazyEstimates(Mapping[str, pd.DataFrame]):
    """Scenario id → its estimates, read when asked for and not kept: peak memory is one
    scenario's estimates, not the study's (4.3 GB for the 192-cell default study)."""

    def __init__(self, files: Mapping[str, str | Path]) -> None:
        self._files = dict(files)

    def __getitem__(self, sid: str) -> pd.DataFrame:
        import pyarrow.parquet as pq  # as pandas' reader does, when a file is read

        path = self._files[sid]
        keep = [c for c in pq.read_schema(path).names if c not in UNREAD_COLUMNS]
        return pd.read_parquet(path, columns=keep)

    def __contains__(self, sid: object) -> bool:
        return sid in self._files  # without reading the file (Mapping's default would)

    def __iter__(self) -> Any:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def write_theory(
    scenarios: Mapping[str, Mapping[str, Any]],
    seed: int,
    estimators: Mapping[str, Mapping[str, Any]],
    level: float,
    estimate_files: Mapping[str, str | Path],
    performance_csv: str | Path | None,
    out_csv: str | Path,
    out_skipped: str | Path,
    out_flagged: str | Path | None = None,
) -> None:
    """Read every scenario's estimates and the performance table; write theory.csv, the
    checks that do not apply and (``out_flagged``) the flagged rows, largest |z| first.

    BLAS runs on one thread, as in the draws and fits (:mod:`lossstudy.blas`): an exact
    variance on a fixed AR(1) design differed in its last bits with two threads."""
    import scipy.linalg  # noqa: F401  (its own BLAS loaded before the pin, so pinned too)

    from lossstudy.blas import single_thread_blas

    estimates = _LazyEstimates(estimate_files)
    perf = None
    if performance_csv is not None:
        perf = pd.read_csv(performance_csv, keep_default_na=False, na_values=[""])
    with single_thread_blas():
        table, skipped = theory_table(scenarios, seed, estimators, level, estimates, perf)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out_skipped) as tmp:
        skipped.to_csv(tmp, index=False)
    if out_flagged is not None:
        with atomic_path(out_flagged) as tmp:
            flagged_rows(table).to_csv(tmp, index=False)
    log.info(
        "theory: %d rows (%d exact, %d asymptotic, %d ordering), %d flagged; %d checks skipped",
        len(table),
        int((table["kind"] == "exact").sum()),
        int((table["kind"] == "asymptotic").sum()),
        int((table["kind"] == "ordering").sum()),
        int(table["flag"].sum()),
        len(skipped),
    )
