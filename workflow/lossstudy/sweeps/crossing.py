"""Where a comparison changes sign along a series: bracket, crossing and its interval.

Pure functions on arrays (x, statistic, MCSE), so they are tested on synthetic series with known
roots; :mod:`lossstudy.sweeps.study` feeds them the performance table. The crossing is the root
of a monotone cubic through the cells around the bracket, its interval a parametric bootstrap
over those cells' Monte Carlo errors (:mod:`lossstudy.sweeps.local`). :func:`fieller_root` (a
straight line between two values) is kept as the reference the calibration tests compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .local import local_root, polynomial_root, straight_root

#: two-sided level of the Fieller interval of a crossing
CI_Z = 1.959963984540054
#: an interval wider than this share of its pair's spacing does not locate the crossing
#: between two swept values: the row asks for cells in between (``needs_refinement``), as it
#: does where the grid effect exceeds the Monte Carlo half-width (the grid limits the precision)
COARSE = 0.5


def threshold(k: int, alpha: float = 0.05) -> float:
    """z beyond which one of ``k`` points is decided: Bonferroni, two-sided, family-wise α."""
    from scipy.stats import norm

    return float(norm.ppf(1.0 - alpha / (2.0 * max(int(k), 1))))


@dataclass(frozen=True)
class Crossing:
    """Result of :func:`find_crossing`; NaNs where there is no crossing."""

    bracket_low: float
    bracket_high: float
    crossing: float
    ci_low: float
    ci_high: float
    better: str  # where the statistic is positive: "above" or "below" the crossing, or ""
    changes: int  # how many sign changes beyond MC error the series shows
    note: str
    grid_effect: float = math.nan  # crossing − the farther of two other readings' roots
    needs_refinement: bool = False  # the cells do not locate the crossing to COARSE


def fieller_root(
    x: np.ndarray, r: np.ndarray, m: np.ndarray, z: float = CI_Z
) -> tuple[float, float, float]:
    """Root of the weighted LS line r = a + b x (weights 1/m²) and its Fieller interval.

    The interval is {x : (a + b x)² ≤ z² Var(a + b x)}; it is bounded only when the slope is
    significant (b² > z² Var(b)); otherwise (−inf, inf) is returned.
    """
    x = np.asarray(x, float)
    r = np.asarray(r, float)
    w = 1.0 / np.asarray(m, float) ** 2
    A = np.column_stack([np.ones_like(x), x])
    V = np.linalg.inv(A.T @ (A * w[:, None]))
    a, b = V @ (A.T @ (w * r))
    root = -a / b if b != 0 else math.nan
    qa = b * b - z * z * V[1, 1]
    qb = 2.0 * (a * b - z * z * V[0, 1])
    qc = a * a - z * z * V[0, 0]
    if qa <= 0:
        return float(root), -math.inf, math.inf
    disc = qb * qb - 4.0 * qa * qc
    disc = max(disc, 0.0)
    lo = (-qb - math.sqrt(disc)) / (2.0 * qa)
    hi = (-qb + math.sqrt(disc)) / (2.0 * qa)
    return float(root), float(min(lo, hi)), float(max(lo, hi))


def _sign(r: float, m: float, z: float) -> int:
    if not (math.isfinite(r) and math.isfinite(m)):
        return 0
    if m == 0:
        return int(np.sign(r))
    return 1 if r > z * m else (-1 if r < -z * m else 0)


def find_crossing(
    x: np.ndarray,
    r: np.ndarray,
    m: np.ndarray,
    z: float | None = None,
    words: tuple[str, str] = ("better", "worse"),
    ties_positive: bool = False,
    rng: np.random.Generator | None = None,
    level: float = 0.95,
) -> Crossing:
    """First sign change of ``r`` beyond ``z``·MCSE along increasing ``x`` (see the package doc).

    Points with a non-finite statistic or MCSE are left out. ``z`` defaults to
    :func:`threshold` of the number of usable points. ``words`` name a positive and a negative
    statistic in the notes. With ``ties_positive`` a tie counts as the positive side, so the
    crossing is the *onset* of a significantly negative statistic (coverage falling below the
    nominal level from a tie, which strict signs would never call a change). ``rng`` draws the
    bootstrap (a fixed seed by default, so a table is reproducible).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.asarray(x, float)
    r = np.asarray(r, float)
    m = np.asarray(m, float)
    order = np.argsort(x, kind="stable")
    x, r, m = x[order], r[order], m[order]
    ok = np.isfinite(x) & np.isfinite(r) & np.isfinite(m)
    x, r, m = x[ok], r[ok], m[ok]
    nan = math.nan
    if len(x) < 2:
        return Crossing(nan, nan, nan, nan, nan, "", 0, "fewer than two usable points")
    if z is None:
        z = threshold(len(x))
    signs = [_sign(ri, mi, z) for ri, mi in zip(r, m, strict=True)]
    if ties_positive:
        signs = [-1 if sg < 0 else 1 for sg in signs]
    decided = [(k, s) for k, s in enumerate(signs) if s != 0]
    changes = [(a, b) for (a, sa), (b, sb) in zip(decided, decided[1:], strict=False) if sa != sb]
    if not changes:
        if not decided:
            note = f"no crossing in range: a tie within {z:.2f} MCSE at every value"
        else:
            word = words[0] if decided[0][1] > 0 else words[1]
            ties = len(x) - len(decided)
            note = f"no crossing in range: {word} at every decided value"
            note += f" ({ties} tie{'s' if ties != 1 else ''} within {z:.2f} MCSE)" if ties else ""
        return Crossing(nan, nan, nan, nan, nan, "", 0, note)
    a, b = changes[0]
    # inside the bracket, the adjacent pair whose point estimates change sign (ties between the
    # decided ends are noisy; a line through all of them is biased by the curve's bend)
    side = signs[a]
    # (decided points keep their call, ties take the sign of their estimate; the pair exists
    # because the bracket's ends have opposite calls)
    point = [signs[i] if signs[i] != 0 else int(np.sign(r[i])) for i in range(len(r))]
    k = next(i for i in range(a, b) if point[i] == side and point[i + 1] != side)
    root, lo, hi, lost = local_root(x, r, m, k, rng, level)
    # the grid's own error: how far two other readings of the same cells (the straight line
    # through the pair, the polynomial through the window) move the crossing; the larger move
    moves = [root - straight_root(x, r, k), root - polynomial_root(x, r, k)]
    grid_effect = max((d for d in moves if math.isfinite(d)), key=abs)
    # the interpolant's own error between two values is unknown; the larger move estimates it,
    # added in quadrature to each side
    mc_half = (hi - lo) / 2.0
    lo = root - math.hypot(root - lo, grid_effect)
    hi = root + math.hypot(hi - root, grid_effect)
    notes = []
    # the bracket's ends are decided beyond Monte Carlo error (Bonferroni), so the crossing lies
    # inside it: the interval is cut at the bracket
    if lo < x[a] or hi > x[b]:
        notes.append("the bootstrap interval reaches beyond the bracket and is cut at its ends")
        lo, hi = max(lo, float(x[a])), min(hi, float(x[b]))
    spacing = float(x[k + 1] - x[k])
    coarse = (
        lost > (1.0 - level) / 2.0 or (hi - lo) > COARSE * spacing or abs(grid_effect) > mc_half
    )
    if lost > (1.0 - level) / 2.0:
        notes.append(f"{lost:.0%} of bootstrap curves do not cross within the neighbouring cells")
    if coarse:
        notes.append(
            f"located to ±{(hi - lo) / 2:.3g} on a pair {spacing:g} apart: needs cells in between"
        )
    if len(changes) > 1:
        notes.append(f"the sign changes {len(changes)} times; the first change is reported")
    if b - a > 1:
        notes.append(f"{b - a - 1} tie(s) inside the bracket")
    better = "above" if signs[b] > 0 else "below"
    return Crossing(
        float(x[a]), float(x[b]), float(root), float(lo), float(hi), better, len(changes),
        "; ".join(notes), float(grid_effect), bool(coarse),
    )  # fmt: skip
