"""Gradient training of linear models (GD, SGD, Adam) for every loss, batched over replicates.

``engine.train`` fits all replicates of a job at once with JAX + optax in float64;
``closed_form`` gives GD on the squared loss exactly (iterate and moments); ``reference`` is an
independent one-replicate-at-a-time PyTorch implementation the engine is tested against;
``bench`` measures the engine against that reference and against an arithmetic floor.
Importing this package switches JAX to float64 (``jax_enable_x64``).
"""

from .engine import BLOCK, DIVERGED_NORM, Solver, Trained, minibatches, stability_limit, train
from .losses import LOSSES, Loss, make_loss

__all__ = [
    "BLOCK",
    "DIVERGED_NORM",
    "LOSSES",
    "Loss",
    "Solver",
    "Trained",
    "make_loss",
    "minibatches",
    "stability_limit",
    "train",
]
