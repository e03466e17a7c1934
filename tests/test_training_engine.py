"""The batched training engine: settings it refuses, bit-identity across job splits,
checkpoints against separate runs, divergence as a result, and GD-L2 against its closed form."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lossstudy.training import BLOCK, Loss, Solver, make_loss, minibatches, train
from lossstudy.training.closed_form import gd_squared_path

N, P, R = 60, 4, 100


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shared design, a random design per replicate and t(3) responses."""
    rng = np.random.default_rng(20)
    X = np.column_stack([np.ones(N), rng.standard_normal((N, P - 1))])
    Xr = np.concatenate([np.ones((R, N, 1)), rng.standard_normal((R, N, P - 1))], axis=2)
    y = X @ np.ones(P) + rng.standard_t(3, (R, N))
    return X, Xr, y


def _rngs(lo: int, hi: int) -> list[np.random.Generator]:
    """Replicate r's own stream, whatever job it is in."""
    return [np.random.default_rng([7, r]) for r in range(lo, hi)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lr": 0.0, "steps": 10}, "lr"),
        ({"lr": -1.0, "steps": 10}, "lr"),
        ({"lr_relative": float("nan"), "steps": 10}, "lr_relative"),
        ({"lr": 0.1, "lr_relative": 0.5, "steps": 10}, "lr, lr_relative"),
        ({"steps": 10}, "lr, lr_relative"),
        ({"lr": 0.1, "steps": 0}, "steps"),
        ({"lr": 0.1, "steps": 2.5}, "steps"),
        ({"lr": 0.1, "steps": [10, 10]}, "steps"),
        ({"lr": 0.1, "steps": [100, 10]}, "steps"),
        ({"lr": 0.1, "steps": []}, "steps"),
        ({"lr": 0.1}, "steps, epochs"),
        ({"lr": 0.1, "steps": 5, "epochs": 5, "batch_size": 4}, "steps, epochs"),
        ({"name": "sgd", "lr": 0.1, "steps": 5}, "batch_size"),
        ({"name": "gd", "lr": 0.1, "steps": 5, "batch_size": 4}, "batch_size"),
        ({"name": "sgd", "lr": 0.1, "steps": 5, "batch_size": 0}, "batch_size"),
        ({"name": "adam", "lr": 0.1, "epochs": 5}, "epochs"),
        ({"name": "lbfgs", "lr": 0.1, "steps": 5}, "solver"),
        ({"lr": 0.1, "steps": 5, "schedule": "cosine"}, "schedule"),
        ({"lr": 0.1, "steps": 5, "init": "random"}, "init"),
        ({"name": "adam", "lr": 0.1, "steps": 5, "betas": (0.9, 1.0)}, "betas"),
        ({"name": "adam", "lr": 0.1, "steps": 5, "eps": -1.0}, "eps"),
    ],
)
def test_bad_settings_name_their_field(kwargs: dict, field: str):
    with pytest.raises(ValueError, match=f"^{field}:"):
        Solver(**kwargs)


def test_bad_losses_and_batch_larger_than_the_data(data):
    X, _, y = data
    with pytest.raises(ValueError, match="^loss: unknown"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="takes no 'delta'"):
        make_loss("squared", delta=1.0)
    with pytest.raises(ValueError, match="^loss: delta must be positive"):
        make_loss("huber", delta=0.0)
    solver = Solver("sgd", lr=0.1, steps=5, batch_size=N + 1)
    with pytest.raises(ValueError, match="^batch_size: 61 exceeds the 60 rows"):
        train(X, y[:2], make_loss("squared"), solver, _rngs(0, 2))


def test_minibatches_are_epochs_of_permutations():
    idx = minibatches(np.random.default_rng(1), 10, 3, 7)  # 3 batches per epoch, 1 row dropped
    assert idx.shape == (7, 3)
    for epoch in (idx[:3], idx[3:6]):
        assert len(set(epoch.ravel())) == 9
    assert not np.array_equal(idx[:3], idx[3:6])
    np.testing.assert_array_equal(idx, minibatches(np.random.default_rng(1), 10, 3, 7))


SPLIT_CASES = {
    "gd-shared": ("shared", Solver("gd", lr_relative=0.9, steps=[10, 200]), ("huber", 1.0)),
    "sgd-random": (
        "random",
        Solver("sgd", lr=0.05, batch_size=8, steps=[10, 200]),
        ("log_cosh", 1.0),
    ),
    "adam-shared": (
        "shared",
        Solver("adam", lr=0.05, batch_size=6, steps=[200], average=True),
        ("squared", None),
    ),
}


@pytest.mark.parametrize("case", sorted(SPLIT_CASES))
def test_a_replicate_has_the_same_bits_in_any_job(data, case: str):
    """Alone, in a job of 7, in a job of 67 cut 64 + 3, or in the full job of 100."""
    X, Xr, y = data
    design, solver, (name, param) = SPLIT_CASES[case]
    loss = make_loss(name) if param is None else Loss(name, param)
    assert R % BLOCK and BLOCK not in (1, 7, 3)  # the full job and these splits pad a block
    design_of = (lambda lo, hi: X) if design == "shared" else (lambda lo, hi: Xr[lo:hi])
    full = train(design_of(0, R), y, loss, solver, _rngs(0, R))
    assert np.isfinite(full.coef).all() and len(np.unique(full.coef[:, -1, 1])) == R
    for lo, hi in [(0, 1), (50, 51), (99, 100), (33, 40), (0, 64), (64, 67)]:
        part = train(design_of(lo, hi), y[lo:hi], loss, solver, _rngs(lo, hi))
        np.testing.assert_array_equal(part.coef, full.coef[lo:hi])
        np.testing.assert_array_equal(part.objective, full.objective[lo:hi])
        np.testing.assert_array_equal(part.lr, full.lr[lo:hi])


def test_checkpoints_equal_separate_runs(data):
    """One trajectory recorded at 10, 50, 200 steps = three runs of 10, 50 and 200 steps."""
    X, _, y = data
    loss = make_loss("pseudo_huber", delta=1.345)
    kw = {"name": "sgd", "lr": 0.1, "batch_size": 5, "average": True, "schedule": "inv_sqrt"}
    together = train(X, y[:5], loss, Solver(steps=[10, 50, 200], **kw), _rngs(0, 5))
    for k, steps in enumerate([10, 50, 200]):
        alone = train(X, y[:5], loss, Solver(steps=steps, **kw), _rngs(0, 5))
        np.testing.assert_array_equal(alone.coef[:, 0], together.coef[:, k])
        np.testing.assert_array_equal(alone.objective[:, 0], together.objective[:, k])
    assert not np.allclose(together.coef[:, 0], together.coef[:, 2])


def test_epochs_count_minibatches_of_the_data(data):
    X, _, y = data
    solver = Solver("sgd", lr=0.05, batch_size=8, epochs=[1, 3])  # 60 // 8 = 7 steps an epoch
    by_epochs = train(X, y[:3], make_loss("absolute"), solver, _rngs(0, 3))
    np.testing.assert_array_equal(by_epochs.steps, [7, 21])
    by_steps = Solver("sgd", lr=0.05, batch_size=8, steps=[7, 21])
    np.testing.assert_array_equal(
        train(X, y[:3], make_loss("absolute"), by_steps, _rngs(0, 3)).coef, by_epochs.coef
    )


def test_a_diverged_fit_is_a_result_not_a_crash(data):
    """Squared loss past the stability limit: frozen, NaN from the step it left the ball,
    no warnings; the replicates that did not diverge (none here) and the other losses are
    untouched."""
    X, _, y = data
    solver = Solver("gd", lr_relative=3.0, steps=[1, 2000])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = train(X, y[:10], make_loss("squared"), solver)
        huber = train(X, y[:10], make_loss("huber"), solver)
    assert not out.diverged[:, 0].any() and np.isfinite(out.coef[:, 0]).all()
    assert out.diverged[:, 1].all()
    assert np.isnan(out.coef[:, 1]).all() and np.isnan(out.objective[:, 1]).all()
    assert not huber.diverged.any() and np.isfinite(huber.objective).all()


def test_gd_on_the_squared_loss_equals_its_closed_form(data):
    """β_k = β̂ − (I − ηH)^k β̂ at every checkpoint, below the limit (c < 1), to 1e-10."""
    X, Xr, y = data
    steps = [1, 10, 100, 1000]
    for c in (0.3, 0.99):
        out = train(X, y[:20], make_loss("squared"), Solver("gd", lr_relative=c, steps=steps))
        exact = gd_squared_path(X, y[:20], out.lr[0], steps)
        np.testing.assert_allclose(out.coef, exact, rtol=0, atol=1e-10)
    out = train(Xr[:3], y[:3], make_loss("squared"), Solver("gd", lr_relative=0.8, steps=steps))
    for r in range(3):  # a random design: η from each replicate's own λ_max
        exact = gd_squared_path(Xr[r], y[r], out.lr[r], steps)
        np.testing.assert_allclose(out.coef[r], exact, rtol=0, atol=1e-10)
    assert len(set(out.lr)) == 3


def test_ols_start_stays_at_the_least_squares_fit(data):
    X, _, y = data
    out = train(X, y[:4], make_loss("squared"), Solver("gd", lr=0.5, steps=[1, 50], init="ols"))
    bhat = np.linalg.lstsq(X, y[:4].T, rcond=None)[0].T
    np.testing.assert_allclose(out.coef, np.stack([bhat, bhat], axis=1), rtol=0, atol=1e-12)


_CACHE_SCRIPT = """
import sys
import numpy as np
from lossstudy.training import Solver, make_loss, train
from lossstudy.training.engine import CACHE_DIR
rng = np.random.default_rng(3)
X = np.column_stack([np.ones(400), rng.standard_normal((400, 2))])
y = X @ np.ones(3) + rng.standard_t(3, (70, 400))
rngs = [np.random.default_rng([5, r]) for r in range(70)]
solver = Solver("sgd", lr=0.05, batch_size=8, steps=[7, 50])
out = train(X, y, make_loss("huber", delta=1.0), solver, rngs)
sys.stdout.write(repr(CACHE_DIR) + "|" + out.coef.tobytes().hex())
"""


def test_the_compilation_cache_loads_the_programs_a_fresh_compile_makes(tmp_path):
    """Training jobs keep XLA's compiled programs on disk (``LOSSSTUDY_JAX_CACHE``): the job
    that compiles, the one that loads the program, and one with the cache off whose XLA may use
    every core (jobs run single-threaded by default) give the same bits, and the cache holds
    the program after the first."""
    import os
    import subprocess
    import sys

    def run(cache: str, xla: str | None = None) -> tuple[str, str]:
        env = {**os.environ, "LOSSSTUDY_JAX_CACHE": cache}
        env.pop("XLA_FLAGS", None)
        if xla is not None:
            env["XLA_FLAGS"] = xla
        done = subprocess.run(
            [sys.executable, "-c", _CACHE_SCRIPT], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        where, bits = done.stdout.split("|")
        return where, bits

    cache = tmp_path / "jax"
    first, cold = run(str(cache))
    assert first == repr(str(cache)) and any(cache.iterdir())
    _, warm = run(str(cache))
    off, fresh = run("off", "--xla_cpu_multi_thread_eigen=true")  # no cache, every core
    assert off == "None"
    assert cold == warm == fresh


@pytest.mark.parametrize("c", [0.3, 0.99, 1.01, 1.5, 10.0])
def test_gd_squared_closed_form_trains_as_the_engine(data, c):
    """The fit path's closed form for GD on the squared loss (``training.gd_squared``) gives
    the engine's checkpoints and objectives to 1e-10 (relative), the same divergence flags at
    every checkpoint on both sides of c = 1, NaN after divergence, and the same bits whatever
    the job split."""
    from lossstudy.training import gd_squared

    X, _, y = data
    solver = Solver("gd", lr_relative=c, steps=[1, 10, 200, 700, 1500])
    loss = make_loss("squared")
    assert gd_squared.applies(X, loss, solver)
    ref = train(X, y, loss, solver)
    got = gd_squared.train_gd_squared(X, y, solver)
    np.testing.assert_array_equal(got.diverged, ref.diverged)
    np.testing.assert_array_equal(got.steps, ref.steps)
    np.testing.assert_array_equal(got.lr, ref.lr)
    alive = ~ref.diverged
    assert np.isnan(got.coef[~alive]).all() and np.isnan(got.objective[~alive]).all()
    scale = np.abs(ref.coef[alive]).max() + 1.0
    assert np.abs(got.coef[alive] - ref.coef[alive]).max() < 1e-10 * scale
    np.testing.assert_allclose(got.objective[alive], ref.objective[alive], rtol=1e-10)
    if c > 1:
        assert got.diverged[:, -1].all() and not got.diverged[:, 0].any()
    else:
        assert not got.diverged.any()
    parts = [gd_squared.train_gd_squared(X, y[a:b], solver) for a, b in ((0, 7), (7, R))]
    for field in ("coef", "diverged", "objective"):
        joined = np.concatenate([getattr(p, field) for p in parts])
        assert np.array_equal(joined, getattr(got, field), equal_nan=True), field


def test_gd_squared_closed_form_applies_only_where_it_is_exact(data):
    from lossstudy.training import gd_squared

    X, Xr, _ = data
    sq = make_loss("squared")
    gd = Solver("gd", lr_relative=0.5, steps=10)
    assert gd_squared.applies(X, sq, gd)
    assert not gd_squared.applies(Xr, sq, gd)  # random design: η per replicate, the engine
    assert not gd_squared.applies(X, make_loss("huber", delta=1.0), gd)
    assert not gd_squared.applies(X, sq, Solver("gd", lr_relative=0.5, steps=10, average=True))
    assert not gd_squared.applies(X, sq, Solver("gd", lr=0.1, steps=10, schedule="inv_sqrt"))
    assert not gd_squared.applies(X, sq, Solver("adam", lr=0.1, steps=10))
    assert not gd_squared.applies(X, sq, Solver("gd", lr=0.1, steps=10, init="ols"))
