"""The one rule every comparison of two estimators follows: one statistic, one threshold.

Why a module of its own: the claims, the scoreboard, the front page and the figures all say
whether one estimator beats another. Before this rule they used two statistics (the claims a
paired ratio against 1, the scoreboard a difference of MSEs with independent MCSEs) and two
Bonferroni families, so the report could call one pair a tie in one place and 4.4 MCSE worse
in another. Here:

* the statistic of a pair that includes the reference is its paired relative measure
  (``rel_mse`` = MSE(reference) / MSE(other), MCSE from the same datasets); a pair without the
  reference has no paired MCSE in the performance table, so it falls back on the difference
  of MSEs over sqrt(m_a² + m_b²) (conservative: it can only call fewer differences);
* the threshold is the Bonferroni z of the ``relative`` family, which counts the claims'
  relative comparisons and the scoreboard's together (:func:`lossstudy.answer.thresholds`);
* :func:`call` decides, and :func:`lossstudy.answer.claims.judge` uses the same test.
"""

from __future__ import annotations

import math

__all__ = ["TOLERANCE", "call", "pair_statistic", "within"]

#: "exactly at the threshold" stays a tie despite rounding
TOLERANCE = 1e-9


def within(z: float, threshold: float) -> bool:
    """A distance of ``z`` MCSE is within Monte Carlo error of the null."""
    return abs(z) <= threshold + TOLERANCE


def call(z: float, threshold: float) -> str:
    """``tie`` within the threshold, else ``above`` / ``below`` the null (NaN: ``undefined``)."""
    if not math.isfinite(z) and not math.isinf(z):
        return "undefined"
    if within(z, threshold):
        return "tie"
    return "above" if z > 0 else "below"


def pair_statistic(
    other: tuple[float, float],
    best: tuple[float, float],
    paired: tuple[float, float] | None = None,
    other_is_reference: bool = False,
) -> tuple[float, str]:
    """How far ``other``'s MSE lies above ``best``'s, in MCSE, and which statistic said so.

    ``other`` and ``best`` are (MSE, MCSE); ``paired`` is the relative MSE of the
    non-reference estimator of the pair against the reference, (MSE(ref) / MSE(est), MCSE),
    when one of the two is the reference. Positive: ``other`` is worse.
    """
    if paired is not None and all(math.isfinite(x) for x in paired) and paired[1] > 0:
        rel, mc = paired
        # rel > 1: the non-reference estimator has the lower MSE
        z = (rel - 1.0) / mc if other_is_reference else (1.0 - rel) / mc
        return z, "paired"
    (v, m), (vb, mb) = other, best
    se = math.hypot(m, mb)
    if se > 0:
        return (v - vb) / se, "independent"
    return (0.0 if v == vb else math.inf), "independent"
