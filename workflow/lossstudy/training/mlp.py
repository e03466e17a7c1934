"""A small multilayer perceptron trained by the engine's optimisers, batched over replicates.

Why its own module: the linear engine (:mod:`.engine`) fits β of y ≈ Xβ; a network has a
parameter vector θ of a different shape and a nonlinear forward pass, but the same rules: every
loss of :mod:`.losses`, optax's ``sgd``/``adam`` as the engine builds them, float64, blocks of
exactly ``BLOCK`` replicates (one compiled program over R independent θ, ``jax.lax.scan`` over
steps; see :func:`per_replicate` for why the replicates are mapped, not vmapped),
divergence frozen and reported, checkpoints of one trajectory.

The network: inputs x (the design's input columns, not the intercept), ``hidden`` = (h₁,) or
(h₁, h₂) units with ``tanh`` or ``relu``, one linear output. θ is one flat float64 vector; each
layer is W (fan_in × fan_out, row-major) then b. Initialisation is PyTorch's ``nn.Linear``
default: W and b uniform on ±1/√fan_in (``kaiming_uniform_(a=√5)`` gives exactly that bound),
drawn layer by layer (W, then b) from the replicate's own ``numpy.random.Generator``, the same
generator that then draws its minibatch order, so a replicate's bits depend only on its stream.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .engine import BLOCK, DIVERGED_NORM, Solver, _optimizer, _padded, minibatches
from .losses import _RHO, Loss

__all__ = [
    "ACTIVATIONS",
    "Network",
    "TrainedNet",
    "forward",
    "predict",
    "predict_rows",
    "train_mlp",
]

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}


@dataclass(frozen=True)
class Network:
    """Architecture: ``inputs`` d, ``hidden`` widths (one or two layers), ``activation``."""

    inputs: int
    hidden: tuple[int, ...] = (32,)
    activation: str = "tanh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not 1 <= len(self.hidden) <= 2 or min(self.hidden) < 1:
            raise ValueError(f"hidden: one or two positive widths, got {list(self.hidden)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: unknown {self.activation!r}; choose one of tanh, relu")
        if self.inputs < 1:
            raise ValueError(f"inputs: must be at least 1, got {self.inputs}")

    @property
    def layers(self) -> tuple[tuple[int, int], ...]:
        """(fan_in, fan_out) of each linear layer, output layer last."""
        widths = (self.inputs, *self.hidden, 1)
        return tuple(zip(widths[:-1], widths[1:], strict=True))

    @property
    def size(self) -> int:
        """Length of θ."""
        return sum(a * b + b for a, b in self.layers)

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """θ₀ as PyTorch's ``nn.Linear`` draws it: W, then b, uniform on ±1/√fan_in per layer."""
        parts = []
        for fan_in, fan_out in self.layers:
            bound = 1.0 / math.sqrt(fan_in)
            parts.append(rng.uniform(-bound, bound, fan_in * fan_out))
            parts.append(rng.uniform(-bound, bound, fan_out))
        return np.concatenate(parts)

    def unflatten(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W, b), …] views of θ (numpy or jax), in layer order."""
        out, at = [], 0
        for fan_in, fan_out in self.layers:
            W = theta[at : at + fan_in * fan_out].reshape(fan_in, fan_out)
            at += fan_in * fan_out
            out.append((W, theta[at : at + fan_out]))
            at += fan_out
        return out


def forward(net: Network, theta: jax.Array, x: jax.Array) -> jax.Array:
    """f̂(x) at rows x (n×d): the network's output, n values."""
    act = ACTIVATIONS[net.activation]
    layers = net.unflatten(theta)
    h = x
    for W, b in layers[:-1]:
        h = act(h @ W + b)
    W, b = layers[-1]
    return (h @ W + b)[:, 0]


@dataclass(frozen=True)
class TrainedNet:
    """Per replicate (R) and checkpoint (K): θ (R×K×P; NaN once diverged), whether it had
    diverged by then, the full-data objective mean ρ(y − f̂(x)) there; the step counts (K)."""

    theta: np.ndarray
    diverged: np.ndarray
    objective: np.ndarray
    steps: np.ndarray


def _fit_one(
    x: jax.Array,
    y: jax.Array,
    rows: jax.Array | None,
    theta0: jax.Array,
    slots: jax.Array,
    ckpt: jax.Array,
    lr: jax.Array,
    param: jax.Array,
    b1: jax.Array,
    b2: jax.Array,
    eps: jax.Array,
    *,
    net: Network,
    loss: str,
    solver: str,
    schedule: str,
    average: bool,
    minibatch: bool,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One replicate's trajectory (the engine's ``_fit_one`` with the network's forward)."""
    rho = _RHO[loss]
    opt = _optimizer(solver, lr, schedule, b1, b2, eps)

    def objective(theta: jax.Array, xb: jax.Array, yb: jax.Array) -> jax.Array:
        return jnp.mean(rho(yb - forward(net, theta, xb), param))

    grad = jax.grad(objective)
    K, P = ckpt.shape[0], theta0.shape[0]
    limit = DIVERGED_NORM**2

    def step(carry, xs):
        theta, state, mean, dead, rec, rec_dead = carry
        slot, t, batch = xs
        xb, yb = (x[batch], y[batch]) if minibatch else (x, y)
        updates, new_state = opt.update(grad(theta, xb, yb), state, theta)
        new = optax.apply_updates(theta, updates)
        dead = dead | ~(jnp.sum(new * new) <= limit)  # NaN compares False: caught too
        theta = jnp.where(dead, theta, new)
        state = jax.tree.map(lambda old, nxt: jnp.where(dead, old, nxt), state, new_state)
        if average:
            mean = mean + (theta - mean) / t
        rec = rec.at[slot].set(mean if average else theta)
        rec_dead = rec_dead.at[slot].set(dead)
        return (theta, state, mean, dead, rec, rec_dead), None

    T = slots.shape[0]
    t = jnp.arange(1, T + 1, dtype=theta0.dtype)
    carry = (
        theta0,
        opt.init(theta0),
        jnp.zeros(P),
        jnp.bool_(False),
        jnp.zeros((K + 1, P)),
        jnp.zeros(K + 1, bool),
    )
    (_, _, _, _, rec, rec_dead), _ = jax.lax.scan(step, carry, (slots, t, rows))
    theta, dead = rec[:K], rec_dead[:K]
    obj = jax.lax.map(lambda th: objective(th, x, y), theta)
    return jnp.where(dead[:, None], jnp.nan, theta), dead, jnp.where(dead, jnp.nan, obj)


def per_replicate(fit: Callable, axes: tuple[int | None, ...]) -> Callable:
    """``jax.jit`` of ``fit`` over a block, in ``jax.vmap``'s calling convention (arguments
    with axis 0 hold one row per replicate, the others are shared), but the replicates run one
    after another in the compiled program (``jax.lax.map``), each on its own arrays.

    Why not ``vmap``: the arithmetic is the same, but a replicate's activations (n × width,
    100 KB at n = 400, width 32) stay in the core's own cache, where a block's (64 × n ×
    width, 6.5 MB per array) go to the cache and memory the cores share. Alone on a quiet
    machine the two layouts are within 10% (1000 steps at n = 400, tanh: 20.5 against 18.6 ms
    per replicate); with a second such job on the other core, as in the study's 2-core runs,
    55 against 20.5 ms (two ``python -m lossstudy.training.bench_mlp`` side by side print
    both floors), and the default study's network cells at n = 400 took 2.1–3.2× less time.
    The linear engine keeps ``vmap``: with p = 5 a block's arrays are small, and there the
    batched layout was 2–6× faster."""

    def run(*args):
        rows = tuple(a if ax == 0 else None for a, ax in zip(args, axes, strict=True))

        def one(row):
            return fit(*(r if ax == 0 else a for r, a, ax in zip(row, args, axes, strict=True)))

        return jax.lax.map(one, rows)

    return jax.jit(run)


@functools.lru_cache(maxsize=64)
def _program(
    net: Network, loss: str, solver: str, schedule: str, average: bool, shared: bool, mb: bool
):
    fit = functools.partial(
        _fit_one,
        net=net,
        loss=loss,
        solver=solver,
        schedule=schedule,
        average=average,
        minibatch=mb,
    )
    axes = (None if shared else 0, 0, 0 if mb else None, 0) + (None,) * 7
    return per_replicate(fit, axes)


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    solver: Solver,
    net: Network,
    rngs: Sequence[np.random.Generator],
) -> TrainedNet:
    """Train R networks: ``x`` shared n×d inputs or R×n×d, ``y`` R×n, ``rngs`` one generator
    per replicate (θ₀ first, then the minibatch order, if any). ``solver.lr`` is absolute
    (``lr_relative`` is defined by the linear model's curvature, not a network's); ``init``
    must be ``zeros``, the default, and means the PyTorch draw here."""
    if solver.lr is None:
        raise ValueError("lr: a network needs an absolute step size (lr), not lr_relative")
    if solver.init != "zeros":
        raise ValueError("init: a network draws its own start (PyTorch's default)")
    y = np.ascontiguousarray(y, dtype=np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    R, n = y.shape
    shared = x.ndim == 2
    if x.shape[-2] != n or x.shape[-1] != net.inputs or (not shared and x.shape[0] != R):
        raise ValueError(f"x {x.shape} does not match y {y.shape} and {net.inputs} inputs")
    if len(rngs) != R:
        raise ValueError("rngs: one generator per replicate")
    steps = solver.checkpoints(n)
    T, K = int(steps[-1]), len(steps)
    mb = solver.batch_size is not None
    slots = np.full(T, K, dtype=np.int32)
    slots[steps - 1] = np.arange(K)
    theta0 = np.stack([net.init(rng) for rng in rngs])
    run = _program(net, loss.name, solver.name, solver.schedule, solver.average, shared, mb)
    hyper = (
        np.float64(solver.lr),
        np.float64(loss.param),
        *map(np.float64, solver.betas),
        np.float64(solver.eps),
    )
    theta = np.empty((R, K, net.size))
    dead, obj = np.empty((R, K), bool), np.empty((R, K))
    for s in range(0, R, BLOCK):
        e = min(s + BLOCK, R)
        rows = None
        if mb:
            rows = _padded(
                np.stack([minibatches(rngs[r], n, int(solver.batch_size), T) for r in range(s, e)])
            )
        xb = x if shared else _padded(x[s:e])
        out = run(xb, _padded(y[s:e]), rows, _padded(theta0[s:e]), slots, steps, *hyper)
        theta[s:e], dead[s:e], obj[s:e] = (np.asarray(o)[: e - s] for o in out)
    return TrainedNet(theta=theta, diverged=dead, objective=obj, steps=steps)


@functools.lru_cache(maxsize=16)
def _predict_program(net: Network):
    return jax.jit(jax.vmap(lambda th, g: forward(net, th, g), in_axes=(0, None)))


def predict(net: Network, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """f̂ at shared rows x (m×d) for each θ (R×P): R×m, one block of ``BLOCK`` at a time so
    that a replicate's values do not depend on the others (NaN θ gives NaN)."""
    run = _predict_program(net)
    out = np.empty((theta.shape[0], x.shape[0]))
    for s in range(0, theta.shape[0], BLOCK):
        e = min(s + BLOCK, theta.shape[0])
        out[s:e] = np.asarray(run(_padded(theta[s:e]), x))[: e - s]
    return out


@functools.lru_cache(maxsize=16)
def _rows_program(net: Network):
    return jax.jit(jax.vmap(lambda th, xr: forward(net, th, xr)))


def predict_rows(net: Network, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """f̂ of replicate r at its own rows x[r] (R×m×d), θ R×P: R×m, in blocks of ``BLOCK``."""
    run = _rows_program(net)
    out = np.empty(x.shape[:2])
    for s in range(0, theta.shape[0], BLOCK):
        e = min(s + BLOCK, theta.shape[0])
        out[s:e] = np.asarray(run(_padded(theta[s:e]), _padded(x[s:e])))[: e - s]
    return out
