"""What a batch of fits returns (``_Fits``: rows are replicates) and what the engine counts
(``EngineInfo``); shared by the estimator modules and the driver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossstudy.estimators import FAILED, OK

_NONFINITE_SE = "non-finite standard error: estimate kept, SE and interval set to NaN"


@dataclass
class EngineInfo:
    """Counts of what the engine did, for benchmarks and tests (why a fit was slow or exact)."""

    fits: int = 0
    reference_fallback: int = 0  # replicates handed whole to estimators.fit_one
    lad_pivots: int = 0  # LAD vertex-descent pivots, summed over replicates
    lad_interior_point: int = 0  # LAD replicates the descent left to the interior point
    lad_lp_fallback: int = 0  # LAD replicates whose polished vertex could not be certified
    lad_second_pass: int = 0  # LAD replicates that needed a second, tighter interior point run
    lad_nonunique: int = 0  # certified LAD optima with a tie in the certificate (|s_h| = 1)
    ipm_iterations: int = 0  # Frisch–Newton iterations, summed over replicates
    irls_iterations: int = 0  # RLM iterations (as RLM counts them), summed over replicates
    huber_replayed: int = 0  # IRLS fits that stopped at maxiter and were re-run as a check


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


def _scatter(dst: _Fits, src: _Fits, rows: np.ndarray) -> None:
    """Copy the results of a sub-batch into its rows of dst."""
    for name in ("est", "se", "lo", "hi", "status", "message", "refer"):
        getattr(dst, name)[rows] = getattr(src, name)
