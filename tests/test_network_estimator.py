"""``model: mlp`` as an estimator: validated at load naming the field, fitted in the fit job
(one row per replicate on the term ``model`` with its ise and test errors), bits independent
of the job split, and summarised beside the linear fits' ise."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from test_config import error_of, with_

from lossstudy import methods
from lossstudy.config import load_study
from lossstudy.dgp import simulate
from lossstudy.performance import performance_table
from lossstudy.pipeline import (
    CURVE_COLUMNS,
    ESTIMATE_COLUMNS,
    FUNCTION_COLUMNS,
    TRAINED_COLUMNS,
    TestSpec,
    fit_chunk,
)
from lossstudy.training.fit import fit_trained

NET = {
    "loss": "huber",
    "delta": 1.345,
    "solver": "adam",
    "model": "mlp",
    "hidden": [8],
    "activation": "tanh",
    "lr": 0.05,
    "steps": [20, 60],
}
SINE = {"design": {"distribution": "uniform"}, "response": {"function": "sine"}}


def _config(**net) -> dict:
    return with_(
        defaults={"n": 40, "coefficients": [0.0, 1.0]},
        scenarios={"sine": SINE},
        estimators={"ols": {"method": "ols"}, "net": {**NET, **net}},
    )


def test_a_network_member_is_stored_under_its_own_solver():
    study = load_study(_config())
    spec = study.estimators["net-steps60"]
    assert spec["solver"] == "mlp_adam" and spec["method"] == "huber-mlp_adam"
    assert spec["hidden"] == [8] and spec["activation"] == "tanh" and "lr_relative" not in spec
    assert methods.fit_for(spec).model == "mlp" and methods.fit_for(spec).trained
    # the stored spec resolves to itself: what the fit job reads back
    assert methods.canonical(spec) == spec


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        ({"hidden": [0]}, "estimators.net.hidden.0", ">= 1"),
        ({"hidden": []}, "estimators.net.hidden", "empty"),
        ({"hidden": [8, 8, 8]}, "estimators.net.hidden", "long"),
        ({"activation": "gelu"}, "estimators.net.activation", "tanh, relu"),
        ({"lr_relative": 0.5}, "estimators.net.lr_relative", "model 'mlp'"),
        ({"model": "cnn"}, "estimators.net.model", "linear, mlp"),
        ({"solver": "exact"}, "estimators.net.solver", "adam, gd, sgd"),
        ({"lr": None}, "estimators.net.lr", "needs 'lr'"),
        ({"average": True}, "estimators.net.average", "not a parameter"),
    ],
)
def test_bad_network_input_names_the_field(change, field, allowed):
    cfg = _config(**change)
    if change.get("lr", 1) is None:
        del cfg["estimators"]["net"]["lr"]
    message = error_of(cfg)
    assert f"'{field}'" in message, message
    assert allowed in message, message
    assert "\n" not in message


def test_direct_resolution_checks_what_the_schema_checks():
    for change, field in (({"hidden": [0]}, "hidden"), ({"activation": "gelu"}, "activation")):
        with pytest.raises(methods.SpecError) as info:
            methods.resolve({**NET, "steps": 60, **change})
        assert info.value.field == field


STUDY = load_study(_config())
SCENARIO = next(iter(STUDY.scenarios.values()))
MEMBERS = {k: v for k, v in STUDY.estimators.items() if k.startswith("net")}


def _chunk(lo: int, hi: int):
    return simulate(dict(SCENARIO.knobs), STUDY.seed, SCENARIO.id, lo, hi)


def test_a_networks_bits_do_not_depend_on_the_job_split():
    test = (SCENARIO.knobs, 200)
    whole = fit_trained(_chunk(0, 7), MEMBERS, STUDY.seed, SCENARIO.id, test=test)
    parts = [
        fit_trained(_chunk(a, b), MEMBERS, STUDY.seed, SCENARIO.id, test=test)
        for a, b in ((0, 3), (3, 7))
    ]
    for name in MEMBERS:
        for field in ("ise", "test_mse", "test_mae", "diverged", "curve"):
            joined = np.concatenate([getattr(p[name].scores, field) for p in parts])
            got = getattr(whole[name].scores, field)
            assert np.array_equal(joined, got, equal_nan=True), (name, field)
        assert list(whole[name].status) == ["ok"] * 7
    # checkpoints of one trajectory: the earlier one differs from the later
    assert not np.array_equal(whole["net-steps20"].scores.ise, whole["net-steps60"].scores.ise)


def test_the_fit_job_writes_one_model_row_per_replicate_and_ise_for_all(tmp_path):
    data = _chunk(0, 6)
    data.save(tmp_path / "d.npz")
    test = TestSpec(SCENARIO.knobs, STUDY.seed, 300)
    table = fit_chunk(
        tmp_path / "d.npz", SCENARIO.id, STUDY.estimators, 0.9, "vectorized", None,
        seed=STUDY.seed, test=test,
    ).to_pandas()  # fmt: skip
    assert list(table.columns) == [
        *ESTIMATE_COLUMNS, *TRAINED_COLUMNS, *FUNCTION_COLUMNS, *CURVE_COLUMNS
    ]  # fmt: skip
    nets = table[table.estimator.isin(MEMBERS)]
    assert set(nets.term) == {"model"} and len(nets) == 6 * len(MEMBERS)
    assert nets[["estimate", "true_value", "opt_diff"]].isna().all().all()
    assert np.isfinite(nets[["ise", "test_mse", "test_mae"]].to_numpy()).all()
    ols = table[table.estimator == "ols"]
    assert list(ols.term.unique()) == ["intercept", "x1"]
    assert (ols.groupby("replicate").ise.nunique() == 1).all()
    assert ols.ise.gt(0).all()
    # the network's test errors are its own (not a linear fit's): they differ from OLS's
    assert not np.allclose(nets[nets.estimator == "net-steps60"].test_mse, ols.test_mse[::2])

    perf = performance_table(table, "ols", 0.9)
    ise = perf[perf.measure == "ise"].set_index("estimator")
    assert set(ise.index) == {"ols", *MEMBERS} and (ise.term == "model").all()
    for name in ise.index:  # mean and SD/√R of the stored per-replicate values
        x = table[table.estimator == name].groupby("replicate").ise.first()
        assert ise.loc[name, "value"] == pytest.approx(x.mean(), rel=1e-12)
        assert ise.loc[name, "mcse"] == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=1e-12)
    net_rows = perf[perf.estimator.isin(MEMBERS)]
    assert set(net_rows.term) == {"model"}
    assert set(net_rows.measure) == {"test_mse", "test_mae", "ise", "divergence"}
    # the linear fits' rows are those of a table without the networks
    alone = performance_table(table[~table.estimator.isin(MEMBERS)], "ols", 0.9)
    mine = perf[~perf.estimator.isin(MEMBERS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, alone.reset_index(drop=True))


def test_a_linear_scenario_without_networks_writes_no_ise(tmp_path):
    knobs = copy.deepcopy(dict(load_study(with_()).scenarios["gm"].knobs))
    data = simulate(knobs, 1, "gm", 0, 4)
    data.save(tmp_path / "d.npz")
    table = fit_chunk(
        tmp_path / "d.npz", "gm", {"ols": {"method": "ols"}}, 0.9, "vectorized", None,
        seed=1, test=TestSpec(knobs, 1, 100),
    )  # fmt: skip
    assert list(table.column_names) == list(ESTIMATE_COLUMNS)
