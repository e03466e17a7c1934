"""The answer in one screen: the scoreboard and the front-page sentences, on synthetic tables."""

from __future__ import annotations

import math

import pandas as pd

from lossstudy.frontpage import front_sentences, scoreboard

SPECS = {
    "ols": {"method": "ols", "se": "classical"},
    "ols_hc3": {"method": "ols", "se": "hc3"},
    "lad": {"method": "lad"},
    "ridge": {"method": "ridge", "penalty": 1.0},
}
FLAGS = ("linearity", "exogeneity", "full_rank", "homoskedasticity", "no_autocorrelation")


def _scen() -> pd.DataFrame:
    rows = []
    for base, broken in (("gm", None), ("het", "homoskedasticity"), ("cauchy", "exogeneity")):
        for n in (50, 200):
            row = {"scenario": f"{base}-n{n}", "base": base, "n": n, "anchor": True}
            row |= {a: "breaks" if a == broken else "holds" for a in FLAGS}
            row["normal_errors"] = "holds" if base == "gm" else "breaks"
            rows.append(row)
    return pd.DataFrame(rows)


def _perf(mse: dict[tuple[str, str], tuple[float, float, bool]]) -> pd.DataFrame:
    rows = [
        {"scenario": s, "estimator": e, "term": "x1", "measure": "mse", "value": v, "mcse": m,
         "defined": d, "n_used": 100, "note": ""}
        for (s, e), (v, m, d) in mse.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


MSE = {
    ("gm-n200", "ols"): (1.00, 0.02, True),
    ("gm-n200", "ols_hc3"): (1.00, 0.02, True),
    ("gm-n200", "lad"): (1.55, 0.03, True),
    ("gm-n200", "ridge"): (1.03, 0.02, True),  # within 2 SE of the difference: a tie
    ("het-n200", "ols"): (2.0, 0.02, True),
    ("het-n200", "ols_hc3"): (2.0, 0.02, True),
    ("het-n200", "lad"): (1.5, 0.02, True),
    ("het-n200", "ridge"): (1.9, 0.02, True),
    ("cauchy-n200", "ols"): (1e6, 1e6, False),
    ("cauchy-n200", "ols_hc3"): (1e6, 1e6, False),
    ("cauchy-n200", "lad"): (0.3, 0.01, True),
    ("cauchy-n200", "ridge"): (1e5, 1e5, False),
    ("gm-n50", "ols"): (0.1, 0.01, True),  # a smaller n is never on the board
}


def test_scoreboard_winner_ties_undefined_and_twins():
    board = scoreboard(_perf(MSE), _scen(), list(SPECS), SPECS)
    assert list(dict.fromkeys(board["family"])) == ["gm", "het", "cauchy"]
    assert set(board["scenario"]) == {"gm-n200", "het-n200", "cauchy-n200"}
    assert list(dict.fromkeys(board["estimator"])) == ["ols", "lad", "ridge"]  # hc3: ols's twin
    v = board.set_index(["family", "estimator"])["verdict"]
    assert (v["gm", "ols"], v["gm", "ridge"], v["gm", "lad"]) == ("wins", "ties", "loses")
    assert v["het", "lad"] == "wins" and v["het", "ols"] == "loses"
    assert (v["cauchy", "lad"], v["cauchy", "ols"], v["cauchy", "ridge"]) == (
        "wins",
        "undefined",
        "undefined",
    )
    ratio = board.set_index(["family", "estimator"])["ratio"]
    assert ratio["het", "ols"] == 2.0 / 1.5 and math.isnan(ratio["cauchy", "ols"])


def test_front_sentences_are_few_linked_and_traceable():
    board = scoreboard(_perf(MSE), _scen(), list(SPECS), SPECS)
    cross = pd.DataFrame(
        [
            {"scenario": "tails", "knob": "errors.df", "fixed": f"n={n}", "estimator": "lad",
             "versus": "ols", "measure": "rel_mse", "crossing": c, "ci_low": c - 0.3,
             "ci_high": c + 0.3, "theory": 4.68, "better": "below"}
            for n, c in ((50, 4.0), (200, 4.6))
        ]
    )  # fmt: skip
    optima = pd.DataFrame(
        [{"scenario": "prior", "estimator": "ridge", "parameter": "penalty", "fixed": "n=200",
          "argmin": 9.8, "ci_low": 8.0, "ci_high": 12.0, "theory": 10.0,
          "note": "exact; Bayes rule σ²/τ² = 10", "cell": "prior-n200"}]
    )  # fmt: skip
    words = front_sentences(board, _scen(), cross, optima, ["prior-n200"], "ols")
    assert 1 <= len(words) <= 6
    assert words["key"].tolist() == ["gauss_markov", "sweep_tails", "broken", "optimum"]
    text = dict(zip(words["key"], words["text"], strict=True))
    assert (
        "<code>ols</code> (tied within Monte Carlo error with <code>ridge</code>)"
        in text["gauss_markov"]
    )
    assert "below 4.6 (4.3–4.9; theory 4.68)" in text["sweep_tails"]  # the largest n only
    assert "<code>het</code>: <code>lad</code>" in text["broken"]
    assert "<code>cauchy</code>: <code>lad</code>" in text["broken"]
    assert "penalty ≈ 9.8 (8–12; the Bayes rule σ²/τ² = 10)" in text["optimum"]
    assert dict(zip(words["key"], words["link"], strict=True)) == {
        "gauss_markov": "fig-scoreboard",
        "sweep_tails": "fig-sweep_tails",
        "broken": "fig-scoreboard",
        "optimum": "fig-optimum_ridge",
    }


def test_scoreboard_threshold_is_bonferroni_over_the_board():
    """A 2.4-SE gap beat the old 2-SE rule; over the board's comparisons it is a tie. The
    threshold is Bonferroni over the comparisons with a winner (4 here: undefined cells and
    winners are not comparisons)."""
    from lossstudy.mcse import bonferroni

    mse = dict(MSE)
    mse[("gm-n200", "ridge")] = (1.0 + 2.4 * math.hypot(0.02, 0.02), 0.02, True)
    board = scoreboard(_perf(mse), _scen(), list(SPECS), SPECS)
    assert board["threshold"].iloc[0] == bonferroni(4) > 2.4
    v = board.set_index(["family", "estimator"])["verdict"]
    assert v["gm", "ridge"] == "ties" and v["gm", "lad"] == "loses"


def test_scoreboard_rows_for_claims_csv():
    from lossstudy.answer.table import VERDICTS
    from lossstudy.frontpage import board_rows

    board = scoreboard(_perf(MSE), _scen(), list(SPECS), SPECS)
    sentences = board_rows(board)
    assert len(sentences) == 3
    gm, het, cauchy = ({(r["estimator"], r["versus"]): r for r in s} for s in sentences)
    assert gm[("ols", "ridge")]["verdict"] == "tie"  # the winner against the runner-up
    assert gm[("lad", "ols")]["verdict"] == "worse" and gm[("ridge", "ols")]["verdict"] == "tie"
    assert het[("lad", "ridge")]["verdict"] == "better"
    assert cauchy[("ols", "")]["verdict"] == "undefined"
    assert all(r["verdict"] in VERDICTS for s in sentences for r in s)
    text = sentences[1][0]["text"]
    assert "the lowest MSE of <code>x1</code> is <code>lad</code>" in text
    assert "higher beyond Monte Carlo error: <code>ols</code>, <code>ridge</code>" in text


def test_broken_sentence_needs_the_reference_beaten():
    """'ols is beaten in het' only when ols loses there, not when it ties with the winner."""
    mse = dict(MSE)
    mse[("het-n200", "ols")] = (1.51, 0.02, True)
    mse[("het-n200", "ols_hc3")] = (1.51, 0.02, True)
    board = scoreboard(_perf(mse), _scen(), list(SPECS), SPECS)
    words = front_sentences(board, _scen(), None, None, [], "ols")
    text = dict(zip(words["key"], words["text"], strict=True))
    assert "<code>het</code>" not in text["broken"]
    assert "<code>cauchy</code>: <code>lad</code>" in text["broken"]
