"""Where a comparison changes sign along a series: bracket, crossing and Fieller interval.

Pure functions on arrays (x, statistic, MCSE), so they are tested on synthetic series with known
roots; :mod:`lossstudy.sweeps.study` feeds them the performance table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: two-sided level of the Fieller interval of a crossing
CI_Z = 1.959963984540054


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
) -> Crossing:
    """First sign change of ``r`` beyond ``z``·MCSE along increasing ``x`` (see the package doc).

    Points with a non-finite statistic or MCSE are left out. ``z`` defaults to
    :func:`threshold` of the number of usable points. ``words`` name a positive and a negative
    statistic in the notes. With ``ties_positive`` a tie counts as the positive side, so the
    crossing is the *onset* of a significantly negative statistic (coverage falling below the
    nominal level from a tie, which strict signs would never call a change).
    """
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
    idx = np.array([k, k + 1])
    xs, rs, ms = x[idx], r[idx], m[idx]
    positive = ms > 0
    if positive.sum() >= 2:
        root, lo, hi = fieller_root(xs[positive], rs[positive], ms[positive])
    else:  # exact comparisons (MCSE 0) on both ends: interpolate, no Monte Carlo error
        root = float(np.interp(0.0, [rs[0], rs[-1]], [xs[0], xs[-1]]))
        lo = hi = root
    notes = []
    if not (x[k] <= root <= x[k + 1]):
        notes.append("the interpolated root fell outside its pair of values and is clipped to it")
        root = min(max(root, x[k]), x[k + 1])
    # the bracket's ends are decided beyond Monte Carlo error (Bonferroni), so the crossing lies
    # inside it: the interval is Fieller's cut at the bracket, or the bracket where Fieller's is
    # unbounded (the two values' difference is within Monte Carlo error)
    if not math.isfinite(lo) or not math.isfinite(hi):
        notes.append("Fieller's interval is unbounded (the pair differs within Monte Carlo "
                     "error): the interval is the bracket")  # fmt: skip
        lo, hi = float(x[a]), float(x[b])
    elif lo < x[a] or hi > x[b]:
        notes.append("Fieller's interval reaches beyond the bracket and is cut at its ends")
        lo, hi = max(lo, float(x[a])), min(hi, float(x[b]))
    if len(changes) > 1:
        notes.append(f"the sign changes {len(changes)} times; the first change is reported")
    if b - a > 1:
        notes.append(f"{b - a - 1} tie(s) inside the bracket")
    better = "above" if signs[b] > 0 else "below"
    return Crossing(
        float(x[a]), float(x[b]), float(root), lo, hi, better, len(changes), "; ".join(notes)
    )
