"""The study's HTML report: one self-contained file rendered from a Jinja2 template.

:func:`render_report` gathers everything the template shows: the short answer
(:mod:`lossstudy.answer`), the ADEMP design (scenarios with the Gauss–Markov assumptions they
meet or break, estimands, methods, performance measures, replicates), the check of the
simulation against exact and asymptotic theory (:mod:`lossstudy.theory`), per-scenario results with
their Monte Carlo standard errors, the figures (embedded as base64 PNG), failures and how they
were handled, and what is needed to reproduce the run (config, seed, versions, commit, wall time
per rule). Figures and CSS are inlined, so the file opens from disk with no network access.
Nothing in the template names a scenario or an estimator.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import html
import json
import math
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from lossstudy.answer import (
    ASSUMPTIONS,
    answer_table,
    estimator_roles,
    format_pm,
    scenario_groups,
)
from lossstudy.answer.table import (
    claim_groups,
    multiplicity_of,
    read_claims_csv,
    write_claims_csv,
)
from lossstudy.io import write_text
from lossstudy.moments import moment_rule_table
from lossstudy.runtimes import rule_wall_times

__all__ = ["MEASURE_DEFINITIONS", "METHOD_LOSSES", "render_report", "report_context"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The checkout this copy of the package was imported from, whose commit the report cites by
#: default; None when the package is installed (site-packages is no checkout of this workflow,
#: even when it lies inside some git repository).
_CHECKOUT = Path(__file__).resolve().parents[2]
REPO_ROOT: Path | None = _CHECKOUT if (_CHECKOUT / "Snakefile").is_file() else None
PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "seaborn",
    "matplotlib",
    "snakemake",
    "pyarrow",
    "jinja2",
    "lossstudy",
)

#: measure -> (label, definition, MCSE), after Morris, White & Crowther (2019), Table 6.
MEASURE_DEFINITIONS: dict[str, tuple[str, str, str]] = {
    "bias": ("Bias", "mean of d = estimate − true value", "SD(d) / √R"),
    "empse": ("Empirical SE", "SD of d over replicates", "EmpSE / √(2(R − 1))"),
    "mse": ("MSE", "mean of d²", "SD(d²) / √R"),
    "rmse": ("RMSE", "√MSE", "MCSE(MSE) / (2 RMSE)"),
    "rel_precision": (
        "Relative precision",
        "100 [(EmpSE_ref / EmpSE)² − 1], paired with the reference",
        "200 (EmpSE_ref/EmpSE)² √((1 − ρ²)/(R − 1))",
    ),
    "rel_efficiency": (
        "Relative efficiency",
        "(EmpSE_ref / EmpSE)²; > 1: less variable than the reference",
        "as relative precision / 100",
    ),
    "rel_mse": (
        "Relative MSE",
        "MSE_ref / MSE; > 1: lower MSE than the reference",
        "delta method, paired",
    ),
    "modse": ("Model SE", "√(mean of the reported SE²)", "√(Var(SE²) / (4 R ModSE²))"),
    "rel_error_modse": (
        "Relative error in model SE",
        "100 (ModSE / EmpSE − 1)",
        "100 (ModSE/EmpSE) √(Var(SE²)/(4R ModSE⁴) + 1/(2(R − 1)))",
    ),
    "coverage": ("Coverage", "share of intervals containing the true value", "√(C(1 − C)/R)"),
    "be_coverage": (
        "Bias-eliminated coverage",
        "share of intervals containing true value + bias",
        "√(B(1 − B)/R)",
    ),
    "rejection": (
        "Rejection rate",
        "share of intervals excluding 0 (power, or type I error for a zero slope)",
        "√(P(1 − P)/R)",
    ),
    "median_bias": (
        "Median bias",
        "median of d (exists without moments)",
        "order statistics around the median",
    ),
    "mad": ("MAD", "1.4826 × median |d − median d| (exists without moments)", "bootstrap, 200"),
    "failure_rate": (
        "Failure rate",
        "share of replicates whose fit did not succeed (status ≠ ok)",
        "√(F(1 − F)/R)",
    ),
}

#: method -> (loss, penalty, intervals); methods are the config's fixed vocabulary.
METHOD_LOSSES: dict[str, tuple[str, str, str]] = {
    "ols": ("L2: Σ rᵢ²", "none", "t, n − p df; classical, HC0–HC3 or HAC (Newey–West) SE"),
    "wls": (
        "weighted L2: Σ wᵢ rᵢ², wᵢ = 1/(1 + s·xⱼ²) fixed",
        "none",
        "t, n − p df; classical WLS SE",
    ),
    "lad": ("L1: Σ |rᵢ|", "none", "t, n − p df; kernel (Hall–Sheather) SE"),
    "huber": ("Huber: Σ ρ_k(rᵢ/s), MAD scale s", "none", "normal (z); H1 covariance"),
    "ridge": ("L2: Σ rᵢ²", "λ Σ βⱼ² on the slopes", "none: biased by design"),
}

_TABLE_MEASURES = (
    "bias",
    "empse",
    "mse",
    "rel_efficiency",
    "rel_mse",
    "coverage",
    "median_bias",
    "mad",
    "failure_rate",
)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _read_perf(path: str | Path) -> pd.DataFrame:
    perf = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "note" in perf:
        perf["note"] = perf["note"].astype(object).where(perf["note"].notna(), "").astype(str)
    else:
        perf["note"] = ""
    for col in ("scenario", "estimator", "term", "measure"):
        perf[col] = perf[col].astype(str)
    perf["defined"] = perf["defined"].map(
        lambda v: str(v).strip().lower() in ("true", "1") if isinstance(v, str) else bool(v)
    )
    return perf


def _norm(value: Any) -> Any:
    """Comparable form of a knob value read back from CSV or from the config."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    text = str(value).strip()
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    try:
        return _norm(json.loads(text))
    except (ValueError, TypeError):
        return text


def _show(value: Any) -> str:
    v = _norm(value)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


def _study_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    from lossstudy.config import BUILTIN_DEFAULTS, deep_merge, flatten

    return flatten(deep_merge(BUILTIN_DEFAULTS, config.get("defaults") or {}))


def _normalise_estimators(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    from lossstudy.config import ESTIMATOR_PARAMETERS

    out = {}
    for name, spec in (config.get("estimators") or {}).items():
        spec = dict(spec or {})
        method = spec.get("method", "unknown")
        out[str(name)] = {"method": method, **ESTIMATOR_PARAMETERS.get(method, {}), **spec}
    return out


def _study_estimators(
    config: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], list[str] | None, dict[str, dict[str, Any]]]:
    """Estimator specs with sweeps expanded, the anchors shown per scenario, and the sweep
    members; falls back to the raw config for configs that are not a whole study (tests)."""
    from lossstudy.config import load_study

    try:
        study = load_study(config)
    except Exception:  # noqa: BLE001 - a partial config: describe what it names
        return _normalise_estimators(config), None, {}
    return dict(study.estimators), study.anchor_estimators(), dict(study.estimator_sweeps)


def _sweeps(
    crossovers_csv: str | Path | None,
    optima_csv: str | Path | None,
    scen: pd.DataFrame,
    level: float,
) -> dict[str, Any]:
    """Crossovers and optima in words and as a table (``lossstudy.sweeps``)."""
    from lossstudy.figures import optimum_cells
    from lossstudy.sweeps.words import crossover_sentences, optimum_sentences

    out: dict[str, Any] = {
        "available": False,
        "sentences": [],
        "coverage": [],
        "rows": [],
        "optima": [],
    }
    if crossovers_csv is None or not Path(crossovers_csv).exists():
        return out
    cross = pd.read_csv(crossovers_csv, keep_default_na=False, na_values=[""])
    opt = (
        pd.read_csv(optima_csv, keep_default_na=False, na_values=[""])
        if optima_csv is not None and Path(optima_csv).exists()
        else pd.DataFrame(columns=["cell"])
    )
    words = pd.concat(
        [crossover_sentences(cross, level), optimum_sentences(opt, optimum_cells(scen))],
        ignore_index=True,
    )

    def num(v: Any) -> str:
        f = float(v) if pd.notna(v) else math.nan
        return f"{f:.4g}" if math.isfinite(f) else ""

    rows = [
        {
            "scenario": r.scenario,
            "knob": r.knob,
            "fixed": r.fixed if isinstance(r.fixed, str) else "",
            "estimator": r.estimator,
            "versus": r.versus,
            "measure": r.measure,
            "bracket": f"{num(r.bracket_low)}–{num(r.bracket_high)}" if num(r.crossing) else "",
            "crossing": num(r.crossing),
            "ci": f"{num(r.ci_low)}–{num(r.ci_high)}" if num(r.crossing) else "",
            "theory": num(r.theory),
            "note": r.note if isinstance(r.note, str) else "",
        }
        for r in cross.itertuples(index=False)
        if r.measure in ("rel_mse", "coverage") and (num(r.crossing) or num(r.theory))
    ]
    optima = [
        {
            "scenario": r.scenario,
            "fixed": r.fixed if isinstance(r.fixed, str) else "",
            "estimator": r.estimator,
            "parameter": r.parameter,
            "argmin": num(r.argmin),
            "ci": f"{num(r.ci_low)}–{num(r.ci_high)}",
            "theory": num(r.theory),
            "note": r.note if isinstance(r.note, str) else "",
        }
        for r in opt.itertuples(index=False)
        if r.cell in set(optimum_cells(scen))
    ]
    coverage = words["measure"] == "coverage"
    return {
        "available": True,
        "sentences": words[~coverage].to_dict("records"),
        "coverage": words[coverage].to_dict("records"),
        "rows": rows,
        "n_rows": len(cross),
        "optima": optima,
        "n_optima": len(opt),
    }


def _front(
    perf: pd.DataFrame,
    scen_all: pd.DataFrame,
    scen: pd.DataFrame,
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str,
    term: str,
    crossovers_csv: str | Path | None,
    optima_csv: str | Path | None,
) -> dict[str, Any]:
    """The answer in one screen (:mod:`lossstudy.frontpage`): at most six sentences."""
    from lossstudy.figures import optimum_cells
    from lossstudy.frontpage import front_sentences, scoreboard

    def read(path: str | Path | None) -> pd.DataFrame | None:
        if path is None or not Path(path).exists():
            return None
        return pd.read_csv(path, keep_default_na=False, na_values=[""])

    shown = list(dict.fromkeys(perf["estimator"].astype(str)))
    board = scoreboard(perf, scen, shown, estimators, term)
    if board.empty:
        return {"sentences": []}
    words = front_sentences(
        board,
        scen_all,
        read(crossovers_csv),
        read(optima_csv),
        optimum_cells(scen_all),
        reference or "",
    )
    return {"sentences": words.to_dict("records")}


def _reference(config: Mapping[str, Any], estimators: Mapping[str, Mapping[str, Any]]) -> str:
    ref = config.get("reference")
    if ref:
        return str(ref)
    return next((n for n, e in estimators.items() if e.get("method") == "ols"), "")


def _versions() -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for pkg in PACKAGES:
        try:
            out.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            out.append((pkg, "not installed"))
    return out


def _git_commit(root: str | Path | None = REPO_ROOT) -> str:
    if root is None:
        return "not available (installed package, no checkout given)"
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "not available (git not found)"
    if res.returncode != 0 or not res.stdout.strip():
        return "not available (not a git checkout)"
    return res.stdout.strip()


def _seconds(s: float) -> str:
    if not np.isfinite(s):
        return "--"
    if s < 120:
        return f"{s:.1f} s"
    return str(_dt.timedelta(seconds=round(s)))


def _figure(path: Path, captions: Mapping[str, str] | None = None) -> dict[str, str] | None:
    from lossstudy.figures import CAPTIONS

    suffix = path.suffix.lower()
    if suffix == ".png":
        mime = "image/png"
    elif suffix == ".svg":
        mime = "image/svg+xml"
    else:
        return None
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = path.stem
    return {
        "name": name,
        "title": name.replace("_", " ").capitalize(),
        "caption": CAPTIONS.get(name, "") or (captions or {}).get(name, ""),
        "src": f"data:{mime};base64,{data}",
        "anchor": f"fig-{name}",
    }


def _sweep_captions(
    scen: pd.DataFrame,
    families: Mapping[str, Mapping[str, Any]],
    config: Mapping[str, Any],
    level: float,
) -> dict[str, str]:
    """Captions of the figures drawn once per sweep, from the sweep they show."""
    from lossstudy.figures import (
        OPTIMUM_CAPTION,
        OPTIMUM_PREFIX,
        SWEEP_CAPTION,
        SWEEP_PREFIX,
        optimum_cells,
    )
    from lossstudy.sweeps.series import sweep_series

    out: dict[str, str] = {}
    reference = str(config.get("reference") or "the reference")
    for s in sweep_series(scen):
        name = f"{SWEEP_PREFIX}{s.base}"
        if name in out:
            continue
        out[name] = SWEEP_CAPTION.format(
            base=s.base,
            knob=s.knob,
            fixed=", ".join(s.fixed) or "series",
            measure="relative MSE",
            reference=reference,
            theory="the asymptotic relative efficiency of LAD and Huber along error sweeps; for "
            "linear estimators the exact moments at each swept value on that cell's fixed design, "
            "joined by straight lines",
            level=level,
        )
    cells = optimum_cells(scen) if len(scen) else []
    where = ", ".join(sorted({str(b) for b in scen.loc[scen["scenario"].isin(cells), "base"]}))
    for meta in families.values():
        name = f"{OPTIMUM_PREFIX}{meta['family']}"
        out.setdefault(
            name,
            OPTIMUM_CAPTION.format(
                family=meta["family"], parameter=meta["parameter"], scenario=where
            ),
        )
    return out


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------


def _scenario_rows(
    scen: pd.DataFrame, config: Mapping[str, Any], meta: pd.DataFrame
) -> list[dict[str, Any]]:
    defaults = _study_defaults(config)
    skip = {"scenario", "base", "replicates", "n", "gauss_markov", *ASSUMPTIONS}
    knob_cols = [c for c in scen.columns if c not in skip and not c.endswith("_why")]
    group_of = dict(zip(meta["scenario"], meta["group"], strict=True))
    rows = []
    for rec in scen.to_dict("records"):
        sid = str(rec["scenario"])
        changed = []
        for col in knob_cols:
            v = _norm(rec.get(col))
            if v is None:
                continue
            if col in defaults and _norm(defaults[col]) == v:
                continue
            changed.append(f"{col} = {_show(v)}")
        flags = []
        for a in ASSUMPTIONS:
            state = str(rec.get(a, ""))
            why = rec.get(f"{a}_why")
            why = "" if why is None or (isinstance(why, float) and math.isnan(why)) else str(why)
            if a == "normal_errors" and state == "breaks" and why == "normal":
                why = "normal, but not iid N(0, σ²) given X"
            flags.append({"name": a, "state": state, "why": why})
        rows.append(
            {
                "id": sid,
                "group": group_of.get(sid, sid),
                "base": str(rec.get("base", sid)),
                "n": _show(rec.get("n")),
                "replicates": _show(rec.get("replicates")),
                "changed": changed,
                "flags": flags,
                "gauss_markov": str(rec.get("gauss_markov", "")),
                "breaks": [f for f in flags if f["state"] == "breaks"],
            }
        )
    return rows


def _methods(estimators: Mapping[str, Mapping[str, Any]], reference: str) -> list[dict[str, Any]]:
    rows = []
    for name, spec in estimators.items():
        method = str(spec.get("method"))
        loss, penalty, intervals = METHOD_LOSSES.get(method, (method, "?", "?"))
        params = {k: v for k, v in spec.items() if k != "method"}
        if method == "ridge":
            penalty = f"λ = {_show(params.get('penalty'))}: λ Σ βⱼ² on the slopes"
        if method == "ols":
            intervals = f"t, n − p df; {params.get('se', 'classical')} SE"
        if method == "wls":
            j, g = params.get("predictor", 1), _show(params.get("strength", 1.0))
            loss = f"weighted L2: Σ wᵢ rᵢ², fixed wᵢ = 1/(1 + {g}·x{j}ᵢ²)"
        rows.append(
            {
                "name": name,
                "method": method,
                "loss": loss,
                "penalty": penalty,
                "params": ", ".join(f"{k} = {_show(v)}" for k, v in params.items()) or "none",
                "intervals": intervals,
                "reference": name == reference,
            }
        )
    return rows


def _cell(
    perf_idx: Mapping[tuple[str, str, str, str], Any],
    scenario: str,
    estimator: str,
    term: str,
    measure: str,
    notes: dict[str, int],
) -> dict[str, Any]:
    r = perf_idx.get((scenario, estimator, term, measure))
    if r is None:
        return {"text": "", "value": math.nan, "mcse": math.nan, "ok": False, "note": None}
    value, mcse, defined = float(r.value), float(r.mcse), bool(r.defined)
    text = format_pm(value, mcse)
    note_id = None
    if r.note:
        note_id = notes.setdefault(r.note, len(notes) + 1)
    ok = defined and np.isfinite(value)
    return {
        "text": text if np.isfinite(value) else "--",
        "value": value,
        "mcse": mcse,
        "ok": ok,
        "undefined": not defined,
        "note": note_id,
        "best": False,
    }


def _mark_best(cells: list[dict[str, Any]], key: Any) -> None:
    usable = [c for c in cells if c.get("ok")]
    if len(usable) < 2:
        return
    best = min(key(c["value"]) for c in usable)
    for c in usable:
        if key(c["value"]) == best:
            c["best"] = True


def _results(
    perf: pd.DataFrame,
    scen_rows: list[dict[str, Any]],
    estimators: list[str],
    term: str,
    level: float,
) -> list[dict[str, Any]]:
    idx = {
        (r.scenario, r.estimator, r.term, r.measure): r
        for r in perf[
            ["scenario", "estimator", "term", "measure", "value", "mcse", "defined", "note"]
        ].itertuples(index=False)
    }
    terms = list(dict.fromkeys(perf["term"]))
    in_perf = set(perf["scenario"])
    groups: list[dict[str, Any]] = []
    for srow in scen_rows:
        s = srow["id"]
        if s not in in_perf:
            continue
        notes: dict[str, int] = {}
        table = []
        for e in estimators:
            row = {"estimator": e}
            for m in _TABLE_MEASURES:
                row[m] = _cell(idx, s, e, term, m, notes)
            b, sd = row["bias"], row["empse"]
            if b["ok"] and sd["ok"]:
                b2, var = b["value"] ** 2, sd["value"] ** 2
                row["bias2"] = f"{b2:.2g}"
                row["var"] = f"{var:.2g}"
                row["share"] = f"{100 * b2 / (b2 + var):.0f}%" if b2 + var > 0 else "--"
            else:
                row["bias2"] = row["var"] = row["share"] = "--"
            table.append(row)
        for m, key in (
            ("bias", abs),
            ("empse", lambda v: v),
            ("mse", lambda v: v),
            ("coverage", lambda v: abs(v - level)),
            ("median_bias", abs),
            ("mad", lambda v: v),
        ):
            _mark_best([row[m] for row in table], key)
        others = []
        for t in terms:
            if t == term:
                continue
            for e in estimators:
                cells = {
                    m: _cell(idx, s, e, t, m, notes) for m in ("bias", "empse", "mse", "coverage")
                }
                others.append({"term": t, "estimator": e, **cells})
        entry = {
            **srow,
            "table": table,
            "others": others,
            "notes": sorted(((i, n) for n, i in notes.items()), key=lambda t: t[0]),
        }
        if not groups or groups[-1]["group"] != srow["group"]:
            groups.append({"group": srow["group"], "scenarios": []})
        groups[-1]["scenarios"].append(entry)
    return groups


def _failures(perf: pd.DataFrame) -> list[dict[str, Any]]:
    fr = perf[(perf["measure"] == "failure_rate")]
    fr = fr[pd.to_numeric(fr["value"], errors="coerce").fillna(0) > 0]
    fr = fr.drop_duplicates(subset=["scenario", "estimator"], keep="first")
    return [
        {
            "scenario": r.scenario,
            "estimator": r.estimator,
            "rate": format_pm(float(r.value), float(r.mcse), digits=3),
            "n": int(r.n_used) if pd.notna(r.n_used) else 0,
            "note": r.note,
        }
        for r in fr.itertuples(index=False)
    ]


def _digits(mcse: float) -> int:
    if np.isfinite(mcse) and mcse > 0:
        return int(np.clip(1 - math.floor(math.log10(mcse)), 0, 6))
    return 4


def _theory(
    theory_csv: str | Path | None,
    skipped_csv: str | Path | None,
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    scen_rows: list[dict[str, Any]],
    estimators: Mapping[str, Mapping[str, Any]],
    reference: str,
    term: str,
) -> dict[str, Any]:
    """The section "Does the simulation agree with theory?" from ``results/theory.csv``."""
    from lossstudy.theory import P_CHANCE, QUANTITIES, Z_FLAG, outside_the_theorem

    empty = {"available": False, "z_flag": f"{Z_FLAG:g}"}
    if theory_csv is None or not Path(theory_csv).exists():
        return empty
    tab = pd.read_csv(theory_csv, keep_default_na=False, na_values=[""])
    if tab.empty:
        return {**empty, "available": True, "n_rows": 0, "scenarios": [], "summary": []}
    tab["note"] = tab["note"].fillna("").astype(str)
    tab["versus"] = tab["versus"].fillna("").astype(str)
    tab["flag"] = tab["flag"].map(lambda v: str(v).strip().lower() in ("true", "1"))
    for col in ("simulated", "mcse", "theoretical", "z"):
        tab[col] = pd.to_numeric(tab[col], errors="coerce")
    kinds = {"exact": 0, "asymptotic": 1, "ordering": 2}
    qorder = {q: i for i, q in enumerate(QUANTITIES)}

    def row(r: Any, notes: dict[str, int] | None) -> dict[str, Any]:
        digits = _digits(float(r.mcse))
        theo = float(r.theoretical)
        if r.relation == "=":
            theo_text = f"{theo:.{min(digits + 1, 7)}f}" if np.isfinite(theo) else "--"
        else:
            theo_text = f"{'≥' if r.relation == '>=' else '≤'} {theo:g}"
        note_id = None
        if notes is not None and r.note:
            note_id = notes.setdefault(r.note, len(notes) + 1)
        return {
            "scenario": r.scenario,
            "estimator": r.estimator,
            "versus": r.versus,
            "term": r.term,
            "quantity": QUANTITIES.get(r.quantity, r.quantity),
            "kind": r.kind,
            "simulated": format_pm(float(r.simulated), float(r.mcse)),
            "theoretical": theo_text,
            "z": f"{float(r.z):+.1f}" if np.isfinite(r.z) else "--",
            "flag": bool(r.flag),
            "note": r.note,
            "note_id": note_id,
        }

    summary = []
    for (kind, q), grp in sorted(
        tab.groupby(["kind", "quantity"]),
        key=lambda kv: (kinds.get(kv[0][0], 9), qorder.get(kv[0][1], 99)),
    ):
        flagged = grp[grp["flag"]]
        summary.append(
            {
                "kind": kind,
                "quantity": QUANTITIES.get(q, q),
                "rows": len(grp),
                "scenarios": grp["scenario"].nunique(),
                "agree": int((~grp["flag"]).sum()),
                "flagged": len(flagged),
                "explained": int((flagged["note"] != "").sum()),
                "chance": int(flagged["note"].str.contains("by chance alone", regex=False).sum()),
                "max_z": f"{grp['z'].abs().max():.1f}" if grp["z"].notna().any() else "--",
            }
        )
    # per-scenario detail for the scenarios and estimators the report shows (sweep anchors);
    # the summary and the flagged rows above cover every cell and estimator of the study
    order = [r["id"] for r in scen_rows]
    shown = set(perf["estimator"].astype(str))
    by_scenario = []
    for sid in order:
        sub = tab[(tab["scenario"] == sid) & tab["estimator"].astype(str).isin(shown)]
        if sub.empty:
            continue
        notes: dict[str, int] = {}
        rows = [row(r, notes) for r in sub.itertuples(index=False)]
        by_scenario.append(
            {
                "id": sid,
                "rows": rows,
                "n_flagged": int(sub["flag"].sum()),
                "kinds": ", ".join(
                    f"{(sub['kind'] == k).sum()} {k}" for k in kinds if (sub["kind"] == k).any()
                ),
                "notes": sorted(((i, n) for n, i in notes.items()), key=lambda t: t[0]),
            }
        )
    skipped: list[dict[str, Any]] = []
    if skipped_csv is not None and Path(skipped_csv).exists():
        sk = pd.read_csv(skipped_csv, keep_default_na=False, na_values=[""]).fillna("")
        for (check, reason), grp in sk.groupby(["check", "reason"], sort=False):
            where = [
                f"{r.scenario} ({r.estimator})" if r.estimator else str(r.scenario)
                for r in grp.itertuples(index=False)
            ]
            skipped.append({"check": check, "reason": reason, "where": where})
    gm = scen.loc[scen.get("gauss_markov", pd.Series(dtype=str)).astype(str) == "holds", "scenario"]
    n_exact = int((tab["kind"] == "exact").sum())
    flagged = tab[tab["flag"]]
    return {
        "available": True,
        "z_flag": f"{Z_FLAG:g}",
        "n_rows": len(tab),
        "n_scenarios": tab["scenario"].nunique(),
        "n_exact": n_exact,
        "chance": f"{n_exact * P_CHANCE:.1f}",
        "p_chance": f"{100 * P_CHANCE:.2f}",
        "n_flagged": len(flagged),
        "n_unexplained": int((flagged["note"] == "").sum()),
        "summary": summary,
        "flagged": [row(r, None) for r in flagged.itertuples(index=False)],
        "scenarios": by_scenario,
        "skipped": skipped,
        "outside": outside_the_theorem(perf, list(gm), estimators, reference or None, term),
        "term": term,
    }


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------


@dataclass
class _Tables:
    """The performance and scenario tables as the report reads them: every cell (``*_all``) and
    the cells and estimators the per-scenario sections show (the sweeps' anchors)."""

    perf_all: pd.DataFrame
    scen_all: pd.DataFrame
    perf: pd.DataFrame
    scen: pd.DataFrame
    estimators: dict[str, dict[str, Any]]
    families: dict[str, dict[str, Any]]
    term: str


def _study_tables(
    config: Mapping[str, Any], performance_csv: str | Path, scenarios_csv: str | Path, term: str
) -> _Tables:
    """Read both tables once; ``term`` falls back on the first slope the table has."""
    from lossstudy.sweeps.series import representative

    perf_all = _read_perf(performance_csv)
    scen_all = pd.read_csv(scenarios_csv)
    scen_all["scenario"] = scen_all["scenario"].astype(str)
    estimators, anchors, families = _study_estimators(config)
    perf, scen = representative(perf_all, scen_all, anchors)
    for e in dict.fromkeys(perf["estimator"]):
        estimators.setdefault(e, {"method": "unknown"})
    terms = list(dict.fromkeys(perf["term"]))
    if term not in terms:
        slopes = [t for t in terms if t != "intercept"]
        term = slopes[0] if slopes else (terms[0] if terms else term)
    return _Tables(perf_all, scen_all, perf, scen, estimators, families, term)


def _claims(
    tables: _Tables, config: Mapping[str, Any], theory_csv: str | Path | None
) -> pd.DataFrame:
    """The answer's claims and the scoreboard's, one row per comparison."""
    from lossstudy.frontpage import board_rows, scoreboard

    theory = None
    if theory_csv is not None and Path(theory_csv).exists():
        theory = pd.read_csv(theory_csv, keep_default_na=False, na_values=[""])
    perf, scen, estimators, term = tables.perf, tables.scen, tables.estimators, tables.term
    shown = list(dict.fromkeys(perf["estimator"].astype(str)))
    board = scoreboard(perf, scen, shown, estimators, term)
    return answer_table(
        perf,
        scen,
        _reference(config, estimators) or None,
        term,
        estimators=estimators,
        level=float(config.get("level", 0.95)),
        theory=theory,
        extra=board_rows(board, term) if not board.empty else (),
    )


def claims_table(
    config: Mapping[str, Any],
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    theory_csv: str | Path | None = None,
    *,
    term: str = "x1",
) -> pd.DataFrame:
    """Every claim of the answer, one row per comparison (:mod:`lossstudy.answer.table`), for
    the scenarios and estimators the per-scenario sections show (the sweeps' anchors)."""
    config = copy.deepcopy(dict(config))
    return _claims(_study_tables(config, performance_csv, scenarios_csv, term), config, theory_csv)


def write_claims(
    config: Mapping[str, Any],
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    theory_csv: str | Path | None,
    out_csv: str | Path,
    *,
    term: str = "x1",
) -> None:
    """Rule ``claims``: ``results/claims.csv`` (see :func:`claims_table`)."""
    write_claims_csv(
        claims_table(config, performance_csv, scenarios_csv, theory_csv, term=term), out_csv
    )


def report_context(
    config: Mapping[str, Any],
    performance_csv: str | Path,
    scenarios_csv: str | Path,
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
    claims_csv: str | Path | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as plain data (see :func:`render_report`)."""
    config = copy.deepcopy(dict(config))
    # per-scenario sections: the sweeps' anchors; the sweep section and figures: every cell
    tables = _study_tables(config, performance_csv, scenarios_csv, term)
    perf_all, scen_all, perf, scen = tables.perf_all, tables.scen_all, tables.perf, tables.scen
    estimators, families, term = tables.estimators, tables.families, tables.term
    level = float(config.get("level", 0.95))
    sweeps = _sweeps(crossovers_csv, optima_csv, scen_all, level)
    captions = _sweep_captions(scen_all, families, config, level)
    est_names = list(dict.fromkeys(perf["estimator"]))
    reference = _reference(config, estimators)
    meta = scenario_groups(scen)
    if claims_csv is not None and Path(claims_csv).exists():
        claims = read_claims_csv(claims_csv)
    else:
        claims = _claims(tables, config, theory_csv)
    scen_rows = _scenario_rows(scen, config, meta)
    reps = sorted({int(float(r)) for r in scen.get("replicates", pd.Series(dtype=float)).dropna()})
    if not reps and "replicates" in config:
        reps = [int(config["replicates"])]
    mcse_rows = [
        {
            "R": r,
            "coverage": f"{math.sqrt(level * (1 - level) / r):.4f}",
            "coverage_pct": f"{100 * math.sqrt(level * (1 - level) / r):.2f}",
            "worst": f"{math.sqrt(0.25 / r):.4f}",
        }
        for r in reps
        if r > 0
    ]
    defaults = _study_defaults(config)
    coefs = _norm(defaults.get("coefficients")) or []
    term_names = ["intercept"] + [f"x{j}" for j in range(1, len(coefs))]
    estimands = [
        {"term": t, "value": _show(v), "focus": t == term}
        for t, v in zip(term_names, coefs, strict=False)
    ]
    figs = []
    paths = [Path(f) for f in figures]
    pngs = {p.stem for p in paths if p.suffix.lower() == ".png"}
    for p in paths:
        if p.suffix.lower() == ".svg" and p.stem in pngs:
            continue
        if p.exists():
            fig = _figure(p, captions)
            if fig is not None:
                figs.append(fig)
    from lossstudy.figures import CAPTIONS

    order = {name: i for i, name in enumerate([*CAPTIONS, *captions])}
    figs.sort(key=lambda f: order.get(f["name"], len(order)))
    front = _front(perf, scen_all, scen, estimators, reference, term, crossovers_csv, optima_csv)
    front["figure"] = next((f for f in figs if f["name"] == "scoreboard"), None)
    figs = [f for f in figs if f["name"] != "scoreboard"]
    bench = rule_wall_times(benchmarks_dir)
    bench_total = float(sum(b["total"] for b in bench))
    roles = estimator_roles(est_names, estimators)
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
        "grid": {k: _show(v) for k, v in (config.get("grid") or {}).items()},
        "estimands": estimands,
        "methods": _methods(estimators, reference),
        "estimators": est_names,
        "ols_se": ols_se,
        "measures": [
            {"key": k, "label": v[0], "definition": v[1], "mcse": v[2]}
            for k, v in MEASURE_DEFINITIONS.items()
        ],
        "replicates": mcse_rows,
        "results": _results(perf, scen_rows, est_names, term, level),
        "figures": figs,
        "failures": _failures(perf_all),
        "sweeps": sweeps,
        "front": front,
        "n_cells": len(scen_all),
        "theory": _theory(
            theory_csv,
            theory_skipped_csv,
            perf,
            scen,
            scen_rows,
            estimators,
            reference,
            term,
        ),
        "config_yaml": yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        "seed": config.get("seed", ""),
        "versions": _versions(),
        "commit": commit if commit is not None else _git_commit(repository or REPO_ROOT),
        "benchmarks": [
            {
                **b,
                "total_s": _seconds(b["total"]),
                "mean_s": _seconds(b["mean"]),
                "max_s": _seconds(b["max"]),
            }
            for b in bench
        ],
        "bench_total": _seconds(bench_total),
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


def render_report(
    config: Mapping[str, Any],
    performance_csv: str | Path,
    scenarios_csv: str | Path,
    estimates_dir: str | Path | None,
    figures: Sequence[str | Path],
    benchmarks_dir: str | Path | None,
    out_html: str | Path,
    *,
    term: str = "x1",
    commit: str | None = None,
    repository: str | Path | None = None,
    command: str = "snakemake --cores 2",
    theory_csv: str | Path | None = None,
    theory_skipped_csv: str | Path | None = None,
    crossovers_csv: str | Path | None = None,
    optima_csv: str | Path | None = None,
    claims_csv: str | Path | None = None,
) -> None:
    """Render the self-contained HTML report to ``out_html`` (written atomically).

    ``config`` is the study config as a dict (Snakemake's ``config``), ``figures`` the PNG paths
    from :func:`lossstudy.figures.make_figures` (SVGs are skipped when the PNG is there),
    ``benchmarks_dir`` the root of the Snakemake benchmark TSVs (rule = first path component),
    ``term`` the coefficient the short answer and the tables focus on, ``commit`` overrides
    ``git rev-parse HEAD`` in ``repository`` (default: the checkout this package was imported
    from, if any) and ``command`` is the command shown to rerun the study;
    ``theory_csv`` and ``theory_skipped_csv`` (from :mod:`lossstudy.theory`) feed the section
    "Does the simulation agree with theory?" (it says so when they are not given);
    ``crossovers_csv`` and ``optima_csv`` (from :mod:`lossstudy.sweeps`) the answer to "when does
    L2 stop winning?"; ``claims_csv`` (:func:`write_claims`) the claims, which are derived in
    memory the same way when it is not given. Per-scenario sections show the sweeps' anchors and
    anchor estimators.
    """
    ctx = report_context(
        config,
        performance_csv,
        scenarios_csv,
        estimates_dir,
        figures,
        benchmarks_dir,
        term=term,
        commit=commit,
        repository=repository,
        command=command,
        theory_csv=theory_csv,
        theory_skipped_csv=theory_skipped_csv,
        crossovers_csv=crossovers_csv,
        optima_csv=optima_csv,
        claims_csv=claims_csv,
    )
    env = _environment()
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    text = env.get_template("report.html.j2").render(**ctx, css=css)
    write_text(out_html, text)
