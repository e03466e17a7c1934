"""Tests for lossstudy.performance: every measure and MCSE against the formulas in
Morris, White & Crowther (2019), computed here independently with plain loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lossstudy.moments import moment_rules
from lossstudy.performance import MEASURES, OUTPUT_COLUMNS, performance_table

Z = 1.96


def tidy(
    estimator: str,
    estimates,
    *,
    true_value=0.0,
    std_error=None,
    ci=None,
    status=None,
    term: str = "b1",
    scenario: str = "s1",
) -> pd.DataFrame:
    """Tidy per-replicate rows for one estimator x term; ``ci`` is (low, high) arrays."""
    est = np.asarray(estimates, dtype=float)
    n = est.size
    se = np.full(n, np.nan) if std_error is None else np.broadcast_to(std_error, n).astype(float)
    low, high = (np.full(n, np.nan), np.full(n, np.nan)) if ci is None else ci
    return pd.DataFrame(
        {
            "scenario": scenario,
            "replicate": np.arange(n),
            "estimator": estimator,
            "term": term,
            "estimate": est,
            "std_error": se,
            "ci_low": np.asarray(low, dtype=float),
            "ci_high": np.asarray(high, dtype=float),
            "status": ["ok"] * n if status is None else list(status),
            "true_value": np.broadcast_to(true_value, n).astype(float),
        }
    )


def wald(est, se, z=Z):
    """Symmetric intervals est +- z*se."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    return est - z * se, est + z * se


def row(table: pd.DataFrame, estimator: str, measure: str, term: str = "b1") -> pd.Series:
    """The single output row for one estimator x term x measure."""
    hit = table[(table.estimator == estimator) & (table.term == term) & (table.measure == measure)]
    assert len(hit) == 1
    return hit.iloc[0]


# ---------------------------------------------------------------------------------------------
# independent reference computations (plain Python loops)
# ---------------------------------------------------------------------------------------------


def mean(xs):
    return sum(xs) / len(xs)


def sample_var(xs):
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def sample_cov(xs, ys):
    mx, my = mean(xs), mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (len(xs) - 1)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return (s[(n - 1) // 2] + s[n // 2]) / 2


def direct_single(d, se, low, high, truth):
    """All single-estimator measures as {measure: (value, mcse)} straight from the formulas."""
    n = len(d)
    out = {}
    bias = mean(d)
    ss = sum((x - bias) ** 2 for x in d)
    out["bias"] = (bias, math.sqrt(ss / (n * (n - 1))))
    empse = math.sqrt(ss / (n - 1))
    out["empse"] = (empse, empse / math.sqrt(2 * (n - 1)))
    sq = [x * x for x in d]
    mse = mean(sq)
    mse_mcse = math.sqrt(sum((s - mse) ** 2 for s in sq) / (n * (n - 1)))
    out["mse"] = (mse, mse_mcse)
    out["rmse"] = (math.sqrt(mse), mse_mcse / (2 * math.sqrt(mse)))
    v = [s * s for s in se]
    modse = math.sqrt(mean(v))
    var_v = sample_var(v)
    out["modse"] = (modse, math.sqrt(var_v / (4 * n * modse**2)))
    ratio = modse / empse
    out["rel_error_modse"] = (
        100 * (ratio - 1),
        100 * ratio * math.sqrt(var_v / (4 * n * modse**4) + 1 / (2 * (n - 1))),
    )
    cov = mean([1.0 if lo <= t <= hi else 0.0 for lo, hi, t in zip(low, high, truth, strict=True)])
    out["coverage"] = (cov, math.sqrt(cov * (1 - cov) / n))
    be = mean(
        [1.0 if lo <= t + bias <= hi else 0.0 for lo, hi, t in zip(low, high, truth, strict=True)]
    )
    out["be_coverage"] = (be, math.sqrt(be * (1 - be) / n))
    rej = mean([1.0 if (lo > 0 or hi < 0) else 0.0 for lo, hi in zip(low, high, strict=True)])
    out["rejection"] = (rej, math.sqrt(rej * (1 - rej) / n))
    s = sorted(d)
    lo_i = min(max(math.floor(n / 2 - Z * math.sqrt(n) / 2), 0), n - 1)
    hi_i = min(max(math.ceil(n / 2 + Z * math.sqrt(n) / 2), 0), n - 1)
    med = median(d)
    out["median_bias"] = (med, (s[hi_i] - s[lo_i]) / (2 * Z))
    out["mad"] = (1.4826 * median([abs(x - med) for x in d]), direct_mad_bootstrap(d))
    return out


def direct_mad_bootstrap(d):
    """The documented bootstrap: 200 resamples of the sorted values, fresh default_rng(0)."""
    s = np.sort(np.asarray(d, dtype=float))
    n = s.size
    idx = np.random.default_rng(0).integers(0, n, size=(200, n))
    mads = []
    for b in range(200):
        sample = [float(s[i]) for i in idx[b]]
        m = median(sample)
        mads.append(1.4826 * median([abs(x - m) for x in sample]))
    return math.sqrt(sample_var(mads))


def direct_relative(d_ref, d_this):
    """Relative precision / efficiency / MSE of ``this`` vs the reference on paired errors."""
    n = len(d_ref)
    e_ref = math.sqrt(sample_var(d_ref))
    e_this = math.sqrt(sample_var(d_this))
    rho = np.corrcoef(d_ref, d_this)[0, 1]
    r2 = (e_ref / e_this) ** 2
    prec_mcse = 200 * r2 * math.sqrt((1 - rho**2) / (n - 1))
    a = [x * x for x in d_ref]
    b = [x * x for x in d_this]
    ratio = mean(a) / mean(b)
    var_r = (
        (sample_var(a) - 2 * ratio * sample_cov(a, b) + ratio**2 * sample_var(b)) / n / mean(b) ** 2
    )
    return {
        "rel_precision": (100 * (r2 - 1), prec_mcse),
        "rel_efficiency": (r2, prec_mcse / 100),
        "rel_mse": (ratio, math.sqrt(var_r)),
    }


# ---------------------------------------------------------------------------------------------
# shape of the output
# ---------------------------------------------------------------------------------------------


def test_measures_and_columns_are_as_specified():
    assert MEASURES == (
        "bias",
        "empse",
        "mse",
        "rmse",
        "rel_precision",
        "rel_efficiency",
        "rel_mse",
        "modse",
        "rel_error_modse",
        "coverage",
        "be_coverage",
        "rejection",
        "median_bias",
        "mad",
    )
    est = [0.1, -0.2, 0.3]
    frame = pd.concat(
        [
            tidy("zeta", est, std_error=1.0, ci=wald(est, 1.0), term="t2"),
            tidy("zeta", est, std_error=1.0, ci=wald(est, 1.0), term="t1"),
            tidy("alpha", est, std_error=1.0, ci=wald(est, 1.0), term="t2"),
            tidy("alpha", est, std_error=1.0, ci=wald(est, 1.0), term="t1"),
        ]
    )
    table = performance_table(frame, "zeta", 0.95)
    assert tuple(table.columns) == OUTPUT_COLUMNS
    assert list(table.columns) == [
        "scenario",
        "estimator",
        "term",
        "measure",
        "value",
        "mcse",
        "n_used",
        "defined",
        "note",
        "mcse_valid",
    ]
    assert len(table) == 2 * 2 * len(MEASURES) + 2  # + each estimator's risk on term model
    # first appearance order, not alphabetical
    assert list(pd.unique(table.estimator)) == ["zeta", "alpha"]
    assert list(pd.unique(table[(table.estimator == "alpha") & (table.term != "model")].term)) == [
        "t2",
        "t1",
    ]
    assert list(table.measure[: len(MEASURES)]) == list(MEASURES)
    assert (table.scenario == "s1").all()
    assert table.note.map(type).eq(str).all()
    assert (table.note == "").all()
    assert table.defined.all()
    assert table.mcse_valid.all()


def test_hand_checkable_four_replicates():
    # theta = 1, d = [0.5, -0.5, 1.0, 0.0]; intervals estimate +- 0.6
    est = np.array([1.5, 0.5, 2.0, 1.0])
    frame = tidy("ols", est, true_value=1.0, std_error=1.0, ci=(est - 0.6, est + 0.6))
    table = performance_table(frame, "ols", 0.95)

    def check(measure, value, mcse):
        r = row(table, "ols", measure)
        assert r.value == pytest.approx(value, abs=1e-12)
        assert r.mcse == pytest.approx(mcse, abs=1e-12)
        assert r.n_used == 4
        assert r.defined

    check("bias", 0.25, math.sqrt(1.25 / 12))  # sum of squared deviations = 1.25
    check("empse", math.sqrt(1.25 / 3), math.sqrt(1.25 / 3) / math.sqrt(6))
    check("mse", 0.375, math.sqrt(0.5625 / 12))  # d^2 = [.25, .25, 1, 0]
    check("rmse", math.sqrt(0.375), math.sqrt(0.5625 / 12) / (2 * math.sqrt(0.375)))
    # [0.9,2.1] [-0.1,1.1] [1.4,2.6] [0.4,1.6] contain 1: yes yes no yes
    check("coverage", 0.75, math.sqrt(0.75 * 0.25 / 4))
    # ... contain 1 + bias = 1.25: yes no no yes
    check("be_coverage", 0.5, math.sqrt(0.5 * 0.5 / 4))
    # ... exclude 0: yes no yes yes
    check("rejection", 0.75, math.sqrt(0.75 * 0.25 / 4))
    # sorted d = [-0.5, 0, 0.5, 1]; l = floor(2 - 1.96) = 0, u = ceil(3.96) = 4 -> clipped to 3
    check("median_bias", 0.25, 1.5 / (2 * Z))
    assert row(table, "ols", "mad").value == pytest.approx(1.4826 * 0.5)
    check("modse", 1.0, 0.0)


# ---------------------------------------------------------------------------------------------
# every measure against the direct computation
# ---------------------------------------------------------------------------------------------


def test_every_measure_matches_direct_computation():
    rng = np.random.default_rng(11)
    n = 37
    truth = 0.7
    d_a = rng.normal(0.1, 1.0, n)
    d_b = 0.6 * d_a + rng.normal(-0.05, 0.8, n)  # correlated with the reference
    se_a = rng.uniform(0.8, 1.2, n)
    se_b = rng.uniform(0.6, 1.4, n)
    est_a, est_b = truth + d_a, truth + d_b
    status_b = ["ok"] * n
    status_b[4] = "failed"
    frame = pd.concat(
        [
            tidy("a", est_a, true_value=truth, std_error=se_a, ci=wald(est_a, se_a)),
            tidy(
                "b", est_b, true_value=truth, std_error=se_b, ci=wald(est_b, se_b), status=status_b
            ),
        ]
    )
    table = performance_table(frame, "a", 0.95)

    keep_b = np.array([s == "ok" for s in status_b])
    cases = {
        "a": (d_a, se_a, est_a, n),
        "b": (d_b[keep_b], se_b[keep_b], est_b[keep_b], n - 1),
    }
    for name, (d, se, est, n_used) in cases.items():
        low, high = wald(est, se)
        expected = direct_single(
            [float(x) for x in d],
            [float(x) for x in se],
            list(low),
            list(high),
            [truth] * len(d),
        )
        for measure, (value, mcse) in expected.items():
            r = row(table, name, measure)
            assert r.value == pytest.approx(value, rel=1e-10, abs=1e-12), (name, measure)
            assert r.mcse == pytest.approx(mcse, rel=1e-10, abs=1e-12), (name, measure)
            assert r.n_used == n_used
            assert r.defined

    rel = direct_relative([float(x) for x in d_a[keep_b]], [float(x) for x in d_b[keep_b]])
    for measure, (value, mcse) in rel.items():
        r = row(table, "b", measure)
        assert r.value == pytest.approx(value, rel=1e-10), measure
        assert r.mcse == pytest.approx(mcse, rel=1e-10), measure
        assert r.n_used == n - 1
    for measure, value in (("rel_precision", 0.0), ("rel_efficiency", 1.0), ("rel_mse", 1.0)):
        r = row(table, "a", measure)
        assert (r.value, r.mcse, r.n_used, r.defined) == (value, 0.0, n, True)


def test_rel_efficiency_is_one_plus_rel_precision_over_100():
    rng = np.random.default_rng(2)
    frame = pd.concat([tidy(name, rng.normal(size=50)) for name in ("a", "b", "c")])
    table = performance_table(frame, "a", 0.95)
    for name in ("b", "c"):
        prec, eff = row(table, name, "rel_precision"), row(table, name, "rel_efficiency")
        assert eff.value == pytest.approx(1 + prec.value / 100)
        assert eff.mcse == pytest.approx(prec.mcse / 100)


def test_paired_rel_precision_uses_correlation_and_shared_replicates():
    rng = np.random.default_rng(5)
    n = 60
    d_ref = rng.normal(size=n)
    d_oth = 0.9 * d_ref + 0.3 * rng.normal(size=n)  # strongly correlated
    d_ref_in = d_ref.copy()
    d_ref_in[3] = np.nan  # reference unusable on replicate 3
    status_oth = ["ok"] * n
    status_oth[10] = "not_converged"  # other unusable on replicate 10
    frame = pd.concat([tidy("ref", d_ref_in), tidy("oth", d_oth, status=status_oth)])
    table = performance_table(frame, "ref", 0.95)

    both = np.ones(n, dtype=bool)
    both[[3, 10]] = False
    a, b = d_ref[both], d_oth[both]
    rho = np.corrcoef(a, b)[0, 1]
    ratio2 = (np.std(a, ddof=1) / np.std(b, ddof=1)) ** 2
    r = row(table, "oth", "rel_precision")
    assert r.n_used == n - 2
    assert r.value == pytest.approx(100 * (ratio2 - 1), rel=1e-12)
    assert r.mcse == pytest.approx(200 * ratio2 * np.sqrt((1 - rho**2) / (n - 3)), rel=1e-10)
    # the correlation matters: ignoring it would give a far larger MCSE
    assert r.mcse < 0.5 * 200 * ratio2 * np.sqrt(1 / (n - 3))
    # the unpaired EmpSEs would give a different ratio
    unpaired = (np.nanstd(d_ref_in, ddof=1) / np.std(d_oth[np.arange(n) != 10], ddof=1)) ** 2
    assert not np.isclose(100 * (unpaired - 1), r.value)
    # the estimators' own measures still use all their own usable replicates
    assert row(table, "ref", "empse").n_used == n - 1
    assert row(table, "oth", "empse").n_used == n - 1
    assert row(table, "ref", "rel_precision").n_used == n - 1


# ---------------------------------------------------------------------------------------------
# missing-data rule
# ---------------------------------------------------------------------------------------------


def test_failed_row_is_dropped_for_that_estimator_only():
    rng = np.random.default_rng(8)
    n = 20
    est_ok = rng.normal(size=n)
    est_fail = rng.normal(size=n)
    status = ["ok"] * n
    status[7] = "failed"
    est_fail_in = est_fail.copy()
    est_fail_in[7] = 1e6  # garbage left in a failed row must not leak into anything
    frame = pd.concat(
        [
            tidy("good", est_ok, std_error=1.0, ci=wald(est_ok, 1.0)),
            tidy("flaky", est_fail_in, std_error=1.0, ci=wald(est_fail_in, 1.0), status=status),
        ]
    )
    table = performance_table(frame, "good", 0.95)
    assert (table[table.estimator == "good"].n_used == n).all()
    flaky = table[(table.estimator == "flaky")]
    assert (flaky.n_used == n - 1).all()
    assert row(table, "flaky", "bias").value == pytest.approx(np.delete(est_fail, 7).mean())
    assert row(table, "flaky", "empse").value == pytest.approx(np.delete(est_fail, 7).std(ddof=1))
    assert row(table, "good", "bias").value == pytest.approx(est_ok.mean())


def test_missing_std_error_or_interval_counts_per_measure():
    est = np.array([0.1, -0.3, 0.2, 0.5, -0.4, 0.0])
    se = np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0])
    low, high = wald(est, 1.0)
    low[[2, 3]] = np.nan
    frame = tidy("m", est, std_error=se, ci=(low, high))
    table = performance_table(frame, "m", 0.95)
    assert row(table, "m", "bias").n_used == 6
    assert row(table, "m", "modse").n_used == 5
    assert row(table, "m", "coverage").n_used == 4
    # rel_error_modse uses EmpSE on the replicates with a finite SE
    keep = np.isfinite(se)
    expected = 100 * (1.0 / np.std(est[keep], ddof=1) - 1)
    assert row(table, "m", "rel_error_modse").value == pytest.approx(expected)
    # be_coverage centres on the bias of the rows with intervals
    rows_ci = np.isfinite(low)
    bias_ci = est[rows_ci].mean()
    be = np.mean((low[rows_ci] <= bias_ci) & (bias_ci <= high[rows_ci]))
    assert row(table, "m", "be_coverage").value == pytest.approx(be)


def test_fewer_than_two_usable_replicates_is_undefined():
    frame = tidy("m", [0.3, 0.1], std_error=1.0, ci=wald([0.3, 0.1], 1.0), status=["ok", "failed"])
    table = performance_table(frame, "m", 0.95)
    assert table.value.isna().all() and table.mcse.isna().all()
    assert (table.n_used == 1).all()
    assert not table.defined.any()
    assert table.note.str.contains("need at least 2").all()


# ---------------------------------------------------------------------------------------------
# per-replicate true values
# ---------------------------------------------------------------------------------------------


def test_per_replicate_true_values_use_estimation_error():
    rng = np.random.default_rng(3)
    n = 40
    theta = rng.normal(0, 2, n)  # drawn from a prior
    err = rng.normal(0.2, 0.5, n)
    est = theta + err
    prior = tidy("m", est, true_value=theta, std_error=0.5, ci=wald(est, 0.5))
    fixed = tidy("m", err, true_value=0.0, std_error=0.5, ci=wald(err, 0.5))
    t_prior = performance_table(prior, "m", 0.95)
    t_fixed = performance_table(fixed, "m", 0.95)
    # everything but rejection (which tests term = 0, not the true value) is a function of d
    same = t_prior.measure != "rejection"
    pd.testing.assert_series_equal(
        t_prior.value[same], t_fixed.value[same], check_exact=False, rtol=1e-9, atol=1e-12
    )
    pd.testing.assert_series_equal(
        t_prior.mcse[same], t_fixed.mcse[same], check_exact=False, rtol=1e-9, atol=1e-12
    )
    rejects = np.mean((est - 1.96 * 0.5 > 0) | (est + 1.96 * 0.5 < 0))
    assert row(t_prior, "m", "rejection").value == pytest.approx(rejects)
    assert row(t_prior, "m", "bias").value == pytest.approx(err.mean())
    assert row(t_prior, "m", "empse").value == pytest.approx(err.std(ddof=1))
    # the SD of the estimates themselves (which include the prior spread) is not EmpSE
    assert row(t_prior, "m", "empse").value < 0.5 * est.std(ddof=1)
    covered = np.mean((est - 1.96 * 0.5 <= theta) & (theta <= est + 1.96 * 0.5))
    assert row(t_prior, "m", "coverage").value == pytest.approx(covered)


# ---------------------------------------------------------------------------------------------
# undefined moments, missing intervals, reference handling, notes
# ---------------------------------------------------------------------------------------------

MOMENT = ["bias", "empse", "mse", "rmse", "rel_precision", "rel_efficiency", "rel_mse"]
MOMENT += ["modse", "rel_error_modse"]
ROBUST = ["coverage", "be_coverage", "rejection", "median_bias", "mad"]
HEAVY = ["empse", "mse", "rmse", "modse", "rel_error_modse"]
HEAVY += ["rel_precision", "rel_efficiency", "rel_mse"]


def _three_estimators(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(21)
    parts = []
    for name in ("ols", "lad", "huber"):
        est = rng.standard_cauchy(n) if name == "ols" else rng.normal(size=n)
        parts.append(tidy(name, est, std_error=1.0, ci=wald(est, 1.0)))
    return pd.concat(parts)


CAUCHY = {"distribution": "cauchy"}
T15 = {"distribution": "t", "df": 1.5}
T3 = {"distribution": "t", "df": 3}
SPECS = {"ols": {"method": "ols"}, "lad": {"method": "lad"}, "huber": {"method": "huber"}}


def _rules(errors, reference):
    return {k: moment_rules(errors, v, SPECS.get(reference)) for k, v in SPECS.items()}


def test_undefined_estimator_keeps_values_but_is_flagged():
    table = performance_table(_three_estimators(), "lad", 0.95, rules=_rules(CAUCHY, "lad"))
    for measure in MOMENT + ["be_coverage"]:
        r = row(table, "ols", measure)
        assert not r.defined and not r.mcse_valid, measure
        assert r.note.startswith("does not exist: ols is linear in y and Cauchy errors have no")
        assert np.isfinite(r.value), measure  # the sample value is kept
    for measure in ("coverage", "rejection", "median_bias", "mad"):
        r = row(table, "ols", measure)
        assert r.defined and r.mcse_valid and r.note == "", measure
    others = table[table.estimator != "ols"]
    assert others.defined.all() and others.mcse_valid.all()
    assert (others.note == "").all()


def test_undefined_reference_flags_every_relative_measure():
    table = performance_table(_three_estimators(), "ols", 0.95, rules=_rules(CAUCHY, "ols"))
    for name in ("lad", "huber"):
        for measure in ("rel_precision", "rel_efficiency", "rel_mse"):
            r = row(table, name, measure)
            assert not r.defined and not r.mcse_valid
            assert "the reference (ols) is linear in y" in r.note
            assert np.isfinite(r.value)
        assert row(table, name, "bias").defined
    assert not row(table, "ols", "rel_precision").defined


def test_fourth_moment_missing_flags_mcse_only_and_reaches_the_reference():
    table = performance_table(_three_estimators(), "ols", 0.95, rules=_rules(T3, "ols"))
    assert table.defined.all()
    for name in ("lad", "huber"):
        for measure in MEASURES:
            r = row(table, name, measure)
            relative = measure in ("rel_precision", "rel_efficiency", "rel_mse")
            assert r.mcse_valid == (not relative), (name, measure)
            assert ("the reference (ols)" in r.note) == relative
    for measure in MEASURES:
        r = row(table, "ols", measure)
        self_ref = measure in ("rel_precision", "rel_efficiency", "rel_mse")
        assert r.mcse_valid == (measure not in HEAVY or self_ref), measure
        if measure in HEAVY and not self_ref:
            assert r.note.startswith("exists, but MCSE unreliable: the variance exists")
            assert "no finite fourth moment" in r.note


def test_issue_df_1_5_bias_exists_but_its_mcse_does_not_hold():
    """Issue 12: t errors with df 1.5 once flagged the OLS bias "does not exist"."""
    table = performance_table(_three_estimators(), "lad", 0.95, rules=_rules(T15, "lad"))
    bias = row(table, "ols", "bias")
    assert bias.defined and not bias.mcse_valid
    assert "does not exist" not in bias.note
    assert bias.note.startswith("exists, but MCSE unreliable: the mean exists but ols")
    assert "no variance" in bias.note
    for measure in HEAVY:
        r = row(table, "ols", measure)
        assert not r.defined and not r.mcse_valid, measure
        assert r.note.startswith("does not exist: ols is linear in y and t (df 1.5) errors")
    be = row(table, "ols", "be_coverage")
    assert be.defined and not be.mcse_valid
    for measure in ("coverage", "rejection", "median_bias", "mad"):
        r = row(table, "ols", measure)
        assert r.defined and r.mcse_valid and r.note == ""


def test_mcse_valid_is_false_where_the_mcse_is_not_a_number():
    table = performance_table(tidy("a", [0.5]), "a", 0.95)
    assert not row(table, "a", "bias").mcse_valid
    assert not row(table, "a", "coverage").mcse_valid  # no intervals at all


def test_ridge_without_intervals_has_undefined_coverage():
    rng = np.random.default_rng(4)
    est = rng.normal(size=25)
    frame = pd.concat(
        [
            tidy("ols", est, std_error=1.0, ci=wald(est, 1.0)),
            tidy("ridge", 0.8 * est, std_error=0.8),  # an SE but no intervals
        ]
    )
    table = performance_table(frame, "ols", 0.95)
    for measure in ("coverage", "be_coverage", "rejection"):
        r = row(table, "ridge", measure)
        assert np.isnan(r.value) and np.isnan(r.mcse)
        assert not r.defined
        assert r.note == "no intervals: estimator reports none"
        assert row(table, "ols", measure).defined
    assert row(table, "ridge", "modse").defined
    assert row(table, "ridge", "modse").value == pytest.approx(0.8)
    assert row(table, "ridge", "rel_precision").defined


def test_estimator_without_model_se():
    est = [0.1, 0.4, -0.2, 0.3]
    table = performance_table(tidy("m", est), "m", 0.95)
    for measure in ("modse", "rel_error_modse"):
        r = row(table, "m", measure)
        assert np.isnan(r.value) and not r.defined
        assert r.note == "no model SE: estimator reports none"


@pytest.mark.parametrize("reference", [None, "absent"])
def test_missing_reference_gives_undefined_relative_measures(reference):
    frame = pd.concat([tidy("a", [0.1, 0.5, -0.3]), tidy("b", [0.2, -0.1, 0.4])])
    table = performance_table(frame, reference, 0.95)
    rel = table[table.measure.isin(["rel_precision", "rel_efficiency", "rel_mse"])]
    assert len(rel) == 6
    assert rel.value.isna().all() and not rel.defined.any()
    assert (rel.note != "").all()
    assert row(table, "a", "bias").defined


# ---------------------------------------------------------------------------------------------
# statistical behaviour, reproducibility, speed, validation
# ---------------------------------------------------------------------------------------------


def test_known_normal_case_is_recovered_within_mcse():
    rng = np.random.default_rng(2024)
    n, theta = 4000, 2.0
    est = rng.normal(theta, 1.0, n)
    frame = tidy("exact", est, true_value=theta, std_error=1.0, ci=wald(est, 1.0))
    table = performance_table(frame, "exact", 0.95)
    cov, bias, empse = (row(table, "exact", m) for m in ("coverage", "bias", "empse"))
    assert abs(cov.value - 0.95) < 4 * cov.mcse
    assert abs(bias.value) < 4 * bias.mcse
    assert abs(empse.value - 1.0) < 4 * empse.mcse
    mad = row(table, "exact", "mad")
    assert abs(mad.value - 1.0) < 4 * mad.mcse
    # bootstrap MCSE of the MAD near its asymptotic SE 1.166/sqrt(n) for normal data
    assert mad.mcse == pytest.approx(1.1664 / math.sqrt(n), rel=0.25)
    # the order-statistic MCSE of the median near sqrt(pi/2)/sqrt(n)
    med = row(table, "exact", "median_bias")
    assert med.mcse == pytest.approx(math.sqrt(math.pi / 2 / n), rel=0.2)
    assert row(table, "exact", "rel_error_modse").value == pytest.approx(0.0, abs=4 * 1.2)


def test_repeated_calls_are_identical():
    frame = _three_estimators(200)
    first = performance_table(frame, "lad", 0.95, rules=_rules(T3, "lad"))
    second = performance_table(frame, "lad", 0.95, rules=_rules(T3, "lad"))
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    # a cell's bootstrap MCSE does not depend on the other estimators in the table
    alone = performance_table(frame[frame.estimator == "huber"], "huber", 0.95)
    assert row(alone, "huber", "mad").mcse == row(first, "huber", "mad").mcse


def test_invalid_input_is_rejected():
    one = tidy("a", [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one scenario"):
        performance_table(pd.concat([one, tidy("b", [0.1, 0.2], scenario="s2")]), "a", 0.95)
    with pytest.raises(ValueError, match="duplicate"):
        performance_table(pd.concat([one, one]), "a", 0.95)
    # estimators on disjoint replicates: a sparse (estimator, term, replicate) cube
    sparse = [tidy(f"e{i}", [0.1, 0.2]).assign(replicate=[10 * i, 10 * i + 1]) for i in range(6)]
    assert len(performance_table(pd.concat(sparse), "e0", 0.95))
    with pytest.raises(ValueError, match="duplicate"):
        performance_table(pd.concat([*sparse, sparse[3].iloc[:1]]), "e0", 0.95)
    with pytest.raises(ValueError, match="level"):
        performance_table(one, "a", 95)
    with pytest.raises(ValueError, match="lack columns"):
        performance_table(one.drop(columns="status"), "a", 0.95)
    assert list(performance_table(one.iloc[:0], "a", 0.95).columns) == list(OUTPUT_COLUMNS)


def test_issue_df_1_5_through_the_pipeline_rules():
    """The issue's scenario, errors {distribution: t, df: 1.5}, with the rules the workflow uses."""
    from lossstudy.pipeline import estimator_notes

    knobs = {"errors": {"distribution": "t", "df": 1.5}}
    specs = {"ols": {"method": "ols"}, "ridge": {"method": "ridge"}, "lad": {"method": "lad"}}
    rules, intercept = estimator_notes(knobs, specs, "ols")
    assert intercept == {}
    rng = np.random.default_rng(3)
    frame = pd.concat(
        [
            tidy(name, rng.standard_t(1.5, 200) if name != "lad" else rng.normal(size=200))
            for name in specs
        ]
    )
    table = performance_table(frame, "ols", 0.95, rules=rules)
    for name in ("ols", "ridge"):
        bias = row(table, name, "bias")
        assert bias.defined and not bias.mcse_valid
        assert "does not exist" not in bias.note and "no variance" in bias.note
        for measure in ("empse", "mse", "rmse"):
            r = row(table, name, measure)
            assert not r.defined and r.note.startswith("does not exist")
    lad = table[table.estimator == "lad"]
    relative = lad.measure.isin(["rel_precision", "rel_efficiency", "rel_mse"])
    assert not lad[relative].defined.any()  # the reference (OLS) has no variance
    point = lad.measure.isin(["bias", "empse", "mse", "rmse", "median_bias", "mad"])
    assert lad[point].defined.all() and lad[point].mcse_valid.all()


def _mad_bootstrap_by_partition(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The MAD bootstrap MCSE as first written: each resample formed, centred and partitioned."""
    from lossstudy.performance import _sorted_usable

    cells = _sorted_usable(x, mask).reshape(-1, x.shape[-1])
    n = mask.reshape(-1, mask.shape[-1]).sum(axis=-1)
    out = np.full(cells.shape[0], np.nan)
    for size in np.unique(n[n >= 2]).tolist():
        idx = np.random.default_rng(0).integers(0, size, size=(200, size))
        idx.sort(axis=-1)
        lo, hi = (size - 1) // 2, size // 2
        for cell in np.flatnonzero(n == size).tolist():
            block = cells[cell, :size][idx]
            med = 0.5 * (block[:, lo] + block[:, hi])
            block -= med[:, None]
            np.abs(block, out=block)
            block.partition((lo, hi), axis=-1)
            out[cell] = (1.4826 * 0.5 * (block[:, lo] + block[:, hi])).std(ddof=1)
    return out.reshape(x.shape[:-1])


@pytest.mark.parametrize("size", [2, 3, 4, 5, 50, 51, 2000])
def test_mad_bootstrap_by_binary_search_equals_partition_bit_for_bit(size: int):
    """The binary search over the two sorted runs of deviations picks the same order
    statistics as partitioning every resample: heavy tails, ties, constant cells, masks."""
    from lossstudy.performance import _mad_bootstrap_mcse

    rng = np.random.default_rng(size)
    x = rng.standard_t(2, (4, 3, size))
    x[0] = np.round(x[0])  # many ties
    x[1, 0] = 1.5  # a constant cell: MCSE 0
    mask = rng.random(x.shape) > 0.1  # cells of different usable sizes
    mask[2] = True
    got = _mad_bootstrap_mcse(x, mask)
    assert np.array_equal(got, _mad_bootstrap_by_partition(x, mask), equal_nan=True)
    assert np.isfinite(got[2]).all()
