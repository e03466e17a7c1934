"""The vectorised engine reproduces the reference engine (lossstudy.estimators), replicate by
replicate.

Datasets come from ``lossstudy.dgp.simulate`` over every error distribution and every knob, fixed
and random designs, n ∈ {6 = p + 1, 8, 25, 100}. OLS, ridge and Huber must agree with the
reference within 1e-8 (relative where values are large) in estimates, SEs and intervals, with
equal statuses and messages. LAD must equal the exact LP optimum where it is unique (checked here
with an independent dual certificate at the reference solution) and its objective everywhere;
its SEs must equal the reference formula evaluated at the same coefficients.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from scipy import stats

from lossstudy import estimators, vectorized
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge
from lossstudy.dgp import Dataset, simulate
from lossstudy.estimators import FAILED, NOT_CONVERGED, OK, FitResult, fit_dataset
from lossstudy.vectorized import EngineInfo, fit_dataset_vectorized

LEVEL = 0.90  # not 0.95, so that a hard-coded 1.96 or 0.975 would show
TOL = 1e-8
R = 40

SPECS: dict[str, dict[str, Any]] = {
    "ols": {"method": "ols", "se": "classical"},
    "ols_hc3": {"method": "ols", "se": "hc3"},
    "ols_hc0": {"method": "ols", "se": "hc0"},
    "ols_hc1": {"method": "ols", "se": "hc1"},
    "ols_hc2": {"method": "ols", "se": "hc2"},
    "ols_hac": {"method": "ols", "se": "hac"},
    "ridge": {"method": "ridge", "penalty": 2.5},
    "wls": {"method": "wls", "predictor": 2, "strength": 1.5},
    "huber": {"method": "huber", "k": 1.345},
    "lad": {"method": "lad"},
}

# (id, knob overrides); every error distribution and every knob appears at least once
CASES: list[tuple[str, dict[str, Any]]] = [
    ("normal-fixed-100", {"n": 100}),
    ("normal-random-25", {"n": 25, "design": {"fixed": False}}),
    ("t3-fixed-25", {"n": 25, "errors": {"distribution": "t", "df": 3}}),
    (
        "t5-random-100",
        {"n": 100, "design": {"fixed": False}, "errors": {"distribution": "t", "df": 5}},
    ),
    ("laplace-fixed-8", {"n": 8, "errors": {"distribution": "laplace", "scale": 2.0}}),
    (
        "cauchy-random-25",
        {"n": 25, "design": {"fixed": False}, "errors": {"distribution": "cauchy"}},
    ),
    ("cauchy-fixed-100", {"n": 100, "errors": {"distribution": "cauchy"}}),
    (
        "contaminated-random-100",
        {
            "n": 100,
            "design": {"fixed": False},
            "errors": {"distribution": "contaminated", "fraction": 0.2, "outlier_scale": 10.0},
        },
    ),
    ("exponential-fixed-25", {"n": 25, "errors": {"distribution": "exponential"}}),
    (
        "lognormal-random-8",
        {"n": 8, "design": {"fixed": False}, "errors": {"distribution": "lognormal", "sigma": 1.5}},
    ),
    ("correlated-random-100", {"n": 100, "design": {"fixed": False, "correlation": 0.9}}),
    ("design-ar1-fixed-25", {"n": 25, "design": {"autocorrelation": 0.7}}),
    (
        "leverage-fixed-100",
        {"n": 100, "design": {"leverage": {"fraction": 0.05, "distance": 10.0}}},
    ),
    (
        "leverage-follows-random-25",
        {
            "n": 25,
            "design": {"fixed": False, "leverage": {"fraction": 0.1, "follows_model": True}},
        },
    ),
    (
        "hetero-random-25",
        {"n": 25, "design": {"fixed": False}, "heteroskedasticity": {"strength": 4.0}},
    ),
    ("hetero-fixed-100", {"n": 100, "heteroskedasticity": {"strength": 2.0, "predictor": 2}}),
    ("error-ar1-fixed-100", {"n": 100, "autocorrelation": {"phi": 0.8}}),
    (
        "endogenous-random-25",
        {"n": 25, "design": {"fixed": False}, "endogeneity": {"correlation": 0.5}},
    ),
    (
        "quadratic-fixed-25",
        {"n": 25, "misspecification": {"strength": 1.0, "form": "quadratic"}},
    ),
    (
        "cubic-random-100",
        {"n": 100, "design": {"fixed": False}, "misspecification": {"strength": 0.5}},
    ),
    ("prior-fixed-8", {"n": 8, "prior": {"tau": 1.0}}),
    ("p-plus-1-fixed", {"n": 6}),
    ("p-plus-1-random", {"n": 6, "design": {"fixed": False}}),
    ("rank-deficient-fixed", {"n": 25, "design": {"correlation": 1.0}}),
    ("rank-deficient-random", {"n": 25, "design": {"fixed": False, "correlation": 1.0}}),
]


def make(overrides: dict[str, Any], reps: int = R, seed: int = 11, sid: str = "vec") -> Dataset:
    return simulate(deep_merge(BUILTIN_DEFAULTS, overrides), seed, sid, 0, reps)


def rel_close(a: np.ndarray, b: np.ndarray, tol: float = TOL) -> np.ndarray:
    """Per-row: equal NaN pattern and |a − b| ≤ tol·max(1, |b|) elsewhere."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    same_nan = np.isnan(a) == np.isnan(b)
    diff = np.abs(np.where(np.isnan(a), 0.0, a) - np.where(np.isnan(b), 0.0, b))
    ok = same_nan & (diff <= tol * np.maximum(1.0, np.abs(np.nan_to_num(b))))
    return ok.all(axis=-1) if ok.ndim > 1 else ok


def assert_same_statuses(vec: FitResult, ref: FitResult) -> None:
    bad = np.flatnonzero((vec.status != ref.status) | (vec.message != ref.message))
    assert bad.size == 0, (
        f"replicates {bad[:5]}: {list(vec.status[bad[:3]])} {list(vec.message[bad[:3]])} vs "
        f"{list(ref.status[bad[:3]])} {list(ref.message[bad[:3]])}"
    )


def assert_equivalent(vec: FitResult, ref: FitResult) -> None:
    """Estimates, SEs and intervals within TOL and the same statuses and messages."""
    assert_same_statuses(vec, ref)
    for name in ("estimate", "std_error", "ci_low", "ci_high"):
        ok = rel_close(getattr(vec, name), getattr(ref, name))
        assert ok.all(), f"{name} differs in replicates {np.flatnonzero(~ok)[:5]}"


def l1_certificate(X: np.ndarray, y: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Independent dual check of a vertex b of min Σ|y − Xb|: (max|s_h|, smallest other |r|).

    b is optimal iff the basic multipliers s_h solving X_h's_h = −Σ_{i∉h} sign(r_i) x_i lie in
    [−1, 1]; the optimum is unique when they lie strictly inside and no other residual is 0.
    """
    p = X.shape[1]
    r = y - X @ b
    order = np.argsort(np.abs(r))
    h = order[:p]
    sign = np.sign(r)
    sign[h] = 0.0
    s_h = np.linalg.solve(X[h].T, -(X.T @ sign))
    gap = float(np.abs(r[order[p]])) if X.shape[0] > p else np.inf
    return float(np.max(np.abs(s_h))), gap


def check_lad(data: Dataset, vec: FitResult, ref: FitResult) -> int:
    """LAD: exact optimum (unique) or equal objective; SEs = the reference formula at β̂."""
    assert (vec.status == ref.status).all()
    failed = ref.status != OK
    assert (vec.message[failed] == ref.message[failed]).all()
    unique_count = 0
    for i in range(len(data.replicates)):
        if ref.status[i] != OK:
            continue
        X, y = data.design(i), data.y[i]
        bv, br = vec.estimate[i], ref.estimate[i]
        obj_v, obj_r = np.abs(y - X @ bv).sum(), np.abs(y - X @ br).sum()
        assert abs(obj_v - obj_r) <= 1e-10 * max(obj_r, 1e-300), (i, obj_v, obj_r)
        smax, gap = l1_certificate(X, y, br)
        if smax < 1.0 - 1e-7 and gap > 1e-9 * max(1.0, np.abs(y).max()):
            unique_count += 1
            assert rel_close(bv, br).all(), (i, bv, br)
        se_ref = np.sqrt(np.diag(estimators.quantreg_kernel_cov(X, y, bv)))
        if np.all(np.isfinite(se_ref)):
            assert rel_close(vec.std_error[i], se_ref).all(), (i, vec.std_error[i], se_ref)
            crit = stats.t.ppf(0.5 + LEVEL / 2, X.shape[0] - X.shape[1])
            assert rel_close(vec.ci_low[i], bv - crit * se_ref).all()
            assert rel_close(vec.ci_high[i], bv + crit * se_ref).all()
            assert vec.message[i] == ""
        else:
            assert np.isnan(vec.std_error[i]).all() and np.isnan(vec.ci_low[i]).all()
            assert vec.message[i].startswith("non-finite standard error")
    return unique_count


# --------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("case, overrides", CASES, ids=[c[0] for c in CASES])
def test_engine_matches_reference(case: str, overrides: dict[str, Any]) -> None:
    data = make(overrides, sid=case)
    for name, spec in SPECS.items():
        info = EngineInfo()
        vec = fit_dataset_vectorized(data, spec, LEVEL, info=info)
        ref = fit_dataset(data, spec, LEVEL)
        assert info.fits == R
        if name == "lad":
            unique = check_lad(data, vec, ref)
            fitted = int((ref.status == OK).sum())
            if fitted and data.y.shape[1] >= 25:
                assert unique >= 0.8 * fitted  # the strict test above is not vacuous
        else:
            assert_equivalent(vec, ref)
    if case.startswith("rank-deficient"):
        assert (ref.status == FAILED).all()
        assert ref.message[0].startswith("design matrix rank")


@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "random"])
def test_wls_solves_the_weighted_normal_equations(fixed: bool) -> None:
    """WLS: X'WX b = X'Wy with w = 1/(1 + strength·x_j²), σ̂² = Σ w r²/(n − p), t intervals;
    the default parameters (predictor 1, strength 1) and strength 0 (= OLS) included."""
    data = make({"n": 30, "design": {"fixed": fixed}, "heteroskedasticity": {"strength": 3.0}})
    for spec in (
        {"method": "wls"},
        {"method": "wls", "predictor": 3, "strength": 0.5},
        {"method": "wls", "strength": 0.0},
    ):
        vec = fit_dataset_vectorized(data, spec, LEVEL)
        assert_equivalent(vec, fit_dataset(data, spec, LEVEL))
        j, g = spec.get("predictor", 1), spec.get("strength", 1.0)
        for i in (0, 7):
            X, y = data.design(i), data.y[i]
            w = 1.0 / (1.0 + g * X[:, j] ** 2)
            b = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
            r = y - X @ b
            cov = (w @ r**2) / (X.shape[0] - X.shape[1]) * np.linalg.inv(X.T @ (w[:, None] * X))
            assert rel_close(vec.estimate[i], b, 1e-10).all()
            assert rel_close(vec.std_error[i], np.sqrt(np.diag(cov)), 1e-10).all()
            crit = stats.t.ppf(0.5 + LEVEL / 2, X.shape[0] - X.shape[1])
            assert rel_close(vec.ci_high[i], b + crit * np.sqrt(np.diag(cov)), 1e-10).all()
    ols = fit_dataset_vectorized(data, SPECS["ols"], LEVEL)
    wls0 = fit_dataset_vectorized(data, {"method": "wls", "strength": 0.0}, LEVEL)
    assert rel_close(wls0.estimate, ols.estimate, 1e-10).all()
    assert rel_close(wls0.std_error, ols.std_error, 1e-10).all()


def test_wls_predictor_beyond_the_design_is_left_to_the_reference() -> None:
    data = make({"n": 25}, reps=3)
    spec = {"method": "wls", "predictor": 7}
    vec = fit_dataset_vectorized(data, spec, LEVEL)
    assert_same_statuses(vec, fit_dataset(data, spec, LEVEL))
    assert set(vec.status) == {FAILED}


def test_huber_hits_maxiter_like_rlm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heteroskedastic errors at n = 25: with statsmodels' default maxiter (50) some IRLS fits
    stop there after long, genuine trajectories; both engines stop at the same ones."""
    monkeypatch.setattr(estimators, "HUBER_MAXITER", 50)
    data = make({"n": 25, "heteroskedasticity": {"strength": 9.0}}, reps=100, seed=5, sid="e")
    spec = SPECS["huber"]
    vec = fit_dataset_vectorized(data, spec, LEVEL)
    ref = fit_dataset(data, spec, LEVEL)
    assert (ref.status == NOT_CONVERGED).sum() >= 1
    assert_equivalent(vec, ref)


def test_huber_patched_maxiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reads estimators.HUBER_MAXITER at call time, as the reference does."""
    monkeypatch.setattr(estimators, "HUBER_MAXITER", 3)
    data = make({"n": 25, "errors": {"distribution": "t", "df": 3}}, reps=60)
    spec = {"method": "huber", "k": 2.0}
    vec = fit_dataset_vectorized(data, spec, LEVEL)
    ref = fit_dataset(data, spec, LEVEL)
    assert (ref.status == NOT_CONVERGED).sum() > 10
    assert set(ref.message[ref.status == NOT_CONVERGED]) == {"IRLS stopped at maxiter=3"}
    assert_equivalent(vec, ref)


def test_mixed_chunk_rank_deficient_and_non_finite_replicates() -> None:
    """Per-replicate failures inside one random-design chunk, as the reference reports them."""
    data = make({"n": 25, "design": {"fixed": False}}, reps=30)
    X, y = data.X.copy(), data.y.copy()
    X[3, :, 2] = X[3, :, 3]  # rank 4
    X[7, :, 4] = 2.0 * X[7, :, 1] - X[7, :, 2]  # rank 4, not a duplicate
    X[11, :, 1:] = X[11, :, 1:2]  # rank 2
    y[5, 4] = np.nan
    X[9, 0, 2] = np.inf
    X[13, :, 2] = X[13, :, 3] + 1e-7 * X[13, :, 1]  # full rank but ill conditioned
    data = Dataset(X, y, data.beta, data.replicates)
    for spec in [*SPECS.values(), {"method": "ridge", "penalty": 0.0}]:
        vec = fit_dataset_vectorized(data, spec, LEVEL)
        ref = fit_dataset(data, spec, LEVEL)
        assert_same_statuses(vec, ref)
        good = ref.status == OK
        for name in ("estimate", "std_error"):
            a, b = getattr(vec, name), getattr(ref, name)
            if spec["method"] == "lad":  # same exact optimum (unique here) through the LP
                b = np.where(good[:, None], b, a)
            assert rel_close(a, b, 1e-6).all(), (spec, name)
        if spec["method"] != "ridge" or spec["penalty"] == 0.0:
            assert ref.message[3] == ref.message[7] == "design matrix rank 4 < p = 5"
            assert ref.message[11] == "design matrix rank 2 < p = 5"


def test_fixed_non_finite_design_goes_to_the_reference() -> None:
    data = make({"n": 25}, reps=5)
    X = data.X.copy()
    X[2, 3] = np.nan
    data = Dataset(X, data.y, data.beta, data.replicates)
    for spec in (SPECS["ols"], SPECS["ridge"]):
        info = EngineInfo()
        vec = fit_dataset_vectorized(data, spec, LEVEL, info=info)
        assert_same_statuses(vec, fit_dataset(data, spec, LEVEL))
        assert info.reference_fallback == 5


def test_ridge_penalty_zero_equals_ols() -> None:
    data = make({"n": 25, "design": {"fixed": False}})
    vec = fit_dataset_vectorized(data, {"method": "ridge", "penalty": 0.0}, LEVEL)
    ref = fit_dataset(data, {"method": "ridge", "penalty": 0.0}, LEVEL)
    assert_equivalent(vec, ref)
    ols = fit_dataset_vectorized(data, SPECS["ols"], LEVEL)
    assert rel_close(vec.estimate, ols.estimate, 1e-10).all()


def test_hc3_with_a_leverage_one_observation() -> None:
    """A dummy column for one row gives h = 1: HC2/HC3 are 0/0 there; the reference decides."""
    rng = np.random.default_rng(3)
    n, p, reps = 10, 5, 6
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 3)), np.eye(n)[0]])
    y = X @ np.ones(p) + rng.standard_normal((reps, n))
    for design in (X, np.broadcast_to(X, (reps, n, p)).copy()):
        data = Dataset(design, y, np.ones((reps, p)), np.arange(reps))
        for spec in (
            SPECS["ols_hc3"],
            SPECS["ols_hc2"],
            SPECS["ols_hac"],
            SPECS["ols"],
            SPECS["lad"],
            SPECS["huber"],
        ):
            vec = fit_dataset_vectorized(data, spec, LEVEL)
            ref = fit_dataset(data, spec, LEVEL)
            if spec["method"] == "lad":
                check_lad(data, vec, ref)
            else:
                assert_equivalent(vec, ref)


@pytest.mark.parametrize("n", [6, 25, 100, 1000])
def test_hac_equals_statsmodels_newey_west(n: int) -> None:
    """HAC SEs: statsmodels OLS ``cov_type="HAC"`` (Bartlett, maxlags floor(4 (n/100)^(2/9)),
    use_correction=True), t(n − p) intervals, under AR(1) errors, fixed and random designs."""
    from statsmodels.regression.linear_model import OLS

    for fixed in (True, False):
        data = make(
            {"n": n, "design": {"fixed": fixed}, "autocorrelation": {"phi": 0.8}},
            reps=12 if n == 1000 else R,
        )
        vec = fit_dataset_vectorized(data, SPECS["ols_hac"], LEVEL)
        assert_equivalent(vec, fit_dataset(data, SPECS["ols_hac"], LEVEL))
        lags = int(np.floor(4 * (n / 100) ** (2 / 9)))
        worst = 0.0
        for i in range(len(data.replicates)):
            res = OLS(data.y[i], data.design(i)).fit(
                cov_type="HAC",
                cov_kwds={"maxlags": lags, "kernel": "bartlett", "use_correction": True},
                use_t=True,
            )
            ci = res.conf_int(alpha=1 - LEVEL)
            for got, want in ((vec.std_error[i], res.bse), (vec.ci_low[i], ci[:, 0])):
                worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(1, abs(want)))))
        assert worst <= TOL
        hc1 = fit_dataset_vectorized(data, SPECS["ols_hc1"], LEVEL)
        assert np.all(np.abs(vec.std_error / hc1.std_error - 1) > 1e-6)  # the lags matter


def test_huber_exact_fit_of_the_majority() -> None:
    """17 of 20 points on a plane: the MAD scale collapses to 0, as RLM meets it."""
    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(20), rng.standard_normal((20, 4))])
    y = np.tile(X @ np.ones(5), (5, 1))
    y[:, :3] += 10.0 * rng.standard_normal((5, 3))
    for design in (X, np.broadcast_to(X, (5, 20, 5)).copy()):
        data = Dataset(design, y, np.ones((5, 5)), np.arange(5))
        for spec in (SPECS["huber"], SPECS["lad"], SPECS["ols"]):
            info = EngineInfo()
            vec = fit_dataset_vectorized(data, spec, LEVEL, info=info)
            ref = fit_dataset(data, spec, LEVEL)
            assert_same_statuses(vec, ref)
            assert rel_close(vec.estimate, ref.estimate).all()
            if spec["method"] == "huber":
                assert info.reference_fallback == 5


def test_huber_replay_of_fits_stopped_at_maxiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows stopped at maxiter are re-run; a disagreement sends them to the reference."""
    data = make({"n": 8, "design": {"fixed": False}, "errors": {"distribution": "cauchy"}}, 60)
    spec = SPECS["huber"]
    ref = fit_dataset(data, spec, LEVEL)
    stopped = int((ref.status == NOT_CONVERGED).sum())
    assert stopped > 0
    info = EngineInfo()
    assert_equivalent(fit_dataset_vectorized(data, spec, LEVEL, info=info), ref)
    assert info.huber_replayed >= stopped - info.reference_fallback
    monkeypatch.setattr(vectorized.huber, "HUBER_REPLAY_RTOL", -1.0)  # every replay "disagrees"
    info = EngineInfo()
    assert_equivalent(fit_dataset_vectorized(data, spec, LEVEL, info=info), ref)
    assert info.reference_fallback >= stopped


@pytest.mark.parametrize("fixed", [True, False])
def test_huber_twins_equal_a_separate_replay(monkeypatch: pytest.MonkeyPatch, fixed: bool) -> None:
    """The refined re-runs that ride along in the main loop (twins) give, bit for bit, what
    the re-run after it gives (twins started too late for maxiter): same fits, statuses,
    replays and hand-overs, on data where fits stop at maxiter."""
    monkeypatch.setattr(estimators, "HUBER_MAXITER", 50)
    knobs = {"n": 25, "heteroskedasticity": {"strength": 9.0}, "design": {"fixed": fixed}}
    data = make(knobs, reps=100, seed=5, sid="e")
    runs = []
    for twin_at in (vectorized.huber.HUBER_TWIN_AT, 10**9):
        monkeypatch.setattr(vectorized.huber, "HUBER_TWIN_AT", twin_at)
        info = EngineInfo()
        runs.append((fit_dataset_vectorized(data, SPECS["huber"], LEVEL, info=info), info))
    (twins, info_t), (after, info_a) = runs
    assert (after.status == NOT_CONVERGED).sum() >= 1 and info_a.huber_replayed >= 1
    for field in ("estimate", "std_error", "ci_low", "ci_high", "status", "message"):
        assert np.array_equal(getattr(twins, field), getattr(after, field)), field
    assert info_t == info_a
    # and the twins' own numbers are the re-run's, bit for bit (not merely as good)
    from lossstudy.vectorized._linalg import _Chol, _Design, _packed, _SharedX

    irls = vectorized.huber._irls
    D = _SharedX(data.X, 100) if fixed else _Design(np.ascontiguousarray(data.X))
    with np.errstate(all="ignore"):
        b, _, _, it, ref, tw = irls(
            D, data.y, 1.345, 50, _Chol(_packed(D.gram_full()), 5), False, 30
        )
        stop = np.flatnonzero((it >= 50) & ~ref)
        Ds = D.take(stop)
        b2, _, _, it2, ref2, _ = irls(
            Ds, data.y[stop], 1.345, 50, _Chol(_packed(Ds.gram_full()), 5), refine=True
        )
    assert stop.size >= 1 and tw.has[stop].all()
    assert np.array_equal(tw.b[stop], b2) and np.array_equal(tw.iteration[stop], it2)
    assert np.array_equal(tw.refer[stop], ref2) and not np.array_equal(b2, b[stop])


# --------------------------------------------------------------------------- LAD machinery


def test_lad_lp_fallback_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no vertex certifiable, every replicate goes to the exact LP and matches it."""
    monkeypatch.setattr(vectorized.lad, "CERT_TOL", -1.0)
    data = make({"n": 25, "errors": {"distribution": "laplace"}}, reps=10)
    info = EngineInfo()
    vec = fit_dataset_vectorized(data, SPECS["lad"], LEVEL, info=info)
    ref = fit_dataset(data, SPECS["lad"], LEVEL)
    assert info.lad_lp_fallback == 10
    assert_equivalent(vec, ref)


def test_lad_no_fallback_on_typical_data() -> None:
    """The vertex descent certifies every typical replicate, fixed and random designs."""
    for fixed in (True, False):
        data = make(
            {"n": 100, "design": {"fixed": fixed}, "errors": {"distribution": "t", "df": 3}},
            reps=200,
        )
        info = EngineInfo()
        fit_dataset_vectorized(data, SPECS["lad"], LEVEL, info=info)
        assert info.lad_interior_point == 0
        assert info.lad_lp_fallback == 0
        assert info.reference_fallback == 0
        assert 0 < info.lad_pivots < 20 * 200


@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "random"])
def test_lad_interior_point_path(fixed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A descent cut short hands its replicates to the interior point, still exact."""
    monkeypatch.setattr(vectorized.lad, "DESCENT_MAXPIV", 1)
    data = make({"n": 60, "design": {"fixed": fixed}, "errors": {"distribution": "laplace"}})
    info = EngineInfo()
    vec = fit_dataset_vectorized(data, SPECS["lad"], LEVEL, info=info)
    assert info.lad_interior_point > R // 2 and info.ipm_iterations > 0
    assert check_lad(data, vec, fit_dataset(data, SPECS["lad"], LEVEL)) >= 0.8 * R


def test_lad_certificate_helper() -> None:
    data = make({"n": 25}, reps=3)
    X, y = data.X, data.y[0]
    b, code, _ = estimators.lad_lp(X, y)
    assert code == 0
    optimal, unique = vectorized.lad_certificate(X, y, b)
    assert optimal and unique
    optimal, _ = vectorized.lad_certificate(X, y, b + 0.1)
    assert not optimal


def test_lad_non_unique_optimum_has_the_optimal_objective() -> None:
    """y = |x| around 0 on a symmetric grid: many L1 optima; the objective must still match."""
    x = np.repeat(np.linspace(-1.0, 1.0, 5), 2)
    X = np.column_stack([np.ones_like(x), x])
    y = np.tile(np.array([0.0, 1.0]), 5)[None, :].repeat(4, axis=0)
    data = Dataset(X, y, np.zeros((4, 2)), np.arange(4))
    vec = fit_dataset_vectorized(data, SPECS["lad"], LEVEL)
    ref = fit_dataset(data, SPECS["lad"], LEVEL)
    check_lad(data, vec, ref)


# --------------------------------------------------------------------------- engine properties


def test_deterministic_and_chunking_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make({"n": 25, "design": {"fixed": False}, "errors": {"distribution": "cauchy"}}, 60)
    base = {}
    for name, spec in SPECS.items():
        a = fit_dataset_vectorized(data, spec, LEVEL)
        b = fit_dataset_vectorized(data, spec, LEVEL)
        for field in ("estimate", "std_error", "ci_low", "ci_high"):
            assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True)
        assert (a.status == b.status).all() and (a.message == b.message).all()
        base[name] = a
    monkeypatch.setattr(vectorized, "CHUNK_CELLS", 25 * 7)  # chunks of 7 replicates
    for name, spec in SPECS.items():
        c = fit_dataset_vectorized(data, spec, LEVEL)
        assert_same_statuses(base[name], c)
        for field in ("estimate", "std_error"):
            assert rel_close(getattr(c, field), getattr(base[name], field), 1e-12).all()


def test_chunks_respect_the_memory_bound() -> None:
    for n in (8, 100, 1000, 100_000):
        for shared_iterative in (False, True):
            m = vectorized._chunk_size(n, 5, shared_iterative)
            assert m >= 1
            assert m == 1 or m * n * 5 * 8 <= vectorized.MAX_CHUNK_BYTES


def test_no_warnings_escape() -> None:
    data = make({"n": 8, "design": {"fixed": False}, "errors": {"distribution": "cauchy"}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for spec in SPECS.values():
            fit_dataset_vectorized(data, spec, LEVEL)


def test_unknown_specs_are_left_to_the_reference() -> None:
    data = make({"n": 25}, reps=5)
    for spec in ({"method": "ols", "se": "hc4"}, {"method": "ols", "bogus": 1}):
        vec = fit_dataset_vectorized(data, spec, LEVEL)
        ref = fit_dataset(data, spec, LEVEL)
        assert_same_statuses(vec, ref)


SPLIT_CASES = {
    "fixed-normal": {},
    "fixed-t3": {"errors": {"distribution": "t", "df": 3}},
    "fixed-het-n25": {"n": 25, "heteroskedasticity": {"strength": 2.0}},
    "random": {"design": {"fixed": False}},
    "prior": {"prior": {"tau": 0.5}},
}


@pytest.mark.parametrize("case", SPLIT_CASES)
@pytest.mark.parametrize("name", SPECS)
def test_results_do_not_depend_on_how_replicates_are_split(case: str, name: str) -> None:
    """Bit for bit: a replicate's fit must not depend on which others share its job
    (replicates_per_job never changes a result)."""
    knobs = deep_merge(BUILTIN_DEFAULTS, SPLIT_CASES[case])
    if knobs["errors"]["distribution"] == "t":
        knobs["errors"]["df"] = 3
    whole = fit_dataset_vectorized(simulate(knobs, 3, case, 0, 45), SPECS[name], LEVEL)
    parts = [
        fit_dataset_vectorized(simulate(knobs, 3, case, a, b), SPECS[name], LEVEL)
        for a, b in ((0, 1), (1, 14), (14, 45))
    ]
    for field in ("estimate", "std_error", "ci_low", "ci_high"):
        joined = np.vstack([getattr(p, field) for p in parts])
        assert np.array_equal(joined, getattr(whole, field), equal_nan=True), field
    assert list(np.concatenate([p.status for p in parts])) == list(whole.status)


SHARED_SPECS = list(SPECS)  # every method fits a fixed design through the one shared X


def _check(data: Dataset, vec: FitResult, ref: FitResult, name: str) -> None:
    """The reference comparison of each method (LAD: exact optimum, see check_lad)."""
    if SPECS[name]["method"] == "lad":
        check_lad(data, vec, ref)
    else:
        assert_equivalent(vec, ref)


@pytest.mark.parametrize("n", [25, 100])
def test_fixed_design_shared_path_is_bit_identical_across_splits(
    n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every method fits a fixed design with one X for all replicates (OLS, WLS and ridge also
    factorise it once); BLAS must still give every replicate the same bits in any batch
    (sizes 1 to 150, blocks of SHARED_BLOCK and partial ones, several chunks)."""

    def stacked_only(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a fixed, well-conditioned design must take the shared path")

    monkeypatch.setattr(vectorized, "_ols", stacked_only)
    monkeypatch.setattr(vectorized, "_ridge", stacked_only)
    monkeypatch.setattr(vectorized, "_fit_chunk", stacked_only)
    monkeypatch.setattr(vectorized, "CHUNK_CELLS", n * 70)  # chunks of 70 replicates
    monkeypatch.setattr(vectorized, "SHARED_ITERATIVE_CELLS", n * 70)
    knobs = deep_merge(BUILTIN_DEFAULTS, {"n": n, "heteroskedasticity": {"strength": 1.0}})
    reps = 150
    splits = ((0, 1), (1, 14), (14, 62), (62, 63), (63, 150))
    whole_data = simulate(knobs, 5, "split", 0, reps)
    for name in SHARED_SPECS:
        whole = fit_dataset_vectorized(whole_data, SPECS[name], LEVEL)
        parts = [
            fit_dataset_vectorized(simulate(knobs, 5, "split", a, b), SPECS[name], LEVEL)
            for a, b in splits
        ]
        for field in ("estimate", "std_error", "ci_low", "ci_high"):
            joined = np.vstack([getattr(p, field) for p in parts])
            assert np.array_equal(joined, getattr(whole, field), equal_nan=True), (name, field)
        # and one at a time, in reverse order
        for i in (149, 100, 48, 47, 0):
            one = fit_dataset_vectorized(whole_data.head(i + 1), SPECS[name], LEVEL)
            assert np.array_equal(one.estimate[i], whole.estimate[i]), (name, i)
            assert np.array_equal(one.std_error[i], whole.std_error[i]), (name, i)
        head_data = whole_data.head(30)
        ref = fit_dataset(head_data, SPECS[name], LEVEL)
        head = FitResult(*(getattr(whole, k)[:30] for k in FitResult.__dataclass_fields__))
        _check(head_data, head, ref, name)


@pytest.mark.parametrize("n", [100, 1000])
@pytest.mark.parametrize("name", ["huber", "lad"])
def test_robust_fits_of_a_fixed_design_do_not_depend_on_the_batch(
    name: str, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replicates [0:100] fitted at once equal [0:50] and [50:100] fitted separately, and a
    run in chunks of 7, bit for bit (heavy tails: long IRLS runs and many LAD pivots); and
    they stay equal to the reference."""
    knobs = deep_merge(BUILTIN_DEFAULTS, {"n": n, "errors": {"distribution": "t", "df": 3}})
    spec = SPECS[name]
    whole = fit_dataset_vectorized(simulate(knobs, 9, "batch", 0, 100), spec, LEVEL)
    halves = [
        fit_dataset_vectorized(simulate(knobs, 9, "batch", a, b), spec, LEVEL)
        for a, b in ((0, 50), (50, 100))
    ]
    monkeypatch.setattr(vectorized, "SHARED_ITERATIVE_CELLS", n * 7)
    chunked = fit_dataset_vectorized(simulate(knobs, 9, "batch", 0, 100), spec, LEVEL)
    for field in ("estimate", "std_error", "ci_low", "ci_high"):
        joined = np.vstack([getattr(h, field) for h in halves])
        assert np.array_equal(joined, getattr(whole, field)), field
        assert np.array_equal(getattr(chunked, field), getattr(whole, field)), field
    data = simulate(knobs, 9, "batch", 0, 10)
    head = FitResult(*(getattr(whole, k)[:10] for k in FitResult.__dataclass_fields__))
    _check(data, head, fit_dataset(data, spec, LEVEL), name)


def test_fixed_design_shared_path_refers_non_finite_responses() -> None:
    """A non-finite y goes to the reference alone; its neighbours keep their shared-path bits."""
    data = make({"n": 25}, reps=30)
    y = data.y.copy()
    y[4, 3] = np.nan
    y[20, 0] = np.nan
    broken = Dataset(data.X, y, data.beta, data.replicates)
    for name in SHARED_SPECS:
        info = EngineInfo()
        vec = fit_dataset_vectorized(broken, SPECS[name], LEVEL, info=info)
        assert info.reference_fallback == 2 and info.fits == 30
        _check(broken, vec, fit_dataset(broken, SPECS[name], LEVEL), name)
        clean = fit_dataset_vectorized(data, SPECS[name], LEVEL)
        keep = np.setdiff1d(np.arange(30), [4, 20])
        assert np.array_equal(vec.estimate[keep], clean.estimate[keep])


def test_selection_shortcuts_equal_numpy_bit_for_bit() -> None:
    """Huber's MAD (order statistics of |r|, then divided) and LAD's sorted quartiles are
    np.median / np.percentile exactly: odd and even n, ties, values that round alike once
    divided, infinities."""
    from lossstudy.vectorized.huber import MAD_C, _row_mad

    rng = np.random.default_rng(8)
    for n in (7, 8, 25, 200, 201, 1000):
        a = np.abs(rng.standard_t(3, (40, n)))
        a[:4, : n // 2 + 2] = 1.0  # ties across the middle
        a[4, n // 2 :] = np.nextafter(a[4, n // 2 :], 2.0)  # neighbours that divide alike
        a[5, :3] = np.inf
        assert np.array_equal(_row_mad(a, np.empty_like(a)), np.median(a / MAD_C, axis=1)), n
        e = rng.standard_t(3, (40, n))
        e[:3, :5] = 0.0
        assert np.array_equal(np.stack(vectorized.lad._quartiles(e)), np.percentile(e, [75, 25], 1))


def test_shared_ols_classical_se_when_the_fit_explains_nearly_all_of_y() -> None:
    """Classical SEs on a shared design use RSS = y'y − b'(X'X)b; where that cancels (its error
    bound 2·eps·κ·y'y/RSS above RSS_RTOL) the residuals are computed instead, so the SE keeps
    its relative accuracy: within 1e-8 of statsmodels relative to the SE itself, at residual
    scales from 1 to 1e-7."""
    from lossstudy.vectorized.linear import RSS_RTOL, SharedDesign

    data = make({"n": 100}, reps=40)
    noise = data.y - (data.X @ data.beta[0])
    scales = np.repeat(10.0 ** -np.arange(8.0), 5)[:, None]  # 1, 0.1, ..., 1e-7
    y = data.X @ data.beta[0] + scales * noise
    tight = Dataset(data.X, y, data.beta, data.replicates)
    vec = fit_dataset_vectorized(tight, SPECS["ols"], LEVEL)
    ref = fit_dataset(tight, SPECS["ols"], LEVEL)
    rss_share = np.einsum("rn,rn->r", y - vec.estimate @ data.X.T, y - vec.estimate @ data.X.T)
    kappa = SharedDesign.make(data.X, 1e12).kappa
    bound = 2 * np.finfo(float).eps * kappa * np.einsum("rn,rn->r", y, y) / rss_share
    assert 10 <= (bound > RSS_RTOL).sum() <= 30  # both paths run, 5 replicates per scale
    assert np.all(np.abs(vec.std_error / ref.std_error - 1.0) < 1e-8)
    assert_equivalent(vec, ref)
