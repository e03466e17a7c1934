"""The L1 penalty and the elastic net: the exact fits equal statsmodels (lasso) and a KKT
certificate (elastic net, where statsmodels' own coordinate steps stop short), the λ convention
is the study's ridge's, and the batched fit is independent of the job split bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.regression.linear_model import OLS

from lossstudy import estimators, methods
from lossstudy.dgp import Dataset
from lossstudy.estimators import ridge_closed_form
from lossstudy.losses.l1_penalty import statsmodels_alpha
from lossstudy.methods import registry
from lossstudy.performance import performance_table
from lossstudy.vectorized import EngineInfo, fit_dataset_vectorized
from lossstudy.vectorized.coordinate import elastic_net_gram, kkt_certified


def _data(R: int, n: int = 60, correlation: float = 0.0, seed: int = 5) -> Dataset:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 4))
    z = np.sqrt(1 - correlation) * z + np.sqrt(correlation) * rng.standard_normal((n, 1))
    X = np.column_stack([np.ones(n), z])
    beta = np.array([1.0, 2.0, -1.0, 0.5, 0.0])
    y = X @ beta + rng.standard_normal((R, n))
    return Dataset(X, y, np.tile(beta, (R, 1)), np.arange(R))


def _objective(X, y, b, lam, mix):
    s = b[1:]
    return ((y - X @ b) ** 2).sum() + lam * (mix * np.abs(s).sum() + (1 - mix) * (s * s).sum())


def _statsmodels(X, y, lam, mix, start=None):
    n, p = X.shape
    alpha, l1_wt = statsmodels_alpha(lam, mix, n, p)
    fit = OLS(y, X).fit_regularized(
        method="elastic_net",
        alpha=alpha,
        L1_wt=l1_wt,
        start_params=start,
        cnvrg_tol=1e-14,
        maxiter=100_000,
    )
    return fit.params


@pytest.mark.parametrize(
    ("lam", "mix", "correlation"),
    [(0.5, 1.0, 0.0), (10.0, 1.0, 0.0), (60.0, 1.0, 0.0), (10.0, 1.0, 0.9), (25.0, 0.2, 0.5),
     (25.0, 0.7, 0.5)],
)  # fmt: skip
def test_equals_statsmodels_where_it_converges(lam, mix, correlation):
    """statsmodels (λ mapped to its alpha, L1_wt) is the reference; where its coordinate steps
    stop short of the optimum (KKT fails: a false zero, under collinearity or w < 1), ours has
    a lower objective and is a fixed point of statsmodels' own iteration."""
    R = 12
    data = _data(R, correlation=correlation)
    spec = {"method": "elastic_net", "penalty": lam, "mix": mix}
    fit = fit_dataset_vectorized(data, spec, 0.95)
    assert set(fit.status) == {"ok"} and set(fit.message) == {""}
    assert np.isnan(fit.std_error).all() and np.isnan(fit.ci_low).all()
    p = data.X.shape[1]
    G = np.broadcast_to(data.X.T @ data.X, (R, p, p))
    assert kkt_certified(G, data.y @ data.X, fit.estimate, lam, mix).all()
    for i in range(R):
        ours, sm = fit.estimate[i], _statsmodels(data.X, data.y[i], lam, mix)
        if kkt_certified(G[:1], (data.y[i] @ data.X)[None], sm[None], lam, mix)[0]:
            np.testing.assert_allclose(ours, sm, rtol=0, atol=1e-8)
        else:
            theirs = _objective(data.X, data.y[i], sm, lam, mix)
            assert _objective(data.X, data.y[i], ours, lam, mix) < theirs
            again = _statsmodels(data.X, data.y[i], lam, mix, start=ours)
            np.testing.assert_allclose(ours, again, rtol=0, atol=1e-8)


def test_lasso_gives_exact_zeros_where_kkt_says_so():
    data = _data(40)
    fit = fit_dataset_vectorized(data, {"method": "lasso", "penalty": 40.0}, 0.95)
    zeros = fit.estimate[:, 1:] == 0
    assert 0 < zeros.mean() < 1  # the true zero slope is often cut, the large ones never
    assert not zeros[:, 0].any()
    r = data.y - fit.estimate @ data.X.T
    grad = r @ data.X  # x_j'r: |.| ≤ λ/2 at a zero, = ±λ/2 elsewhere
    assert np.all(np.abs(grad[:, 1:][zeros]) <= 20.0 + 1e-9)
    np.testing.assert_allclose(np.abs(grad[:, 1:][~zeros]), 20.0, rtol=1e-9)
    np.testing.assert_allclose(grad[:, 0], 0.0, atol=1e-9)  # the intercept is free


def test_statsmodels_elastic_net_can_stop_at_a_false_zero():
    """Why the reference fit checks statsmodels' answer: a known replicate where its 1-d
    steps leave a small coefficient at 0 that the KKT conditions reject."""
    rng = np.random.default_rng(2)
    n, p, lam, mix = 100, 5, 30.0, 0.4
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    y = X @ np.array([1, 2, -1, 0.5, 0.0]) + rng.standard_normal((300, n))
    yy = y[241]
    alpha, l1_wt = statsmodels_alpha(lam, mix, n, p)
    sm = OLS(yy, X).fit_regularized(
        method="elastic_net", alpha=alpha, L1_wt=l1_wt, cnvrg_tol=1e-14, maxiter=100_000
    )
    G, c = (X.T @ X)[None], (X.T @ yy)[None]
    assert not kkt_certified(G, c, sm.params[None], lam, mix)[0]
    ref = estimators.fit_one(X, yy, {"method": "elastic_net", "penalty": lam, "mix": mix}, 0.95)
    assert kkt_certified(G, c, ref[0][None], lam, mix)[0]
    assert _objective(X, yy, ref[0], lam, mix) < _objective(X, yy, sm.params, lam, mix)


def test_mix_zero_is_ridge_and_lambda_zero_is_ols():
    data = _data(5, correlation=0.7)
    p = data.X.shape[1]
    G = np.broadcast_to(data.X.T @ data.X, (5, p, p))
    b, ok = elastic_net_gram(G, data.y @ data.X, 10.0, 0.0)
    assert ok.all()
    for i in range(5):
        np.testing.assert_allclose(b[i], ridge_closed_form(data.X, data.y[i], 10.0)[0], atol=1e-10)
    ols = fit_dataset_vectorized(data, {"method": "lasso", "penalty": 0.0}, 0.95)
    ref = fit_dataset_vectorized(data, {"method": "ols"}, 0.95)
    np.testing.assert_allclose(ols.estimate, ref.estimate, atol=1e-10)


def test_reference_engine_equals_batched():
    data = _data(6, correlation=0.5)
    for spec in ({"method": "lasso", "penalty": 5.0}, {"method": "elastic_net", "penalty": 5.0}):
        fast = fit_dataset_vectorized(data, spec, 0.95)
        slow = estimators.fit_dataset(data, spec, 0.95)
        np.testing.assert_allclose(fast.estimate, slow.estimate, rtol=0, atol=1e-8)
        assert list(fast.message) == list(slow.message)


def test_batched_fit_is_independent_of_the_split():
    data = _data(37, correlation=0.95, seed=9)
    spec = {"method": "elastic_net", "penalty": 3.0, "mix": 0.9}
    whole = fit_dataset_vectorized(data, spec, 0.95).estimate
    parts = [fit_dataset_vectorized(data.head(m), spec, 0.95).estimate for m in (1, 10)]
    tail = Dataset(data.X, data.y[10:], data.beta[10:], data.replicates[10:])
    rest = fit_dataset_vectorized(tail, spec, 0.95).estimate
    assert np.array_equal(whole[:1], parts[0]) and np.array_equal(whole[:10], parts[1])
    assert np.array_equal(whole[10:], rest)
    # random designs (stacked) give the same bits as the shared one
    stacked = Dataset(
        np.ascontiguousarray(data.stacked_design()), data.y, data.beta, data.replicates
    )
    assert np.array_equal(fit_dataset_vectorized(stacked, spec, 0.95).estimate, whole)


def test_registry_facts_and_specs():
    lasso = registry.resolve({"method": "lasso", "penalty": 2.0})
    assert lasso.fit.key == ("squared", "l1", "exact")
    assert not lasso.fit.linear_in_y and not lasso.fit.intervals and lasso.se == "none"
    assert not lasso.needs_full_rank()
    assert registry.resolve({"method": "lasso", "penalty": 0.0}).needs_full_rank()
    explicit = registry.canonical({"loss": "squared", "penalty": "elastic_net", "lambda": 2.0})
    assert explicit == {"method": "elastic_net", "penalty": 2.0, "mix": 0.5}
    assert registry.penalised({"loss": "squared", "penalty": "l1", "lambda": 2.0})
    assert not registry.penalised({"method": "lasso", "penalty": 0})
    with pytest.raises(registry.SpecError) as err:
        registry.resolve({"method": "elastic_net", "penalty": 1.0, "mix": 1.5})
    assert err.value.field == "mix"
    texts = methods.describe({"method": "lasso", "penalty": 2.0})
    assert "|βⱼ|" in texts["penalty_text"]


def test_rank_deficient_design_with_ridge_part_fits():
    data = _data(4)
    X = np.column_stack([data.X, data.X[:, 1]])  # a duplicated column: rank p − 1
    d = Dataset(X, data.y, np.column_stack([data.beta, np.zeros(4)]), data.replicates)
    info = EngineInfo()
    fit = fit_dataset_vectorized(
        d, {"method": "elastic_net", "penalty": 4.0, "mix": 0.5}, 0.95, info=info
    )
    assert set(fit.status) == {"ok"} and info.reference_fallback == 0
    np.testing.assert_allclose(fit.estimate[:, 1], fit.estimate[:, 5], atol=1e-10)


# --------------------------------------------------------------------------- selection measures


def _estimates(name: str, est: np.ndarray, truth: np.ndarray, status=None) -> pd.DataFrame:
    """Rows replicate × term (intercept first) of one estimator."""
    R, p = est.shape
    terms = ["intercept", *(f"x{j}" for j in range(1, p))]
    status = ["ok"] * R if status is None else status
    return pd.DataFrame(
        {
            "scenario": "s",
            "replicate": np.repeat(np.arange(R), p),
            "estimator": name,
            "method": name,
            "term": np.tile(terms, R),
            "true_value": truth.ravel(),
            "estimate": est.ravel(),
            "std_error": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "status": np.repeat(status, p),
            "message": "",
        }
    )


def _model(perf: pd.DataFrame, estimator: str, measure: str) -> pd.Series:
    rows = perf[(perf["estimator"] == estimator) & (perf["measure"] == measure)]
    assert len(rows) == 1 and (rows["term"] == "model").all()
    return rows.iloc[0]


def test_selection_measures_follow_each_replicates_own_support():
    rng = np.random.default_rng(3)
    R, p = 400, 6
    truth = rng.standard_normal((R, p)) * (rng.random((R, p)) < 0.5)  # spike and slab
    truth[:, 0] = 1.0
    truth[0, 1:] = 0.0  # a replicate with no true non-zero slope: no TPR
    truth[1, 1:] = 1.0  # and one with no true zero: no FPR
    est = truth + 0.3 * rng.standard_normal((R, p))
    est[:, 1:] *= rng.random((R, p - 1)) < 0.7  # exact zeros
    status = ["ok"] * R
    status[5] = "failed"
    frame = pd.concat([_estimates("lasso", est, truth, status), _estimates("ols", est, truth)])
    perf = performance_table(frame, "ols", 0.95, selecting=["lasso"])
    assert not perf[perf["estimator"] == "ols"]["measure"].isin(["zero_share", "tpr", "fpr"]).any()
    use = np.arange(R) != 5
    chosen, real = est[use, 1:] != 0, truth[use, 1:] != 0
    zero = (~chosen).mean(axis=1)
    has_real, has_zero = real.any(1), (~real).any(1)
    tpr = (chosen & real).sum(1)[has_real] / real.sum(1)[has_real]
    fpr = (chosen & ~real).sum(1)[has_zero] / (~real).sum(1)[has_zero]
    for measure, x in (("zero_share", zero), ("tpr", tpr), ("fpr", fpr)):
        row = _model(perf, "lasso", measure)
        assert row["n_used"] == x.size
        assert row["value"] == pytest.approx(x.mean(), rel=1e-12)
        assert row["mcse"] == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=1e-9)
        assert row["defined"] and row["mcse_valid"]
    assert has_real.sum() < R - 1 and has_zero.sum() < R - 1  # the exclusions bite


def test_lasso_is_a_selecting_fit_and_ridge_is_not():
    assert registry.fit_for({"method": "lasso"}).selects
    assert registry.fit_for({"method": "elastic_net"}).selects
    assert not registry.fit_for({"method": "ridge"}).selects


# --------------------------------------------------------------------------- LAD-lasso


def test_lad_lasso_is_the_exact_lp_optimum_with_exact_zeros():
    from scipy.optimize import linprog

    rng = np.random.default_rng(1)
    n, p = 60, 6
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    y = X @ np.array([1.0, 2.0, 0.0, 0.0, 0.3, 0.0]) + rng.standard_t(3, n)
    lad = estimators.fit_one(X, y, {"method": "lad"}, 0.95)[0]
    zeros = []
    for lam in (0.0, 5.0, 20.0, 1e3):
        spec = {"loss": "absolute", "penalty": "l1", "lambda": lam}
        b, se, lo, _, status, message = estimators.fit_one(X, y, spec, 0.95)
        assert status == "ok" and message == "" and np.isnan(se).all() and np.isnan(lo).all()
        # an independent primal LP (interior point): b = b⁺ − b⁻, r = u − v
        w = np.r_[0.0, np.full(p - 1, lam)]
        c = np.r_[w, w, np.ones(2 * n)]
        A = np.hstack([X, -X, np.eye(n), -np.eye(n)])
        ref = linprog(c, A_eq=A, b_eq=y, bounds=(0, None), method="highs-ipm")
        obj = np.abs(y - X @ b).sum() + lam * np.abs(b[1:]).sum()
        assert obj == pytest.approx(ref.fun, rel=1e-10)
        zeros.append(int((b[1:] == 0).sum()))
        if lam == 0:
            np.testing.assert_allclose(b, lad, atol=1e-8)
        if lam == 1e3:
            mid = np.sort(y)[n // 2 - 1 : n // 2 + 1]  # n even: any point between is a median
            assert mid[0] - 1e-12 <= b[0] <= mid[1] + 1e-12
    assert zeros[0] == 0 and zeros == sorted(zeros) and zeros[-1] == p - 1
    fit = registry.fit_of("absolute", "l1")
    assert fit.selects and fit.robust and not fit.linear_in_y
    assert registry.resolve({"loss": "absolute", "penalty": "l1", "lambda": 2}).label == (
        "absolute-l1"
    )
