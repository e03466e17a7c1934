"""The pseudo-Huber loss ρ(r) = δ²(√(1 + (r/δ)²) − 1): quadratic near 0, linear far out.

δ is fixed, in the units of the residuals, as ML libraries define the δ of their Huber-type
losses (PyTorch ``HuberLoss(delta)``, Keras ``Huber(delta)``); no scale is estimated.
ψ(r) = r/√(1 + (r/δ)²) is bounded by δ, so the fit is robust. Exact solver: damped Newton
(``methods.smooth``).
"""

from __future__ import annotations

import numpy as np

from lossstudy.losses.smooth import Smooth, register_smooth
from lossstudy.methods import Param, show


def _rho(r: np.ndarray, delta: float) -> np.ndarray:
    return delta**2 * (np.sqrt(1.0 + (r / delta) ** 2) - 1.0)


def _psi(r: np.ndarray, delta: float) -> np.ndarray:
    return r / np.sqrt(1.0 + (r / delta) ** 2)


def _dpsi(r: np.ndarray, delta: float) -> np.ndarray:
    return (1.0 + (r / delta) ** 2) ** -1.5


#: ρ, ψ and ψ' (the exact solver's and the trained fits' objective: lossstudy.training.exact)
LOSS = Smooth(_rho, _psi, _dpsi)

FIT = register_smooth(
    "pseudo_huber",
    LOSS,
    {"delta": Param(1.0, {"type": "number", "exclusiveMinimum": 0}, "δ, in residual units")},
    "pseudo-Huber: Σ δ²(√(1 + (rᵢ/δ)²) − 1)",
    lambda p: f"pseudo-Huber: Σ δ²(√(1 + (rᵢ/δ)²) − 1), δ = {show(p['delta'])}",
    robust=True,
)
