"""Human-readable tables: bias and variance side by side by estimator, each ± its MCSE."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from lossstudy.io import atomic_path, write_text
from lossstudy.measures import BY_NAME, names

#: the measures the tables show, and their column heads (:mod:`lossstudy.measures`)
TABLE_MEASURES = names(in_tables=True)
LABELS = {m: BY_NAME[m].short for m in TABLE_MEASURES}


def wide_table(perf: pd.DataFrame) -> pd.DataFrame:
    """One row per term × estimator; a value and an MCSE column per measure.

    ``<measure>_defined`` is False where the measure does not exist or could not be computed,
    so a reader of the CSV sees the same caveats as the tidy table.
    """
    sub = perf[perf["measure"].isin(TABLE_MEASURES)].copy()
    est_order = list(dict.fromkeys(sub["estimator"]))
    term_order = list(dict.fromkeys(sub["term"]))
    sub["defined"] = sub["defined"].astype(bool)
    wide = sub.pivot_table(
        index=["term", "estimator"],
        columns="measure",
        values=["value", "mcse", "defined"],
        dropna=False,
        aggfunc="first",
    )
    wide.columns = [m if kind == "value" else f"{m}_{kind}" for kind, m in wide.columns]
    cols = [
        c for m in TABLE_MEASURES for c in (m, f"{m}_mcse", f"{m}_defined") if c in wide.columns
    ]
    wide = wide[cols].reset_index()
    wide["term"] = pd.Categorical(wide["term"], term_order, ordered=True)
    wide["estimator"] = pd.Categorical(wide["estimator"], est_order, ordered=True)
    return wide.sort_values(["term", "estimator"]).reset_index(drop=True)


def _fmt(value: float, mcse: float, defined: bool) -> str:
    if value is None or not math.isfinite(value):
        return "--"
    digits = 3 if abs(value) < 100 else 1
    text = f"{value:.{digits}f}"
    if mcse is not None and math.isfinite(mcse):
        text += f" ({mcse:.{digits}f})"
    return text if defined else f"[{text}]"


def latex_table(wide: pd.DataFrame, scenario: str) -> str:
    """booktabs LaTeX: term × estimator rows, measures as columns, MCSE in parentheses.

    Written line by line, character for character what ``DataFrame.to_latex(caption=...,
    label=..., escape=True, multirow=True)`` writes for this frame of strings
    (tests/test_tables.py compares the two): pandas' writer goes through its Styler, whose
    import (jinja2, templates) cost a summary job ≈ 0.3 s, more than the table itself.
    """
    measures = [m for m in TABLE_MEASURES if m in wide.columns]
    cells = {
        m: [
            _fmt(v, s, bool(d))
            for v, s, d in zip(wide[m], wide[f"{m}_mcse"], wide[f"{m}_defined"], strict=True)
        ]
        for m in measures
    }
    terms = wide["term"].astype(str).tolist()
    estimators = wide["estimator"].astype(str).tolist()
    caption = (
        f"Scenario {scenario}: performance by estimator (Monte Carlo SE in parentheses). "
        "Values in brackets do not exist as population quantities (e.g. moments of a linear "
        "estimator under Cauchy errors) or rest on too few replicates; -- not available."
    )
    width = 2 + len(measures)
    lines = [
        "\\begin{table}",
        f"\\caption{{{caption}}}",
        f"\\label{{tab:{scenario}}}",
        f"\\begin{{tabular}}{{{'l' * width}}}",
        "\\toprule",
        " & ".join(["", "", *(_escape_latex(LABELS[m]) for m in measures)]) + " \\\\",
        " & ".join(["Term", "Estimator", *([""] * len(measures))]) + " \\\\",
        "\\midrule",
    ]
    start = 0
    while start < len(terms):  # one block of rows per term, its name spanning them
        stop = start + 1
        while stop < len(terms) and terms[stop] == terms[start]:
            stop += 1
        for i in range(start, stop):
            term = _escape_latex(terms[i])
            if i > start:
                term = ""
            elif stop - start > 1:
                term = f"\\multirow[t]{{{stop - start}}}{{*}}{{{term}}}"
            row = [
                term,
                _escape_latex(estimators[i]),
                *(_escape_latex(cells[m][i]) for m in measures),
            ]
            lines.append(" & ".join(row) + " \\\\")
        lines.append(f"\\cline{{1-{width}}}")
        start = stop
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def _escape_latex(text: str) -> str:
    """LaTeX's special characters escaped as pandas' ``to_latex(escape=True)`` does."""
    return (
        text.replace("\\", "ab2§=§8yz")  # a rare string for the final conversion
        .replace("ab2§=§8yz ", "ab2§=§8yz\\space ")  # \textbackslash gobbles spaces
        .replace("&", "\\&")
        .replace("%", "\\%")
        .replace("$", "\\$")
        .replace("#", "\\#")
        .replace("_", "\\_")
        .replace("{", "\\{")
        .replace("}", "\\}")
        .replace("~ ", "~\\space ")
        .replace("~", "\\textasciitilde ")
        .replace("^ ", "^\\space ")
        .replace("^", "\\textasciicircum ")
        .replace("ab2§=§8yz", "\\textbackslash ")
    )


def write_scenario_tables(
    performance_csv: str | Path, scenario: str, out_csv: str | Path, out_tex: str | Path
) -> None:
    """Write the per-scenario table as numeric CSV and booktabs LaTeX."""
    perf = pd.read_csv(performance_csv, keep_default_na=False, na_values=[""])
    wide = wide_table(perf)
    with atomic_path(out_csv) as tmp:
        wide.to_csv(tmp, index=False)
    write_text(out_tex, latex_table(wide, scenario))
