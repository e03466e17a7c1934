"""The L1 penalty trained by gradient methods: the squared loss with ``penalty: l1`` and
``solver: gd`` (the subgradient method), ``ista`` or ``fista`` (proximal gradient).

Why these three: "L2 is differentiable everywhere, unlike L1" is, on the penalty side, a claim
about what gradient steps can do with |β|. The subgradient method steps along α sign(β_j) and
never lands on 0 (its iterates oscillate around it); the proximal step soft-thresholds after
each gradient step of the smooth loss and sets coefficients exactly to 0, reaching the exact
lasso. λ is the study's lasso's (RSS scale, intercept free); the engine's α = λ/(2n)
(:mod:`lossstudy.training.l1`). The fits are trained (``lossstudy.training.fit``), without
intervals; ``selects`` makes the selection measures (share of exact zeros, TPR, FPR) apply,
so a subgradient member shows its share of exact zeros as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lossstudy.losses import l1_penalty, trained  # noqa: F401  (the penalty and gd first)
from lossstudy.methods import SOLVERS, Axis, Fit, Param, register_fit, register_solver
from lossstudy.methods import show as _show

_PROXIMAL = {
    k: v for k, v in trained.GD.params.items() if k in ("lr", "lr_relative", "steps", "init")
}
_PROXIMAL["schedule"] = trained.GD.params["schedule"]
_PROXIMAL["average"] = trained.GD.params["average"]

ISTA = register_solver(
    Axis(
        "ista",
        dict(_PROXIMAL),
        "proximal gradient (ISTA): a full-batch step on the smooth loss, then soft-thresholding",
    )
)
FISTA = register_solver(
    Axis("fista", dict(_PROXIMAL), "ISTA with Nesterov's momentum (FISTA, Beck & Teboulle 2009)")
)
_LAMBDA = Param(1.0, {"type": "number", "minimum": 0}, "λ, on the scale of the RSS")
_HOW = {
    "gd": "the subgradient method",
    "ista": "proximal gradient (ISTA)",
    "fista": "accelerated proximal gradient (FISTA)",
}


def _texts(solver: str):
    def texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
        lam = _show(params.get("lambda"))
        return (
            f"½ r² mean (optax l2_loss), trained by {_HOW[solver]}",
            f"λ = {lam}: λ Σ |βⱼ| on the slopes (RSS scale; α = λ/(2n) on the mean loss)",
            "none: a trained fit has no intervals",
        )

    return texts


for _name in ("gd", "ista", "fista"):
    _solver = SOLVERS[_name]
    register_fit(
        Fit(
            "squared",
            "l1",
            _name,
            trained._reference,
            se=("none",),
            params={"lambda": _LAMBDA, **_solver.params},
            loss_params={},
            intervals=False,
            selects=True,
            needs_full_rank=lambda params: False,
            texts=_texts(_name),
            strength="lambda",
            trained=True,
            validate=lambda params, s=_name: trained.check(s, params),
        )
    )
