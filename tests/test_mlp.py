"""The network engine: PyTorch's answer to tolerance, bits independent of the job split,
PyTorch's initialisation, divergence as a result, and bad settings named."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lossstudy.training import Solver, make_loss, minibatches
from lossstudy.training.mlp import Network, predict, train_mlp

N, R = 40, 3
LOSSES = {"squared": {}, "absolute": {}, "huber": {"delta": 1.0}, "pseudo_huber": {"delta": 0.7}}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.random((N, 1))
    return x, np.sin(2 * np.pi * x[:, 0]) + 0.5 * rng.standard_t(3, (R, N))


def streams(count: int) -> list[np.random.Generator]:
    return [np.random.default_rng([7, r]) for r in range(count)]


#: each loss once, each solver, activation and depth at least once (every case compiles)
CASES = [
    ("squared", Network(1, (8,), "tanh"), Solver("adam", lr=0.01, steps=[5, 60])),
    ("huber", Network(1, (6, 5), "relu"), Solver("gd", lr=0.1, steps=[5, 60])),
    ("absolute", Network(1, (8,), "relu"), Solver("sgd", lr=0.05, batch_size=10, steps=[5, 60])),
    (
        "pseudo_huber",
        Network(1, (5, 4), "tanh"),
        Solver("adam", lr=0.02, batch_size=8, steps=[7, 50], average=True, betas=(0.8, 0.99)),
    ),
]


@pytest.mark.parametrize(("loss_name", "net", "solver"), CASES)
def test_network_engine_equals_pytorch(data, loss_name: str, net: Network, solver: Solver):
    pytest.importorskip("torch", reason="PyTorch is an optional extra: pip install -e .[torch]")
    from lossstudy.training.reference_mlp import reference_train_mlp

    x, y = data
    loss = make_loss(loss_name, **LOSSES[loss_name])
    out = train_mlp(x, y, loss, solver, net, streams(R))
    assert np.isfinite(out.theta).all()
    for r, rng in enumerate(streams(R)):
        theta0 = net.init(rng)  # the engine's order: θ₀, then the minibatch order
        rows = None
        if solver.batch_size is not None:
            rows = minibatches(rng, N, solver.batch_size, int(out.steps[-1]))
        theta, dead, obj = reference_train_mlp(x, y[r], loss, solver, net, theta0, rows)
        assert not dead.any()
        np.testing.assert_allclose(out.theta[r], theta, rtol=0, atol=1e-10)
        np.testing.assert_allclose(out.objective[r], obj, rtol=0, atol=1e-10)
    assert np.abs(out.theta[:, 1] - out.theta[:, 0]).max() > 1e-2  # a moving trajectory


def test_bits_do_not_depend_on_the_job_split_or_the_block():
    """A replicate alone, in a job of 3, and in the second block of a job of 66: same bits."""
    rng = np.random.default_rng(2)
    R_big = 66
    x = rng.random((R_big, 30, 2))
    y = np.sin(2 * np.pi * x[:, :, 0]) + rng.standard_cauchy((R_big, 30))
    net, loss = Network(2, (6,), "tanh"), make_loss("huber", delta=1.345)
    solver = Solver("sgd", lr=0.05, batch_size=7, steps=[3, 20])
    whole = train_mlp(x, y, loss, solver, net, streams(R_big))
    for lo, hi in ((0, 1), (63, 66), (65, 66)):
        part = train_mlp(x[lo:hi], y[lo:hi], loss, solver, net, streams(R_big)[lo:hi])
        assert np.array_equal(part.theta, whole.theta[lo:hi])
        assert np.array_equal(part.objective, whole.objective[lo:hi])


def test_initialisation_is_pytorchs_uniform_in_layer_order():
    net = Network(3, (4, 5), "relu")
    theta = net.init(np.random.default_rng(1))
    assert theta.size == net.size == 3 * 4 + 4 + 4 * 5 + 5 + 5 * 1 + 1
    rng = np.random.default_rng(1)
    W1 = rng.uniform(-1 / np.sqrt(3), 1 / np.sqrt(3), 12)
    layers = net.unflatten(theta)
    np.testing.assert_array_equal(layers[0][0].ravel(), W1)
    for (W, b), (fan_in, _) in zip(layers, net.layers, strict=True):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound


def test_predict_is_the_forward_pass():
    net = Network(2, (3,), "tanh")
    thetas = np.stack([net.init(np.random.default_rng(k)) for k in range(2)])
    g = np.random.default_rng(9).random((11, 2))
    out = predict(net, thetas, g)
    for k in range(2):
        (W1, b1), (W2, b2) = net.unflatten(thetas[k])
        np.testing.assert_allclose(out[k], (np.tanh(g @ W1 + b1) @ W2 + b2)[:, 0], atol=1e-14)


def test_divergence_is_a_result_not_a_warning(data):
    x, y = data
    y = y * 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # CASES[1]'s compiled program (the step size is data): no extra compilation
        out = train_mlp(x, y, make_loss("huber", delta=1.0), Solver("gd", lr=1e9, steps=[5, 60]),
                        Network(1, (6, 5), "relu"), streams(R))  # fmt: skip
    assert out.diverged[:, -1].all() and np.isnan(out.theta[:, -1]).all()
    assert np.isnan(out.objective[:, -1]).all()


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Network(1, (0,)), "hidden"),
        (lambda: Network(1, (4, 4, 4)), "hidden"),
        (lambda: Network(1, (4,), "sigmoid"), "activation"),
        (lambda: Network(0, (4,)), "inputs"),
    ],
)
def test_bad_architecture_names_the_field(make, field: str):
    with pytest.raises(ValueError, match=f"^{field}:"):
        make()


def test_relative_step_is_refused(data):
    x, y = data
    with pytest.raises(ValueError, match="^lr:"):
        train_mlp(x, y, make_loss("squared"), Solver("gd", lr_relative=0.5, steps=5),
                  Network(1), streams(R))  # fmt: skip
