"""Batched gradient training of y ≈ Xβ for many replicates at once (JAX + optax, float64).

Why this shape: a job of the study holds hundreds of replicates of one scenario, and each must
train exactly as it would alone. So every replicate runs the same compiled program (``jax.vmap``
over replicates, ``jax.lax.scan`` over steps) on blocks of exactly ``BLOCK`` replicates, the last
block padded: XLA then sees one shape whatever the job size, and a replicate's bits do not depend
on which replicates share its job (the numpy engine's SHARED_BLOCK rule). Everything drawn at
random (the SGD minibatch order) comes from the replicate's own ``numpy.random.Generator``.

A diverged fit is a result: a replicate whose iterate becomes non-finite or leaves the ball
‖β‖ ≤ ``DIVERGED_NORM`` is frozen there (no overflow, no warnings), and its checkpoints from then
on are reported as NaN with ``diverged`` set.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# One thread per job, as the workflow's rules declare: XLA's own thread pool would compete
# with the job beside it for the same cores (measured: 13% longer under load). The bits do not
# depend on it (tested across thread counts). A user's own XLA_FLAGS are left alone.
_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ.setdefault("XLA_FLAGS", _ONE_THREAD)

import jax  # noqa: E402  (after XLA_FLAGS)

jax.config.update("jax_enable_x64", True)

#: Where compiled programs are kept between jobs (``LOSSSTUDY_JAX_CACHE``; ``off`` disables).
CACHE_ENV = "LOSSSTUDY_JAX_CACHE"


def _compilation_cache() -> str | None:
    """Keep XLA's compiled programs on disk, so that each training job after the first loads
    them instead of compiling again (≈ 4–7 s of CPU per job of the default study). A cached
    program is the one XLA would compile (the key hashes the program, its options and the JAX
    version), so results are bit for bit those of a fresh compile (tested). The size limit
    turns on JAX's file lock, which parallel jobs need."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lossstudy/jax"
    path = os.environ.get(CACHE_ENV, str(default))
    if path.strip().lower() in ("", "0", "off", "none", "false"):
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", 1 << 30)
    return path


CACHE_DIR = _compilation_cache()


def adopt_environment() -> None:
    """Take again from the environment what importing this module took: XLA's one thread
    (unless the user's XLA_FLAGS say otherwise) and the compilation cache.

    Why: a job forked from the warm worker (:mod:`lossstudy.warm`) inherits this module
    imported under the worker's environment, then replaces it with its own; XLA reads
    XLA_FLAGS when its backend starts, which happens in the job, so this runs before then."""
    global CACHE_DIR
    os.environ.setdefault("XLA_FLAGS", _ONE_THREAD)
    CACHE_DIR = _compilation_cache()


import jax.numpy as jnp  # noqa: E402  (after float64 is enabled)
import numpy as np  # noqa: E402
import optax  # noqa: E402

from lossstudy.stability import DIVERGED_NORM, stability_limit  # noqa: E402

from .losses import Loss, mean_loss  # noqa: E402

#: Replicates per compiled call; every call has this many (the last block is padded). Larger
#: blocks amortise the per-step loop overhead (SGD's small steps feel it most), smaller ones
#: waste less padding on small jobs; 64 measured best of 32, 64, 128 on 2 cores.
BLOCK = 64
SOLVERS = ("gd", "sgd", "adam", "ista", "fista")
#: Proximal gradient solvers: a gradient step on the smooth loss, then the L1 penalty's prox
#: (soft-thresholding of the slopes); full batch.
PROXIMAL = ("ista", "fista")
SCHEDULES = ("constant", "inv_sqrt")
INITS = ("zeros", "ols", "saturated")
#: β₀ = (0, s, …, s) of ``init: saturated`` (lossstudy.losses.logistic.SATURATED_SLOPE)
SATURATED_SLOPE = 10.0


def _positive_increasing(name: str, values: int | Sequence[int]) -> tuple[int, ...]:
    seq = tuple(values) if isinstance(values, list | tuple) else (values,)
    whole = [isinstance(v, int | np.integer) and not isinstance(v, bool) for v in seq]
    if not seq or not all(whole) or min(seq) < 1:
        raise ValueError(f"{name}: must be a positive integer or a list of them, got {values!r}")
    if any(b <= a for a, b in zip(seq, seq[1:], strict=False)):
        raise ValueError(f"{name}: checkpoints must be strictly increasing, got {list(seq)}")
    return tuple(int(v) for v in seq)


@dataclass(frozen=True)
class Solver:
    """How to train: optimiser, step size, budget (checkpoints of one trajectory) and extras.

    ``lr`` is an absolute step size; ``lr_relative`` c means η = c·2/λ_max(X'X/n), computed per
    dataset (per replicate for random designs): c = 1 is the exact stability limit of full-batch
    GD on the ½-squared loss. ``steps`` (or ``epochs`` of n // batch_size minibatches) is one
    number or an increasing list of checkpoints. ``gd`` is full batch; ``sgd`` needs
    ``batch_size``; ``adam`` is full batch unless ``batch_size`` is given. ``inv_sqrt`` scales
    step t = 0, 1, … by 1/√(t + 1); ``average`` reports the running mean of β_1, …, β_t.
    """

    name: str = "gd"
    lr: float | None = None
    lr_relative: float | None = None
    steps: tuple[int, ...] | None = None
    epochs: tuple[int, ...] | None = None
    batch_size: int | None = None
    schedule: str = "constant"
    average: bool = False
    init: str = "zeros"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    #: α, the L1 penalty on the mean-loss scale: f(β) = mean ρ(y − Xβ) + α Σ_{j≥1} |β_j|
    #: (column 0, the intercept, is free). ``gd``/``sgd``/``adam`` step along the subgradient
    #: (α sign β_j); ``ista``/``fista`` soft-threshold the slopes by η·α after each step.
    l1: float = 0.0
    _budget: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.name not in SOLVERS:
            raise ValueError(f"solver: unknown {self.name!r}; choose one of {list(SOLVERS)}")
        if (self.lr is None) == (self.lr_relative is None):
            raise ValueError("lr, lr_relative: give exactly one of them")
        for key in ("lr", "lr_relative"):
            value = getattr(self, key)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{key}: must be positive and finite, got {value!r}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("steps, epochs: give exactly one of them")
        key = "steps" if self.epochs is None else "epochs"
        object.__setattr__(self, "_budget", _positive_increasing(key, getattr(self, key)))
        object.__setattr__(self, key, self._budget)
        b = self.batch_size
        if b is not None and (isinstance(b, bool) or int(b) != b or b < 1):
            raise ValueError(f"batch_size: must be a positive integer, got {b!r}")
        if self.name == "gd" and b is not None:
            raise ValueError("batch_size: gd is full batch; use sgd for minibatches")
        if self.name in PROXIMAL and b is not None:
            raise ValueError(f"batch_size: {self.name} is full batch")
        if not (np.isfinite(self.l1) and self.l1 >= 0):
            raise ValueError(f"l1: must be non-negative and finite, got {self.l1!r}")
        if self.name == "sgd" and b is None:
            raise ValueError("batch_size: sgd needs one")
        if self.epochs is not None and b is None:
            raise ValueError("epochs: needs a batch_size (otherwise give steps)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: unknown {self.schedule!r}; choose one of {SCHEDULES}")
        if self.init not in INITS:
            raise ValueError(f"init: unknown {self.init!r}; choose one of {INITS}")
        b1, b2 = self.betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas: each must be in [0, 1), got {self.betas!r}")
        if not (self.eps >= 0 and np.isfinite(self.eps)):
            raise ValueError(f"eps: must be non-negative, got {self.eps!r}")

    def checkpoints(self, n: int) -> np.ndarray:
        """The step counts at which β is recorded, for data of n rows."""
        if self.batch_size is not None and self.batch_size > n:
            raise ValueError(f"batch_size: {self.batch_size} exceeds the {n} rows of the data")
        if self.epochs is None:
            return np.asarray(self._budget, dtype=np.int64)
        return np.asarray(self._budget, dtype=np.int64) * (n // int(self.batch_size))


@dataclass(frozen=True)
class Trained:
    """Per replicate (R) and checkpoint (K): coefficients (R×K×p; NaN once diverged), whether
    the fit had diverged by then, the full-data objective mean ρ(y − Xβ) there, and the step
    size η used (R)."""

    coef: np.ndarray
    diverged: np.ndarray
    objective: np.ndarray
    steps: np.ndarray
    lr: np.ndarray


def minibatches(rng: np.random.Generator, n: int, batch_size: int, steps: int) -> np.ndarray:
    """Row indices of ``steps`` minibatches (steps×b): each epoch a fresh permutation of the n
    rows cut into n // b batches, the remainder of the permutation dropped (as a shuffling
    DataLoader with ``drop_last=True``). All epochs' permutations come from one call."""
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    perms = rng.permuted(np.broadcast_to(np.arange(n, dtype=np.int32), (epochs, n)), axis=1)
    return perms[:, : per_epoch * batch_size].reshape(-1, batch_size)[:steps]


def _step_sizes(X: np.ndarray, R: int, solver: Solver) -> np.ndarray:
    if solver.lr is not None:
        return np.full(R, float(solver.lr))
    c = float(solver.lr_relative)
    if X.ndim == 2:
        return np.full(R, c * stability_limit(X))
    return np.array([c * stability_limit(x) for x in X])  # one dataset at a time: no batch bits


def _initial(X: np.ndarray, y: np.ndarray, init: str) -> np.ndarray:
    R, p = y.shape[0], X.shape[-1]
    if init == "zeros":
        return np.zeros((R, p))
    if init == "saturated":
        return np.tile(np.concatenate([[0.0], np.full(p - 1, SATURATED_SLOPE)]), (R, 1))
    design = (lambda r: X) if X.ndim == 2 else (lambda r: X[r])
    return np.array([np.linalg.lstsq(design(r), y[r], rcond=None)[0] for r in range(R)])


def _optimizer(
    name: str, lr: jax.Array, schedule: str, b1: jax.Array, b2: jax.Array, eps: jax.Array
) -> optax.GradientTransformation:
    rate = lr if schedule == "constant" else (lambda count: lr / jnp.sqrt(count + 1.0))
    if name == "adam":
        return optax.adam(rate, b1=b1, b2=b2, eps=eps)  # eps outside the root, as torch
    return optax.sgd(rate)


def _soft(z: jax.Array, t: jax.Array) -> jax.Array:
    """The prox of t·|·|: soft-thresholding, exactly 0 where |z| ≤ t."""
    return jnp.sign(z) * jnp.maximum(jnp.abs(z) - t, 0.0)


def _proximal(schedule: str, fista: bool, lr: jax.Array, alpha: jax.Array, grad, mask):
    """ISTA/FISTA as an (init, update) pair over (β_{k−1}, t_k): step t (from 1) takes
    β ← soft(z − η_t ∇f(z), η_t α) on the slopes, z = β (ISTA) or Nesterov's extrapolation
    β + ((t_{k−1} − 1)/t_k)(β − β_{k−1}) (FISTA, Beck & Teboulle 2009); η_t = η or η/√t."""

    def init(beta0):
        return beta0, jnp.ones((), beta0.dtype)

    def update(beta, state, t, Xb, yb):
        prev, tk = state
        rate = lr if schedule == "constant" else lr / jnp.sqrt(t)
        if fista:
            t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk * tk))
            z = beta + ((tk - 1.0) / t_next) * (beta - prev)
        else:
            t_next, z = tk, beta
        step = z - rate * grad(z, Xb, yb)
        new = jnp.where(mask, _soft(step, rate * alpha), step)
        return new, (beta, t_next)

    return init, update


def _fit_one(
    X: jax.Array,
    y: jax.Array,
    rows: jax.Array | None,
    lr: jax.Array,
    beta0: jax.Array,
    slots: jax.Array,
    ckpt: jax.Array,
    param: jax.Array,
    b1: jax.Array,
    b2: jax.Array,
    eps: jax.Array,
    alpha: jax.Array | None = None,
    *,
    loss: str,
    solver: str,
    schedule: str,
    average: bool,
    minibatch: bool,
    penalised: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One replicate's trajectory; ``rows`` (steps×b) is its minibatch order or None,
    ``slots[t]`` the checkpoint that step t + 1 records (K: none), ``ckpt`` only gives K.
    ``penalised``: ``alpha`` is the L1 weight α (unpenalised programs are traced without it,
    so they stay the programs they were)."""
    f = mean_loss(loss)
    grad = jax.grad(lambda beta, Xb, yb: f(beta, Xb, yb, param))
    K, p = ckpt.shape[0], beta0.shape[0]
    limit = DIVERGED_NORM**2
    # the slopes; column 0, the intercept, is not penalised (unpenalised programs: no mask)
    mask = jnp.arange(p) > 0 if penalised or solver in PROXIMAL else None
    if solver in PROXIMAL:
        opt_init, prox_update = _proximal(schedule, solver == "fista", lr, alpha, grad, mask)
        state0 = opt_init(beta0)
    else:
        opt = _optimizer(solver, lr, schedule, b1, b2, eps)
        state0 = opt.init(beta0)

    def objective(beta):
        value = f(beta, X, y, param)
        return value + alpha * jnp.sum(jnp.where(mask, jnp.abs(beta), 0.0)) if penalised else value

    def step(carry, xs):
        beta, state, mean, dead, rec, rec_dead = carry
        slot, t, batch = xs
        Xb, yb = (X[batch], y[batch]) if minibatch else (X, y)
        if solver in PROXIMAL:
            new, new_state = prox_update(beta, state, t, Xb, yb)
        else:
            g = grad(beta, Xb, yb)
            if penalised:  # the subgradient α sign(β_j) of the slopes (0 at β_j = 0)
                g = g + alpha * jnp.where(mask, jnp.sign(beta), 0.0)
            updates, new_state = opt.update(g, state, beta)
            new = optax.apply_updates(beta, updates)
        dead = dead | ~(jnp.sum(new * new) <= limit)  # NaN compares False: caught too
        beta = jnp.where(dead, beta, new)  # frozen at the last good iterate
        state = jax.tree.map(lambda old, nxt: jnp.where(dead, old, nxt), state, new_state)
        if average:
            mean = mean + (beta - mean) / t
        rec = rec.at[slot].set(mean if average else beta)  # slot K: not a checkpoint
        rec_dead = rec_dead.at[slot].set(dead)
        return (beta, state, mean, dead, rec, rec_dead), None

    T = slots.shape[0]
    t = jnp.arange(1, T + 1, dtype=beta0.dtype)
    carry = (
        beta0,
        state0,
        jnp.zeros(p),
        jnp.bool_(False),
        jnp.zeros((K + 1, p)),
        jnp.zeros(K + 1, bool),
    )
    (_, _, _, _, rec, rec_dead), _ = jax.lax.scan(step, carry, (slots, t, rows))
    coef, dead = rec[:K], rec_dead[:K]
    # one checkpoint at a time: the same program whatever K (a K×n product would not be)
    obj = jax.lax.map(objective, coef)
    return jnp.where(dead[:, None], jnp.nan, coef), dead, jnp.where(dead, jnp.nan, obj)


@functools.lru_cache(maxsize=64)
def _program(
    loss: str,
    solver: str,
    schedule: str,
    average: bool,
    shared: bool,
    minibatch: bool,
    penalised: bool = False,
):
    """The compiled block program of one configuration (data-valued settings are arguments)."""
    fit = functools.partial(
        _fit_one,
        loss=loss,
        solver=solver,
        schedule=schedule,
        average=average,
        minibatch=minibatch,
        penalised=penalised,
    )
    axes = (None if shared else 0, 0, 0 if minibatch else None, 0, 0) + (None,) * (6 + penalised)
    return jax.jit(jax.vmap(fit, in_axes=axes))


def _padded(a: np.ndarray) -> np.ndarray:
    """``a`` (block rows) padded to BLOCK rows by repeating its last row (harmless data)."""
    if a.shape[0] == BLOCK:
        return a
    return np.concatenate([a, np.repeat(a[-1:], BLOCK - a.shape[0], axis=0)])


def train(
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    solver: Solver,
    rngs: Sequence[np.random.Generator] | None = None,
) -> Trained:
    """Train R replicates: ``X`` one shared n×p design or R×n×p, ``y`` R×n; ``rngs`` one
    generator per replicate, needed only when minibatches are drawn (consumed in order)."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    R, n = y.shape
    p = X.shape[-1]
    shared = X.ndim == 2
    if X.shape[-2] != n or (not shared and X.shape[0] != R):
        raise ValueError(f"X {X.shape} does not match y {y.shape}")
    steps = solver.checkpoints(n)
    T, K = int(steps[-1]), len(steps)
    minibatch = solver.batch_size is not None
    if minibatch and (rngs is None or len(rngs) != R):
        raise ValueError("rngs: minibatches need one generator per replicate")
    slots = np.full(T, K, dtype=np.int32)
    slots[steps - 1] = np.arange(K)
    lr = _step_sizes(X, R, solver)
    beta0 = _initial(X, y, solver.init)
    penalised = solver.l1 > 0 or solver.name in PROXIMAL
    run = _program(
        loss.name, solver.name, solver.schedule, solver.average, shared, minibatch, penalised
    )
    hyper = (np.float64(loss.param), *map(np.float64, solver.betas), np.float64(solver.eps))
    hyper += (np.float64(solver.l1),) if penalised else ()
    coef, dead, obj = np.empty((R, K, p)), np.empty((R, K), bool), np.empty((R, K))
    for s in range(0, R, BLOCK):
        e = min(s + BLOCK, R)
        rows = None
        if minibatch:
            draws = [minibatches(rngs[r], n, int(solver.batch_size), T) for r in range(s, e)]
            rows = _padded(np.stack(draws))
        Xb = X if shared else _padded(X[s:e])
        out = run(
            Xb, _padded(y[s:e]), rows, _padded(lr[s:e]), _padded(beta0[s:e]), slots, steps, *hyper
        )
        coef[s:e], dead[s:e], obj[s:e] = (np.asarray(o)[: e - s] for o in out)
    return Trained(coef=coef, diverged=dead, objective=obj, steps=steps, lr=lr)
