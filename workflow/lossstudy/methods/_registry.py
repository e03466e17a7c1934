"""The estimator registry: losses, penalties, solvers and the fits of their combinations.

Why: an estimator is a loss × a penalty × a solver, with an interval method (``se``). Each
axis is a registry key, and each fit declares the facts the rest of the study asks about it
(linear in y? robust? which ``se`` types?), so no module outside ``lossstudy.methods`` needs a
list of method names. This module holds the types and the tables only; the loss modules of
this package fill them when they are imported (:func:`lossstudy.methods.load`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Keys of a spec that name the estimator rather than parametrise its fit.
AXES = ("method", "loss", "penalty", "solver")


@dataclass(frozen=True)
class Param:
    """One parameter: its default (None: required) and the JSON schema of one value."""

    default: Any
    schema: Mapping[str, Any]
    text: str = ""


@dataclass(frozen=True)
class Axis:
    """A loss, penalty or solver: its name, parameters and a one-line description."""

    name: str
    params: Mapping[str, Param] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Fit:
    """One (loss, penalty, solver) combination: how to fit it and what it is.

    ``reference(X, y, level, **params)`` fits one replicate (the study trusts it);
    ``batched(data, spec, level, *, info, progress)`` fits a chunk (None: the reference, one
    replicate at a time). ``params`` are the keyword arguments both take (the ``se`` choice
    among them when ``se`` has more than one entry), with their defaults; ``se`` lists the
    interval methods, the first the default. ``texts(params)`` gives the loss, penalty and
    intervals in words.
    """

    loss: str
    penalty: str
    solver: str
    reference: Callable[..., Any]
    se: tuple[str, ...]
    params: Mapping[str, Param] = field(default_factory=dict)
    batched: Callable[..., Any] | None = None
    #: the estimate is a linear map of y (it inherits the errors' missing moments)
    linear_in_y: bool = False
    #: a bounded-influence loss (LAD, Huber, ...): the claims' "robust" role
    robust: bool = False
    #: slopes exactly unbiased when errors are symmetric about 0 given X and the mean is linear
    symmetric_unbiased: bool = False
    #: intervals are computed (False: the ``se`` column is NaN-free, intervals are NaN)
    intervals: bool = True
    #: whether X must have full column rank for these parameters
    needs_full_rank: Callable[[Mapping[str, Any]], bool] = lambda params: True
    texts: Callable[[Mapping[str, Any]], tuple[str, str, str]] | None = None
    #: the name of the parameter that sets the penalty's strength (None: unpenalised)
    strength: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.loss, self.penalty, self.solver)

    def penalised(self, params: Mapping[str, Any]) -> bool:
        """Penalised with a non-zero (or unknown) strength."""
        if self.strength is None:
            return False
        value = params.get(self.strength, self.params[self.strength].default)
        return not (isinstance(value, int | float) and math.isfinite(value) and value == 0)


@dataclass(frozen=True)
class Shorthand:
    """A ``method:`` word: a combination and the names its parameters have in the config."""

    name: str
    key: tuple[str, str, str]


LOSSES: dict[str, Axis] = {}
PENALTIES: dict[str, Axis] = {}
SOLVERS: dict[str, Axis] = {}
FITS: dict[tuple[str, str, str], Fit] = {}
SHORTHANDS: dict[str, Shorthand] = {}


def _add(table: dict[Any, Any], key: Any, value: Any, what: str) -> None:
    if key in table and table[key] != value:
        raise ValueError(f"{what} {key!r} is registered twice")
    table[key] = value


def register_loss(axis: Axis) -> Axis:
    _add(LOSSES, axis.name, axis, "loss")
    return axis


def register_penalty(axis: Axis) -> Axis:
    _add(PENALTIES, axis.name, axis, "penalty")
    return axis


def register_solver(axis: Axis) -> Axis:
    _add(SOLVERS, axis.name, axis, "solver")
    return axis


def register_fit(fit: Fit, shorthand: str | None = None) -> Fit:
    """Register a combination (its loss, penalty and solver must be registered first)."""
    for table, name, what in (
        (LOSSES, fit.loss, "loss"),
        (PENALTIES, fit.penalty, "penalty"),
        (SOLVERS, fit.solver, "solver"),
    ):
        if name not in table:
            raise ValueError(f"fit {fit.key}: unknown {what} {name!r}; register it first")
    _add(FITS, fit.key, fit, "fit")
    if shorthand is not None:
        _add(SHORTHANDS, shorthand, Shorthand(shorthand, fit.key), "method")
    return fit


# The penalties and the solver of today; ``l1`` and the gradient solvers register the same way.
register_penalty(Axis("none", text="none"))
register_penalty(
    Axis(
        "l2",
        {"lambda": Param(1.0, {"type": "number", "minimum": 0}, "λ, on the scale of the RSS")},
        "λ Σ βⱼ² on the slopes (intercept unpenalised)",
    )
)
register_solver(Axis("exact", text="closed form, LP or Newton/IRLS to convergence"))
