"""Sweeps: crossing and optimum finders on synthetic series with known answers, theory roots
against independent numerical roots, and the series read from a scenario table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special, stats

from lossstudy.config import load_study
from lossstudy.sweeps import fieller_root, find_crossing, find_optimum, sweep_series, threshold
from lossstudy.sweeps import theory as th
from lossstudy.sweeps.optimum import refine
from lossstudy.sweeps.words import crossover_sentences

# --------------------------------------------------------------------------- crossings

X = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def test_exact_series_crosses_at_its_root():
    r = 0.4 - 0.2 * X  # root at 2, positive below
    cr = find_crossing(X, r, np.full_like(X, 0.01))
    assert (cr.bracket_low, cr.bracket_high) == (1.0, 3.0)  # 2 itself is a tie (r = 0)
    assert cr.crossing == pytest.approx(2.0, abs=1e-12)
    assert cr.ci_low < 2.0 < cr.ci_high
    assert cr.better == "below"
    assert cr.changes == 1


def test_crossing_between_adjacent_values_is_their_interpolation():
    x = np.array([1.0, 2.0])
    cr = find_crossing(x, np.array([-0.3, 0.1]), np.array([0.01, 0.01]))
    assert cr.crossing == pytest.approx(1.75)
    assert cr.better == "above"


def test_no_crossing_says_which_side_and_counts_ties():
    r = np.array([0.5, 0.4, 0.3, 0.0, 0.2])
    cr = find_crossing(X[:5], r, np.full(5, 0.05))
    assert math.isnan(cr.crossing) and math.isnan(cr.bracket_low)
    assert "no crossing in range" in cr.note and "better" in cr.note and "1 tie" in cr.note


def test_all_ties_is_no_crossing():
    cr = find_crossing(X, np.zeros_like(X), np.ones_like(X))
    assert math.isnan(cr.crossing)
    assert "tie" in cr.note


def test_ties_inside_the_bracket_are_reported_and_used():
    r = np.array([0.3, 0.2, 0.01, -0.01, -0.2, -0.3, -0.4])
    cr = find_crossing(X, r, np.full_like(X, 0.03))
    assert cr.bracket_low == 1.0 and cr.bracket_high == 4.0
    assert "2 tie(s) inside the bracket" in cr.note
    assert 2.0 < cr.crossing < 3.0


def test_several_sign_changes_report_the_first():
    r = np.array([0.5, -0.5, -0.5, 0.5, 0.5, -0.5, -0.5])
    cr = find_crossing(X, r, np.full_like(X, 0.01))
    assert cr.changes == 3
    assert cr.bracket_low == 0 and cr.bracket_high == 1
    assert "changes 3 times" in cr.note


def test_nan_points_are_left_out():
    r = 0.4 - 0.2 * X
    r[3] = np.nan
    cr = find_crossing(X, r, np.full_like(X, 0.01))
    assert cr.crossing == pytest.approx(2.0, abs=1e-9)


def test_onset_counts_ties_as_nominal():
    r = np.array([0.0, 0.001, -0.003, -0.05, -0.2])  # coverage minus nominal
    m = np.full(5, 0.005)
    strict = find_crossing(X[:5], r, m)
    onset = find_crossing(X[:5], r, m, ties_positive=True, words=("nominal", "under-covers"))
    assert math.isnan(strict.crossing)
    assert onset.bracket_low == 2.0 and onset.bracket_high == 3.0
    assert onset.better == "below"


def test_threshold_is_bonferroni():
    assert threshold(1) == pytest.approx(1.959964, abs=1e-6)
    assert threshold(9) == pytest.approx(stats.norm.ppf(1 - 0.025 / 9))


def test_fieller_interval_covers_the_true_root_at_its_level():
    """Noisy linear series with a known root: the 95% interval covers it about 95% of the time,
    and the bracket never excludes the true root when the signs are called."""
    rng = np.random.default_rng(1)
    x = np.linspace(0.0, 1.0, 7)
    root, slope, sd = 0.43, -1.0, 0.05
    hits = found = 0
    for _ in range(1000):
        m = np.full_like(x, sd)
        r = slope * (x - root) + rng.normal(0, sd, x.size)
        cr = find_crossing(x, r, m)
        if not math.isfinite(cr.crossing):
            continue
        found += 1
        hits += cr.ci_low <= root <= cr.ci_high
    assert found > 900  # true effects are found
    assert 0.92 <= hits / found <= 0.985


def test_fieller_unbounded_when_slope_is_noise():
    root, lo, hi = fieller_root(np.array([0.0, 1.0]), np.array([0.01, -0.01]), np.array([1, 1.0]))
    assert math.isinf(lo) and math.isinf(hi)


def test_true_null_family_has_few_false_crossings():
    """Every comparison exactly 1 (no difference): Bonferroni keeps false crossings under 5%
    per series."""
    rng = np.random.default_rng(2)
    false = sum(
        math.isfinite(find_crossing(X, rng.normal(0, 0.02, X.size), np.full_like(X, 0.02)).crossing)
        for _ in range(2000)
    )
    assert false / 2000 <= 0.05


# --------------------------------------------------------------------------- optima


def _quadratic_losses(rng: np.random.Generator, values: np.ndarray, best: float, reps: int):
    """Per-replicate losses whose mean is (v − best)² + 1, strongly correlated across members."""
    common = rng.exponential(1.0, (reps, 1))
    return (values[None, :] - best) ** 2 + common + rng.normal(0, 0.02, (reps, values.size))


def test_optimum_finds_a_known_minimum_with_an_interval_around_it():
    rng = np.random.default_rng(3)
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 6.0])
    opt = find_optimum(values, _quadratic_losses(rng, values, 2.4, 2000), rng)
    assert opt.argmin == pytest.approx(2.4, abs=0.05)
    assert opt.ci_low <= 2.4 <= opt.ci_high
    assert "value swept" not in opt.note  # not at an edge (a coarse-grid flag may be noted)


def test_optimum_at_the_edge_says_so():
    rng = np.random.default_rng(4)
    values = np.array([1.0, 2.0, 3.0])
    opt = find_optimum(values, _quadratic_losses(rng, values, 0.0, 500), rng)
    assert opt.argmin == 1.0
    assert "lowest value swept" in opt.note


def test_refine_is_exact_for_a_parabola():
    values = np.array([0.0, 1.0, 3.0, 6.0, 10.0])
    assert refine(values, (values - 4.2) ** 2) == pytest.approx(4.2)


def test_failed_fits_drop_whole_replicates():
    rng = np.random.default_rng(5)
    values = np.array([0.0, 1.0, 2.0, 3.0])
    losses = _quadratic_losses(rng, values, 1.5, 300)
    losses[:10, 2] = np.nan
    opt = find_optimum(values, losses, rng)
    assert "10 replicates" in opt.note


# --------------------------------------------------------------------------- theory roots

T_KNOBS = (
    load_study(
        {
            "seed": 1,
            "replicates": 10,
            "scenarios": {"t": {"errors": {"distribution": "t", "df": 5}}},
            "estimators": {"ols": {"method": "ols"}},
        }
    )
    .scenarios["t"]
    .knobs
)


def _are_lad_t(df: float) -> float:
    """4 f(0)² Var(e) for t errors, in closed form (independent of lossstudy.theory)."""
    f0 = math.exp(special.gammaln((df + 1) / 2) - special.gammaln(df / 2)) / math.sqrt(df * math.pi)
    return 4 * f0**2 * df / (df - 2)


def _are_huber_t(df: float, k: float = 1.345) -> float:
    """Var(e) / (s² E[ψ²] / P(|e| ≤ ks)²), s = median|e| / Φ⁻¹(3/4), by direct quadrature."""
    law = stats.t(df)
    s = law.ppf(0.75) / stats.norm.ppf(0.75)
    c = k * s
    inside = integrate.quad(lambda e: (e / s) ** 2 * law.pdf(e), -c, c)[0]
    p = law.cdf(c) - law.cdf(-c)
    return (df / (df - 2)) / (s * s * (inside + k * k * (1 - p)) / p**2)


@pytest.mark.parametrize(
    ("method", "independent", "expected"),
    [("lad", _are_lad_t, 4.68), ("huber", _are_huber_t, 17.5)],
)
def test_t_crossings_match_independent_roots(method, independent, expected):
    values = [2.5, 3, 4, 5, 6, 8, 12, 20, 50]
    curve, _ = th.comparison_curve(
        T_KNOBS, "errors.df", values, 1, {"method": method, "k": 1.345}, {"method": "ols"},
        "rel_mse", 1,
    )  # fmt: skip
    roots = th.roots(curve, th.grid(values))
    truth = optimize.brentq(lambda d: independent(d) - 1.0, 3.0, 40.0)
    assert len(roots) == 1
    assert roots[0] == pytest.approx(truth, rel=1e-6)
    assert roots[0] == pytest.approx(expected, abs=0.05)  # science.md, section 4


@pytest.mark.parametrize(("method", "expected"), [("lad", 0.101), ("huber", 0.0090)])
def test_contamination_crossings_match_the_reference_table(method, expected):
    knobs = (
        load_study(
            {
                "seed": 1,
                "replicates": 10,
                "scenarios": {"c": {"errors": {"distribution": "contaminated"}}},
                "estimators": {"ols": {"method": "ols"}},
            }
        )
        .scenarios["c"]
        .knobs
    )
    values = [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3]
    curve, _ = th.comparison_curve(
        knobs, "errors.fraction", values, 1, {"method": method}, {"method": "ols"},
        "rel_mse", 1,
    )  # fmt: skip
    roots = th.roots(curve, th.grid(values))
    assert roots[0] == pytest.approx(expected, rel=0.01)


def test_no_are_theory_off_the_error_knobs():
    curve, why = th.comparison_curve(
        T_KNOBS, "heteroskedasticity.strength", [0, 1], 1, {"method": "lad"},
        {"method": "ols"}, "rel_mse", 1,
    )  # fmt: skip
    assert curve is None and "not an error-distribution knob" in why


def test_ridge_exact_argmin_is_the_bayes_rule_under_a_gaussian_prior():
    study = load_study(
        {
            "seed": 3,
            "replicates": 10,
            "defaults": {"n": 60},
            "scenarios": {"p": {"prior": {"tau": 0.5}, "errors": {"scale": 1.5}}},
            "estimators": {"ols": {"method": "ols"}},
        }
    )
    knobs = study.scenarios["p"].knobs
    curve, _ = th.ridge_mse(knobs, 3, "p", {"method": "ridge", "penalty": 1.0}, 1)
    best = th.argmin(curve, 0.0, 100.0)
    assert th.bayes_penalty(knobs) == pytest.approx(9.0)
    assert best == pytest.approx(9.0, rel=1e-5)


def test_wls_crossing_along_heteroskedasticity_matches_brute_force_moments():
    """Exact Var(OLS)/Var(WLS) of x1 at each swept strength, each cell on its own design: the
    curve's values equal variances computed directly from the design, and its root is the root
    of the monotone cubic (PCHIP) through them, as the crossings interpolate."""
    values = [0.0, 0.25, 0.5, 1.0, 2.0]
    study = load_study(
        {
            "seed": 5,
            "replicates": 10,
            "defaults": {"n": 80},
            "scenarios": {"h": {"sweep": {"heteroskedasticity.strength": values}}},
            "estimators": {"ols": {"method": "ols"}},
        }
    )
    cells = [(v, sc.knobs, sc.id) for v, sc in zip(values, study.scenarios.values(), strict=True)]
    spec, ref = {"method": "wls", "predictor": 1, "strength": 2.0}, {"method": "ols"}
    curve, _ = th.comparison_curve(cells[0][1], "heteroskedasticity.strength", values, 5,
                                   spec, ref, "rel_efficiency", 1, cells)  # fmt: skip
    from lossstudy.theory.exact import linear_dgp

    def brute(g: float, knobs: dict, sid: str) -> float:
        X = linear_dgp(knobs, 5, sid)[0].X
        w = 1 / (1 + 2.0 * X[:, 1] ** 2)
        h2 = 1 + g * X[:, 1] ** 2
        a = np.linalg.pinv(X)
        b = np.linalg.solve((X.T * w) @ X, X.T * w)
        return float(((a * h2) @ a.T)[1, 1]) / float(((b * h2) @ b.T)[1, 1])

    exact = [brute(v, k, sid) for v, k, sid in cells]
    assert [curve(v) for v in values] == pytest.approx(exact, rel=1e-10)
    roots = th.roots(curve, th.grid(values))
    from scipy.interpolate import PchipInterpolator

    join = PchipInterpolator(values, exact)
    truth = optimize.brentq(lambda g: float(join(g)) - 1, 0.0, 2.0)
    assert len(roots) == 1 and roots[0] == pytest.approx(truth, rel=1e-8)
    assert 0.1 < truth < 1.0  # WLS weighted for strength 2 overtakes OLS well before it


# --------------------------------------------------------------------------- series, words


def _scen() -> pd.DataFrame:
    study = load_study(
        {
            "seed": 1,
            "replicates": 10,
            "scenarios": {
                "gm": {},
                "t": {"errors": {"distribution": "t", "df": 5}, "sweep": {"errors.df": [20, 3, 5]}},
            },
            "grid": {"n": [30, 60]},
            "estimators": {"ols": {"method": "ols"}},
        }
    )
    from lossstudy.config import flatten

    rows = []
    for sc in study.scenarios.values():
        row = {"scenario": sc.id, "base": sc.base, "replicates": sc.replicates}
        row |= {"sweep": ",".join(sc.sweep_values), "anchor": sc.anchor}
        row |= {k: v for k, v in flatten(sc.knobs).items() if not isinstance(v, list)}
        rows.append(row)
    return pd.DataFrame(rows)


def test_series_hold_other_factors_fixed_and_sort_values():
    series = sweep_series(_scen())
    assert [(s.base, s.knob, s.fixed_text) for s in series] == [
        ("t", "errors.df", "n=30"),
        ("t", "errors.df", "n=60"),
    ]
    assert series[0].values == [3.0, 5.0, 20.0]
    assert series[0].scenarios == ["t-df3-n30", "t-df5-n30", "t-df20-n30"]


def test_sentences_word_asymptotic_theory_as_a_limit_and_exact_misses_as_disagreements():
    base = {"scenario": "t", "knob": "errors.df", "fixed": "n=400", "versus": "ols",
            "measure": "rel_mse", "bracket_low": 4, "bracket_high": 5, "crossing": 3.8,
            "ci_low": 3.6, "ci_high": 4.0, "note": "", "better": "below", "values": "3 4 5",
            "cells": "", "needs_refinement": False}  # fmt: skip
    cross = pd.DataFrame(
        [
            {**base, "estimator": "lad", "theory": 4.68, "theory_kind": "asymptotic",
             "agreement": "finite-n"},
            {**base, "estimator": "wls", "theory": 4.3, "theory_kind": "exact",
             "agreement": "disagrees"},
            {**base, "estimator": "ridge", "theory": 3.9, "theory_kind": "exact",
             "agreement": "covered", "needs_refinement": True},
        ]
    )  # fmt: skip
    text = crossover_sentences(cross).set_index("estimator")["text"]
    assert "finite-n crossing of 3.8 (3.6–4.0) vs asymptotic 4.7" in text["lad"]
    assert "disagrees with exact theory 4.3" in text["wls"]
    assert "exact theory 3.9" in text["ridge"] and "disagrees" not in text["ridge"]
    assert "grid too coarse" in text["ridge"]


def test_sentences_trace_to_rows_and_use_the_largest_n():
    cross = pd.DataFrame(
        [
            {"scenario": "t", "knob": "errors.df", "fixed": f"n={n}", "estimator": "lad",
             "versus": "ols", "measure": "rel_mse", "bracket_low": 4, "bracket_high": 5,
             "crossing": c, "ci_low": c - 0.3, "ci_high": c + 0.4, "theory": 4.68, "note": "",
             "better": "below", "values": "3 4 5 20", "cells": ""}
            for n, c in ((30, 4.1), (60, 4.5))
        ]
    )  # fmt: skip
    words = crossover_sentences(cross)
    assert len(words) == 1
    text = words["text"].iloc[0]
    assert "falls below 4.5 (4.2–4.9); theory 4.7" in text and "n = 60" in text
    assert words["figure"].iloc[0] == "sweep_t"


def test_crossover_notes_where_its_calls_rest_on_an_unreliable_mcse():
    from lossstudy.sweeps.study import crossovers

    scen = _scen()
    perf_rows = []
    for sid in scen["scenario"]:
        df = float(scen.loc[scen["scenario"] == sid, "errors.df"].iloc[0])
        for est, (value, valid) in {
            "ols": (1.0, df > 4),
            "lad": (1.3 if df < 4 else 0.9, df > 4),
        }.items():
            perf_rows.append(
                {"scenario": sid, "estimator": est, "term": "x1", "measure": "rel_mse",
                 "value": value, "mcse": 0.0 if est == "ols" else 0.02, "n_used": 100,
                 "defined": True, "note": "", "mcse_valid": valid}
            )  # fmt: skip
    perf = pd.DataFrame(perf_rows)
    specs = {"ols": {"method": "ols", "se": "classical"}, "lad": {"method": "lad"}}
    cross, _ = crossovers(perf, scen, {}, specs, ["ols", "lad"], "ols", 1, 0.95)
    row = cross[(cross["fixed"] == "n=30") & (cross["measure"] == "rel_mse")].iloc[0]
    assert row["bracket_low"] == 3 and row["bracket_high"] == 5
    assert "MCSE unreliable at errors.df = 3 " in row["note"]
