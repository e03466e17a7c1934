"""Gradient solvers (``gd``, ``sgd``, ``adam``) of every loss with no penalty: the trained fits.

Why here: importing this module registers the solvers and their fits in :mod:`lossstudy.methods`
like any loss module, so a trained member is an estimator of the study (config, estimators.csv,
fit jobs). It imports neither JAX nor the engine: a study's config loads, and the fit jobs of
exact cells start, without them. The fit itself is :func:`lossstudy.training.fit.fit_trained`,
which ``lossstudy.pipeline.fit_chunk`` calls for a chunk's trained members (one trajectory per
group of members that differ only in ``steps``).

The losses are those of ML libraries (``lossstudy.training.losses``, docs/training.md): ``huber``
here takes a fixed ``delta`` in residual units (``torch.nn.HuberLoss``), not the exact Huber's
MAD-scaled ``k``; ``pseudo_huber`` a ``delta``, ``log_cosh`` a ``scale``. Facts: a trained fit is
recorded as not linear in y (GD and SGD on the squared loss are, but divergence is not, and
Adam is not: one rule for all), robust as its loss, without intervals (``se: none`` only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lossstudy.losses import log_cosh, pseudo_huber  # noqa: F401  (their losses first)
from lossstudy.methods import LOSSES, Axis, Fit, Param, SpecError, register_fit, register_solver
from lossstudy.methods import show as _show

POSITIVE = {"type": "number", "exclusiveMinimum": 0}
COUNT = {"type": "integer", "minimum": 1}

_LR = {
    "lr": Param(None, POSITIVE, "absolute step size η", optional=True),
    "lr_relative": Param(
        None, POSITIVE, "c: η = c·2/λ_max(X'X/n), c = 1 the GD stability limit", optional=True
    ),
}
_COMMON = {
    "schedule": Param(
        "constant", {"type": "string", "enum": ["constant", "inv_sqrt"]}, "η or η/√(t + 1)"
    ),
    "average": Param(False, {"type": "boolean"}, "report the running mean of the iterates"),
    "init": Param("zeros", {"type": "string", "enum": ["zeros", "ols"]}, "β₀"),
}


def _steps(required: bool) -> Param:
    text = "the step budget: one checkpoint (a list in the config: one member per checkpoint)"
    return Param(None, COUNT, text, optional=not required)


_EPOCHS = Param(None, COUNT, "budget in epochs of n // batch_size minibatches", optional=True)

GD = register_solver(
    Axis(
        "gd",
        {**_LR, "steps": _steps(True), **_COMMON},
        "full-batch gradient descent (optax.sgd)",
    )
)
SGD = register_solver(
    Axis(
        "sgd",
        {
            **_LR,
            "steps": _steps(False),
            "epochs": _EPOCHS,
            "batch_size": Param(None, COUNT, "rows per minibatch"),
            **_COMMON,
        },
        "minibatch SGD, a fresh permutation per epoch (optax.sgd)",
    )
)
ADAM = register_solver(
    Axis(
        "adam",
        {
            **_LR,
            "steps": _steps(False),
            "epochs": _EPOCHS,
            "batch_size": Param(None, COUNT, "rows per minibatch (none: full batch)", True),
            **_COMMON,
            "betas": Param(
                [0.9, 0.999],
                {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                },
                "β₁, β₂",
            ),
            "eps": Param(1e-8, {"type": "number", "minimum": 0}, "ε outside the root"),
        },
        "Adam (optax.adam)",
    )
)

#: The training losses and their parameter, with the ML libraries' names and defaults.
LOSS_PARAMS: dict[str, dict[str, Param]] = {
    "squared": {},
    "absolute": {},
    "huber": {"delta": Param(1.0, POSITIVE, "δ, in residual units (fixed, not MAD-scaled)")},
    "pseudo_huber": {"delta": Param(1.0, POSITIVE, "δ, in residual units")},
    "log_cosh": {"scale": Param(1.0, POSITIVE, "c, in residual units")},
}
#: The training loss in words (½r² as optax's l2_loss, so that c = 1 is the GD limit).
LOSS_TEXT = {
    "squared": "½ r² mean (optax l2_loss)",
    "absolute": "|r| mean (torch L1Loss)",
    "huber": "Huber, fixed δ = {delta} (torch HuberLoss)",
    "pseudo_huber": "pseudo-Huber, δ = {delta}",
    "log_cosh": "c² log cosh(r/c), c = {scale}",
}
ROBUST = {"squared": False, "absolute": True, "huber": True, "pseudo_huber": True, "log_cosh": True}


def check(solver: str, params: Mapping[str, Any]) -> None:
    """The checks of one trained spec that need more than one field: raises
    :class:`SpecError` naming it. (Each value's range is its parameter's schema.)"""
    if (params.get("lr") is None) == (params.get("lr_relative") is None):
        both = params.get("lr") is not None
        raise SpecError(
            "lr" if both else "lr_relative",
            "give exactly one of 'lr' (absolute) and 'lr_relative' (c·2/λ_max); "
            f"{'both are given' if both else 'neither is given'}.",
        )
    for key in ("lr", "lr_relative"):
        value = params.get(key)
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        ):
            raise SpecError(key, f"got {value!r}; must be a number > 0.")
    budget = [k for k in ("steps", "epochs") if params.get(k) is not None]
    if len(budget) != 1:
        raise SpecError(
            "steps", f"give exactly one of 'steps' and 'epochs'; got {' and '.join(budget)}."
        )
    for key in ("steps", "epochs", "batch_size"):
        value = params.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise SpecError(key, f"got {value!r}; must be a positive integer.")
    if params.get("epochs") is not None and params.get("batch_size") is None:
        raise SpecError("epochs", "epochs need a batch_size (or give steps).")


def _texts(loss: str, solver: str):
    def texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
        words = LOSS_TEXT[loss].format(**{k: _show(v) for k, v in params.items()})
        return f"{words}, trained by {solver}", "none", "none: a trained fit has no intervals"

    return texts


def _reference(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        "a trained fit runs through lossstudy.training.fit.fit_trained: it needs the replicate's "
        "own minibatch stream (lossstudy.seeding.training_rng), so it has no one-replicate fit"
    )


for _solver in (GD, SGD, ADAM):
    for _loss, _own in LOSS_PARAMS.items():
        assert _loss in LOSSES, f"loss {_loss!r} is registered before its gradient solvers"
        register_fit(
            Fit(
                _loss,
                "none",
                _solver.name,
                _reference,
                se=("none",),
                params={**_own, **_solver.params},
                loss_params=_own,
                robust=ROBUST[_loss],
                intervals=False,
                needs_full_rank=lambda params: False,
                texts=_texts(_loss, _solver.name),
                trained=True,
                validate=lambda params, s=_solver.name: check(s, params),
            )
        )
