"""Figures: produced for one and for many scenarios/estimators, robust to NaN and undefined cells,
byte-identical on rerun. Synthetic tidy tables keep this fast."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from lossstudy.answer import ASSUMPTIONS
from lossstudy.figures import (
    CAPTIONS,
    fig_bias,
    fig_coverage,
    fig_mse_decomposition,
    fig_mse_vs_n,
    fig_relative_efficiency,
    fig_sampling_distributions,
    fig_zip,
    make_figures,
)
from lossstudy.performance import MEASURES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METHODS = ("ols", "lad", "huber", "ridge")


def synthetic_study(
    tmp: Path, n_groups: int, ns: list[int], n_est: int, reps: int = 30, seed: int = 0
) -> tuple[Path, Path, Path, list[str], list[str]]:
    """Write performance.csv, scenarios.csv and estimates/*.parquet with odd names and gaps."""
    rng = np.random.default_rng(seed)
    ests = [f"est{j}_{METHODS[j % 4]}" for j in range(n_est)]
    scen_rows, perf_rows, sids = [], [], []
    for g in range(n_groups):
        heavy = g % 3 == 2  # every third group: moments undefined for some estimators
        for n in ns:
            sid = f"grp{g}-n{n}" if len(ns) > 1 else f"grp{g}"
            sids.append(sid)
            row = {"scenario": sid, "base": f"grp{g}", "replicates": reps, "n": n}
            row["errors.distribution"] = "cauchy" if heavy else "normal"
            row["coefficients"] = json.dumps([1.0, 2.0])
            for a in ASSUMPTIONS:
                row[a] = (
                    "breaks" if (heavy and a in ("exogeneity", "homoskedasticity")) else "holds"
                )
                row[f"{a}_why"] = "no mean" if row[a] == "breaks" else ""
            row["gauss_markov"] = "breaks" if heavy else "holds"
            scen_rows.append(row)
            frames = []
            for j, e in enumerate(ests):
                for m in [*MEASURES, "failure_rate"]:
                    value = float(rng.uniform(0.01, 2.0))
                    if m == "coverage":
                        value = float(rng.uniform(0.7, 1.0))
                    if m in ("rel_efficiency", "rel_mse") and j == 0:
                        value = 1.0
                    defined = not (heavy and j % 2 == 0 and m in ("bias", "empse", "mse"))
                    note = "" if defined else "does not exist: no mean"
                    if j == 1 and g == 0 and m == "coverage":  # a missing cell
                        value, defined, note = float("nan"), False, "no intervals: none"
                    perf_rows.append(
                        {
                            "scenario": sid,
                            "estimator": e,
                            "term": "x1",
                            "measure": m,
                            "value": value,
                            "mcse": value / 20,
                            "n_used": reps,
                            "defined": defined,
                            "note": note,
                        }
                    )
                truth = 2.0
                est = truth + rng.standard_normal(reps) * (0.1 + 0.05 * j)
                if heavy and j % 2 == 0:
                    est = truth + rng.standard_cauchy(reps)
                se = np.full(reps, 0.1 + 0.05 * j)
                if j % 4 == 3:  # ridge-like: no intervals
                    lo = hi = se = np.full(reps, np.nan)
                else:
                    lo, hi = est - 1.96 * se, est + 1.96 * se
                status = np.where(rng.uniform(size=reps) < 0.05, "failed", "ok")
                frames.append(
                    pd.DataFrame(
                        {
                            "scenario": sid,
                            "replicate": np.arange(reps),
                            "estimator": e,
                            "method": METHODS[j % 4],
                            "term": "x1",
                            "true_value": truth,
                            "estimate": est,
                            "std_error": se,
                            "ci_low": lo,
                            "ci_high": hi,
                            "status": status,
                            "message": "",
                        }
                    )
                )
            (tmp / "estimates").mkdir(exist_ok=True)
            pd.concat(frames).to_parquet(tmp / "estimates" / f"{sid}.parquet", index=False)
    perf = tmp / "performance.csv"
    scen = tmp / "scenarios.csv"
    pd.DataFrame(perf_rows).to_csv(perf, index=False)
    pd.DataFrame(scen_rows).to_csv(scen, index=False)
    return perf, scen, tmp / "estimates", sids, ests


def check_pngs(paths: list[Path]) -> None:
    pngs = [p for p in paths if p.suffix == ".png"]
    assert pngs
    for p in paths:
        assert p.exists() and p.stat().st_size > 1000, p
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC
        assert p.with_suffix(".svg").exists()
        assert p.stem in CAPTIONS


def test_one_scenario_one_estimator_and_rerun_identical(tmp_path: Path) -> None:
    perf, scen, est, _, _ = synthetic_study(tmp_path, 1, [50], 1)
    paths = make_figures(perf, scen, est, tmp_path / "fig")
    check_pngs(paths)
    names = {p.stem for p in paths}
    assert "mse_vs_n" not in names  # a single n: skipped, not crashed
    assert {"mse_decomposition", "relative_efficiency", "bias", "coverage"} <= names
    first = {p.name: p.read_bytes() for p in paths}
    again = make_figures(perf, scen, est, tmp_path / "fig")
    assert {p.name: p.read_bytes() for p in again} == first  # PNG and SVG byte-identical


def test_many_scenarios_and_estimators(tmp_path: Path) -> None:
    perf, scen, est, _, _ = synthetic_study(tmp_path, 6, [25, 100], 6, reps=15)
    paths = make_figures(perf, scen, est, tmp_path / "fig", level=0.9)
    check_pngs(paths)
    assert {p.stem for p in paths} == set(CAPTIONS)


def test_figure_functions_tolerate_nan_and_undefined(tmp_path: Path) -> None:
    perf_csv, scen_csv, est_dir, sids, ests = synthetic_study(tmp_path, 3, [20, 40], 4, reps=12)
    perf = pd.read_csv(perf_csv)
    scen = pd.read_csv(scen_csv)
    # knock out whole blocks: all-NaN estimator, all-undefined scenario
    perf.loc[perf["estimator"] == ests[2], ["value", "mcse"]] = np.nan
    perf.loc[perf["scenario"] == sids[0], "defined"] = False
    estimates = pd.concat(pd.read_parquet(p) for p in sorted(est_dir.glob("*.parquet")))
    estimates.loc[estimates["estimator"] == ests[1], "status"] = "failed"
    figs = [
        fig_mse_decomposition(perf, scen),
        fig_relative_efficiency(perf, scen, reference=ests[0]),
        fig_bias(perf, scen),
        fig_coverage(perf, scen, level=0.95),
        fig_mse_vs_n(perf, scen),
        fig_sampling_distributions(estimates, perf, scen),
        fig_zip(estimates, sids[:2]),
        fig_relative_efficiency(perf.iloc[0:0], scen),  # nothing at all
    ]
    for fig in figs:
        assert fig is not None
        plt.close(fig)


def test_unknown_term_falls_back_to_first_slope(tmp_path: Path) -> None:
    perf_csv, scen_csv, est, _, _ = synthetic_study(tmp_path, 1, [30, 60], 2, reps=10)
    fig = fig_bias(pd.read_csv(perf_csv), pd.read_csv(scen_csv), term="nope")
    assert "x1" in fig._suptitle.get_text()
    plt.close(fig)


@pytest.mark.parametrize("name", sorted(CAPTIONS))
def test_captions_are_sentences(name: str) -> None:
    assert CAPTIONS[name].endswith(".") and len(CAPTIONS[name]) > 80
