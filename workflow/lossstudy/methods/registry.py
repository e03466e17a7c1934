"""The estimator registry: losses, penalties, solvers and the fits of their combinations.

Why: an estimator is a loss × a penalty × a solver, with an interval method (``se``). Each
axis is a registry key, and each fit declares the facts the rest of the study asks about it
(linear in y? robust? which ``se`` types?), so no module outside ``lossstudy.methods`` needs a
list of method names. This module holds the types and the tables only; the loss modules of
:mod:`lossstudy.losses` fill them when :func:`load` imports them (a plugin discovery, as for
modules named in ``LOSSSTUDY_METHODS``), and it resolves specs against them (:func:`resolve`).
It imports nothing of the study, so that the fitting code the loss modules build on
(``lossstudy.estimators``, ``lossstudy.vectorized``) can dispatch through it from below.
"""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Keys of a spec that name the estimator rather than parametrise its fit.
AXES = ("method", "loss", "penalty", "solver", "model")


@dataclass(frozen=True)
class Param:
    """One parameter: its default (None: required, unless ``optional``) and the JSON schema of
    one value. An optional parameter may stay unset (None); the stored spec leaves it out (a
    gradient solver's ``lr`` when ``lr_relative`` sets the step)."""

    default: Any
    schema: Mapping[str, Any]
    text: str = ""
    optional: bool = False
    #: sets the interval only, never the estimate (ridge's known ``sigma`` of ``se: posterior``)
    interval: bool = False


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
    #: the batched fit holds one more copy of the chunk's designs (WLS whitens them)
    copies_design: bool = False
    #: the loss's parameters as this fit defines them, when they differ from the loss axis's
    #: (None: the axis's): a trained Huber takes a fixed δ in residual units, where the exact
    #: Huber takes the MAD-scaled k
    loss_params: Mapping[str, Param] | None = None
    #: fitted by gradient training (``lossstudy.training``), not by ``reference``/``batched``
    trained: bool = False
    #: sets coefficients exactly to 0 (the L1 penalty): the selection measures apply
    selects: bool = False
    #: checks that need more than one parameter, ``se`` among them (raises :class:`SpecError`
    #: naming the field)
    validate: Callable[[Mapping[str, Any]], None] | None = None
    #: a fit that chooses its penalty's strength from the data (``lossstudy.tuning``):
    #: ``choose(X, y, params)`` is the strength it picks for one replicate (recorded per
    #: replicate as ``chosen_strength``); None: the strength is given
    choose: Callable[[Any, Any, Mapping[str, Any]], float] | None = None
    #: the response families (``lossstudy.response``) the loss models: a regression loss a
    #: gaussian (continuous) y, a classification loss a bernoulli (0/1) y; a fit is fitted
    #: only in scenarios of its families
    responses: tuple[str, ...] = ("gaussian",)
    #: the model fitted: "linear" (coefficients β) or a registered model (:data:`MODELS`)
    #: whose solvers are named ``<model>_<solver>`` (a network has no coefficients)
    model: str = "linear"

    def axis_params(self) -> dict[str, Param]:
        """What a loss/penalty/solver spec of this combination may set: the loss's (or this
        fit's own :attr:`loss_params`), the penalty's and the solver's parameters."""
        loss = LOSSES[self.loss].params if self.loss_params is None else self.loss_params
        return {**loss, **PENALTIES[self.penalty].params, **SOLVERS[self.solver].params}

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.loss, self.penalty, self.solver)

    def penalised(self, params: Mapping[str, Any]) -> bool:
        """Penalised with a non-zero (or unknown) strength; a tuned fit (``choose``) always."""
        if self.choose is not None:
            return True
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
#: Models other than the linear one, name -> description. A spec's ``model: mlp`` with
#: ``solver: adam`` is the fit of solver ``mlp_adam``: the stored spec names that solver, so
#: code that reads ``solver`` never takes a network for a linear trained fit.
MODELS: dict[str, str] = {}


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


def register_model(name: str, text: str) -> str:
    """A model other than the linear one; its fits use solvers named ``<name>_<solver>``."""
    _add(MODELS, name, text, "model")
    return name


def model_solver(model: str, solver: str) -> str:
    """The registered solver of ``solver`` for ``model`` (the solver itself for linear)."""
    return solver if model == "linear" else f"{model}_{solver}"


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


# --------------------------------------------------------------------------- lookups


#: Environment variable: extra modules (comma-separated) that register losses, penalties or
#: solvers; each process of a study imports them, so they reach every job.
PLUGINS_ENV = "LOSSSTUDY_METHODS"

_loaded = False
#: The package whose modules register the study's own losses.
_PACKAGE = "lossstudy.losses"
#: The losses of the first studies load first, so that their shorthands and losses lead every
#: list of allowed values (``ols`` first); the rest follow in alphabetical order.
_FIRST = ("squared", "absolute", "huber")


def load() -> None:
    """Import the modules of ``lossstudy.methods`` and those named in ``LOSSSTUDY_METHODS``
    (once): importing a loss module registers its loss."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    package = importlib.import_module(_PACKAGE)
    found = [i.name for i in pkgutil.iter_modules(package.__path__) if i.name[0] != "_"]
    for name in [*(m for m in _FIRST if m in found), *sorted(m for m in found if m not in _FIRST)]:
        importlib.import_module(f"{_PACKAGE}.{name}")
    for name in filter(None, (s.strip() for s in os.environ.get(PLUGINS_ENV, "").split(","))):
        importlib.import_module(name)


def losses() -> dict[str, Axis]:
    load()
    return dict(LOSSES)


def penalties() -> dict[str, Axis]:
    load()
    return dict(PENALTIES)


def solvers() -> dict[str, Axis]:
    load()
    return dict(SOLVERS)


def fits() -> dict[tuple[str, str, str], Fit]:
    load()
    return dict(FITS)


def shorthands() -> dict[str, Shorthand]:
    load()
    return dict(SHORTHANDS)


def shorthand_parameters() -> dict[str, dict[str, Any]]:
    """``method`` -> its parameters and their defaults (the config's parameter lists)."""
    load()
    return {
        name: {k: p.default for k, p in FITS[sh.key].params.items()}
        for name, sh in SHORTHANDS.items()
    }


class SpecError(ValueError):
    """An estimator spec the registry cannot fit: ``field`` names the offending key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Resolved:
    """A spec resolved against the registry: its fit, keyword arguments and interval method."""

    fit: Fit
    #: the fit's keyword arguments, defaults filled in (the shorthand's names)
    params: dict[str, Any]
    se: str
    #: the ``method`` shorthand of the combination, if it has one
    method: str | None

    @property
    def label(self) -> str:
        """The estimator's method word: its shorthand, else the loss (and what is not default)."""
        if self.method is not None:
            return self.method
        extra = [a for a, d in ((self.fit.penalty, "none"), (self.fit.solver, "exact")) if a != d]
        return "-".join([self.fit.loss, *extra])

    @property
    def explicit(self) -> dict[str, Any]:
        """The parameters under their loss/penalty/solver names (ridge's ``penalty`` is
        ``lambda``), ``se`` and unset optional ones left out."""
        names = {canon: name for name, canon in _aliases(self.fit).items()}
        return {names.get(k, k): v for k, v in self.params.items() if k != "se" and v is not None}

    def penalised(self) -> bool:
        return self.fit.penalised(self.params)

    def needs_full_rank(self) -> bool:
        return self.fit.needs_full_rank(self.params)


def _aliases(fit: Fit) -> dict[str, str]:
    """Explicit-spec name -> the fit's keyword: the penalty's strength goes by the fit's name."""
    if fit.strength is None:
        return {}
    params = PENALTIES[fit.penalty].params  # the strength is ``lambda`` where there are more
    name = "lambda" if "lambda" in params else next(iter(params))
    return {name: fit.strength}


def fit_of(loss: str, penalty: str = "none", solver: str = "exact") -> Fit:
    load()
    return FITS[(loss, penalty, solver)]


def by_label(label: str) -> Fit | None:
    """The fit of a method word (:attr:`Resolved.label`: a shorthand, or the loss and what is
    not default, joined by '-'); None if the registry has no such fit."""
    load()
    if label in SHORTHANDS:
        return FITS[SHORTHANDS[label].key]
    parts = label.split("-")
    penalty = next((q for q in parts[1:] if q in PENALTIES), "none")
    solver = next((q for q in parts[1:] if q in SOLVERS), "exact")
    return FITS.get((parts[0], penalty, solver))


def copies_design(label: str) -> bool:
    """Whether the batched fit of this method word copies the designs (memory model)."""
    fit = by_label(label)
    return fit is not None and fit.copies_design


def _explicit_key(spec: Mapping[str, Any]) -> tuple[str, str, str]:
    loss = spec.get("loss")
    penalty = spec.get("penalty", "none")
    solver = spec.get("solver", "exact")
    model = spec.get("model", "linear")
    if model != "linear":
        if model not in MODELS:
            allowed = ", ".join(["linear", *MODELS])
            raise SpecError("model", f"unknown model {model!r}; allowed values: {allowed}.")
        given, solver = solver, model_solver(str(model), str(solver))
        if solver not in SOLVERS:
            own = sorted(s[len(model) + 1 :] for s in SOLVERS if s.startswith(f"{model}_"))
            raise SpecError(
                "solver",
                f"model '{model}' has no solver {given!r}; allowed values: {', '.join(own)}.",
            )
    for axis, value, table in (
        ("loss", loss, LOSSES),
        ("penalty", penalty, PENALTIES),
        ("solver", solver, SOLVERS),
    ):
        if value not in table:
            raise SpecError(
                axis, f"unknown {axis} {value!r}; allowed values: {', '.join(sorted(table))}."
            )
    key = (str(loss), str(penalty), str(solver))
    if key not in FITS:
        options = sorted(f"{p}/{s}" for (lo, p, s) in FITS if lo == loss)
        axis = "solver" if any(k[:2] == key[:2] for k in FITS) else "penalty"
        raise SpecError(
            axis,
            f"the '{loss}' loss has no fit with penalty '{penalty}' and solver '{solver}'; "
            f"it has (penalty/solver): {', '.join(options)}.",
        )
    return key


def fit_for(spec: Mapping[str, Any]) -> Fit:
    """The registered fit of a spec's combination, its parameters unchecked: what the facts
    (linear in y, robust, ...) of a spec need. Raises :class:`SpecError` for an unknown one."""
    load()
    if "loss" in spec:
        return FITS[_explicit_key(spec)]
    method = spec.get("method")
    if method not in SHORTHANDS:
        raise SpecError(
            "method", f"unknown method {method!r}; allowed values: {', '.join(SHORTHANDS)}."
        )
    return FITS[SHORTHANDS[str(method)].key]


def penalised(spec: Mapping[str, Any]) -> bool:
    """Penalised with a non-zero (or unknown) strength (ridge with λ ≠ 0)."""
    fit = fit_for(spec)
    aliases = _aliases(fit)
    return fit.penalised({aliases.get(k, k): v for k, v in spec.items()})


def resolve(spec: Mapping[str, Any]) -> Resolved:
    """The fit and parameters of a spec; raises :class:`SpecError` naming the bad key."""
    load()
    if "loss" in spec:
        key = _explicit_key(spec)
        fit = FITS[key]
        aliases = _aliases(fit)
        allowed = list(fit.axis_params())
        given = {k: v for k, v in spec.items() if k not in AXES}
        method = next((n for n, sh in SHORTHANDS.items() if sh.key == key), None)
    else:
        method = spec.get("method")
        fit = fit_for(spec)
        aliases, allowed = {}, list(fit.params)
        given = {k: v for k, v in spec.items() if k != "method"}
    params = {k: p.default for k, p in fit.params.items()}
    se = str(params.get("se", fit.se[0]))
    for key_, value in given.items():
        if key_ == "se" and "se" not in fit.params:
            se = str(value)
            continue
        if key_ not in allowed and key_ != "se":
            what = f"method '{method}'" if "loss" not in spec else _words(fit)
            takes = ", ".join([*allowed, *(["se"] if "loss" in spec else [])]) or "nothing"
            raise SpecError(key_, f"'{key_}' is not a parameter of {what} (it takes: {takes}).")
        params[aliases.get(key_, key_)] = value
    se = str(params.get("se", se))
    if se not in fit.se:
        who = f"method '{method}'" if "loss" not in spec else _words(fit)
        raise SpecError("se", f"unknown se {se!r} for {who}; allowed values: {', '.join(fit.se)}.")
    missing = [
        k
        for k, v in params.items()
        if v is None and not (k in fit.params and fit.params[k].optional)
    ]
    if missing:
        raise SpecError(missing[0], f"{_words(fit)} needs '{missing[0]}'.")
    if fit.validate is not None:
        fit.validate({**params, "se": se})
    return Resolved(fit, params, se, method)


def _words(fit: Fit) -> str:
    if fit.model != "linear":
        solver = fit.solver.removeprefix(f"{fit.model}_")
        return f"the '{fit.loss}' loss with model '{fit.model}' and solver '{solver}'"
    return f"the '{fit.loss}' loss with penalty '{fit.penalty}' and solver '{fit.solver}'"


def canonical(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a spec: the shorthand's where there is one (today's specs, bit for
    bit), else the explicit spec with every default filled in and a ``method`` label."""
    r = resolve(spec)
    if r.method is not None:
        # an interval method outside the shorthand's parameters is kept where it is not the
        # default (ridge's ``se: posterior``); unset optional parameters are left out
        se = {"se": r.se} if "se" not in r.params and r.se != r.fit.se[0] else {}
        return {"method": r.method, **{k: v for k, v in r.params.items() if v is not None}, **se}
    f = r.fit
    # the strength is stored under the penalty's own name (``lambda``), as the spec gives it:
    # under the fit's keyword (``penalty``) it would overwrite the penalty axis
    named = {fit_name: name for name, fit_name in _aliases(f).items()}
    return {
        "method": r.label,
        "loss": f.loss,
        "penalty": f.penalty,
        "solver": f.solver,
        "se": r.se,
        **{named.get(k, k): v for k, v in r.params.items() if k != "se" and v is not None},
    }
