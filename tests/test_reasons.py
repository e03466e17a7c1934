"""The front page's reasons for L2, "when is it wrong", the labels of wins that rest on
something else than the loss, and the one rule every comparison follows: synthetic tables."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from lossstudy.answer import estimator_roles
from lossstudy.answer.compare import call, pair_statistic
from lossstudy.answer.step import StudyTables, claims_and_board
from lossstudy.frontpage import BIAS_CANCELS, TUNED, winner_rows, winner_sentences
from lossstudy.reasons import NOT_YET, VERDICTS, reason_rows, wrong_choice_rows

SPECS = {
    "ols": {"method": "ols", "se": "classical"},
    "wls": {"method": "wls", "predictor": 1, "strength": 2.0},
    "lad": {"method": "lad"},
    "huber": {"method": "huber", "k": 1.345},
    "ridge-penalty10": {"method": "ridge", "penalty": 10.0},
}
ROLES = estimator_roles(list(SPECS), SPECS)
FLAGS = ("linearity", "exogeneity", "full_rank", "homoskedasticity", "no_autocorrelation")
GM_SECTION = "All Gauss–Markov assumptions hold, normal errors"

VERDICT = {
    "diverging": ["squared"],
    "stable": ["huber", "absolute"],
    "fits": {"squared": 3000, "huber": 3000, "absolute": 3000},
    "max_c": {"squared": 10.0, "huber": 10.0, "absolute": 10.0},
    "cells": 3,
    "past": {"loss": "squared", "c": 1.01, "low": 0.98, "high": 1.0, "mcse": 0.0086, "cells": 3},
    "below": {"loss": "squared", "c": 0.99, "high": 0.0},
}


def _claims() -> pd.DataFrame:
    base = {"claim": 1, "section": GM_SECTION, "scenario": "gm-n400", "versus": "ols"}
    rows = [
        {**base, "estimator": "wls", "measure": "rel_efficiency", "value": 0.63, "mcse": 0.017,
         "verdict": "worse", "theory": 0.6416},
        {**base, "estimator": "huber", "measure": "rel_efficiency", "value": 0.958,
         "mcse": 0.0095, "verdict": "worse", "theory": float("nan")},
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _optima() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"scenario": "prior", "estimator": "ridge", "parameter": "penalty", "fixed": f"n={n}",
             "argmin": a, "ci_low": a - 2, "ci_high": a + 2, "theory": 10.0,
             "note": "exact ridge MSE; Bayes rule σ²/τ² = 10", "cell": f"prior-n{n}"}
            for n, a in ((25, 14.0), (400, 10.3))
        ]
    )  # fmt: skip


def _cross() -> pd.DataFrame:
    def row(est: str, c: float, n: int, theory: float, note: str) -> dict[str, Any]:
        return {"scenario": "heavy_tails", "knob": "errors.df", "fixed": f"n={n}",
                "estimator": est, "versus": "ols", "measure": "rel_mse", "crossing": c,
                "ci_low": c - 0.3, "ci_high": c + 0.4, "theory": theory, "note": note,
                "better": "below"}  # fmt: skip

    return pd.DataFrame(
        [
            row("lad", 3.8, 25, 4.68, "asymptotic: 4 f(0)² Var(e)"),
            row("lad", 4.5, 400, 4.68, "asymptotic: 4 f(0)² Var(e)"),
            row("ridge-penalty10", 2.0, 400, float("nan"), "exact"),  # the L2 family: not here
        ]
    )


def test_four_reasons_each_with_verdict_number_and_link() -> None:
    table = reason_rows(_claims(), _optima(), VERDICT, ROLES)
    assert table["key"].tolist() == ["training", "blue", "prior", "networks"]
    got = table.set_index("key")
    # squared-loss GD diverges past its limit while the non-differentiable absolute loss never
    # does: stability is not what differentiability buys (exact convergence is)
    assert got.loc["training", "verdict"] == "does not hold"
    assert "98–100%" in got.loc["training", "number"]
    assert "bounded gradient, not differentiability" in got.loc["training", "text"]
    assert "convergence to the exact fit" in got.loc["training", "text"]
    # without a bounded-gradient loss beside it, stability below the limit is a caveat only
    alone = {**VERDICT, "stable": [], "diverging": ["squared"]}
    row = reason_rows(_claims(), _optima(), alone, ROLES).set_index("key").loc["training"]
    assert row["verdict"] == "held with a caveat"
    assert got.loc["blue", "verdict"] == "held"
    assert "0.630" in got.loc["blue", "number"] and "0.017" in got.loc["blue", "uncertainty"]
    assert got.loc["blue", "link"] == "claim-1"
    # the largest n's optimum, and the untested posterior said plainly
    assert "10.3" in got.loc["prior", "number"] and "8.3–12.3" in got.loc["prior", "uncertainty"]
    assert "not yet tested" in got.loc["prior", "text"]
    assert got.loc["networks", "verdict"] == NOT_YET
    for r in table.itertuples(index=False):
        assert r.verdict in (*VERDICTS, NOT_YET) and r.link
        assert bool(r.number) == (r.verdict != NOT_YET)


def test_reasons_without_evidence_are_not_yet_tested_and_carry_nothing() -> None:
    empty = pd.DataFrame(columns=["claim", "section", "measure", "verdict"])
    table = reason_rows(empty, None, {}, ROLES)
    assert (table["verdict"] == NOT_YET).all()
    assert (table["number"] == "").all() and (table["uncertainty"] == "").all()


def test_blue_does_not_hold_when_an_unbiased_estimator_is_more_efficient() -> None:
    claims = _claims()
    claims.loc[1, ["value", "verdict"]] = (1.2, "better")
    assert reason_rows(claims, None, {}, ROLES).set_index("key").loc["blue", "verdict"] == (
        "does not hold"
    )


def test_wrong_choice_in_plain_words_with_theory_called_asymptotic() -> None:
    rows = wrong_choice_rows(_cross(), ROLES, "ols")
    assert len(rows) == 1  # the largest n, another loss only
    text = rows["text"].iloc[0]
    assert text.startswith("With t-distributed errors of fewer than about 4.5 degrees of freedom")
    assert "least absolute deviations has a lower MSE than least squares" in text
    assert "asymptotic theory: 4.68" in text
    assert "errors.df" in rows["source"].iloc[0]


def test_config_keys_and_member_ids_stay_out_of_the_sentences() -> None:
    sentences = [
        *reason_rows(_claims(), _optima(), VERDICT, ROLES)[["reason", "text"]].stack(),
        *wrong_choice_rows(_cross(), ROLES, "ols")["text"],
    ]
    for s in sentences:
        assert not re.search(r"\b[a-z_]+\.[a-z_]+\b", s), s  # no `errors.df`
        assert "ridge-penalty" not in s and "<code>" not in s, s


def _scen(base: str, broken: tuple[str, ...]) -> dict[str, Any]:
    row = {"scenario": f"{base}-n400", "base": base, "n": 400, "anchor": True}
    row |= {a: "breaks" if a in broken else "holds" for a in FLAGS}
    row["normal_errors"] = "holds"
    return row


def _board(family: str, winner: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"family": family, "scenario": f"{family}-n400", "n": 400, "estimator": e,
             "verdict": "wins" if e == winner else "loses"}
            for e in ("ols", winner)
        ]
    )  # fmt: skip


def test_wins_that_rest_on_other_things_are_labelled() -> None:
    scen = pd.DataFrame(
        [_scen("nonlinear", ("linearity",)), _scen("endogenous", ("exogeneity",)),
         _scen("het", ("homoskedasticity",)), _scen("tails", ("exogeneity",))]
    )  # fmt: skip
    board = pd.concat(
        [_board("nonlinear", "wls"), _board("endogenous", "ridge-penalty10"),
         _board("het", "wls"), _board("tails", "huber")]
    )  # fmt: skip
    bias = {("endogenous-n400", "ols"): (0.30, 0.001)}
    rows = winner_rows(board, scen, ROLES, "ols", bias).set_index("family")
    assert rows.loc["nonlinear", "label"] == TUNED  # weights built for heteroskedastic errors
    assert rows.loc["endogenous", "label"] == BIAS_CANCELS
    assert "0.3000 ± 0.0010" in rows.loc["endogenous", "text"]
    assert rows.loc["het", "label"] == ""  # WLS where its weights belong: a plain win
    assert rows.loc["tails", "label"] == ""
    assert rows["group"].to_dict() == {
        "nonlinear": "L2", "endogenous": "L2", "het": "L2", "tails": "other"
    }  # fmt: skip
    words = winner_sentences(rows.reset_index())
    assert [w["key"] for w in words] == ["winners_L2", "winners_other"]
    assert "tuned for another scenario" in words[0]["text"]
    assert "bias cancelling bias" in words[0]["text"]


def test_pair_statistic_prefers_the_paired_ratio() -> None:
    # huber vs ols (the winner, the reference): paired relative MSE 0.96 ± 0.009
    z, how = pair_statistic((1.04, 0.03), (1.0, 0.03), (0.96, 0.009), other_is_reference=False)
    assert how == "paired" and z == pytest.approx(0.04 / 0.009)
    z, how = pair_statistic((1.04, 0.03), (1.0, 0.03))
    assert how == "independent" and call(z, 2.0) == "tie"


def _tables(rel: float, mcse: float) -> StudyTables:
    """gauss_markov at n = 400: ols wins on MSE; huber's MSE is 1/rel of it, within the
    independent MCSEs of the two MSEs but, paired, ``(rel - 1) / mcse`` MCSE from it."""
    scen = pd.DataFrame([{**_scen("gm", ()), "gauss_markov": "holds"}])
    rows = []
    for e, (mse, r, bias) in {
        "ols": (1.0, (1.0, 0.0), 0.001),
        "huber": (1.0 / rel, (rel, mcse), 0.0),
    }.items():
        for m, v, mc in (
            ("mse", mse, 0.03), ("empse", mse**0.5, 0.01), ("bias", bias, 0.01),
            ("rel_mse", *r), ("rel_efficiency", *r),
        ):  # fmt: skip
            rows.append(
                {"scenario": "gm-n400", "estimator": e, "term": "x1", "measure": m, "value": v,
                 "mcse": mc, "n_used": 1000, "defined": True, "note": ""}
            )  # fmt: skip
    perf = pd.DataFrame(rows)
    specs = {"ols": SPECS["ols"], "huber": SPECS["huber"]}
    return StudyTables(perf, scen, perf, scen, specs, "x1")


@pytest.mark.parametrize(("rel", "expected"), [(0.96, "worse"), (0.99, "tie")])
def test_one_rule_in_claims_scoreboard_and_front_page(rel: float, expected: str) -> None:
    """The report cannot call one pair a tie in one place and 4.4 MCSE worse in another."""
    study = {"reference": "ols", "level": 0.95}
    frame, board = claims_and_board(study, _tables(rel, 0.009), None)
    claim = frame[(frame["estimator"] == "huber") & (frame["measure"] == "rel_efficiency")]
    card = board.set_index("estimator").loc["huber"]
    assert card["statistic"] == "paired"
    assert claim["verdict"].iloc[0] == expected
    assert card["verdict"] == {"worse": "loses", "tie": "ties"}[expected]
    # one threshold: the board's equals the claims' relative family's, in claims.csv too
    relative = frame[frame["family"] == "relative"]
    assert relative["threshold"].round(6).nunique() == 1  # z_limit adds 1e-9 against rounding
    assert relative["threshold"].iloc[0] == pytest.approx(card["threshold"])
    # the front page's BLUE row reads the same verdict
    reasons = reason_rows(frame, None, {}, estimator_roles(["ols", "huber"], SPECS))
    words = reasons.set_index("key").loc["blue", "text"]
    assert ("a tie" if expected == "tie" else "less efficient") in words


def test_prior_row_says_where_the_l1_penalty_overtakes() -> None:
    """The prior row's slot is filled from the prior sweep's flip rows: the earliest crossing
    at the largest n, with its interval; a run without them still says it is not tested."""
    from lossstudy.reasons import PRIOR_SHAPE_SLOT, _prior_shape
    from lossstudy.sweeps.flip import VERSUS

    flips = pd.DataFrame(
        {
            "versus": [VERSUS, VERSUS, VERSUS, "ols"],
            "knob": ["prior.sparsity"] * 4,
            "fixed": ["n=100", "n=400", "n=400", "n=400"],
            "estimator": ["lasso-penalty10", "lasso-penalty30", "lasso-penalty100", "lad"],
            "crossing": [0.16, 0.399, 0.842, 0.01],
            "ci_low": [0.1, 0.357, 0.824, 0.0],
            "ci_high": [0.235, 0.441, 0.859, 0.02],
        }
    )
    text = _prior_shape(flips)
    assert "lasso-penalty30" in text and "0.399" in text and "0.357–0.441" in text
    assert "n = 400" in text and "share of zero slopes" in text
    assert _prior_shape(None) == PRIOR_SHAPE_SLOT
    assert _prior_shape(flips[flips["versus"] == "ols"]) == PRIOR_SHAPE_SLOT
    assert "never overtakes" in _prior_shape(flips.assign(crossing=float("nan")))
