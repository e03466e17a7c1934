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


#: From this n on, ``_row_median_near`` selects the median inside a bracket around the previous
#: step's value (below it, one partition per row costs about as much).
BRACKET_MIN_N = 200


def _row_median_near(a: np.ndarray, guess: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """``_row_median(a)``, bit for bit, for rows whose median lies within guess·(1 ± rel).

    Why: the IRLS re-estimates its MAD scale every step and a partition of each row is then
    its largest cost at n ≈ 1000; the scale moves little between steps, so counting the
    entries below the bracket and sorting the few inside it finds the same order statistics
    in a few passes. Rows whose median left the bracket are partitioned as before.
    """
    m, n = a.shape
    h = n // 2
    k_lo, k_hi = (h, h) if n % 2 else (h - 1, h)  # the order statistics the median needs
    lo = (guess * (1.0 - rel))[:, None]
    hi = (guess * (1.0 + rel))[:, None]
    below = np.count_nonzero(a < lo, axis=1)
    inside = a <= hi
    inside &= a >= lo
    count = np.count_nonzero(inside, axis=1)
    ok = (below <= k_lo) & (below + count > k_hi) & (count <= 256)
    out = np.empty(m)
    if ok.any():
        rows, cols = np.nonzero(inside[ok])
        width = int(count[ok].max())
        start = np.cumsum(count[ok]) - count[ok]
        buf = np.full((int(ok.sum()), width), np.inf)
        buf[rows, np.arange(rows.size) - start[rows]] = a[np.flatnonzero(ok)[rows], cols]
        buf.sort(axis=1)
        sel = np.arange(buf.shape[0])
        first = buf[sel, k_lo - below[ok]]
        out[ok] = first if k_lo == k_hi else (first + buf[sel, k_hi - below[ok]]) / 2
    if not ok.all():
        out[~ok] = _row_median(a[~ok])
    return out


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
    rel = np.full(m, 0.1)  # bracket of the next scale, relative to the last one
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
        if n >= BRACKET_MIN_N:
            prev = scale
            scale = _row_median_near(ar / MAD_C, prev, rel)
            with np.errstate(all="ignore"):
                rel = np.clip(3.0 * np.abs(scale - prev) / prev, 0.01, 0.1)
            rel[~np.isfinite(rel)] = 0.1
        else:
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
                wscale, scale, dev, rel = wscale[keep], scale[keep], dev[keep], rel[keep]
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
