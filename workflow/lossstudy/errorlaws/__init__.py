"""The error laws of the study: one module per distribution, found and registered on import.

Every module of this package whose name does not start with ``_`` defines ``LAW``, an instance
of :class:`Law` (its parameters with defaults and ranges, its sampler, its moments and its
density). Everything that depends on the distribution reads it from here: ``dgp`` draws through
:func:`draw_errors`, ``config`` builds the ``errors`` part of the schema (:func:`schema`) and
fills defaults from :func:`law`, ``moments`` and ``theory`` read :func:`error_moments`,
:func:`density`, :func:`is_normal`. Adding a distribution is adding one module
(docs/error-laws.md); :func:`register` adds a law from elsewhere (tests).

``errors`` below is a scenario's error spec: ``{"distribution": "t", "df": 3, "scale": 2.0}``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._law import Density, ErrorMoments, Law, Parameter

__all__ = [
    "LAWS",
    "SCALE",
    "Density",
    "ErrorMoments",
    "Law",
    "Parameter",
    "density",
    "draw_errors",
    "error_moments",
    "infinite_parameters",
    "is_normal",
    "label",
    "law",
    "note",
    "parameters",
    "register",
    "sampler",
    "schema",
]

#: common to every law: multiplies the standard draw
SCALE = Parameter("scale", "multiplies the error draw", 1.0, {"exclusiveMinimum": 0})

#: name -> law: the package's modules in name order, then any law registered later
LAWS: dict[str, Law] = {}


def register(new: Law) -> Law:
    """Add a law. A parameter name two laws share must mean the same range, since the config's
    schema has one entry per name."""
    if new.name in LAWS and type(LAWS[new.name]) is not type(new):
        raise ValueError(f"error law {new.name!r} is registered twice")
    known = {p.name: p for other in LAWS.values() for p in (SCALE, *other.parameters)}
    for p in new.parameters:
        if p.name in ("distribution", SCALE.name):
            raise ValueError(f"error law {new.name!r}: parameter name {p.name!r} is reserved")
        if p.name in known and known[p.name].schema() != p.schema():
            raise ValueError(
                f"error law {new.name!r}: parameter {p.name!r} has another range in another law"
            )
    LAWS[new.name] = new
    return new


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            register(importlib.import_module(f"{__name__}.{info.name}").LAW)


def law(name: str) -> Law:
    """The law called ``name``, or ValueError naming the unknown distribution."""
    try:
        return LAWS[str(name)]
    except KeyError:
        raise ValueError(f"unknown error distribution {name!r}") from None


def parameters(errors: Mapping[str, Any]) -> dict[str, float]:
    """The law's parameters of ``errors`` as floats, defaults filled in (KeyError for a required
    one that is missing)."""
    own = law(errors["distribution"])
    return {
        p.name: float(errors[p.name] if p.default is None else errors.get(p.name, p.default))
        for p in own.parameters
    }


def _scale(errors: Mapping[str, Any]) -> float:
    return float(errors.get("scale", 1.0))


def draw_errors(rng: np.random.Generator, errors: Mapping[str, Any], n: int) -> np.ndarray:
    """n iid errors with mean zero (where the mean exists) times ``scale``."""
    return sampler(errors)(rng, n)


def sampler(errors: Mapping[str, Any]) -> Callable[[np.random.Generator, int], np.ndarray]:
    """``draw_errors`` with the law, its parameters and the scale looked up once: a job draws
    for every replicate (twice, with its test sample), and the look-ups cost as much as a
    replicate's draws."""
    own, params, scale = law(errors["distribution"]), parameters(errors), _scale(errors)

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return scale * own.standard(rng, params, n)

    return draw


def error_moments(errors: Mapping[str, Any]) -> ErrorMoments:
    """Moments of the (iid, innovation) error distribution, including its scale."""
    own, params, s = law(errors["distribution"]), parameters(errors), _scale(errors)
    order = own.moment_order(params)
    return ErrorMoments(
        order > 1, order > 2, order > 4, own.sd(params, s), own.symmetric, own.median(params, s)
    )


def density(errors: Mapping[str, Any]) -> Density:
    """Density and distribution function of the scaled errors (imports scipy).

    Kept per law, parameters and scale: a frozen scipy distribution costs ≈ 3 ms to build, and
    the theory job asked for the same few hundred times (2 s of it)."""
    return _density(
        errors["distribution"], tuple(sorted(parameters(errors).items())), _scale(errors)
    )


@functools.cache
def _density(name: str, params: tuple[tuple[str, float], ...], scale: float) -> Density:
    return law(name).density(dict(params), scale)


def is_normal(errors: Mapping[str, Any]) -> bool:
    return law(errors["distribution"]).is_normal(parameters(errors))


def label(errors: Mapping[str, Any]) -> str:
    return law(errors["distribution"]).label(parameters(errors))


def note(errors: Mapping[str, Any]) -> str:
    return law(errors["distribution"]).note(parameters(errors))


def infinite_parameters() -> frozenset[str]:
    """Parameter names that some law lets be +∞ (the config's non-finite scan spares them)."""
    return frozenset(p.name for own in LAWS.values() for p in own.parameters if p.infinity)


def schema() -> dict[str, Any]:
    """The ``errors`` entry of the config schema (``$defs.errors``), built from the laws."""
    props: dict[str, Any] = {
        "distribution": {"type": "string", "enum": list(LAWS)},
        SCALE.name: SCALE.schema(),
    }
    for own in LAWS.values():
        props.update({p.name: p.schema() for p in own.parameters})
    return {"type": "object", "additionalProperties": False, "properties": props}


_discover()
