"""What a claim is and how its numbers are judged and written.

Why a module of its own: every topic cites :class:`Number` objects (a value with its MCSE) and
returns :class:`Claim` objects, and all of them must apply one rule for a win, a loss or a tie
(beyond or within ``Z_TIE`` MCSE of the null value) and word it the same way, with names
HTML-escaped. Keeping the rule and its wording here means a topic cannot drift from it;
:func:`format_pm` is also used by :mod:`lossstudy.report` and :mod:`lossstudy.theory`.
"""

from __future__ import annotations

import html
import math
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

#: Topic key -> heading, in the order the claims are returned.
TOPICS: dict[str, str] = {
    "gauss_markov": "All Gauss–Markov assumptions hold, normal errors",
    "heavy_tails": "Non-normal errors, Gauss–Markov assumptions holding",
    "ridge": "The L2 penalty (ridge): MSE against bias",
    "bias": "Endogeneity or misspecification: bias",
    "coverage": "Heteroskedastic or autocorrelated errors: interval coverage",
    "undefined": "Infinite-variance errors: no moments",
    "full_rank": "Rank-deficient design",
}

Z_TIE = 2.0  # a difference within this many MCSE is a tie (the first pass; see below)
_Z_LIMIT = Z_TIE + 1e-9  # "exactly 2 MCSE" stays a tie despite rounding

#: Verdict families: the measures a claim judges, by the null they are judged against.
FAMILIES: dict[str, str] = {
    "rel_efficiency": "relative",
    "rel_mse": "relative",
    "rel_precision": "relative",
    "bias": "bias",
    "coverage": "coverage",
}
#: Family-wise error rate of the verdicts of each family (Bonferroni).
ALPHA = 0.05

#: family -> z threshold in force; empty (Z_TIE everywhere) in the first pass of
#: :func:`lossstudy.answer.short_answer`, which then sets the Bonferroni thresholds.
_THRESHOLDS: ContextVar[dict[str, float] | None] = ContextVar("thresholds", default=None)


def bonferroni(m: int, alpha: float = ALPHA) -> float:
    """z beyond which one of ``m`` two-sided comparisons is called: Φ⁻¹(1 − α/(2m)), and
    never below the study's 2-MCSE rule (Z_TIE), so a small family is judged as before."""
    from scipy.stats import norm

    return max(Z_TIE, float(norm.ppf(1.0 - alpha / (2.0 * max(int(m), 1)))))


def z_limit(measure: str) -> float:
    """The threshold in force for a measure's family (Z_TIE outside the second pass)."""
    fam = FAMILIES.get(measure)
    if fam is None:
        return _Z_LIMIT
    return (_THRESHOLDS.get() or {}).get(fam, Z_TIE) + 1e-9


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


@dataclass(frozen=True)
class Number:
    """One performance number with its MCSE, as cited by a claim."""

    scenario: str
    estimator: str
    term: str
    measure: str
    value: float
    mcse: float
    defined: bool = True
    n_used: int = 0
    note: str = ""

    def text(self) -> str:
        return format_pm(self.value, self.mcse)

    def z(self, null: float) -> float:
        """Distance from ``null`` in MCSE (±inf when the MCSE is 0 and the value differs)."""
        diff = self.value - null
        if self.mcse > 0:
            return diff / self.mcse
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)


@dataclass(frozen=True)
class Claim:
    """A sentence of the short answer with the numbers it cites and its verdict.

    ``verdict`` is one of ``win`` (a difference beyond 2 MCSE in favour of the method named
    first), ``loss``, ``tie`` (within Monte Carlo error), ``biased``, ``undercovers``,
    ``undefined`` or ``mixed``.
    """

    topic: str
    text: str
    verdict: str
    numbers: tuple[Number, ...] = field(default_factory=tuple)
    scenarios: tuple[str, ...] = field(default_factory=tuple)

    @property
    def heading(self) -> str:
        return TOPICS.get(self.topic, self.topic)


def _code(name: str) -> str:
    return f"<code>{html.escape(str(name))}</code>"


def _zword(z: float) -> str:
    if math.isinf(z):
        return "exactly"
    return f"{abs(z):.1f} MCSE"


def _compare(num: Number, null: float) -> str:
    """``win`` (above null beyond the family's threshold), ``loss``, ``tie`` or ``undefined``."""
    if not num.defined or not np.isfinite(num.value):
        return "undefined"
    z = num.z(null)
    if abs(z) <= z_limit(num.measure):
        return "tie"
    return "win" if z > 0 else "loss"


def _versus(num: Number, null: float, above: str, below: str) -> str:
    """``above (4.2 MCSE from 1)`` / ``tie: within Monte Carlo error (1.3 MCSE)``."""
    verdict = _compare(num, null)
    z = num.z(null)
    if verdict == "tie":
        return f"a tie, within Monte Carlo error ({_zword(z)} from {null:g})"
    word = above if verdict == "win" else below
    return f"{word} ({_zword(z)} from {null:g})"
