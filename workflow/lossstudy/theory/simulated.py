"""The simulated side of each check: value, MCSE and replicates used, from the estimates.

Why: every theoretical statement is tested against the per-replicate estimates of
``results/estimates`` (and bias and coverage against the performance table's own numbers, so
that the theory table agrees with the report); the estimates are read once per scenario into
d = estimate − true value, aligned across estimators by replicate, so that orderings are paired
comparisons on the same replicates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .checks import Check
from .prediction import QUANTITIES as PREDICTION
from .prediction import TestErrors, simulate_prediction


def _errors(est: pd.DataFrame, terms: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per estimator: d (R×p, replicates aligned across estimators) and its usable mask."""
    e_codes, e_names = pd.factorize(est["estimator"], sort=False)
    # replicates and terms by their codes: looking 150,000 names up in an Index one by one (and
    # turning the text columns into Python strings) was most of the theory job's time
    ri, reps = pd.factorize(est["replicate"], sort=True)
    t_codes, t_names = pd.factorize(est["term"], sort=False)
    position = {term: i for i, term in enumerate(terms)}
    ti = np.array([position.get(str(t), -1) for t in t_names] + [-1])[t_codes]
    diff = pd.to_numeric(est["estimate"], errors="coerce").to_numpy(float) - pd.to_numeric(
        est["true_value"], errors="coerce"
    ).to_numpy(float)
    status_ok = (est["status"] == "ok").to_numpy(dtype=bool, na_value=False)
    keep = (ri >= 0) & (ti >= 0)
    d = np.full((len(e_names), len(reps), len(terms)), np.nan)
    ok = np.zeros(d.shape, dtype=bool)
    d[e_codes[keep], ri[keep], ti[keep]] = diff[keep]
    ok[e_codes[keep], ri[keep], ti[keep]] = status_ok[keep]
    return {str(name): (d[i], ok[i] & np.isfinite(d[i])) for i, name in enumerate(e_names)}


def _coverage(est: pd.DataFrame, name: str, term: str) -> tuple[float, float, int]:
    sub = est[(est["estimator"] == name) & (est["term"] == term) & (est["status"] == "ok")]
    lo, hi, tv = (
        pd.to_numeric(sub[c], errors="coerce") for c in ("ci_low", "ci_high", "true_value")
    )
    use = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(tv)
    n = int(use.sum())
    if n == 0:
        return math.nan, math.nan, 0
    c = float(((lo[use] <= tv[use]) & (tv[use] <= hi[use])).mean())
    return c, math.sqrt(c * (1 - c) / n), n


def _variance(d: np.ndarray, use: np.ndarray) -> tuple[float, float, int]:
    x = d[use]
    n = x.size
    if n < 3:
        return math.nan, math.nan, n
    c2 = (x - x.mean()) ** 2
    return float(x.var(ddof=1)), float(c2.std(ddof=1) / math.sqrt(n)), n


def _mean(x: np.ndarray) -> tuple[float, float, int]:
    n = x.size
    if n < 2:
        return math.nan, math.nan, n
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(n)), n


def _trained(est: pd.DataFrame, name: str, q: str, p: int) -> tuple[float, float, int]:
    """A trained member's model-level measure from its estimates, as the performance table
    defines it: ``divergence`` the share of replicates with status diverged (binomial MCSE),
    ``opt_error`` √(mean Σ_j opt_diff_j²) over the ok replicates (delta-method MCSE),
    ``objective_gap`` its mean (SD/√R)."""
    sub = est[est["estimator"] == name]
    if q == "divergence":
        status = sub.groupby("replicate", sort=False)["status"].first()
        n = int(status.size)
        if n == 0:
            return math.nan, math.nan, 0
        share = float((status == "diverged").mean())
        return share, math.sqrt(share * (1.0 - share) / n), n
    column = "opt_diff" if q == "opt_error" else "objective_gap"
    if column not in sub.columns:
        return math.nan, math.nan, 0
    ok = sub[sub["status"] == "ok"]
    values = pd.to_numeric(ok[column], errors="coerce")
    if q == "objective_gap":
        per = values.groupby(ok["replicate"].to_numpy(), sort=False).first().to_numpy(float)
        return _mean(per[np.isfinite(per)])
    per = (values**2).groupby(ok["replicate"].to_numpy(), sort=False).sum(min_count=p)
    sq = per.to_numpy(float)
    sq = sq[np.isfinite(sq)]
    value, mcse, n = _mean(sq)
    if not n or not value >= 0:
        return math.nan, math.nan, n
    root = math.sqrt(value)
    return root, mcse / (2.0 * root) if root > 0 else 0.0, n


def _paired_excess(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    """mean(a − b) and its MCSE sd(a − b)/√R over paired replicates."""
    diff = a - b
    n = diff.size
    if n < 3:
        return math.nan, math.nan, n
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n)), n


def _simulate(
    check: Check,
    dd: Mapping[str, tuple[np.ndarray, np.ndarray]],
    est: pd.DataFrame,
    perf_idx: Mapping[tuple[str, str, str], tuple[float, float, int]],
    terms: Sequence[str],
    cache: TestErrors | None = None,
) -> tuple[float, float, int]:
    """Simulated value, MCSE and number of replicates for one check (``cache``: the scenario's
    test errors, shared by its checks)."""
    name, q = check.estimator, check.quantity
    if name not in dd or (check.versus and check.versus not in dd):
        return math.nan, math.nan, 0
    if q in PREDICTION:  # per estimator, from the test-error columns
        return simulate_prediction(check, cache if cache is not None else TestErrors(est))
    d, use = dd[name]
    if q in ("bias", "coverage"):
        hit = perf_idx.get((name, check.term, q))
        if hit is not None:
            return hit
        j = list(terms).index(check.term)
        if q == "bias":
            x = d[use[:, j], j]
            n = x.size
            return float(x.mean()), float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan, n
        return _coverage(est, name, check.term)
    if q == "variance":
        j = list(terms).index(check.term)
        return _variance(d[:, j], use[:, j])
    if q in ("mse", "risk", "divergence", "opt_error", "objective_gap"):
        hit = perf_idx.get((name, check.term, q))
        if hit is not None:
            return hit
        if q == "mse":
            j = list(terms).index(check.term)
            return _mean(d[use[:, j], j] ** 2)
        if q == "risk":
            return _mean((d[use.all(axis=1)] ** 2).sum(axis=1))
        return _trained(est, name, q, len(terms))
    if q == "empse":
        j = list(terms).index(check.term)
        var, mcse, n = _variance(d[:, j], use[:, j])
        sd = math.sqrt(var) if var >= 0 else math.nan
        return sd, mcse / (2.0 * sd) if sd > 0 else math.nan, n
    d_v, use_v = dd[check.versus]
    if q == "variance_excess":
        j = list(terms).index(check.term)
        pair = use[:, j] & use_v[:, j]
        x, y = d[pair, j], d_v[pair, j]
        n = x.size
        if n < 3:
            return math.nan, math.nan, n
        value, mcse, n = _paired_excess((x - x.mean()) ** 2, (y - y.mean()) ** 2)
        return value * n / (n - 1), mcse * n / (n - 1), n
    if q == "bayes_risk_excess":
        pair = use[:, 1:].all(axis=1) & use_v[:, 1:].all(axis=1)
        a = (d[pair, 1:] ** 2).mean(axis=1)
        b = (d_v[pair, 1:] ** 2).mean(axis=1)
        return _paired_excess(a, b)
    if q == "rel_efficiency":
        pair = use.all(axis=1) & use_v.all(axis=1)
        x, y = d[pair], d_v[pair]
        n = int(pair.sum())
        if n < 3:
            return math.nan, math.nan, n
        a = ((y - y.mean(axis=0)) ** 2).sum(axis=1)  # the comparator (OLS)
        b = ((x - x.mean(axis=0)) ** 2).sum(axis=1)
        ratio = a.mean() / b.mean()
        mcse = math.sqrt(np.var(a - ratio * b, ddof=1) / n) / b.mean()
        return float(ratio), float(mcse), n
    raise ValueError(f"unknown quantity {q!r}")
