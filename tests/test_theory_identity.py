"""Nothing spurious in the theory table: members identical by construction are compared once,
and a difference below the floating-point floor is not a finding (issue 21, item 4)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_theory import study

from lossstudy import theory
from lossstudy.report.long_tables import TOP_ROWS
from lossstudy.report.theory_section import theory_section
from lossstudy.theory.checks import Check, _point_groups

TWINS = {
    "ols": {"method": "ols"},
    "ols_hc3": {"method": "ols", "se": "hc3"},
    "ridge0": {"method": "ridge", "penalty": 0},
    "wls": {"method": "wls", "predictor": 1, "strength": 2.0},
    "ridge1": {"method": "ridge", "penalty": 1.0},
}


def test_identity_is_read_from_the_specs():
    groups = _point_groups(TWINS)
    assert groups["ols"] == ["ols", "ols_hc3", "ridge0"]
    assert groups["wls"] == ["wls"] and groups["ridge1"] == ["ridge1"]
    # a zero penalty listed first is the group's representative: still one member
    first = _point_groups({"r0": TWINS["ridge0"], "o": TWINS["ols"], "r1": TWINS["ridge1"]})
    assert first == {"r0": ["r0", "o"], "r1": ["r1"]}


@pytest.fixture(scope="module")
def twin_table() -> pd.DataFrame:
    # Gauss–Markov holds: OLS is the BLUE, and ridge with λ = 0 computes OLS by another path
    table, _, _, _ = study("gm", {"n": 30}, TWINS, 400)
    return table


def test_twins_are_compared_once_and_never_with_each_other(twin_table):
    assert not twin_table["estimator"].isin(["ols_hc3", "ridge0"]).any()
    assert not twin_table["versus"].isin(["ols_hc3", "ridge0"]).any()
    pairs = twin_table[twin_table["quantity"] == "variance_excess"]
    assert set(pairs["estimator"]) == {"wls"} and set(pairs["versus"]) == {"ols"}
    notes = twin_table.loc[twin_table["estimator"] == "ols", "note"]
    assert notes.str.contains("ols_hc3, ridge0 (same point estimates)", regex=False).any()


def test_real_looking_table_has_no_flag_between_twins():
    """The default study's members, checked in a Gauss–Markov scenario: no row pairs two
    members of one point-estimate group, so none can be flagged."""
    names = {
        "ols": {"method": "ols", "se": "classical"},
        "ols_hc3": {"method": "ols", "se": "hc3"},
        "ols_hac": {"method": "ols", "se": "hac"},
        "ridge-penalty0": {"method": "ridge", "penalty": 0},
        "wls": {"method": "wls", "predictor": 1, "strength": 2.0},
        "ridge-penalty10": {"method": "ridge", "penalty": 10},
    }
    table, _, _, _ = study("gm", {"n": 25}, names, 200)
    groups = {m: rep for rep, ms in _point_groups(names).items() for m in ms}
    same = [
        groups.get(e) == groups.get(v)
        for e, v in zip(table["estimator"], table["versus"], strict=True)
        if v
    ]
    assert same and not any(same)
    assert set(table["estimator"]) == {"ols", "wls", "ridge-penalty10"}


def check(theoretical: float, scale: float = 0.0) -> Check:
    return Check(
        "a", "x1", "variance_excess", theoretical, ">=", "ordering", versus="b", scale=scale
    )


@pytest.mark.parametrize(
    ("value", "theoretical", "scale", "below"),
    [
        (-1e-17, 0.0, 0.04, True),  # two paths to one variance, 0.04: rounding
        (-1e-17, 0.0, 0.0, False),  # no scale known: 1e-17 is the whole value
        (0.04 + 1e-15, 0.04, 0.0, True),
        (0.04 + 1e-9, 0.04, 0.0, False),
        (0.0, 0.0, 1.0, False),  # equal: not a rounding difference, the usual rules apply
        (math.nan, 0.0, 1.0, False),
    ],
)
def test_floor_rule(value, theoretical, scale, below):
    assert theory.below_floor(value, theoretical, scale) is below


def test_a_difference_below_the_floor_is_not_flagged():
    est = pd.DataFrame(
        {
            "replicate": [0, 1, 2, 0, 1, 2],
            "estimator": ["a"] * 3 + ["b"] * 3,
            "term": "x1",
            "true_value": 0.0,
            "estimate": [0.1, -0.2, 0.3, 0.1, -0.2, 0.3 + 1e-16],
            "std_error": 0.1,
            "ci_low": -1.0,
            "ci_high": 1.0,
            "status": "ok",
        }
    )
    out = theory.compare("s", [check(0.0, scale=0.04)], est, None, ["x1"])
    row = out.iloc[0]
    assert row["simulated"] != 0.0  # the rounding difference is really there
    assert not row["flag"] and row["z"] == 0.0 and theory.FLOOR_NOTE in row["note"]
    # the same rows without a scale: the tiny difference stays a number with its own z
    plain = theory.compare("s", [check(0.0)], est, None, ["x1"]).iloc[0]
    assert theory.FLOOR_NOTE not in plain["note"]


def test_flagged_rows_hold_every_flag_largest_z_first():
    table = pd.DataFrame(
        {
            "z": [1.0, -9.0, 4.0, math.nan, 3.5],
            "flag": [False, True, True, True, "True"],
        }
    )
    out = theory.flagged_rows(table)
    assert len(out) == 4
    assert [str(z) for z in out["z"]] == ["nan", "-9.0", "4.0", "3.5"]


def test_report_shows_the_top_flags_and_links_the_csv_that_has_them_all(tmp_path):
    rows = [
        {
            "scenario": "s",
            "estimator": f"e{i}",
            "versus": "",
            "term": "x1",
            "quantity": "variance",
            "simulated": 1.0 + i,
            "mcse": 0.1,
            "theoretical": 1.0,
            "relation": "=",
            "z": 10.0 * i / 3 + 3.5,
            "kind": "exact",
            "flag": True,
            "rel_diff": float(i),
            "n_used": 100,
            "note": "",
        }
        for i in range(30)
    ]
    rows.append({**rows[0], "estimator": "twin", "simulated": 1.0 + 1e-15, "z": 0.0})
    rows[-1].update(flag=False, note=theory.FLOOR_NOTE)
    table = pd.DataFrame(rows, columns=list(theory.COLUMNS))
    csv, flagged_csv = tmp_path / "theory.csv", tmp_path / "theory_flagged.csv"
    table.to_csv(csv, index=False)
    theory.flagged_rows(table).to_csv(flagged_csv, index=False)
    perf = pd.DataFrame({"estimator": ["twin", "e29"], "measure": "bias", "scenario": "s"})
    scen = pd.DataFrame({"scenario": ["s"], "gauss_markov": ["holds"]})
    sec = theory_section(csv, None, perf, scen, [{"id": "s"}], {}, "ols", "x1")
    shown = sec["flagged"]
    assert sec["n_flagged"] == 30 and shown["total"] == 30 and shown["cut"]
    assert len(shown["rows"]) == TOP_ROWS < 30
    assert [r["estimator"] for r in shown["rows"]] == [
        f"e{i}" for i in range(29, 29 - TOP_ROWS, -1)
    ]
    assert shown["href"] == "../results/theory_flagged.csv"
    # the CSV the link names holds every flag, in the order the report shows the top ones
    full = pd.read_csv(flagged_csv)
    assert len(full) == 30 and list(full["estimator"][:TOP_ROWS]) == [
        r["estimator"] for r in shown["rows"]
    ]
    # a rounding difference reads as such, never as "0.000000 ± 0.000000"
    detail = {r["estimator"]: r for s in sec["scenarios"] for r in s["rows"]}
    assert detail["twin"]["simulated"] == "= theory (rounding only)" and not detail["twin"]["flag"]
