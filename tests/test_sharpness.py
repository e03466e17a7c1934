"""Edge of stability (Cohen et al., ICLR 2021) in the network engine: under full-batch GD on
the squared loss the sharpness rises from its start to ≈ 2/η and stays there while the loss
falls; the sharpness is the exact top Hessian eigenvalue."""

from __future__ import annotations

import numpy as np

from lossstudy.training import Solver, make_loss
from lossstudy.training.mlp import Network, forward, train_mlp
from lossstudy.training.sharpness import sharpness


def test_sharpness_is_the_top_eigenvalue_of_the_exact_hessian():
    """Against central differences of the gradient (independent of jax.hessian)."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    net, loss = Network(1, (3,), "tanh"), make_loss("huber", delta=0.5)
    x, y = rng.random((20, 1)), rng.standard_normal((1, 20))
    theta = net.init(rng)[None]
    grad = jax.grad(lambda th: jnp.mean(loss.rho(y[0] - forward(net, th, x))))
    h = 1e-5
    H = np.array(
        [(grad(theta[0] + h * e) - grad(theta[0] - h * e)) / (2 * h) for e in np.eye(net.size)]
    )
    top = np.linalg.eigvalsh((H + H.T) / 2)[-1]
    assert abs(sharpness(net, loss, theta, x, y)[0] - top) < 1e-6 * max(1.0, abs(top))


def test_gd_on_the_squared_loss_reaches_the_edge_of_stability():
    rng = np.random.default_rng(0)
    x = rng.random((50, 1))
    y = np.sin(2 * np.pi * x[:, 0]) + 0.3 * rng.standard_normal((4, 50))
    net, loss, eta = Network(1, (32,), "tanh"), make_loss("squared"), 0.2
    out = train_mlp(x, y, loss, Solver("gd", lr=eta, steps=[1, 2000]), net,
                    [np.random.default_rng(r) for r in range(4)])  # fmt: skip
    start, end = (sharpness(net, loss, out.theta[:, k], x, y) for k in (0, 1))
    assert np.all(start < 0.95 * 2 / eta), start  # it starts well below the limit...
    assert np.all(np.abs(end / (2 / eta) - 1) < 0.1), end  # ...and ends at ≈ 2/η
    assert np.all(out.objective[:, 1] < 0.5 * out.objective[:, 0])  # while the loss falls


def test_a_per_replicate_design_gives_each_replicate_its_own_hessian():
    rng = np.random.default_rng(4)
    net, loss = Network(1, (4,), "tanh"), make_loss("squared")
    x, y = rng.random((3, 15, 1)), rng.standard_normal((3, 15))
    theta = np.stack([net.init(rng) for _ in range(3)])
    theta[1] = np.nan  # a diverged run: NaN, the others unaffected
    each = [sharpness(net, loss, theta[r : r + 1], x[r], y[r : r + 1])[0] for r in (0, 2)]
    got = sharpness(net, loss, theta, x, y)
    assert np.isnan(got[1]) and np.allclose(got[[0, 2]], each, rtol=1e-12)


def test_the_fit_records_the_sharpness_of_its_own_checkpoints():
    """A network fit with ``sharpness=True`` (what a GD-on-squared member of the study gets)
    stores exactly the sharpness of the θ it returns, per checkpoint."""
    from lossstudy.config import load_study
    from lossstudy.dgp import simulate
    from lossstudy.training.functions import fit_network

    study = load_study(
        {
            "seed": 3, "replicates": 5,
            "defaults": {"n": 30, "coefficients": [0.0, 1.0]},
            "scenarios": {"s": {"design": {"distribution": "uniform"},
                                "response": {"function": "sine"}}},
            "estimators": {"ols": {"method": "ols"}},
        }
    )  # fmt: skip
    sc = next(iter(study.scenarios.values()))
    data = simulate(dict(sc.knobs), study.seed, sc.id, 0, 5)
    net, loss = Network(1, (8,), "tanh"), make_loss("squared")
    solver = Solver("gd", lr=0.2, steps=[10, 50])
    scores, theta = fit_network(sc.knobs, data, loss, solver, net, study.seed, sc.id,
                                sharpness=True)  # fmt: skip
    x = data.X[..., 1:]
    for k in range(2):
        assert np.array_equal(scores.sharpness[:, k], sharpness(net, loss, theta[:, k], x, data.y))
    plain, _ = fit_network(sc.knobs, data, loss, solver, net, study.seed, sc.id)
    assert plain.sharpness is None and np.array_equal(plain.ise, scores.ise)
