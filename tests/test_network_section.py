"""The network section and the front page's network row, on synthetic performance rows: each
verdict follows the numbers (tie under normal errors, L2 loses under heavy tails)."""

from __future__ import annotations

import pandas as pd
import pytest

from lossstudy.reasons import NOT_YET, _networks_row
from lossstudy.report.network_section import network_rows, network_section, network_verdicts

NET = {"lr": 0.01, "steps": 1000, "model": "mlp", "solver": "adam", "hidden": [32]}
ESTIMATORS = {
    "ols": {"method": "ols"},
    "net_squared": {"loss": "squared", **NET},
    "net_huber": {"loss": "huber", "delta": 1.345, **NET},
}


def _study(heavy_l2: float, light_l2: float = 0.060) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    from lossstudy.methods import canonical

    specs = {name: canonical(spec) for name, spec in ESTIMATORS.items()}
    rows, scen = [], []
    for base, law, df in (("sine", "normal", None), ("sine_t2", "t", 2.0)):
        for n in (100, 400):
            sid = f"{base}-n{n}"
            scen.append({"scenario": sid, "base": base, "n": n, "errors.distribution": law,
                         "errors.df": df})  # fmt: skip
            ises = {"ols": 0.21, "net_squared": light_l2 if law == "normal" else heavy_l2}
            ises["net_huber"] = 0.062 if law == "normal" else 0.032
            for est, ise in ises.items():
                for measure, value in (("ise", ise), ("test_mse", 1 + ise), ("test_mae", 0.8)):
                    rows.append({"scenario": sid, "estimator": est, "term": "model",
                                 "measure": measure, "value": value, "mcse": 0.004})  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(scen), specs


def test_verdicts_follow_the_numbers() -> None:
    perf, scen, specs = _study(heavy_l2=0.21)
    v = network_verdicts(network_rows(perf, scen, specs)).set_index("errors")
    assert list(v.index) == ["normal", "t(2)"]
    assert v.at["normal", "verdict"] == "L2 ties" and v.at["t(2)", "verdict"] == "L2 loses"
    assert v.at["t(2)", "ratio"] == pytest.approx(0.21 / 0.032)
    assert v.at["t(2)", "best"] == "net_huber" and (v["n"] == 400).all()


@pytest.mark.parametrize(
    ("heavy", "light", "verdict"),
    [(0.21, 0.060, "held with a caveat"), (0.033, 0.060, "held"), (0.21, 0.09, "does not hold")],
)
def test_front_page_row(heavy: float, light: float, verdict: str) -> None:
    perf, scen, specs = _study(heavy_l2=heavy, light_l2=light)
    section = network_section(perf, scen, specs)
    assert section["available"] and len(section["tables"]) == 2
    row = _networks_row(section["summary"])
    assert row["verdict"] == verdict and row["link"] == "networks"


def test_the_front_page_groups_the_cells_by_verdict_and_names_each_mean() -> None:
    perf, scen, specs = _study(heavy_l2=0.21)
    scen["response.function"] = "sine"
    section = network_section(perf, scen, specs)
    text = _networks_row(section["summary"])["text"]
    assert text == (
        "At n = 400, the network trained with L2 ties the best other loss under normal errors, "
        "sine mean (ISE 0.0600 ± 0.0040 against 0.0620 ± 0.0040, z = -0.4), and loses to the "
        "best other loss under t(2) errors, sine mean (ISE 0.2100 ± 0.0040 against 0.0320 ± "
        "0.0040, z = 31.5)."
    )
    assert section["means"] == ["sin(2πx₁)"]
    # a difference that rounds to zero has no sign
    perf.loc[perf["estimator"] == "net_huber", "value"] = 0.0600001
    assert "(z = 0.0)" in network_section(perf, scen, specs)["sentences"][0]


def test_no_network_says_not_yet() -> None:
    perf, scen, _ = _study(heavy_l2=0.21)
    section = network_section(perf, scen, {"ols": {"method": "ols"}})
    assert not section["available"]
    assert _networks_row(section["summary"])["verdict"] == NOT_YET


def _paired(l2: list[float], huber: list[float]) -> dict[str, pd.DataFrame]:
    """Per-replicate ise of the two networks in both cells at n = 400 (the same numbers)."""
    ise = pd.DataFrame({"net_squared": l2, "net_huber": huber})
    return {"sine-n400": ise, "sine_t2-n400": ise}


def test_a_mean_tie_under_heavy_tails_goes_to_the_paired_sign_test() -> None:
    # the L2 network's mean ise is carried by one wild replicate (its MCSE too): the means tie
    perf, scen, specs = _study(heavy_l2=0.21)
    heavy = perf["scenario"].str.startswith("sine_t2") & (perf["estimator"] == "net_squared")
    perf.loc[heavy & (perf["measure"] == "ise"), "mcse"] = 0.5
    rows = network_rows(perf, scen, specs)
    assert network_verdicts(rows).set_index("errors").at["t(2)", "verdict"] == "L2 ties"
    # ... but the L2 curve is the worse one in 19 of 20 replicates: p = 4e-5 < 0.0455
    v = network_verdicts(rows, _paired([0.1] * 19 + [0.01], [0.03] * 20)).set_index("errors")
    assert (v.at["t(2)", "worse"], v.at["t(2)", "pairs"]) == (19, 20)
    assert v.at["t(2)", "sign_p"] == pytest.approx(2 * 21 / 2**20)
    assert v.at["t(2)", "verdict"] == "L2 loses" and v.at["t(2)", "test"] == "sign"
    # under normal errors the means decide alone (they tie here), whatever the signs say
    assert v.at["normal", "verdict"] == "L2 ties" and v.at["normal", "test"] == "mean"
    # 12 of 20 is no evidence: the tie stands
    v = network_verdicts(rows, _paired([0.1] * 12 + [0.01] * 8, [0.03] * 20))
    assert v.set_index("errors").at["t(2)", "verdict"] == "L2 ties"


def test_the_section_reads_the_paired_ise_from_the_estimates(tmp_path) -> None:
    perf, scen, specs = _study(heavy_l2=0.21)
    heavy = perf["scenario"].str.startswith("sine_t2") & (perf["estimator"] == "net_squared")
    perf.loc[heavy & (perf["measure"] == "ise"), "mcse"] = 0.5
    for sid in ("sine-n400", "sine_t2-n400"):
        est = pd.DataFrame(
            [{"estimator": e, "replicate": r, "term": "model", "ise": v}
             for r in range(20) for e, v in (("net_squared", 0.1), ("net_huber", 0.03))]
        )  # fmt: skip
        est.to_parquet(tmp_path / f"{sid}.parquet")
    section = network_section(perf, scen, specs, estimates_dir=tmp_path)
    row = _networks_row(section["summary"])
    assert row["verdict"] == "held with a caveat"
    assert "worse in 20 of 20 replicates, sign test" in row["uncertainty"]
    assert any("paired sign test" in s for s in section["sentences"])


def test_edge_rows_set_the_sharpness_beside_two_over_eta() -> None:
    from lossstudy.figures.networks import panel_members
    from lossstudy.methods import canonical
    from lossstudy.report.network_section import edge_rows, edge_sentence

    perf, scen, specs = _study(heavy_l2=0.21)
    for lr in (0.05, 0.4):
        name = f"net_gd-lr{lr}"
        specs[name] = canonical({"loss": "squared", **NET, "solver": "gd", "lr": lr})
        for sid in ("sine-n100", "sine-n400"):
            for measure, value, mcse in (
                ("ise", 0.2, 0.01), ("sharpness", 9.9 if lr == 0.05 else 4.5, 0.1),
                ("divergence", 0.0 if lr == 0.05 else 0.86, 0.04),
            ):  # fmt: skip
                row = {"scenario": sid, "estimator": name, "term": "model",
                       "measure": measure, "value": value, "mcse": mcse}  # fmt: skip
                perf = pd.concat([perf, pd.DataFrame([row])], ignore_index=True)
    edge = edge_rows(network_rows(perf, scen, specs), specs)
    assert list(edge["estimator"]) == ["net_gd-lr0.05", "net_gd-lr0.4"]
    assert (edge["n"] == 400).all() and list(edge["limit"]) == [40.0, 5.0]
    assert edge["ratio"].tolist() == pytest.approx([9.9 / 40, 4.5 / 5])
    text = edge_sentence(edge)
    assert "η = 0.05: sharpness 9.90 ± 0.10 against 2/η = 40" in text
    assert "86% of runs diverged" in text and edge_sentence(edge.iloc[:0]) == ""
    assert "at or below 2/η within Monte Carlo error in every setting" in text
    edge.loc[edge["lr"] == 0.4, "sharpness"] = 6.0  # 2/η = 5, 10 MCSE above it
    assert "above 2/η beyond Monte Carlo error at η = 0.4" in edge_sentence(edge)
    # the fitted-curve panels keep the first family of each loss (Adam), not the GD sweep
    nets = {"net_squared": "squared", "net_huber": "huber", "net_gd-lr0.05": "squared"}
    assert panel_members(list(nets), nets) == {"squared": "net_squared", "huber": "net_huber"}
