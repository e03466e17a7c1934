"""Calibration of crossing and optimum intervals on synthetic curves with known roots and minima,
sampled on grids like the default study's, beside the old straight-line (Fieller) intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special

from lossstudy.sweeps import fieller_root, find_crossing, find_optimum


def _are_lad_t(df: np.ndarray) -> np.ndarray:
    """LAD's asymptotic efficiency against OLS under t errors (root 4.68 in df)."""
    f0 = np.exp(special.gammaln((df + 1) / 2) - special.gammaln(df / 2)) / np.sqrt(df * np.pi)
    return 4 * f0**2 * df / (df - 2) - 1


#: (curve − 1 as a function of the knob, the study's grid for that knob, search range for the root)
CURVES = {
    "t_df": (_are_lad_t, np.array([2.5, 3, 4, 5, 6, 8, 12, 20, 50.0]), (3.0, 20.0)),
    "contamination": (
        lambda e: 1.6 * (1 - np.exp(-e / 0.08)) - 0.5,
        np.array([0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3]),
        (0.0, 0.3),
    ),
    "rational": (
        lambda s: (1 + 40 * s**2) / (1.15 + 8 * s**2) - 1,
        np.array([0, 0.1, 0.2, 0.3, 0.5]),
        (0.0, 0.5),
    ),
    "tanh": (lambda x: np.tanh(3 * (x - 0.37)), np.linspace(0.0, 1.0, 6), (0.0, 1.0)),
}
NOISE = (0.01, 0.03)  # MCSE per unit of (1 + |curve|): from grid-dominated to noise-dominated
REPS = 80  # per curve and noise level: 640 series


def _old_interval(x: np.ndarray, r: np.ndarray, m: np.ndarray, cr) -> tuple[float, float]:  # noqa: ANN001
    """The previous method: Fieller's interval for the straight line through the pair that
    holds the crossing, cut at the bracket (the bracket where Fieller's is unbounded)."""
    k = int(np.clip(np.searchsorted(x, cr.crossing, side="right") - 1, 0, len(x) - 2))
    _, lo, hi = fieller_root(x[[k, k + 1]], r[[k, k + 1]], m[[k, k + 1]])
    if not math.isfinite(lo):
        return cr.bracket_low, cr.bracket_high
    return max(lo, cr.bracket_low), min(hi, cr.bracket_high)


def test_crossing_intervals_cover_known_roots_at_their_level():
    """Over 4 curves × 2 noise levels × 80 series (≈ 640 located crossings) the 95% intervals
    cover the true root 93–97% of the time; the MCSE of the coverage is
    √(0.95 · 0.05 / 640) ≈ 0.0086, so the band is ± 2.3 MCSE. The old straight-line intervals
    on the same series cover far less (about 60%: the curve's bend between swept values moves
    the root by more than its Monte Carlo error on these grids)."""
    rng = np.random.default_rng(11)
    new = old = found = 0
    for f, x, (a, b) in CURVES.values():
        root = optimize.brentq(f, a + 1e-9, b)
        y = f(x)
        for se in NOISE:
            m = se * (1 + 0.5 * np.abs(y))
            for _ in range(REPS):
                r = y + rng.standard_normal(x.size) * m
                cr = find_crossing(x, r, m, rng=rng)
                if not math.isfinite(cr.crossing):
                    continue
                found += 1
                new += cr.ci_low <= root <= cr.ci_high
                lo, hi = _old_interval(x, r, m, cr)
                old += lo <= root <= hi
    assert found > 600
    assert 0.93 <= new / found <= 0.97
    assert old / found < 0.85


def test_grid_effect_is_measured_and_flagged_where_it_dominates():
    """Noise-free exact values of a bent curve: no Monte Carlo error is left, the crossing
    differs from the straight line's root, and the row asks for cells in between."""
    f, x, _ = CURVES["rational"]
    y = f(x)
    cr = find_crossing(x, y, np.full_like(x, 1e-6))
    assert abs(cr.grid_effect) > 0.005
    assert cr.needs_refinement
    assert "needs cells in between" in cr.note
    # on a fine grid the grid effect all but vanishes and the interval holds the root
    fine = np.linspace(0.0, 0.5, 51)
    cr = find_crossing(fine, f(fine), np.full_like(fine, 0.01))
    assert abs(cr.grid_effect) < 1e-3
    assert cr.ci_low <= optimize.brentq(f, 1e-9, 0.5) <= cr.ci_high


def test_crossing_of_a_pchip_through_exact_values_is_its_theory():
    """Theory for linear estimators joins exact values by the same monotone cubic: with tiny
    Monte Carlo error the crossing equals that curve's root."""
    from scipy.interpolate import PchipInterpolator

    x = np.array([0.0, 0.1, 0.2, 0.3, 0.5])
    y = np.array([-0.2, -0.05, 0.1, 0.4, 0.9])
    truth = optimize.brentq(PchipInterpolator(x, y), 0.0, 0.5)
    cr = find_crossing(x, y, np.full_like(x, 1e-9))
    assert cr.crossing == pytest.approx(truth, abs=1e-7)


# --------------------------------------------------------------------------- optima

GRID = np.array([0, 0.3, 1, 3, 6, 10, 15, 30, 100.0])  # the default study's ridge penalties


def _ridge_losses(rng: np.random.Generator, best: float, reps: int) -> np.ndarray:
    """Squared errors of ridge on one orthogonal coefficient (d = 25, σ = 1) with the slope
    drawn from N(0, 1/best) each replicate: the MSE's argmin is exactly ``best`` (the Bayes
    rule σ²/τ²); the members share each replicate's data, as in the study."""
    beta = rng.normal(0.0, 1.0 / math.sqrt(best), (reps, 1))
    z = rng.standard_normal((reps, 1))
    return ((-GRID[None, :] * beta + 5.0 * z) / (25.0 + GRID[None, :])) ** 2


def _optimum_coverage(best_values: tuple[float, ...], series: int, reps: int) -> float:
    rng = np.random.default_rng(5)
    hits = 0
    for best in best_values:
        for _ in range(series):
            o = find_optimum(GRID, _ridge_losses(rng, best, reps), rng)
            hits += o.ci_low <= best <= o.ci_high
    return hits / (series * len(best_values))


def test_optimum_intervals_cover_known_minima(monkeypatch):
    """160 series of 200 replicates at each of four minima (640 in all, as for the crossings:
    coverage MCSE ≈ 0.0086 at 0.95, so the band is ± 2.3 MCSE): the 95% intervals cover
    93–97% of the time. The same series without the grid term (the old replicate bootstrap of
    the linear vertex alone) cover less."""
    from lossstudy.sweeps import optimum

    bests = (0.5, 2.0, 8.0, 12.0)
    new = _optimum_coverage(bests, 160, 200)
    monkeypatch.setattr(optimum, "grid_effect", lambda values, mse: 0.0)
    old = _optimum_coverage(bests, 160, 200)
    assert 0.93 <= new <= 0.97
    assert old < new


def test_optimum_beyond_what_the_grid_resolves_is_flagged():
    """Minimum at 45 between members 30 and 100, many replicates: the parabolas disagree by
    more than the Monte Carlo error, so the row asks for members in between."""
    rng = np.random.default_rng(3)
    o = find_optimum(GRID, _ridge_losses(rng, 45.0, 4000), rng)
    assert abs(o.grid_effect) > 5
    assert o.needs_refinement and "needs members in between" in o.note
