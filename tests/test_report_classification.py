"""The classification section: convergence rows, the verdict row and its sentence, from
synthetic performance rows (the numbers are the test's own, the arithmetic the module's)."""

from __future__ import annotations

import math

import pandas as pd

from lossstudy.report.classification_section import (
    classification_section,
    convergence_rows,
    misspecified_rows,
    verdict_row,
)

MEMBERS = pd.DataFrame(
    [
        {
            "estimator": "mle",
            "family": "mle",
            "loss": "cross_entropy",
            "solver": "exact",
            "init": "",
            "steps": "",
        },
        {
            "estimator": "br",
            "family": "br",
            "loss": "brier",
            "solver": "exact",
            "init": "",
            "steps": "",
        },
        *[
            {
                "estimator": f"{f}-steps{k}",
                "family": f,
                "loss": loss,
                "solver": "gd",
                "init": "saturated",
                "steps": str(k),
            }
            for f, loss in (("ce_sat", "cross_entropy"), ("br_sat", "brier"))
            for k in (10, 100, 1000)
        ],
    ]
)
SCEN = pd.DataFrame(
    [
        {"scenario": "c-n100", "n": 100, "response.family": "bernoulli"},
        {"scenario": "gm-n100", "n": 100, "response.family": float("nan")},
    ]
)
R = 100
EMPSE = {"intercept": 0.3, "x1": 0.4}  # tolerance √((0.09 + 0.16)/100) = 0.05
OPT = {"ce_sat": (16.0, 0.2, 0.01), "br_sat": (19.0, 18.0, 17.0)}


def perf() -> pd.DataFrame:
    rows = []

    def add(est, term, measure, value, mcse=0.01):
        rows.append(
            {
                "scenario": "c-n100",
                "estimator": est,
                "term": term,
                "measure": measure,
                "value": value,
                "mcse": mcse,
                "n_used": R,
            }
        )

    for term, sd in EMPSE.items():
        add("mle", term, "empse", sd)
        add("mle", term, "failure_rate", 0.0, 0.0)
    add("br", "x1", "rel_efficiency", 0.5, 0.02)
    for fam, values in OPT.items():
        for k, v in zip((10, 100, 1000), values, strict=True):
            add(f"{fam}-steps{k}", "model", "opt_error", v)
            add(f"{fam}-steps{k}", "model", "test_error", 0.19 if fam == "ce_sat" else 0.27, 0.002)
    return pd.DataFrame(rows)


def test_convergence_rows_find_the_first_checkpoint_within_the_tolerance():
    conv = convergence_rows(perf(), SCEN, MEMBERS, "mle").set_index("family")
    assert math.isclose(conv.loc["ce_sat", "tolerance"], 0.05)
    assert conv.loc["ce_sat", "reached"] and conv.loc["ce_sat", "steps"] == 1000
    assert not conv.loc["br_sat", "reached"] and math.isnan(conv.loc["br_sat", "steps"])
    assert conv.loc["br_sat", "last_opt_error"] == 17.0
    assert set(conv["scenario"]) == {"c-n100"}  # the gaussian cell is not a classification


def test_verdict_and_sentence():
    p = perf()
    conv = convergence_rows(p, SCEN, MEMBERS, "mle")
    v = verdict_row(p, conv, MEMBERS, "mle", "x1")
    assert v["verdict"] == "holds" and v["n"] == 100
    assert v["error_ce"][0] == 0.19 and v["error_brier"][0] == 0.27
    sec = classification_section(p, SCEN, MEMBERS, "x1")
    text = sec["sentence"]["text"]
    assert text.startswith("Cross-entropy, not L2, is the default for classification")
    assert "1,000 steps" in text and "17 from its own minimum" in text
    # the same rows with Brier reaching first: the verdict turns
    p.loc[(p.estimator == "br_sat-steps10") & (p.measure == "opt_error"), "value"] = 0.0
    v = verdict_row(p, convergence_rows(p, SCEN, MEMBERS, "mle"), MEMBERS, "mle", "x1")
    assert v["verdict"] == "does not hold"


def test_no_classification_scenario_no_section():
    gm = SCEN[SCEN.scenario == "gm-n100"]
    assert classification_section(perf(), gm, MEMBERS, "x1") == {"available": False}


def test_a_nonlinear_logit_is_compared_on_each_score_and_kept_out_of_the_verdict():
    """A heavisine-logit cell: the exact fits compared per score (z from the two MCSEs), the
    Bayes error beside them; its saturated trajectories do not enter the front-page verdict,
    whose claim (both losses target the true β) needs a linear logit."""
    scen = pd.concat(
        [
            SCEN,
            pd.DataFrame(
                [
                    {
                        "scenario": "h-n400",
                        "n": 400,
                        "response.family": "bernoulli",
                        "response.function": "heavisine",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    p = perf()
    wrong = p[p.scenario == "c-n100"].assign(scenario="h-n400")
    scores = {
        "test_error": (0.35, 0.33),
        "test_log_loss": (0.616, 0.6165),
        "test_brier": (0.2142, 0.2140),
    }
    extra = [
        {
            "scenario": "h-n400",
            "estimator": est,
            "term": "model",
            "measure": m,
            "value": v,
            "mcse": 0.004 if m == "test_error" else 0.001,
            "n_used": R,
        }
        for m, pair in scores.items()
        for est, v in zip(("mle", "br"), pair, strict=True)
    ]
    p = pd.concat([p, wrong, pd.DataFrame(extra)], ignore_index=True)
    rows = misspecified_rows(p, scen, MEMBERS, "mle").set_index("score")
    assert set(rows["scenario"]) == {"h-n400"}
    err = rows.loc["misclassification"]
    assert math.isclose(err["z"], -0.02 / math.hypot(0.004, 0.004)) and err["better"] == "Brier"
    assert rows.loc["log loss", "better"] == "tie"
    assert 0.14 < err["bayes_error"] < 0.142
    conv = convergence_rows(p, scen, MEMBERS, "mle")
    assert set(conv.loc[conv.logit == "heavisine", "scenario"]) == {"h-n400"}
    v = verdict_row(p, conv, MEMBERS, "mle", "x1")
    assert v["scenario"] == "c-n100" and v["n"] == 100  # not the larger nonlinear cell
    sec = classification_section(p, scen, MEMBERS, "x1")
    assert "every linear classifier is wrong" in sec["misspecified"]
    assert (
        "0.3300 ± 0.0040 (Brier) against 0.3500 ± 0.0040 (MLE), the Brier fit lower"
        in sec["misspecified"]
    )
    assert [t["scenario"] for t in sec["tables"]][-1] == "c-n100"  # shown first
