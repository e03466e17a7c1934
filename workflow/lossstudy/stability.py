"""Where gradient training stops being stable: the divergence bound and full-batch GD's step limit.

Why a module of its own, outside :mod:`lossstudy.training`: the engine (JAX) and the theory
checks (numpy only) both need these two, and importing the training package for them cost the
theory job a JAX import (≈ 2 s) it has no other use for.
"""

from __future__ import annotations

import numpy as np

#: A trained fit whose parameters leave the ball ‖θ‖ ≤ DIVERGED_NORM has diverged: the engine
#: freezes it there and records the status ``diverged`` (:mod:`lossstudy.training.engine`).
DIVERGED_NORM = 1e6


def stability_limit(X: np.ndarray) -> float:
    """2/λ_max(X'X/n): the largest stable step of full-batch GD on the mean ½-squared loss."""
    n = X.shape[0]
    return 2.0 / float(np.linalg.eigvalsh(X.T @ X / n)[-1])
