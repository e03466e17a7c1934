"""What a claim is and how its numbers are judged and written.

Why a module of its own: every topic cites :class:`Number` objects (a value with its MCSE) and
returns :class:`Claim` objects, and all of them must apply one rule for a win, a loss or a tie
(beyond or within ``Z_TIE`` MCSE of the null value) and word it the same way, with names
HTML-escaped. Keeping the rule and its wording here means a topic cannot drift from it.
The thresholds in force are values (family -> z) that the caller computes once and passes in;
the rounding and the thresholds shared with the theory check live in :mod:`lossstudy.mcse`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossstudy.mcse import Z_FLAG, Z_TIE, format_pm
from lossstudy.measures import MEASURES

from .compare import TOLERANCE, call, within

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

_Z_LIMIT = Z_TIE + 1e-9  # "exactly 2 MCSE" stays a tie despite rounding

#: Verdict families: the measures a claim judges, by the null they are judged against (the
#: measures' own column of :mod:`lossstudy.measures`, and the MAD comparison of two estimators).
FAMILIES: dict[str, str] = {
    **{m.name: m.family for m in MEASURES if m.family},
    "mad_difference": "robust",
}

#: family -> z threshold in force (a family not listed is judged at Z_TIE).
Thresholds = Mapping[str, float]


def z_limit(measure: str, thresholds: Thresholds) -> float:
    """The threshold in force for a measure's family (Z_TIE for a family without one)."""
    fam = FAMILIES.get(measure)
    if fam is None:
        return _Z_LIMIT
    return thresholds.get(fam, Z_TIE) + 1e-9


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
    #: the exact value where theory fixes it (NaN where it does not), and why it does
    theory: float = math.nan
    theory_why: str = ""
    #: False where the MCSE rests on a moment the errors lack (``performance.csv``'s
    #: ``mcse_valid``): the value may exist, but its z statistic is not standard normal
    mcse_valid: bool = True

    def text(self) -> str:
        mark = "" if self.mcse_valid else UNRELIABLE
        return format_pm(self.value, self.mcse) + mark

    def z(self, null: float) -> float:
        """Distance from ``null`` in MCSE (±inf when the MCSE is 0 and the value differs)."""
        diff = self.value - null
        if self.mcse > 0:
            return diff / self.mcse
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)


#: Appended to a number whose MCSE is unreliable (the report's footnote explains it).
UNRELIABLE = "<sup>‡</sup>"


@dataclass(frozen=True)
class Judgement:
    """How one number was judged against its null: the row behind a verdict.

    ``verdict`` is generic (``win`` above the null, ``loss`` below, ``tie``, ``undefined``);
    ``basis`` is ``mc`` (the Monte Carlo test), ``theory`` (theory fixes the true value and
    the estimate agrees with it within the bar) or ``contrary`` (the estimate is beyond the
    theory check's bar from the theoretical value, so the Monte Carlo test decides).
    """

    null: float
    statistic: float
    threshold: float
    verdict: str
    basis: str = "mc"


def judge(num: Number, null: float, thresholds: Thresholds) -> Judgement:
    """The one rule for every verdict of the answer (see :func:`z_limit`).

    Where theory fixes the true value (``num.theory``), the verdict is theory's, unless the
    estimate lies beyond ``max(threshold, Z_FLAG)`` MCSE from it: then the Monte Carlo test
    decides and the claim must say it is contrary to theory.
    """
    thr = z_limit(num.measure, thresholds)
    if not num.defined or not np.isfinite(num.value):
        return Judgement(null, math.nan, thr, "undefined")
    z = num.z(null)
    mc = {"tie": "tie", "above": "win", "below": "loss", "undefined": "undefined"}[
        call(z, thr - TOLERANCE)
    ]
    if not np.isfinite(num.theory):
        return Judgement(null, z, thr, mc)
    bar = max(thr, Z_FLAG + 1e-9)
    gap = num.value - num.theory
    zt = gap / num.mcse if num.mcse > 0 else (0.0 if gap == 0 else math.inf)
    if not within(zt, bar - TOLERANCE):
        return Judgement(null, z, bar, mc, "contrary")
    off = num.theory - null
    exact = "tie" if abs(off) <= 1e-9 * max(1.0, abs(null)) else ("win" if off > 0 else "loss")
    return Judgement(null, z, bar, exact, "theory")


def basis_words(num: Number, j: Judgement) -> str:
    """``; theory: exactly 1.02`` / ``; contrary to theory (exactly 0), beyond its bar …``."""
    if j.basis == "mc":
        return ""
    exact = f"{num.theory:.4g}" if num.theory != 0 else "0"
    why = f", {html.escape(num.theory_why)}" if num.theory_why else ""
    if j.basis == "theory":
        return f"; theory: exactly {exact}{why}"
    return f"; contrary to theory (exactly {exact}{why}), beyond its bar of {j.threshold:.2g} MCSE"


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
    #: comparisons of two numbers the sentence judges besides ``numbers`` against their nulls
    #: (e.g. the smallest MAD against the next), as ready rows of ``claims.csv``
    pairs: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def heading(self) -> str:
        return TOPICS.get(self.topic, self.topic)


def _code(name: str) -> str:
    return f"<code>{html.escape(str(name))}</code>"


def _zword(z: float) -> str:
    if math.isinf(z):
        return "exactly"
    return f"{abs(z):.1f} MCSE"


def _compare(num: Number, null: float, thresholds: Thresholds) -> str:
    """``win`` (above null beyond the family's threshold, or by theory), ``loss``, ``tie`` or
    ``undefined``: :func:`judge`'s verdict."""
    return judge(num, null, thresholds).verdict


def _versus(num: Number, null: float, above: str, below: str, thresholds: Thresholds) -> str:
    """``above (4.2 MCSE from 1)`` / ``tie: within Monte Carlo error (1.3 MCSE)``."""
    j = judge(num, null, thresholds)
    z = num.z(null)
    extra = basis_words(num, j)
    if j.verdict == "tie":
        if j.basis == "theory":
            return f"a tie ({_zword(z)} from {null:g}{extra})"
        return f"a tie, within Monte Carlo error ({_zword(z)} from {null:g}{extra})"
    word = above if j.verdict == "win" else below
    return f"{word} ({_zword(z)} from {null:g}{extra})"
