"""Per-residual training losses as machine-learning libraries define them (mean-reduced).

Why these conventions: the study asks why L2 is the default loss of gradient training, so the
losses are the ones a practitioner calls, with their scale factors, because the scale sets the
step-size limit. ``squared`` is optax's ``l2_loss`` = ½r² (``torch.nn.MSELoss`` is r², which
halves the stable step); ``huber`` is optax's ``huber_loss`` = ``torch.nn.HuberLoss(delta)``
(not ``SmoothL1Loss``, which is Huber/δ); ``log_cosh`` is optax's ``log_cosh`` rescaled to
c² log cosh(r/c). Every ρ is even, so ρ(y − Xβ) = ρ(Xβ − y) and the libraries' argument order
does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

#: Loss names and whether each takes a scale parameter (``delta`` or ``scale``).
LOSSES: dict[str, str | None] = {
    "squared": None,
    "absolute": None,
    "huber": "delta",
    "pseudo_huber": "delta",
    "log_cosh": "scale",
    "cross_entropy": None,
    "brier": None,
}


def _squared(r: jnp.ndarray, _: jnp.ndarray) -> jnp.ndarray:
    return optax.l2_loss(r)


def _absolute(r: jnp.ndarray, _: jnp.ndarray) -> jnp.ndarray:
    return jnp.abs(r)  # d|r|/dr = sign(r), 0 at 0 (as torch.abs)


def _huber(r: jnp.ndarray, delta: jnp.ndarray) -> jnp.ndarray:
    return optax.huber_loss(r, delta=delta)


def _pseudo_huber(r: jnp.ndarray, delta: jnp.ndarray) -> jnp.ndarray:
    return delta**2 * (jnp.sqrt(1.0 + (r / delta) ** 2) - 1.0)


def _log_cosh(r: jnp.ndarray, scale: jnp.ndarray) -> jnp.ndarray:
    return scale**2 * optax.log_cosh(r / scale)  # logaddexp form: no overflow of cosh


_RHO: dict[str, Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray]] = {
    "squared": _squared,
    "absolute": _absolute,
    "huber": _huber,
    "pseudo_huber": _pseudo_huber,
    "log_cosh": _log_cosh,
}


def _cross_entropy(y: jnp.ndarray, eta: jnp.ndarray, _: jnp.ndarray) -> jnp.ndarray:
    return jnp.logaddexp(0.0, eta) - y * eta  # = optax.sigmoid_binary_cross_entropy(η, y)


def _brier(y: jnp.ndarray, eta: jnp.ndarray, _: jnp.ndarray) -> jnp.ndarray:
    d = y - jax.nn.sigmoid(eta)
    return d * d


#: Classification losses ℓ(y, η) of a 0/1 y and the linear predictor η (not of y − η):
#: lossstudy.losses.logistic defines them and says why.
_OF_ETA: dict[str, Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]] = {
    "cross_entropy": _cross_entropy,
    "brier": _brier,
}


def mean_loss(name: str) -> Callable[..., jnp.ndarray]:
    """f(β, X, y, param) = mean loss over the rows given: mean ρ(y − Xβ) for a regression
    loss (the very expression the engine always traced, so its programs are unchanged), mean
    ℓ(y, Xβ) for a classification loss."""
    if name in _OF_ETA:
        ell = _OF_ETA[name]
        return lambda beta, X, y, param: jnp.mean(ell(y, X @ beta, param))
    rho = _RHO[name]
    return lambda beta, X, y, param: jnp.mean(rho(y - X @ beta, param))


@dataclass(frozen=True)
class Loss:
    """A training loss: ``name`` selects ρ, ``param`` is its δ or scale c (1.0 when unused).

    The parameter is passed to the compiled program as data, so sweeping δ does not recompile.
    """

    name: str
    param: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in LOSSES:
            raise ValueError(f"loss: unknown {self.name!r}; choose one of {sorted(LOSSES)}")
        if not (self.param > 0 and math.isfinite(self.param)):
            raise ValueError(f"loss: {LOSSES[self.name] or 'param'} must be positive and finite")

    def rho(self, r: jnp.ndarray, param: jnp.ndarray | float | None = None) -> jnp.ndarray:
        # (a regression loss only; a classification loss is a function of (y, η): mean_loss)
        """Elementwise ρ(r); ``param`` overrides the stored δ/c (a traced value inside jit)."""
        return _RHO[self.name](r, self.param if param is None else param)


def make_loss(name: str, delta: float | None = None, scale: float | None = None) -> Loss:
    """Build a loss from its library-style name and keyword (``delta`` for the Hubers,
    ``scale`` for log-cosh; defaults 1.0 as in torch and optax)."""
    wants = LOSSES.get(name, "")
    given = {"delta": delta, "scale": scale}
    for key, value in given.items():
        if value is not None and key != wants:
            raise ValueError(f"loss {name!r}: takes no {key!r}")
    value = given.get(wants) if wants else None
    return Loss(name, 1.0 if value is None else float(value))


def objective(loss: Loss, X: jnp.ndarray, y: jnp.ndarray, beta: jnp.ndarray) -> jnp.ndarray:
    """f(β) = mean ρ(y − Xβ) (or mean ℓ(y, Xβ)) over the rows given (data or a minibatch)."""
    return mean_loss(loss.name)(beta, X, y, loss.param)
