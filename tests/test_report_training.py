"""The section "Does differentiability matter?", its figures and its front-page sentence render
the numbers of the rows (synthetic ``estimators.csv`` and ``performance.csv`` shaped as the
training contract: trained members with ``solver`` gd/sgd/adam and their settings as columns,
the measures ``divergence``, ``opt_error``, ``objective_gap``, ``test_mse``, ``test_mae`` on
term ``model``); a study without trained members gets one sentence; no internal link is dead."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from test_report import inputs, make_study  # noqa: E402

from lossstudy.answer import ASSUMPTIONS  # noqa: E402
from lossstudy.figures import make_figures  # noqa: E402
from lossstudy.figures.divergence import fig_divergence  # noqa: E402
from lossstudy.figures.test_error import fig_test_error  # noqa: E402
from lossstudy.frontpage import training_sentence  # noqa: E402
from lossstudy.performance import MEASURES  # noqa: E402
from lossstudy.report import render_report, report_context  # noqa: E402
from lossstudy.report.training_section import NO_TRAINING, crossing_text  # noqa: E402
from lossstudy.studyfile import read_estimators  # noqa: E402
from lossstudy.sweeps.training import training_crossings  # noqa: E402
from lossstudy.theory import COLUMNS  # noqa: E402
from lossstudy.trained import (  # noqa: E402
    curve_rows,
    divergence_rows,
    divergence_verdict,
    exact_partners,
    final_members,
    prediction_error_rows,
)

EXACT = {"ols": {"method": "ols"}, "lad": {"method": "lad"}, "huber": {"method": "huber"}}
LAWS = {"train_normal": "normal", "train_t3": "t", "train_cauchy": "cauchy"}
NS = (25, 100, 400)
R = 500
CS = (0.1, 0.5, 0.9, 1.1, 2.0, 10.0)
STEPS = (10, 100, 1000, 10000)
#: the one cell where squared-loss GD at c = 1.1 diverges in fewer than all replicates
PARTIAL = ("train_t3-n25", 0.98)
#: trained families: name -> (loss, solver, swept parameter, its values, other settings)
FAMILIES: dict[str, tuple[str, str, str, tuple[float, ...], dict[str, float]]] = {
    "gd_squared": ("squared", "gd", "lr_relative", CS, {"steps": 1000}),
    "gd_huber": ("huber", "gd", "lr_relative", CS, {"steps": 1000, "delta": 1.345}),
    "gd_absolute": ("absolute", "gd", "lr_relative", CS, {"steps": 1000}),
    "gdk_squared": ("squared", "gd", "steps", STEPS, {"lr_relative": 0.5}),
    "gdk_huber": ("huber", "gd", "steps", STEPS, {"lr_relative": 0.5, "delta": 1.345}),
    "gdk_absolute": ("absolute", "gd", "steps", STEPS, {"lr_relative": 0.5}),
    "sgd_squared": ("squared", "sgd", "steps", STEPS, {"lr_relative": 0.1, "batch_size": 8}),
}


def _g(v: float) -> str:
    return f"{v:g}"


def exact_rmse(estimator: str, law: str, n: int) -> float:
    base = {"ols": 1.0, "lad": 1.25, "huber": 1.03}[estimator]
    if law == "t":
        base *= {"ols": 1.7, "lad": 1.1, "huber": 1.05}[estimator]
    return 0.1 * base * (100 / n) ** 0.5


def opt_error(loss: str, solver: str, steps: int) -> float:
    k = np.log10(steps)
    if solver == "sgd":
        return 0.3 / steps**0.5
    return {"squared": 10.0 ** (-3 * k), "huber": 10.0 ** (-2.5 * k), "absolute": 0.02}[loss]


def value_of(loss: str, law: str, metric: str) -> tuple[float, bool]:
    """(value, defined): squared best on MSE, absolute best on MAE; no test MSE under Cauchy."""
    if law == "cauchy" and metric == "test_mse":
        return np.nan, False
    base = {"test_mse": 1.05, "test_mae": 0.80}[metric]
    tweak = {
        "test_mse": {"squared": 0.0, "huber": 0.004, "absolute": 0.02},
        "test_mae": {"squared": 0.02, "huber": 0.006, "absolute": 0.0},
    }[metric][loss]
    return base + tweak, True


def add_training(tmp: Path, config: dict[str, Any], *, with_theory: bool = True) -> None:
    """Append training scenarios, trained members and their performance rows to the files
    :func:`test_report.make_study` wrote under ``tmp``."""
    scen = pd.read_csv(tmp / "scenarios.csv")
    est = pd.read_csv(tmp / "estimators.csv", keep_default_na=False, dtype=str)
    perf = pd.read_csv(tmp / "performance.csv", keep_default_na=False)
    loss_of = dict(zip(est["estimator"], est["loss"], strict=True))
    template = est.iloc[0].to_dict()
    members: list[dict[str, Any]] = []
    for family, (loss, solver, param, values, other) in FAMILIES.items():
        for v in values:
            settings = {**other, param: v}
            members.append(
                {
                    **{k: "" for k in template},
                    "estimator": f"{family}-{param}{_g(v)}",
                    "family": family,
                    "parameter": param,
                    "value": _g(v),
                    # not anchors: the per-scenario sections would resolve their specs through
                    # the estimator registry, which knows no gradient solver on this branch
                    "anchor": "False",
                    "reference": "False",
                    "method": f"{loss}-{solver}",
                    "loss": loss,
                    "penalty": "none",
                    "solver": solver,
                    "se": "none",
                    "loss_text": loss,
                    "penalty_text": "none",
                    "intervals_text": "none",
                    **{k: _g(x) for k, x in settings.items()},
                    "_settings": settings,
                }
            )
    table = pd.concat([est, pd.DataFrame(members).drop(columns="_settings")], ignore_index=True)
    table.fillna("").to_csv(tmp / "estimators.csv", index=False)
    scen_rows, perf_rows, theory_rows = [], [], []
    for base, law in LAWS.items():
        for n in NS:
            sid = f"{base}-n{n}"
            row = scen.iloc[0].to_dict()
            row.update({"scenario": sid, "base": base, "n": n, "replicates": R})
            row["errors.distribution"] = law
            for a in ASSUMPTIONS:
                row[a] = "breaks" if (a == "normal_errors" and law != "normal") else "holds"
            scen_rows.append(row)

            def add(
                e: str, term: str, m: str, v: float, mcse: float, ok: bool = True, sid: str = sid
            ) -> None:
                perf_rows.append(
                    {
                        "scenario": sid,
                        "estimator": e,
                        "term": term,
                        "measure": m,
                        "value": v,
                        "mcse": mcse,
                        "n_used": R,
                        "defined": ok,
                        "note": "" if ok else "does not exist: Cauchy errors have no variance",
                    }
                )

            def per_term(e: str, rmse: float) -> None:
                for term in ("intercept", "x1", "x2"):
                    for m in [*MEASURES, "failure_rate"]:
                        v = {"rmse": rmse, "mse": rmse**2, "coverage": 0.95}.get(m, 0.0)
                        add(e, term, m, v, 0.01 * max(v, 1e-3))

            for e in EXACT:
                rmse = exact_rmse(e, law, n)
                per_term(e, rmse)
                for metric in ("test_mse", "test_mae"):
                    v, ok = value_of(loss_of[e], law, metric)
                    add(e, "model", metric, v, 0.002, ok)
            for m in members:
                s = m["_settings"]
                loss, solver = m["loss"], m["solver"]
                name = m["estimator"]
                c, steps = float(s["lr_relative"]), int(s["steps"])
                diverge = 1.0 if (loss == "squared" and solver == "gd" and c > 1) else 0.0
                if (sid, c) == (PARTIAL[0], 1.1) and diverge:
                    diverge = PARTIAL[1]
                add(name, "model", "divergence", diverge, (diverge * (1 - diverge) / R) ** 0.5)
                if diverge == 1.0:
                    for mm in ("opt_error", "objective_gap", "test_mse", "test_mae"):
                        add(name, "model", mm, np.nan, np.nan, False)
                    per_term(name, np.nan)
                    continue
                oe = opt_error(loss, solver, steps) * (1 if c <= 1 else 10 * c)
                add(name, "model", "opt_error", oe, 0.05 * oe)
                add(name, "model", "objective_gap", oe**2, 0.05 * oe**2)
                partner = {"squared": "ols", "absolute": "lad", "huber": "huber"}[loss]
                per_term(name, exact_rmse(partner, law, n) * (1 + 30 / steps))
                for metric in ("test_mse", "test_mae"):
                    v, ok = value_of(loss, law, metric)
                    add(name, "model", metric, v + 0.001 * (solver == "sgd"), 0.002, ok)
            if with_theory:
                for c in CS:
                    theory_rows.append(
                        {
                            "scenario": sid,
                            "estimator": f"gd_squared-lr_relative{_g(c)}",
                            "versus": "",
                            "term": "model",
                            "quantity": "divergence",
                            "simulated": 1.0 if c > 1 else 0.0,
                            "mcse": 0.0,
                            "theoretical": 1.0 if c > 1 else 0.0,
                            "relation": "=",
                            "z": 0.0,
                            "kind": "exact",
                            "flag": (sid, c) == (PARTIAL[0], 1.1),
                            "rel_diff": 0.0,
                            "n_used": R,
                            "note": "GD on the squared loss diverges iff c > 1",
                        }
                    )
    pd.concat([scen, pd.DataFrame(scen_rows)], ignore_index=True).to_csv(
        tmp / "scenarios.csv", index=False
    )
    pd.concat([perf, pd.DataFrame(perf_rows)], ignore_index=True).to_csv(
        tmp / "performance.csv", index=False
    )
    pd.DataFrame(theory_rows, columns=list(COLUMNS)).to_csv(tmp / "theory.csv", index=False)


def training_study(tmp: Path, *, trained: bool = True) -> dict[str, Any]:
    config = make_study(tmp, 2, EXACT)
    if trained:
        add_training(tmp, config)
    return config


def figures_and_report(tmp: Path, *, trained: bool = True) -> tuple[str, list[Path]]:
    training_study(tmp, trained=trained)
    figdir = tmp / "figures"
    written = make_figures(
        tmp / "performance.csv",
        tmp / "scenarios.csv",
        tmp / "estimates",
        figdir,
        estimators_csv=tmp / "estimators.csv",
        parts=["training"],
    )
    pngs = [p for p in written if p.suffix == ".png"]
    # the front page's other sentences link to the scoreboard figure, drawn by another part
    shutil.copy(tmp / "bias.png", tmp / "scoreboard.png")
    paths = inputs(tmp)
    if trained:  # what the sweeps step writes from the same two files
        perf = pd.read_csv(tmp / "performance.csv", keep_default_na=False, na_values=[""])
        rows = training_crossings(perf, read_estimators(tmp / "estimators.csv"), "x1")
        rows.to_csv(tmp / "training.csv", index=False)
    context = report_context(
        *paths,
        tmp / "estimates",
        [tmp / "bias.png", tmp / "scoreboard.png", *pngs],
        tmp / "benchmarks",
        commit="0123abcd",
        theory_csv=tmp / "theory.csv",
        training_csv=tmp / "training.csv" if trained else None,
    )
    render_report(context, tmp / "report.html")
    return (tmp / "report.html").read_text(encoding="utf-8"), pngs


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.alts: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and str(a.get("href", "")).startswith("#"):
            self.hrefs.append(str(a["href"])[1:])
        if tag == "img" and a.get("alt"):
            self.alts[str(a.get("src", ""))[-40:]] = str(a["alt"])


def _section(text: str) -> str:
    return text[text.index('<section id="training">') : text.index('<section id="design">')]


def _front(text: str) -> str:
    """The first screen: the reasons table to the end of its section's lists."""
    return text[text.index('<table class="reasons">') : text.index('<details class="more"')]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Path], Path]:
    tmp = tmp_path_factory.mktemp("training")
    text, pngs = figures_and_report(tmp)
    return text, pngs, tmp


def test_rows_pick_members_partners_and_finals(rendered: tuple[str, list[Path], Path]) -> None:
    _, _, tmp = rendered
    est = read_estimators(tmp / "estimators.csv")
    perf = pd.read_csv(tmp / "performance.csv", keep_default_na=False, na_values=[""])
    scen = pd.read_csv(tmp / "scenarios.csv")
    # the exact Huber of the registry has a MAD scale, not the trained fixed δ: no partner
    assert exact_partners(est) == {
        "gd_squared": "ols",
        "gd_absolute": "lad",
        "gdk_squared": "ols",
        "gdk_absolute": "lad",
        "sgd_squared": "ols",
    }
    finals = final_members(est)
    assert "gd_squared-lr_relative0.9" in finals and "gdk_huber-steps10000" in finals
    div = divergence_rows(perf, est, scen)
    assert set(div["family"]) == set(FAMILIES)
    curves = curve_rows(perf, est, scen, "x1")
    assert set(curves["family"]) == {"gdk_squared", "gdk_huber", "gdk_absolute", "sgd_squared"}
    ols = curves[(curves["family"] == "gdk_squared") & (curves["scenario"] == "train_t3-n400")]
    assert ols["exact_rmse"].iloc[0] == pytest.approx(exact_rmse("ols", "t", 400))
    assert ols["exact_error"].iloc[0] == pytest.approx(3**0.5 * exact_rmse("ols", "t", 400))
    test = prediction_error_rows(perf, est, scen)
    assert list(dict.fromkeys(test["label"])) == [
        "ols (exact)",
        "gd_squared-lr_relative0.9",
        "gdk_squared-steps10000",
        "sgd_squared-steps10000",
        "huber (exact)",
        "gd_huber-lr_relative0.9",
        "gdk_huber-steps10000",
        "lad (exact)",
        "gd_absolute-lr_relative0.9",
        "gdk_absolute-steps10000",
    ]


def test_verdict_carries_the_numbers_of_the_rows(rendered: tuple[str, list[Path], Path]) -> None:
    text, _, tmp = rendered
    est = read_estimators(tmp / "estimators.csv")
    perf = pd.read_csv(tmp / "performance.csv", keep_default_na=False, na_values=[""])
    verdict = divergence_verdict(divergence_rows(perf, est, pd.read_csv(tmp / "scenarios.csv")))
    cells = len(LAWS) * len(NS)
    assert verdict["diverging"] == ["squared"] and verdict["stable"] == ["huber", "absolute"]
    assert verdict["past"]["c"] == 1.1 and verdict["past"]["cells"] == cells
    assert verdict["past"]["low"] == PARTIAL[1] and verdict["past"]["high"] == 1.0
    mcse = (PARTIAL[1] * (1 - PARTIAL[1]) / R) ** 0.5
    assert verdict["past"]["mcse"] == pytest.approx(mcse)
    # GD only, one member per (family, c): the sweep's 6 step sizes and the checkpoint family's
    # last checkpoint (at c = 0.5), in every cell; SGD is not counted
    assert verdict["fits"]["huber"] == (len(CS) + 1) * cells * R
    sentence = training_sentence(verdict)["text"]
    for piece in (
        "Only the squared (L2) loss diverged under gradient descent",
        f"98%–100% (MCSE ≤ {100 * mcse:.2g} points) of its fits at a step c = 1.1 times the "
        f"exact stability limit, in {cells} cells",
        "(at c = 0.9: none)",
        "no Huber or absolute (L1) fit diverged at any c up to 10",
        f"({2 * (len(CS) + 1) * cells * R:,} fits)",
        "a bounded gradient, not differentiability",
    ):
        assert piece in sentence, piece
    # the front page's first reason carries its numbers, linked to the section, which states it
    front = _front(text)
    first = front[front.index('<tr class="reason-training">') :]
    first = first[: first.index("</tr>")]
    # the non-differentiable absolute loss never diverged: stability is not what it buys
    assert "does not hold" in first and "98–100% of fits diverge at c = 1.1" in first
    assert "a bounded gradient, not differentiability" in first
    assert '<a href="#training"' in first
    assert sentence in _section(text)


def test_section_shows_figures_table_and_theory(rendered: tuple[str, list[Path], Path]) -> None:
    text, pngs, _ = rendered
    assert {p.stem for p in pngs} == {
        "training_divergence",
        "training_curves",
        "training_test_error",
    }
    section = _section(text)
    assert "2. Does differentiability matter?" in section
    for name in ("training_divergence", "training_curves", "training_test_error"):
        assert f'id="fig-{name}"' in section
        assert text.count(f'id="fig-{name}"') == 1  # not repeated among the other figures
    # alt texts say what the figures show, from the rows
    parser = _Links()
    parser.feed(section)
    alts = " ".join(parser.alts.values())
    assert "squared (L2): diverged fits from c = 1.1 (up to 100%)" in alts
    assert "Huber: no diverged fit at any c up to 10" in alts
    assert "train_normal: lowest test MSE ols (exact) (1.05)" in alts
    assert "train_normal: lowest test MAE lad (exact) (0.8)" in alts
    # learning curves in words: absolute GD stays 0.02 from its exact fit, squared reaches it
    assert "After 10,000 steps, GD on the absolute (L1) loss is 0.02 from its exact fit" in section
    assert "below the exact fit's own error in every cell" in section
    # the test table: value ± MCSE, best per column starred, Cauchy test MSE undefined
    assert "1.0500 ± 0.0020 ★" in section and "0.8000 ± 0.0020 ★" in section
    assert 'title="does not exist: Cauchy errors have no variance">undefined<' in section
    table = section[section.index('id="training-test"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr><td><code>") == 10
    # theory rows beside, the one flagged row marked
    assert "theory beside the training measures (54 rows" in section and "1 flagged" in section
    assert section.count("⚑") == 1


def test_crossings_table_shows_onsets_and_steps_with_theory(
    rendered: tuple[str, list[Path], Path],
) -> None:
    text, _, tmp = rendered
    section = _section(text)
    table = section[section.index('id="training-crossings"') :]
    table = table[: table.index("</table>")]
    assert "(n = 400)" in table  # the largest n, one column per error law
    rows = {r.split("</code>")[0]: r for r in table.split("<tr><td><code>")[1:]}
    assert set(rows) == set(FAMILIES)
    # squared GD jumps from 0 to 1 between c = 0.9 and 1.1: the bracket, theory 1 beside it
    assert rows["gd_squared"].count(">in [0.9, 1.1]<") == len(LAWS)
    assert (
        rows["gd_squared"]
        .rstrip()
        .endswith('title="exact: GD on the squared loss diverges for every c &gt; 1">1</td></tr>')
    )
    assert rows["gd_huber"].count(">none up to 10<") == len(LAWS)
    assert ">none</td>" in rows["gd_absolute"]
    # the synthetic RMSE is exact·(1 + 30/steps): 3% off at 1000 steps is beyond 2 MCSE (1%
    # each), 0.3% at 10,000 is within; Cauchy has an OLS MSE in this synthetic table
    assert rows["gdk_squared"].count(">by 10,000 (not at 1,000)<") == len(LAWS)
    # the trained Huber's δ is fixed, the exact one's is not: compared, and the note says so
    assert "minimises another objective" in rows["gdk_huber"]
    # 9 cells; in train_t3-n25 the share is 0 at c = 0.9 and 0.98 ± 0.006 at 1.1: interpolated
    # in log c there, 0.9·(1.1/0.9)^(0.5/0.98) = 0.99698
    onset = (
        "Squared-loss GD's divergence share passes 1/2 between the swept step sizes c = 0.9 "
        "and 1.1 in 9 of 9 cells; where the MCSE allows an interpolation, c* = 0.9970 (theory: "
        "exactly c = 1)"
    )
    assert onset in section.replace("&#39;", "'")
    training = pd.read_csv(tmp / "training.csv")
    assert set(training["kind"]) == {"divergence_onset", "reaches_exact"}


@pytest.mark.parametrize(
    ("kind", "ends", "extra", "expected"),
    [
        ("divergence_onset", (0.99, 1.01, 1.000295, 0.99983, 1.000805), {}, "1.000 (0.9998–1.001)"),
        ("divergence_onset", (0.99, 1.01, np.nan, 0.99, 1.01), {}, "in [0.99, 1.01]"),
        ("divergence_onset", (10.0, np.nan, np.nan, np.nan, np.nan), {}, "none up to 10"),
        ("reaches_exact", (100, 1000, 1000, np.nan, np.nan), {}, "by 1,000 (not at 100)"),
        ("reaches_exact", (np.nan, 10, 10, np.nan, np.nan), {}, "≤ 10"),
        (
            "reaches_exact",
            (np.nan,) * 5,
            {"note": "not within 2 MCSE by the last checkpoint (1000 steps)"},
            "not by 1,000",
        ),
        ("reaches_exact", (np.nan,) * 5, {"versus": np.nan}, "no exact fit"),
    ],
)
def test_crossing_text_states_value_bracket_or_none(
    kind: str, ends: tuple[float, ...], extra: dict[str, Any], expected: str
) -> None:
    names = ("bracket_low", "bracket_high", "crossing", "ci_low", "ci_high")
    row = {"kind": kind, "values": "10 100 1000", "versus": "ols", "note": "", **extra}
    assert crossing_text({**row, **dict(zip(names, ends, strict=True))}) == expected


def test_no_dead_internal_links(rendered: tuple[str, list[Path], Path]) -> None:
    text, _, _ = rendered
    parser = _Links()
    parser.feed(text)
    ours = [h for h in parser.hrefs if h.startswith(("training", "fig-training"))]
    assert "training" in ours  # the contents and the front-page sentence link to the section
    assert sorted({h for h in parser.hrefs if h not in parser.ids}) == []


def test_without_training_one_sentence(tmp_path: Path) -> None:
    text, pngs = figures_and_report(tmp_path, trained=False)
    assert pngs == []
    section = _section(text)
    assert f'<p class="muted">{NO_TRAINING}</p>' in section
    assert NO_TRAINING.count(". ") == 0 and NO_TRAINING.endswith(".")  # one sentence
    assert "<figure" not in section and "<table" not in section
    assert "Verdict" not in section and "trained by gradient steps, with" not in section
    # the reason stays on the front page, untested and without a number
    front = _front(text)
    row = front[front.index('<tr class="reason-training">') :]
    row = row[: row.index("</tr>")]
    assert "not yet tested" in row and "none yet" in row and "diverge" not in row
    parser = _Links()
    parser.feed(text)
    assert sorted({h for h in parser.hrefs if h not in parser.ids}) == []


def test_divergence_figure_is_readable(rendered: tuple[str, list[Path], Path]) -> None:
    _, _, tmp = rendered
    est = read_estimators(tmp / "estimators.csv")
    perf = pd.read_csv(tmp / "performance.csv", keep_default_na=False, na_values=[""])
    fig = fig_divergence(divergence_rows(perf, est, pd.read_csv(tmp / "scenarios.csv")))
    assert fig is not None
    axes = fig.get_axes()
    assert len(axes) == len(LAWS) * len(NS)
    for ax in axes:
        assert ax.get_xscale() == "log"
        assert any(line.get_xdata()[0] == 1.0 for line in ax.get_lines())  # c = 1 marked
        for label in ax.get_xticklabels() + ax.get_yticklabels():
            assert label.get_fontsize() >= 9
    # one hue per loss, and they differ
    colors = {
        to_hex(line.get_color()) for line in axes[0].get_lines() if line.get_marker() != "None"
    }
    assert len(colors) == 3


def test_test_error_figure_shows_the_laws_with_trained_fits(
    rendered: tuple[str, list[Path], Path],
) -> None:
    """A scenario with exact fits only adds no column: nothing trained to set beside them."""
    _, _, tmp = rendered
    est = read_estimators(tmp / "estimators.csv")
    perf = pd.read_csv(tmp / "performance.csv", keep_default_na=False, na_values=[""])
    test = prediction_error_rows(perf, est, pd.read_csv(tmp / "scenarios.csv"))
    exact = test[test["kind"] == "exact"].assign(base="exact_only")
    trained = test.loc[test["kind"] == "trained", "base"].nunique()
    fig = fig_test_error(pd.concat([test, exact], ignore_index=True))
    assert fig is not None
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert len(titles) == 2 * trained
    assert not any("exact_only" in t for t in titles)


def test_trained_members_without_their_measures_render(tmp_path: Path) -> None:
    """Trained members in estimators.csv but no training measures in performance.csv (an older
    performance step): the section names them and says there is no verdict; nothing breaks."""
    training_study(tmp_path)
    perf = pd.read_csv(tmp_path / "performance.csv", keep_default_na=False)
    keep = ~perf["measure"].isin(["divergence", "opt_error", "objective_gap"])
    perf[keep].to_csv(tmp_path / "performance.csv", index=False)
    context = report_context(
        *inputs(tmp_path), tmp_path / "estimates", [], None, commit="0", theory_csv=None
    )
    render_report(context, tmp_path / "report.html")
    section = _section((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "34 trained estimators in 7 families" in section
    assert "so there is no verdict on" in section and "Verdict." not in section
    assert "<figure" not in section
    assert "Train on the loss you are judged by" in section  # test error is still there


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (
            {
                "diverging": [],
                "stable": ["squared", "absolute"],
                "fits": {"squared": 3000, "absolute": 3000},
                "max_c": {"squared": 0.9, "absolute": 0.9},
                "cells": 2,
            },
            "No gradient-descent fit diverged, for any loss, at any step size up to c = 0.9 "
            "times the squared loss's stability limit (6,000 fits in 2 cells).",
        ),
        (
            {
                "diverging": ["squared", "huber"],
                "stable": [],
                "fits": {"squared": 1000, "huber": 1000},
                "max_c": {"squared": 10.0, "huber": 10.0},
                "cells": 1,
                "past": {"loss": "squared", "c": 2.0, "low": 0.5, "high": 0.5, "mcse": 0.0224,
                         "cells": 1},
            },
            "The squared (L2) and Huber losses diverged under gradient descent: 50% (MCSE ≤ "
            "2.2 points) of the squared (L2) loss's fits at a step c = 2 times the exact "
            "stability limit, in 1 cell.",
        ),
    ],
)  # fmt: skip
def test_front_page_sentence_follows_the_rows(verdict: dict[str, Any], expected: str) -> None:
    assert training_sentence(verdict)["text"] == expected
    assert training_sentence({}) is None
