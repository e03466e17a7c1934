"""λ chosen by GCV and K-fold CV (``solver: gcv | cv``): the criteria against their
definitions, the tuned fit as the fixed-λ fit at the chosen λ, the chosen λ recorded per
replicate and the same across job splits and engines, and bad specs."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from lossstudy import methods, pipeline, tuning
from lossstudy.config import ConfigError, load_study
from lossstudy.dgp import Dataset
from lossstudy.estimators import fit_dataset, fit_one
from lossstudy.vectorized import fit_dataset_vectorized

GCV = {"loss": "squared", "penalty": "l2", "solver": "gcv"}
CV = {"loss": "squared", "penalty": "l2", "solver": "cv", "folds": 4}


def _xy(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 3))])
    return X, X @ np.r_[1.0, 0.3, -0.2, 0.1] + rng.standard_normal(n)


def _ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    return tuning.ridge_at(X, y, lam)


def test_gcv_is_n_rss_over_the_squared_residual_degrees_of_freedom():
    X, y = _xy()
    n, D = len(y), np.diag([0.0, 1, 1, 1])
    for lam, got in zip(tuning.GRID, tuning.gcv_scores(X, y), strict=True):
        H = X @ np.linalg.solve(X.T @ X + lam * D, X.T)
        r = y - H @ y
        assert got == pytest.approx(n * (r @ r) / (n - np.trace(H)) ** 2, rel=1e-10)


def test_k_fold_cv_is_the_held_out_error_of_folds_by_row_index():
    X, y = _xy(23)
    fold = np.arange(23) % 4
    want = [
        sum(
            float(
                np.sum((y[fold == k] - X[fold == k] @ _ridge(X[fold != k], y[fold != k], lam)) ** 2)
            )
            for k in range(4)
        )
        for lam in tuning.GRID
    ]
    np.testing.assert_allclose(tuning.ridge_cv_scores(X, y, 4), want, rtol=1e-10)
    np.testing.assert_allclose(tuning.cv_scores(X, y, 4, tuning.ridge_at), want, rtol=1e-10)


@pytest.mark.parametrize("spec", [GCV, CV], ids=["gcv", "cv"])
def test_the_tuned_fit_is_ridge_at_the_chosen_penalty_bit_for_bit(spec):
    X, y = _xy()
    lam = tuning.chosen_penalty(X, y, spec["solver"], spec.get("folds", 5))
    assert lam in tuning.GRID
    got, want = fit_one(X, y, spec, 0.95), fit_one(X, y, {"method": "ridge", "penalty": lam}, 0.95)
    for a, b in zip(got[:2], want[:2], strict=True):
        assert np.array_equal(a, b)


def _prior_data(R: int, n: int, seed: int, fixed: bool = True) -> Dataset:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 3))])
    beta = np.column_stack([np.ones(R), 0.316227766 * rng.standard_normal((R, 3))])
    if not fixed:
        X = np.concatenate([np.ones((R, n, 1)), rng.standard_normal((R, n, 3))], axis=2)
        return Dataset(X, np.einsum("rnp,rp->rn", X, beta) + rng.standard_normal((R, n)), beta,
                       np.arange(R))  # fmt: skip
    return Dataset(X, beta @ X.T + rng.standard_normal((R, n)), beta, np.arange(R))


@pytest.mark.parametrize("spec", [GCV, CV], ids=["gcv", "cv"])
@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "random"])
def test_chosen_penalty_is_recorded_and_a_split_or_engine_changes_no_bit(spec, fixed):
    data = _prior_data(40, 24, seed=2, fixed=fixed)
    whole = fit_dataset_vectorized(data, spec, 0.95)
    assert whole.tuned is not None and np.all(np.isin(whole.tuned, tuning.GRID))
    parts = [
        fit_dataset_vectorized(
            Dataset(data.X if fixed else data.X[s], data.y[s], data.beta[s], data.replicates[s]),
            spec,
            0.95,
        )
        for s in (slice(0, 9), slice(9, 40))
    ]
    assert np.array_equal(np.concatenate([p.tuned for p in parts]), whole.tuned)
    assert np.array_equal(np.concatenate([p.estimate for p in parts]), whole.estimate)
    reference = fit_dataset(data, spec, 0.95)
    assert np.array_equal(pipeline._chosen(data, spec, reference), whole.tuned)
    assert np.array_equal(reference.estimate, whole.estimate)


def test_the_estimates_file_gets_the_chosen_strength_only_where_a_member_tunes(tmp_path):
    data = _prior_data(12, 20, seed=4)
    data.save(tmp_path / "d.npz")
    plain = {"ols": {"method": "ols"}, "ridge": {"method": "ridge", "penalty": 10.0}}
    pipeline.fit_chunk(tmp_path / "d.npz", "s", plain, 0.95, "vectorized", tmp_path / "a.parquet")
    assert "chosen_strength" not in pq.read_schema(tmp_path / "a.parquet").names
    tuned = {**plain, "gcv": methods.canonical(GCV)}
    pipeline.fit_chunk(tmp_path / "d.npz", "s", tuned, 0.95, "vectorized", tmp_path / "b.parquet")
    table = pq.read_table(tmp_path / "b.parquet").to_pandas()
    chosen = table.groupby("estimator")["chosen_strength"].agg(lambda v: v.notna().all())
    assert chosen.to_dict() == {"gcv": True, "ols": False, "ridge": False}
    old = pq.read_table(tmp_path / "a.parquet").to_pandas()
    new = table[table["estimator"] != "gcv"].drop(columns="chosen_strength").reset_index(drop=True)
    assert old.equals(new)  # the other members' rows are untouched


def test_gcv_finds_the_bayes_penalty_under_a_gaussian_prior_on_average():
    data = _prior_data(300, 100, seed=7)  # σ = 1, τ² = 0.1: the Bayes rule λ = 10
    chosen = fit_dataset_vectorized(data, GCV, 0.95).tuned
    assert 3.0 < float(np.median(chosen)) < 30.0


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({**CV, "folds": 40}, "estimators.r.folds", "allowed 2..30"),
        ({**CV, "folds": 1}, "estimators.r.folds", ">= 2"),
        ({**GCV, "lambda": 3.0}, "estimators.r.lambda", "chooses λ itself"),
    ],
)
def test_bad_tuning_specs_stop_naming_the_field(spec, field, says):
    cfg = {"seed": 1, "replicates": 10, "scenarios": {"s": {"n": 30}}, "estimators": {"r": spec}}
    with pytest.raises(ConfigError) as info:
        load_study(cfg)
    message = str(info.value)
    assert f"'{field}'" in message and says in message and "\n" not in message


@pytest.mark.parametrize("solver", ["gcv", "cv"])
def test_every_replicate_at_once_chooses_what_each_chooses_alone(solver):
    """chosen_penalties scores a fixed design's replicates together (one SVD per fold); its λ
    must be chosen_penalty's, replicate by replicate, ties and degenerate replicates included."""
    rng = np.random.default_rng(11)
    n, p, R = 60, 4, 300
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    Y = X @ np.array([1.0, 0.5, 0.0, -0.3]) + rng.standard_t(3, size=(R, n))
    Y[0] = 2.0  # constant y: every λ scores the same, the first (0) must win
    Y[1] = X @ np.array([1.0, 0.2, 0.1, 0.0])  # exact fit: RSS 0 at λ = 0
    Y[2, 5] = np.nan  # a non-finite replicate: chosen on its own
    got = tuning.chosen_penalties(X, Y, solver)
    expect = [tuning.chosen_penalty(X, Y[i], solver) for i in range(R)]
    np.testing.assert_array_equal(got, np.array(expect))
    assert len(set(expect)) > 3  # the replicates really choose different λ


def test_a_near_tie_in_the_batched_scores_is_chosen_again_alone(monkeypatch):
    """Summing in another order moves a score by ulps; where the batched scores put two λ
    within TIE of each other, the replicate's λ comes from chosen_penalty itself."""
    rng = np.random.default_rng(3)
    n = 40
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    Y = X @ np.array([0.0, 1.0, 0.5]) + rng.normal(size=(5, n))
    exact = np.array([tuning.gcv_scores(X, y) for y in Y])
    skewed = exact.copy()
    best, other = np.argsort(exact[2])[:2]
    skewed[2, other] = exact[2, best] * (1 - 1e-12)  # now "best" by a hair, as rounding could
    monkeypatch.setattr(tuning, "_gcv_all", lambda X, Y: skewed)
    got = tuning.chosen_penalties(X, Y, "gcv")
    assert got[2] == tuning.GRID[best] == tuning.chosen_penalty(X, Y[2], "gcv")
