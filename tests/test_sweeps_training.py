"""Training crossings (``results/training.csv``): the step size where a trained loss starts to
diverge and the checkpoint where it reaches its exact fit's MSE, on synthetic series and frames
with known answers: an interpolated value with its interval, a 0→1 jump whose bracket is the
result, the none case, and the exact counterpart (same objective, else the same loss)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lossstudy.sweeps.training import (
    TRAINING_COLUMNS,
    divergence_onset,
    reaches_exact,
    training_crossings,
)

C = np.array([0.1, 0.5, 0.9, 1.1, 2.0, 10.0])


def test_onset_interpolates_in_log_c_with_an_interval_inside_the_pair():
    share = np.array([0.0, 0.0, 0.2, 0.8, 1.0, 1.0])
    mcse = np.array([0.0, 0.0, 0.04, 0.04, 0.0, 0.0])
    got = divergence_onset(C, share, mcse)
    assert (got["bracket_low"], got["bracket_high"]) == (0.9, 1.1)
    # halfway in (0.2, 0.8): the geometric mean of 0.9 and 1.1
    assert got["crossing"] == pytest.approx(math.sqrt(0.9 * 1.1))
    assert 0.9 < got["ci_low"] < got["crossing"] < got["ci_high"] < 1.1
    # the band ± 1.96 MCSE moves the level by 0.0784 of the 0.6 rise: that share of the log span
    t = 1.959963984540054 * 0.04 / 0.6
    assert math.log(got["ci_high"] / got["crossing"]) == pytest.approx(t * math.log(1.1 / 0.9))
    assert got["note"] == ""


def test_onset_jump_from_zero_to_one_gives_the_bracket_only():
    got = divergence_onset(C, (C > 1).astype(float), np.zeros(len(C)))
    assert (got["bracket_low"], got["bracket_high"]) == (0.9, 1.1)
    assert (got["ci_low"], got["ci_high"]) == (0.9, 1.1)
    assert math.isnan(got["crossing"])
    assert "the bracket is the result" in got["note"]


def test_onset_none_up_to_c_max_and_above_at_the_start():
    none = divergence_onset(C, np.array([0, 0, 0, 0, 0.1, 0.3]), np.full(len(C), 0.02))
    assert none["bracket_low"] == 10.0 and math.isnan(none["bracket_high"])
    assert math.isnan(none["crossing"]) and none["note"].startswith("none up to c_max = 10")
    early = divergence_onset(C, np.ones(len(C)), np.zeros(len(C)))
    assert math.isnan(early["bracket_low"]) and early["bracket_high"] == 0.1
    assert "smallest c" in early["note"]


def test_onset_unsorted_input_and_nan_points():
    order = np.array([3, 0, 5, 1, 4, 2])
    share = np.array([0.0, 0.0, 0.2, 0.8, 1.0, 1.0])
    mcse = np.array([0.0, 0.0, 0.04, 0.04, 0.0, 0.0])
    sorted_ = divergence_onset(C, share, mcse)
    assert divergence_onset(C[order], share[order], mcse[order]) == sorted_
    gap = share.copy()
    gap[2] = np.nan  # 0.9 left out: the pair becomes (0.5, 1.1)
    assert divergence_onset(C, gap, mcse)["bracket_low"] == 0.5


def test_reaches_exact_first_checkpoint_within_two_mcse():
    steps = np.array([10, 100, 1000, 10000])
    mse = np.array([4.0, 1.5, 1.05, 1.001])
    mcse = np.full(4, 0.02)
    got = reaches_exact(steps, mse, mcse, 1.0, 0.02)
    # 2·√2·0.02 = 0.0566: 1.05 is within, 1.5 is not
    assert (got["crossing"], got["bracket_low"], got["bracket_high"]) == (1000, 100, 1000)
    first = reaches_exact(steps, np.full(4, 1.01), mcse, 1.0, 0.02)
    assert first["crossing"] == 10 and math.isnan(first["bracket_low"])
    never = reaches_exact(steps, mse + 0.5, mcse, 1.0, 0.02)
    assert math.isnan(never["crossing"]) and "not within 2 MCSE" in never["note"]
    assert "10000 steps" in never["note"]
    undefined = reaches_exact(steps, mse, mcse, math.nan, math.nan)
    assert math.isnan(undefined["crossing"]) and "not defined" in undefined["note"]


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two GD families swept over c (squared: 0→1 jump; huber: never), one checkpointed
    squared family reaching OLS at 1000 steps and one Huber family with a fixed δ whose only
    exact Huber is another objective (no δ)."""
    est = [
        {"estimator": "ols", "loss": "squared", "solver": "exact", "penalty": "none"},
        {"estimator": "huber", "loss": "huber", "solver": "exact", "penalty": "none"},
    ]
    perf = []

    def add(sc: str, e: str, term: str, m: str, v: float, s: float) -> None:
        perf.append(
            {"scenario": sc, "estimator": e, "term": term, "measure": m, "value": v,
             "mcse": s, "defined": bool(np.isfinite(v))}
        )  # fmt: skip

    for loss, fam in (("squared", "gd_squared"), ("huber", "gd_huber")):
        for c in C:
            e = f"{fam}-lr_relative{c:g}"
            est.append(
                {"estimator": e, "family": fam, "loss": loss, "solver": "gd", "penalty": "none",
                 "lr_relative": c, "steps": 1000, "delta": 1.345 if loss == "huber" else np.nan}
            )  # fmt: skip
            add("cell", e, "model", "divergence", float(loss == "squared" and c > 1), 0.0)
    for loss, fam in (("squared", "curve_squared"), ("huber", "curve_huber")):
        for k, mse in zip((10, 100, 1000), (3.0, 1.4, 1.01), strict=True):
            e = f"{fam}-steps{k}"
            est.append(
                {"estimator": e, "family": fam, "loss": loss, "solver": "gd", "penalty": "none",
                 "lr_relative": 0.5, "steps": k, "delta": 1.345 if loss == "huber" else np.nan}
            )  # fmt: skip
            add("cell", e, "model", "divergence", 0.0, 0.0)
            add("cell", e, "x1", "mse", mse, 0.02)
    add("cell", "ols", "x1", "mse", 1.0, 0.02)
    add("cell", "huber", "x1", "mse", 1.0, 0.02)
    return pd.DataFrame(perf), pd.DataFrame(est)


def test_training_crossings_rows_from_the_frames():
    perf, est = _frames()
    rows = training_crossings(perf, est, "x1")
    assert tuple(rows.columns) == TRAINING_COLUMNS
    onset = rows[rows["kind"] == "divergence_onset"].set_index("family")
    assert list(onset.index) == ["gd_squared", "gd_huber"]
    sq, hu = onset.loc["gd_squared"], onset.loc["gd_huber"]
    assert (sq["bracket_low"], sq["bracket_high"], sq["theory"]) == (0.9, 1.1, 1.0)
    assert hu["bracket_low"] == 10.0 and math.isnan(hu["bracket_high"])
    assert math.isnan(hu["theory"]) and hu["theory_note"].startswith("none: the gradient")
    assert sq["values"] == "0.1 0.5 0.9 1.1 2 10"
    reach = rows[rows["kind"] == "reaches_exact"].set_index("family")
    assert reach.loc["curve_squared", "versus"] == "ols"
    assert reach.loc["curve_squared", "crossing"] == 1000
    assert reach.loc["curve_squared", "bracket_low"] == 100
    assert reach.loc["curve_squared", "note"] == ""
    # no exact Huber with δ = 1.345: compared with the MAD-scaled one, and said so
    assert reach.loc["curve_huber", "versus"] == "huber"
    assert "minimises another objective" in reach.loc["curve_huber", "note"]


def test_training_crossings_without_an_exact_fit_or_trained_members():
    perf, est = _frames()
    rows = training_crossings(perf, est[est["estimator"] != "huber"], "x1")
    hub = rows[(rows["family"] == "curve_huber")].iloc[0]
    assert hub["versus"] == "" and math.isnan(hub["crossing"])
    assert "no exact fit of the huber loss" in hub["note"]
    exact_only = est[est["solver"] == "exact"].drop(columns=["lr_relative", "steps"])
    empty = training_crossings(perf, exact_only.drop(columns="solver"), "x1")
    assert empty.empty and tuple(empty.columns) == TRAINING_COLUMNS
