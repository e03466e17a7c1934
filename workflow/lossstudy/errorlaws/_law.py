"""What an error law declares: its parameters, its sampler and the facts other modules read.

Why a class per law: the sampler (``lossstudy.dgp``), the moments that decide which measures
exist (``lossstudy.moments``), the density of the asymptotic theory (``lossstudy.theory``) and
the parameters the config accepts (``lossstudy.config``) used to be parallel ``if``/``elif``
chains on the distribution's name; a law now states all of them in one place.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

#: the words of a JSON-schema bound, as the config's error messages and the docs write them
_BOUND_WORDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


@dataclass(frozen=True)
class Parameter:
    """A numeric parameter of a law: its default (None: required) and its valid range.

    ``bounds`` are JSON-schema keywords (``{"exclusiveMinimum": 0}``): the config's schema is
    built from them. ``infinity`` says what +∞ means where the law defines it (t's df = ∞ is the
    normal distribution); empty means +∞ is rejected like any non-finite number.
    """

    name: str
    meaning: str
    default: float | None = None
    bounds: Mapping[str, float] = field(default_factory=dict)
    infinity: str = ""

    def schema(self) -> dict[str, Any]:
        return {"type": "number", **self.bounds}

    def range_text(self) -> str:
        """The valid range in words: '> 0', 'in [0, 1]', '> 0, or ∞'."""
        b = self.bounds
        if "minimum" in b and "maximum" in b:
            text = f"in [{b['minimum']:g}, {b['maximum']:g}]"
        else:
            text = " and ".join(f"{_BOUND_WORDS[k]} {v:g}" for k, v in b.items()) or "any"
        return f"{text}, or ∞" if self.infinity else text


@dataclass(frozen=True)
class ErrorMoments:
    """What exists of the error distribution; decides which performance measures exist."""

    mean_finite: bool
    var_finite: bool
    fourth_finite: bool
    sd: float
    symmetric: bool
    median: float


class Density(NamedTuple):
    """Density and distribution function of the scaled errors (what the asymptotic theory
    integrates)."""

    pdf: Callable[[Any], Any]
    cdf: Callable[[Any], Any]


class Law(ABC):
    """One error distribution. ``params`` below are the law's parameters as floats, defaults
    filled in; ``scale`` multiplies every draw (``errors.scale``, common to all laws)."""

    #: the value of ``errors.distribution``
    name: ClassVar[str]
    #: how the name reads in prose ("Laplace", "Student t")
    title: ClassVar[str]
    #: the draw as a formula, before ``scale`` (docs/error-laws.md)
    definition: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    #: symmetric about its median (which is then 0)
    symmetric: ClassVar[bool] = True
    #: every moment exists whatever the parameters (else :meth:`moment_order` says which do)
    all_moments: ClassVar[bool] = True

    @abstractmethod
    def standard(self, rng: np.random.Generator, params: Mapping[str, float], n: int) -> np.ndarray:
        """n iid draws before ``scale``, centred to mean 0 where the mean exists.

        The generator calls and the arithmetic are the study's random streams: change them and
        every dataset changes.
        """

    @abstractmethod
    def sd(self, params: Mapping[str, float], scale: float) -> float:
        """Standard deviation of the scaled errors (∞ where the variance does not exist)."""

    @abstractmethod
    def density(self, params: Mapping[str, float], scale: float) -> Density:
        """Density and distribution function of the scaled errors (imports scipy: theory only)."""

    def moment_order(self, params: Mapping[str, float]) -> float:
        """Moments of order below this exist (t: df; Cauchy: 1; ∞ when all do)."""
        return math.inf

    def median(self, params: Mapping[str, float], scale: float) -> float:
        """Median of the scaled errors (their mean is 0)."""
        return 0.0

    def is_normal(self, params: Mapping[str, float]) -> bool:
        """Whether these errors are exactly normal (decides the ``normal_errors`` assumption)."""
        return False

    def label(self, params: Mapping[str, float]) -> str:
        """How a result note names these errors ("t (df 3)", "Cauchy")."""
        return self.name

    def note(self, params: Mapping[str, float]) -> str:
        """What a reader must know about this parameter setting ('' mostly)."""
        return ""
