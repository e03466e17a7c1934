"""The figures' colours, line styles, text sizes and alt texts (issue 21, item 5): one colour per
estimator from one colour-blind-safe palette, the same in every figure; the nested-loop plot
readable where the report shows it; alt texts that carry the figure's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from lossstudy.config import load_study
from lossstudy.figures import fig_mse_vs_n, fig_nested_loop
from lossstudy.figures._colors import (
    EXTRA,
    LOSS_COLORS,
    PALETTE,
    estimator_colors,
    estimator_line,
)
from lossstudy.figures._style import loss_color, shown_points
from lossstudy.figures.alt import figure_alts
from lossstudy.trained import exact_fits

REPO = Path(__file__).resolve().parents[1]

ESTIMATORS = ["ols", "ols_hc3", "wls", "lad", "huber", "ridge-penalty1", "ridge-penalty10"]


def _hex(color: object) -> str:
    return mcolors.to_hex(color).upper()


def _study_exact() -> list[str]:
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    study = load_study(raw, REPO / "workflow" / "schemas" / "config.schema.yaml")
    return exact_fits(list(study.estimators), study.estimators)


def test_default_study_estimators_get_distinct_palette_colours() -> None:
    names = _study_exact()
    colors = estimator_colors(names)
    families = {}
    for name, color in colors.items():
        assert color in PALETTE or color in EXTRA
        families.setdefault(name.split("-", 1)[0], set()).add(color)
    assert all(len(c) == 1 for c in families.values())  # sweep members: their family's colour
    per_family = [next(iter(c)) for c in families.values()]
    assert len(per_family) >= 5
    assert not any(n.startswith("net_") for n in names)  # networks are trained, not exact
    # no two families share a colour (14 in the default study: the muted nine, then the light)
    assert len(set(per_family)) == len(per_family)
    assert set(per_family) <= set(PALETTE) | set(EXTRA)
    # a loss has one colour across the report: OLS is the squared loss's, LAD the absolute's
    assert colors["ols"] == loss_color("squared") == LOSS_COLORS["squared"]
    assert colors["lad"] == loss_color("absolute")
    assert colors["huber"] == loss_color("huber")
    assert estimator_line("ols_hc3") == estimator_line("ridge-penalty10") == "-"
    assert estimator_line("lad") == "--" and estimator_line("huber") == "-."


def _perf_scen() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    rows, scen = [], []
    for fam, bias in (("clean", 0.0), ("biased", 0.3)):
        for n in (25, 100, 400):
            sid = f"{fam}-n{n}"
            scen.append({"scenario": sid, "base": fam, "n": n, "replicates": 400})
            for j, e in enumerate(ESTIMATORS):
                b = bias * (j <= 1) + (0.0 if j < 5 else 0.05)
                var = (1.0 + 0.2 * j) / n
                mse = b * b + var
                vals = {
                    "bias": (b, 0.001),
                    "empse": (np.sqrt(var), 0.001),
                    "mse": (mse, mse / 30),
                    "coverage": (0.95 - (0.4 if b else 0.0), 0.01),
                    "rel_mse": (
                        1.0 if j <= 1 else float(rng.uniform(0.3, 3.0)),
                        0.0 if j <= 1 else 0.02,
                    ),
                    "rel_efficiency": (
                        1.0 if j <= 1 else float(rng.uniform(0.3, 3.0)),
                        0.0 if j <= 1 else 0.02,
                    ),
                }
                for m, (v, mc) in vals.items():
                    key = {"scenario": sid, "estimator": e, "term": "x1", "measure": m}
                    rows.append({**key, "value": v, "mcse": mc, "n_used": 400, "defined": True})
    return pd.DataFrame(rows), pd.DataFrame(scen)


def test_one_estimator_one_colour_in_two_figures() -> None:
    perf, scen = _perf_scen()
    nested = fig_nested_loop(perf, scen, reference="ols")
    by_n = fig_mse_vs_n(perf, scen)
    assert by_n is not None
    (main,) = [ax for ax in nested.axes if ax.get_label() == "main"]
    in_nested = {
        line.get_gid().split(":", 1)[1]: (_hex(line.get_color()), line.get_linestyle())
        for line in main.get_lines()
        if (line.get_gid() or "").startswith("estimator:")
    }
    in_n = {
        t.get_text(): (_hex(h.get_color()), h.get_linestyle())
        for h, t in zip(by_n.legends[0].legend_handles, by_n.legends[0].get_texts(), strict=True)
        if t.get_text() in ESTIMATORS
    }
    want = estimator_colors(ESTIMATORS)
    for e in ("lad", "huber", "ridge-penalty10", "wls"):
        assert in_nested[e][0] == in_n[e][0] == want[e].upper()
        assert in_nested[e][1] == in_n[e][1]
    assert in_nested["lad"][1] == "--" and in_nested["huber"][1] == "-."
    assert in_nested["lad"][0] != in_nested["ridge-penalty10"][0]
    plt.close(nested)
    plt.close(by_n)


def test_nested_loop_text_readable_where_shown() -> None:
    perf, scen = _perf_scen()
    # many cells: the figure is as wide as it gets
    big = pd.concat([scen.assign(scenario=scen["scenario"] + f"-{k}", base=scen["base"] + f"{k}")
                     for k in range(40)], ignore_index=True)  # fmt: skip
    perf_big = pd.concat(
        [perf.assign(scenario=perf["scenario"] + f"-{k}") for k in range(40)], ignore_index=True
    )
    fig = fig_nested_loop(perf_big, big, reference="ols")
    fig.canvas.draw()
    (main,) = [ax for ax in fig.axes if ax.get_label() == "main"]
    ticks = [t for t in main.get_yticklabels() if t.get_text()]
    assert ticks
    for t in ticks:
        assert shown_points(fig, t.get_fontsize()) >= 8
    plt.close(fig)


def test_nested_loop_clips_spikes_and_says_so() -> None:
    perf, scen = _perf_scen()
    spike = (perf["estimator"] == "ridge-penalty10") & (perf["measure"] == "rel_mse")
    perf.loc[spike & (perf["scenario"] == "biased-n25"), "value"] = 0.001
    perf.loc[spike & (perf["scenario"] == "clean-n400"), "value"] = 60.0
    fig = fig_nested_loop(perf, scen, reference="ols")
    (main,) = [ax for ax in fig.axes if ax.get_label() == "main"]
    lo, hi = main.get_ylim()
    assert lo > 0.05 and hi < 20
    note = " ".join(t.get_text() for t in main.texts)
    assert "0.001" in note and "60" in note
    # OLS with another SE (relative MSE exactly 1, MCSE 0): not a line, named in the title
    assert "ols_hc3" not in {line.get_label() for line in main.get_lines()}
    assert "ols_hc3" in fig._suptitle.get_text()
    plt.close(fig)


def _numbers(text: str) -> set[float]:
    return {float(x) for x in re.findall(r"[-+]?\d*\.\d+|\d+", text)}


def test_alt_texts_carry_the_data() -> None:
    perf, scen = _perf_scen()
    alts = figure_alts(perf, scen, perf, scen, "x1", "ols", 0.95)
    for name in ("bias", "coverage", "mse_decomposition", "relative_efficiency", "nested_loop",
                 "scoreboard", "mse_vs_n", "sampling_distributions"):  # fmt: skip
        assert alts[name], name
    # ols is biased by +0.3 in every 'biased' cell and nowhere else; its coverage there is 0.55
    assert "ols biased in 3 of 6" in alts["bias"] and "+0.3" in alts["bias"]
    assert "0.550" in alts["coverage"]
    rel = perf[(perf["measure"] == "rel_efficiency") & (perf["estimator"] == "lad")]["value"]
    assert round(float(rel.max()), 2) in {
        round(v, 2) for v in _numbers(alts["relative_efficiency"])
    }
    assert "ols_hc3" not in alts["nested_loop"].split(" 1 everywhere")[0].split(";")[0]
    # changing the data changes the text
    perf2 = perf.copy()
    perf2.loc[(perf2["measure"] == "bias") & (perf2["estimator"] == "ols"), "value"] *= 2
    assert figure_alts(perf2, scen, perf2, scen, "x1", "ols", 0.95)["bias"] != alts["bias"]


@pytest.mark.parametrize("loss", sorted(LOSS_COLORS))
def test_loss_colours_from_the_palette(loss: str) -> None:
    assert loss_color(loss) in PALETTE


def test_a_laid_out_figure_is_drawn_once_per_file(tmp_path: Path, monkeypatch):
    """tight_layout leaves a placeholder layout engine, and savefig draws a figure that has an
    engine twice; _save drops it, so each of the PNG and the SVG costs one draw."""
    from matplotlib.figure import Figure

    from lossstudy.figures import _save
    from lossstudy.figures._style import _finish, _panels

    fig, axes = _panels(4, 2.5, 2.0)
    for ax in axes:
        ax.plot([0, 1], [1, 0])
    _finish(fig)
    draws = []
    real = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, r: draws.append(1) or real(self, r))
    paths = _save(fig, tmp_path, "f")
    assert [p.suffix for p in paths] == [".png", ".svg"] and len(draws) == 2
