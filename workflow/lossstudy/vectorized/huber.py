"""Huber M-estimation: a batched replay of statsmodels ``RLM(HuberT(k)).fit()``.

Why a replay and not any IRLS: the reference's iteration counts and ``not_converged`` flags
depend on its exact steps (OLS start, MAD scale re-estimated each step, deviance stopping rule
with the WLS scale), so they are repeated one for one; rows whose trajectory is rounding noise
go to the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

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
#: Steps after which the rows still iterating get their refined twin (``_irls``): by then most
#: rows have converged (median ≈ 17 steps), and a fit that reaches maxiter is re-run alongside
#: instead of after it.
HUBER_TWIN_AT = 30


def _row_mad(a: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """``np.median(a / MAD_C, axis=1)`` (a finite), bit for bit, sorting a copy of a in ``buf``
    (same shape).

    Why: the IRLS re-estimates its MAD scale every step and the median is then its largest
    cost. x ↦ x / MAD_C is monotone in floating point, so the order statistics of a / MAD_C are
    those of a, divided: only they are divided, and the copy is ordered in place in a reused
    buffer instead of two fresh m×n arrays. A full sort, not a partition: numpy sorts rows of
    floats with SIMD kernels and partitions them without, so at n = 25–400 the sort takes
    0.6–0.8 times as long (docs/speed.md), and any exact method picks the same order
    statistics.
    """
    n = a.shape[1]
    h = n // 2
    np.copyto(buf, a)
    buf.sort(axis=1)
    if n % 2:
        return buf[:, h] / MAD_C
    return (buf[:, h - 1] / MAD_C + buf[:, h] / MAD_C) / 2


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

    def hold(self, ar: np.ndarray) -> np.ndarray:
        """Resize to ``len(ar)`` rows (new buffers only if they grow); ``ar``, the rows' new
        |residuals|, becomes ``self.ar``."""
        self.rows = ar.shape[0]
        if self.rows > self._bufs["ar"].shape[0]:
            self._bufs = {name: np.empty((self.rows, ar.shape[1])) for name in self._bufs}
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


@dataclass
class _Twins:
    """The refined re-runs (``_irls``'s twins), by replicate: β, iterations, handed to the
    reference, and whether the replicate got a twin at all."""

    b: np.ndarray
    iteration: np.ndarray
    refer: np.ndarray
    has: np.ndarray


def _irls(
    D: AnyDesign,
    y: np.ndarray,
    k: float,
    maxiter: int,
    chol0: _Chol,
    refine: bool = False,
    twin_at: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Twins]:
    """RLM's IRLS loop for every row; returns (β, residuals, MAD scale, iterations, refer,
    twins).

    ``refine`` adds a step of iterative refinement to every weighted least-squares solve: a
    second, more accurate arithmetic path used to detect rounding-sensitive trajectories.
    With ``twin_at``, every row still iterating after that many steps gets a twin: the same
    replicate re-run from its start with refined solves, in the same working arrays, dropped
    as soon as its original converges. Why: a fit that stops at maxiter needs that re-run
    (``_huber``), and run afterwards it costs another maxiter steps for a handful of rows,
    steps whose cost is numpy's per-call overhead, not arithmetic. Each row's bits do not
    depend on the rows beside it, so a twin computes what the separate re-run would.
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
    start = (ar.copy(), wscale, dev, scale, floor) if twin_at is not None else None

    out_b = np.full((m, p), np.nan)
    out_r = np.full((m, n), np.nan)
    out_scale = np.full(m, np.nan)
    out_iter = np.zeros(m, dtype=np.int64)
    refer = np.zeros(m, dtype=bool)
    tw = _Twins(np.full((m, p), np.nan), np.zeros(m, dtype=np.int64), np.zeros(m, dtype=bool),
                np.zeros(m, dtype=bool))  # fmt: skip
    cancel = np.zeros(m, dtype=bool)  # replicates whose twin is no longer needed

    idx = np.arange(m)  # working rows → replicate
    twin = np.zeros(m, dtype=bool)  # working rows that are twins
    live = np.ones(m, dtype=bool)  # working rows still iterating (the rest are recorded)
    Dw, yw = D, y
    steps = 0
    while live.any():
        if start is not None and steps == twin_at:
            sel = np.flatnonzero(live)  # no twins yet: every live row is an original
            reps = idx[sel]
            Dw = Dw.take(np.concatenate([np.arange(idx.size), sel]))
            idx = np.concatenate([idx, reps])
            twin = np.concatenate([twin, np.ones(sel.size, dtype=bool)])
            live = np.concatenate([live, np.ones(sel.size, dtype=bool)])
            yw = np.concatenate([yw, yw[sel]])
            ar = work.hold(np.concatenate([ar, start[0][reps]]))
            wscale, dev, scale, floor = (
                np.concatenate([now, first[reps]])
                for now, first in zip((wscale, dev, scale, floor), start[1:], strict=True)
            )
            iteration = np.concatenate([iteration, np.ones(sel.size, dtype=np.int64)])
            tw.has[reps] = True
        steps += 1
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
        elif twin.any():
            b = np.where(twin[:, None], b + ch.solve(Dw.xtv(wts * (yw - Dw.xb(b)))), b)
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
        if done.any():
            orig = done & ~twin
            refer[idx[bad & orig]] = True
            fin = orig & ~bad
            out_b[idx[fin]] = b[fin]
            out_r[idx[fin]] = r[fin]
            out_scale[idx[fin]] = scale[fin]
            out_iter[idx[fin]] = iteration[fin]
            live &= ~done
            if start is not None:
                tdone = done & twin
                tw.refer[idx[tdone & bad]] = True
                tfin = tdone & ~bad
                tw.b[idx[tfin]] = b[tfin]
                tw.iteration[idx[tfin]] = iteration[tfin]
                # a twin matters only for an original stopped at maxiter
                cancel[idx[orig & (bad | (iteration < maxiter))]] = True
                live &= ~(twin & cancel[idx])
            if not live.any():
                break
            if _compact_now(live):
                keep = live
                idx, twin = idx[keep], twin[keep]
                Dw = Dw.take(keep)
                yw = yw[keep]
                ar = work.hold(ar[keep])
                wscale, scale, dev = wscale[keep], scale[keep], dev[keep]
                iteration, floor, live = iteration[keep], floor[keep], live[keep]
    return out_b, out_r, out_scale, out_iter, refer, tw


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
    out_b, out_r, out_scale, out_iter, f.refer, tw = _irls(
        D, y, k, maxiter, chol0, twin_at=HUBER_TWIN_AT
    )
    stopped = (out_iter >= maxiter) & ~f.refer
    if stopped.any():
        sel = np.flatnonzero(stopped)
        b2, it2, ref2 = tw.b[sel], tw.iteration[sel], tw.refer[sel]
        late = np.flatnonzero(~tw.has[sel])  # stopped before the twins started (tiny maxiter)
        if late.size:
            Ds = D.take(sel[late])
            ch = _Chol(_packed(Ds.gram_full()), p)
            b2[late], _, _, it2[late], ref2[late], _ = _irls(
                Ds, y[sel[late]], k, maxiter, ch, refine=True
            )
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
