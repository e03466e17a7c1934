"""Config validation and scenario expansion: bad input gets one message naming the field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import lossstudy.config
from lossstudy.assumptions import GAUSS_MARKOV, assumptions
from lossstudy.config import (
    SCHEMA_IN_REPOSITORY,
    SCHEMA_PATH,
    ConfigError,
    find_schema,
    load_study,
    load_yaml,
)

ROOT = Path(__file__).resolve().parents[1]

BASE = {
    "seed": 1,
    "replicates": 10,
    "scenarios": {"gm": {}},
    "estimators": {"ols": {"method": "ols"}},
}


def with_(**changes):
    cfg = copy.deepcopy(BASE)
    cfg.update(copy.deepcopy(changes))
    return cfg


def error_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        load_study(cfg)
    return str(info.value)


def test_schema_of_the_configs_own_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A config is checked against the schema of the checkout of this workflow that holds it,
    else against the package's own (next to it in a checkout, shipped in a wheel)."""
    assert SCHEMA_PATH == ROOT / SCHEMA_IN_REPOSITORY  # the tests run from a checkout
    assert find_schema(ROOT / "config" / "config.yaml") == ROOT / SCHEMA_IN_REPOSITORY
    copy_ = tmp_path / "copy"
    (copy_ / "workflow" / "schemas").mkdir(parents=True)
    (copy_ / "workflow" / "scripts").mkdir()
    (copy_ / "workflow" / "scripts" / "_lossstudy_path.py").touch()
    schema = load_yaml(SCHEMA_PATH)
    schema["required"] = [*schema["required"], "seed_for_the_copy"]
    (copy_ / SCHEMA_IN_REPOSITORY).write_text(yaml.safe_dump(schema))
    assert find_schema(copy_ / "config" / "config.yaml") == copy_ / SCHEMA_IN_REPOSITORY
    with pytest.raises(ConfigError, match="seed_for_the_copy"):
        load_study(BASE, find_schema(copy_ / "config"))
    # another Snakemake workflow keeps its schema at the same conventional place: not ours
    other = tmp_path / "other"
    (other / "workflow" / "schemas").mkdir(parents=True)
    (other / SCHEMA_IN_REPOSITORY).write_text("{}")
    assert find_schema(other / "config" / "config.yaml") == SCHEMA_PATH
    assert find_schema() == SCHEMA_PATH
    monkeypatch.setattr(lossstudy.config, "SCHEMA_PATH", tmp_path / "nowhere.yaml")
    with pytest.raises(FileNotFoundError, match="config schema not found"):
        load_study(BASE)


def test_default_config_is_valid_and_meets_the_required_design():
    study = load_study(load_yaml(ROOT / "config" / "config.yaml"))
    bases = {sc.base for sc in study.scenarios.values()}
    assert len(bases) >= 12
    assert {sc.knobs["n"] for sc in study.scenarios.values()} >= {25, 100, 400}
    # 2000 replicates per exact cell; the training part's 12 cells (train_*) and the
    # classification part's 5 (a linear logit at three n, heavisine's at two) have 256, four
    # unpadded blocks of the engine, and the 3 streaming-SGD cells 1024
    training = {sid for sid, sc in study.scenarios.items() if sc.base.startswith("train_")}
    streaming = {sid for sid, sc in study.scenarios.items() if sc.base == "streaming"}
    classify = {sid for sid, sc in study.scenarios.items() if sc.base.startswith("classify")}
    assert len(training) == 12 and len(streaming) == 3 and len(classify) == 5
    # the network part's 16 cells (net_*: sine and heavisine under normal, t(3), t(2) and
    # Cauchy errors at n = 100 and 400) have 64, one block of the engine
    networks = {sid for sid, sc in study.scenarios.items() if sc.base.startswith("net_")}
    assert len(networks) == 16 and {study.scenarios[s].knobs["n"] for s in networks} == {100, 400}
    assert all(study.scenarios[s].replicates == 64 for s in networks)
    exact = set(study.scenarios) - training - streaming - classify - networks
    assert all(study.scenarios[s].replicates >= 2000 for s in exact)
    assert all(study.scenarios[s].replicates == 256 for s in training | classify)
    assert all(study.scenarios[s].replicates == 1024 for s in streaming)
    methods = [e["method"] for e in study.estimators.values()]
    assert {"ols", "wls", "lad", "huber", "ridge"} <= set(methods)
    assert {e.get("se") for e in study.estimators.values() if e["method"] == "ols"} >= {
        "classical",
        "hc3",
    }
    assert len({e["penalty"] for e in study.estimators.values() if e["method"] == "ridge"}) >= 2
    # every Gauss–Markov assumption is broken by at least one scenario and all hold in one
    flags = [assumptions(sc.knobs) for sc in study.scenarios.values()]
    for name in GAUSS_MARKOV:
        assert any(not f[name][0] for f in flags), name
    assert any(all(f[a][0] for a in GAUSS_MARKOV) for f in flags)
    dists = {sc.knobs["errors"]["distribution"] for sc in study.scenarios.values()}
    assert {"t", "laplace", "contaminated", "cauchy"} <= dists
    assert dists & {"exponential", "lognormal"}
    assert any(sc.knobs["prior"]["tau"] > 0 for sc in study.scenarios.values())
    assert any(sc.knobs["design"]["leverage"]["fraction"] > 0 for sc in study.scenarios.values())


def test_grid_expands_with_readable_ids_and_deep_merge():
    cfg = with_(
        scenarios={"heavy": {"errors": {"distribution": "t", "df": 3}}, "gm": None},
        grid={"n": [25, 100], "errors.scale": [0.5]},
    )
    study = load_study(cfg)
    assert list(study.scenarios) == [
        "heavy-n25-scale0.5",
        "heavy-n100-scale0.5",
        "gm-n25-scale0.5",
        "gm-n100-scale0.5",
    ]
    heavy = study.scenarios["heavy-n100-scale0.5"].knobs
    assert heavy["errors"] == {"distribution": "t", "df": 3, "scale": 0.5}
    assert heavy["n"] == 100
    assert heavy["design"]["correlation"] == 0.0  # untouched defaults survive the merge


def test_a_scenario_replaces_the_grids_values_for_itself():
    cfg = with_(
        scenarios={"heavy": {"grid": {"n": [100]}}, "gm": None},
        grid={"n": [25, 100], "errors.scale": [0.5, 2]},
    )
    study = load_study(cfg)
    assert list(study.scenarios) == [
        "heavy-n100-scale0.5",
        "heavy-n100-scale2",
        "gm-n25-scale0.5",
        "gm-n25-scale2",
        "gm-n100-scale0.5",
        "gm-n100-scale2",
    ]
    assert study.scenarios["heavy-n100-scale2"].grid_values == {"n": 100, "errors.scale": 2}
    assert "grid" not in study.scenarios["heavy-n100-scale2"].knobs


def test_scenario_overrides_replicates_and_chunks_cover_them():
    cfg = with_(replicates=10, replicates_per_job=4, scenarios={"a": {}, "b": {"replicates": 3}})
    study = load_study(cfg)
    assert [study.chunk_range("a", c) for c in study.chunks("a")] == [(0, 4), (4, 8), (8, 10)]
    assert [study.chunk_range("b", c) for c in study.chunks("b")] == [(0, 3)]


def test_distribution_defaults_are_filled():
    cfg = with_(scenarios={"c": {"errors": {"distribution": "contaminated"}}})
    errors = load_study(cfg).scenarios["c"].knobs["errors"]
    assert errors == {
        "distribution": "contaminated",
        "scale": 1.0,
        "fraction": 0.1,
        "outlier_scale": 3.0,
    }


def test_reference_defaults_to_first_ols():
    cfg = with_(estimators={"l": {"method": "lad"}, "o": {"method": "ols", "se": "hc3"}})
    assert load_study(cfg).reference == "o"


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        ({"replicates": 0}, "replicates", ">= 1"),
        ({"replicates": -5}, "replicates", ">= 1"),
        ({"replicates_per_job": 0}, "replicates_per_job", ">= 1"),
        ({"replicates_per_job": "sometimes"}, "replicates_per_job", 'an integer >= 1 or "auto"'),
        ({"replicates_per_job": 2.5}, "replicates_per_job", 'an integer >= 1 or "auto"'),
        ({"memory_mb_per_job": 0}, "memory_mb_per_job", ">= 1"),
        ({"scenarios": {}}, "scenarios", "must not be empty"),
        ({"scenarios": {"bad/name": {}}}, "scenarios", "letters"),
        ({"scenarios": {"..": {}}}, "scenarios", "letters"),
        ({"scenarios": {"two words": {}}}, "scenarios", "letters"),
        ({"estimators": {"a/b": {"method": "ols"}}}, "estimators", "letters"),
        (
            {"estimators": {"x": {"method": "l3"}}},
            "estimators.x.method",
            "ols, wls, ridge, lad, huber",
        ),
        (
            {"scenarios": {"s": {"errors": {"distribution": "gumbel"}}}},
            "scenarios.s.errors.distribution",
            "cauchy, contaminated, exponential, laplace, lognormal, normal, t.",
        ),
        (
            {"scenarios": {"s": {"errors": {"distribution": "t", "df": 0}}}},
            "scenarios.s.errors.df",
            "> 0",
        ),
        (
            {"scenarios": {"s": {"errors": {"distribution": "t"}}}},
            "scenarios.s.errors.df",
            "needs 'df'",
        ),
        (
            {"scenarios": {"s": {"errors": {"distribution": "normal", "df": 3}}}},
            "scenarios.s.errors.df",
            "not a parameter",
        ),
        (
            {"scenarios": {"s": {"autocorrelation": {"phi": 1.0}}}},
            "scenarios.s.autocorrelation.phi",
            "< 1",
        ),
        (
            {"scenarios": {"s": {"autocorrelation": {"phi": -1.2}}}},
            "scenarios.s.autocorrelation.phi",
            "> -1",
        ),
        (
            {"scenarios": {"s": {"errors": {"distribution": "contaminated", "fraction": 1.5}}}},
            "scenarios.s.errors.fraction",
            "<= 1",
        ),
        (
            {"scenarios": {"s": {"coefficients": [1.0, "two"]}}},
            "scenarios.s.coefficients.1",
            "number",
        ),
        (
            {"scenarios": {"s": {"design": {"correlation": -0.5}}}},
            "scenarios.s.design.correlation",
            "outside (-0.3333, 1]",
        ),
        (
            {"scenarios": {"s": {"design": {"correlation": 1.2}}}},
            "scenarios.s.design.correlation",
            "<= 1",
        ),
        ({"scenarios": {"s": {"n": 5}}}, "scenarios.s.n", "greater than the number"),
        ({"grid": {"sample_size": [10, 20]}}, "grid.sample_size", "unknown knob"),
        (
            {"grid": {"n": [10, 20]}, "scenarios": {"s": {"n": 50}}},
            "scenarios.s.n",
            "grid also sets",
        ),
        (
            {"scenarios": {"s": {"heteroskedasticity": {"strength": 1, "predictor": 9}}}},
            "scenarios.s.heteroskedasticity.predictor",
            "allowed 1..4",
        ),
        (
            {
                "scenarios": {
                    "s": {"errors": {"distribution": "cauchy"}, "endogeneity": {"correlation": 0.3}}
                }
            },
            "scenarios.s.endogeneity.correlation",
            "finite variance",
        ),
        ({"reference": "nope"}, "reference", "not an estimator"),
        ({"estimators": {"r": {"method": "ridge", "k": 2}}}, "estimators.r.k", "not a parameter"),
        (
            {"estimators": {"w": {"method": "wls", "predictor": 5}}},
            "estimators.w.predictor",
            "allowed 1..4",
        ),
        ({"estimators": {"w": {"method": "wls", "strength": -1}}}, "estimators.w.strength", ">= 0"),
        (
            {"estimators": {"w": {"method": "wls", "penalty": 1}}},
            "estimators.w.penalty",
            "strength",
        ),
    ],
)
def test_bad_input_names_field_and_what_is_allowed(change, field, allowed):
    message = error_of(with_(**change))
    assert f"'{field}'" in message
    assert allowed in message
    assert "\n" not in message  # one clear line, not a traceback or a schema dump


@pytest.mark.parametrize(
    ("change", "field", "suggestion"),
    [
        ({"replicate": 5}, "replicate", "replicates"),
        (
            {"scenarios": {"s": {"erors": {"distribution": "t", "df": 3}}}},
            "scenarios.s.erors",
            "errors",
        ),
        (
            {"scenarios": {"s": {"errors": {"distrbution": "t"}}}},
            "scenarios.s.errors.distrbution",
            "distribution",
        ),
        ({"estimators": {"h": {"method": "huber", "kk": 1.0}}}, "estimators.h.kk", "k"),
    ],
)
def test_unknown_key_suggests_the_nearest_valid_key(change, field, suggestion):
    message = error_of(with_(**change))
    assert f"'{field}'" in message
    assert f"Did you mean '{suggestion}'?" in message


def test_missing_required_key():
    cfg = copy.deepcopy(BASE)
    del cfg["estimators"]
    assert "estimators" in error_of(cfg)


def test_wls_parameters_default_and_validate():
    study = load_study(
        with_(estimators={"w": {"method": "wls"}, "v": {"method": "wls", "strength": 2}})
    )
    assert study.estimators["w"] == {"method": "wls", "predictor": 1, "strength": 1.0}
    assert study.estimators["v"] == {"method": "wls", "predictor": 1, "strength": 2}


def test_auto_split_that_cannot_hold_one_replicate_stops_with_one_message():
    """A budget smaller than a job of one replicate: the field, the scenario, what fits."""
    cfg = with_(
        replicates_per_job="auto",
        memory_mb_per_job=300,
        scenarios={"gm": {}, "wide": {"n": 10000, "coefficients": [1.0] * 50}},
    )
    message = error_of(cfg)
    assert message.startswith("config error at 'memory_mb_per_job': 300 MB cannot hold")
    assert "scenario 'wide' (n = 10000, p = 50, fixed design, 1 estimator)" in message
    need = int(message.split("allowed: at least ")[1].split(",")[0])
    assert need > 300
    study = load_study({**cfg, "memory_mb_per_job": need})  # and that much is enough
    assert study.job_size("wide") >= 1 and study.job_size("gm") == 10


def test_replicates_per_job_larger_than_replicates_is_fine():
    study = load_study(with_(replicates=10, replicates_per_job=1000))
    assert study.chunks("gm") == [0]


def test_knobs_json_is_canonical_and_scenario_specific():
    a = load_study(with_(scenarios={"a": {}, "b": {"n": 50}}))
    b = load_study(with_(scenarios={"b": {"n": 60}, "a": {}}))
    assert a.scenarios["a"].knobs_json() == b.scenarios["a"].knobs_json()
    assert a.scenarios["b"].knobs_json() != b.scenarios["b"].knobs_json()


def test_assumptions_are_derived_from_knobs():
    study = load_study(
        with_(
            scenarios={
                "gm": {},
                "het": {"heteroskedasticity": {"strength": 1.0}},
                "ar": {"autocorrelation": {"phi": 0.5}},
                "endo": {"endogeneity": {"correlation": 0.2}},
                "mis": {"misspecification": {"strength": 0.5}},
                "rank": {"design": {"correlation": 1.0}},
                "cauchy": {"errors": {"distribution": "cauchy"}},
                "lev": {"design": {"leverage": {"fraction": 0.1}}},
                "lev_ok": {"design": {"leverage": {"fraction": 0.1, "follows_model": True}}},
                "t3": {"errors": {"distribution": "t", "df": 3}},
            }
        )
    )
    broken = {
        sid: {a for a in GAUSS_MARKOV if not assumptions(sc.knobs)[a][0]}
        for sid, sc in study.scenarios.items()
    }
    assert broken == {
        "gm": set(),
        "het": {"homoskedasticity"},
        "ar": {"no_autocorrelation"},
        "endo": {"exogeneity"},
        "mis": {"linearity"},
        "rank": {"full_rank"},
        "cauchy": {"exogeneity", "homoskedasticity"},
        "lev": {"exogeneity"},
        "lev_ok": set(),
        "t3": set(),
    }
    assert not assumptions(study.scenarios["t3"].knobs)["normal_errors"][0]
    assert assumptions(study.scenarios["gm"].knobs)["normal_errors"][0]


# --------------------------------------------------------------------------- sweeps

SWEEPS = {
    "seed": 1,
    "replicates": 10,
    "scenarios": {
        "gm": {},
        "t": {"errors": {"distribution": "t", "df": 3}, "sweep": {"errors.df": [2.5, 3, 10]}},
        "c": {
            "errors": {"distribution": "contaminated"},
            "sweep": {"errors.fraction": [0, 0.05]},
        },
    },
    "grid": {"n": [25, 100]},
    "estimators": {
        "ols": {"method": "ols"},
        "ridge": {"method": "ridge", "penalty": 10, "sweep": {"penalty": [0, 1, 10.0]}},
    },
}


def test_sweep_crosses_its_scenario_only_with_anchor_and_ids():
    study = load_study(SWEEPS)
    assert list(study.scenarios) == [
        "gm-n25",
        "gm-n100",
        "t-df2.5-n25",
        "t-df2.5-n100",
        "t-df3-n25",
        "t-df3-n100",
        "t-df10-n25",
        "t-df10-n100",
        "c-fraction0-n25",
        "c-fraction0-n100",
        "c-fraction0.05-n25",
        "c-fraction0.05-n100",
    ]
    sc = study.scenarios["t-df10-n100"]
    assert sc.knobs["errors"]["df"] == 10 and sc.sweep_values == {"errors.df": 10}
    # the scenario's own value marks the anchor; without one every member stands for itself
    assert [s.anchor for s in study.scenarios.values() if s.base == "t"] == [0, 0, 1, 1, 0, 0]
    assert all(s.anchor for s in study.scenarios.values() if s.base in ("c", "gm"))
    assert study.scenarios["c-fraction0.05-n25"].knobs["errors"]["outlier_scale"] == 3.0


def test_estimator_sweep_expands_into_members_with_one_anchor():
    study = load_study(SWEEPS)
    assert list(study.estimators) == [
        "ols",
        "ridge-penalty0",
        "ridge-penalty1",
        "ridge-penalty10.0",
    ]
    assert study.estimators["ridge-penalty1"] == {"method": "ridge", "penalty": 1}
    assert study.anchor_estimators() == ["ols", "ridge-penalty10.0"]
    meta = study.estimator_sweeps["ridge-penalty0"]
    assert meta == {"family": "ridge", "parameter": "penalty", "value": 0, "anchor": False}


def test_a_scenario_may_set_n_itself_when_the_grid_does_not():
    cfg = copy.deepcopy(SWEEPS)
    del cfg["grid"]
    cfg["scenarios"]["t"]["n"] = 40
    assert {s.knobs["n"] for s in load_study(cfg).scenarios.values() if s.base == "t"} == {40}


def _sweep(path: str, value):
    cfg = copy.deepcopy(SWEEPS)
    *parents, last = path.split("/")
    node = cfg
    for part in parents:
        node = node[part]
    node[last] = value
    return cfg


@pytest.mark.parametrize(
    ("cfg", "field", "allowed"),
    [
        (
            _sweep("scenarios/t/sweep", {"errors.df": []}),
            "scenarios.t.sweep.errors.df",
            "non-empty",
        ),
        (_sweep("scenarios/t/sweep", {}), "scenarios.t.sweep", "maps a knob"),
        (_sweep("scenarios/t/sweep", [3, 5]), "scenarios.t.sweep", "type object"),
        (
            _sweep("scenarios/t/sweep", {"errors.dof": [3]}),
            "scenarios.t.sweep.errors.dof",
            "unknown knob",
        ),
        (
            _sweep("scenarios/t/sweep", {"replicates": [3]}),
            "scenarios.t.sweep.replicates",
            "unknown knob",
        ),
        (
            _sweep("scenarios/t/sweep", {"errors.df": [3, -1]}),
            "scenarios.t.sweep.errors.df[1]",
            "> 0",
        ),
        (
            _sweep("scenarios/c/sweep", {"errors.fraction": [0.5, 1.2]}),
            "scenarios.c.sweep.errors.fraction[1]",
            "<= 1",
        ),
        (
            _sweep("scenarios/c/sweep", {"autocorrelation.phi": [0.5, 1]}),
            "scenarios.c.sweep.autocorrelation.phi[1]",
            "< 1",
        ),
        (
            _sweep("scenarios/t/sweep", {"errors.df": [3, 3]}),
            "scenarios.t.sweep.errors.df",
            "appears twice",
        ),
        (_sweep("scenarios/t/sweep", {"n": [30, 40]}), "scenarios.t.sweep.n", "grid also sets"),
        (
            _sweep("scenarios/t/sweep", {"errors.df": [4, 5]}),
            "scenarios.t.sweep.errors.df",
            "set twice",
        ),
        (
            _sweep("scenarios/gm/sweep", {"design.leverage.fraction": [0.01]}),
            "scenarios.gm.design.leverage.fraction",
            "less than one row",
        ),
        (
            _sweep("scenarios/gm/sweep", {"design.correlation": [-0.5]}),
            "scenarios.gm.design.correlation",
            "outside",
        ),
        (_sweep("defaults", {"sweep": {"n": [30]}}), "defaults.sweep", "belongs to one scenario"),
        (_sweep("defaults", {"grid": {"n": [30]}}), "defaults.grid", "belongs to one scenario"),
        (
            _sweep("scenarios/t/grid", {"errors.df": [4]}),
            "scenarios.t.grid.errors.df",
            "grid has: n",
        ),
        (_sweep("scenarios/t/grid", {"n": [1]}), "scenarios.t.grid.n", ">= 2"),
        (_sweep("scenarios/t/grid", {"n": []}), "scenarios.t.grid.n", "non-empty"),
        (_sweep("estimators/ridge/sweep", {"k": [1]}), "estimators.ridge.sweep.k", "penalty"),
        (
            _sweep("estimators/ridge/sweep", {"penalty": [-1]}),
            "estimators.ridge.sweep.penalty[0]",
            ">= 0",
        ),
        (
            _sweep("estimators/ridge/sweep", {"penalty": [1, 2]}),
            "estimators.ridge.sweep.penalty",
            "set twice",
        ),
        (
            _sweep("estimators/ridge/sweep", {"penalty": [10, 10.0]}),
            "estimators.ridge.sweep.penalty",
            "appears twice",
        ),
        (_sweep("grid", {"errors.scale": [0]}), "grid.errors.scale[0]", "> 0"),
    ],
)
def test_bad_sweep_names_field_and_what_is_allowed(cfg, field, allowed):
    message = error_of(cfg)
    assert f"'{field}" in message
    assert allowed in message
    assert "\n" not in message


# --------------------------------------------------------------------------- non-finite numbers

NON_FINITE = """
top level:   {level: .nan}
knob:        {scenarios: {gm: {errors: {scale: .nan}}}}
default:     {defaults: {design: {correlation: -.inf}}}
list item:   {scenarios: {gm: {coefficients: [1.0, .inf]}}}
integer:     {scenarios: {gm: {n: .inf}}}
sweep:       {scenarios: {heavy_tails: {errors: {distribution: t, df: 3},
                                        sweep: {errors.df: [3, .nan]}}}}
grid:        {grid: {errors.scale: [1.0, .inf]}}
estimator:   {estimators: {h: {method: huber, k: .nan}}}
estimator sweep: {estimators: {r: {method: ridge, sweep: {penalty: [1, .inf]}}}}
negative df: {scenarios: {gm: {errors: {distribution: t, df: -.inf}}}}
df, but not of t: {scenarios: {gm: {errors: {distribution: lognormal, sigma: .inf}}}}
"""
NON_FINITE_FIELDS = {
    "top level": ("level", "NaN"),
    "knob": ("scenarios.gm.errors.scale", "NaN"),
    "default": ("defaults.design.correlation", "-Infinity"),
    "list item": ("scenarios.gm.coefficients[1]", "Infinity"),
    "integer": ("scenarios.gm.n", "Infinity"),
    "sweep": ("scenarios.heavy_tails.sweep.errors.df[1]", "NaN"),
    "grid": ("grid.errors.scale[1]", "Infinity"),
    "estimator": ("estimators.h.k", "NaN"),
    "estimator sweep": ("estimators.r.sweep.penalty[1]", "Infinity"),
    "negative df": ("scenarios.gm.errors.df", "-Infinity"),
    "df, but not of t": ("scenarios.gm.errors.sigma", "Infinity"),
}


@pytest.mark.parametrize("where", list(NON_FINITE_FIELDS))
def test_non_finite_numbers_stop_at_load_naming_the_field(where: str):
    """YAML's .nan and .inf pass every bound of the JSON schema (NaN compares false); they stop
    before any job with one message, wherever they are."""
    change = yaml.safe_load(NON_FINITE)[where]
    cfg = copy.deepcopy(BASE)
    for key, value in change.items():
        cfg[key] = {**cfg[key], **value} if key in ("scenarios", "estimators") else value
    field, got = NON_FINITE_FIELDS[where]
    assert error_of(cfg) == f"config error at '{field}': got {got}; must be a finite number."


def test_infinite_df_is_allowed_and_named_inf():
    """t with df = ∞ is the normal distribution: allowed as a knob, a sweep and a grid value."""
    study = load_study(
        yaml.safe_load(
            """
            seed: 1
            replicates: 10
            defaults: {errors: {distribution: t, df: .inf}}
            scenarios: {a: {}, b: {sweep: {errors.df: [5, .inf]}}}
            grid: {errors.scale: [1, 2]}
            estimators: {ols: {method: ols}}
            """
        )
    )
    assert list(study.scenarios) == [
        "a-scale1", "a-scale2", "b-df5-scale1", "b-df5-scale2", "b-dfinf-scale1", "b-dfinf-scale2",
    ]  # fmt: skip
    assert study.scenarios["a-scale1"].knobs["errors"]["df"] == float("inf")
    grid = yaml.safe_load(
        "{grid: {errors.df: [4, .inf]}, scenarios: {gm: {errors: {distribution: t}}}}"
    )
    assert "gm-dfinf" in load_study({**BASE, **grid}).scenarios
