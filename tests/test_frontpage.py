"""The answer in one screen: the scoreboard and who beats least squares, on synthetic tables."""

from __future__ import annotations

import math

import pandas as pd

from lossstudy.answer import estimator_roles
from lossstudy.frontpage import scoreboard, winner_rows, winner_sentences

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


def test_winners_grouped_by_loss_and_linked():
    """Where an assumption breaks and the reference loses, the winner in plain words, grouped
    by loss: lad (another loss) in het and cauchy; nothing for gm, where ols wins."""
    board = scoreboard(_perf(MSE), _scen(), list(SPECS), SPECS)
    rows = winner_rows(board, _scen(), estimator_roles(list(SPECS), SPECS), "ols")
    assert rows["family"].tolist() == ["het", "cauchy"]
    assert set(rows["group"]) == {"other"} and set(rows["label"]) == {""}
    words = winner_sentences(rows)
    assert [w["key"] for w in words] == ["winners_other"]
    assert words[0]["link"] == "fig-scoreboard" and words[0]["evidence"] == "het, cauchy"
    assert "least absolute deviations where the error spread varies" in words[0]["text"]
    assert "no finite MSE" in words[0]["text"]  # cauchy: ols undefined, not "beaten"


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


def test_winners_need_the_reference_beaten():
    """'ols is beaten in het' only when ols loses there, not when it ties with the winner."""
    mse = dict(MSE)
    mse[("het-n200", "ols")] = (1.51, 0.02, True)
    mse[("het-n200", "ols_hc3")] = (1.51, 0.02, True)
    board = scoreboard(_perf(mse), _scen(), list(SPECS), SPECS)
    rows = winner_rows(board, _scen(), estimator_roles(list(SPECS), SPECS), "ols")
    assert rows["family"].tolist() == ["cauchy"]
