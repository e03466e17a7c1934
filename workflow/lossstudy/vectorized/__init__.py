"""Vectorised engine: the fits of ``lossstudy.estimators``, all replicates of a chunk at once.

Why: the reference engine fits one replicate at a time through statsmodels and scipy (0.1–10 ms
per fit) and a study fits about 10^5 datasets per estimator. This engine fits stacked numpy
arrays and reproduces the reference — the same statuses and messages, and estimates, SEs and
intervals equal to rounding (typically 1e-14 relative) — so either engine can produce the
study's numbers:

- OLS, ridge: batched normal equations (Cholesky and one step of refinement); classical,
  HC0–HC3 and HAC (Newey–West, as ``estimators.fit_ols``) SEs, t intervals; ridge SE as
  ``estimators.ridge_closed_form`` with NaN intervals.
- WLS: the batched weighted normal equations X'WX b = X'Wy, solved as statsmodels ``WLS``
  solves them: OLS (classical SEs, t intervals) on the whitened data √w·X, √w·y, whose
  residual sum of squares is Σ w r².
- Huber: a batched IRLS that replays ``RLM(HuberT(k)).fit()`` step by step (OLS start, MAD
  scale about 0 re-estimated each step, deviance stopping rule with the WLS scale, tol 1e-8,
  ``estimators.HUBER_MAXITER``), so the iteration counts and ``not_converged`` flags agree;
  H1 covariance, z intervals.
- LAD: a batched vertex descent (the simplex steps of Barrodale–Roberts, R's
  ``rq.fit.br``) from the vertex through the p smallest OLS |residuals|; the final vertex is
  kept only when a dual (subgradient) certificate proves it optimal. The few replicates it
  leaves go to a batched Frisch–Newton interior point on the dual LP (Portnoy & Koenker 1997,
  R's ``rq.fit.fnb``) with the same certified vertex "polish"; a replicate that still cannot
  be certified is refitted by the reference (exact LP). SEs by the batched
  ``estimators.quantreg_kernel_cov`` formula, t intervals.

Every result must be independent of how replicates are split into jobs, bit for bit. On a
fixed design (``_fit_shared``) every method works with the one n×p X: OLS, WLS and ridge
factorise it once (one pseudo-inverse, as statsmodels) and fit all replicates with one matrix
product per step; Huber and LAD iterate on it (``_linalg._SharedX``: X b, X'v and X'WX of all
replicates as products with the one X and its n×P column pair products, no per-replicate
copies). Every such product runs in blocks of exactly ``_linalg.SHARED_BLOCK`` rows (the last
one zero-padded) so that BLAS applies the same kernels to a replicate wherever it sits in the
batch (tests/test_vectorized.py checks the bits across splits). Random designs, and a fixed
design that is non-finite, rank deficient, badly conditioned or has an HC2/HC3 leverage near
1, take the stacked path (per-replicate designs, batched products), for every split alike.

Rank-deficient designs get the reference's ``failed`` status and message directly. Replicates
whose result the reference itself computes from rounding noise, or that this engine cannot
certify, are handed to ``estimators.fit_one`` one at a time, so the reference decides them:
non-finite data, badly conditioned designs, HC2/HC3 with a leverage near 1, an IRLS whose scale
collapses to 0 or whose non-converged trajectory is rounding-sensitive, an uncertified LAD
vertex. ``EngineInfo`` counts them.

Modules: ``linear`` (OLS, WLS, ridge), ``huber``, ``lad``, ``_linalg`` (batched Cholesky,
stacked and shared design products, BLAS threads), ``_results``; this one holds the driver
(chunks, rank and conditioning checks, non-finite data, the hand-off to the reference).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.dgp import Dataset
from lossstudy.estimators import FAILED, FitResult
from lossstudy.methods import registry

from ._linalg import SHARED_BLOCK, _Chol, _Design, _packed, _SharedX, single_thread_blas
from ._results import EngineInfo, _finish, _Fits, _scatter
from .huber import MAD_C as MAD_C  # re-exported (tests/test_distributions.py); patch huber.MAD_C
from .huber import _huber
from .lad import _lad, lad_certificate
from .linear import SharedDesign, _ols, _ols_shared, _ridge, _ridge_shared, _whitened

__all__ = [
    "EngineInfo",
    "fit_builtin",
    "fit_dataset_vectorized",
    "lad_certificate",
    "single_thread_blas",
]

#: Upper bound on the bytes of the stacked arrays of one chunk (design and working arrays).
MAX_CHUNK_BYTES = 64 * 2**20
#: Target replicates × observations per chunk: each m×n working array (~0.5 MB) stays in cache,
#: which is 1.5–2× faster than chunks of tens of MB, while numpy's per-call overhead is amortised.
CHUNK_CELLS = 1 << 16
#: Target cells per chunk for Huber and LAD on a shared (fixed) design: no design is copied per
#: replicate there, and with 4× CHUNK_CELLS numpy's per-call overhead in their many short
#: iterations is spread over more replicates (LAD at n = 1000: about 20% less time per fit).
SHARED_ITERATIVE_CELLS = 1 << 18
#: Largest cond(X'X) (bounded by tr(X'X)·tr((X'X)⁻¹)) fitted through normal equations; worse
#: designs go to the reference, whose SVD-based solvers lose only cond(X)·eps, not cond(X)²·eps.
COND_LIMIT = 1e8


def _chunk_size(n: int, p: int, shared_iterative: bool = False, shared_linear: bool = False) -> int:
    """Replicates per chunk: about CHUNK_CELLS cells (SHARED_ITERATIVE_CELLS for Huber and LAD
    on a shared design), and under MAX_CHUNK_BYTES in all. OLS, WLS and ridge on a shared design
    take whole blocks of SHARED_BLOCK replicates (their products pad a partial block with
    zeros, so a chunk of 13 replicates at n = 5000 did the work of 48)."""
    if shared_linear:  # y, r and a product: three m×n arrays
        cells = max(SHARED_ITERATIVE_CELLS // n, SHARED_BLOCK)
        cells = min(cells, max(MAX_CHUNK_BYTES // (8 * n * 3), SHARED_BLOCK))
        return cells // SHARED_BLOCK * SHARED_BLOCK
    if shared_iterative:  # working arrays only: the design is not copied
        return max(1, min(SHARED_ITERATIVE_CELLS // n, MAX_CHUNK_BYTES // (8 * n * 24)))
    pairs = p * (p + 1) // 2
    per_rep = 8 * n * (24 + 2 * (p + pairs))  # working arrays, X and its pair products
    return max(1, min(CHUNK_CELLS // n, MAX_CHUNK_BYTES // per_rep))


def _selections(rows: np.ndarray, step: int) -> Iterator[slice | np.ndarray]:
    """The replicates of each chunk of ``step`` rows: a slice where they are contiguous (views
    of X and y, no copies), else their indices."""
    for start in range(0, rows.size, step):
        sel = rows[start : start + step]
        if sel[-1] - sel[0] + 1 == sel.size:
            yield slice(int(sel[0]), int(sel[-1]) + 1)
        else:
            yield sel


def _store(
    f: _Fits, sel: slice | np.ndarray, out: tuple[np.ndarray, ...], refer: np.ndarray
) -> int:
    """Finish a chunk's fits into the job's arrays (est, se, lo, hi, status, message); flag
    its rows for the reference; return how many fits are final."""
    _finish(f)
    est, se, lo, hi, status, message = out
    est[sel], se[sel], lo[sel], hi[sel] = f.est, f.se, f.lo, f.hi
    status[sel], message[sel] = f.status, f.message
    refer[sel] |= f.refer
    return len(f.refer) - int(np.count_nonzero(f.refer))


def _fit_chunk(
    D: _Design,
    y: np.ndarray,
    spec: dict[str, Any],
    level: float,
    info: EngineInfo,
) -> _Fits:
    """Fit one chunk whose data are finite; rows flagged ``refer`` go to the reference."""
    m, n = y.shape
    p = D.p
    method = spec["method"]
    f = _Fits.empty(m, p)
    full_rank = estimators._needs_full_rank(spec)

    if method == "ridge" and not full_rank:
        r = _ridge(D, y, float(spec.get("penalty", 1.0)))
        if r is None:
            f.refer[:] = True
            return f
        return r

    # rank and conditioning: rank-deficient designs fail, badly conditioned ones go to the
    # reference
    gfull = D.gram_full()
    chol0 = _Chol(_packed(gfull), p)
    inv = chol0.inverse()
    cond_bound = np.trace(gfull, axis1=1, axis2=2) * np.trace(inv, axis1=1, axis2=2)
    good = chol0.ok & (cond_bound <= COND_LIMIT)
    if good.all():
        return _fit_chunk_good(D, y, spec, level, chol0, info)
    for i in np.flatnonzero(~good):
        rank = int(np.linalg.matrix_rank(D.X[i]))
        if rank < p:
            f.status[i] = FAILED
            f.message[i] = f"design matrix rank {rank} < p = {p}"
        else:
            f.refer[i] = True
    sel = np.flatnonzero(good)
    if sel.size:
        Ds = D.take(sel)
        sub = _fit_chunk_good(Ds, y[sel], spec, level, _Chol(_packed(Ds.gram_full()), p), info)
        _scatter(f, sub, sel)
    return f


def _fit_chunk_good(
    D: _Design,
    y: np.ndarray,
    spec: dict[str, Any],
    level: float,
    chol0: _Chol,
    info: EngineInfo,
) -> _Fits:
    """Fit replicates whose designs are full rank and well conditioned (chol0: of X'X)."""
    m = y.shape[0]
    method = spec["method"]
    if method == "ols":
        return _ols(D, y, level, str(spec.get("se", "classical")), chol0)
    if method == "huber":
        return _huber(D, y, level, float(spec.get("k", 1.345)), chol0, info)
    if method == "lad":
        return _lad(D, y, level, chol0, info)
    # ridge with penalty 0 (needs full rank): the closed form applies unchanged
    r = _ridge(D, y, float(spec.get("penalty", 1.0)))
    if r is None:
        r = _Fits.empty(m, D.p)
        r.refer[:] = True
    return r


def _with_reference(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    refer: np.ndarray,
    out: tuple[np.ndarray, ...],
    done: int,
    progress: Callable[[int, int], None] | None,
    info: EngineInfo,
) -> FitResult:
    """Refit the replicates the batched code handed back (``refer``) one at a time with the
    reference engine, from the original data and spec, and return the chunk's result."""
    est, se, lo, hi, status, message = out
    R = len(refer)
    for i in np.flatnonzero(refer):
        est[i], se[i], lo[i], hi[i], status[i], message[i] = estimators.fit_one(
            data.design(int(i)), data.y[i], spec, level
        )
        done += 1
        if progress is not None:
            progress(done, R)
    info.reference_fallback += int(refer.sum())
    return FitResult(est, se, lo, hi, status, message)


def _robust_shared(
    X: np.ndarray, spec: dict[str, Any], level: float, info: EngineInfo
) -> Callable[[np.ndarray], _Fits]:
    """Huber or LAD on one shared, full-rank, well-conditioned design: every step's X b, X'v
    and X'WX are products with the one X (``_SharedX``), never with per-replicate copies."""
    shared = _SharedX(X, 0)
    p = shared.p

    def run(yy: np.ndarray) -> _Fits:
        D = shared.take(np.arange(yy.shape[0]))
        chol0 = _Chol(_packed(D.gram_full()), p)
        if spec["method"] == "huber":
            return _huber(D, yy, level, float(spec.get("k", 1.345)), chol0, info)
        return _lad(D, yy, level, chol0, info)

    return run


def _fit_shared(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    info: EngineInfo,
    progress: Callable[[int, int], None] | None,
) -> FitResult | None:
    """OLS, WLS, ridge, Huber and LAD on a fixed design: one X for all replicates (OLS, WLS
    and ridge: factorised once).

    None when the design itself needs the per-replicate path (non-finite, rank deficient,
    badly conditioned, an HC2/HC3 leverage near 1): a property of the design, so every split
    of the replicates into jobs takes the same path.
    """
    method = spec["method"]
    X, y = data.X, data.y
    if method == "wls":  # OLS on the whitened data, as statsmodels WLS (the weights are shared)
        with np.errstate(all="ignore"):
            sw = np.sqrt(
                estimators.wls_weights(
                    X, int(spec.get("predictor", 1)), float(spec.get("strength", 1.0))
                )
            )
            X, y = sw[:, None] * X, sw * y
    penalty = float(spec.get("penalty", 1.0))
    run: Callable[[np.ndarray], _Fits | None]
    if method == "ridge" and not estimators._needs_full_rank(spec):
        if not np.all(np.isfinite(X)):
            return None
        run = lambda yy: _ridge_shared(X, yy, penalty)  # noqa: E731
    else:
        S = SharedDesign.make(X, COND_LIMIT)
        if S is None:
            return None
        if method == "ridge":
            run = lambda yy: _ridge_shared(X, yy, penalty)  # noqa: E731
        elif method in ("huber", "lad"):
            run = _robust_shared(X, spec, level, info)
        else:
            se = str(spec.get("se", "classical")) if method == "ols" else "classical"
            run = lambda yy: _ols_shared(S, yy, level, se)  # noqa: E731
    R, p = data.beta.shape
    n = y.shape[1]
    est, se_, lo, hi = (np.full((R, p), np.nan) for _ in range(4))
    status = np.full(R, estimators.OK, dtype=object)
    message = np.full(R, "", dtype=object)
    refer = ~np.all(np.isfinite(y), axis=1)
    done = 0
    with single_thread_blas(), np.errstate(all="ignore"):
        iterative = method in ("huber", "lad")
        step = _chunk_size(n, p, iterative, shared_linear=not iterative)
        for sel in _selections(np.flatnonzero(~refer), step):
            f = run(y[sel])
            if f is None:  # a property of the design: the first chunk already says so
                return None
            done += _store(f, sel, (est, se_, lo, hi, status, message), refer)
            if progress is not None:
                progress(done, R)
    info.fits += R
    return _with_reference(data, spec, level, refer, (est, se_, lo, hi, status, message), done,
                           progress, info)  # fmt: skip


def fit_dataset_vectorized(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    *,
    info: EngineInfo | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Fit every replicate of a chunk with one estimator; same results as ``fit_dataset``.

    The estimator's batched fit from the registry (``lossstudy.methods``); one without one, or
    a spec the registry cannot resolve, goes to the reference, which fits (or reports) it one
    replicate at a time. ``info``, if given, accumulates counts of fallbacks and iterations
    (see EngineInfo). ``progress``, if given, is called as ``progress(done, total)`` after
    each internal chunk and after each replicate handed to the reference.
    """
    try:
        batched = registry.resolve(spec).fit.batched
    except registry.SpecError:
        batched = None
    if batched is None:
        return estimators.fit_dataset(data, spec, level, progress=progress)
    info = info if info is not None else EngineInfo()
    return batched(data, registry.canonical(spec), level, info=info, progress=progress)


def fit_builtin(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    *,
    info: EngineInfo,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """The batched OLS, WLS, ridge, Huber and LAD (module docstring) of a canonical spec."""
    method = spec["method"]
    if method == "wls" and not 0 <= int(spec.get("predictor", 1)) < data.X.shape[-1]:
        # no such column: the reference fails and says so
        return estimators.fit_dataset(data, spec, level, progress=progress)
    if data.fixed:
        shared = _fit_shared(data, spec, level, info, progress)
        if shared is not None:
            return shared
    if data.fixed:  # stacked, so that no fit depends on its batch (module docstring)
        data = Dataset(
            np.ascontiguousarray(data.stacked_design()), data.y, data.beta, data.replicates
        )
    R, p = data.beta.shape
    n = data.y.shape[1]
    # what the batched code fits: WLS is OLS on the whitened data (as statsmodels WLS computes
    # it); replicates handed to the reference are refitted from the original data and spec
    fit_data, fit_spec = data, spec
    if method == "wls":
        fit_data, fit_spec = _whitened(data, spec), {"method": "ols", "se": "classical"}
    est, se, lo, hi = (np.full((R, p), np.nan) for _ in range(4))
    status = np.empty(R, dtype=object)
    message = np.empty(R, dtype=object)
    info.fits += R

    finite = np.all(np.isfinite(data.y), axis=1) & np.all(np.isfinite(data.X), axis=(1, 2))
    refer = ~finite
    done = 0  # replicates whose fit is final (the reference's are counted as they finish)

    with single_thread_blas(), np.errstate(all="ignore"):
        for sel in _selections(np.flatnonzero(finite), _chunk_size(n, p)):
            f = _fit_chunk(_Design(fit_data.X[sel]), fit_data.y[sel], fit_spec, level, info)
            done += _store(f, sel, (est, se, lo, hi, status, message), refer)
            if progress is not None:
                progress(done, R)

    return _with_reference(data, spec, level, refer, (est, se, lo, hi, status, message), done,
                           progress, info)  # fmt: skip
