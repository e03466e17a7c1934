"""Priors on the slopes as scenario knobs: the laws draw what they say, the normal one is the
first studies' ``tau`` draw for draw, and bad values stop at load with one message naming the
field."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from lossstudy.config import ConfigError, load_study
from lossstudy.dgp import draw_slopes, prior_is_normal, prior_sd, simulate

BASE = {
    "seed": 3,
    "replicates": 4000,
    "defaults": {"n": 10, "coefficients": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]},
    "scenarios": {"s": {}},
    "estimators": {"ols": {"method": "ols"}},
}


def _beta(prior: dict, name: str = "s") -> np.ndarray:
    cfg = copy.deepcopy(BASE)
    cfg["scenarios"] = {name: {"prior": prior}}
    (sc,) = load_study(cfg).scenarios.values()
    return simulate(sc.knobs, 3, sc.id, 0, sc.replicates).beta


def test_normal_scale_is_tau_draw_for_draw():
    a, b = _beta({"tau": 0.4}), _beta({"scale": 0.4, "distribution": "normal"})
    assert np.array_equal(a, b) and np.all(a[:, 0] == 1.0)


@pytest.mark.parametrize(
    ("prior", "zeros", "kurtosis"),
    [
        ({"distribution": "normal", "scale": 0.5}, 0.0, 3.0),
        ({"distribution": "laplace", "scale": 0.5}, 0.0, 6.0),
        ({"distribution": "spike_slab", "scale": 0.5, "sparsity": 0.7}, 0.7, 3.0 / 0.3),
    ],
)
def test_each_law_has_its_variance_zeros_and_tails(prior, zeros, kurtosis):
    slopes = _beta(prior)[:, 1:].ravel()  # 20 000 draws
    sd = prior_sd(prior)
    assert sd == pytest.approx(0.5 * math.sqrt(1 - prior.get("sparsity", 0)))
    se_var = sd**2 * math.sqrt((kurtosis - 1) / slopes.size)  # SD of the sample variance
    assert abs(slopes.var() - sd**2) < 4 * se_var
    share = (slopes == 0).mean()
    assert abs(share - zeros) < 4 * math.sqrt(zeros * (1 - zeros) / slopes.size) + 1e-12
    k = np.mean(slopes**4) / np.mean(slopes**2) ** 2
    assert abs(k - kurtosis) < 0.15 * kurtosis
    assert prior_is_normal(prior) == (prior["distribution"] == "normal")


def test_sparsity_sweeps_and_is_reproducible_per_replicate():
    cfg = copy.deepcopy(BASE)
    cfg["replicates"] = 20
    cfg["scenarios"] = {
        "sp": {
            "prior": {"distribution": "spike_slab", "scale": 1.0},
            "sweep": {"prior.sparsity": [0, 0.9]},
        }
    }
    study = load_study(cfg)
    assert list(study.scenarios) == ["sp-sparsity0", "sp-sparsity0.9"]
    sc = study.scenarios["sp-sparsity0.9"]
    whole = simulate(sc.knobs, 3, sc.id, 0, 20).beta
    parts = [simulate(sc.knobs, 3, sc.id, a, b).beta for a, b in ((0, 7), (7, 20))]
    assert np.array_equal(whole, np.vstack(parts))
    rng = np.random.default_rng(0)
    assert np.all(
        draw_slopes(rng, {"distribution": "spike_slab", "scale": 1.0, "sparsity": 1}, 5) == 0
    )


@pytest.mark.parametrize(
    ("prior", "field", "says"),
    [
        ({"scale": -1.0}, "prior.scale", ">= 0"),
        ({"distribution": "spike_slab", "scale": 1.0, "sparsity": 1.5}, "prior.sparsity", "1"),
        ({"sparsity": -0.1}, "prior.sparsity", "0"),
        ({"distribution": "cauchy", "scale": 1.0}, "prior.distribution", "laplace"),
        ({"tau": 0.3, "scale": 0.3}, "prior.scale", "not both"),
    ],
)
def test_bad_priors_stop_at_load_naming_the_field(prior, field, says):
    cfg = copy.deepcopy(BASE)
    cfg["scenarios"] = {"s": {"prior": prior}}
    with pytest.raises(ConfigError) as info:
        load_study(cfg)
    message = str(info.value)
    assert f"'scenarios.s.{field}'" in message and says in message and "\n" not in message
