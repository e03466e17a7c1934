"""How a Monte Carlo number is written and when its distance from a null counts.

Why a module of its own, at the bottom of the package: the answer (:mod:`lossstudy.answer`),
the theory check (:mod:`lossstudy.theory`), the front page and the report all round a value to
its Monte Carlo standard error (MCSE) and judge a z statistic against the same few thresholds.
Keeping them here lets each of those import them without importing one another.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ALPHA",
    "P_CHANCE",
    "Z_FLAG",
    "Z_TIE",
    "bonferroni",
    "format_pm",
    "mcse_digits",
]

#: A difference within this many MCSE is a tie (the 2-MCSE rule of the answer).
Z_TIE = 2.0
#: A theory row is flagged when the simulation is beyond this many MCSE from theory.
Z_FLAG = 3.0
#: Two-sided P(|Z| > 3): the share of exact rows expected beyond ``Z_FLAG`` by chance alone.
P_CHANCE = math.erfc(Z_FLAG / math.sqrt(2.0))
#: Family-wise error rate of the verdicts of each family (Bonferroni).
ALPHA = 0.05


def bonferroni(m: int, alpha: float = ALPHA) -> float:
    """z beyond which one of ``m`` two-sided comparisons is called: Φ⁻¹(1 − α/(2m)), and
    never below the study's 2-MCSE rule (Z_TIE), so a small family is judged as before."""
    from scipy.stats import norm

    return max(Z_TIE, float(norm.ppf(1.0 - alpha / (2.0 * max(int(m), 1)))))


def mcse_digits(mcse: float) -> int:
    """Decimals that keep two significant digits of the MCSE (4 when there is none)."""
    if np.isfinite(mcse) and mcse > 0:
        return int(np.clip(1 - math.floor(math.log10(mcse)), 0, 6))
    return 4


def format_pm(value: float | None, mcse: float | None = None, *, digits: int | None = None) -> str:
    """``value ± mcse`` rounded to two significant digits of the MCSE (``--`` if missing)."""
    if value is None or not np.isfinite(value):
        return "--"
    if digits is None:
        if mcse is not None and np.isfinite(mcse) and mcse > 0:
            digits = int(np.clip(1 - math.floor(math.log10(mcse)), 0, 6))
        else:
            mag = math.floor(math.log10(abs(value))) if value != 0 else 0
            digits = int(np.clip(2 - mag, 0, 6))
    text = f"{value:.{digits}f}"
    if mcse is not None and np.isfinite(mcse):
        text += f" ± {mcse:.{digits}f}"
    return text
