"""The HTML report renders for one scenario and for many, names every scenario and estimator,
has every section, and is self-contained (no http(s) sources or links)."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lossstudy import report  # noqa: E402
from lossstudy.answer import ASSUMPTIONS
from lossstudy.answer.step import write_claims  # noqa: E402
from lossstudy.config import load_study  # noqa: E402
from lossstudy.methods import write_estimators  # noqa: E402
from lossstudy.performance import MEASURES  # noqa: E402
from lossstudy.report import render_report, report_context  # noqa: E402
from lossstudy.report.long_tables import TOP_ROWS  # noqa: E402
from lossstudy.studyfile import study_record, write_study  # noqa: E402
from lossstudy.theory import COLUMNS  # noqa: E402

HEADINGS = (
    "1. The question and the short answer",
    "2. Does differentiability matter?",
    "3. Design (ADEMP)",
    "4. Does the simulation agree with theory?",
    "5. Results per scenario",
    "6. Figures",
    "7. Failures",
    "8. Reproducibility",
)
KINDS = ("normal", "t", "cauchy", "het")


def make_study(tmp: Path, n_scen: int, estimators: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Synthetic config, study.json, estimators.csv, scenarios.csv, performance.csv and
    benchmark TSVs under ``tmp`` (claims.csv: :func:`inputs`)."""
    rng = np.random.default_rng(1)
    scen_rows, perf_rows = [], []
    config = {
        "seed": 11,
        "replicates": 50,
        "level": 0.9,
        "defaults": {"n": 40},
        "scenarios": {},
        "estimators": estimators,
    }
    names = list(estimators)
    for i in range(n_scen):
        kind = KINDS[i % len(KINDS)]
        sid = f"case{i}_{kind}"
        config["scenarios"][sid] = {}
        row = {
            "scenario": sid,
            "base": sid,
            "replicates": 50,
            "n": 40,
            "coefficients": json.dumps([1.0, 2.0, 0.0]),
            "errors.distribution": {"het": "normal"}.get(kind, kind),
            "heteroskedasticity.strength": 2.0 if kind == "het" else 0.0,
            "prior.tau": 0.0,
            "design.correlation": 0.0,
        }
        breaks = {
            "normal": {},
            "t": {"normal_errors": "t"},
            "cauchy": {
                "exogeneity": "cauchy errors have no mean",
                "homoskedasticity": "cauchy errors have infinite variance",
                "normal_errors": "cauchy",
            },
            "het": {"homoskedasticity": "Var(e|x) = σ²(1 + 2·x1²)", "normal_errors": "normal"},
        }[kind]
        for a in ASSUMPTIONS:
            row[a] = "breaks" if a in breaks else "holds"
            row[f"{a}_why"] = breaks.get(a, "")
        row["gauss_markov"] = "breaks" if set(breaks) - {"normal_errors"} else "holds"
        scen_rows.append(row)
        for j, e in enumerate(names):
            linear = estimators[e]["method"] in ("ols", "ridge")
            for term in ("intercept", "x1", "x2"):
                for m in [*MEASURES, "failure_rate"]:
                    value = float(rng.uniform(0.8, 1.2)) if m.startswith("rel") else 0.1
                    if j == 0 and m.startswith("rel"):
                        value = 1.0
                    if m == "coverage":
                        value = 0.9
                    if m == "failure_rate":
                        value = 0.04 if j == 1 else 0.0
                    undefined = kind == "cauchy" and linear and m in ("bias", "empse", "mse")
                    note = "does not exist: no mean <&>" if undefined else ""
                    if m == "failure_rate" and value > 0:
                        note = "2 failed of 50; excluded from this estimator's measures"
                    perf_rows.append(
                        {
                            "scenario": sid,
                            "estimator": e,
                            "term": term,
                            "measure": m,
                            "value": value,
                            "mcse": 0.01,
                            "n_used": 50,
                            "defined": not undefined,
                            "note": note,
                        }
                    )
    study = load_study(config)
    write_study(study_record(study, config), tmp / "study.json")
    write_estimators(study, tmp / "estimators.csv")
    pd.DataFrame(scen_rows).to_csv(tmp / "scenarios.csv", index=False)
    pd.DataFrame(perf_rows).to_csv(tmp / "performance.csv", index=False)
    bench = tmp / "benchmarks"
    for rel, secs in (("fit/a/b/chunk0.tsv", 2.5), ("fit/c/d/chunk1.tsv", 1.5), ("x.tsv", 0.2)):
        path = bench / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{secs}\t0:00:02\t100\n")
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp / "bias.png", dpi=40)
    plt.close(fig)
    return config


def inputs(tmp: Path) -> tuple[Path, ...]:
    """The report's first five inputs under ``tmp``, writing claims.csv as the workflow does
    (from an empty theory table when the test wrote none)."""
    theory = tmp / "theory.csv"
    if not theory.exists():
        pd.DataFrame(columns=list(COLUMNS)).to_csv(theory, index=False)
    paths = (
        tmp / "study.json",
        tmp / "estimators.csv",
        tmp / "performance.csv",
        tmp / "scenarios.csv",
    )
    write_claims(*paths, theory, tmp / "claims.csv")  # and scoreboard.csv beside it
    return (*paths, tmp / "claims.csv")


def render(tmp: Path, n_scen: int, estimators: dict[str, dict[str, Any]]) -> tuple[str, dict]:
    config = make_study(tmp, n_scen, estimators)
    out = tmp / "report.html"
    context = report_context(
        *inputs(tmp),
        tmp / "estimates",
        [tmp / "bias.png"],
        tmp / "benchmarks",
        commit="0123abcd",
    )
    render_report(context, out)
    return out.read_text(encoding="utf-8"), config


def check_common(text: str, config: dict[str, Any]) -> None:
    for heading in HEADINGS:
        assert heading in text
    for name in config["scenarios"]:
        assert name in text
    for name in config["estimators"]:
        assert f"<code>{name}</code>" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text, flags=re.I)
    assert "<link" not in text and "<script" not in text
    assert "data:image/png;base64," in text
    assert "0123abcd" in text
    assert text.count('<details class="scenario"') == len(config["scenarios"])
    assert dead_links(text) == []


class _Anchors(HTMLParser):
    """The ids of a page and its internal links (``href="#..."``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and str(a.get("href", "")).startswith("#"):
            self.hrefs.append(str(a["href"])[1:])


def dead_links(text: str) -> list[str]:
    """Internal links of a rendered report that point to no id."""
    parser = _Anchors()
    parser.feed(text)
    assert parser.hrefs, "a report without internal links: the parser saw nothing"
    return sorted({h for h in parser.hrefs if h not in parser.ids})


def test_renders_one_scenario(tmp_path: Path) -> None:
    text, config = render(tmp_path, 1, {"only_ls": {"method": "ols"}})
    check_common(text, config)
    assert "No fit failed." in text
    # the moments rule as a footnote to the performance measures (issue 12)
    rule = text[text.index('id="moments-rule"') :]
    rule = rule[: rule.index("</table>")]
    assert (
        "<td>t, 1 &lt; df ≤ 2</td><td>defined</td><td>unreliable</td><td>not defined</td>" in rule
    )
    assert "<td>t, 2 &lt; df ≤ 4</td><td>defined</td><td>valid</td><td>defined</td>" in rule


def test_renders_forty_scenarios_with_renamed_estimators(tmp_path: Path) -> None:
    estimators = {
        "l2_plain": {"method": "ols"},
        "l2_sandwich": {"method": "ols", "se": "hc3"},
        "absdev": {"method": "lad"},
        "hub_k2": {"method": "huber", "k": 2.0},
        "shrink5": {"method": "ridge", "penalty": 5.0},
    }
    text, config = render(tmp_path, 40, estimators)
    check_common(text, config)
    assert len(text) < 10_000_000
    # undefined measures are shown as such, with their (escaped) note
    assert "[0.100 ± 0.010]" in text and "does not exist: no mean &lt;&amp;&gt;" in text
    # failures: only non-zero rates, once per scenario × estimator, with the handling note
    # (a long table: its top rows, and the rest in performance.csv, linked)
    failures = text.split('id="failures"')[1].split('id="reproducibility"')[0]
    assert failures.count("2 failed of 50; excluded") == TOP_ROWS
    assert f"The top {TOP_ROWS} of 40 estimators with failed fits" in failures
    assert '<a href="../results/performance.csv">' in failures
    # the design's long tables: top rows, and the whole table collapsed
    design = text.split('id="design"')[1].split('id="theory"')[0]
    assert "All 40 scenarios" in design and '<a href="../results/scenarios.csv">' in design
    # wall time per rule from the benchmark files: fit = 2.5 + 1.5 s
    assert re.search(r"<code>fit</code></td><td class=\"num\">2</td><td class=\"num\">4.0 s", text)
    # method table: loss and parameters from the config
    assert "k = 2" in text and "λ = 5" in text
    # coverage MCSE for R = 50 at level 0.9
    assert f"{(0.9 * 0.1 / 50) ** 0.5:.4f}" in text
    # the short answer is there and carries verdict badges
    assert 'class="badge' in text


def write_theory(tmp: Path, config: dict[str, Any]) -> tuple[Path, Path]:
    """A synthetic theory table over the config's own names: one row flagged with a caveat,
    one flagged without, one violated ordering; and a skipped check."""
    scenarios, names = list(config["scenarios"]), list(config["estimators"])
    rows = []
    for i, sid in enumerate(scenarios):
        for e in names:
            rows.append((sid, e, "", "x1", "bias", 0.01, 0.01, 0.0, "=", 1.0, "exact", False, ""))
            rows.append(
                (
                    sid,
                    e,
                    "",
                    "all",
                    "rel_efficiency",
                    0.7,
                    0.01,
                    0.64,
                    "=",
                    6.0,
                    "asymptotic",
                    True,
                    "asymptotic <finite n>" if i == 0 else "",
                )
            )
        rows.append(
            (
                sid,
                names[-1],
                names[0],
                "x1",
                "variance_excess",
                -0.5,
                0.1,
                0.0,
                ">=",
                -5.0,
                "ordering",
                True,
                "",
            )
        )
    # the rows above give every theory column but these two, filled in below
    cols = [c for c in COLUMNS if c not in ("rel_diff", "n_used")]
    table = pd.DataFrame(rows, columns=cols)
    table["rel_diff"], table["n_used"] = np.nan, 50
    table.to_csv(tmp / "theory.csv", index=False)
    skipped = pd.DataFrame(
        [(scenarios[0], "coverage", names[0], "autocorrelated errors")],
        columns=["scenario", "check", "estimator", "reason"],
    )
    skipped.to_csv(tmp / "theory_skipped.csv", index=False)
    return tmp / "theory.csv", tmp / "theory_skipped.csv"


def test_theory_section(tmp_path: Path) -> None:
    estimators = {"plain": {"method": "ols"}, "weighted": {"method": "wls"}}
    config = make_study(tmp_path, 3, estimators)
    theory_csv, skipped_csv = write_theory(tmp_path, config)
    out = tmp_path / "report.html"
    context = report_context(
        *inputs(tmp_path),
        None,
        [tmp_path / "bias.png"],
        None,
        commit="0123abcd",
        theory_csv=theory_csv,
        theory_skipped_csv=skipped_csv,
    )
    render_report(context, out)
    text = out.read_text(encoding="utf-8")
    check_common(text, config)
    section = text.split('id="theory"')[1].split('id="results"')[0]
    n_rows = 3 * (2 * 2 + 1)
    assert f"{n_rows} comparisons in 3 scenarios; 9 flagged" in section
    assert "7 without an explanation" in section  # 4 efficiencies without a note, 3 orderings
    assert "asymptotic &lt;finite n&gt;" in section  # notes are escaped
    for sid in config["scenarios"]:
        assert f'id="th-{sid}"' in section
    assert section.count('<tr class="flagged">') == 9 + 9  # flagged table + per-scenario rows
    assert "≥ 0" in section and "autocorrelated errors" in section
    assert "<code>weighted</code> vs <code>plain</code>" in section
    assert "weighted L2" in text  # the WLS row of the methods table


def test_theory_section_without_a_table(tmp_path: Path) -> None:
    text, _ = render(tmp_path, 1, {"only_ls": {"method": "ols"}})
    section = text.split('id="theory"')[1].split('id="results"')[0]
    assert "was not given to the report" in section


def test_git_failure_is_tolerated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise OSError("no git")

    monkeypatch.setattr(subprocess, "run", boom)
    assert report.provenance.git_commit(tmp_path).startswith("not available")


def test_commit_of_the_workflows_checkout(tmp_path: Path) -> None:
    """The package cites the commit of the checkout it was imported from, or, when installed
    (no checkout around it), none unless the workflow names its own."""
    assert Path(__file__).resolve().parents[1] == report.provenance.REPO_ROOT
    assert report.provenance.git_commit(None).startswith("not available")


def test_missing_benchmarks_and_figures(tmp_path: Path) -> None:
    make_study(tmp_path, 2, {"a": {"method": "ols"}, "b": {"method": "lad"}})
    out = tmp_path / "r.html"
    render_report(report_context(*inputs(tmp_path), None, [], tmp_path / "nowhere", commit=""), out)
    text = out.read_text(encoding="utf-8")
    assert "No figures were produced." in text and "No benchmark files found." in text


def test_methods_and_anchors_come_from_estimators_csv(tmp_path: Path) -> None:
    """The methods table shows estimators.csv's words, and an estimator the file marks as a
    sweep member (not an anchor) leaves the per-scenario tables."""
    make_study(tmp_path, 2, {"a": {"method": "ols"}, "b": {"method": "lad"}})
    *args, claims_csv = inputs(tmp_path)
    table = pd.read_csv(tmp_path / "estimators.csv", keep_default_na=False)
    table.loc[table["estimator"] == "b", "loss_text"] = "absolute loss, as the file says"
    table.to_csv(tmp_path / "estimators.csv", index=False)
    out = tmp_path / "r.html"
    render_report(report_context(*args, claims_csv, None, [], None, commit=""), out)
    text = out.read_text(encoding="utf-8")
    assert "absolute loss, as the file says" in text
    results = text.split('id="results"')[1].split('id="figures"')[0]
    assert "<code>b</code>" in results
    table.loc[table["estimator"] == "b", "anchor"] = False
    table.to_csv(tmp_path / "estimators.csv", index=False)
    render_report(report_context(*args, claims_csv, None, [], None, commit=""), out)
    results = out.read_text(encoding="utf-8").split('id="results"')[1].split('id="figures"')[0]
    assert "<code>b</code>" not in results and "<code>a</code>" in results
