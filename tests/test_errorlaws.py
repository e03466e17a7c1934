"""The error-law registry: one module per law, and everything the study reads from it.

The draws must stay the study's random streams: :func:`old_draw` and :func:`old_moments` are the
``if``/``elif`` chains the registry replaced, kept here verbatim as the reference.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import pkgutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from lossstudy import errorlaws, theory
from lossstudy.assumptions import assumptions
from lossstudy.config import BUILTIN_DEFAULTS, SCHEMA_PATH, ConfigError, load_schema, load_study
from lossstudy.dgp import simulate
from lossstudy.moments import moment_rules

CASES = [
    {"distribution": "normal"},
    {"distribution": "normal", "scale": 2.5},
    {"distribution": "t", "df": 3},
    {"distribution": "t", "df": 1.5, "scale": 0.3},
    {"distribution": "t", "df": 50},
    {"distribution": "laplace", "scale": 2.0},
    {"distribution": "cauchy", "scale": 3.0},
    {"distribution": "contaminated", "fraction": 0.1, "outlier_scale": 3.0},
    {"distribution": "contaminated", "fraction": 0.5, "outlier_scale": 10.0, "scale": 0.5},
    {"distribution": "exponential", "scale": 2.0},
    {"distribution": "lognormal", "sigma": 1.0},
    {"distribution": "lognormal", "sigma": 0.1, "scale": 4.0},
]


def old_draw(rng: np.random.Generator, errors: dict[str, Any], n: int) -> np.ndarray:
    dist, s = errors["distribution"], float(errors.get("scale", 1.0))
    if dist == "normal":
        e = rng.standard_normal(n)
    elif dist == "t":
        e = rng.standard_t(float(errors["df"]), n)
    elif dist == "laplace":
        e = rng.laplace(0.0, 1.0, n)
    elif dist == "cauchy":
        e = rng.standard_cauchy(n)
    elif dist == "contaminated":
        outlier = rng.random(n) < float(errors["fraction"])
        e = rng.standard_normal(n) * np.where(outlier, float(errors["outlier_scale"]), 1.0)
    elif dist == "exponential":
        e = rng.standard_exponential(n) - 1.0
    else:
        sigma = float(errors["sigma"])
        e = np.exp(sigma * rng.standard_normal(n)) - math.exp(sigma * sigma / 2)
    return s * e


def old_moments(errors: dict[str, Any]) -> tuple:
    dist, s = errors["distribution"], float(errors.get("scale", 1.0))
    if dist == "normal":
        return (True, True, True, s, True, 0.0)
    if dist == "t":
        df = float(errors["df"])
        sd = s * math.sqrt(df / (df - 2)) if df > 2 else math.inf
        return (df > 1, df > 2, df > 4, sd, True, 0.0)
    if dist == "laplace":
        return (True, True, True, s * math.sqrt(2.0), True, 0.0)
    if dist == "cauchy":
        return (False, False, False, math.inf, True, 0.0)
    if dist == "contaminated":
        f, o = float(errors["fraction"]), float(errors["outlier_scale"])
        return (True, True, True, s * math.sqrt(1 - f + f * o * o), True, 0.0)
    if dist == "exponential":
        return (True, True, True, s, False, s * (math.log(2.0) - 1.0))
    v = float(errors["sigma"]) ** 2
    sd = s * math.sqrt((math.exp(v) - 1.0) * math.exp(v))
    return (True, True, True, sd, False, s * (1.0 - math.exp(v / 2)))


@pytest.mark.parametrize("errors", CASES, ids=lambda e: "-".join(map(str, e.values())))
def test_draws_and_moments_are_the_old_chains_bit_for_bit(errors):
    for seed in (0, 1, 20261126):
        a = errorlaws.draw_errors(np.random.default_rng(seed), errors, 257)
        b = old_draw(np.random.default_rng(seed), errors, 257)
        assert np.array_equal(a, b)
    m = errorlaws.error_moments(errors)
    got = (m.mean_finite, m.var_finite, m.fourth_finite, m.sd, m.symmetric, m.median)
    assert got == old_moments(errors)


def test_every_module_of_the_package_is_a_registered_law():
    modules = [m.name for m in pkgutil.iter_modules(errorlaws.__path__) if m.name[0] != "_"]
    assert sorted(modules) == list(errorlaws.LAWS)
    assert set(errorlaws.LAWS) >= {"normal", "t", "laplace", "cauchy", "contaminated"}
    for name, law in errorlaws.LAWS.items():
        assert law.name == name and law.title and law.definition


def test_the_config_schema_takes_its_errors_entry_from_the_registry():
    entry = load_schema(SCHEMA_PATH)["$defs"]["errors"]
    props = entry["properties"]
    assert props["distribution"]["enum"] == list(errorlaws.LAWS)
    params = {p.name for law in errorlaws.LAWS.values() for p in law.parameters}
    assert set(props) == {"distribution", "scale"} | params
    assert entry["additionalProperties"] is False
    assert props["df"] == {"type": "number", "exclusiveMinimum": 0}


@pytest.mark.parametrize("name", sorted(errorlaws.LAWS))
def test_declared_facts_agree(name):
    """Defaults lie in their ranges, and a law with all moments says so at its defaults; the
    density integrates to the distribution function."""
    law = errorlaws.LAWS[name]
    params = {p.name: p.default if p.default is not None else 7.0 for p in law.parameters}
    for p in law.parameters:
        b = p.bounds
        value = params[p.name]
        assert b.get("minimum", -math.inf) <= value <= b.get("maximum", math.inf)
        assert value > b.get("exclusiveMinimum", -math.inf)
    if law.all_moments:
        assert law.moment_order(params) == math.inf
    from scipy.integrate import quad

    pdf, cdf = law.density(params, 1.5)
    lo, hi = law.median(params, 1.5) - 1.0, law.median(params, 1.5) + 2.0
    assert quad(pdf, lo, hi)[0] == pytest.approx(cdf(hi) - cdf(lo), abs=1e-9)
    assert cdf(law.median(params, 1.5)) == pytest.approx(0.5, abs=1e-12)


def test_a_second_meaning_of_a_parameter_name_is_refused(monkeypatch):
    monkeypatch.setattr(errorlaws, "LAWS", dict(errorlaws.LAWS))

    class Other(errorlaws.LAWS["t"].__class__):
        name = "other_t"
        parameters = (errorlaws.Parameter("df", "degrees of freedom", 3.0, {"minimum": 1}),)

    with pytest.raises(ValueError, match="another range"):
        errorlaws.register(Other())


# --------------------------------------------------------------------------- a law from outside

TOY = '''
"""Uniform errors on [-width, width]: all moments, symmetric."""
import math

from lossstudy.errorlaws import Density, Law, Parameter


class Uniform(Law):
    name = "uniform"
    title = "uniform"
    definition = "width·(2U − 1), U ~ U(0, 1)"
    parameters = (Parameter("width", "half the support", 1.0, {"exclusiveMinimum": 0}),)

    def standard(self, rng, params, n):
        return params["width"] * (2.0 * rng.random(n) - 1.0)

    def sd(self, params, scale):
        return scale * params["width"] / math.sqrt(3.0)

    def density(self, params, scale):
        w = params["width"] * scale
        return Density(
            lambda x: (abs(x) <= w) / (2.0 * w), lambda x: min(max((x + w) / (2.0 * w), 0.0), 1.0)
        )


LAW = Uniform()
'''


@pytest.fixture
def toy_law(tmp_path, monkeypatch):
    """A law registered from a module outside the package, for this test only."""
    (tmp_path / "toy_uniform.py").write_text(TOY)
    monkeypatch.setattr(errorlaws, "LAWS", dict(errorlaws.LAWS))
    spec = importlib.util.spec_from_file_location("toy_uniform", tmp_path / "toy_uniform.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "toy_uniform", module)
    spec.loader.exec_module(module)
    return errorlaws.register(module.LAW)


BASE = {
    "seed": 3,
    "replicates": 40,
    "scenarios": {"s": {}},
    "estimators": {"ols": {"method": "ols"}, "lad": {"method": "lad"}},
}


def test_a_law_added_as_one_module_is_configured_drawn_and_judged(toy_law):
    cfg = copy.deepcopy(BASE)
    cfg["scenarios"] = {
        "u": {"n": 30, "errors": {"distribution": "uniform", "scale": 2.0}},
        "w": {"errors": {"distribution": "uniform"}, "sweep": {"errors.width": [0.5, 2]}},
    }
    study = load_study(cfg)
    assert list(study.scenarios) == ["u", "w-width0.5", "w-width2"]
    knobs = study.scenarios["u"].knobs
    assert knobs["errors"] == {"distribution": "uniform", "scale": 2.0, "width": 1.0}
    data = simulate(knobs, 3, "u", 0, 400)
    e = data.y - np.einsum("np,rp->rn", data.X, data.beta)
    assert np.abs(e).max() <= 2.0 and abs(e.std() - 2.0 / math.sqrt(3)) < 0.02
    assert errorlaws.error_moments(knobs["errors"]).sd == pytest.approx(2.0 / math.sqrt(3))
    assert all(
        r.defined and r.mcse_valid
        for r in moment_rules(knobs["errors"], {"method": "ols"}).values()
    )
    assert theory.error_law(knobs["errors"]).pdf(0.0) == pytest.approx(0.25)
    assert assumptions(knobs)["normal_errors"] == (False, "uniform")
    # its parameter is checked against its declared range, and only for this law
    bad = copy.deepcopy(cfg)
    bad["scenarios"]["w"]["sweep"]["errors.width"] = [0.5, -1]
    with pytest.raises(
        ConfigError, match=r"'scenarios.w.sweep.errors.width\[1\]': got -1; must be > 0"
    ):
        load_study(bad)
    other = copy.deepcopy(BASE)
    other["scenarios"]["s"] = {"errors": {"distribution": "normal", "width": 2}}
    with pytest.raises(ConfigError, match="'width' is not a parameter of the 'normal'"):
        load_study(other)


def test_without_the_module_the_law_is_unknown():
    cfg = copy.deepcopy(BASE)
    cfg["scenarios"]["s"] = {"errors": {"distribution": "uniform"}}
    with pytest.raises(ConfigError, match="scenarios.s.errors.distribution"):
        load_study(cfg)
    with pytest.raises(ValueError, match="unknown error distribution 'uniform'"):
        errorlaws.law("uniform")


def test_defaults_are_unchanged():
    assert BUILTIN_DEFAULTS["errors"] == {"distribution": "normal", "scale": 1.0}
    assert {
        n: {p.name: p.default for p in law.parameters} for n, law in errorlaws.LAWS.items()
    } == {
        "cauchy": {},
        "contaminated": {"fraction": 0.1, "outlier_scale": 3.0},
        "exponential": {},
        "laplace": {},
        "lognormal": {"sigma": 1.0},
        "normal": {},
        "t": {"df": None},
    }


# --------------------------------------------------------------------------- t with df = ∞


def test_t_with_infinite_df_is_the_normal_everywhere():
    """df = ∞ is the normal law: drawn as N(0, scale²) (the same draws as ``normal``), with the
    normal's moments, measures, density, assumptions and theoretical checks."""
    cfg = yaml.safe_load(
        """
        seed: 5
        replicates: 20
        scenarios:
          heavy: {errors: {distribution: t, df: 3, scale: 2.0}, sweep: {errors.df: [3, .inf]}}
          normal: {errors: {scale: 2.0}}
        estimators: {ols: {method: ols}, lad: {method: lad}, huber: {method: huber}}
        """
    )
    study = load_study(cfg)
    assert list(study.scenarios) == ["heavy-df3", "heavy-dfinf", "normal"]
    t_inf = study.scenarios["heavy-dfinf"].knobs
    normal = study.scenarios["normal"].knobs
    assert t_inf["errors"] == {"distribution": "t", "df": math.inf, "scale": 2.0}
    assert json.loads(study.scenarios["heavy-dfinf"].knobs_json()) == t_inf  # the rules' param
    a, b = simulate(t_inf, 5, "x", 0, 30), simulate(normal, 5, "x", 0, 30)
    assert np.array_equal(a.y, b.y) and np.all(np.isfinite(a.y))
    assert errorlaws.error_moments(t_inf["errors"]) == errorlaws.error_moments(normal["errors"])
    for est in study.estimators.values():
        assert moment_rules(t_inf["errors"], est) == moment_rules(normal["errors"], est)
    assert theory.are_lad(t_inf["errors"]) == pytest.approx(2 / math.pi, rel=1e-12)
    assert theory.are_huber(t_inf["errors"]) == theory.are_huber(normal["errors"])
    assert theory.mad_scale(t_inf["errors"]) == pytest.approx(2.0)
    holds, why = assumptions(t_inf)["normal_errors"]
    assert holds and "drawn as N(0, scale²)" in why
    assert assumptions(normal)["normal_errors"] == (True, "")
    ests = study.estimators
    checks_inf, skips_inf = theory.scenario_checks("x", t_inf, 5, ests, 0.95)
    checks_normal, skips_normal = theory.scenario_checks("x", normal, 5, ests, 0.95)
    assert checks_inf == checks_normal and skips_inf == skips_normal
    assert any(c.kind == "exact" and c.quantity == "coverage" for c in checks_inf)


def test_a_sweep_to_infinite_df_has_theory_on_its_finite_values():
    from lossstudy.sweeps import theory as sweep_theory

    knobs = copy.deepcopy(BUILTIN_DEFAULTS)
    knobs["errors"] = {"distribution": "t", "df": 3.0, "scale": 1.0}
    xs = sweep_theory.grid([3.0, 50.0, math.inf])
    assert np.all(np.isfinite(xs)) and xs.max() == 50.0
    curve, why = sweep_theory.comparison_curve(
        knobs, "errors.df", [3.0, 50.0, math.inf], 1, {"method": "lad"}, {"method": "ols"},
        "rel_efficiency", 1,
    )  # fmt: skip
    assert curve is not None and why.startswith("asymptotic")
    assert curve(math.inf) == pytest.approx(2 / math.pi, rel=1e-12)
    (root,) = sweep_theory.roots(curve, xs)
    assert root == pytest.approx(4.68, abs=0.01)  # config/config.yaml: LAD overtakes OLS below it


def test_infinity_only_where_the_law_says_what_it_means(monkeypatch):
    """A parameter named like t's df in a law that gives ∞ no meaning stops at config load."""
    monkeypatch.setattr(errorlaws, "LAWS", dict(errorlaws.LAWS))

    class Chi(errorlaws.LAWS["t"].__class__):
        name = "chi"
        parameters = (
            errorlaws.Parameter("df", "degrees of freedom", 3.0, {"exclusiveMinimum": 0}),
        )

    errorlaws.register(Chi())
    cfg = copy.deepcopy(BASE)
    cfg["scenarios"]["s"] = {"errors": {"distribution": "chi", "df": math.inf}}
    with pytest.raises(ConfigError, match=r"'scenarios.s.errors.df': got Infinity; the 'chi'"):
        load_study(cfg)


def test_every_law_and_parameter_is_in_the_docs():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "error-laws.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in doc.split("## The laws", 1)[1].split("\n## ", 1)[0].splitlines()
        if line.startswith("| `")
    }
    assert sorted(rows) == sorted(errorlaws.LAWS)
    for name, law in errorlaws.LAWS.items():
        for p in law.parameters:
            assert f"`{p.name}` (" in rows[name] and p.range_text() in rows[name], (name, p.name)
