"""The log-cosh loss ρ(r) = c²·log cosh(r/c): ≈ r²/2 near 0, ≈ c|r| − c² log 2 far out.

c (``scale``) is fixed, in the units of the residuals (``scale: 1`` is the plain log cosh r
of ML libraries, e.g. Keras' ``LogCosh``). ψ(r) = c·tanh(r/c) is bounded by c, so the fit is
robust. Exact solver: damped Newton (``methods.smooth``).
"""

from __future__ import annotations

import numpy as np

from lossstudy.losses.smooth import Smooth, register_smooth
from lossstudy.methods import Param, show


def _rho(r: np.ndarray, scale: float) -> np.ndarray:
    a = np.abs(r / scale)  # log cosh a = a + log1p(e^(−2a)) − log 2, without overflow
    return scale**2 * (a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0))


def _psi(r: np.ndarray, scale: float) -> np.ndarray:
    return scale * np.tanh(r / scale)


def _dpsi(r: np.ndarray, scale: float) -> np.ndarray:
    return 1.0 - np.tanh(r / scale) ** 2


#: ρ, ψ and ψ' (the exact solver's and the trained fits' objective: lossstudy.training.exact)
LOSS = Smooth(_rho, _psi, _dpsi)

FIT = register_smooth(
    "log_cosh",
    LOSS,
    {"scale": Param(1.0, {"type": "number", "exclusiveMinimum": 0}, "c, in residual units")},
    "log-cosh: Σ c² log cosh(rᵢ/c)",
    lambda p: f"log-cosh: Σ c² log cosh(rᵢ/c), c = {show(p['scale'])}",
    robust=True,
)
