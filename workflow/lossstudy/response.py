"""The response family of a scenario: what y is given the linear predictor η = Xβ.

``gaussian`` (the default, and every scenario without a ``response`` knob): y = η + e with e
from the scenario's error law and its departures (:func:`lossstudy.dgp.respond`).
``bernoulli``: y ~ Bernoulli(σ(η)), σ(t) = 1/(1 + e^(−t)), the logistic model of
classification, with the linear logit η = Xβ or a nonlinear one η = f(x₁)
(``response.function`` of :mod:`lossstudy.responses`, on a uniform design, where any linear
classifier is misspecified). It has no error law: each replicate draws n uniforms U(0, 1) where
a gaussian scenario draws its errors, and y = 1[u < σ(η)]. So the draws of replicate r remain a
function of (seed, scenario, r) alone, and a scenario without ``response`` draws exactly what it
drew before (the gaussian branch is the old code path).

Why a module of its own: the training data (:mod:`lossstudy.dgp`) and the fresh test samples
(:mod:`lossstudy.prediction`) must follow one law, so both ask this module for the noise and
the response; and the knobs that act on errors (error law, heteroskedasticity, AR(1) errors,
endogeneity) or on the mean (misspecification) are refused for a bernoulli response by
:func:`refused_knobs`, named in the config error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lossstudy import errorlaws

#: The response families; the first is the default.
FAMILIES = ("gaussian", "bernoulli")
GAUSSIAN, BERNOULLI = FAMILIES
#: The loss whose exact, unpenalised minimiser is the maximum-likelihood estimate of β under
#: each family: the reference of a scenario the study's ``reference`` does not model.
MLE_LOSS = {GAUSSIAN: "squared", BERNOULLI: "cross_entropy"}


def family(knobs: Mapping[str, Any]) -> str:
    """The scenario's response family (``gaussian`` when it sets none)."""
    return str((knobs.get("response") or {}).get("family", GAUSSIAN))


def draw_noise(rng: np.random.Generator, knobs: Mapping[str, Any], n: int) -> np.ndarray:
    """n iid draws of what makes y random given η: errors of the law, or uniforms."""
    return noise_sampler(knobs)(rng, n)


def noise_sampler(knobs: Mapping[str, Any]) -> Callable[[np.random.Generator, int], np.ndarray]:
    """``draw_noise`` for one scenario, its law looked up once (it is asked per replicate)."""
    if family(knobs) == BERNOULLI:
        return _uniforms
    return errorlaws.sampler(knobs["errors"])


def _uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random(n)


def sigmoid(eta: np.ndarray) -> np.ndarray:
    """σ(η) = 1/(1 + e^(−η)) without overflow for |η| large."""
    return np.exp(-np.logaddexp(0.0, -eta))


def bernoulli_response(eta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """y = 1[u < σ(η)] (R×n floats 0/1) from the logit η (R×n) and uniforms ``u`` (R×n)."""
    return (u < sigmoid(eta)).astype(np.float64)


#: knob -> its value that means "absent"; a bernoulli response refuses any other value
_NEUTRAL: dict[str, Any] = {
    "errors": {"distribution": "normal", "scale": 1.0},
    "heteroskedasticity.strength": 0.0,
    "autocorrelation.phi": 0.0,
    "endogeneity.correlation": 0.0,
    "misspecification.strength": 0.0,
}


def refused_knobs(knobs: Mapping[str, Any]) -> list[str]:
    """The knobs a bernoulli scenario sets that have no meaning for it (empty for gaussian).

    The error law, heteroskedasticity, AR(1) errors and endogeneity act on an additive error,
    which a Bernoulli response does not have; the misspecified mean is a regression knob (a
    nonlinear logit is ``response.function``)."""
    if family(knobs) != BERNOULLI:
        return []
    out = []
    for dotted, neutral in _NEUTRAL.items():
        node: Any = knobs
        for part in dotted.split("."):
            node = node[part]
        if node != neutral:
            out.append(dotted)
    return out
