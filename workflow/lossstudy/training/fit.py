"""The trained members of a fit job: one trajectory per group, one result per member.

Why grouped: members whose stored specs differ only in ``steps`` (a ``steps:`` list, a sweep
over steps) are checkpoints of one trajectory, so each group is trained once, to its largest
step count, and recorded at each (``lossstudy.training.engine.train``; GD on the squared loss
over a shared design by its closed form, ``lossstudy.training.gd_squared``). A group's minibatch
order comes from a fresh ``seeding.training_rng`` per replicate, so every group sees the same
order (common random numbers) and a member's bits depend only on (seed, scenario, replicate):
not on the job split, nor on which other members share its trajectory.

Per member this gives what an exact fit gives (estimate; std_error and intervals NaN; status
``ok`` or ``diverged``, message) plus ``opt_diff`` = β_K − β̂ and ``objective_gap`` =
f(β_K) − f(β̂) against the exact minimiser β̂ of the same objective
(:mod:`lossstudy.training.exact`). A diverged fit is a result: estimate NaN, status ``diverged``.

A network member (``model: mlp``, solver ``mlp_*``) has no coefficients: its group is trained by
:func:`lossstudy.training.functions.fit_network` and its result carries the function scores
(``ise``, ``test_mse``, ``test_mae`` per replicate) instead, estimate R×0.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lossstudy.dgp import Dataset
from lossstudy.seeding import training_rng
from lossstudy.training import exact, gd_squared, l1
from lossstudy.training.engine import DIVERGED_NORM, Solver, train
from lossstudy.training.losses import make_loss

if TYPE_CHECKING:
    from lossstudy.training.functions import FunctionScores

log = logging.getLogger("lossstudy")

DIVERGED = "diverged"


@dataclass(frozen=True)
class MemberFit:
    """One trained member on a chunk: R×p estimates and distances, R statuses and gaps."""

    estimate: np.ndarray
    status: np.ndarray
    message: np.ndarray
    opt_diff: np.ndarray
    objective_gap: np.ndarray
    #: a network's scores at this member's checkpoint (None: a linear fit)
    scores: FunctionScores | None = None


def trajectory_key(spec: Mapping[str, Any]) -> str:
    """What a member's trajectory depends on: its stored spec without ``steps``."""
    return json.dumps({k: v for k, v in spec.items() if k != "steps"}, sort_keys=True)


def _solver(
    spec: Mapping[str, Any], checkpoints: tuple[int, ...], n: int = 0, name: str = ""
) -> Solver:
    budget = "steps" if spec.get("steps") is not None else "epochs"
    penalty = _l1_strength(spec)
    return Solver(
        name=name or str(spec["solver"]),
        lr=spec.get("lr"),
        lr_relative=spec.get("lr_relative"),
        **{budget: checkpoints},
        batch_size=spec.get("batch_size"),
        schedule=str(spec.get("schedule", "constant")),
        average=bool(spec.get("average", False)),
        init=str(spec.get("init", "zeros")),
        betas=tuple(spec.get("betas", (0.9, 0.999))),
        eps=float(spec.get("eps", 1e-8)),
        l1=l1.engine_weight(str(spec["loss"]), penalty, n) if penalty else 0.0,
    )


def _l1_strength(spec: Mapping[str, Any]) -> float:
    """The study's λ (RSS scale) of a member with the L1 penalty; 0 without one."""
    return float(spec.get("lambda", 0.0)) if spec.get("penalty", "none") == "l1" else 0.0


def _loss_param(spec: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(spec[k]) for k in ("delta", "scale") if k in spec}


def _message(dead: np.ndarray, steps: int, what: str) -> np.ndarray:
    return np.where(
        dead,
        f"diverged within {steps} steps: the iterate became non-finite or left "
        f"‖{what}‖ ≤ {DIVERGED_NORM:g}",
        "",
    ).astype(object)


def _fit_network_group(
    data: Dataset,
    members: Mapping[str, Mapping[str, Any]],
    names: list[str],
    seed: int,
    scenario_id: str,
    test: tuple[Mapping[str, Any], int] | None,
) -> dict[str, MemberFit]:
    """One network trajectory (members differing in ``steps`` only), scored at each checkpoint."""
    from lossstudy import methods
    from lossstudy.training.functions import FunctionScores, fit_network
    from lossstudy.training.mlp import Network

    if test is None:
        raise ValueError("a network member needs the scenario's knobs (its true mean f)")
    knobs, rows = test
    t0 = time.perf_counter()
    spec = members[names[0]]
    fit = methods.fit_for(spec)
    budget = "steps" if spec.get("steps") is not None else "epochs"
    checkpoints = tuple(sorted({int(members[m][budget]) for m in names}))
    solver = _solver(spec, checkpoints, name=fit.solver.removeprefix(f"{fit.model}_"))
    net = Network(
        inputs=data.X.shape[-1] - 1,
        hidden=tuple(spec.get("hidden", (32,))),
        activation=str(spec.get("activation", "tanh")),
    )
    model = make_loss(str(spec["loss"]), **_loss_param(spec))
    from lossstudy.losses.network import tracks_sharpness

    with np.errstate(all="ignore"):
        scores, _ = fit_network(
            knobs, data, model, solver, net, seed, scenario_id, test_rows=rows,
            sharpness=tracks_sharpness(spec),
        )  # fmt: skip
    R = len(data.replicates)
    out: dict[str, MemberFit] = {}
    steps = solver.checkpoints(data.y.shape[1])
    for name in names:
        k = checkpoints.index(int(members[name][budget]))
        dead = scores.diverged[:, k]
        curve = None if scores.curve is None else scores.curve[:, k]
        sharp = None if scores.sharpness is None else scores.sharpness[:, k]
        mine = FunctionScores(
            scores.ise[:, k], scores.test_mse[:, k], scores.test_mae[:, k], dead.copy(), curve,
            sharp,
        )  # fmt: skip
        status = np.where(dead, DIVERGED, "ok").astype(object)
        empty = np.empty((R, 0))
        out[name] = MemberFit(
            empty, status, _message(dead, int(steps[k]), "θ"), empty, np.full(R, np.nan), mine
        )
    log.info(
        "trained networks %s (%s, %d checkpoints up to %d) in %.2fs; diverged at the last: %d/%d",
        ", ".join(names),
        spec["method"],
        len(checkpoints),
        checkpoints[-1],
        time.perf_counter() - t0,
        int(scores.diverged[:, -1].sum()),
        R,
    )
    return out


def fit_trained(
    data: Dataset,
    members: Mapping[str, Mapping[str, Any]],
    seed: int,
    scenario_id: str,
    *,
    test: tuple[Mapping[str, Any], int] | None = None,
) -> dict[str, MemberFit]:
    """Every trained member (name -> stored spec) on every replicate of a chunk. ``test`` =
    (the scenario's knobs, test rows per replicate): what a network member is scored with."""
    from lossstudy import methods

    R, p = data.beta.shape
    groups: dict[str, list[str]] = {}
    for name, spec in members.items():
        groups.setdefault(trajectory_key(spec), []).append(name)
    exacts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    out: dict[str, MemberFit] = {}
    for names in groups.values():
        t0 = time.perf_counter()
        spec = members[names[0]]
        if methods.fit_for(spec).model != "linear":
            out.update(_fit_network_group(data, members, names, seed, scenario_id, test))
            continue
        budget = "steps" if spec.get("steps") is not None else "epochs"
        checkpoints = tuple(sorted({int(members[m][budget]) for m in names}))
        solver = _solver(spec, checkpoints, data.y.shape[1])
        loss, param = str(spec["loss"]), _loss_param(spec)
        rngs = None
        if solver.batch_size is not None:
            rngs = [training_rng(seed, scenario_id, int(r)) for r in data.replicates]
        model = make_loss(loss, **param)
        with np.errstate(all="ignore"):
            if gd_squared.applies(data.X, model, solver):  # linear in y: its closed form
                run = gd_squared.train_gd_squared(data.X, data.y, solver)
            else:
                run = train(data.X, data.y, model, solver, rngs)
        lam = _l1_strength(spec)
        key = json.dumps([loss, param, lam], sort_keys=True)
        if key not in exacts:
            if lam:  # the exact lasso of the same objective
                beta_hat = l1.minimiser(data.X, data.y, lam)
                exacts[key] = beta_hat, l1.objective(data.X, data.y, beta_hat, lam)
            else:
                beta_hat = exact.minimiser(loss, param, data.X, data.y)
                exacts[key] = beta_hat, exact.objective(loss, param, data.X, data.y, beta_hat)
        beta_hat, f_hat = exacts[key]
        for name in names:
            k = checkpoints.index(int(members[name][budget]))
            coef, dead = run.coef[:, k, :], run.diverged[:, k]
            status = np.where(dead, DIVERGED, "ok").astype(object)
            message = _message(dead, int(run.steps[k]), "β")
            with np.errstate(all="ignore"):
                if lam:
                    gap = l1.objective(data.X, data.y, coef, lam) - f_hat
                else:
                    gap = exact.objective(loss, param, data.X, data.y, coef) - f_hat
            out[name] = MemberFit(coef, status, message, coef - beta_hat, gap)
        log.info(
            "trained %s (%s, %d checkpoints up to %d) in %.2fs; diverged at the last: %d/%d",
            ", ".join(names),
            spec["method"],
            len(checkpoints),
            checkpoints[-1],
            time.perf_counter() - t0,
            int(run.diverged[:, -1].sum()),
            R,
        )
    return out
