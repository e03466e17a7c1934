"""The section "Neural networks: does L2 still win?", and the front page's network row.

Why: the question is about networks. The study trains a small network with each loss on a
nonlinear mean (``response.function``) and judges the fitted curve by its integrated squared
error (``ise``, ∫(f̂ − f)² on [0, 1]) with its MCSE, beside the linear fits' best line. Each
statement is a row first (:func:`network_rows`, :func:`network_verdicts`): per error law at the
largest n, the L2 network against the best robust one, z from the two MCSEs combined as
independent (the fits share datasets, so a paired MCSE would be smaller: conservative).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lossstudy import methods
from lossstudy.figures.networks import CURVES_PREFIX, cell_errors, network_losses, panel_members
from lossstudy.mcse import Z_TIE, format_pm
from lossstudy.responses import FUNCTIONS
from lossstudy.trained import loss_name

__all__ = [
    "edge_rows",
    "edge_sentence",
    "front_sentence",
    "network_rows",
    "network_section",
    "network_verdicts",
]

MEASURES = ("ise", "test_mse", "test_mae", "divergence", "sharpness")
#: error laws under which least squares is expected to keep up (light tails)
LIGHT_TAILS = frozenset({"normal"})


def _law(info: pd.DataFrame, sid: str) -> str:
    """The cell's error law in words: "normal", "t(2)", "Cauchy"."""
    return cell_errors(info.loc[sid]) if sid in info.index else ""


def _function(info: pd.DataFrame, sid: str) -> str:
    """The cell's mean function by name ("sine", "heavisine"; "" when not recorded)."""
    if sid not in info.index or "response.function" not in info.columns:
        return ""
    name = info.at[sid, "response.function"]
    return str(name) if pd.notna(name) else ""


def network_rows(
    perf: pd.DataFrame, scen: pd.DataFrame, estimators: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per (cell, estimator) of the cells with a network member: each measure of
    :data:`MEASURES` and its MCSE (NaN where not computed), whether it is a network, its loss,
    the cell's mean function, error law and n."""
    nets = network_losses(estimators)
    cols = ["scenario", "base", "n", "function", "errors", "estimator", "network", "loss"]
    cols += [c for m in MEASURES for c in (m, f"{m}_mcse")]
    if not nets or perf.empty:
        return pd.DataFrame(columns=cols)
    model = perf[(perf["term"].astype(str) == "model") & perf["measure"].isin(MEASURES)]
    cells = set(model.loc[model["estimator"].isin(list(nets)), "scenario"].astype(str))
    info = scen.set_index(scen["scenario"].astype(str))
    rows = []
    for sid in sorted(cells):
        sub = model[model["scenario"].astype(str) == sid]
        for est, grp in sub.groupby("estimator", sort=False):
            name = str(est)
            spec = estimators.get(name)
            if spec is None:
                continue
            values = {m: (math.nan, math.nan) for m in MEASURES}
            for r in grp.itertuples(index=False):
                values[str(r.measure)] = (float(r.value), float(r.mcse))
            row = {
                "scenario": sid,
                "base": str(info.at[sid, "base"]) if sid in info.index else sid,
                "n": int(info.at[sid, "n"]) if sid in info.index else 0,
                "function": _function(info, sid),
                "errors": _law(info, sid),
                "estimator": name,
                "network": name in nets,
                "loss": str(methods.fit_for(spec).loss),
            }
            for m, (v, s) in values.items():
                row[m], row[f"{m}_mcse"] = v, s
            rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["base", "n", "network"], ascending=[True, True, False], kind="stable")


#: the paired sign test's two-sided level: the normal tail of the study's tie rule (2 MCSE)
P_TIE = math.erfc(Z_TIE / math.sqrt(2.0))


def paired_ise(
    estimates_dir: str | Path | None, cells: Sequence[str], names: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Per cell: its per-replicate ise, replicates × the estimators ``names`` (from the cell's
    estimates; cells without a file are left out)."""
    out: dict[str, pd.DataFrame] = {}
    if estimates_dir is None:
        return out
    for sid in cells:
        path = Path(estimates_dir) / f"{sid}.parquet"
        if not path.exists():
            continue
        est = pd.read_parquet(path, columns=["estimator", "replicate", "term", "ise"])
        est = est[(est["term"] == "model") & est["estimator"].isin(list(names))]
        out[sid] = est.pivot(index="replicate", columns="estimator", values="ise")
    return out


def _sign_test(l2: pd.Series, other: pd.Series) -> tuple[int, int, float]:
    """Replicates where the L2 fit's ise is the larger, replicates with a difference, and the
    exact two-sided binomial p of that count under "either is as likely larger"."""
    from scipy.stats import binomtest

    both = pd.concat([l2, other], axis=1).dropna().to_numpy(dtype=float)
    d = both[:, 0] - both[:, 1]
    worse, pairs = int(np.sum(d > 0)), int(np.sum(d != 0))
    return worse, pairs, float(binomtest(worse, pairs).pvalue) if pairs else math.nan


def network_verdicts(
    rows: pd.DataFrame, paired: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Per cell at the largest n: the L2 network's ise against the best network trained with
    another loss, the ratio, z (unpaired MCSEs) and a verdict: "L2 ties" (|z| ≤ Z_TIE),
    "L2 wins" or "L2 loses".

    With ``paired`` (:func:`paired_ise`), also the paired sign test over replicates (``worse``
    of ``pairs`` replicates where L2's ise is larger, ``sign_p``); where the means tie under
    heavy-tailed errors (not :data:`LIGHT_TAILS`), it decides at the same level
    (:data:`P_TIE`) and ``test`` says "sign". Why: under such errors the L2 fit's mean ise and
    its MCSE are both carried by a few wild replicates (the MCSE of a mean without a finite
    variance is no guide), so the means can "tie" while the L2 curve is the worse one in every
    replicate. Under light tails the means decide alone."""
    cols = ["scenario", "base", "function", "errors", "n", "l2", "l2_ise", "l2_mcse", "best"]
    cols += ["best_ise"]
    cols += ["best_mcse", "ratio", "z", "worse", "pairs", "sign_p", "test", "verdict"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    top = rows[rows["n"] == rows["n"].max()]
    out = []
    for sid, grp in top[top["network"]].groupby("scenario", sort=True):
        ok = grp[pd.notna(grp["ise"]) & pd.notna(grp["ise_mcse"])]
        l2 = ok[ok["loss"] == "squared"]
        other = ok[ok["loss"] != "squared"]
        if l2.empty or other.empty:
            continue
        a = l2.sort_values("ise").iloc[0]
        b = other.sort_values("ise").iloc[0]
        se = math.hypot(float(a["ise_mcse"]), float(b["ise_mcse"]))
        z = (float(a["ise"]) - float(b["ise"])) / se if se > 0 else math.nan
        verdict = "L2 ties" if not abs(z) > Z_TIE else ("L2 loses" if z > 0 else "L2 wins")
        worse, pairs, p, test = 0, 0, math.nan, "mean"
        ise = (paired or {}).get(str(sid))
        if ise is not None and {a["estimator"], b["estimator"]} <= set(ise.columns):
            worse, pairs, p = _sign_test(ise[a["estimator"]], ise[b["estimator"]])
            if verdict == "L2 ties" and a["errors"] not in LIGHT_TAILS and p < P_TIE:
                verdict = "L2 loses" if 2 * worse > pairs else "L2 wins"
                test = "sign"
        out.append(
            {
                "scenario": sid,
                "base": a["base"],
                "function": a["function"],
                "errors": a["errors"],
                "n": int(a["n"]),
                "l2": a["estimator"],
                "l2_ise": float(a["ise"]),
                "l2_mcse": float(a["ise_mcse"]),
                "best": b["estimator"],
                "best_ise": float(b["ise"]),
                "best_mcse": float(b["ise_mcse"]),
                "ratio": float(a["ise"]) / float(b["ise"]) if float(b["ise"]) > 0 else math.nan,
                "z": z,
                "worse": worse,
                "pairs": pairs,
                "sign_p": p,
                "test": test,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(out, columns=cols)


def _z(z: float) -> str:
    """z to one decimal, without a minus sign on a value that rounds to zero."""
    text = f"{z:.1f}"
    return "0.0" if text == "-0.0" else text


def _sentence(v: pd.Series) -> str:
    law = v["errors"]
    l2 = format_pm(v["l2_ise"], v["l2_mcse"])
    best = format_pm(v["best_ise"], v["best_mcse"])
    mean = f" on the {v['function']} mean" if v.get("function") else ""
    head = f"With {law} errors{mean} (n = {v['n']}), the network trained with L2 has ISE {l2}"
    other = f"the best other loss ({v['best']}) {best}"
    if v["test"] == "sign":
        where = "further from" if v["verdict"] == "L2 loses" else "closer to"
        count = v["worse"] if v["verdict"] == "L2 loses" else v["pairs"] - v["worse"]
        return (
            f"{head}, {v['ratio']:.3g} times {other}; the means are only {abs(v['z']):.1f} MCSE "
            f"apart because a few replicates carry both the L2 mean and its MCSE, but the L2 "
            f"curve is {where} f in {count} of {v['pairs']} replicates (paired sign test, "
            f"p = {v['sign_p']:.1g})"
        )
    if v["verdict"] == "L2 ties":
        return f"{head}, {other}: a tie within Monte Carlo error (z = {_z(v['z'])})"
    if v["verdict"] == "L2 wins":
        return f"{head}, lower than {other} (z = {_z(v['z'])})"
    return f"{head}, {v['ratio']:.3g} times {other} (z = {_z(v['z'])})"


#: how the front page words each verdict, in the order it lists them
_VERBS = {"L2 ties": "ties", "L2 loses": "loses to", "L2 wins": "beats"}


def front_sentence(verdicts: pd.DataFrame) -> str:
    """The verdict rows in one sentence for the front page, grouped by verdict: each cell's
    law and mean, the two ISEs and the evidence (z, or the sign test's count)."""
    if verdicts.empty:
        return ""
    groups = []
    for verdict, verb in _VERBS.items():
        mine = verdicts[verdicts["verdict"] == verdict]
        if mine.empty:
            continue
        items = []
        for v in mine.itertuples(index=False):
            evidence = (
                f"worse in {v.worse} of {v.pairs} replicates"
                if v.test == "sign"
                else f"z = {_z(v.z)}"
            )
            mean = f", {v.function} mean" if v.function else ""
            items.append(
                f"{v.errors} errors{mean} (ISE {format_pm(v.l2_ise, v.l2_mcse)} against "
                f"{format_pm(v.best_ise, v.best_mcse)}, {evidence})"
            )
        groups.append(f"{verb} the best other loss under " + "; ".join(items))
    n = int(verdicts["n"].max())
    return f"At n = {n}, the network trained with L2 " + ", and ".join(groups)


def edge_rows(rows: pd.DataFrame, estimators: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The networks that record their sharpness (full-batch GD on the squared loss), at the
    largest n: step size η, steps, sharpness ± MCSE at the last step, 2/η, their ratio and the
    share of diverged runs (sharpness is over the runs that did not diverge)."""
    cols = ["scenario", "estimator", "n", "lr", "steps", "sharpness", "sharpness_mcse"]
    cols += ["limit", "ratio", "divergence"]
    if rows.empty or "sharpness" not in rows.columns:
        return pd.DataFrame(columns=cols)
    mine = rows[rows["network"] & pd.notna(rows["sharpness"])]
    if mine.empty:
        return pd.DataFrame(columns=cols)
    mine = mine[mine["n"] == mine["n"].max()]
    out = []
    for r in mine.itertuples(index=False):
        spec = estimators.get(str(r.estimator), {})
        lr = float(spec.get("lr", math.nan))
        limit = 2.0 / lr if lr > 0 else math.nan
        out.append(
            {
                "scenario": r.scenario,
                "estimator": r.estimator,
                "n": int(r.n),
                "lr": lr,
                "steps": spec.get("steps"),
                "sharpness": float(r.sharpness),
                "sharpness_mcse": float(r.sharpness_mcse),
                "limit": limit,
                "ratio": float(r.sharpness) / limit,
                "divergence": float(r.divergence) if pd.notna(r.divergence) else 0.0,
            }
        )
    return pd.DataFrame(out, columns=cols).sort_values(["scenario", "lr"], kind="stable")


def edge_sentence(edge: pd.DataFrame) -> str:
    """One sentence over the rows of :func:`edge_rows` (empty: "")."""
    if edge.empty:
        return ""
    first = edge.iloc[0]
    parts = []
    for r in edge.itertuples(index=False):
        text = (
            f"η = {r.lr:g}: sharpness {format_pm(r.sharpness, r.sharpness_mcse)} against "
            f"2/η = {r.limit:.3g} ({r.ratio:.2f} of it)"
        )
        if r.divergence > 0:
            text += f", {r.divergence:.0%} of runs diverged (sharpness over the others)"
        parts.append(text)
    z = (edge["sharpness"] - edge["limit"]) / edge["sharpness_mcse"]
    above = edge.loc[z > Z_TIE, "lr"].tolist()
    if above:
        verdict = "above 2/η beyond Monte Carlo error at η = " + ", ".join(
            f"{lr:g}" for lr in above
        )
    else:
        verdict = "at or below 2/η within Monte Carlo error in every setting"
    return (
        f"Full-batch gradient descent on the squared loss ({first['scenario']}, after "
        f"{first['steps']} steps): {'; '.join(parts)}. The runs that did not diverge end "
        f"{verdict}. Cohen et al. (2021): under GD the sharpness rises toward 2/η (which can "
        f"take many more steps than these when 2/η is far above it) and does not stay above "
        f"it: the edge of stability"
    )


def _curve_figures(
    rows: pd.DataFrame, figures: Sequence[Mapping[str, Any]], verdicts: pd.DataFrame
) -> list[dict[str, Any]]:
    """The fitted-curve figures, each with an alt text that gives its cell's mean ISE per loss
    (the networks at their last checkpoint, as drawn), the one where L2 does worst against
    the best other loss (largest ratio of mean ISE) first: the report shows it open."""
    ratio = dict(zip(verdicts["base"].astype(str), verdicts["ratio"], strict=True))
    out = []
    for f in figures:
        name = str(f["name"])
        if not name.startswith(CURVES_PREFIX):
            continue
        mine = rows[(rows["base"] == name.removeprefix(CURVES_PREFIX)) & rows["network"]]
        if mine.empty:
            out.append(dict(f))
            continue
        mine = mine[mine["n"] == mine["n"].max()]
        losses = dict(zip(mine["estimator"], mine["loss"], strict=True))
        drawn = panel_members(list(mine["estimator"]), losses)
        mine = mine[mine["estimator"].isin(list(drawn.values()))]
        first = mine.iloc[0]
        ise = "; ".join(
            f"{loss_name(r.loss)} {format_pm(r.ise, r.ise_mcse)}" for r in mine.itertuples()
        )
        alt = (
            f"Fitted curves of five replicates per loss beside the true mean, "
            f"{first['scenario']} ({first['errors']} errors, n = {first['n']}); "
            f"mean ISE {ise}"
        )
        out.append({**f, "alt": alt})
    worst = {str(f["name"]): -ratio.get(str(f["name"]).removeprefix(CURVES_PREFIX), 0) for f in out}
    return sorted(out, key=lambda f: worst[str(f["name"])])


def network_section(
    perf: pd.DataFrame,
    scen: pd.DataFrame,
    estimators: Mapping[str, Mapping[str, Any]],
    figures: Sequence[Mapping[str, Any]] = (),
    estimates_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The section's context: tables per cell at the largest n, the verdict rows and their
    sentences, the fitted-curve figures among ``figures`` (the embedded figures), and the front
    page's summary (``summary``: None when no network was trained). ``estimates_dir`` gives
    the verdicts their paired sign tests (:func:`network_verdicts`)."""
    rows = network_rows(perf, scen, estimators)
    if rows.empty:
        return {"available": False, "summary": None, "figures": []}
    top_cells = rows.loc[rows["n"] == rows["n"].max(), "scenario"].unique()
    paired = paired_ise(estimates_dir, list(top_cells), list(network_losses(estimators)))
    verdicts = network_verdicts(rows, paired)
    edge = edge_rows(rows, estimators)
    top = rows[rows["n"] == rows["n"].max()]
    tables = []
    for sid, grp in top.groupby("scenario", sort=True):
        # every network, and one linear fit per loss (the first in the config's order: OLS
        # stands for its other-SE twins and the ridge sweep; all are in performance.csv)
        lines = grp[~grp["network"]].drop_duplicates("loss")
        grp = pd.concat([grp[grp["network"]], lines])
        shown = []
        for r in grp.itertuples(index=False):
            cells = {
                m: format_pm(getattr(r, m), getattr(r, f"{m}_mcse"))
                if pd.notna(getattr(r, m))
                else "–"
                for m in MEASURES
            }
            shown.append(
                {
                    "estimator": r.estimator,
                    "fit": "network" if r.network else "linear, exact",
                    "loss": loss_name(r.loss),
                    **cells,
                }
            )
        first = grp.iloc[0]
        tables.append({"scenario": sid, "errors": first["errors"], "rows": shown})
    light = verdicts[verdicts["errors"].isin(LIGHT_TAILS)]
    heavy = verdicts[~verdicts["errors"].isin(LIGHT_TAILS)]
    summary = {
        "light": light.to_dict("records"),
        "heavy": heavy.to_dict("records"),
        "sentences": [_sentence(v) for _, v in verdicts.iterrows()],
        "front": front_sentence(verdicts),
    }
    functions = dict.fromkeys(f for f in rows["function"] if f in FUNCTIONS)
    return {
        "available": True,
        "n": int(rows["n"].max()),
        # the mean functions of the cells, as formulas, for the section's first sentence
        "means": [FUNCTIONS[f].formula for f in functions],
        "tables": tables,
        "figures": _curve_figures(rows, figures, verdicts),
        "edge": edge.to_dict("records"),
        "edge_sentence": edge_sentence(edge),
        "sentences": summary["sentences"],
        "summary": summary,
    }
