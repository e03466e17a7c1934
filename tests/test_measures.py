"""The measures table (lossstudy.measures) is what the study computes, judges and shows."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
from test_performance import tidy

from lossstudy import moments, performance, tables
from lossstudy.answer.claims import FAMILIES
from lossstudy.measures import BY_NAME, COMPUTED, MEASURES, MODEL, names
from lossstudy.report import results


def test_each_measure_names_the_function_that_computes_it() -> None:
    for m in MEASURES:
        module, _, func = m.computed_by.rpartition(".")
        owner = importlib.import_module(module) if module else performance
        assert callable(getattr(owner, func)), m.name


def test_the_performance_table_has_every_measure_in_table_order() -> None:
    frame = pd.concat([tidy("ref", [0.1, -0.2, 0.3]), tidy("b", [0.2, 0.0, -0.1])])
    table = performance.performance_table(frame, "ref", 0.95)
    # the per-term measures, then the coefficient risk (every estimator carries estimates)
    assert tuple(table.loc[table["estimator"] == "b", "measure"]) == (*COMPUTED, "risk")
    # the failure rate (computed by the pipeline) and the per-estimator ones on the term model
    assert tuple(m for m in names() if m not in COMPUTED) == ("failure_rate", *MODEL)
    assert MODEL == (
        "risk",
        "test_mse",
        "test_mae",
        "zero_share",
        "tpr",
        "fpr",
        "test_error",
        "test_log_loss",
        "test_brier",
        "ise",
        "sharpness",
        "divergence",
        "opt_error",
        "objective_gap",
    )
    assert names(scope="model") == MODEL and not set(MODEL) & set(COMPUTED)


def test_what_a_fit_must_report_is_what_the_performance_step_asks_for() -> None:
    """A fit that reports no SE and no interval leaves exactly the ``needs`` measures undefined."""
    frame = pd.concat([tidy("ref", [0.1, -0.2, 0.3, 0.0]), tidy("b", [0.2, 0.0, -0.1, 0.4])])
    table = performance.performance_table(frame, "ref", 0.95)
    sub = table[table["estimator"] == "b"].set_index("measure")
    said = {
        "se": "no model SE: estimator reports none",
        "ci": "no intervals: estimator reports none",
    }
    for m in COMPUTED:
        need = BY_NAME[m].needs
        assert (sub.loc[m, "note"] == said[need]) if need else not sub.loc[m, "note"], m
        assert bool(sub.loc[m, "defined"]) is (need == ""), m


def test_moment_rules_and_relative_measures_come_from_the_table() -> None:
    assert list(moments.MEASURE_ORDERS) == list(COMPUTED)
    assert {m.name for m in MEASURES if m.relative} == moments.RELATIVE
    # the reference against itself: relative measures exact by definition
    frame = pd.concat([tidy("ref", [0.1, -0.2, 0.3]), tidy("b", [0.2, 0.0, -0.1])])
    table = performance.performance_table(frame, "ref", 0.95)
    own = table[(table["estimator"] == "ref") & table["measure"].isin(moments.RELATIVE)]
    assert np.allclose(own["mcse"], 0.0)


def test_verdict_families_and_shown_measures() -> None:
    assert {k: v for k, v in FAMILIES.items() if k in BY_NAME} == {
        "bias": "bias",
        "rel_precision": "relative",
        "rel_efficiency": "relative",
        "rel_mse": "relative",
        "coverage": "coverage",
    }
    # results/tables show a subset of the report's per-scenario table, which adds the relative
    # MSE and the failure rate
    assert names(in_tables=True) == tables.TABLE_MEASURES
    assert names(in_report_table=True) == results._TABLE_MEASURES
    assert set(tables.TABLE_MEASURES) < set(results._TABLE_MEASURES)
    extra = [m for m in results._TABLE_MEASURES if m not in tables.TABLE_MEASURES]
    assert extra == ["rel_mse", "failure_rate"]
    assert tables.LABELS["empse"] == "Emp. SE"
