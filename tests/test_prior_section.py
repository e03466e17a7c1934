"""The report's "L2 penalty is a Gaussian prior" rows and the front page's prior reason, from
synthetic theory rows: the verdict follows the coverage of the posterior's intervals."""

from __future__ import annotations

import pandas as pd

from lossstudy.answer import estimator_roles
from lossstudy.reasons import reason_rows
from lossstudy.report.prior_section import coverage_summary, posterior_rows, prior_section

SPECS = {
    "ols": {"method": "ols", "se": "classical"},
    "ridge-penalty10": {"method": "ridge", "penalty": 10.0},
    "post": {"method": "ridge", "penalty": 10.0, "se": "posterior", "sigma": 1.0},
    "post-penalty100": {"method": "ridge", "penalty": 100.0, "se": "posterior", "sigma": 1.0},
    "plugin": {"method": "ridge", "penalty": 10.0, "se": "posterior"},
}
ROLES = estimator_roles(["ols", "ridge-penalty10"], SPECS)
MATCH = "the prior matches (λ = σ²/τ², σ known): the nominal level, exactly"


def _theory(x1_cover: float = 0.951, mcse: float = 0.005) -> pd.DataFrame:
    def row(est: str, term: str, sim: float, theory: float, note: str, n: int = 400) -> dict:
        z = (sim - theory) / mcse
        return {"scenario": f"gp-n{n}", "estimator": est, "versus": "", "term": term,
                "quantity": "coverage", "simulated": sim, "mcse": mcse, "theoretical": theory,
                "z": z, "flag": abs(z) > 3, "note": note}  # fmt: skip

    return pd.DataFrame(
        [
            row("post", "intercept", 0.90, 0.95, MATCH),  # the intercept is not a slope
            row("post", "x1", x1_cover, 0.95, MATCH),
            row("post", "x2", 0.948, 0.95, MATCH, n=25),
            row("plugin", "x1", 0.952, 0.95, "the prior matches (λ = σ²/τ²): nominal"),
            row("post-penalty100", "x1", 0.52, 0.519, "exact; λ = 100 is not σ²/τ² = 10"),
            row("ridge-penalty10", "x1", 0.2, 0.2, "not a posterior member"),
            {"scenario": "gp-n400", "estimator": "post", "term": "x1", "quantity": "bias",
             "simulated": 0.0, "mcse": 0.01, "theoretical": 0.0, "z": 0.0, "flag": False,
             "note": ""},
        ]
    )  # fmt: skip


def test_rows_are_the_posterior_members_coverage_and_the_summary_their_matching_slopes():
    rows = posterior_rows(_theory(), SPECS)
    assert set(rows["estimator"]) == {"post", "plugin", "post-penalty100"}
    assert rows.set_index(["estimator", "term"])["matching"].to_dict() == {
        ("post", "intercept"): True,
        ("post", "x1"): True,
        ("post", "x2"): True,
        ("plugin", "x1"): True,
        ("post-penalty100", "x1"): False,
    }
    summary = coverage_summary(rows, 0.95)
    assert summary["rows"] == 3 and summary["holds"] and summary["plug_in"]
    assert abs(summary["mean"] - (0.951 + 0.948 + 0.952) / 3) < 1e-12
    assert summary["mismatched_low"] == 1


def test_prior_reason_holds_when_coverage_is_nominal_and_fails_when_it_is_not(tmp_path):
    optima = pd.DataFrame(
        [{"scenario": "gp", "estimator": "ridge", "parameter": "penalty", "fixed": "n=400",
          "argmin": 10.3, "ci_low": 8.3, "ci_high": 12.3, "theory": 10.0,
          "note": "exact ridge MSE; Bayes rule σ²/τ² = 10", "cell": "gp-n400"}]
    )  # fmt: skip
    empty = pd.DataFrame(columns=["claim", "section", "measure", "verdict"])
    for cover, verdict in ((0.951, "held"), (0.90, "does not hold")):
        path = tmp_path / f"theory{cover}.csv"
        _theory(cover).to_csv(path, index=False)
        section = prior_section(path, SPECS, 0.95, "x1")
        assert [r["penalty"] for r in section["rows"]] == ["10", "100", "10"]  # known σ first
        row = reason_rows(empty, optima, {}, ROLES, section["summary"]).set_index("key")
        assert row.loc["prior", "verdict"] == verdict
        assert row.loc["prior", "link"] == "prior"
        assert "coverage" in row.loc["prior", "number"]
        assert "L1 penalty overtake it is not yet tested" in row.loc["prior", "text"]
    # the posterior alone, without the optimum, is a caveat at best
    row = reason_rows(empty, None, {}, ROLES, section["summary"]).set_index("key")
    assert row.loc["prior", "verdict"] == "does not hold"
    _theory(0.951).to_csv(tmp_path / "t.csv", index=False)
    alone = prior_section(tmp_path / "t.csv", SPECS, 0.95, "x1")["summary"]
    assert reason_rows(empty, None, {}, ROLES, alone).set_index("key").loc["prior", "verdict"] == (
        "held with a caveat"
    )


def test_the_width_cost_of_integrating_sigma_out_matches_a_simulation():
    import numpy as np
    from scipy import stats

    from lossstudy.report.prior_section import width_cost

    rng = np.random.default_rng(1)
    n, level = 25, 0.95
    s = np.sqrt(rng.chisquare(n - 1, 400_000) / (n - 1))  # σ̂/σ under the matching prior
    q = 0.5 + level / 2
    ratio = stats.t.ppf(q, n - 1) * s.mean() / stats.norm.ppf(q) - 1
    assert abs(width_cost(n, level) - ratio) < 5e-4
    assert width_cost(400, level) < width_cost(100, level) < width_cost(25, level)


def test_tuned_rows_set_the_chosen_lambda_beside_the_oracle_and_the_best_fixed_lambda(tmp_path):
    from lossstudy.report.prior_section import tuned_rows

    specs = {
        "ridge-penalty1": {"method": "ridge", "penalty": 1},
        "ridge-penalty10": {"method": "ridge", "penalty": 10},
        "gcv": {"method": "squared-l2-gcv", "loss": "squared", "penalty": "l2", "solver": "gcv"},
    }
    perf = pd.DataFrame(
        [{"scenario": "gp-n100", "estimator": e, "term": "x1", "measure": "mse", "value": v,
          "mcse": m} for e, v, m in (("ridge-penalty1", 0.010, 0.0003),
                                     ("ridge-penalty10", 0.008, 0.0002), ("gcv", 0.0082, 0.0002))]
    )  # fmt: skip
    optima = pd.DataFrame(
        [{"cell": "gp-n100", "estimator": "ridge", "term": "x1", "measure": "mse", "argmin": 10.8,
          "ci_low": 9.0, "ci_high": 12.5, "theory": 10.0}]
    )  # fmt: skip
    lam = [1.0, 10.0, 13.3, 13.3, 100.0]
    pd.DataFrame(
        {"estimator": ["gcv"] * 5 + ["ridge-penalty10"] * 5, "term": ["x1"] * 10,
         "chosen_strength": lam + [float("nan")] * 5}
    ).to_parquet(tmp_path / "gp-n100.parquet")  # fmt: skip
    (row,) = tuned_rows(specs, perf, optima, tmp_path, ["gp-n100", "other-n25"], "x1")
    assert row["estimator"] == "gcv" and row["best"] == "ridge-penalty10"
    assert row["chosen"] == "13.3 (10–13.3)" and row["oracle"] == "10.8 (9–12.5)"
    ratio = 0.0082 / 0.008
    assert row["ratio"].startswith(f"{ratio:.3f} ± ")
    pd.DataFrame({"estimator": ["ridge-penalty10"], "term": ["x1"]}).to_parquet(
        tmp_path / "plain-n100.parquet"
    )
    plain = optima.assign(cell="plain-n100")
    assert (
        tuned_rows(specs, perf.assign(scenario="plain-n100"), plain, tmp_path, ["plain-n100"], "x1")
        == []
    )
