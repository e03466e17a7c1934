"""environment.yml (conda, `--sdm conda`) and pyproject.toml (pip, CI) list the same packages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pyyaml": "pyyaml", "jinja2": "jinja2"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject_dependencies():
    """environment.yml = the dependencies + the Snakemake executor plugins of the test extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in project["dependencies"])
    test_extra = dict(_split(r) for r in project["optional-dependencies"]["test"])
    plugins = {k: v for k, v in test_extra.items() if k.startswith("snakemake-executor-plugin-")}
    assert "snakemake-executor-plugin-cluster-generic" in plugins
    pip_deps |= plugins
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_deps = dict(_split(d) for d in conda if not d.startswith(("python", "pip")))
    conda_deps = {CONDA_TO_PYPI.get(k, k): v for k, v in conda_deps.items()}
    assert conda_deps == pip_deps
    python = next(d for d in conda if d.startswith("python"))
    assert project["requires-python"] == ">=3.11" and python == "python=3.11"


def test_environment_yml_builds_outside_the_repository():
    """`--sdm conda` builds the env from a copy in .snakemake/conda/: no local path may be in it."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "lossstudy" and "conda-forge" in env["channels"]
    pip = [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
    assert not [p for p in pip if p.startswith(("-e", ".", "/", "file:"))], pip


def test_every_rule_runs_in_the_top_level_environment():
    rules = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
    envs = {
        (smk.parent / m.group(1)).resolve()
        for smk in rules
        for m in re.finditer(r'^\s+conda:\s*\n\s+"([^"]+)"', smk.read_text(), re.M)
    }
    assert envs == {(ROOT / "environment.yml").resolve()}


def test_every_script_finds_the_package_without_it_installed():
    """Each rule's script imports _lossstudy_path before anything from lossstudy."""
    scripts = sorted((ROOT / "workflow" / "scripts").glob("[!_]*.py"))
    assert scripts
    for script in scripts:
        text = script.read_text()
        helper = text.find("import _lossstudy_path")
        assert 0 <= helper < text.find("from lossstudy"), script.name


def test_scripts_run_without_the_package_installed(tmp_path: Path):
    """A job in an environment that has the dependencies but not the package (as under
    `--sdm conda`) imports the repository's copy: run the simulate script that way."""
    from lossstudy.config import load_study
    from lossstudy.dgp import Dataset, simulate

    study = load_study(
        {
            "seed": 3,
            "replicates": 4,
            "scenarios": {"s": {}},
            "estimators": {"ols": {"method": "ols"}},
        }
    )
    knobs = study.scenarios["s"].knobs_json()
    site_dirs = [p for p in sys.path if p.endswith("site-packages")]
    code = f"""
import runpy, sys, types
from importlib.util import find_spec
sys.path += {site_dirs!r}  # the dependencies, without the .pth hooks of an editable install
assert find_spec("lossstudy") is None, "the package is importable: nothing to test"
sys.path.append({str(ROOT / "workflow" / "scripts")!r})  # as Snakemake does for a rule's script
smk = types.SimpleNamespace(
    log=[{str(tmp_path / "sim.log")!r}],
    output=[{str(tmp_path / "sim.npz")!r}],
    wildcards=types.SimpleNamespace(scenario="s"),
    params=types.SimpleNamespace(knobs={knobs!r}, seed=3, replicates=[1, 4]),
)
runpy.run_path({str(ROOT / "workflow" / "scripts" / "simulate.py")!r}, {{"snakemake": smk}})
print(sys.modules["lossstudy"].__file__)
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert Path(run.stdout.strip()) == ROOT / "workflow" / "lossstudy" / "__init__.py"
    got = Dataset.load(tmp_path / "sim.npz")
    want = simulate(study.scenarios["s"].knobs, 3, "s", 1, 4)
    for name in ("X", "y", "beta", "replicates"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    assert "simulated s replicates 1..3" in (tmp_path / "sim.log").read_text()


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = re.search(r"<!-- setup -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    tests = re.search(r"<!-- tests -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    assert "snakemake --cores" in setup
    assert "pytest" in tests
    assert "README.md" in ci  # CI extracts and runs those blocks rather than a copy of them


def test_cli_lists_and_runs_its_subcommands(capsys):
    """The README names `lossstudy replay | overhead | benchmark`; each answers --help."""
    import pytest

    from lossstudy.cli import main

    for command, usage in [
        ("replay", "python -m lossstudy replay"),
        ("overhead", "python -m lossstudy overhead"),
        ("benchmark", "python -m lossstudy.benchmark"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        assert usage in capsys.readouterr().out
