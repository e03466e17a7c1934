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
    fig_nested_loop,
    fig_relative_efficiency,
    fig_sampling_distributions,
    fig_zip,
    make_figures,
    nested_order,
)
from lossstudy.figures._style import PAGE_WIDTH
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


# --------------------------------------------------------------------------- nested-loop plot


def sweep_study(sweep_columns: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Families in a scrambled file order: one swept along a knob given as text, one swept along
    another knob, one without a sweep; 3 n each. Returns (perf, scen, estimators)."""
    rng = np.random.default_rng(3)
    ests = ["refx", "alt_a", "alt_b", "alt_c"]
    rows = []
    plan = [
        ("fam_b", "k.one", [10.0, 2.5, 50.0]),
        ("fam_a", None, [None]),
        ("fam_c", "k.two", [0.9, 0.1]),
    ]
    for fam, knob, levels in plan:
        for lv in levels:
            for n in (400, 25, 100):
                row = {"scenario": f"{fam}-{lv}-{n}", "base": fam, "replicates": 10, "n": n}
                row["k.one"] = str(lv) if knob == "k.one" else np.nan  # text, as a CSV may hold
                row["k.two"] = lv if knob == "k.two" else np.nan
                row["errors.distribution"] = "normal"
                if sweep_columns:
                    row["sweep"] = knob or ""
                    row["anchor"] = lv == levels[0] and knob is not None
                rows.append(row)
    scen = pd.DataFrame(rows)
    perf_rows = []
    for sid in scen["scenario"]:
        for j, e in enumerate(ests):
            for m in ("rel_mse", "mse"):
                v = 1.0 if (j == 0 and m == "rel_mse") else float(rng.uniform(0.2, 3.0))
                perf_rows.append(
                    {
                        "scenario": sid,
                        "estimator": e,
                        "term": "x1",
                        "measure": m,
                        "value": v,
                        "mcse": 0.0 if j == 0 else v / 25,
                        "n_used": 10,
                        "defined": True,
                        "note": "",
                    }
                )
    perf = pd.DataFrame(perf_rows)
    # rel_efficiency for the reference guess
    rel = perf[perf["measure"] == "rel_mse"].assign(measure="rel_efficiency")
    return pd.concat([perf, rel], ignore_index=True), scen, ests


def main_lines(fig: plt.Figure) -> dict[str, object]:
    (main,) = [ax for ax in fig.axes if ax.get_label() == "main"]
    return {
        line.get_gid().split(":", 1)[1]: line
        for line in main.get_lines()
        if (line.get_gid() or "").startswith("estimator:")
    }


@pytest.mark.parametrize("sweep_columns", [True, False])
def test_nested_order_is_lexicographic(sweep_columns: bool) -> None:
    _, scen, _ = sweep_study(sweep_columns)
    order = nested_order(scen)
    assert list(order.columns) == [
        "scenario",
        "family",
        "sweep",
        "level",
        "level_rank",
        "position",
        "n",
        "anchor",
        "x",
    ]
    assert sorted(order["scenario"]) == sorted(scen["scenario"])
    assert list(order["x"]) == list(range(len(scen)))
    # outer: family in file order; middle: swept value numerically ascending; inner: n
    assert list(dict.fromkeys(order["family"])) == ["fam_b", "fam_a", "fam_c"]
    b = order[order["family"] == "fam_b"]
    assert list(b["level"]) == ["2.5"] * 3 + ["10"] * 3 + ["50"] * 3  # numeric, not text, order
    assert list(b["n"]) == [25, 100, 400] * 3
    assert list(b["position"]) == [0.0] * 3 + [0.5] * 3 + [1.0] * 3
    assert set(b["sweep"]) == {"k.one"}
    c = order[order["family"] == "fam_c"]
    assert list(c["level"]) == ["0.1"] * 3 + ["0.9"] * 3 and set(c["sweep"]) == {"k.two"}
    a = order[order["family"] == "fam_a"]
    assert set(a["sweep"]) == {""} and a["position"].isna().all() and list(a["n"]) == [25, 100, 400]
    assert order["anchor"].sum() == (6 if sweep_columns else 0)
    # the same order as a lexicographic sort on (family rank, numeric level, n)
    rank = {f: i for i, f in enumerate(dict.fromkeys(scen["base"]))}
    key = order.assign(r=order["family"].map(rank)).sort_values(["r", "level_rank", "n"])
    assert list(key["scenario"]) == list(order["scenario"])


def test_nested_order_without_base_or_sweep_knob() -> None:
    scen = pd.DataFrame({"scenario": ["s2", "s1"], "n": [50, 10]})
    order = nested_order(scen)
    assert list(order["scenario"]) == ["s2", "s1"]  # each its own family, file order
    assert list(order["family"]) == ["s2", "s1"]
    assert len(nested_order(scen.iloc[0:0])) == 0


@pytest.mark.parametrize("sweep_columns", [True, False])
def test_nested_loop_builds_one_line_per_non_reference(sweep_columns: bool) -> None:
    perf, scen, ests = sweep_study(sweep_columns)
    fig = fig_nested_loop(perf, scen)  # reference guessed: refx
    lines = main_lines(fig)
    assert sorted(lines) == sorted(ests[1:])
    for line in lines.values():
        assert line.get_drawstyle() == "steps-post"
        assert len(line.get_ydata()) == len(scen) + 1  # cell edges 0..N
    # the values follow nested_order
    order = list(nested_order(scen)["scenario"])
    sub = perf[(perf["estimator"] == "alt_a") & (perf["measure"] == "rel_mse")]
    want = sub.set_index("scenario").loc[order, "value"].to_numpy()
    np.testing.assert_allclose(np.asarray(lines["alt_a"].get_ydata())[:-1], want)
    assert fig.get_figwidth() <= 18
    plt.close(fig)
    fig = fig_nested_loop(perf, scen, measure="mse", reference="refx")  # absolute: all drawn
    assert sorted(main_lines(fig)) == sorted(ests)
    plt.close(fig)


def test_nested_loop_gaps_for_undefined(tmp_path: Path) -> None:
    perf, scen, _ = sweep_study()
    order = list(nested_order(scen)["scenario"])
    hole = (perf["estimator"] == "alt_b") & (perf["measure"] == "rel_mse")
    perf.loc[hole & (perf["scenario"] == order[4]), "defined"] = False
    perf.loc[hole & (perf["scenario"] == order[7]), "value"] = np.inf
    perf.loc[hole & (perf["scenario"] == order[8]), "value"] = np.nan
    fig = fig_nested_loop(perf, scen, reference="refx")
    y = np.asarray(main_lines(fig)["alt_b"].get_ydata(), dtype=float)
    assert np.isnan(y[[4, 7, 8]]).all()
    assert np.isfinite(np.delete(y, [4, 7, 8])).all()
    plt.close(fig)


def test_nested_loop_many_cells_and_byte_identical(tmp_path: Path) -> None:
    ns = [25, 50, 100, 200, 400]
    perf_csv, scen_csv, _, sids, _ = synthetic_study(tmp_path, 36, ns, 8, reps=5)  # 180 cells
    perf, scen = pd.read_csv(perf_csv), pd.read_csv(scen_csv)
    fig = fig_nested_loop(perf, scen, reference="est0_ols")  # its MCSE is not 0: no guess
    assert fig.get_figwidth() == pytest.approx(PAGE_WIDTH)  # capped: drawn at the shown width
    assert len(main_lines(fig)) == 7
    plt.close(fig)
    pngs = []
    for _ in range(2):
        buf = tmp_path / f"nlp{len(pngs)}.png"
        fig = fig_nested_loop(perf, scen, reference="est0_ols")
        fig.savefig(buf, format="png", metadata={"Software": None})
        plt.close(fig)
        pngs.append(buf.read_bytes())
    assert pngs[0][:8] == PNG_MAGIC and pngs[0] == pngs[1]
    # scenarios missing from scenarios.csv are still drawn, appended at the end
    fig = fig_nested_loop(perf, scen.iloc[5:])
    assert len(main_lines(fig)["est1_lad"].get_ydata()) == len(sids) + 1
    plt.close(fig)


def test_parts_drawn_apart_and_gathered_equal_the_whole(tmp_path: Path) -> None:
    """The workflow draws the cells, board and sweeps parts in separate jobs and copies them
    into one directory: the same files, byte for byte, as drawing everything at once."""
    from lossstudy.io import gather_files

    perf, scen, est, _, _ = synthetic_study(tmp_path, 2, [25, 100], 2, reps=12)
    whole = make_figures(perf, scen, est, tmp_path / "whole")
    parts = {
        part: make_figures(perf, scen, est, tmp_path / part, parts=[part])
        for part in ("cells", "board", "sweeps")
    }
    # the board part draws the scoreboard and relative efficiencies; without sweep tables the
    # sweeps part draws nothing
    assert {p.stem for p in parts["board"]} == {"scoreboard", "relative_efficiency"}
    assert parts["cells"] and not parts["sweeps"]
    assert not {p.stem for p in parts["cells"]} & {"scoreboard", "relative_efficiency"}
    gathered = gather_files([tmp_path / part for part in parts], tmp_path / "all")
    assert {p.name: p.read_bytes() for p in gathered} == {p.name: p.read_bytes() for p in whole}
    with pytest.raises(ValueError, match="more than one"):
        gather_files([tmp_path / "cells", tmp_path / "whole"], tmp_path / "clash")


def test_violin_window_ignores_estimators_not_drawn(tmp_path: Path) -> None:
    """A member the figure does not draw (a diverged trained fit, ±10⁵) must not set the axis:
    the window comes from the drawn estimators' spread."""
    perf_csv, scen_csv, est_dir, sids, ests = synthetic_study(tmp_path, 1, [30], 2, reps=40)
    perf, scen = pd.read_csv(perf_csv), pd.read_csv(scen_csv)
    estimates = pd.concat(pd.read_parquet(p) for p in sorted(est_dir.glob("*.parquet")))
    wild = estimates[estimates["estimator"] == ests[0]].assign(estimator="diverged")
    wild["estimate"] = wild["true_value"] + np.linspace(-1e5, 1e5, len(wild))
    drawn = fig_sampling_distributions(estimates, perf, scen)
    mixed = fig_sampling_distributions(pd.concat([estimates, wild]), perf, scen)
    assert mixed.axes[0].get_ylim() == pytest.approx(drawn.axes[0].get_ylim())
    assert abs(mixed.axes[0].get_ylim()[1]) < 100
    plt.close(drawn)
    plt.close(mixed)
