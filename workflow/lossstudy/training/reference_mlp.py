"""An independent PyTorch reference of the network engine: one replicate at a time, float64.

``torch.nn.Sequential`` of ``nn.Linear`` layers with ``nn.Tanh``/``nn.ReLU``, the losses of
:mod:`.reference`, ``torch.optim.SGD``/``Adam``, autograd and a Python loop. It shares with the
engine only θ₀ (loaded into the layers: W is stored fan_in × fan_out, torch's weight is its
transpose) and the minibatch order it is given. torch is an optional extra, imported only here.
"""

from __future__ import annotations

import math

import numpy as np

from .engine import DIVERGED_NORM, Solver
from .losses import Loss
from .mlp import Network
from .reference import _criterion


def _module(net: Network, theta0: np.ndarray):
    import torch

    nn = torch.nn
    mods: list = []
    layers = net.unflatten(np.asarray(theta0, dtype=np.float64))
    for i, (W, b) in enumerate(layers):
        lin = nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T.copy()))
            lin.bias.copy_(torch.as_tensor(b.copy()))
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(nn.Tanh() if net.activation == "tanh" else nn.ReLU())
    return nn.Sequential(*mods)


def _flat(model) -> np.ndarray:
    parts = []
    for m in model:
        if hasattr(m, "weight"):
            parts += [m.weight.detach().numpy().T.ravel(), m.bias.detach().numpy().ravel()]
    return np.concatenate(parts)


def reference_train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    solver: Solver,
    net: Network,
    theta0: np.ndarray,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One replicate (x n×d, y n) from θ₀: θ at each checkpoint (K×P, NaN once diverged),
    diverged (K) and the full-data objective (K)."""
    import torch

    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64))
    steps = solver.checkpoints(len(yt))
    model = _module(net, theta0)
    params = list(model.parameters())
    lr = float(solver.lr)
    if solver.name == "adam":
        opt = torch.optim.Adam(params, lr=lr, betas=solver.betas, eps=solver.eps)
    else:
        opt = torch.optim.SGD(params, lr=lr)
    decay = (lambda t: 1.0) if solver.schedule == "constant" else (lambda t: 1.0 / math.sqrt(t + 1))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, decay)
    criterion = _criterion(loss)
    K, P = len(steps), net.size
    theta = np.full((K, P), np.nan)
    dead = np.ones(K, dtype=bool)
    obj = np.full(K, np.nan)
    mean = np.zeros(P)
    k = 0
    for t in range(1, int(steps[-1]) + 1):
        xb, yb = (xt, yt) if rows is None else (xt[rows[t - 1]], yt[rows[t - 1]])
        opt.zero_grad()
        criterion(model(xb)[:, 0], yb).backward()
        opt.step()
        schedule.step()
        flat = _flat(model)
        if not (np.sum(flat * flat) <= DIVERGED_NORM**2):
            break
        mean += (flat - mean) / t
        if t == steps[k]:
            theta[k] = mean if solver.average else flat
            dead[k] = False
            with torch.no_grad():
                if solver.average:
                    obj[k] = criterion(_module(net, theta[k])(xt)[:, 0], yt).item()
                else:
                    obj[k] = criterion(model(xt)[:, 0], yt).item()
            k += 1
    return theta, dead, obj
