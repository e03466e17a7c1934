"""Performance measures with Monte Carlo standard errors (Morris, White & Crowther 2019).

One call of :func:`performance_table` summarises the per-replicate fits of one scenario into a
tidy table: one row per estimator x term x measure, each with its Monte Carlo standard error
(MCSE), the number of replicates it rests on and whether it is defined.

Estimation error
    Everything is computed from the estimation error ``d_i = estimate_i - true_value_i``, so the
    measures stay right when the true value is drawn per replicate from a prior. For a fixed
    true value ``SD(d) = SD(t)`` and ``mean(d) = t_bar - theta``, i.e. the textbook formulas.

Missing-data rule
    A row (estimator, term, replicate) is *usable* only if ``status == "ok"`` and ``d`` is finite
    (finite estimate and finite true value). Rows are dropped per estimator, never per replicate:
    one estimator failing on a replicate does not remove that replicate from the others.
    On top of that,

    * ``modse`` and ``rel_error_modse`` use usable rows with a finite ``std_error``
      (``rel_error_modse`` takes EmpSE over exactly those rows);
    * ``coverage``, ``be_coverage`` and ``rejection`` use usable rows with finite ``ci_low`` and
      ``ci_high`` (the bias for ``be_coverage`` is the mean of ``d`` over those same rows);
    * ``rel_precision``, ``rel_efficiency`` and ``rel_mse`` use the replicates usable by *both*
      this estimator and the reference (paired), and compute both EmpSEs / MSEs and the
      correlation on that set. The correlation is that of the errors ``d`` (the same as that
      of the estimates when the true value is fixed), consistent with EmpSE being SD(d).

    ``n_used`` is the number of replicates a measure rests on. With ``n_used < 2``, or when an
    estimator reports no model SE / no intervals at all, value and MCSE are NaN, ``defined`` is
    False and ``note`` says why.

Moments that do not exist, MCSEs that are not valid
    ``rules`` maps an estimator to its :class:`lossstudy.moments.MeasureRule` per measure
    (from :func:`lossstudy.moments.moment_rules`, which already combines the estimator's and the
    reference's moments for the relative measures). Two separate flags come out of it:

    * ``defined=False`` where the measure does not exist (OLS bias under Cauchy errors; OLS
      EmpSE under t errors with df <= 2). The computed sample value is kept: it estimates
      nothing.
    * ``mcse_valid=False`` where the measure exists but its normal-theory MCSE is not a valid
      standard error (OLS bias under t with 1 < df <= 2; OLS EmpSE/MSE under 2 < df <= 4).

    The rule's reason goes into ``note``. ``mcse_valid`` is also False wherever the measure is
    not defined or its MCSE is not finite, so ``mcse_valid`` True means "read the MCSE as a
    standard error". The reference against itself has relative measures exact by definition
    (MCSE 0), valid wherever they are defined. Estimators absent from ``rules`` have all their
    moments.

Per estimator, on the term ``model`` (:data:`MODEL_MEASURES`), from per-replicate columns
    ``risk`` (every estimator: the mean over usable replicates of ‖β̂ − β‖² = Σ_j (β̂_j − β_j)²,
    the sum of the terms' MSE, MCSE SD/√R; usable: status ok, every term finite), ``test_mse``,
    ``test_mae`` and ``ise`` (every estimator, where the estimates carry them): the mean over
    usable replicates (status ok, finite value), MCSE SD/√R (the replicates' values are iid:
    :mod:`lossstudy.prediction`). A network has no coefficients: its rows are on the term
    ``model`` in the estimates (one per replicate), it gets no per-term measures and no risk,
    and it counts as trained. Trained fits (an estimator with a finite ``opt_diff`` or
    ``objective_gap``, or a replicate with status ``diverged``) add ``divergence`` (share of all
    its replicates with status diverged, binomial MCSE), ``opt_error`` (√ of the mean over usable
    replicates of Σ_j opt_diff_j², MCSE by the delta method SD(Σ opt_diff²)/(2 opt_error √R))
    and ``objective_gap`` (mean, SD/√R). A value repeated on the term rows of a replicate is
    read once. The moment rules of ``rules`` apply as to the per-term measures. The estimators
    named in ``selecting`` (fits that set slopes exactly to 0) add ``zero_share``, ``tpr`` and
    ``fpr`` of the estimated support (:func:`_selection_measures`).

Intervals are taken as given: ``level`` is the confidence level they were built at, so
``rejection`` is the rejection rate of H0: term = 0 at significance ``1 - level``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lossstudy.measures import COMPUTED, MODEL, names
from lossstudy.moments import MeasureRule

__all__ = [
    "MEASURES",
    "MODEL_MEASURES",
    "MODEL_TERM",
    "OUTPUT_COLUMNS",
    "performance_table",
    "read_performance",
]

#: the measures computed here, in the order of ``performance.csv`` (:mod:`lossstudy.measures`)
MEASURES: tuple[str, ...] = COMPUTED
#: the per-estimator measures, on the term :data:`MODEL_TERM`
MODEL_MEASURES: tuple[str, ...] = MODEL
#: a classifier's scores on fresh data: columns of a classification scenario's estimates
_CLASSIFY: tuple[str, ...] = names(response="bernoulli")
MODEL_TERM = "model"
_TRAINED_ONLY = frozenset(names(trained_only=True))

OUTPUT_COLUMNS: tuple[str, ...] = (
    "scenario",
    "estimator",
    "term",
    "measure",
    "value",
    "mcse",
    "n_used",
    "defined",
    "note",
    "mcse_valid",
)

_INPUT_COLUMNS: tuple[str, ...] = (
    "scenario",
    "replicate",
    "estimator",
    "term",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "status",
    "true_value",
)

_RELATIVE_MEASURES = frozenset(names(relative=True))
_SE_MEASURES = frozenset(names(needs="se"))
_CI_MEASURES = frozenset(names(needs="ci"))

_Z = 1.96
_MAD_SCALE = 1.4826
_N_BOOT = 200
_BOOT_SEED = 0


# --------------------------------------------------------------------------------------------
# masked reductions along the last axis (replicates); masked-out entries may hold NaN
# --------------------------------------------------------------------------------------------


def _count(mask: np.ndarray) -> np.ndarray:
    """Number of usable replicates per cell."""
    return mask.sum(axis=-1)


def _mean(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over usable entries (NaN where none); masking keeps NaNs out of the sums."""
    n = _count(mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, x, 0.0).sum(axis=-1) / n


def _cov(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sample covariance (n - 1) over usable entries, centred per cell for accuracy."""
    n = _count(mask)
    xc = np.where(mask, x - _mean(x, mask)[..., None], 0.0)
    yc = np.where(mask, y - _mean(y, mask)[..., None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=-1) / (n - 1)


def _var(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sample variance (n - 1) over usable entries."""
    return _cov(x, x, mask)


def _sorted_usable(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Usable values sorted ascending per cell, unusable ones pushed to the end as NaN."""
    return np.sort(np.where(mask, x, np.nan), axis=-1)


def _take(sorted_x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Pick one order statistic per cell (``idx`` already clipped to valid positions)."""
    return np.take_along_axis(sorted_x, idx[..., None], axis=-1)[..., 0]


def _median(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median over usable entries from the sorted values (NaN where none)."""
    n = _count(mask)
    s = _sorted_usable(x, mask)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    return np.where(n > 0, 0.5 * (_take(s, lo) + _take(s, hi)), np.nan)


def _median_mcse(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distribution-free MCSE of the median from the order statistics bracketing it."""
    n = _count(mask)
    s = _sorted_usable(x, mask)
    half = _Z * np.sqrt(n) / 2.0
    top = np.clip(n - 1, 0, None)
    lo = np.clip(np.floor(n / 2.0 - half).astype(np.int64), 0, top)
    hi = np.clip(np.ceil(n / 2.0 + half).astype(np.int64), 0, top)
    return (_take(s, hi) - _take(s, lo)) / (2.0 * _Z)


def _mad(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scaled median absolute deviation: a spread that exists even without moments."""
    med = _median(x, mask)
    return _MAD_SCALE * _median(np.abs(x - med[..., None]), mask)


def _mad_bootstrap_mcse(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Bootstrap SD (ddof=1) of the MAD over 200 resamples: it has no simple closed-form MCSE.

    Every cell draws its resample indices from a fresh ``np.random.default_rng(0)``, so its
    MCSE depends only on its own usable values, never on what else is in the table. The
    indices (into the cell's *sorted* values) are sorted too, so each resample comes out
    sorted and its median is read off by position. This is the ordinary bootstrap: the
    resampled multisets are the same as resampling the values in any order with those indices.

    The absolute deviations from that median are two sorted runs (left of the median, read
    backwards, and right of it), so the two middle order statistics of their union are found by
    binary search (:func:`_kth_of_two_runs`) without forming or partitioning the resample. The
    values found are the same numbers a partition would pick, bit for bit; each is elementwise
    per cell and resample, so a cell's result cannot depend on which cells share its batch.
    Why: partitioning 200 resamples of every cell was half of a summary job's own time.
    """
    cells = _sorted_usable(x, mask).reshape(-1, x.shape[-1])
    n = mask.reshape(-1, mask.shape[-1]).sum(axis=-1)
    out = np.full(cells.shape[0], np.nan)
    for size in np.unique(n[n >= 2]).tolist():
        idx = np.random.default_rng(_BOOT_SEED).integers(0, size, size=(_N_BOOT, size))
        idx.sort(axis=-1)
        lo, hi = (size - 1) // 2, size // 2
        which = np.flatnonzero(n == size)
        vals = cells[which, :size]  # (cells, size), each row sorted
        med = 0.5 * (vals[:, idx[:, lo]] + vals[:, idx[:, hi]])  # (cells, resamples)
        mads = (
            _MAD_SCALE
            * 0.5
            * (_kth_of_two_runs(vals, idx, med, lo) + _kth_of_two_runs(vals, idx, med, hi))
        )
        for row, cell in enumerate(which.tolist()):
            out[cell] = mads[row].std(ddof=1)
    return out.reshape(x.shape[:-1])


def _kth_of_two_runs(vals: np.ndarray, idx: np.ndarray, med: np.ndarray, k: int) -> np.ndarray:
    """k-th smallest (0-based) |v − med| of each resample v = vals[cell, idx[resample]].

    v is sorted and ``med`` lies between its two middle values, so with split = size // 2 the
    deviations a_t = |v[split − 1 − t] − med| (t < split) and b_t = |v[split + t] − med|
    (t < size − split) are each non-decreasing (floating-point subtraction and abs are
    monotone). The k + 1 smallest deviations are the first i of a and the first k + 1 − i of b
    for the smallest i with a_i ≥ b_{k−i}; the answer is the larger of the last ones taken.
    """
    size = idx.shape[1]
    split = size // 2
    m, nb = split, size - split
    cell = np.arange(vals.shape[0])[:, None]
    resample = np.arange(idx.shape[0])[None, :]

    def a(t: np.ndarray) -> np.ndarray:
        return np.abs(vals[cell, idx[resample, split - 1 - np.clip(t, 0, m - 1)]] - med)

    def b(t: np.ndarray) -> np.ndarray:
        return np.abs(vals[cell, idx[resample, split + np.clip(t, 0, nb - 1)]] - med)

    low = np.full(med.shape, max(0, k + 1 - nb))
    high = np.full(med.shape, min(k + 1, m))
    while True:
        active = low < high
        if not active.any():
            break
        i = (low + high) // 2  # within [low, high): i < m and k − i ≥ 0, so a_i, b_{k−i} exist
        enough = a(i) >= b(k - i)
        high = np.where(active & enough, i, high)
        low = np.where(active & ~enough, i + 1, low)
    i = low
    j = k + 1 - i
    last_a = np.where(i > 0, a(i - 1), -np.inf)
    last_b = np.where(j > 0, b(j - 1), -np.inf)
    return np.maximum(last_a, last_b)


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """The estimates' estimator, term and replicate columns as codes (first appearance order;
    −1 where missing), factorised once per table: each factorisation of a 150,000-row text
    column costs milliseconds, and the measures, the check for duplicates, the model rows and
    the summary's failure rates (``pipeline.failure_rows``) all group by them."""

    estimator: np.ndarray
    estimators: list[str]
    term: np.ndarray
    terms: list[str]
    replicate: np.ndarray
    replicates: int

    @classmethod
    def of(cls, estimates: pd.DataFrame) -> Codes:
        e_codes, e_names = pd.factorize(estimates["estimator"], sort=False)
        t_codes, t_names = pd.factorize(estimates["term"], sort=False)
        r_codes, r_names = pd.factorize(estimates["replicate"], sort=False)
        return cls(
            e_codes,
            [str(e) for e in e_names],
            t_codes,
            [str(t) for t in t_names],
            r_codes,
            len(r_names),
        )

    def is_term(self, term: str) -> np.ndarray:
        """Rows on ``term`` (a bool per row)."""
        if term not in self.terms:
            return np.zeros(len(self.term), dtype=bool)
        return self.term == self.terms.index(term)


def _validate(estimates: pd.DataFrame, level: float, codes: Codes | None = None) -> None:
    """Fail early on inputs the measures would silently get wrong."""
    missing = [c for c in _INPUT_COLUMNS if c not in estimates.columns]
    if missing:
        raise ValueError(f"estimates lack columns: {missing}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    scenarios = pd.unique(estimates["scenario"])
    if len(scenarios) > 1:
        raise ValueError(f"estimates must hold one scenario, got {len(scenarios)}")
    c = codes if codes is not None else Codes.of(estimates)
    if (c.estimator < 0).any() or (c.term < 0).any() or (c.replicate < 0).any():
        raise ValueError("estimator, term and replicate must not be missing")
    key = (c.estimator.astype(np.int64) * len(c.terms) + c.term) * c.replicates + c.replicate
    cells = len(c.estimators) * len(c.terms) * c.replicates
    # a count per possible key where the cube is about full (no sort: 0.3 ms against 45 ms)
    if cells <= 4 * len(key):
        duplicated = bool(len(key)) and int(np.bincount(key, minlength=cells).max()) > 1
    else:
        duplicated = len(np.unique(key)) < len(key)
    if duplicated:
        raise ValueError("estimates hold duplicate (estimator, term, replicate) rows")


def _cube(
    estimates: pd.DataFrame, codes: Codes | None = None
) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """Spread the tidy rows into (estimator, term, replicate) arrays, NaN where absent
    (``codes``: the rows' codes, when already computed)."""
    c = codes if codes is not None else Codes.of(estimates)
    shape = (len(c.estimators), len(c.terms), c.replicates)
    where = (c.estimator, c.term, c.replicate)
    cube: dict[str, np.ndarray] = {}
    for col in ("estimate", "std_error", "ci_low", "ci_high", "true_value"):
        arr = np.full(shape, np.nan)
        arr[where] = pd.to_numeric(estimates[col], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        cube[col] = arr
    ok = np.zeros(shape, dtype=bool)
    ok[where] = (estimates["status"] == "ok").to_numpy(dtype=bool, na_value=False)
    cube["ok"] = ok
    return c.estimators, c.terms, cube


def _empty_table() -> pd.DataFrame:
    """The output schema with no rows."""
    return pd.DataFrame(
        {
            "scenario": pd.Series(dtype=object),
            "estimator": pd.Series(dtype=object),
            "term": pd.Series(dtype=object),
            "measure": pd.Series(dtype=object),
            "value": pd.Series(dtype=float),
            "mcse": pd.Series(dtype=float),
            "n_used": pd.Series(dtype=np.int64),
            "defined": pd.Series(dtype=bool),
            "note": pd.Series(dtype=object),
            "mcse_valid": pd.Series(dtype=bool),
        }
    )


# --------------------------------------------------------------------------------------------
# measure blocks: each returns {measure: (value, mcse, n_used)} with arrays of shape (E, T)
# --------------------------------------------------------------------------------------------

_Block = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _error_measures(d: np.ndarray, use: np.ndarray) -> _Block:
    """Bias, EmpSE, MSE, RMSE, median bias and MAD of the estimation error."""
    n = _count(use)
    bias = _mean(d, use)
    var_d = _var(d, use)
    empse = np.sqrt(var_d)
    sq = d * d
    mse = _mean(sq, use)
    with np.errstate(invalid="ignore", divide="ignore"):
        bias_mcse = np.sqrt(var_d / n)
        empse_mcse = empse / np.sqrt(2.0 * (n - 1))
        mse_mcse = np.sqrt(_var(sq, use) / n)
        rmse = np.sqrt(mse)
        rmse_mcse = mse_mcse / (2.0 * rmse)
    return {
        "bias": (bias, bias_mcse, n),
        "empse": (empse, empse_mcse, n),
        "mse": (mse, mse_mcse, n),
        "rmse": (rmse, rmse_mcse, n),
        "median_bias": (_median(d, use), _median_mcse(d, use), n),
        "mad": (_mad(d, use), _mad_bootstrap_mcse(d, use), n),
    }


def _model_se_measures(d: np.ndarray, se: np.ndarray, use: np.ndarray) -> _Block:
    """Average model SE and its relative error against EmpSE on the same replicates."""
    n = _count(use)
    v = se * se
    var_v = _var(v, use)
    modse = np.sqrt(_mean(v, use))
    empse = np.sqrt(_var(d, use))
    with np.errstate(invalid="ignore", divide="ignore"):
        modse_mcse = np.sqrt(var_v / (4.0 * n * modse**2))
        ratio = modse / empse
        rel_err = 100.0 * (ratio - 1.0)
        rel_err_mcse = 100.0 * ratio * np.sqrt(var_v / (4.0 * n * modse**4) + 1.0 / (2.0 * (n - 1)))
    return {
        "modse": (modse, modse_mcse, n),
        "rel_error_modse": (rel_err, rel_err_mcse, n),
    }


def _interval_measures(
    d: np.ndarray,
    truth: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    use: np.ndarray,
) -> _Block:
    """Coverage, bias-eliminated coverage and rejection of H0: term = 0."""
    n = _count(use)
    bias = _mean(d, use)
    target = truth + bias[..., None]
    covered = (low <= truth) & (truth <= high)
    be_covered = (low <= target) & (target <= high)
    rejects = (low > 0.0) | (high < 0.0)
    out: _Block = {}
    for name, hit in (("coverage", covered), ("be_coverage", be_covered), ("rejection", rejects)):
        p = _mean(hit.astype(float), use)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = (p, np.sqrt(p * (1.0 - p) / n), n)
    return out


def _relative_measures(d: np.ndarray, use: np.ndarray, ref: int) -> _Block:
    """Precision, efficiency and MSE of each estimator relative to the reference, paired."""
    d_ref = np.broadcast_to(d[ref], d.shape)
    pair = use & use[ref][None]
    n = _count(pair)
    empse_ref = np.sqrt(_var(d_ref, pair))
    empse = np.sqrt(_var(d, pair))
    a = d_ref * d_ref
    b = d * d
    a_bar = _mean(a, pair)
    b_bar = _mean(b, pair)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = _cov(d, d_ref, pair) / (empse * empse_ref)
        ratio2 = (empse_ref / empse) ** 2
        prec = 100.0 * (ratio2 - 1.0)
        prec_mcse = 200.0 * ratio2 * np.sqrt(np.clip(1.0 - rho**2, 0.0, None) / (n - 1))
        rel_mse = a_bar / b_bar
        var_r = (_var(a, pair) - 2.0 * rel_mse * _cov(a, b, pair) + rel_mse**2 * _var(b, pair)) / (
            n * b_bar**2
        )
        rel_mse_mcse = np.sqrt(np.clip(var_r, 0.0, None))
    # the reference against itself: exact by definition, not up to rounding
    prec[ref], prec_mcse[ref] = 0.0, 0.0
    ratio2[ref] = 1.0
    rel_mse[ref], rel_mse_mcse[ref] = 1.0, 0.0
    return {
        "rel_precision": (prec, prec_mcse, n),
        "rel_efficiency": (ratio2, prec_mcse / 100.0, n),
        "rel_mse": (rel_mse, rel_mse_mcse, n),
    }


def _no_reference(shape: tuple[int, int]) -> _Block:
    """Relative measures when there is no reference to compare with."""
    nan = np.full(shape, np.nan)
    zero = np.zeros(shape, dtype=np.int64)
    return {m: (nan, nan, zero) for m in ("rel_precision", "rel_efficiency", "rel_mse")}


def _model_measures(
    estimates: pd.DataFrame, codes: Codes | None = None
) -> dict[str, tuple[list[str], _Block]]:
    """Per estimator (rows of the arrays): the measures on the term ``model``, from the
    per-replicate columns the estimates carry; {measure: (estimators, block)} only for those
    that can be computed. Replicates are the columns of (E, R) arrays, NaN where absent."""
    c = codes if codes is not None else Codes.of(estimates)
    e_codes, t_codes, r_codes = c.estimator, c.term, c.replicate
    e_names, t_names = c.estimators, c.terms
    shape = (len(e_names), c.replicates)
    where = (e_codes, r_codes)
    names_e = e_names

    def per_replicate(col: str) -> np.ndarray:
        arr = np.full(shape, np.nan)
        arr[where] = pd.to_numeric(estimates[col], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        return arr

    present = np.zeros(shape, dtype=bool)
    present[where] = True
    status = estimates["status"]  # compared as stored (Python strings cost 10 ms a cell)
    ok = np.zeros(shape, dtype=bool)
    ok[where] = (status == "ok").to_numpy(dtype=bool, na_value=False)
    diverged = np.zeros(shape, dtype=bool)
    diverged[where] = (status == "diverged").to_numpy(dtype=bool, na_value=False)

    def per_term(values: pd.Series) -> np.ndarray:
        """(E, R) sums over terms of ``values``², NaN unless every term of the fit is finite."""
        cube = np.full((*shape, len(t_names)), np.nan)
        cube[e_codes, r_codes, t_codes] = pd.to_numeric(values, errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        coef = cube[..., [str(t) != MODEL_TERM for t in t_names]]  # a network's rows: none
        return (coef * coef).sum(axis=-1)

    def mean_block(col: str, x: np.ndarray, rows: np.ndarray) -> tuple[list[str], _Block]:
        """The mean over usable replicates and its MCSE (SD/√n) for the estimators ``rows``."""
        use = (ok & np.isfinite(x))[rows]
        n = _count(use)
        with np.errstate(invalid="ignore", divide="ignore"):
            block = (_mean(x[rows], use), np.sqrt(_var(x[rows], use) / n), n)
        return [names_e[i] for i in rows.tolist()], {col: block}

    out: dict[str, tuple[list[str], _Block]] = {}
    any_ok = bool(ok.any())
    # a network (rows on the term ``model`` only) has no coefficients: no risk, and it is
    # trained (its divergence is a measure)
    network = np.ones(len(e_names), dtype=bool)
    network[e_codes[~c.is_term(MODEL_TERM)]] = False
    x = per_term(
        pd.to_numeric(estimates["estimate"], errors="coerce")
        - pd.to_numeric(estimates["true_value"], errors="coerce")
    )
    out["risk"] = mean_block("risk", x, np.flatnonzero(~network))
    every = np.arange(len(e_names))
    for col in ("test_mse", "test_mae", "ise", *_CLASSIFY):
        if col not in estimates.columns:
            continue
        x = per_replicate(col)
        if any_ok and not np.isfinite(x[ok]).any():
            continue  # fits but no test errors: no test samples drawn (fit_chunk without test)
        out[col] = mean_block(col, x, every)
    if "sharpness" in estimates.columns:  # only the members that record it
        x = per_replicate("sharpness")
        out["sharpness"] = mean_block("sharpness", x, np.flatnonzero(np.isfinite(x).any(axis=1)))

    trained = diverged.any(axis=1) | network
    opt_sq = gap = None
    if "opt_diff" in estimates.columns:
        opt_sq = per_term(estimates["opt_diff"])
        trained |= np.isfinite(opt_sq).any(axis=1)
    if "objective_gap" in estimates.columns:
        gap = per_replicate("objective_gap")
        trained |= np.isfinite(gap).any(axis=1)
    if not trained.any():
        return out
    rows = np.flatnonzero(trained)
    names_t = [names_e[i] for i in rows.tolist()]
    total = _count(present[rows])
    share = _mean(diverged[rows].astype(float), present[rows])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["divergence"] = (
            names_t,
            {"divergence": (share, np.sqrt(share * (1 - share) / total), total)},
        )
    # β_K − β̂ and f(β_K) − f(β̂) are a linear trained fit's: a network has neither
    rows = np.flatnonzero(trained & ~network)
    names_t = [names_e[i] for i in rows.tolist()]
    if opt_sq is not None and len(rows):
        x = opt_sq[rows]
        use = ok[rows] & np.isfinite(x)
        n = _count(use)
        mean_sq = _mean(x, use)
        sd_sq = np.sqrt(_var(x, use))
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.sqrt(mean_sq)
            # all replicates exactly at the minimiser: no Monte Carlo error, not 0/0
            mcse = np.where(sd_sq == 0.0, 0.0, sd_sq / (2.0 * value * np.sqrt(n)))
        out["opt_error"] = (names_t, {"opt_error": (value, mcse, n)})
    if gap is not None and len(rows):
        out["objective_gap"] = mean_block("objective_gap", gap, rows)
    return out


def _selection_measures(
    estimates: pd.DataFrame, selecting: Collection[str]
) -> dict[str, tuple[list[str], _Block]]:
    """Per estimator of ``selecting``: the share of slopes (terms other than the intercept)
    estimated exactly 0, and the true- and false-positive rates of the estimated support
    against each replicate's own true support (a prior draws it anew per replicate). Each is
    a mean of per-replicate shares, MCSE SD/√R; a rate uses the replicates where it is
    defined (a true non-zero, or zero, slope) among those with every slope fitted."""
    rows = estimates[
        estimates["estimator"].isin(list(selecting)) & (estimates["term"] != "intercept")
    ]
    if rows.empty:
        return {}
    e_codes, e_names = pd.factorize(rows["estimator"], sort=False)
    r_codes, r_names = pd.factorize(rows["replicate"], sort=False)
    t_codes, t_names = pd.factorize(rows["term"], sort=False)
    shape = (len(e_names), len(r_names), len(t_names))
    est, truth = np.full(shape, np.nan), np.full(shape, np.nan)
    where = (e_codes, r_codes, t_codes)
    est[where] = pd.to_numeric(rows["estimate"], errors="coerce").to_numpy(float, na_value=np.nan)
    truth[where] = pd.to_numeric(rows["true_value"], errors="coerce").to_numpy(
        float, na_value=np.nan
    )
    ok = np.zeros(shape[:2], dtype=bool)
    ok[e_codes, r_codes] = True
    bad = np.zeros(shape[:2], dtype=bool)
    bad[e_codes, r_codes] = (rows["status"] != "ok").to_numpy(dtype=bool)
    ok &= ~bad & np.isfinite(est).all(axis=-1) & np.isfinite(truth).all(axis=-1)
    chosen, real = est != 0, truth != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {
            "zero_share": ((~chosen).mean(axis=-1), ok),
            "tpr": ((chosen & real).sum(-1) / real.sum(-1), ok & real.any(-1)),
            "fpr": ((chosen & ~real).sum(-1) / (~real).sum(-1), ok & (~real).any(-1)),
        }
    out: dict[str, tuple[list[str], _Block]] = {}
    for name, (x, use) in shares.items():
        n = _count(use)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = (
                [str(e) for e in e_names],
                {name: (_mean(x, use), np.sqrt(_var(x, use) / n), n)},
            )
    return out


def _model_rows(
    estimates: pd.DataFrame,
    scenario: str,
    rules: Mapping[str, Mapping[str, MeasureRule]],
    selecting: Collection[str] = (),
    codes: Codes | None = None,
) -> pd.DataFrame:
    """The rows on the term ``model``: estimator order of the estimates, then measure order."""
    computed = _model_measures(estimates, codes)
    computed.update(_selection_measures(estimates, selecting))
    rows = []
    for measure, (estimators, block) in computed.items():
        values, mcses, counts = block[measure]
        for i, est in enumerate(estimators):
            value, mcse, n = float(values[i]), float(mcses[i]), int(counts[i])
            reasons: list[str] = []
            ok = True
            if n < 2:
                reasons.append(f"{n} usable replicates; need at least 2")
                ok = False
            elif not np.isfinite(value):
                reasons.append("not computable")
                ok = False
            elif not np.isfinite(mcse):
                reasons.append("MCSE not computable: zero spread in the replicates")
            if not ok:
                value = mcse = np.nan
            mcse_ok = ok and bool(np.isfinite(mcse))
            rule = rules.get(est, {}).get(measure)
            if rule is not None and not rule.defined:
                reasons.append(rule.reason)
                ok = mcse_ok = False
            elif rule is not None and not rule.mcse_valid:
                reasons.append(rule.reason)
                mcse_ok = False
            rows.append(
                {
                    "scenario": scenario,
                    "estimator": est,
                    "term": MODEL_TERM,
                    "measure": measure,
                    "value": value,
                    "mcse": mcse,
                    "n_used": n,
                    "defined": ok,
                    "note": "; ".join(reasons),
                    "mcse_valid": mcse_ok,
                }
            )
    if not rows:
        return _empty_table()
    order_e = {e: i for i, e in enumerate(pd.unique(estimates["estimator"]))}
    order_m = {m: i for i, m in enumerate(MODEL_MEASURES)}
    rows.sort(key=lambda r: (order_e[r["estimator"]], order_m[r["measure"]]))
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------


def performance_table(
    estimates: pd.DataFrame,
    reference: str | None,
    level: float,
    rules: Mapping[str, Mapping[str, MeasureRule]] | None = None,
    *,
    selecting: Collection[str] = (),
    codes: Codes | None = None,
) -> pd.DataFrame:
    """Summarise one scenario's replicate fits into measures with MCSEs and a reason when undefined.

    The MCSE says how far each measure could move with another set of replicates, so that
    differences between estimators are read against simulation noise; ``defined``/``note``
    keep numbers that estimate nothing (no intervals, no moments) from being read as results, and
    ``mcse_valid`` marks MCSEs that are not valid standard errors (moments missing for the CLT).
    See the module docstring for the missing-data rule and ``rules``. Rows come out ordered by
    estimator and term (first appearance in ``estimates``) and by :data:`MEASURES`, followed
    by the rows on the term ``model`` (:data:`MODEL_MEASURES`, where their columns are present)
    by estimator and measure. ``codes``: the estimates' :class:`Codes`, when the caller has
    them already.
    """
    codes = codes if codes is not None else Codes.of(estimates)
    _validate(estimates, level, codes)
    if estimates.empty:
        return _empty_table()
    rules = dict(rules or {})
    scenario = str(estimates["scenario"].iloc[0])
    model = _model_rows(estimates, scenario, rules, selecting, codes)
    # a network's rows (term ``model``: no coefficients) enter the per-estimator measures only
    on_model = codes.is_term(MODEL_TERM)
    if on_model.all():
        return model if not model.empty else _empty_table()
    if on_model.any():  # their own codes: the networks are no estimators of the coefficients
        estimators, terms, cube = _cube(estimates[~on_model])
    else:
        estimators, terms, cube = _cube(estimates, codes)
    n_est, n_term = len(estimators), len(terms)

    d = cube["estimate"] - cube["true_value"]
    base = cube["ok"] & np.isfinite(d)
    se_use = base & np.isfinite(cube["std_error"])
    ci_use = base & np.isfinite(cube["ci_low"]) & np.isfinite(cube["ci_high"])

    block: _Block = {}
    block.update(_error_measures(d, base))
    block.update(_model_se_measures(d, cube["std_error"], se_use))
    block.update(_interval_measures(d, cube["true_value"], cube["ci_low"], cube["ci_high"], ci_use))
    ref_missing_note = ""
    if reference is None:
        ref_missing_note = "no reference estimator given"
    elif reference not in estimators:
        ref_missing_note = f"reference estimator {reference!r} not in the estimates"
    if ref_missing_note:
        block.update(_no_reference((n_est, n_term)))
    else:
        block.update(_relative_measures(d, base, estimators.index(str(reference))))

    n_base = _count(base)
    has_se = _count(se_use) > 0
    has_ci = _count(ci_use) > 0

    values = np.empty((n_est, n_term, len(MEASURES)))
    mcses = np.empty_like(values)
    n_used = np.empty(values.shape, dtype=np.int64)
    defined = np.empty(values.shape, dtype=bool)
    valid = np.empty(values.shape, dtype=bool)
    notes: list[str] = []
    for i, est in enumerate(estimators):
        for j in range(n_term):
            for k, measure in enumerate(MEASURES):
                value, mcse, n = (float(a[i, j]) for a in block[measure])
                reasons: list[str] = []
                computable = True
                if measure in _RELATIVE_MEASURES and ref_missing_note:
                    reasons.append(ref_missing_note)
                    computable = False
                elif measure in _SE_MEASURES and n_base[i, j] > 0 and not has_se[i, j]:
                    reasons.append("no model SE: estimator reports none")
                    computable = False
                elif measure in _CI_MEASURES and n_base[i, j] > 0 and not has_ci[i, j]:
                    reasons.append("no intervals: estimator reports none")
                    computable = False
                elif n < 2:
                    paired = " (paired with the reference)" if measure in _RELATIVE_MEASURES else ""
                    reasons.append(f"{int(n)} usable replicates{paired}; need at least 2")
                    computable = False
                elif not np.isfinite(value):
                    reasons.append("not computable: zero spread in the replicates")
                    computable = False
                elif not np.isfinite(mcse):
                    reasons.append("MCSE not computable: zero spread in the replicates")
                if not computable:
                    value = mcse = np.nan
                ok = computable
                mcse_ok = computable and bool(np.isfinite(mcse))
                rule = rules.get(est, {}).get(measure)
                self_ref = measure in _RELATIVE_MEASURES and est == reference
                if rule is not None and not rule.defined:
                    reasons.append(rule.reason)
                    ok = mcse_ok = False
                elif rule is not None and not rule.mcse_valid and not self_ref:
                    reasons.append(rule.reason)
                    mcse_ok = False
                values[i, j, k] = value
                mcses[i, j, k] = mcse
                n_used[i, j, k] = int(n)
                defined[i, j, k] = ok
                valid[i, j, k] = mcse_ok
                notes.append("; ".join(reasons))

    n_rows = values.size
    per_est = n_term * len(MEASURES)
    table = pd.DataFrame(
        {
            "scenario": np.full(n_rows, scenario, dtype=object),
            "estimator": np.repeat(np.array(estimators, dtype=object), per_est),
            "term": np.tile(np.repeat(np.array(terms, dtype=object), len(MEASURES)), n_est),
            "measure": np.tile(np.array(MEASURES, dtype=object), n_est * n_term),
            "value": values.ravel(),
            "mcse": mcses.ravel(),
            "n_used": n_used.ravel(),
            "defined": defined.ravel(),
            "note": np.array(notes, dtype=object),
            "mcse_valid": valid.ravel(),
        }
    )
    if model.empty:
        return table
    return pd.concat([table, model.astype(table.dtypes.to_dict())], ignore_index=True)


def read_performance(path: str | Path) -> pd.DataFrame:
    """``performance.csv`` as its readers need it: names as text, ``note`` never missing and
    ``defined`` as a bool (the CSV spells it ``True``/``False``)."""
    perf = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "note" in perf:
        perf["note"] = perf["note"].astype(object).where(perf["note"].notna(), "").astype(str)
    else:
        perf["note"] = ""
    for col in ("scenario", "estimator", "term", "measure"):
        perf[col] = perf[col].astype(str)
    perf["defined"] = perf["defined"].map(
        lambda v: str(v).strip().lower() in ("true", "1") if isinstance(v, str) else bool(v)
    )
    return perf
