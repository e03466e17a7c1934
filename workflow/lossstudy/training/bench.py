"""How fast the batched engine is: against the PyTorch reference and against a floor.

Run ``python -m lossstudy.training.bench``. For n = 100 and 1000 rows, 1000 steps and GD, SGD
and Adam, it measures side by side in one run, per replicate: the engine (``train`` on R
replicates, compiled beforehand; minibatch drawing included, and shown apart), the PyTorch
reference one replicate at a time, and an arithmetic floor: the same number of batched gradient
evaluations of the same loss in a bare jitted loop (all R at once, β ← β − η∇f, no optimiser
state, no divergence checks, no checkpoints, no blocks). It prints the ratios (targets:
reference/engine ≥ 100, engine/floor ≤ 3) and the machine's load, which the timings depend on.
Not a test.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .engine import Solver, minibatches, train
from .losses import _RHO, Loss, make_loss

SOLVERS: dict[str, dict] = {
    "gd": {"name": "gd", "lr_relative": 0.5},
    "sgd": {"name": "sgd", "lr": 0.05, "batch_size": 32},
    "adam": {"name": "adam", "lr": 0.01},
}


def _seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls (after the caller's warm-up)."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _floor(loss: Loss, batch: bool) -> Callable:
    """The bare loop: R replicates' gradients per step, one update, nothing else."""
    rho = _RHO[loss.name]

    def grad(beta, X, y):
        return jax.grad(lambda b: jnp.mean(rho(y - X @ b, loss.param)))(beta)

    @jax.jit
    def run(X, Y, rows, lr, beta):
        def body(t, beta):
            if batch:
                g = jax.vmap(lambda b, yr, idx: grad(b, X[idx], yr[idx]))(beta, Y, rows[:, t])
            else:
                g = jax.vmap(lambda b, yr: grad(b, X, yr))(beta, Y)
            return beta - lr * g

        return jax.lax.fori_loop(0, rows.shape[1], body, beta)

    return run


def bench_one(n: int, solver: str, loss: Loss, R: int, steps: int, torch_R: int) -> dict:
    """Time one (n, solver) cell; returns per-replicate seconds and the ratios."""
    rng = np.random.default_rng(n)
    p = 5
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    y = X @ np.ones(p) + rng.standard_t(3, (R, n))
    spec = Solver(steps=steps, **SOLVERS[solver])
    rngs = lambda: [np.random.default_rng([n, r]) for r in range(R)]  # noqa: E731

    start = time.perf_counter()
    train(X, y[:1], loss, spec, rngs()[:1])
    compile_s = time.perf_counter() - start
    engine = _seconds(lambda: train(X, y, loss, spec, rngs())) / R

    b = spec.batch_size
    rows = np.zeros((R, steps, 0), np.int32)
    draw = 0.0
    if b is not None:  # the engine's share spent drawing minibatch orders (numpy)
        draw = _seconds(lambda: [minibatches(g, n, b, steps) for g in rngs()]) / R
        rows = np.stack([minibatches(g, n, b, steps) for g in rngs()])
    run = _floor(loss, b is not None)
    args = (X, y, rows, 0.05, np.zeros((R, p)))
    jax.block_until_ready(run(*args))
    floor = _seconds(lambda: jax.block_until_ready(run(*args))) / R

    result = {"n": n, "solver": solver, "R": R, "compile_s": compile_s, "engine": engine}
    result["draw"] = draw
    result |= {"floor": floor, "engine/floor": engine / floor}
    try:
        from .reference import reference_train
    except ImportError:  # pragma: no cover - torch absent
        return result
    try:
        import torch  # noqa: F401
    except ImportError:
        return result
    ref_rows = [rows[r] if b is not None else None for r in range(torch_R)]
    reference_train(X, y[0], loss, spec, ref_rows[0])  # warm-up
    start = time.perf_counter()
    for r in range(torch_R):
        reference_train(X, y[r], loss, spec, ref_rows[r])
    result["torch"] = (time.perf_counter() - start) / torch_R
    result["torch/engine"] = result["torch"] / engine
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lossstudy.training.bench", description=__doc__)
    parser.add_argument("--replicates", type=int, default=256, help="engine and floor (256)")
    parser.add_argument("--torch-replicates", type=int, default=3, help="reference (3)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--loss", default="huber", help="huber (δ = 1.345), squared, …")
    args = parser.parse_args(argv)
    loss = make_loss("huber", delta=1.345) if args.loss == "huber" else make_loss(args.loss)
    print(f"load average before: {os.getloadavg()} on {os.cpu_count()} cores")
    print(f"loss {loss.name}({loss.param}), {args.steps} steps, p = 5, times per replicate")
    head = f"{'n':>5} {'solver':>6} {'compile s':>9} {'engine ms':>9} {'of it draw':>10}"
    head += f" {'floor ms':>9}"
    print(head + f" {'eng/floor':>9} {'torch ms':>9} {'torch/eng':>9}")
    for n in (100, 1000):
        for solver in SOLVERS:
            r = bench_one(n, solver, loss, args.replicates, args.steps, args.torch_replicates)
            line = f"{n:>5} {solver:>6} {r['compile_s']:>9.2f} {1e3 * r['engine']:>9.3f}"
            line += f" {1e3 * r['draw']:>10.3f}"
            line += f" {1e3 * r['floor']:>9.3f} {r['engine/floor']:>9.2f}"
            if "torch" in r:
                line += f" {1e3 * r['torch']:>9.1f} {r['torch/engine']:>9.0f}"
            print(line, flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
