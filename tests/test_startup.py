"""Per-job start-up: a fit job imports neither pandas nor, unless it needs a quantile nobody
computed for it, scipy.

Every job of the workflow is a fresh Python process, and the fits of a default-study job take
about as long as the imports that precede them, so what a job imports is a large part of its cost
(docs/job-granularity.md). These tests keep the heavy imports out of the fit path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lossstudy.pipeline import arrow_table

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"

FIT_JOB = """
import sys
from lossstudy.config import BUILTIN_DEFAULTS
from lossstudy.pipeline import fit_chunk, simulate_chunk
simulate_chunk(BUILTIN_DEFAULTS, 1, "s", 0, 50, "{tmp}/d.npz")
fit_chunk("{tmp}/d.npz", "s", {{"e": {spec!r}}}, 0.95, "vectorized", "{tmp}/f.parquet")
print(" ".join(m for m in ("pandas", "scipy.special", "statsmodels") if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("spec", "heavy"),
    [
        ({"method": "ridge", "penalty": 1.0}, ""),
        ({"method": "ols"}, "scipy.special"),
        ({"method": "lad"}, "scipy.special"),
    ],
    ids=["ridge", "ols", "lad"],
)
def test_fit_job_imports_no_pandas(tmp_path, spec, heavy):
    code = FIT_JOB.format(tmp=tmp_path, spec=spec)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == heavy


PRESET_JOB = """
import json, sys
from lossstudy.config import BUILTIN_DEFAULTS
from lossstudy.quantiles import preset
from lossstudy.pipeline import simulate_and_fit_chunk
preset(json.loads({table!r}))
specs = {{"ols": {{"method": "ols"}}, "hac": {{"method": "ols", "se": "hac"}},
         "wls": {{"method": "wls", "predictor": 1, "strength": 2.0}},
         "lad": {{"method": "lad"}}, "huber": {{"method": "huber", "k": 1.345}}}}
simulate_and_fit_chunk(BUILTIN_DEFAULTS, 1, "s", 0, 50, specs, 0.9, "vectorized",
                       "{tmp}/d.npz", "{tmp}/{out}")
print(" ".join(m for m in ("pandas", "scipy.special", "statsmodels") if m in sys.modules))
"""


def test_fit_job_with_preset_quantiles_imports_no_scipy_and_fits_the_same(tmp_path):
    """The workflow hands each fit job scipy's quantiles for its n (``job_quantiles``): every
    estimator of the default study then fits without importing scipy.special, bit for bit as
    with it (an unknown table, e.g. another scipy version, falls back to scipy)."""
    import json

    from lossstudy.config import BUILTIN_DEFAULTS
    from lossstudy.quantiles import job_quantiles

    n, p = BUILTIN_DEFAULTS["n"], len(BUILTIN_DEFAULTS["coefficients"])
    table = json.dumps(job_quantiles(n, p, 0.9))
    stale = json.dumps({**json.loads(table), "scipy": "0.0"})
    runs = {}
    for name, tab in (("preset", table), ("stale", stale)):
        code = PRESET_JOB.format(tmp=tmp_path, table=tab, out=f"{name}.parquet")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        runs[name] = run.stdout.strip()
    assert runs == {"preset": "", "stale": "scipy.special"}
    a, b = (pq.read_table(tmp_path / f"{name}.parquet") for name in ("preset", "stale"))
    assert a.equals(b)


def test_arrow_table_equals_pa_table(tmp_path):
    rng = np.random.default_rng(1)
    floats = rng.standard_normal(6)
    floats[[1, 4]] = np.nan
    columns = {
        "s": ["gm", "gm", "gm", "gm", "gm", "gm"],
        "replicate": np.repeat(np.arange(3, dtype=np.int64), 2),
        "x": floats,
        "strided": np.arange(12.0).reshape(6, 2)[:, 1],
        "message": ["", "ok", "design matrix rank 2 < p = 3", "", "Ünïcode ✓", ""],
    }
    expected = pa.table(
        {k: pa.array(v, pa.string()) if isinstance(v, list) else v for k, v in columns.items()}
    )
    got = arrow_table(columns)
    got.validate(full=True)
    assert got.schema == expected.schema
    for name in columns:
        a, b = got[name].combine_chunks(), expected[name].combine_chunks()
        assert a.null_count == b.null_count == 0
        if pa.types.is_string(a.type):
            assert a.to_pylist() == b.to_pylist()
        else:  # bit for bit, NaN included
            assert a.to_numpy().tobytes() == b.to_numpy().tobytes()
    # and the Parquet files the fit jobs write are byte-identical
    pq.write_table(got, tmp_path / "got.parquet")
    pq.write_table(expected, tmp_path / "expected.parquet")
    assert (tmp_path / "got.parquet").read_bytes() == (tmp_path / "expected.parquet").read_bytes()


def test_strings_columns_equal_lists_of_str(tmp_path):
    """Fit jobs pass string columns as ``Strings`` (distinct values + codes): the Parquet file
    must be byte-identical to the one from plain lists of str."""
    from lossstudy.pipeline import Strings

    status = np.array(["ok", "failed", "ok", "not_converged"], dtype=object)
    message = np.array(["", "design matrix rank 2 < p = 3", "", "Ünïcode ✓"], dtype=object)
    parts = [
        {
            "estimator": Strings.constant(name, 8),
            "term": Strings(("intercept", "x1"), np.tile(np.arange(2), 4)),
            "value": np.arange(8.0) * k,
            "status": Strings.per_row(status, 2),
            "message": Strings.per_row(message, 2),
        }
        for k, name in enumerate(["ols", "lad"])
    ]
    merged = {
        c: np.concatenate([p[c] for p in parts])
        if c == "value"
        else Strings.concat([p[c] for p in parts])
        for c in parts[0]
    }
    plain = {c: v if isinstance(v, np.ndarray) else v.tolist() for c, v in merged.items()}
    assert plain["status"][:4] == ["ok", "ok", "failed", "failed"]
    assert plain["estimator"] == ["ols"] * 8 + ["lad"] * 8
    assert plain["message"][6:8] == ["Ünïcode ✓"] * 2
    pq.write_table(arrow_table(merged), tmp_path / "codes.parquet")
    pq.write_table(arrow_table(plain), tmp_path / "plain.parquet")
    assert (tmp_path / "codes.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()


def test_parsing_the_workflow_imports_no_pandas():
    """What workflow/rules/common.smk imports while Snakemake parses the workflow (in every
    process that does, cluster jobs included) leaves pandas out."""
    code = (
        "import sys\n"
        "import lossstudy.config, lossstudy.quantiles, lossstudy.studyfile\n"
        "print('pandas' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"


#: The rule's own command, run in-process (``runpy``) so that the test sees what it imported.
CELL_JOB = """
import runpy, sys
sys.path.insert(0, {scripts!r})
sys.argv = {argv!r}
runpy.run_path({script!r}, run_name="__main__")
heavy = ("scipy.special", "scipy.stats", "statsmodels", "jinja2", "pandas.io.formats.style",
         "yaml", "difflib", "snakemake")
print(" ".join(m for m in heavy if m in sys.modules))
"""


def test_cell_job_imports_no_styler_and_writes_what_fit_and_summarise_write(tmp_path):
    """A scenario in one job (rule `cell`, its script run as the rule runs it): drawn, fitted
    and summarised in one process, without snakemake (a plain command, not `script:`),
    scipy.special/stats, statsmodels or pandas' Styler (the LaTeX table is written without
    it), and every file byte for byte what a fit job and a summary job write."""
    import json

    from lossstudy.config import BUILTIN_DEFAULTS
    from lossstudy.pipeline import simulate_and_fit_chunk, summarise_scenario
    from lossstudy.prediction import test_rows
    from lossstudy.quantiles import job_quantiles
    from lossstudy.tables import write_scenario_tables

    knobs = {**BUILTIN_DEFAULTS, "errors": {"distribution": "t", "df": 3, "scale": 1.0}}
    specs = {
        "ols": {"method": "ols"},
        "lad": {"method": "lad"},
        "huber": {"method": "huber", "k": 1.345},
        "ridge": {"method": "ridge", "penalty": 1.0},
    }
    n, p = knobs["n"], len(knobs["coefficients"])
    rows = test_rows(50)
    t = tmp_path
    argv = ["cell.py", "--scenario", "s", "--knobs", json.dumps(knobs), "--seed", "1"]
    argv += ["--replicates", "50", "--estimators", json.dumps(specs), "--reference", "ols"]
    argv += ["--level", "0.9", "--engine", "vectorized", "--test-rows", str(rows)]
    argv += ["--quantiles", json.dumps(job_quantiles(n, p, 0.9)), "--log", str(t / "cell.log")]
    argv += ["--dataset", str(t / "cell.npz"), "--estimates", str(t / "cell.parquet")]
    argv += ["--performance", str(t / "cell.csv"), "--table-csv", str(t / "cell_table.csv")]
    argv += ["--table-tex", str(t / "cell.tex")]
    code = CELL_JOB.format(scripts=str(SCRIPTS), argv=argv, script=str(SCRIPTS / "cell.py"))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == ""

    simulate_and_fit_chunk(
        knobs, 1, "s", 0, 50, specs, 0.9, "vectorized", t / "d.npz", t / "f.pq", test_rows=rows
    )
    summarise_scenario([t / "f.pq"], knobs, specs, "ols", 0.9, t / "e.parquet", t / "p.csv")
    write_scenario_tables(t / "p.csv", "s", t / "table.csv", t / "t.tex")
    pairs = [("cell.npz", "d.npz"), ("cell.parquet", "e.parquet"), ("cell.csv", "p.csv")]
    pairs += [("cell_table.csv", "table.csv"), ("cell.tex", "t.tex")]
    for cell, two_jobs in pairs:
        assert (t / cell).read_bytes() == (t / two_jobs).read_bytes(), cell
