"""Trained estimators in the registry and the config: their specs, members, scenario patterns,
and every bad input stopped at load with one message naming the field."""

from __future__ import annotations

import copy
import sys

import pytest

from lossstudy import methods
from lossstudy.config import ConfigError, load_study
from lossstudy.methods import estimators_table

GD = {"loss": "huber", "delta": 1.345, "solver": "gd", "lr_relative": 0.5}
BASE = {
    "seed": 1,
    "replicates": 10,
    "defaults": {"n": 40},
    "scenarios": {
        "gm": {},
        "train_normal": {},
        "train_t3": {"errors": {"distribution": "t", "df": 3}, "n": 20},
    },
    "estimators": {"ols": {"method": "ols"}, "gd": {**GD, "steps": [10, 100, 1000]}},
}


def config(**estimator) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["estimators"]["gd"] = estimator
    return cfg


def error_of(cfg: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_study(cfg)
    return str(info.value)


def test_every_loss_has_the_three_gradient_solvers_and_no_penalty():
    for loss in ("squared", "absolute", "huber", "pseudo_huber", "log_cosh"):
        for solver in ("gd", "sgd", "adam"):
            fit = methods.fit_of(loss, "none", solver)
            assert fit.trained and not fit.intervals and fit.se == ("none",)
            assert not fit.linear_in_y and fit.robust == (loss != "squared")
    keys = methods.fits()
    assert ("squared", "l2", "gd") not in keys and ("weighted_squared", "none", "gd") not in keys


def test_the_trained_huber_takes_a_fixed_delta_the_exact_one_its_k():
    trained = methods.canonical({**GD, "steps": 10})
    assert trained == {
        "method": "huber-gd",
        "loss": "huber",
        "penalty": "none",
        "solver": "gd",
        "se": "none",
        "delta": 1.345,
        "lr_relative": 0.5,
        "steps": 10,
        "schedule": "constant",
        "average": False,
        "init": "zeros",
    }
    assert methods.canonical({"loss": "huber", "k": 2.0}) == {"method": "huber", "k": 2.0}
    with pytest.raises(methods.SpecError, match="'k' is not a parameter") as info:
        methods.resolve({**GD, "steps": 10, "k": 1.0})
    assert info.value.field == "k"
    with pytest.raises(methods.SpecError) as info:
        methods.resolve({"loss": "huber", "delta": 1.0})
    assert info.value.field == "delta"
    adam = methods.canonical({"loss": "log_cosh", "solver": "adam", "lr": 0.01, "epochs": 3,
                              "batch_size": 8})  # fmt: skip
    assert adam["method"] == "log_cosh-adam" and adam["scale"] == 1.0
    assert adam["betas"] == [0.9, 0.999] and "steps" not in adam and "lr_relative" not in adam


def test_a_steps_list_is_one_member_per_checkpoint():
    study = load_study(BASE)
    members = ["gd-steps10", "gd-steps100", "gd-steps1000"]
    assert list(study.estimators) == ["ols", *members]
    for m, steps in zip(members, (10, 100, 1000), strict=True):
        assert study.estimators[m] == methods.canonical({**GD, "steps": steps})
        assert study.estimator_sweeps[m] == {
            "family": "gd",
            "parameter": "steps",
            "value": steps,
            "anchor": True,
        }
    # the same as the sweep it is sugar for
    swept = load_study(config(**GD, sweep={"steps": [10, 100, 1000]}))
    assert swept.estimators == study.estimators
    assert swept.estimator_sweeps == study.estimator_sweeps


def test_learning_rate_and_batch_size_sweep_into_members():
    study = load_study(config(**{**GD, "steps": 50}, sweep={"lr_relative": [0.5, 1.1]}))
    assert study.estimators["gd-lr_relative1.1"]["lr_relative"] == 1.1
    assert study.estimator_sweeps["gd-lr_relative0.5"]["anchor"]
    sgd = {"loss": "squared", "solver": "sgd", "lr": 0.01, "steps": 20}
    study = load_study(config(**sgd, sweep={"batch_size": [4, 8]}))
    assert [study.estimators[f"gd-batch_size{b}"]["batch_size"] for b in (4, 8)] == [4, 8]
    study = load_study(config(**{**sgd, "batch_size": 4, "steps": 20}, sweep={"lr": [0.01, 0.1]}))
    assert study.estimators["gd-lr0.1"]["method"] == "squared-sgd"


def test_scenario_patterns_restrict_an_estimator_to_its_scenarios():
    study = load_study(config(**GD, steps=[10, 100], scenarios=["train_*"]))
    assert set(study.estimators_in("gm")) == {"ols"}
    assert list(study.estimators_in("train_t3")) == ["ols", "gd-steps10", "gd-steps100"]
    assert study.estimator_scenarios == {"gd-steps10": ("train_*",), "gd-steps100": ("train_*",)}
    table = estimators_table(study).set_index("estimator")
    assert table.loc["gd-steps10", "scenarios"] == "train_*" and table.loc["ols", "scenarios"] == ""
    # patterns match base names: a grid's expanded ids follow their base
    cfg = config(**GD, steps=10, scenarios=["gm"])
    cfg["grid"] = {"n": [30, 60]}
    del cfg["scenarios"]["train_t3"]["n"]
    study = load_study(cfg)
    assert [s for s in study.scenarios if "gd" in study.estimators_in(s)] == ["gm-n30", "gm-n60"]


def test_a_study_without_patterns_keeps_its_estimators_table():
    study = load_study({**BASE, "estimators": {"ols": {"method": "ols"}, "gd": {**GD, "steps": 5}}})
    assert study.estimator_scenarios == {}
    assert "scenarios" not in estimators_table(study).columns
    assert all(study.estimators_in(s) == study.estimators for s in study.scenarios)


SGD = {"loss": "squared", "solver": "sgd", "lr": 0.01, "batch_size": 10, "steps": 20}

#: bad input -> (the field named, words of the message)
BAD = {
    "lr 0": ({**GD, "lr_relative": None, "lr": 0, "steps": 10}, "gd.lr'", "> 0"),
    "lr negative": ({**GD, "lr_relative": -1, "steps": 10}, "gd.lr_relative'", "> 0"),
    "both rates": ({**GD, "lr": 0.1, "steps": 10}, "gd.lr'", "exactly one of 'lr'"),
    "no rate": ({"loss": "squared", "solver": "gd", "steps": 10}, "gd.lr_relative'", "neither is"),
    "steps 0": ({**GD, "steps": 0}, "gd.steps'", ">= 1"),
    "steps fractional": ({**GD, "steps": 2.5}, "gd.steps'", "an integer >= 1"),
    "steps missing": (GD, "gd.steps'", "needs 'steps'"),
    "checkpoints decreasing": ({**GD, "steps": [100, 10]}, "gd.steps'", "strictly increasing"),
    "checkpoints repeated": ({**GD, "steps": [10, 10]}, "gd.steps'", "strictly increasing"),
    "checkpoint 0": ({**GD, "steps": [0, 10]}, "gd.steps'", ">= 1"),
    "steps list and sweep": (
        {**GD, "steps": [10, 100], "sweep": {"lr_relative": [0.5, 1]}},
        "gd.steps'",
        "has a sweep already",
    ),
    "batch_size > n": ({**SGD, "batch_size": 30}, "gd.batch_size'", "exceeds n = 20"),
    "swept batch_size > n": (
        {**{k: v for k, v in SGD.items() if k != "batch_size"}, "sweep": {"batch_size": [5, 25]}},
        "gd.sweep.batch_size'",
        "exceeds n = 20",
    ),
    "sgd without batch_size": (
        {k: v for k, v in SGD.items() if k != "batch_size"},
        "gd.batch_size'",
        "needs 'batch_size'",
    ),
    "gd with batch_size": ({**GD, "steps": 10, "batch_size": 5}, "gd.batch_size'", "not a param"),
    "epochs without batch_size": (
        {"loss": "squared", "solver": "adam", "lr": 0.1, "epochs": 3},
        "gd.epochs'",
        "batch_size",
    ),
    "steps and epochs": ({**SGD, "epochs": 2}, "gd.steps'", "exactly one of 'steps'"),
    "solver unfit for the loss": (
        {"loss": "weighted_squared", "solver": "gd", "lr": 0.1, "steps": 10},
        "gd.solver'",
        "has no fit with penalty 'none' and solver 'gd'",
    ),
    "penalised gd": (
        {**GD, "loss": "squared", "delta": None, "penalty": "l2", "steps": 10},
        "gd.solver'",
        "has no fit with penalty 'l2' and solver 'gd'",
    ),
    "se other than none": ({**GD, "steps": 10, "se": "sandwich"}, "gd.se'", "allowed values: none"),
    "unknown scenario pattern": (
        {**GD, "steps": 10, "scenarios": ["train_*", "tran_*"]},
        "gd.scenarios[1]'",
        "'tran_*' matches no scenario",
    ),
    "unknown schedule": ({**GD, "steps": 10, "schedule": "cosine"}, "gd.schedule'", "inv_sqrt"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_training_input_stops_at_load_naming_the_field(case: str):
    spec, field, words = BAD[case]
    message = error_of(config(**{k: v for k, v in spec.items() if v is not None}))
    assert f"config error at 'estimators.{field}" in message, message
    assert words in message, message
    assert message.count("config error") == 1


def test_batch_size_is_checked_only_where_the_estimator_is_fitted():
    """n = 20 in train_t3 only: a batch of 30 is fine in the other scenarios."""
    study = load_study(config(**{**SGD, "batch_size": 30}, scenarios=["gm", "train_normal"]))
    assert "gd" in study.estimators_in("gm") and "gd" not in study.estimators_in("train_t3")


def test_the_reference_must_be_in_every_scenario():
    cfg = copy.deepcopy(BASE)
    cfg["estimators"]["ols"]["scenarios"] = ["gm"]
    assert "config error at 'reference'" in error_of(cfg)


def test_loading_a_training_config_imports_no_jax():
    import subprocess

    code = (
        "import sys; from lossstudy.config import load_study; "
        f"load_study({BASE!r}); print('jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
