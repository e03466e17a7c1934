"""Theory rows of trained members (lossstudy.theory.training) against the training engine.

Scenarios are built from their knobs and simulated by ``dgp.simulate``; members are trained by
the engine (not the workflow) from hand-built canonical specs, and their estimates are laid out
as the contract's estimates parquet (status ``diverged``, ``opt_diff``, ``objective_gap``), so
that ``theory.compare`` sees what the workflow would give it. Agreement within the table's own
flag (3 MCSE; exact rows at a fixed seed), and the rows have power: a member trained with a
step 10% off its spec is flagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from lossstudy import theory
from lossstudy.config import BUILTIN_DEFAULTS, deep_merge, term_names
from lossstudy.dgp import draw_design, simulate
from lossstudy.estimators import lad_lp
from lossstudy.seeding import design_rng
from lossstudy.theory.training import gd_squared_filter, gd_squared_map
from lossstudy.training import Solver, make_loss, stability_limit, train
from lossstudy.training.closed_form import contraction, gd_squared_moments, gd_squared_path

LEVEL = 0.95
SEED = 20261203


def spec(loss: str, steps: int, **kw: Any) -> dict[str, Any]:
    """A canonical trained spec as the contract stores it (every default filled)."""
    out = {
        "method": f"{loss}-{kw.get('solver', 'gd')}",
        "loss": loss,
        "penalty": "none",
        "solver": "gd",
        "se": "none",
        "lr_relative": None,
        "lr": None,
        "steps": steps,
        "batch_size": None,
        "schedule": "constant",
        "average": False,
        "init": "zeros",
        "betas": [0.9, 0.999],
        "eps": 1e-8,
    }
    if loss in ("huber", "pseudo_huber"):
        out["delta"] = 1.345
    if loss == "log_cosh":
        out["scale"] = 1.0
    out.update(kw)
    return out


def _minimiser(loss: str, X: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
    """The exact minimiser: OLS, LAD (linear programme), or fixed-δ Huber by IRLS then Newton
    on the inlier set."""
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    if loss == "squared":
        return beta
    if loss == "absolute":
        return lad_lp(X, y)[0]
    assert loss == "huber", loss
    for _ in range(100):
        w = np.minimum(1.0, delta / np.maximum(np.abs(y - X @ beta), 1e-300))
        beta = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    for _ in range(30):
        r = y - X @ beta
        inl = np.abs(r) <= delta
        beta = beta + np.linalg.solve(X[inl].T @ X[inl], X.T @ np.clip(r, -delta, delta))
    return beta


def trained_estimates(
    sid: str, knobs: dict[str, Any], members: dict[str, dict[str, Any]], reps: int, **wrong: Any
) -> pd.DataFrame:
    """Estimates rows of trained members as the workflow lays them out (``wrong`` overrides
    the solver's settings: a member trained otherwise than its spec says)."""
    data = simulate(knobs, SEED, sid, 0, reps)
    p = data.beta.shape[1]
    terms = term_names(p)
    frames = []
    for name, s in members.items():
        if s["method"] == "ols":
            coef = np.linalg.lstsq(data.X, data.y.T, rcond=None)[0].T
            frames.append(
                pd.DataFrame(
                    {
                        "scenario": sid,
                        "replicate": np.repeat(data.replicates, p),
                        "estimator": name,
                        "method": "ols",
                        "term": terms * reps,
                        "true_value": data.beta.ravel(),
                        "estimate": coef.ravel(),
                        "status": "ok",
                    }
                )
            )
            continue
        delta = float(s.get("delta") or 1.0)
        loss = make_loss(s["loss"], delta=s.get("delta"), scale=s.get("scale"))
        settings = {k: s[k] for k in ("lr", "lr_relative", "schedule", "average", "init") if k in s}
        solver = Solver("gd", steps=int(s["steps"]), **{**settings, **wrong})
        out = train(data.X, data.y, loss, solver)
        coef, dead = out.coef[:, 0], out.diverged[:, 0]
        exact = np.array([_minimiser(s["loss"], data.X, yr, delta) for yr in data.y])
        rho = (lambda r: 0.5 * r * r) if s["loss"] == "squared" else None
        fstar = np.array(
            [
                np.mean(rho(yr - data.X @ b)) if rho else np.mean(loss.rho(yr - data.X @ b))
                for yr, b in zip(data.y, exact, strict=True)
            ]
        )
        frames.append(
            pd.DataFrame(
                {
                    "scenario": sid,
                    "replicate": np.repeat(data.replicates, p),
                    "estimator": name,
                    "method": s["method"],
                    "term": terms * reps,
                    "true_value": data.beta.ravel(),
                    "estimate": coef.ravel(),
                    "status": np.repeat(np.where(dead, "diverged", "ok"), p),
                    "opt_diff": (coef - exact).ravel(),
                    "objective_gap": np.repeat(out.objective[:, 0] - fstar, p),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def table(sid: str, knobs: dict[str, Any], members: dict[str, dict[str, Any]], reps: int, **wrong):
    est = trained_estimates(sid, knobs, members, reps, **wrong)
    checks, skipped = theory.scenario_checks(sid, knobs, SEED, members, LEVEL)
    terms = term_names(len(knobs["coefficients"]))
    return theory.compare(sid, checks, est, None, terms), skipped


def show(rows: pd.DataFrame) -> str:
    cols = ["estimator", "term", "quantity", "simulated", "mcse", "theoretical", "relation", "z"]
    return rows[cols].to_string()


KNOBS = {"n": 40, "coefficients": [1.0, 2.0, -1.0], "design": {"fixed": True}}
SQUARED = {
    "sq_k3": spec("squared", 3, lr_relative=0.1),
    "sq_k20": spec("squared", 20, lr_relative=0.4),
    "sq_avg": spec("squared", 15, lr_relative=0.9, average=True),
    "sq_inv": spec("squared", 10, lr_relative=0.8, schedule="inv_sqrt"),
    "sq_k2000": spec("squared", 2000, lr_relative=0.5),
    "sq_ols": spec("squared", 5, lr_relative=0.5, init="ols"),
    "sq_lr": spec("squared", 8, lr=0.3),
}


@pytest.fixture(scope="module")
def squared_table() -> pd.DataFrame:
    knobs = deep_merge(BUILTIN_DEFAULTS, KNOBS)
    tab, _ = table("train_normal", knobs, SQUARED, 400)
    return tab


def test_gd_squared_rows_are_exact_and_reproduced(squared_table):
    """Bias, EmpSE and MSE per term, opt_error and objective_gap: every row exact, none flagged
    (400 replicates, normal errors); the early checkpoints are visibly biased (the rows can
    tell), the converged and OLS-started ones sit on the floating-point floor."""
    tab = squared_table
    assert not tab["flag"].any(), show(tab[tab["flag"]])
    assert set(tab["kind"]) == {"exact"}
    for name in SQUARED:
        got = set(tab.loc[tab["estimator"] == name, "quantity"])
        assert got == {"bias", "empse", "mse", "divergence", "opt_error", "objective_gap"}, name
    bias = tab[(tab["estimator"] == "sq_k3") & (tab["quantity"] == "bias")]
    assert (bias["theoretical"].abs() / bias["mcse"]).max() > 20  # shrunk, and seen to be
    floor = tab[tab["quantity"].isin(["opt_error", "objective_gap"]) & (tab["relation"] == "<=")]
    assert set(floor["estimator"]) == {"sq_k20", "sq_k2000", "sq_ols"}
    assert floor.groupby("estimator").size().to_dict() == {"sq_k20": 1, "sq_k2000": 2, "sq_ols": 2}
    gap = tab[(tab["estimator"] == "sq_k3") & (tab["quantity"] == "objective_gap")]
    assert gap["relation"].item() == "=" and gap["theoretical"].item() > 0.1
    div = tab[tab["quantity"] == "divergence"]
    assert (div["simulated"] == 0).all() and (div["theoretical"] < 1e-9).all()


def test_gd_squared_rows_detect_a_wrong_step():
    """The same members trained with a step 10% smaller than their spec's: flagged."""
    knobs = deep_merge(BUILTIN_DEFAULTS, KNOBS)
    members = {"sq_k3": SQUARED["sq_k3"]}
    tab, _ = table("train_normal", knobs, members, 400, lr_relative=0.09)
    assert tab.loc[tab["quantity"].isin(["bias", "mse", "opt_error"]), "flag"].any()


def test_gd_squared_map_is_the_engine_and_the_closed_form():
    """M y equals the engine's iterate (constant, inv_sqrt, averaged, init ols) to 1e-10, and
    from β₀ = 0 with a constant step M = A_k (X'X)⁻¹X' of closed_form.gd_squared_moments."""
    knobs = deep_merge(BUILTIN_DEFAULTS, KNOBS)
    X, _ = draw_design(design_rng(SEED, "m"), knobs)
    y = X @ np.array([1.0, 2.0, -1.0]) + np.random.default_rng(1).standard_normal((3, 40))
    from lossstudy.theory.training import _schedule

    for s in SQUARED.values():
        fields = ("lr", "lr_relative", "schedule", "average", "init")
        solver = Solver("gd", steps=s["steps"], **{k: s[k] for k in fields})
        out = train(X, y, make_loss("squared"), solver)
        M = gd_squared_map(X, _schedule(s, X))
        assert np.abs(out.coef[:, 0] - y @ M.T).max() < 1e-10, s
    eta = 0.7 * stability_limit(X)
    M = gd_squared_map(X, _schedule(spec("squared", 12, lr=eta), X))
    path = gd_squared_path(X, y, eta, [12])
    assert np.abs(path[:, 0] - y @ M.T).max() < 1e-12
    beta = np.array([1.0, 2.0, -1.0])
    mean, cov = gd_squared_moments(X, beta, 1.3, eta, 12)
    assert np.allclose(M @ X @ beta, mean, atol=1e-12)
    assert np.allclose(1.3**2 * M @ M.T, cov, atol=1e-12)
    lam = np.linalg.eigvalsh(X.T @ X / 40)
    rest = gd_squared_filter(lam, _schedule(spec("squared", 12, lr=eta), X))
    assert np.allclose(np.sort(rest), np.sort(np.linalg.eigvalsh(contraction(X, eta, 12))))


@pytest.mark.parametrize("errors", ["normal", "t"])
def test_gd_squared_divergence_beyond_c_equal_one(errors):
    """c = 1.01 and 1.1: the lower bound P(|v'β̂| > 10⁶/(ρ^k − 1)) holds at k = 300 (not yet
    1) and 1500 (≈ 1); exact under normal errors, a normal approximation under t(3)."""
    knobs = deep_merge(BUILTIN_DEFAULTS, {**KNOBS, "n": 100})
    if errors == "t":
        knobs = deep_merge(knobs, {"errors": {"distribution": "t", "df": 3.0}})
    members = {
        f"sq_c{c}_k{k}": spec("squared", k, lr_relative=c) for c in (1.01, 1.1) for k in (300, 1500)
    }
    tab, _ = table(f"train_{errors}", knobs, members, 300)
    div = tab[tab["quantity"] == "divergence"].set_index("estimator")
    assert not div["flag"].any(), show(div.reset_index())
    assert set(div["relation"]) == {">="}
    assert set(div["kind"]) == {"exact" if errors == "normal" else "asymptotic"}
    assert div.loc["sq_c1.1_k1500", "theoretical"] > 0.99
    assert div.loc["sq_c1.01_k1500", "simulated"] == 1.0
    assert not (tab["quantity"] == "bias").any()  # diverging members: no moments


LOSSES = {
    "huber_k3000": spec("huber", 3000, lr_relative=0.9),
    "ph_k3000": spec("pseudo_huber", 3000, lr_relative=0.5),
    "lc_k3000": spec("log_cosh", 3000, lr_relative=0.5),
    "huber_c10": spec("huber", 500, lr_relative=10.0),
    "abs_c10": spec("absolute", 500, lr_relative=10.0),
    "abs_avg": spec("absolute", 4000, lr=0.01, average=True),
    "huber_k5": spec("huber", 5, lr_relative=0.9),
}


def test_bounded_gradient_losses_never_diverge_and_smooth_ones_converge():
    """t(3) errors: Huber, pseudo-Huber, log-cosh and L1 members have divergence exactly 0 at
    any c (even 10); the smooth ones at c < 1 with enough steps sit on their exact minimiser
    (asymptotic rows), a 5-step member gets no such row (skipped with the rate), and the
    averaged constant-step L1 member is within its ηG²/2 bound."""
    knobs = deep_merge(BUILTIN_DEFAULTS, {**KNOBS, "errors": {"distribution": "t", "df": 3.0}})
    members = {k: v for k, v in LOSSES.items() if not k.startswith(("ph", "lc"))}
    tab, skipped = table("train_t3", knobs, members, 40)
    assert not tab["flag"].any(), show(tab[tab["flag"]])
    div = tab[tab["quantity"] == "divergence"].set_index("estimator")
    assert set(div.index) == set(members) and (div["theoretical"] == 0).all()
    assert (div["relation"] == "=").all() and (div["kind"] == "exact").all()
    conv = tab[(tab["quantity"] == "opt_error")].set_index("estimator")
    assert list(conv.index) == ["huber_k3000"] and conv["simulated"].max() < 1e-8
    plateau = tab[(tab["quantity"] == "objective_gap") & (tab["estimator"] == "abs_avg")]
    assert plateau["relation"].item() == "<=" and plateau["simulated"].item() > 0
    reasons = {(s["estimator"], s["check"]): s["reason"] for s in skipped}
    assert "local rate" in reasons["huber_k5", "GD convergence"]
    assert "last iterate" in reasons["abs_c10", "subgradient plateau"]


def test_pseudo_huber_and_log_cosh_converge_rows():
    """The other smooth losses: their exact minimiser is what GD reaches (engine to 6e5 steps
    would be slow, so the minimiser is GD's own endpoint at 4× the steps: the row is about
    the theory's claim that 3000 steps are enough)."""
    knobs = deep_merge(BUILTIN_DEFAULTS, {**KNOBS, "errors": {"distribution": "t", "df": 3.0}})
    members = {k: v for k, v in LOSSES.items() if k.startswith(("ph", "lc"))}
    checks, _ = theory.scenario_checks("train_t3", knobs, SEED, members, LEVEL)
    rows = {(c.estimator, c.quantity): c for c in checks}
    data = simulate(knobs, SEED, "train_t3", 0, 20)
    for name, s in members.items():
        assert rows[name, "opt_error"].kind == "asymptotic"
        loss = make_loss(s["loss"], delta=s.get("delta"), scale=s.get("scale"))
        ends = train(
            data.X,
            data.y,
            loss,
            Solver("gd", lr_relative=s["lr_relative"], steps=[s["steps"], 4 * s["steps"]]),
        )
        dist = np.sqrt(((ends.coef[:, 0] - ends.coef[:, 1]) ** 2).sum(axis=1))
        assert dist.max() < rows[name, "opt_error"].theoretical


def test_trained_members_leave_the_exact_checks_alone():
    """A study with OLS and trained members: OLS's rows are those of a study without them, and
    no exact-fit check (Gauss–Markov, efficiency) names a trained member."""
    knobs = deep_merge(BUILTIN_DEFAULTS, KNOBS)
    ols = {"ols": {"method": "ols", "se": "classical"}}
    alone, _ = theory.scenario_checks("s", knobs, SEED, ols, LEVEL)
    both, skipped = theory.scenario_checks("s", knobs, SEED, {**ols, **SQUARED}, LEVEL)
    assert [c for c in both if c.estimator == "ols"] == alone
    assert {c.estimator for c in both if c.kind == "ordering"} <= {"ols"}
    random = deep_merge(knobs, {"design": {"fixed": False}})
    checks, skipped = theory.scenario_checks("s", random, SEED, SQUARED, LEVEL)
    assert not checks and {s["check"] for s in skipped} == {"training theory"}


def test_cauchy_errors_squared_members():
    """Cauchy errors: no moment rows (skipped, no variance); past c = 1 divergence is certain
    once 10⁶/(ρ^k − 1) is negligible (asymptotic row, every replicate diverged), not before;
    huge k does not overflow; bounded-gradient members still never diverge."""
    knobs = deep_merge(BUILTIN_DEFAULTS, {**KNOBS, "errors": {"distribution": "cauchy"}})
    members = {
        "sq_c2_k60": spec("squared", 60, lr_relative=2.0),
        "sq_c2_k10": spec("squared", 10, lr_relative=2.0),
        "sq_c05": spec("squared", 50, lr_relative=0.5),
        "abs_c2": spec("absolute", 60, lr_relative=2.0),
    }
    tab, skipped = table("train_cauchy", knobs, members, 100)
    assert not tab["flag"].any(), show(tab[tab["flag"]])
    rows = tab.set_index(["estimator", "quantity"])
    assert rows.loc[("sq_c2_k60", "divergence"), "simulated"] == 1.0
    assert rows.loc[("sq_c2_k60", "divergence"), "kind"] == "asymptotic"
    assert rows.loc[("abs_c2", "divergence"), "simulated"] == 0.0
    assert set(tab["estimator"]) == {"sq_c2_k60", "abs_c2"}
    reasons = {(s["estimator"], s["check"]) for s in skipped}
    assert {("sq_c2_k10", "GD divergence"), ("sq_c05", "exact GD moments")} <= reasons
    huge, _ = theory.scenario_checks(
        "train_cauchy", knobs, SEED, {"h": spec("squared", 10**5, lr_relative=10.0)}, LEVEL
    )
    assert [c.theoretical for c in huge] == [1.0]


def test_converged_huber_gd_returns_to_its_are_anchor():
    """t(3) errors, n = 200: Huber (δ = 1.345, fixed) trained by GD to convergence has the
    asymptotic efficiency of the fixed-scale Huber M-estimator against OLS, Var(e)(E ψ')²/E ψ²
    (1.93 here; = the science formula with s = 1), within 3 MCSE over 300 replicates, and
    visibly above 1."""
    knobs = deep_merge(
        BUILTIN_DEFAULTS,
        {**KNOBS, "n": 200, "errors": {"distribution": "t", "df": 3.0}},
    )
    members = {
        "ols": {"method": "ols", "se": "hc3"},
        "hgd": spec("huber", 2000, lr_relative=0.9),
    }
    tab, _ = table("train_t3", knobs, members, 300)
    row = tab[(tab["estimator"] == "hgd") & (tab["quantity"] == "rel_efficiency")]
    assert len(row) == 1 and row["versus"].item() == "ols", show(tab)
    assert row["kind"].item() == "asymptotic" and not row["flag"].item(), show(row)
    assert (row["simulated"].item() - 1) > 3 * row["mcse"].item()
    errors = knobs["errors"]
    law = theory.error_law(errors)
    anchor = law.variance / theory.huber_asymptotic_variance(errors, 1.345, scale=1.0)
    assert abs(row["theoretical"].item() - anchor) < 1e-10


def test_theory_table_leaves_out_members_a_scenario_did_not_fit():
    """A trained member restricted to some scenarios (``scenarios:``) gets rows only where it
    has estimates; the other scenarios' rows are those of the exact fits alone."""
    knobs = deep_merge(BUILTIN_DEFAULTS, KNOBS)
    members = {"sq": SQUARED["sq_k20"]}
    est = trained_estimates("train_normal", knobs, members, 50)
    scenarios = {"train_normal": knobs, "other": knobs}
    estimates = {"train_normal": est, "other": est[est["estimator"] == "none"]}
    tab, _ = theory.theory_table(scenarios, SEED, members, LEVEL, estimates)
    assert set(tab["scenario"]) == {"train_normal"} and len(tab) == 3 * 3 + 3


def test_a_diverged_replicate_where_theory_says_none_is_flagged():
    """Divergence rows have power: one replicate marked diverged in a stable squared member
    (bound ≈ 1e-11) and in a bounded-gradient member (exactly 0) is flagged in both."""
    knobs = deep_merge(BUILTIN_DEFAULTS, KNOBS)
    members = {"sq": SQUARED["sq_k20"], "hub": spec("huber", 20, lr_relative=3.0)}
    est = trained_estimates("train_normal", knobs, members, 50)
    est.loc[est["replicate"] == 7, "status"] = "diverged"
    checks, _ = theory.scenario_checks("train_normal", knobs, SEED, members, LEVEL)
    tab = theory.compare("train_normal", checks, est, None, term_names(3))
    div = tab[tab["quantity"] == "divergence"].set_index("estimator")
    assert div["flag"].all() and (div["simulated"] == 1 / 50).all(), show(div.reset_index())
