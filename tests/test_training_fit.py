"""Trained members in fit jobs: the exact minimiser they are measured against, one trajectory
per group, bits that depend only on (seed, scenario, replicate), and exact-only jobs as before."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from lossstudy import methods
from lossstudy.config import BUILTIN_DEFAULTS
from lossstudy.dgp import Dataset, simulate
from lossstudy.pipeline import ESTIMATE_COLUMNS, TRAINED_COLUMNS, fit_chunk, fit_with
from lossstudy.seeding import replicate_rng, training_rng
from lossstudy.training import exact
from lossstudy.training.fit import fit_trained

PARAMS = {"delta": 0.8, "scale": 1.5}
SEED, SCENARIO = 11, "train_t3"


def _data(n: int = 40, R: int = 6, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 2))])
    return X, X @ np.array([1.0, 2.0, -1.0]) + rng.standard_t(2, (R, n))


@pytest.mark.parametrize("loss", ["squared", "absolute", "huber", "pseudo_huber", "log_cosh"])
def test_the_exact_minimiser_is_the_optimum_of_the_objective(loss: str):
    """Against scipy: BFGS on the smooth objectives (its gradient from ψ), to 1e-8 in β; the
    LP optimum of LAD (HiGHS) in objective; least squares by lstsq."""
    X, y = _data()
    beta = exact.minimiser(loss, PARAMS, X, y)
    for r in range(y.shape[0]):
        if loss == "squared":
            want = np.linalg.lstsq(X, y[r], rcond=None)[0]
        elif loss == "absolute":
            n, p = X.shape  # min Σ u + v  s.t.  Xβ + u − v = y, u, v ≥ 0
            c = np.r_[np.zeros(p), np.ones(2 * n)]
            lp = optimize.linprog(c, A_eq=np.c_[X, np.eye(n), -np.eye(n)], b_eq=y[r],
                                  bounds=[(None, None)] * p + [(0, None)] * 2 * n)  # fmt: skip
            got = exact.objective(loss, PARAMS, X, y[r : r + 1], beta[r : r + 1])[0]
            assert got == pytest.approx(lp.fun / n, abs=1e-12)
            continue
        else:
            sm, c = exact.SMOOTH[loss], PARAMS[exact.PARAM[loss]]
            res = optimize.minimize(
                lambda b, r=r, sm=sm, c=c: sm.rho(y[r] - X @ b, c).mean(),
                np.zeros(3),
                jac=lambda b, r=r, sm=sm, c=c: -X.T @ sm.psi(y[r] - X @ b, c) / len(y[r]),
                method="BFGS",
                options={"gtol": 1e-13, "maxiter": 10_000},
            )
            want = res.x
        np.testing.assert_allclose(beta[r], want, rtol=0, atol=1e-8)


def test_the_objective_is_the_training_engines():
    from lossstudy.training import make_loss
    from lossstudy.training.losses import objective as engine_objective

    X, y = _data(R=2)
    beta = np.array([[0.5, 1.0, 0.0], [3.0, -2.0, 1.0]])
    for loss in ("squared", "absolute", "huber", "pseudo_huber", "log_cosh"):
        param = {k: v for k, v in PARAMS.items() if k == exact.PARAM.get(loss)}
        got = exact.objective(loss, PARAMS, X, y, beta)
        want = [float(engine_objective(make_loss(loss, **param), X, y[r], beta[r])) for r in (0, 1)]
        np.testing.assert_allclose(got, want, rtol=1e-14)


def _chunk(lo: int, hi: int, knobs: dict) -> Dataset:
    return simulate(knobs, SEED, SCENARIO, lo, hi)


KNOBS = copy.deepcopy(BUILTIN_DEFAULTS) | {"n": 30, "errors": {"distribution": "t", "df": 3.0}}
MEMBERS = {
    **{
        f"gd-steps{k}": methods.canonical(
            {"loss": "huber", "delta": 1.0, "solver": "gd", "lr_relative": 0.9, "steps": k}
        )
        for k in (3, 40, 400)
    },
    **{
        f"sgd-steps{k}": methods.canonical(
            {"loss": "absolute", "solver": "sgd", "lr": 0.05, "batch_size": 8, "steps": k}
        )
        for k in (5, 50)
    },
    "adam": methods.canonical(
        {"loss": "log_cosh", "solver": "adam", "lr": 0.05, "batch_size": 10, "epochs": 4}
    ),
    "l2-diverges": methods.canonical(
        {"loss": "squared", "solver": "gd", "lr_relative": 1.5, "steps": 300}
    ),
}


@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "random"])
def test_a_members_bits_do_not_depend_on_the_job_split(fixed: bool):
    knobs = copy.deepcopy(KNOBS)
    knobs["design"]["fixed"] = fixed
    whole = fit_trained(_chunk(0, 9, knobs), MEMBERS, SEED, SCENARIO)
    parts = [fit_trained(_chunk(a, b, knobs), MEMBERS, SEED, SCENARIO) for a, b in ((0, 2), (2, 9))]
    for name in MEMBERS:
        for field in ("estimate", "status", "message", "opt_diff", "objective_gap"):
            joined = np.concatenate([getattr(p[name], field) for p in parts])
            got = getattr(whole[name], field)
            if got.dtype == object:
                assert list(joined) == list(got), (name, field)
            else:
                assert np.array_equal(joined, got, equal_nan=True), (name, field)


def test_a_checkpoint_is_a_separate_run_that_stops_there():
    data = _chunk(0, 5, KNOBS)
    together = fit_trained(data, MEMBERS, SEED, SCENARIO)
    for name in ("gd-steps40", "sgd-steps5"):
        alone = fit_trained(data, {name: MEMBERS[name]}, SEED, SCENARIO)[name]
        np.testing.assert_array_equal(alone.estimate, together[name].estimate)
        np.testing.assert_array_equal(alone.opt_diff, together[name].opt_diff)


def test_sgd_draws_its_minibatches_from_the_training_stream():
    """Another stream (the replicate's data stream) gives another SGD path; the same one the
    same path: the order comes from seeding.training_rng, key (scenario, 3, replicate)."""
    from lossstudy.training import Solver, make_loss, train

    data = _chunk(0, 3, KNOBS)
    spec = MEMBERS["sgd-steps50"]
    solver = Solver("sgd", lr=0.05, batch_size=8, steps=(50,))

    def run(stream):
        rngs = [stream(SEED, SCENARIO, r) for r in range(3)]
        return train(data.X, data.y, make_loss("absolute"), solver, rngs).coef[:, 0]

    got = fit_trained(data, {"s": spec}, SEED, SCENARIO)["s"].estimate
    np.testing.assert_array_equal(got, run(training_rng))
    assert not np.array_equal(got, run(replicate_rng))


def test_convergence_divergence_and_the_distances_to_the_exact_fit():
    data = _chunk(0, 8, KNOBS)
    fits = fit_trained(data, MEMBERS, SEED, SCENARIO)
    early, late = fits["gd-steps3"], fits["gd-steps400"]
    assert set(late.status) == {"ok"} and set(late.message) == {""}
    # converged GD is the exact minimiser of its objective (fixed-δ Huber by Newton)
    assert np.abs(late.opt_diff).max() < 1e-9 and np.abs(late.objective_gap).max() < 1e-12
    assert (early.objective_gap > 1e-6).all() and (late.objective_gap >= -1e-15).all()
    beta_hat = exact.minimiser("huber", {"delta": 1.0}, data.X, data.y)
    np.testing.assert_array_equal(early.opt_diff, early.estimate - beta_hat)
    # c = 1.5 > 1 on the squared loss: every replicate diverges, as a result, not a crash
    bad = fits["l2-diverges"]
    assert set(bad.status) == {"diverged"} and np.isnan(bad.estimate).all()
    assert np.isnan(bad.opt_diff).all() and np.isnan(bad.objective_gap).all()
    assert "diverged within 300 steps" in bad.message[0]


def test_fit_with_trains_one_member_as_its_fit_job_does():
    """What `python -m lossstudy replay` and the overhead command call."""
    data = _chunk(0, 4, KNOBS)
    one = fit_with("vectorized", data, MEMBERS["sgd-steps50"], 0.9, seed=SEED, scenario_id=SCENARIO)
    job = fit_trained(data, MEMBERS, SEED, SCENARIO)["sgd-steps50"]
    np.testing.assert_array_equal(one.estimate, job.estimate)
    assert np.isnan(one.std_error).all() and np.isnan(one.ci_low).all()
    with pytest.raises(ValueError, match="seed"):
        fit_with("vectorized", data, MEMBERS["adam"], 0.9)


def test_fit_chunk_writes_trained_columns_only_when_it_has_trained_members(tmp_path):
    data = _chunk(0, 6, KNOBS)
    data.save(tmp_path / "d.npz")
    exact_specs = {"ols": {"method": "ols"}, "lad": {"method": "lad"}}
    fit_chunk(tmp_path / "d.npz", SCENARIO, exact_specs, 0.9, "vectorized", tmp_path / "a.parquet")
    plain = pd.read_parquet(tmp_path / "a.parquet")
    assert list(plain.columns) == list(ESTIMATE_COLUMNS)
    both = {**exact_specs, **MEMBERS}
    fit_chunk(tmp_path / "d.npz", SCENARIO, both, 0.9, "vectorized", tmp_path / "b.parquet",
              seed=SEED)  # fmt: skip
    mixed = pd.read_parquet(tmp_path / "b.parquet")
    assert list(mixed.columns) == [*ESTIMATE_COLUMNS, *TRAINED_COLUMNS]
    # the exact rows are those of the exact-only job, their new columns NaN
    pd.testing.assert_frame_equal(
        mixed[mixed.estimator.isin(exact_specs)][list(ESTIMATE_COLUMNS)], plain, check_exact=True
    )
    assert mixed[mixed.estimator.isin(exact_specs)][list(TRAINED_COLUMNS)].isna().all().all()
    gd = mixed[mixed.estimator == "gd-steps400"]
    assert set(gd.method) == {"huber-gd"} and gd.std_error.isna().all()
    gap = gd.groupby("replicate").objective_gap.nunique()
    assert (gap == 1).all()  # one value per replicate, repeated on its term rows
    assert set(mixed[mixed.estimator == "l2-diverges"].status) == {"diverged"}
    with pytest.raises(ValueError, match="seed"):
        fit_chunk(tmp_path / "d.npz", SCENARIO, both, 0.9, "vectorized", tmp_path / "c.parquet")


def test_only_jobs_with_trained_members_import_jax(tmp_path):
    _chunk(0, 3, KNOBS).save(tmp_path / "d.npz")
    code = """
import sys
from lossstudy.pipeline import fit_chunk
specs = {specs!r}
fit_chunk({path!r}, "s", specs, 0.9, "vectorized", {out!r}, seed=1)
print("jax" in sys.modules)
"""
    for specs, imported in (({"ols": {"method": "ols"}}, "False"), (MEMBERS, "True")):
        src = code.format(specs=specs, path=str(tmp_path / "d.npz"), out=str(tmp_path / "f.pq"))
        out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == imported
