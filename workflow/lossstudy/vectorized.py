"""Vectorised engine: the fits of ``lossstudy.estimators``, all replicates of a chunk at once.

Why: the reference engine fits one replicate at a time through statsmodels and scipy (0.1–10 ms
per fit) and a study fits about 10^5 datasets per estimator. This engine fits stacked numpy
arrays and reproduces the reference — the same statuses and messages, and estimates, SEs and
intervals equal to rounding (typically 1e-14 relative) — so either engine can produce the
study's numbers:

- OLS, ridge: batched normal equations (Cholesky and one step of refinement); classical and
  HC3 SEs, t intervals; ridge SE as ``estimators.ridge_closed_form`` with NaN intervals.
- WLS: the batched weighted normal equations X'WX b = X'Wy, solved as statsmodels ``WLS``
  solves them: OLS (classical SEs, t intervals) on the whitened data √w·X, √w·y, whose
  residual sum of squares is Σ w r².
- Huber: a batched IRLS that replays ``RLM(HuberT(k)).fit()`` step by step (OLS start, MAD
  scale about 0 re-estimated each step, deviance stopping rule with the WLS scale, tol 1e-8,
  ``estimators.HUBER_MAXITER``), so the iteration counts and ``not_converged`` flags agree;
  H1 covariance, z intervals.
- LAD: a batched Frisch–Newton interior point on the dual LP (Portnoy & Koenker 1997, the
  algorithm of R's ``rq.fit.fnb``), then a vertex "polish" through the p smallest |residuals|
  that is kept only when a dual (subgradient) certificate proves it optimal. A replicate that
  cannot be certified is refitted by the reference (exact LP). SEs by the batched
  ``estimators.quantreg_kernel_cov`` formula, t intervals.

Every fit works on per-replicate (stacked) designs, a fixed design copied to each replicate:
a product shared by a batch would let BLAS round a replicate's fit differently by where it sits
in the batch, so stacking makes every result independent of how replicates are split into jobs
(bit for bit), at ~2× the cost of a shared design.

Rank-deficient designs get the reference's ``failed`` status and message directly. Replicates
whose result the reference itself computes from rounding noise, or that this engine cannot
certify, are handed to ``estimators.fit_one`` one at a time, so the reference decides them:
non-finite data, badly conditioned designs, HC3 with a leverage near 1, an IRLS whose scale
collapses to 0 or whose non-converged trajectory is rounding-sensitive, an uncertified LAD
vertex. ``EngineInfo`` counts them.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossstudy import estimators
from lossstudy.dgp import Dataset
from lossstudy.distributions import norm_ppf, t_ppf
from lossstudy.estimators import FAILED, NOT_CONVERGED, OK, FitResult

__all__ = ["EngineInfo", "fit_dataset_vectorized", "lad_certificate", "single_thread_blas"]

#: Upper bound on the bytes of the stacked arrays of one chunk (design and working arrays).
MAX_CHUNK_BYTES = 64 * 2**20
#: Target replicates × observations per chunk: each m×n working array (~0.5 MB) stays in cache,
#: which is 1.5–2× faster than chunks of tens of MB, while numpy's per-call overhead is amortised.
CHUNK_CELLS = 1 << 16
#: Largest cond(X'X) (bounded by tr(X'X)·tr((X'X)⁻¹)) fitted through normal equations; worse
#: designs go to the reference, whose SVD-based solvers lose only cond(X)·eps, not cond(X)²·eps.
COND_LIMIT = 1e8
#: statsmodels' ``scale.mad`` constant, ``Gaussian.ppf(3/4)``, as a literal (its repr: the
#: same double) so that importing this module needs no scipy; tests/test_distributions.py
#: checks it equals ``norm_ppf(3/4)`` bit for bit.
MAD_C = 0.6744897501960817
#: HC3 divides a residual by 1 − h_ii; both are computed with a relative error of about
#: eps·cond(X'X)/(1 − h_ii), the reference's as much as ours. A replicate where that bound
#: exceeds ~1e-10 (1 − h_ii < HC3_LEVERAGE_RTOL·cond) goes to the reference.
HC3_LEVERAGE_RTOL = 1e-6
#: statsmodels RLM defaults the reference relies on.
RLM_TOL = 1e-8
#: An IRLS whose MAD scale falls below this fraction of its starting value is collapsing onto
#: an exact fit of a subset (e.g. n = p + 1); its later iterates are rounding noise that only
#: the reference's own arithmetic reproduces, so such replicates are handed to the reference.
HUBER_COLLAPSE = 1e-7
#: Largest relative disagreement between two arithmetic paths of an IRLS that stopped at
#: maxiter before the row is called rounding-sensitive and handed to the reference.
HUBER_REPLAY_RTOL = 1e-11
#: Frisch–Newton settings (R's rq.fit.fnb uses beta = 0.99995 and an absolute gap of 1e-6).
FNB_BETA = 0.99995
FNB_MAXIT = 50
FNB_GAP = 1e-8  # relative to 1 + Σ|y|: fine enough that the p smallest |residuals| span the basis
#: Rows whose relative gap is below this try the vertex polish at every iteration (most are
#: certified 2–3 iterations before the interior point itself would stop).
FNB_POLISH_GAP = 1e-3
#: Slack of the LAD optimality certificate |s_h| ≤ 1 (rounding of the p×p solve). A vertex
#: whose certificate is violated by δ is within about δ·(objective) of the optimum.
CERT_TOL = 1e-10
#: Largest 1-norm condition number of the vertex basis X_h whose certificate is trusted
#: (rounding error of s_h ≈ cond·eps ≤ 2e-11 < CERT_TOL); worse bases go to the exact LP.
VERTEX_COND = 1e5

_PARAMS: dict[str, set[str]] = {
    "ols": {"se"},
    "lad": set(),
    "huber": {"k"},
    "ridge": {"penalty"},
    "wls": {"predictor", "strength"},
}
_NONFINITE_SE = "non-finite standard error: estimate kept, SE and interval set to NaN"


@dataclass
class EngineInfo:
    """Counts of what the engine did, for benchmarks and tests (why a fit was slow or exact)."""

    fits: int = 0
    reference_fallback: int = 0  # replicates handed whole to estimators.fit_one
    lad_lp_fallback: int = 0  # LAD replicates whose polished vertex could not be certified
    lad_second_pass: int = 0  # LAD replicates that needed a second, tighter interior point run
    lad_nonunique: int = 0  # certified LAD optima with a tie in the certificate (|s_h| = 1)
    ipm_iterations: int = 0  # Frisch–Newton iterations, summed over replicates
    irls_iterations: int = 0  # RLM iterations (as RLM counts them), summed over replicates
    huber_replayed: int = 0  # IRLS fits that stopped at maxiter and were re-run as a check


# --------------------------------------------------------------------------- BLAS threads


def _openblas() -> tuple[Any, Any] | None:
    """get/set-num-threads of the OpenBLAS numpy is linked to, if it is the bundled one."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
        except (OSError, AttributeError):
            continue
    return None


_BLAS = _openblas()


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run BLAS single-threaded, then restore the previous thread count.

    Why: the engine's products are many small or skinny matrices; on a busy 2-core machine a
    threaded gemm is 10–30× slower than a single thread, and one thread also rules out any
    thread-count dependence of the results. A no-op when numpy's BLAS is not the bundled one.
    """
    if _BLAS is None:
        yield
        return
    get, set_ = _BLAS
    before = int(get())
    set_(1)
    try:
        yield
    finally:
        set_(before)


# --------------------------------------------------------------------------- batched algebra


@functools.cache
def _packed_index(p: int) -> np.ndarray:
    """pos[j, k]: column of the pair (min(j,k), max(j,k)) in the packed upper triangle."""
    iu0, iu1 = np.triu_indices(p)
    pos = np.empty((p, p), dtype=np.intp)
    pos[iu0, iu1] = np.arange(iu0.size)
    pos[iu1, iu0] = np.arange(iu0.size)
    return pos


def _packed(g: np.ndarray) -> np.ndarray:
    """m×p×p symmetric matrices → m×P packed upper triangles."""
    iu0, iu1 = np.triu_indices(g.shape[-1])
    return g[:, iu0, iu1]


def _unpack(gp: np.ndarray, p: int) -> np.ndarray:
    """m×P packed symmetric matrices → m×p×p."""
    return gp[:, _packed_index(p)]


class _Chol:
    """Cholesky factors of m symmetric p×p matrices (packed), vectorised over m.

    Why not ``np.linalg.cholesky``: one non-positive-definite matrix makes it raise for the whole
    batch, and for p ≈ 5 a loop over the p² entries with m-long vectors is as fast. A matrix that
    is not numerically positive definite gets ``ok = False`` (and NaNs), nothing raises.
    """

    def __init__(self, gp: np.ndarray, p: int) -> None:
        pos = _packed_index(p)
        g = np.ascontiguousarray(gp.T)  # P×m: one contiguous vector per entry
        m = gp.shape[0]
        self.p = p
        self.low: list[list[np.ndarray]] = [[np.empty(0)] * p for _ in range(p)]
        self.inv_diag: list[np.ndarray] = [np.empty(0)] * p
        ok = np.ones(m, dtype=bool)
        for j in range(p):
            s = g[pos[j, j]].copy()
            for k in range(j):
                s -= self.low[j][k] * self.low[j][k]
            ok &= s > 0.0
            inv = 1.0 / np.sqrt(s)
            self.inv_diag[j] = inv
            for i in range(j + 1, p):
                t = g[pos[i, j]].copy()
                for k in range(j):
                    t -= self.low[i][k] * self.low[j][k]
                self.low[i][j] = t * inv
        for j in range(p):
            ok &= np.isfinite(self.inv_diag[j])
        self.ok = ok

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x with (L L') x = b for every matrix; b and x are m×p."""
        p, low, inv = self.p, self.low, self.inv_diag
        bt = np.ascontiguousarray(b.T)
        z: list[np.ndarray] = []
        for j in range(p):
            t = bt[j].copy()
            for k in range(j):
                t -= low[j][k] * z[k]
            z.append(t * inv[j])
        x: list[np.ndarray] = [np.empty(0)] * p
        for j in reversed(range(p)):
            t = z[j]
            for k in range(j + 1, p):
                t -= low[k][j] * x[k]
            x[j] = t * inv[j]
        return np.stack(x, axis=1)

    def inverse(self) -> np.ndarray:
        """m×p×p inverses (symmetric)."""
        m = self.inv_diag[0].shape[0]
        eye = np.eye(self.p)
        cols = [self.solve(np.broadcast_to(eye[j], (m, self.p))) for j in range(self.p)]
        return np.stack(cols, axis=2)


class _Design:
    """The designs of a batch: m stacked n×p matrices, one per replicate."""

    def __init__(self, X: np.ndarray, pairs: np.ndarray | None = None) -> None:
        self.X = X
        self.p = X.shape[-1]
        self._pairs = pairs

    @property
    def pairs(self) -> np.ndarray:
        """x_ij·x_ik for j ≤ k (…×n×P): turns every X'WX into one matrix product."""
        if self._pairs is None:
            iu0, iu1 = np.triu_indices(self.p)
            self._pairs = self.X[..., iu0] * self.X[..., iu1]
        return self._pairs

    def take(self, idx: np.ndarray) -> _Design:
        """The replicates idx (an index array or a boolean mask)."""
        return _Design(self.X[idx], None if self._pairs is None else self._pairs[idx])

    def xb(self, b: np.ndarray) -> np.ndarray:
        """X b for every replicate: m×p → m×n."""
        return (self.X @ b[:, :, None])[:, :, 0]

    def xtv(self, v: np.ndarray) -> np.ndarray:
        """X'v for every replicate: m×n → m×p."""
        return (v[:, None, :] @ self.X)[:, 0, :]

    def gram(self, w: np.ndarray) -> np.ndarray:
        """Packed X' diag(w) X for every replicate: m×n → m×P."""
        return (w[:, None, :] @ self.pairs)[:, 0, :]

    def gram_full(self) -> np.ndarray:
        """X'X (m×p×p)."""
        return self.X.transpose(0, 2, 1) @ self.X

    def take_rows(self, idx: np.ndarray) -> np.ndarray:
        """X[i, idx[i], :] for every replicate: m×q index → m×q×p."""
        return np.take_along_axis(self.X, idx[:, :, None], axis=1)


def _diag_sandwich(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """diag(A B A) for m×p×p symmetric A and m×p×p B → m×p."""
    return np.einsum("rjk,rkl,rlj->rj", a, b, a)


def _compact_now(live: np.ndarray) -> bool:
    """Drop finished rows from an iteration's working arrays now? Once at least half are
    finished: the copy also moves X and its pair products, so doing it every step costs more
    than iterating the dead rows."""
    return 2 * int(live.sum()) <= live.size


# --------------------------------------------------------------------------- results


@dataclass
class _Fits:
    """Results of a batch of replicates (rows are replicates)."""

    est: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    status: np.ndarray
    message: np.ndarray
    refer: np.ndarray  # True: hand this replicate to the reference engine

    @classmethod
    def empty(cls, m: int, p: int) -> _Fits:
        nan = [np.full((m, p), np.nan) for _ in range(4)]
        status = np.full(m, OK, dtype=object)
        message = np.full(m, "", dtype=object)
        return cls(*nan, status, message, np.zeros(m, dtype=bool))


def _finish(f: _Fits) -> None:
    """fit_one's rules for non-finite numbers (estimate → reference, SE → NaN and a message)."""
    bad_est = (f.status != FAILED) & ~np.all(np.isfinite(f.est), axis=1)
    f.refer |= bad_est
    bad_se = (f.status == OK) & ~bad_est & ~np.all(np.isfinite(f.se), axis=1)
    f.se[bad_se] = f.lo[bad_se] = f.hi[bad_se] = np.nan
    f.message[bad_se] = _NONFINITE_SE


# --------------------------------------------------------------------------- OLS and ridge


def _ols(D: _Design, y: np.ndarray, level: float, se_type: str, chol: _Chol) -> _Fits:
    """OLS with classical or HC3 SEs and t(n − p) intervals, as statsmodels OLS."""
    m, n = y.shape
    p = D.p
    f = _Fits.empty(m, p)
    df = n - p
    b = chol.solve(D.xtv(y))
    r = y - D.xb(b)
    b = b + chol.solve(D.xtv(r))  # one step of refinement: error ~cond(X)·eps, as pinv
    r = y - D.xb(b)
    if se_type == "classical":
        scale = np.einsum("rn,rn->r", r, r) / df
        f.se = np.sqrt(scale[:, None] * _inv_diag(chol))
    else:  # HC3, statsmodels cov_HC3: pinv (r/(1-h))² pinv'
        inv = chol.inverse()
        q_mat = D.X @ inv  # X (X'X)⁻¹ = pinv'
        h = np.einsum("rnp,rnp->rn", q_mat, D.X)
        het = (r / (1 - h)) ** 2
        f.se = np.sqrt((het[:, None, :] @ (q_mat * q_mat))[:, 0, :])
        trace_g = np.einsum("rnp,rnp->r", D.X, D.X)
        kappa = (trace_g * np.trace(inv, axis1=1, axis2=2))[:, None]  # ≥ cond(X'X)
        # h → 1 makes r/(1 − h) a ratio of rounding errors: leave it to the reference
        f.refer |= np.any(~(1.0 - h > HC3_LEVERAGE_RTOL * kappa), axis=-1)
    alpha = 1.0 - level  # RegressionResults.conf_int: t(df_resid) quantile at 1 − α/2
    q = t_ppf(1 - alpha / 2, df)
    f.est = b
    f.lo = b - q * f.se
    f.hi = b + q * f.se
    return f


def _inv_diag(chol: _Chol) -> np.ndarray:
    """Diagonals of the inverses (m×p)."""
    return np.diagonal(chol.inverse(), axis1=1, axis2=2)


def _ridge(D: _Design, y: np.ndarray, penalty: float) -> _Fits | None:
    """Closed-form ridge as ``estimators.ridge_closed_form``; None if an inverse fails."""
    m, n = y.shape
    p = D.p
    f = _Fits.empty(m, p)
    pen = np.eye(p)
    pen[0, 0] = 0.0
    xtx = D.gram_full()
    try:
        a_inv = np.linalg.inv(xtx + penalty * pen)
    except np.linalg.LinAlgError:
        return None
    b = (a_inv @ D.xtv(y)[:, :, None])[:, :, 0]
    r = y - D.xb(b)
    df_eff = n - np.einsum("rjk,rkj->r", a_inv, xtx)  # tr(X A⁻¹ X') = tr(A⁻¹ X'X)
    sigma2 = np.einsum("rn,rn->r", r, r) / df_eff
    f.se = np.sqrt(sigma2[:, None] * _diag_sandwich(a_inv, xtx))
    f.est = b
    return f


# --------------------------------------------------------------------------- Huber


def _huber_deviance(a: np.ndarray, k: float) -> np.ndarray:
    """Row sums of HuberT.rho at |z| = a: with c = min(a, k), ρ = c·(a − c/2)."""
    c = np.minimum(a, k)
    t = 0.5 * c
    np.subtract(a, t, out=t)
    return np.einsum("rn,rn->r", c, t)


def _row_median(a: np.ndarray) -> np.ndarray:
    """np.median(a, axis=1), bit for bit, with one partition instead of two."""
    n = a.shape[1]
    h = n // 2
    if n % 2:
        return np.partition(a, h, axis=1)[:, h]
    part = np.partition(a, h - 1, axis=1)
    return (part[:, h - 1] + part[:, h:].min(axis=1)) / 2


def _irls(
    D: _Design,
    y: np.ndarray,
    k: float,
    maxiter: int,
    chol0: _Chol,
    refine: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """RLM's IRLS loop for every row; returns (β, residuals, MAD scale, iterations, refer).

    ``refine`` adds a step of iterative refinement to every weighted least-squares solve: a
    second, more accurate arithmetic path used to detect rounding-sensitive trajectories.
    """
    m, n = y.shape
    p = D.p
    df_resid = float(n - p)
    # start: OLS (statsmodels: WLS with unit weights, solved through pinv), refined
    b = chol0.solve(D.xtv(y))
    b = b + chol0.solve(D.xtv(y - D.xb(b)))
    r = y - D.xb(b)
    ar = np.abs(r)
    wscale = np.einsum("rn,rn->r", r, r) / df_resid
    dev = _huber_deviance(ar / wscale[:, None], k)
    scale = _row_median(ar / MAD_C)
    floor = HUBER_COLLAPSE * scale
    iteration = np.ones(m, dtype=np.int64)

    out_b = np.full((m, p), np.nan)
    out_r = np.full((m, n), np.nan)
    out_scale = np.full(m, np.nan)
    out_iter = np.zeros(m, dtype=np.int64)
    refer = np.zeros(m, dtype=bool)

    idx = np.arange(m)  # working rows → replicate
    live = np.ones(m, dtype=bool)  # working rows still iterating (the rest are recorded)
    Dw, yw = D, y
    while live.any():
        # RLM breaks (with a ConvergenceWarning) on a zero scale: leave that to the reference
        zero = ~(scale > 0.0) | ~(wscale > 0.0) | ~np.isfinite(wscale)
        # HuberT.weights(r/scale): 1 where |z| ≤ k, else k/|z| (= min(k/|z|, 1) exactly)
        wts = np.divide(ar, scale[:, None], out=ar)
        np.divide(k, wts, out=wts)
        np.minimum(wts, 1.0, out=wts)
        wts[zero] = 1.0
        ch = _Chol(Dw.gram(wts), p)
        b = ch.solve(Dw.xtv(wts * yw))
        if refine:
            b += ch.solve(Dw.xtv(wts * (yw - Dw.xb(b))))
        r = yw - Dw.xb(b)
        wscale = np.einsum("rn,rn,rn->r", wts, r, r) / df_resid
        ar = np.abs(r)
        scale = _row_median(ar / MAD_C)
        dev_new = _huber_deviance(ar / wscale[:, None], k)
        iteration += 1
        converged = ~(np.abs(dev_new - dev) > RLM_TOL) | (iteration >= maxiter)
        dev = dev_new
        # a collapsing scale (exact fit of a subset) makes later steps rounding noise
        bad = live & (zero | ~ch.ok | ~(scale >= floor))
        done = live & (converged | bad)
        bad |= done & ~(scale > 0.0)  # RLM's sresid is 0 when the scale is 0
        refer[idx[bad]] = True
        if done.any():
            fin = done & ~bad
            out_b[idx[fin]] = b[fin]
            out_r[idx[fin]] = r[fin]
            out_scale[idx[fin]] = scale[fin]
            out_iter[idx[fin]] = iteration[fin]
            live &= ~done
            if not live.any():
                break
            if _compact_now(live):
                keep = live
                idx = idx[keep]
                Dw = Dw.take(keep)
                yw, r, ar, b = yw[keep], r[keep], ar[keep], b[keep]
                wscale, scale, dev = wscale[keep], scale[keep], dev[keep]
                iteration, floor, live = iteration[keep], floor[keep], live[keep]
    return out_b, out_r, out_scale, out_iter, refer


def _huber(
    D: _Design,
    y: np.ndarray,
    level: float,
    k: float,
    chol0: _Chol,
    info: EngineInfo,
) -> _Fits:
    """Replay of RLM(HuberT(k)).fit(maxiter=HUBER_MAXITER) on every replicate at once.

    A fit that stops at maxiter has not settled, and on rare ill-conditioned data (n ≈ p,
    correlated predictors, heavy tails) its 50-step trajectory amplifies rounding. Such rows are
    re-run with refined solves; if the two runs disagree beyond HUBER_REPLAY_RTOL the row is
    rounding-sensitive and goes to the reference, whose arithmetic alone reproduces it.
    """
    m, n = y.shape
    p = D.p
    maxiter = int(estimators.HUBER_MAXITER)
    df_resid = float(n - p)
    f = _Fits.empty(m, p)
    out_b, out_r, out_scale, out_iter, f.refer = _irls(D, y, k, maxiter, chol0)
    stopped = (out_iter >= maxiter) & ~f.refer
    if stopped.any():
        sel = np.flatnonzero(stopped)
        Ds = D.take(sel)
        b2, _, _, it2, ref2 = _irls(Ds, y[sel], k, maxiter, _Chol(_packed(Ds.gram_full()), p), True)
        tol = HUBER_REPLAY_RTOL * np.maximum(1.0, np.abs(out_b[sel]).max(axis=1))
        unstable = ref2 | (it2 != out_iter[sel]) | ~(np.abs(b2 - out_b[sel]).max(axis=1) <= tol)
        f.refer[sel[unstable]] = True
        info.huber_replayed += sel.size
    info.irls_iterations += int(out_iter[~f.refer].sum())

    # H1 covariance at the final WLS fit, with the final MAD scale
    sresid = out_r / out_scale[:, None]
    pd_ = (np.abs(sresid) <= k).astype(float)
    psi = np.clip(sresid, -k, k)
    mean_pd = pd_.mean(axis=1)
    var_pd = pd_.var(axis=1)
    kk = 1 + p / n * var_pd / mean_pd**2
    ss_psi = (psi**2).sum(axis=1)
    s_pd = pd_.sum(axis=1)
    factor = kk**2 * (1 / df_resid * ss_psi * out_scale**2) / ((1 / n * s_pd) ** 2)
    f.est = out_b
    f.se = np.sqrt(factor[:, None] * _inv_diag(chol0))
    alpha = 1.0 - level
    q = norm_ppf(1 - alpha / 2)
    f.lo = out_b - q * f.se
    f.hi = out_b + q * f.se
    stopped = out_iter >= maxiter
    f.status[stopped] = NOT_CONVERGED
    f.message[stopped] = f"IRLS stopped at maxiter={maxiter}"
    return f


# --------------------------------------------------------------------------- LAD


def _step(neg_rate: np.ndarray) -> np.ndarray:
    """Damped step min(β·t_max, 1) from the largest relative decrease rate per row.

    A variable v > 0 moving by dv = q·v stays positive for t < 1/(−q) when q < 0, so the
    largest feasible step is 1/max(−q) over the row (∞ when nothing decreases).
    """
    with np.errstate(divide="ignore"):
        t_max = np.where(neg_rate > 0.0, 1.0 / neg_rate, np.inf)
    return np.minimum(FNB_BETA * t_max, 1.0)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("rn,rn->r", a, b)


def _frisch_newton(
    D: _Design,
    y: np.ndarray,
    gap_tol: float,
    chol0: _Chol,
    polish_tol: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median regression by the Frisch–Newton interior point (rq.fit.fnb), batched.

    Dual LP: max y'd s.t. X'd = X'1/2, 0 ≤ d ≤ 1 (lpfnb's min c'x with c = −y, x = d,
    slack s = 1 − x, dual slacks z, w); the coefficients are minus the equality multipliers.
    The iteration is lpfnb's predictor–corrector, written with fused array expressions
    (step lengths from relative rates dx/x, dx/s, dz/z, dw/w). Unlike lpfnb the start is
    strictly interior (z, w > 0 everywhere). Stops a replicate when the duality gap is
    ≤ gap_tol·(1 + Σ|y|) or after FNB_MAXIT iterations. With ``polish_tol``, a row whose gap is
    ≤ polish_tol·(1 + Σ|y|) tries the vertex polish each iteration and stops once certified.
    Returns (β, iterations, certified, tie) — β is the certified vertex where certified.
    """
    m, n = y.shape
    p = D.p
    tau = 0.5
    c = -y
    b_rhs = (1 - tau) * D.X.sum(axis=1)
    ydual = chol0.solve(D.xtv(c))  # least-squares multipliers
    r = c - D.xb(ydual)
    delta = 1e-6 * (1.0 + np.abs(r).mean(axis=1, keepdims=True))
    z = np.maximum(r, 0.0) + delta
    w = np.maximum(-r, 0.0) + delta
    x = np.full((m, n), 1.0 - tau)
    s = np.full((m, n), tau)
    gap = _dot(z, x) + _dot(w, s)
    tol = gap_tol * (1.0 + np.abs(y).sum(axis=1))

    beta_out = np.full((m, p), np.nan)
    iters = np.zeros(m, dtype=np.int64)
    cert_out = np.zeros(m, dtype=bool)
    tie_out = np.zeros(m, dtype=bool)
    ptol = None if polish_tol is None else polish_tol * (1.0 + np.abs(y).sum(axis=1))
    idx = np.arange(m)
    live = np.ones(m, dtype=bool)
    Dw, bw, tolw, yw, ptolw = D, b_rhs, tol, y, ptol
    it = 0
    while live.any():
        done = live & (~(gap > tolw) | (it >= FNB_MAXIT))
        if ptolw is not None:
            try_ = live & ~done & (gap <= ptolw)
            if try_.any():
                sel = np.flatnonzero(try_)
                bv, cert, tie = _polish(Dw.take(sel), yw[sel], -ydual[sel])
                ok = sel[cert]
                beta_out[idx[ok]] = bv[cert]
                cert_out[idx[ok]] = True
                tie_out[idx[ok]] = tie[cert]
                iters[idx[ok]] = it
                done[ok] = True
        if done.any():
            fin = done & ~cert_out[idx]
            beta_out[idx[fin]] = -ydual[fin]
            iters[idx[fin]] = it
            live &= ~done
            if not live.any():
                break
            if _compact_now(live):
                keep = live
                idx = idx[keep]
                Dw = Dw.take(keep)
                x, s, z, w, ydual = x[keep], s[keep], z[keep], w[keep], ydual[keep]
                bw, tolw, yw = bw[keep], tolw[keep], yw[keep]
                ptolw = None if ptolw is None else ptolw[keep]
                live = live[keep]
        it += 1
        # predictor (affine) direction
        d = z / x
        d += w / s
        np.reciprocal(d, out=d)
        ds0 = z - w
        t = d * ds0
        t -= x
        rhs = bw + Dw.xtv(t)
        ch = _Chol(Dw.gram(d), p)
        dy = ch.solve(rhs)
        dx = Dw.xb(dy)
        dx -= ds0
        dx *= d  # ds = −dx
        qx = dx / x
        qs = dx / s
        qx_min, qx_max = qx.min(axis=1), qx.max(axis=1)
        qs_min, qs_max = qs.min(axis=1), qs.max(axis=1)
        dp = _step(np.maximum(-qx_min, qs_max))
        dd = _step(np.maximum(qx_max + 1.0, 1.0 - qs_min))  # dz/z = −1 − qx, dw/w = qs − 1
        dz = qx + 1.0
        dz *= z
        np.negative(dz, out=dz)
        dw = qs - 1.0
        dw *= w
        corr = np.minimum(dp, dd) < 1.0
        if corr.any():
            # Mehrotra corrector
            mu = _dot(x, z) + _dot(s, w)
            g = (
                mu
                + dp * _dot(dx, ds0)
                + dd * (_dot(dz, x) + _dot(dw, s))
                + dp * dd * _dot(dx, dz - dw)
            )
            mu = (mu * (g / mu) ** 3 / (2 * n))[:, None]
            dxdz = dx * dz
            dsdw = dx * dw
            np.negative(dsdw, out=dsdw)
            a_x = mu - dxdz
            a_x /= x  # (μ − dx·dz)/x
            b_s = mu - dsdw
            b_s /= s  # (μ − ds·dw)/s
            dr = b_s - a_x
            dr *= d
            dy2 = ch.solve(rhs + Dw.xtv(dr))
            dx2 = Dw.xb(dy2)
            dx2 -= ds0
            dx2 *= d
            dx2 -= dr
            qx = np.divide(dx2, x, out=qx)
            qs = np.divide(dx2, s, out=qs)
            dz2 = qx + 1.0
            dz2 *= z
            np.subtract(a_x, dz2, out=dz2)  # −z + (μ − z·dx − dx·dz)/x
            dw2 = 1.0 - qs
            dw2 *= w
            np.subtract(b_s, dw2, out=dw2)  # −w + (μ − w·ds − ds·dw)/s
            dp2 = _step(np.maximum(-qx.min(axis=1), qs.max(axis=1)))
            rz = np.divide(dz2, z, out=qx)
            rw = np.divide(dw2, w, out=qs)
            dd2 = _step(np.maximum(-rz.min(axis=1), -rw.min(axis=1)))
            if corr.all():
                dx, dz, dw, dy, dp, dd = dx2, dz2, dw2, dy2, dp2, dd2
            else:
                c1 = corr[:, None]
                dx, dz, dw = np.where(c1, dx2, dx), np.where(c1, dz2, dz), np.where(c1, dw2, dw)
                dy = np.where(c1, dy2, dy)
                dp, dd = np.where(corr, dp2, dp), np.where(corr, dd2, dd)
        dx *= dp[:, None]
        x += dx
        s -= dx
        ydual += dd[:, None] * dy
        dd_ = dd[:, None]
        dz *= dd_
        z += dz
        dw *= dd_
        w += dw
        gap = _dot(z, x) + _dot(w, s)
        gap[~ch.ok] = np.nan  # a failed factorisation stops the row (β NaN → not certified)
        ydual[~ch.ok] = np.nan
    return beta_out, iters, cert_out, tie_out


def _batched_inv(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of m×p×p matrices; a singular one gives NaN and ok = False (nothing raises)."""
    try:
        return np.linalg.inv(a), np.ones(a.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        out = np.full(a.shape, np.nan)
        ok = np.zeros(a.shape[0], dtype=bool)
        for i in range(a.shape[0]):
            try:
                out[i] = np.linalg.inv(a[i])
                ok[i] = True
            except np.linalg.LinAlgError:
                pass
        return out, ok


def _polish(
    D: _Design, y: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex through the p smallest |residuals| of β, and whether it is a proven L1 optimum.

    The vertex b solves X_h b = y_h. It is optimal iff 0 is a subgradient of Σ|y − Xb| there:
    Σ_{i∉h} sign(r_i) x_i + X_h' s_h = 0 for some s_h ∈ [−1, 1]^p. It is kept only if that
    certificate holds (to CERT_TOL), X_h is well enough conditioned for the computed s_h to be
    accurate to well below CERT_TOL (cond₁ ≤ VERTEX_COND), and its objective does not exceed
    that of β. Returns (vertex, certified, tie) where tie flags |s_h| ≈ 1 (possibly a
    non-unique optimum).
    """
    m, n = y.shape
    p = D.p
    r0 = y - D.xb(np.nan_to_num(beta))
    h = np.argpartition(np.abs(r0), p - 1, axis=1)[:, :p]
    xh = D.take_rows(h)
    yh = np.take_along_axis(y, h, axis=1)
    inv, ok = _batched_inv(xh)
    inv[~ok] = 0.0
    bv = (inv @ yh[:, :, None])[:, :, 0]
    bv += (inv @ (yh - (xh @ bv[:, :, None])[:, :, 0])[:, :, None])[:, :, 0]  # refinement
    rv = y - D.xb(bv)
    np.put_along_axis(rv, h, 0.0, axis=1)
    g = D.xtv(np.sign(rv))
    sh = -(g[:, None, :] @ inv)[:, 0, :]  # s_h = −X_h'⁻¹ g
    smax = np.max(np.abs(sh), axis=1)
    cond1 = np.abs(xh).sum(axis=1).max(axis=1) * np.abs(inv).sum(axis=1).max(axis=1)
    obj_v = np.abs(rv).sum(axis=1)
    obj_b = np.abs(r0).sum(axis=1)
    cert = ok & np.isfinite(beta).all(axis=1) & (smax <= 1.0 + CERT_TOL)
    cert &= (cond1 <= VERTEX_COND) & (obj_v <= obj_b * (1.0 + 1e-12) + 1e-300)
    tie = cert & (smax >= 1.0 - CERT_TOL)
    return bv, cert, tie


def lad_certificate(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> tuple[bool, bool]:
    """(optimal, unique) for one replicate's vertex β of median regression.

    For tests and diagnostics: β must interpolate p observations (the p smallest |residuals|).
    X (n×p) is fitted as a batch of one replicate.
    """
    D = _Design(np.asarray(X, dtype=float)[None])
    bv, cert, tie = _polish(D, y[None, :], np.asarray(beta, dtype=float)[None, :])
    same = bool(np.allclose(bv[0], beta, rtol=1e-9, atol=1e-9))
    return bool(cert[0]) and same, bool(cert[0]) and same and not bool(tie[0])


def _lad_se(
    D: _Design, y: np.ndarray, beta: np.ndarray, chol0: _Chol
) -> tuple[np.ndarray, np.ndarray]:
    """``estimators.quantreg_kernel_cov`` (q = 0.5) for every replicate: SEs and a flag for
    replicates whose bandwidth is rounding noise (tie of many zero residuals), which the caller
    evaluates with the reference transcription itself, one replicate at a time."""
    m, n = y.shape
    p = D.p
    q = 0.5
    e = y - D.xb(beta)
    q75, q25 = np.percentile(e, [75, 25], axis=1)
    iqre = q75 - q25
    h0 = estimators.hall_sheather(n, q)
    sd_y = np.std(y, axis=1)
    h = np.minimum(sd_y, iqre / 1.34) * (norm_ppf(q + h0) - norm_ppf(q - h0))
    u = e / h[:, None]
    kern = np.where(np.abs(u) <= 1, 0.75 * (1 - u**2), 0.0)
    fhat0 = 1.0 / (n * h) * kern.sum(axis=1)
    fh = fhat0[:, None]
    d = np.where(e > 0, (q / fh) ** 2, ((1 - q) / fh) ** 2)
    xtdx = _unpack(D.gram(d), p)
    se = np.sqrt(_diag_sandwich(chol0.inverse(), xtdx))
    scale_y = np.maximum(sd_y, np.abs(e).max(axis=1))
    noisy = ~(np.abs(iqre) > 1e-8 * scale_y)
    return se, noisy


def _lad(
    D: _Design,
    y: np.ndarray,
    level: float,
    chol0: _Chol,
    info: EngineInfo,
) -> _Fits:
    """Exact median regression: interior point, certified vertex polish, LP for the rest."""
    m, n = y.shape
    p = D.p
    f = _Fits.empty(m, p)
    bv, iters, cert, tie = _frisch_newton(D, y, FNB_GAP, chol0, FNB_POLISH_GAP)
    info.ipm_iterations += int(iters.sum())
    if not cert.all():  # rows that reached the final gap uncertified: polish once more
        rest = np.flatnonzero(~cert)
        bv2, cert2, tie2 = _polish(D.take(rest), y[rest], bv[rest])
        bv[rest] = bv2
        cert[rest], tie[rest] = cert2, tie2
    if not cert.all():  # a second, tighter interior-point run for the few that failed
        bad = np.flatnonzero(~cert)
        info.lad_second_pass += bad.size
        Db = D.take(bad)
        cb = _Chol(Db.gram(np.ones((bad.size, n))), p)
        beta2, iters2, _, _ = _frisch_newton(Db, y[bad], 1e-13, cb)
        info.ipm_iterations += int(iters2.sum())
        bv2, cert2, tie2 = _polish(Db, y[bad], beta2)
        bv[bad[cert2]] = bv2[cert2]
        cert[bad] = cert2
        tie[bad] = tie2
    info.lad_lp_fallback += int((~cert).sum())
    info.lad_nonunique += int(tie.sum())
    f.refer |= ~cert
    se, noisy = _lad_se(D, y, bv, chol0)
    for i in np.flatnonzero(noisy & cert):
        cov = estimators.quantreg_kernel_cov(D.X[i], y[i], bv[i])
        se[i] = np.sqrt(np.diag(cov))
    crit = t_ppf(0.5 + level / 2, n - p)
    f.est, f.se = bv, se
    f.lo = bv - crit * se
    f.hi = bv + crit * se
    return f


# --------------------------------------------------------------------------- driver


def _chunk_size(n: int, p: int) -> int:
    """Replicates per chunk: about CHUNK_CELLS cells, and under MAX_CHUNK_BYTES in all."""
    pairs = p * (p + 1) // 2
    per_rep = 8 * n * (24 + 2 * (p + pairs))  # working arrays, X and its pair products
    return max(1, min(CHUNK_CELLS // n, MAX_CHUNK_BYTES // per_rep))


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


def _scatter(dst: _Fits, src: _Fits, rows: np.ndarray) -> None:
    for name in ("est", "se", "lo", "hi", "status", "message", "refer"):
        getattr(dst, name)[rows] = getattr(src, name)


def _whitened(data: Dataset, spec: dict[str, Any]) -> Dataset:
    """√w·X and √w·y with the WLS weights of ``estimators.wls_weights`` (non-finite data stays
    non-finite; those replicates go to the reference anyway)."""
    with np.errstate(all="ignore"):
        w = estimators.wls_weights(
            data.X, int(spec.get("predictor", 1)), float(spec.get("strength", 1.0))
        )
        sw = np.sqrt(w)
        return Dataset(sw[..., None] * data.X, sw * data.y, data.beta, data.replicates)


def fit_dataset_vectorized(
    data: Dataset,
    spec: dict[str, Any],
    level: float,
    *,
    info: EngineInfo | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Fit every replicate of a chunk with one estimator; same results as ``fit_dataset``.

    ``info``, if given, accumulates counts of fallbacks and iterations (see EngineInfo).
    ``progress``, if given, is called as ``progress(done, total)`` after each internal chunk
    and after each replicate handed to the reference.
    """
    method = spec.get("method")
    params = {k for k in spec if k != "method"}
    if method not in _PARAMS or not params <= _PARAMS[method]:
        # the reference reports the problem
        return estimators.fit_dataset(data, spec, level, progress=progress)
    if method == "ols" and spec.get("se", "classical") not in ("classical", "hc3"):
        return estimators.fit_dataset(data, spec, level, progress=progress)
    if method == "wls" and not 0 <= int(spec.get("predictor", 1)) < data.X.shape[-1]:
        # no such column: the reference fails and says so
        return estimators.fit_dataset(data, spec, level, progress=progress)
    info = info if info is not None else EngineInfo()
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
        rows = np.flatnonzero(finite)
        step = _chunk_size(n, p)
        for start in range(0, rows.size, step):
            sel = rows[start : start + step]
            if sel[-1] - sel[0] + 1 == sel.size:  # contiguous: views, no copies
                sel = slice(int(sel[0]), int(sel[-1]) + 1)
            f = _fit_chunk(_Design(fit_data.X[sel]), fit_data.y[sel], fit_spec, level, info)
            _finish(f)
            est[sel], se[sel], lo[sel], hi[sel] = f.est, f.se, f.lo, f.hi
            status[sel], message[sel] = f.status, f.message
            refer[sel] |= f.refer
            done += len(f.refer) - int(np.count_nonzero(f.refer))
            if progress is not None:
                progress(done, R)

    for i in np.flatnonzero(refer):
        est[i], se[i], lo[i], hi[i], status[i], message[i] = estimators.fit_one(
            data.design(int(i)), data.y[i], spec, level
        )
        done += 1
        if progress is not None:
            progress(done, R)
    info.reference_fallback += int(refer.sum())
    return FitResult(est, se, lo, hi, status, message)
