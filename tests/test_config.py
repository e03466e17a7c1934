"""Config validation and scenario expansion: bad input gets one message naming the field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from lossstudy.assumptions import GAUSS_MARKOV, assumptions
from lossstudy.config import ConfigError, load_study, load_yaml

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


def test_default_config_is_valid_and_meets_the_required_design():
    study = load_study(load_yaml(ROOT / "config" / "config.yaml"))
    bases = {sc.base for sc in study.scenarios.values()}
    assert len(bases) >= 12
    assert {sc.knobs["n"] for sc in study.scenarios.values()} >= {25, 100, 400}
    assert all(sc.replicates >= 2000 for sc in study.scenarios.values())
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
        ({"scenarios": {}}, "scenarios", "must not be empty"),
        ({"scenarios": {"bad/name": {}}}, "scenarios", "letters"),
        ({"scenarios": {"..": {}}}, "scenarios", "letters"),
        ({"scenarios": {"two words": {}}}, "scenarios", "letters"),
        ({"estimators": {"a/b": {"method": "ols"}}}, "estimators", "letters"),
        ({"estimators": {"x": {"method": "l3"}}}, "estimators.x.method", "ols, lad, huber"),
        (
            {"scenarios": {"s": {"errors": {"distribution": "gumbel"}}}},
            "scenarios.s.errors.distribution",
            "normal, t, laplace",
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
