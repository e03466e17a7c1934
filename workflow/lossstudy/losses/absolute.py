"""The absolute loss: LAD (median regression), the exact L1 optimum.

Reference fit :func:`lossstudy.estimators.fit_lad` (HiGHS on the dual LP, QuantReg's kernel
SE); batched in :mod:`lossstudy.vectorized.lad`.
"""

from __future__ import annotations

from lossstudy import estimators, vectorized
from lossstudy.methods import Axis, Fit, register_fit, register_loss

ABSOLUTE = register_loss(Axis("absolute", text="L1: Σ |rᵢ|"))

register_fit(
    Fit(
        "absolute",
        "none",
        "exact",
        estimators.fit_lad,
        se=("kernel",),
        batched=vectorized.fit_builtin,
        robust=True,
        symmetric_unbiased=True,
        texts=lambda params: (ABSOLUTE.text, "none", "t, n − p df; kernel (Hall–Sheather) SE"),
    ),
    shorthand="lad",
)
