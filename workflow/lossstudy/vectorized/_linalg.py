"""Batched small-matrix algebra: m replicates' n×p designs and p×p systems at once.

Why hand-written: for p ≈ 5 a loop over the p² entries with m-long vectors is as fast as
numpy's batched LAPACK, and a singular matrix must flag its own replicate instead of raising
for the whole batch. ``single_thread_blas`` (from ``lossstudy.blas``) pins BLAS to one thread
for the engine's many small products.
"""

from __future__ import annotations

import functools

import numpy as np

from lossstudy.blas import single_thread_blas as single_thread_blas  # re-exported


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
        # Column j of L for all rows i ≥ j at once: each entry still sees the same operations
        # in the same order (its k = 0, 1, … terms subtracted one by one), so the bits are those
        # of the entry-by-entry loop, with about half the numpy calls (which set the cost of
        # the IRLS's last steps, when few replicates are left).
        pos = _packed_index(p)
        g = np.ascontiguousarray(gp.T)  # P×m: one contiguous vector per entry
        m = gp.shape[0]
        self.p = p
        low = np.zeros((p, p, m))  # low[i, j]: entry (i, j) of L for every matrix
        inv_diag = np.empty((p, m))
        diag = np.empty((p, m))
        for j in range(p):
            t = g[pos[j:, j]]  # a copy: column j from the diagonal down
            for k in range(j):
                t -= low[j:, k] * low[j, k]
            diag[j] = t[0]
            inv_diag[j] = 1.0 / np.sqrt(t[0])
            low[j + 1 :, j] = t[1:] * inv_diag[j]
        self.low = low
        self.inv_diag = inv_diag
        self.ok = (diag > 0.0).all(axis=0) & np.isfinite(inv_diag).all(axis=0)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x with (L L') x = b for every matrix; b and x are m×p."""
        p, low, inv = self.p, self.low, self.inv_diag
        z = np.array(b.T, order="C")  # forward substitution in place, one column of L at a time
        for j in range(p):
            z[j] *= inv[j]
            z[j + 1 :] -= low[j + 1 :, j] * z[j]
        x = np.empty((p, z.shape[1]))
        for j in reversed(range(p)):
            t = z[j]
            for k in range(j + 1, p):
                t -= low[k, j] * x[k]
            np.multiply(t, inv[j], out=x[j])
        return np.ascontiguousarray(x.T)

    def inverse(self) -> np.ndarray:
        """m×p×p inverses (symmetric)."""
        m = self.inv_diag[0].shape[0]
        eye = np.eye(self.p)
        cols = [self.solve(np.broadcast_to(eye[j], (m, self.p))) for j in range(self.p)]
        return np.stack(cols, axis=2)


def _inv_diag(chol: _Chol) -> np.ndarray:
    """Diagonals of the inverses (m×p)."""
    return np.diagonal(chol.inverse(), axis1=1, axis2=2)


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


class _Design:
    """The designs of a batch: m stacked n×p matrices, one per replicate."""

    def __init__(self, X: np.ndarray, pairs: np.ndarray | None = None) -> None:
        self.X = X
        self.p = X.shape[-1]
        self._pairs = pairs

    @property
    def pairs(self) -> np.ndarray:
        """x_ij·x_ik for j ≤ k (m×n×P): turns every X'WX into one matrix product."""
        if self._pairs is None:
            iu0, iu1 = np.triu_indices(self.p)
            self._pairs = self.X[..., iu0] * self.X[..., iu1]
        return self._pairs

    def take(self, idx: np.ndarray) -> _Design:
        """The replicates idx (an index array or a boolean mask)."""
        return _Design(self.X[idx], None if self._pairs is None else self._pairs[idx])

    def design(self, i: int) -> np.ndarray:
        """Replicate i's n×p design."""
        return self.X[i]

    def colsums(self) -> np.ndarray:
        """X'1 for every replicate (m×p)."""
        return self.X.sum(axis=1)

    def xb(self, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """X b for every replicate: m×p → m×n (into ``out`` if given)."""
        xb = (self.X @ b[:, :, None])[:, :, 0]
        if out is None:
            return xb
        out[...] = xb
        return out

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


# --------------------------------------------------------------------------- shared (fixed) design

#: Rows of every matrix product with a shared design: each product has exactly this shape (the
#: last block zero-padded, every block copied to the same buffer), so BLAS runs the same
#: kernels on a replicate's row wherever it sits and however many replicates the job holds. A
#: multiple of the register-tile sizes of common gemm kernels (2, 3, 4, 6, 8, 16).
SHARED_BLOCK = 48


def _rows_times(Y: np.ndarray, A: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Y @ A (m×k @ k×q) in fixed-shape blocks of SHARED_BLOCK rows (see SHARED_BLOCK), into
    ``out`` (m×q, C-contiguous) if given."""
    m, k = Y.shape
    A = np.ascontiguousarray(A)
    Y = np.ascontiguousarray(Y)
    if out is None:
        out = np.empty((m, A.shape[1]))
    full = m - m % SHARED_BLOCK
    for s in range(0, full, SHARED_BLOCK):  # whole blocks in place (BLAS packs its operands)
        np.matmul(Y[s : s + SHARED_BLOCK], A, out=out[s : s + SHARED_BLOCK])
    if full < m:  # the last, partial block padded with zeros to the same shape
        buf = np.zeros((SHARED_BLOCK, k))
        buf[: m - full] = Y[full:]
        out[full:] = (buf @ A)[: m - full]
    return out


class _SharedX:
    """m replicates that share one n×p design: ``_Design``'s interface without m copies of X.

    Why: Huber's IRLS and LAD's solvers need X b, X'v and X'WX every step; with one X these
    are single matrix products over all replicates (``_rows_times``: fixed-shape blocks, so a
    replicate's bits do not depend on its batch) and ``take`` costs nothing.
    """

    def __init__(self, X: np.ndarray, m: int, pairs: np.ndarray | None = None) -> None:
        self.X = np.ascontiguousarray(X)
        self.m = m
        self.p = X.shape[1]
        self.Xt = np.ascontiguousarray(X.T)
        if pairs is None:
            iu0, iu1 = np.triu_indices(self.p)
            pairs = np.ascontiguousarray(self.X[:, iu0] * self.X[:, iu1])
        self.pairs = pairs  # n×P

    def take(self, idx: np.ndarray) -> _SharedX:
        """The replicates idx (an index array or a boolean mask): the same design."""
        idx = np.asarray(idx)
        m = int(np.count_nonzero(idx)) if idx.dtype == bool else int(idx.size)
        new = _SharedX.__new__(_SharedX)
        new.X, new.Xt, new.pairs, new.p, new.m = self.X, self.Xt, self.pairs, self.p, m
        return new

    def design(self, i: int) -> np.ndarray:
        return self.X

    def colsums(self) -> np.ndarray:
        return np.broadcast_to(self.X.sum(axis=0), (self.m, self.p))

    def xb(self, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _rows_times(b, self.Xt, out)

    def xtv(self, v: np.ndarray) -> np.ndarray:
        return _rows_times(v, self.X)

    def gram(self, w: np.ndarray) -> np.ndarray:
        return _rows_times(w, self.pairs)

    def gram_full(self) -> np.ndarray:
        return np.broadcast_to(self.X.T @ self.X, (self.m, self.p, self.p))

    def take_rows(self, idx: np.ndarray) -> np.ndarray:
        return self.X[idx]


#: Either kind of batch design (the estimator modules use only the methods both have).
AnyDesign = _Design | _SharedX


def _diag_sandwich(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """diag(A B A) for m×p×p symmetric A and m×p×p B → m×p."""
    return np.einsum("rjk,rkl,rlj->rj", a, b, a)


def _compact_now(live: np.ndarray) -> bool:
    """Drop finished rows from an iteration's working arrays now? Once at least half are
    finished: the copy also moves X and its pair products, so doing it every step costs more
    than iterating the dead rows."""
    return 2 * int(live.sum()) <= live.size
