"""Median regression (LAD): batched vertex descent from OLS, certified, with a Frisch–Newton
interior point behind it, and ``estimators.quantreg_kernel_cov`` SEs.

Why a certificate: every replicate must get the exact L1 optimum. A vertex (the fit through p
observations) is kept only when a dual certificate proves it optimal (``_polish``); the
descent reaches such a vertex in a few exact pivots, the interior point takes the rare
replicates the descent leaves (degenerate or singular bases, too many pivots), and whatever
neither certifies goes to the reference's LP.
"""

from __future__ import annotations

import numpy as np

from lossstudy import estimators
from lossstudy.quantiles import hall_sheather, norm_ppf, t_ppf

from ._linalg import (
    AnyDesign,
    _batched_inv,
    _Chol,
    _compact_now,
    _Design,
    _diag_sandwich,
    _packed,
    _unpack,
)
from ._results import EngineInfo, _Fits

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
#: Vertex descent (``_descend``): pivots before a replicate is handed to the interior point
#: (from the OLS vertex, p = 5: about 7 at n = 100 and 12 at n = 1000, rarely over 40).
DESCENT_MAXPIV = 60
#: Breakpoints examined by one line search; a search that needs more stops at the last one
#: examined, which is still a vertex with a lower objective (a shorter step, not a wrong one).
DESCENT_CROSS = 8


def _smallest(a: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k smallest entries of each row of a (m×n, a is overwritten).

    Why not ``np.argpartition``: for k ≈ p it costs 10–50 passes over a row; k passes of
    argmin cost k. Exact ties may resolve to other indices; the certificate decides either way.
    """
    rows = np.arange(a.shape[0])
    out = np.empty((a.shape[0], k), dtype=np.intp)
    for i in range(k):
        out[:, i] = np.argmin(a, axis=1)
        a[rows, out[:, i]] = np.inf
    return out


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
    D: AnyDesign,
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
    b_rhs = (1 - tau) * D.colsums()
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


def _descend(
    D: AnyDesign, y: np.ndarray, beta0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median regression by vertex descent (the simplex steps of Barrodale–Roberts), batched.

    Why: from the vertex through the p smallest OLS |residuals| a handful of exact pivots
    reaches the L1 optimum, each costing a few passes over the data, where the interior point
    needs 5–8 Newton steps of dozens of passes each before its vertex can be certified.

    At a vertex (basis h, X_h β = y_h, B = X_h⁻¹) the multipliers s = −B'Σ_{i∉h} sign(r_i) x_i
    certify optimality when |s| ≤ 1. Otherwise the basic observation j with the largest |s_j|
    leaves: along δ = −sign(s_j)·B e_j the objective falls at rate |s_j| − 1 until enough
    residuals r_i − t·x_i'δ have crossed 0 (each crossing adds 2|x_i'δ| to the slope); the
    last one crossed enters the basis (B by a Sherman–Morrison update). Stops a row when it
    is optimal to CERT_TOL, its basis is singular or after DESCENT_MAXPIV pivots. Returns
    (β, pivots, optimal); ``_polish`` re-certifies β with fresh arithmetic.
    """
    m, n = y.shape
    p = D.p
    h = _smallest(np.abs(y - D.xb(beta0)), p)
    B, ok = _batched_inv(D.take_rows(h))
    beta = (B @ np.take_along_axis(y, h, axis=1)[:, :, None])[:, :, 0]
    r = y - D.xb(beta)
    out_b = np.full((m, p), np.nan)
    out_piv = np.zeros(m, dtype=np.int64)
    out_opt = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    Dw = D
    piv = 0
    while True:
        np.put_along_axis(r, h, 0.0, axis=1)
        s = Dw.xtv(np.sign(r))
        s = -(s[:, None, :] @ B)[:, 0, :]
        a = np.abs(s)
        j = np.argmax(a, axis=1)
        smax = np.take_along_axis(a, j[:, None], axis=1)[:, 0]
        opt = ok & (smax <= 1.0 + CERT_TOL)
        stop = opt | ~ok | ~np.isfinite(smax) | (piv >= DESCENT_MAXPIV)
        if stop.any():
            out_b[idx[stop]] = beta[stop]
            out_piv[idx[stop]] = piv
            out_opt[idx[stop]] = opt[stop]
            keep = ~stop
            if not keep.any():
                break
            idx, Dw, h, B, beta = idx[keep], Dw.take(keep), h[keep], B[keep], beta[keep]
            r, s, j, smax, ok = r[keep], s[keep], j[keep], smax[keep], ok[keep]
        rows = np.arange(idx.size)
        piv += 1
        # direction: the leaving basic residual moves off 0, the other basic ones stay at 0
        col = B[rows, :, j]  # B e_j
        d = -np.sign(s[rows, j])[:, None] * col
        u = Dw.xb(d)  # x_i'δ
        # breakpoints t_i = r_i/u_i > 0, as rates q_i = u_i/r_i > 0: the nearest is the largest
        q = np.divide(u, r)
        np.put_along_axis(q, h, -np.inf, axis=1)
        e = np.argmax(q, axis=1)
        qe = q[rows, e]
        slope = (1.0 - smax) + 2.0 * np.abs(u[rows, e])
        # further breakpoints for the rows whose slope is still negative (fewer each round)
        sub = np.flatnonzero((slope < 0.0) & (qe > 0.0))
        for _ in range(DESCENT_CROSS - 1):
            if sub.size == 0:
                break
            q[sub, e[sub]] = -np.inf
            if 2 * sub.size >= rows.size:  # most rows: scan them all, no copy
                e2 = np.argmax(q, axis=1)[sub]
            else:
                e2 = np.argmax(q[sub], axis=1)
            q2 = q[sub, e2]
            more = q2 > 0.0
            sub, e2 = sub[more], e2[more]
            e[sub], qe[sub] = e2, q2[more]
            slope[sub] += 2.0 * np.abs(u[sub, e2])
            sub = sub[slope[sub] < 0.0]
        ok &= qe > 0.0  # no breakpoint ahead: degenerate; the interior point decides
        te = r[rows, e] / u[rows, e]
        beta += te[:, None] * d
        r -= te[:, None] * u
        # Sherman–Morrison: row j of X_h becomes x_e'; with w = x_e'B (w_j = ±u_e ≠ 0),
        # B ← B − (B e_j)(w − e_j')/w_j
        w = (Dw.take_rows(e[:, None]) @ B)[:, 0, :]
        wj = w[rows, j]
        w[rows, j] -= 1.0
        B = B - (col / wj[:, None])[:, :, None] * w[:, None, :]
        h[rows, j] = e
    return out_b, out_piv, out_opt


def _polish(
    D: AnyDesign, y: np.ndarray, beta: np.ndarray
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
    h = _smallest(np.abs(r0), p)
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


#: Up to this n, ``_quartiles`` sorts each row (numpy's SIMD sort: at n = 100 ten times, at
#: n = 1000 about 1.4 times faster than ``np.percentile``'s partitions); above, it partitions.
QUARTILE_SORT_MAX_N = 2048


def _quartiles(e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.percentile(e, [75, 25], axis=1)`` (linear method), bit for bit, faster for
    moderate n (QUARTILE_SORT_MAX_N)."""
    n = e.shape[1]
    if n > QUARTILE_SORT_MAX_N:
        q75, q25 = np.percentile(e, [75, 25], axis=1)
        return q75, q25
    srt = np.sort(e, axis=1)
    out = []
    for q in (0.75, 0.25):
        virtual = n * q + (1.0 - q) - 1.0  # numpy's virtual index for method "linear"
        lo = int(np.floor(virtual))
        hi = min(lo + 1, n - 1)
        t = virtual - lo
        a, b = srt[:, lo], srt[:, hi]
        diff = b - a  # numpy's _lerp: from the nearer end
        out.append(b - diff * (1.0 - t) if t >= 0.5 else a + diff * t)
    return out[0], out[1]


def _lad_se(
    D: AnyDesign, y: np.ndarray, beta: np.ndarray, chol0: _Chol
) -> tuple[np.ndarray, np.ndarray]:
    """``estimators.quantreg_kernel_cov`` (q = 0.5) for every replicate: SEs and a flag for
    replicates whose bandwidth is rounding noise (tie of many zero residuals), which the caller
    evaluates with the reference transcription itself, one replicate at a time."""
    m, n = y.shape
    p = D.p
    q = 0.5
    e = y - D.xb(beta)
    q75, q25 = _quartiles(e)
    iqre = q75 - q25
    h0 = hall_sheather(n, q)
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


def _lad_ipm(
    D: AnyDesign, y: np.ndarray, chol0: _Chol, info: EngineInfo
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interior point, then the vertex polish, then a tighter second run for what is left:
    (β, certified, tie) for the replicates the vertex descent did not certify."""
    n = y.shape[1]
    p = D.p
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
    return bv, cert, tie


def _lad(
    D: AnyDesign,
    y: np.ndarray,
    level: float,
    chol0: _Chol,
    info: EngineInfo,
) -> _Fits:
    """Exact median regression: vertex descent from OLS, certified by ``_polish``; the
    interior point for the rows it leaves, the reference's LP for the rest."""
    m, n = y.shape
    p = D.p
    f = _Fits.empty(m, p)
    ols = chol0.solve(D.xtv(y))
    bd, pivots, _ = _descend(D, y, ols)
    info.lad_pivots += int(pivots.sum())
    bv, cert, tie = _polish(D, y, bd)
    if not cert.all():
        rest = np.flatnonzero(~cert)
        info.lad_interior_point += rest.size
        Dr = D.take(rest)
        bv2, cert2, tie2 = _lad_ipm(Dr, y[rest], _Chol(_packed(Dr.gram_full()), p), info)
        bv[rest[cert2]] = bv2[cert2]
        cert[rest], tie[rest] = cert2, tie2
    info.lad_lp_fallback += int((~cert).sum())
    info.lad_nonunique += int(tie.sum())
    f.refer |= ~cert
    se, noisy = _lad_se(D, y, bv, chol0)
    for i in np.flatnonzero(noisy & cert):
        cov = estimators.quantreg_kernel_cov(D.design(i), y[i], bv[i])
        se[i] = np.sqrt(np.diag(cov))
    crit = t_ppf(0.5 + level / 2, n - p)
    f.est, f.se = bv, se
    f.lo = bv - crit * se
    f.hi = bv + crit * se
    return f
