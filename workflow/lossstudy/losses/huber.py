"""The Huber loss with a MAD scale re-estimated each step (statsmodels ``RLM(HuberT(k))``).

``k`` is in units of the scale s: ρ_k(r/s). Reference fit :func:`lossstudy.estimators.fit_huber`;
batched in :mod:`lossstudy.vectorized.huber` (a replay of statsmodels' IRLS).
"""

from __future__ import annotations

from lossstudy import estimators, vectorized
from lossstudy.methods import Axis, Fit, Param, register_fit, register_loss

HUBER = register_loss(
    Axis(
        "huber",
        {"k": Param(1.345, {"type": "number", "exclusiveMinimum": 0}, "threshold, in MAD units")},
        "Huber: Σ ρ_k(rᵢ/s), MAD scale s",
    )
)

register_fit(
    Fit(
        "huber",
        "none",
        "exact",
        estimators.fit_huber,
        se=("h1",),
        params=HUBER.params,
        batched=vectorized.fit_builtin,
        robust=True,
        symmetric_unbiased=True,
        texts=lambda params: (HUBER.text, "none", "normal (z); H1 covariance"),
    ),
    shorthand="huber",
)
