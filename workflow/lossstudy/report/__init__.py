"""The study's HTML report: one self-contained file rendered from a Jinja2 template.

The report only renders: it reads the files the workflow wrote (``results/study.json``,
``estimators.csv``, the performance, scenario, claims, theory, crossover and optima tables,
the figures and the benchmark files) and recomputes nothing. :func:`report_context` gathers
what the template shows: the short answer (``claims.csv``), the ADEMP design (:mod:`.design`),
the check of the simulation against theory (:mod:`.theory_section`), per-scenario results with
their Monte Carlo standard errors and the failures (:mod:`.results`), the sweeps and the front
page (:mod:`.sweeps_section`), the figures embedded as base64 (:mod:`.figures_section`) and
what is needed to reproduce the run (:mod:`.provenance`), and gradient training beside the
exact fits (:mod:`.training_section`, "Does differentiability matter?"). Figures and CSS are
inlined, so the file opens from disk with no network access. Nothing in the template names a
scenario or an estimator.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from lossstudy.answer import ASSUMPTIONS, estimator_roles, scenario_groups
from lossstudy.answer.step import scoreboard_path, study_tables
from lossstudy.answer.table import claim_groups, multiplicity_of, read_claims_csv
from lossstudy.io import write_text
from lossstudy.measures import MEASURES
from lossstudy.moments import moment_rule_table
from lossstudy.studyfile import anchors, read_estimators, read_study, sweep_members
from lossstudy.trained import exact_fits

from . import design
from .classification_section import classification_section
from .figures_section import embedded_figures, figure_alts, per_sweep_names
from .long_tables import TOP_ROWS
from .network_section import network_section
from .prior_section import prior_section
from .provenance import REPO_ROOT, benchmarks, git_commit, versions
from .results import failures, scenario_results
from .sweeps_section import bias_lookup, front_page, read_scoreboard, sweeps_section
from .theory_section import theory_section
from .training_section import training_section
from .values import show

__all__ = ["REPO_ROOT", "render_report", "report_context"]

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def report_context(
    study_json: str | Path,
    estimators_csv: str | Path,
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    claims_csv: str | Path,
    estimates_dir: str | Path | None,
    figures: Sequence[str | Path],
    benchmarks_dir: str | Path | None,
    *,
    term: str = "x1",
    commit: str | None = None,
    repository: str | Path | None = None,
    command: str = "snakemake --cores 2",
    theory_csv: str | Path | None = None,
    theory_skipped_csv: str | Path | None = None,
    crossovers_csv: str | Path | None = None,
    optima_csv: str | Path | None = None,
    scoreboard_csv: str | Path | None = None,
    training_csv: str | Path | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as plain data, from the files the workflow wrote.

    ``study_json`` and ``estimators_csv`` are the workflow's ``results/study.json`` and
    ``results/estimators.csv`` (:mod:`lossstudy.studyfile`), ``claims_csv`` its
    ``results/claims.csv`` (:mod:`lossstudy.answer.step`), ``figures`` the PNG paths from
    :func:`lossstudy.figures.make_figures` (SVGs are skipped when the PNG is there),
    ``benchmarks_dir`` the root of the Snakemake benchmark TSVs (rule = first path component),
    ``term`` the coefficient the short answer and the tables focus on, ``commit`` overrides
    ``git rev-parse HEAD`` in ``repository`` (default: the checkout this package was imported
    from, if any), ``command`` the command shown to rerun the study; ``theory_csv`` and
    ``theory_skipped_csv`` feed the section "Does the simulation agree with theory?" (it says
    so when they are not given), ``crossovers_csv`` and ``optima_csv`` the answer to "when does
    L2 stop winning?"; ``scoreboard_csv`` (default: ``scoreboard.csv`` beside ``claims_csv``)
    the claims step's scoreboard, which the front page states; ``training_csv`` the training
    crossings (``results/training.csv``) that the section "Does differentiability matter?"
    tabulates. Per-scenario sections show the sweeps' anchors and anchor estimators.
    """
    study = read_study(study_json)
    config = study["config"]  # shown as run, never interpreted here
    members = read_estimators(estimators_csv)
    # per-scenario sections: the sweeps' anchors; the sweep section and figures: every cell
    tables = study_tables(study, anchors(members), performance_csv, scenarios_csv, term)
    perf_all, scen_all, perf, scen = tables.perf_all, tables.scen_all, tables.perf, tables.scen
    estimators, term = tables.estimators, tables.term
    level, reference = float(study["level"]), str(study["reference"])
    est_names = list(dict.fromkeys(perf["estimator"]))
    meta = scenario_groups(scen)
    claims = read_claims_csv(claims_csv)
    scen_rows = design.scenario_rows(scen, study["defaults"], meta)
    alts = figure_alts(
        perf, scen, perf_all, scen_all, term, reference, level,
        crossovers_csv, optima_csv, study["estimators"],
    )  # fmt: skip
    figs = embedded_figures(figures, scen_all, sweep_members(members), reference, level, alts)
    board = read_scoreboard(
        scoreboard_path(claims_csv) if scoreboard_csv is None else scoreboard_csv
    )
    training = training_section(members, perf_all, scen_all, figs, theory_csv, term, training_csv)
    roles = estimator_roles(est_names, estimators)
    prior = prior_section(
        theory_csv, study["estimators"], level, term, perf=perf_all, optima_csv=optima_csv,
        estimates_dir=estimates_dir, cells=list(scen["scenario"].astype(str)),
    )  # fmt: skip
    network = network_section(perf_all, scen_all, study["estimators"], figs, estimates_dir)
    front = front_page(
        board,
        scen_all,
        reference,
        crossovers_csv,
        optima_csv,
        claims=claims,
        roles=roles,
        training=training,
        bias=bias_lookup(perf, term),
        posterior=prior["summary"],
        network=network["summary"],
    )
    classification = classification_section(perf_all, scen_all, members, term)
    if classification.get("sentence"):  # L2 is the wrong choice for a classifier's training
        front["wrong"] = [*front.get("wrong", []), classification["sentence"]]
    front["figure"] = next((f for f in figs if f["name"] == "scoreboard"), None)
    drawn = {f["anchor"] for f in figs}
    for key in ("sentences", "rows", "wrong", "winners"):  # no link to a figure not drawn
        for c in front.get(key, []):
            if str(c.get("link", "")).startswith("fig-") and c["link"] not in drawn:
                c["link"] = "answer"
    shown = {f["name"] for f in [*training.get("figures", []), *network["figures"]]}  # in theirs
    bench, bench_total = benchmarks(benchmarks_dir)
    exact = exact_fits(est_names, estimators)
    trained = len(est_names) - len(exact)
    points = len({roles[e]["point"] for e in exact})
    ols_se = [f"{e} ({roles[e].get('se')})" for e in est_names if roles[e]["method"] == "ols"]
    return {
        "title": "Why L2? A Monte Carlo study of regression loss functions",
        "term": term,
        "level": level,
        "reference": reference,
        "claims": claim_groups(claims),
        "multiplicity": multiplicity_of(claims),
        "n_claims": int(claims["claim"].nunique()),
        "n_rows": len(claims),
        "unreliable_mark": "‡",
        "scenarios": scen_rows,
        "n_scenarios": len(scen_rows),
        "n_groups": len(dict.fromkeys(meta["group"])),
        "assumptions": list(ASSUMPTIONS),
        "config_defaults": yaml.safe_dump(
            config.get("defaults") or {}, sort_keys=False, allow_unicode=True
        ).strip(),
        "grid": {k: show(v) for k, v in (config.get("grid") or {}).items()},
        "estimands": design.estimands(study["defaults"], term),
        "methods": design.methods(members),
        "estimators": est_names,
        "n_trained": trained,
        "n_exact_points": points,
        "ols_se": ols_se,
        "measures": [
            {"key": m.name, "label": m.label, "definition": m.definition, "mcse": m.mcse}
            for m in MEASURES
        ],
        "replicates": design.replicate_rows(scen, study.get("replicates"), level),
        "results": scenario_results(perf, scen_rows, est_names, term, level),
        "figures": [f for f in figs if f["name"] != "scoreboard" and f["name"] not in shown],
        "sweep_figure_names": per_sweep_names(figs),
        "top_rows": TOP_ROWS,
        "training": training,
        "prior": prior,
        "classification": classification,
        "network": network,
        "failures": failures(perf_all),
        "sweeps": sweeps_section(crossovers_csv, optima_csv, scen_all, level),
        "front": front,
        "n_cells": len(scen_all),
        "theory": theory_section(
            theory_csv, theory_skipped_csv, perf, scen, scen_rows, estimators, reference, term
        ),
        "config_yaml": yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        "seed": study["seed"],
        "versions": versions(),
        "commit": commit if commit is not None else git_commit(repository or REPO_ROOT),
        "benchmarks": bench,
        "bench_total": bench_total,
        "command": command,
        "estimates_dir": str(estimates_dir) if estimates_dir is not None else "",
    }


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["esc"] = html.escape
    env.globals["moment_rule_table"] = moment_rule_table
    return env


def render_report(context: Mapping[str, Any], out_html: str | Path) -> None:
    """Render the self-contained HTML report of ``context`` (:func:`report_context`) to
    ``out_html`` (written atomically)."""
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    text = _environment().get_template("report.html.j2").render(**context, css=css)
    write_text(out_html, text)
