"""The batched JAX engine against the independent PyTorch reference (one replicate at a time,
torch.nn losses, torch.optim): same data, same minibatch order, equal to 1e-10."""

from __future__ import annotations

import numpy as np
import pytest

from lossstudy.training import LOSSES, Solver, make_loss, minibatches, train

torch = pytest.importorskip("torch", reason="PyTorch is an optional extra: pip install -e .[torch]")

from lossstudy.training.reference import reference_train  # noqa: E402  (needs torch)

N, P, R = 40, 3, 2
PARAMS = {"squared": {}, "absolute": {}, "huber": {"delta": 1.0},
          "pseudo_huber": {"delta": 0.7}, "log_cosh": {"scale": 1.5},
          "cross_entropy": {}, "brier": {}}  # fmt: skip
#: the classification losses take a 0/1 response
CLASSIFY = ("cross_entropy", "brier")
SOLVERS = {
    "gd": Solver("gd", lr_relative=0.9, steps=[5, 60]),
    "sgd": Solver("sgd", lr=0.05, batch_size=8, steps=[5, 60]),
    "adam": Solver("adam", lr=0.05, steps=[5, 60]),
    "gd-inv_sqrt-average-ols": Solver(
        "gd", lr_relative=0.5, steps=[5, 60], schedule="inv_sqrt", average=True, init="ols"
    ),
    "gd-saturated": Solver("gd", lr=1.0, steps=[5, 60], init="saturated"),
    "adam-minibatch-betas": Solver(
        "adam", lr=0.05, batch_size=10, epochs=[2, 15], betas=(0.8, 0.99), eps=1e-6, average=True
    ),
}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(N), rng.standard_normal((N, P - 1))])
    return X, X @ np.ones(P) + rng.standard_t(3, (R, N))


def _compare(X: np.ndarray, y: np.ndarray, loss_name: str, solver: Solver) -> None:
    loss = make_loss(loss_name, **PARAMS[loss_name])
    if loss_name in CLASSIFY:
        y = (y > X @ np.ones(P)).astype(np.float64)
    rngs = [np.random.default_rng([1, r]) for r in range(R)]
    out = train(X, y, loss, solver, rngs)
    assert np.isfinite(out.coef).all()
    for r, rng in enumerate([np.random.default_rng([1, r]) for r in range(R)]):
        rows = None
        if solver.batch_size is not None:  # the same minibatch order, drawn from the same stream
            rows = minibatches(rng, N, solver.batch_size, int(out.steps[-1]))
        coef, dead, obj, lr = reference_train(X, y[r], loss, solver, rows)
        assert not dead.any()
        np.testing.assert_allclose(out.coef[r], coef, rtol=0, atol=1e-10)
        np.testing.assert_allclose(out.objective[r], obj, rtol=0, atol=1e-10)
        assert out.lr[r] == pytest.approx(lr, rel=1e-12)
    # the checkpoints differ: the comparison is of a moving trajectory
    assert np.abs(out.coef[:, 1] - out.coef[:, 0]).max() > 1e-3


@pytest.mark.parametrize("loss_name", sorted(set(LOSSES) - set(CLASSIFY)))
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_engine_equals_pytorch(data, solver: str, loss_name: str):
    _compare(*data, loss_name, SOLVERS[solver])


@pytest.mark.parametrize("solver", ["gd-inv_sqrt-average-ols", "adam-minibatch-betas"])
@pytest.mark.parametrize("loss_name", ["huber", "absolute"])
def test_engine_equals_pytorch_with_schedule_averaging_and_options(data, solver, loss_name):
    _compare(*data, loss_name, SOLVERS[solver])


@pytest.mark.parametrize("loss_name", CLASSIFY)
@pytest.mark.parametrize("solver", ["gd-saturated", "adam-minibatch-betas"])
def test_engine_equals_pytorch_on_a_classification_loss(data, solver, loss_name):
    """The classification losses on a 0/1 y: full-batch GD from the saturated start, and Adam
    on minibatches (the other solver paths are the regression losses' own)."""
    _compare(*data, loss_name, SOLVERS[solver])


def test_divergence_agrees_with_pytorch(data):
    X, y = data
    solver = Solver("gd", lr_relative=1.5, steps=[3, 500])
    out = train(X, y, make_loss("squared"), solver)
    coef, dead, _, _ = reference_train(X, y[0], make_loss("squared"), solver)
    np.testing.assert_array_equal(out.diverged[0], dead)
    np.testing.assert_array_equal(dead, [False, True])
    np.testing.assert_allclose(out.coef[0, 0], coef[0], rtol=0, atol=1e-10)


def test_torch_conventions_the_docs_state():
    """MSELoss is r² (twice ½r², so GD with η on it is GD with 2η on ½r²: the stable step
    halves); SmoothL1Loss(β) is HuberLoss(δ = β)/β; HuberLoss is optax's huber_loss."""
    import jax.numpy as jnp
    import optax

    r = torch.linspace(-4, 4, 81, dtype=torch.float64)
    zero = torch.zeros_like(r)
    none = {"reduction": "none"}
    mse = torch.nn.MSELoss(**none)(r, zero)
    torch.testing.assert_close(mse, r**2)
    huber = torch.nn.HuberLoss(delta=1.5, **none)(r, zero)
    smooth = torch.nn.SmoothL1Loss(beta=1.5, **none)(r, zero)
    torch.testing.assert_close(smooth, huber / 1.5)
    np.testing.assert_allclose(optax.huber_loss(jnp.asarray(r.numpy()), delta=1.5), huber)
    X = np.random.default_rng(0).standard_normal((30, 2))
    y = X @ np.ones(2)
    beta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    torch.nn.MSELoss()(torch.as_tensor(X) @ beta, torch.as_tensor(y)).backward()
    half = train(X, y[None], make_loss("squared"), Solver("gd", lr=2 * 0.1, steps=1))
    np.testing.assert_allclose(-0.1 * beta.grad.numpy(), half.coef[0, 0], rtol=0, atol=1e-14)
