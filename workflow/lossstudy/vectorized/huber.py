"""Huber M-estimation: a batched replay of statsmodels ``RLM(HuberT(k)).fit()``.

Why a replay and not any IRLS: the reference's iteration counts and ``not_converged`` flags
depend on its exact steps (OLS start, MAD scale re-estimated each step, deviance stopping rule
with the WLS scale), so they are repeated one for one; rows whose trajectory is rounding noise
go to the reference.
"""

from __future__ import annotations

import numpy as np

from lossstudy import estimators
from lossstudy.estimators import NOT_CONVERGED
from lossstudy.quantiles import norm_ppf

from ._linalg import AnyDesign, _Chol, _compact_now, _inv_diag, _packed
from ._results import EngineInfo, _Fits

#: statsmodels' ``scale.mad`` constant, ``Gaussian.ppf(3/4)``, as a literal (its repr: the
#: same double) so that importing this module needs no scipy; tests/test_quantiles.py
#: checks it equals ``norm_ppf(3/4)`` bit for bit.
MAD_C = 0.6744897501960817
#: statsmodels RLM defaults the reference relies on.
RLM_TOL = 1e-8
#: An IRLS whose MAD scale falls below this fraction of its starting value is collapsing onto
#: an exact fit of a subset (e.g. n = p + 1); its later iterates are rounding noise that only
#: the reference's own arithmetic reproduces, so such replicates are handed to the reference.
HUBER_COLLAPSE = 1e-7
#: Largest relative disagreement between two arithmetic paths of an IRLS that stopped at
#: maxiter before the row is called rounding-sensitive and handed to the reference.
HUBER_REPLAY_RTOL = 1e-11


def _row_mad(a: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """``np.median(a / MAD_C, axis=1)`` (a finite), bit for bit, partitioning a copy of a in
    ``buf`` (same shape).

    Why: the IRLS re-estimates its MAD scale every step and the median is then its largest
    cost. x ↦ x / MAD_C is monotone in floating point, so the order statistics of a / MAD_C are
    those of a, divided: only they are divided, and the partition runs in place in a reused
    buffer instead of on two fresh m×n arrays.
    """
    n = a.shape[1]
    h = n // 2
    np.copyto(buf, a)
    if n % 2:
        buf.partition(h, axis=1)
        return buf[:, h] / MAD_C
    buf.partition(h - 1, axis=1)
    return (buf[:, h - 1] / MAD_C + buf[:, h:].min(axis=1) / MAD_C) / 2


class _Scratch:
    """The m×n buffers of one IRLS run, reused by every step; views of their first rows once
    finished rows are dropped (C-contiguous, like fresh arrays: the same arithmetic)."""

    w: np.ndarray  # the step's weights
    r: np.ndarray  # residuals
    ar: np.ndarray  # |residuals|, carried to the next step
    t: np.ndarray  # scratch
    u: np.ndarray  # scratch

    def __init__(self, m: int, n: int) -> None:
        self._bufs = {name: np.empty((m, n)) for name in ("w", "r", "ar", "t", "u")}
        self.rows = m
        self._views()

    def _views(self) -> None:
        for name, buf in self._bufs.items():
            setattr(self, name, buf[: self.rows])

    def shrink(self, ar: np.ndarray) -> np.ndarray:
        """Keep the first ``len(ar)`` rows; ``ar`` (the rows kept) becomes the new ``self.ar``."""
        self.rows = ar.shape[0]
        self._views()
        self.ar[...] = ar
        return self.ar


def _deviance(ar: np.ndarray, wscale: np.ndarray, k: float, work: _Scratch) -> np.ndarray:
    """Row sums of HuberT.rho at |z| = ar / wscale: with c = min(a, k), ρ = c·(a − c/2); in
    ``work``'s buffers t, u, w (w: the step's weights, no longer needed by then)."""
    a = np.divide(ar, wscale[:, None], out=work.t)
    c = np.minimum(a, k, out=work.u)
    t = np.multiply(c, 0.5, out=work.w)
    np.subtract(a, t, out=t)
    return np.einsum("rn,rn->r", c, t)


def _irls(
    D: AnyDesign,
    y: np.ndarray,
    k: float,
    maxiter: int,
    chol0: _Chol,
    refine: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """RLM's IRLS loop for every row; returns (β, residuals, MAD scale, iterations, refer).

    ``refine`` adds a step of iterative refinement to every weighted least-squares solve: a
    second, more accurate arithmetic path used to detect rounding-sensitive trajectories.
    Every step writes its m×n arrays into the same few buffers (``_Scratch``): fresh ones
    would cost page faults on every step.
    """
    m, n = y.shape
    p = D.p
    df_resid = float(n - p)
    work = _Scratch(m, n)
    # start: OLS (statsmodels: WLS with unit weights, solved through pinv), refined
    b = chol0.solve(D.xtv(y))
    b = b + chol0.solve(D.xtv(y - D.xb(b)))
    r = y - D.xb(b)
    ar = np.abs(r, out=work.ar)
    wscale = np.einsum("rn,rn->r", r, r) / df_resid
    dev = _deviance(ar, wscale, k, work)
    scale = _row_mad(ar, work.t)
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
        wts = np.divide(ar, scale[:, None], out=work.w)
        np.divide(k, wts, out=wts)
        np.minimum(wts, 1.0, out=wts)
        wts[zero] = 1.0
        ch = _Chol(Dw.gram(wts), p)
        b = ch.solve(Dw.xtv(np.multiply(wts, yw, out=work.t)))
        if refine:
            b += ch.solve(Dw.xtv(wts * (yw - Dw.xb(b))))
        r = np.subtract(yw, Dw.xb(b, out=work.r), out=work.r)
        wscale = np.einsum("rn,rn,rn->r", wts, r, r) / df_resid
        ar = np.abs(r, out=work.ar)
        scale = _row_mad(ar, work.t)
        dev_new = _deviance(ar, wscale, k, work)
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
                yw = yw[keep]
                ar = work.shrink(ar[keep])
                wscale, scale, dev = wscale[keep], scale[keep], dev[keep]
                iteration, floor, live = iteration[keep], floor[keep], live[keep]
    return out_b, out_r, out_scale, out_iter, refer


def _huber(
    D: AnyDesign,
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
        ch = _Chol(_packed(Ds.gram_full()), p)
        b2, _, _, it2, ref2 = _irls(Ds, y[sel], k, maxiter, ch, refine=True)
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
