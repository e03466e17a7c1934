"""``model: mlp``: a small network trained by gradient solvers, as estimators of the registry.

Why here: importing this module registers the model ``mlp``, its solvers (``mlp_gd``,
``mlp_sgd``, ``mlp_adam``: what a spec's ``model: mlp`` with ``solver: gd | sgd | adam``
resolves to) and one fit per training loss, like :mod:`lossstudy.losses.trained` does for the
linear model. The stored spec names the ``mlp_*`` solver, so code that reads ``solver`` (the
linear training theory, the training tables) never takes a network for a linear trained fit.
It imports neither JAX nor the engine; the fit is :func:`lossstudy.training.fit.fit_trained`
(a network group goes to :func:`lossstudy.training.functions.fit_network`).

A network has no coefficients: a fit job stores one row per replicate on the term ``model``
(estimate and true value NaN) carrying ``ise``, ``test_mse`` and ``test_mae``
(:mod:`lossstudy.training.functions`). ``lr`` is absolute (``lr_relative`` is defined by the
linear model's curvature); the start is PyTorch's default draw (:mod:`lossstudy.training.mlp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lossstudy import methods
from lossstudy.losses import trained
from lossstudy.methods import (
    LOSSES,
    Axis,
    Fit,
    Param,
    SpecError,
    model_solver,
    register_fit,
    register_model,
    register_solver,
)
from lossstudy.methods import show as _show

MODEL = register_model("mlp", "a multilayer perceptron, one or two hidden layers")
ACTIVATIONS = ("tanh", "relu")

_NET = {
    "hidden": Param(
        [32],
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {"type": "integer", "minimum": 1},
        },
        "widths of the one or two hidden layers",
    ),
    "activation": Param("tanh", {"type": "string", "enum": list(ACTIVATIONS)}, "tanh or relu"),
}
_LR = {"lr": Param(None, trained.POSITIVE, "absolute step size η")}
_SCHEDULE = {"schedule": trained._COMMON["schedule"]}
_BUDGET = {
    "steps": trained._steps(False),
    "epochs": trained._EPOCHS,
    "batch_size": Param(None, trained.COUNT, "rows per minibatch (none: full batch)", True),
}

SOLVERS = {
    "gd": register_solver(
        Axis(
            model_solver(MODEL, "gd"),
            {**_LR, "steps": trained._steps(True), **_SCHEDULE, **_NET},
            "a network by full-batch gradient descent",
        )
    ),
    "sgd": register_solver(
        Axis(
            model_solver(MODEL, "sgd"),
            {
                **_LR,
                "steps": trained._steps(False),
                "epochs": trained._EPOCHS,
                "batch_size": Param(None, trained.COUNT, "rows per minibatch"),
                **_SCHEDULE,
                **_NET,
            },
            "a network by minibatch SGD",
        )
    ),
    "adam": register_solver(
        Axis(
            model_solver(MODEL, "adam"),
            {
                **_LR,
                **_BUDGET,
                **_SCHEDULE,
                "betas": trained.ADAM.params["betas"],
                "eps": trained.ADAM.params["eps"],
                **_NET,
            },
            "a network by Adam",
        )
    ),
}


def check(params: Mapping[str, Any]) -> None:
    """The network's checks beyond each value's schema: raises :class:`SpecError` naming the
    field (the config runs the schemas first; a direct :func:`lossstudy.methods.resolve` gets
    the same fields checked here)."""
    trained.check("adam", params)
    hidden = params.get("hidden")
    if (
        not isinstance(hidden, list | tuple)
        or not 1 <= len(hidden) <= 2
        or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)
    ):
        raise SpecError("hidden", f"got {hidden!r}; give one or two widths, integers >= 1.")
    if params.get("activation") not in ACTIVATIONS:
        raise SpecError(
            "activation",
            f"unknown activation {params.get('activation')!r}; allowed values: "
            f"{', '.join(ACTIVATIONS)}.",
        )


def tracks_sharpness(spec: Mapping[str, Any]) -> bool:
    """Whether a stored spec's fit records its sharpness at each checkpoint: a network by
    full-batch GD on the squared loss, the setting of Cohen et al.'s edge of stability (where
    2/η is the classical step-size limit the sharpness rises to)."""
    fit = methods.fit_for(spec)
    return fit.model == MODEL and fit.solver == SOLVERS["gd"].name and fit.loss == "squared"


def _texts(loss: str, solver: str):
    def texts(params: Mapping[str, Any]) -> tuple[str, str, str]:
        words = trained.LOSS_TEXT[loss].format(**{k: _show(v) for k, v in params.items()})
        net = f"MLP {_show(params.get('hidden'))} {params.get('activation')}"
        return f"{words}, {net} trained by {solver}", "none", "none: a network has no intervals"

    return texts


for _name, _solver in SOLVERS.items():
    for _loss, _own in trained.LOSS_PARAMS.items():
        assert _loss in LOSSES, f"loss {_loss!r} is registered before the network's solvers"
        register_fit(
            Fit(
                _loss,
                "none",
                _solver.name,
                trained._reference,
                se=("none",),
                params={**_own, **_solver.params},
                loss_params=_own,
                robust=trained.ROBUST[_loss],
                intervals=False,
                needs_full_rank=lambda params: False,
                texts=_texts(_loss, _name),
                trained=True,
                validate=check,
                model=MODEL,
            )
        )
