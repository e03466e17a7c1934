"""How fast the network engine is: against its arithmetic floor and against PyTorch.

Run ``python -m lossstudy.training.bench_mlp``. For one block of R = ``BLOCK`` replicates it
times ``train_mlp`` (compiled beforehand), a floor (the same forward and backward passes and
plain θ ← θ − η∇f updates in a bare jitted ``fori_loop``: no optimiser state, no divergence
checks, no checkpoints; the faster of the two layouts over replicates, ``jax.vmap`` and
``jax.lax.map``, both printed) and the PyTorch reference one network at a time, and prints
seconds per replicate and the ratios (targets: engine/floor ≤ 3, PyTorch/engine ≥ 50), also
against a plain PyTorch training loop (no checkpoints or checks), the fairest comparison. Not a
test: timings depend on the machine's load, which it prints.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from .engine import BLOCK, Solver
from .losses import _RHO, make_loss
from .mlp import Network, forward, train_mlp


def _best(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _plain_torch(x: np.ndarray, y: np.ndarray, net: Network, solver: Solver, steps: int) -> float:
    """Seconds of the loop a practitioner writes (no checkpoints, no divergence checks):
    the fairest one-network-at-a-time PyTorch time."""
    import torch

    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    widths = (net.inputs, *net.hidden, 1)
    mods: list = []
    for i in range(len(widths) - 1):
        mods.append(torch.nn.Linear(widths[i], widths[i + 1]).double())
        if i < len(widths) - 2:
            mods.append(torch.nn.Tanh() if net.activation == "tanh" else torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    make = torch.optim.Adam if solver.name == "adam" else torch.optim.SGD
    opt = make(model.parameters(), lr=float(solver.lr))
    criterion = torch.nn.HuberLoss()
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        criterion(model(xt)[:, 0], yt).backward()
        opt.step()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--hidden", type=int, nargs="+", default=[32])
    ap.add_argument("--loss", default="huber")
    ap.add_argument("--activation", default="tanh", choices=["tanh", "relu"])
    ap.add_argument("--solver", default="gd", choices=["gd", "adam"])
    ap.add_argument("--torch-replicates", type=int, default=2)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    net, loss = Network(1, tuple(a.hidden), a.activation), make_loss(a.loss)
    x = rng.random((a.n, 1))
    y = np.sin(2 * np.pi * x[:, 0]) + rng.standard_t(3, (BLOCK, a.n))
    solver = Solver(a.solver, lr=0.05 if a.solver == "gd" else 0.01, steps=a.steps)
    streams = lambda: [np.random.default_rng(r) for r in range(BLOCK)]  # noqa: E731
    train_mlp(x, y, loss, solver, net, streams())
    engine = _best(lambda: train_mlp(x, y, loss, solver, net, streams())) / BLOCK

    rho = _RHO[loss.name]
    grad = jax.grad(lambda th, yr: jnp.mean(rho(yr - forward(net, th, x), loss.param)))

    @jax.jit
    def batched(theta, Y):  # all R at once (jax.vmap): one array per quantity
        step = lambda t, th: th - 0.05 * jax.vmap(grad)(th, Y)  # noqa: E731
        return jax.lax.fori_loop(0, a.steps, step, theta)

    @jax.jit
    def mapped(theta, Y):  # one replicate after another (jax.lax.map), as the engine runs
        def one(row):
            step = lambda t, th: th - 0.05 * grad(th, row[1])  # noqa: E731
            return jax.lax.fori_loop(0, a.steps, step, row[0])

        return jax.lax.map(one, (theta, Y))

    theta0 = np.stack([net.init(g) for g in streams()])
    floors = {}
    for name, loop in (("vmap", batched), ("map", mapped)):
        loop(theta0, y).block_until_ready()
        floors[name] = _best(lambda loop=loop: loop(theta0, y).block_until_ready()) / BLOCK
    bare = min(floors.values())
    line = (
        f"n = {a.n}, hidden {list(net.hidden)}, {a.steps} {a.solver} steps, {loss.name}, "
        f"R = {BLOCK}: "
        f"engine {engine * 1e3:.2f} ms/replicate, floor {bare * 1e3:.2f} ms (bare loop over "
        f"replicates by vmap {floors['vmap'] * 1e3:.2f}, by map {floors['map'] * 1e3:.2f}), "
        f"engine/floor {engine / bare:.2f}"
    )
    try:
        from .reference_mlp import reference_train_mlp
    except ImportError:  # pragma: no cover - torch is optional
        print(line + "; PyTorch not installed")
        return
    import torch

    torch.set_num_threads(1)  # one job, one core, as the engine's XLA
    t = time.perf_counter()
    for r in range(a.torch_replicates):
        reference_train_mlp(x, y[r], loss, solver, net, theta0[r])
    torch_s = (time.perf_counter() - t) / a.torch_replicates
    plain = _plain_torch(x, y[0], net, solver, a.steps)
    print(
        f"{line}; PyTorch reference {torch_s * 1e3:.1f} ms/replicate (/engine "
        f"{torch_s / engine:.0f}), a plain PyTorch loop {plain * 1e3:.1f} ms (/engine "
        f"{plain / engine:.0f})"
    )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
