"""Estimators as loss × penalty × solver: the registry the rest of the study reads.

An estimator spec names a ``loss``, a ``penalty`` (default ``none``), a ``solver`` (default
``exact``) and an interval method ``se``, plus the parameters of each; or one of the
``method:`` shorthands of the first studies (``ols``, ``wls``, ``lad``, ``huber``, ``ridge``),
which name a combination and keep their own parameter names (ridge's λ is ``penalty``).

A spec resolves (:func:`resolve`) to the registered :class:`Fit` of its combination and its
parameters with the defaults filled in. :func:`canonical` is the form the study stores: the
shorthand's spec wherever the combination has a shorthand (so an explicit
``{loss: squared, se: hc3}`` *is* ``{method: ols, se: hc3}``), else the explicit spec with a
``method`` label. Adding a loss means adding a module to this package that registers it (see
docs/estimators.md); modules named in ``LOSSSTUDY_METHODS`` (comma-separated, importable) are
loaded too, which is how a loss defined outside the package joins a study.
"""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._registry import (
    AXES,
    FITS,
    LOSSES,
    PENALTIES,
    SHORTHANDS,
    SOLVERS,
    Axis,
    Fit,
    Param,
    Shorthand,
    register_fit,
    register_loss,
    register_penalty,
    register_solver,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AXES",
    "Axis",
    "Fit",
    "Param",
    "Resolved",
    "Shorthand",
    "SpecError",
    "canonical",
    "describe",
    "estimators_table",
    "fit_of",
    "load",
    "register_fit",
    "register_loss",
    "register_penalty",
    "register_solver",
    "resolve",
    "shorthand_parameters",
    "write_estimators",
]

#: Environment variable: extra modules (comma-separated) that register losses, penalties or
#: solvers; each process of a study imports them, so they reach every job.
PLUGINS_ENV = "LOSSSTUDY_METHODS"

_loaded = False
#: The losses of the first studies load first, so that their shorthands and losses lead every
#: list of allowed values (``ols`` first); the rest follow in alphabetical order.
_FIRST = ("squared", "absolute", "huber")


def load() -> None:
    """Import the modules of this package and those named in ``LOSSSTUDY_METHODS`` (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    found = sorted(i.name for i in pkgutil.iter_modules(__path__) if not i.name.startswith("_"))
    for name in sorted(
        found, key=lambda m: (m not in _FIRST, _FIRST.index(m) if m in _FIRST else 0)
    ):
        importlib.import_module(f"{__name__}.{name}")
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
        ``lambda``), ``se`` left out."""
        names = {canon: name for name, canon in _aliases(self.fit).items()}
        return {names.get(k, k): v for k, v in self.params.items() if k != "se"}

    def penalised(self) -> bool:
        return self.fit.penalised(self.params)

    def needs_full_rank(self) -> bool:
        return self.fit.needs_full_rank(self.params)


def _aliases(fit: Fit) -> dict[str, str]:
    """Explicit-spec name -> the fit's keyword: the penalty's strength goes by the fit's name."""
    if fit.strength is None:
        return {}
    (name,) = PENALTIES[fit.penalty].params
    return {name: fit.strength}


def fit_of(loss: str, penalty: str = "none", solver: str = "exact") -> Fit:
    load()
    return FITS[(loss, penalty, solver)]


def _explicit_key(spec: Mapping[str, Any]) -> tuple[str, str, str]:
    loss = spec.get("loss")
    penalty = spec.get("penalty", "none")
    solver = spec.get("solver", "exact")
    for field, value, table in (
        ("loss", loss, LOSSES),
        ("penalty", penalty, PENALTIES),
        ("solver", solver, SOLVERS),
    ):
        if value not in table:
            raise SpecError(
                field, f"unknown {field} {value!r}; allowed values: {', '.join(sorted(table))}."
            )
    key = (str(loss), str(penalty), str(solver))
    if key not in FITS:
        options = sorted(f"{p}/{s}" for (lo, p, s) in FITS if lo == loss)
        field = "solver" if any(k[:2] == key[:2] for k in FITS) else "penalty"
        raise SpecError(
            field,
            f"the '{loss}' loss has no fit with penalty '{penalty}' and solver '{solver}'; "
            f"it has (penalty/solver): {', '.join(options)}.",
        )
    return key


def resolve(spec: Mapping[str, Any]) -> Resolved:
    """The fit and parameters of a spec; raises :class:`SpecError` naming the bad key."""
    load()
    if "loss" in spec:
        key = _explicit_key(spec)
        fit = FITS[key]
        aliases = _aliases(fit)
        allowed = [*LOSSES[key[0]].params, *PENALTIES[key[1]].params, *SOLVERS[key[2]].params]
        given = {k: v for k, v in spec.items() if k not in AXES}
        method = next((n for n, sh in SHORTHANDS.items() if sh.key == key), None)
    else:
        method = spec.get("method")
        if method not in SHORTHANDS:
            raise SpecError(
                "method",
                f"unknown method {method!r}; allowed values: {', '.join(sorted(SHORTHANDS))}.",
            )
        fit = FITS[SHORTHANDS[str(method)].key]
        aliases, allowed = {}, list(fit.params)
        given = {k: v for k, v in spec.items() if k != "method"}
    params = {k: p.default for k, p in fit.params.items()}
    se = str(params.get("se", fit.se[0]))
    for key_, value in given.items():
        if key_ == "se" and "se" not in fit.params:
            se = str(value)
            continue
        if key_ not in allowed and key_ != "se":
            what = f"method '{method}'" if "loss" not in spec else f"this {_words(fit)}"
            takes = ", ".join([*allowed, *(["se"] if "loss" in spec else [])]) or "nothing"
            raise SpecError(key_, f"'{key_}' is not a parameter of {what} (it takes: {takes}).")
        params[aliases.get(key_, key_)] = value
    se = str(params.get("se", se))
    if se not in fit.se:
        who = f"method '{method}'" if "loss" not in spec else _words(fit)
        raise SpecError("se", f"unknown se {se!r} for {who}; allowed values: {', '.join(fit.se)}.")
    missing = [k for k, v in params.items() if v is None]
    if missing:
        raise SpecError(missing[0], f"{_words(fit)} needs '{missing[0]}'.")
    return Resolved(fit, params, se, method)


def _words(fit: Fit) -> str:
    return f"the '{fit.loss}' loss with penalty '{fit.penalty}' and solver '{fit.solver}'"


def canonical(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a spec: the shorthand's where there is one (today's specs, bit for
    bit), else the explicit spec with every default filled in and a ``method`` label."""
    r = resolve(spec)
    if r.method is not None:
        return {"method": r.method, **r.params}
    f = r.fit
    return {
        "method": r.label,
        "loss": f.loss,
        "penalty": f.penalty,
        "solver": f.solver,
        "se": r.se,
        **{k: v for k, v in r.params.items() if k != "se"},
    }


# --------------------------------------------------------------------------- words and tables


def show(value: Any) -> str:
    """A parameter value in words: floats as ``%g``, the rest as they print."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and not math.isnan(value):
        return f"{float(value):g}"
    return str(value)


def describe(spec: Mapping[str, Any]) -> dict[str, str]:
    """``loss_text``, ``penalty_text`` and ``intervals_text`` of a spec, in words."""
    r = resolve(spec)
    if r.fit.texts is not None:
        loss, penalty, intervals = r.fit.texts({**r.params, "se": r.se})
    else:
        loss = LOSSES[r.fit.loss].text or r.fit.loss
        penalty = PENALTIES[r.fit.penalty].text or r.fit.penalty
        intervals = r.se
    return {"loss_text": loss, "penalty_text": penalty, "intervals_text": intervals}


#: Leading columns of ``results/estimators.csv``; one column per parameter follows.
TABLE_COLUMNS = (
    "estimator",
    "family",
    "parameter",
    "value",
    "anchor",
    "reference",
    "method",
    "loss",
    "penalty",
    "solver",
    "se",
    "loss_text",
    "penalty_text",
    "intervals_text",
)


def estimators_table(study: Any) -> pd.DataFrame:
    """One row per estimator (sweep member) of a :class:`~lossstudy.config.Study` with its
    resolved spec; parameters under their loss/penalty/solver names, empty where they do not
    apply."""
    import pandas as pd

    anchors = set(study.anchor_estimators())
    rows, params = [], []
    for name, spec in study.estimators.items():
        r = resolve(spec)
        sweep = study.estimator_sweeps.get(name, {})
        rows.append(
            {
                "estimator": name,
                "family": sweep.get("family", name),
                "parameter": sweep.get("parameter", ""),
                "value": sweep.get("value", ""),
                "anchor": name in anchors,
                "reference": name == study.reference,
                "method": study.estimator_methods.get(name, ""),
                "loss": r.fit.loss,
                "penalty": r.fit.penalty,
                "solver": r.fit.solver,
                "se": r.se,
                **describe(spec),
            }
        )
        params.append(r.explicit)
    names = sorted({k for p in params for k in p})
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    values = pd.DataFrame([[p.get(k, "") for k in names] for p in params], columns=names)
    return pd.concat([table, values.astype(object)], axis=1)


def write_estimators(study: Any, path: str | os.PathLike[str]) -> None:
    """``results/estimators.csv`` (the rule ``estimators``)."""
    from lossstudy.io import write_text

    write_text(path, estimators_table(study).to_csv(index=False, lineterminator="\n"))
