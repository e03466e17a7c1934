"""An independent PyTorch reference of the engine: one replicate at a time, float64.

Why: as statsmodels is the reference of the exact fits, the batched JAX engine is checked
against the library a practitioner would use, written the plain way: ``torch.nn`` losses
(``MSELoss`` × ½, ``L1Loss``, ``HuberLoss``, ``BCEWithLogitsLoss``; pseudo-Huber, log-cosh
and Brier by hand, torch has none of them), ``torch.optim.SGD``/``Adam`` with a ``LambdaLR``
schedule, autograd, a Python loop.
It shares nothing with the engine but the minibatch index sequence it is given and the
definitions of the settings. torch is an optional extra, imported only here.
"""

from __future__ import annotations

import math

import numpy as np

from .engine import DIVERGED_NORM, SATURATED_SLOPE, Solver
from .losses import Loss


def _criterion(loss: Loss):
    import torch

    nn = torch.nn
    if loss.name == "squared":
        mse = nn.MSELoss()  # mean r²: twice optax's l2_loss
        return lambda pred, y: 0.5 * mse(pred, y)
    if loss.name == "absolute":
        return nn.L1Loss()
    if loss.name == "huber":
        return nn.HuberLoss(delta=loss.param)
    c = loss.param
    if loss.name == "pseudo_huber":
        return lambda pred, y: (c**2 * (torch.sqrt(1 + ((pred - y) / c) ** 2) - 1)).mean()
    if loss.name == "log_cosh":  # log cosh u = logaddexp(u, −u) − log 2, overflow-free
        return lambda pred, y: (
            c**2 * (torch.logaddexp((pred - y) / c, (y - pred) / c) - math.log(2.0))
        ).mean()
    if loss.name == "cross_entropy":  # the log loss of a 0/1 y on the logit
        return nn.BCEWithLogitsLoss()
    if loss.name == "brier":  # squared error on the probability (torch has no Brier loss)
        return lambda pred, y: ((y - torch.sigmoid(pred)) ** 2).mean()
    raise ValueError(f"no reference for loss {loss.name!r}")


def reference_train(
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    solver: Solver,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One replicate (X n×p, y n): coefficients (K×p, NaN once diverged), diverged (K), the
    full-data objective (K) and η. ``rows`` (steps×b) is the minibatch order when
    ``solver.batch_size`` is set (the engine draws it with ``engine.minibatches``)."""
    import torch

    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64))
    n, p = Xt.shape
    steps = solver.checkpoints(n)
    if solver.lr is not None:
        lr = float(solver.lr)
    else:
        lam_max = torch.linalg.eigvalsh(Xt.T @ Xt / n)[-1].item()
        lr = float(solver.lr_relative) * 2.0 / lam_max
    if solver.init == "ols":
        start = torch.linalg.lstsq(Xt, yt.unsqueeze(1)).solution.squeeze(1)
    elif solver.init == "saturated":  # β₀ = (0, s, …, s)
        start = torch.full((p,), SATURATED_SLOPE, dtype=torch.float64)
        start[0] = 0.0
    else:
        start = torch.zeros(p, dtype=torch.float64)
    beta = start.clone().requires_grad_(True)
    if solver.name == "adam":
        opt = torch.optim.Adam([beta], lr=lr, betas=solver.betas, eps=solver.eps)
    else:
        opt = torch.optim.SGD([beta], lr=lr)
    decay = (lambda t: 1.0) if solver.schedule == "constant" else (lambda t: 1.0 / math.sqrt(t + 1))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, decay)
    criterion = _criterion(loss)

    K = len(steps)
    coef = np.full((K, p), np.nan)
    dead = np.ones(K, dtype=bool)
    mean = torch.zeros(p, dtype=torch.float64)
    k = 0
    for t in range(1, int(steps[-1]) + 1):
        if rows is None:
            Xb, yb = Xt, yt
        else:
            idx = torch.as_tensor(rows[t - 1], dtype=torch.long)
            Xb, yb = Xt[idx], yt[idx]
        opt.zero_grad()
        criterion(Xb @ beta, yb).backward()
        opt.step()
        schedule.step()
        with torch.no_grad():
            norm = torch.linalg.vector_norm(beta).item()
            if not (norm <= DIVERGED_NORM):  # non-finite or out of the ball: diverged
                break
            mean += (beta - mean) / t
            if t == steps[k]:
                coef[k] = (mean if solver.average else beta).numpy()
                dead[k] = False
                k += 1
    with torch.no_grad():
        obj = np.array(
            [
                criterion(Xt @ torch.as_tensor(c), yt).item() if np.isfinite(c).all() else np.nan
                for c in coef
            ]
        )
    return coef, dead, obj, lr
