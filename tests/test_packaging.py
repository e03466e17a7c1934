"""environment.yml (conda, `--sdm conda`) and pyproject.toml (pip, CI) list the same packages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
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
    `--sdm conda`) imports the repository's copy: run the fit script (it draws, saves and fits
    a job's replicates) that way."""
    from lossstudy.config import load_study
    from lossstudy.dgp import Dataset, simulate
    from lossstudy.quantiles import job_quantiles

    study = load_study(
        {
            "seed": 3,
            "replicates": 4,
            "scenarios": {"s": {}},
            "estimators": {"ols": {"method": "ols"}},
        }
    )
    knobs = study.scenarios["s"].knobs_json()
    sc = study.scenarios["s"]
    quantiles = json.dumps(job_quantiles(int(sc.knobs["n"]), sc.p, 0.95))
    site_dirs = [p for p in sys.path if p.endswith("site-packages")]
    code = f"""
import runpy, sys, types
from importlib.util import find_spec
sys.path += {site_dirs!r}  # the dependencies, without the .pth hooks of an editable install
assert find_spec("lossstudy") is None, "the package is importable: nothing to test"
sys.path.append({str(ROOT / "workflow" / "scripts")!r})  # as Snakemake does for a rule's script
smk = types.SimpleNamespace(
    log=[{str(tmp_path / "sim.log")!r}],
    output=types.SimpleNamespace(
        dataset={str(tmp_path / "sim.npz")!r}, fits={str(tmp_path / "fits.parquet")!r}
    ),
    wildcards=types.SimpleNamespace(scenario="s"),
    params=types.SimpleNamespace(
        knobs={knobs!r}, seed=3, replicates=[1, 4], estimators='{{"ols": {{"method": "ols"}}}}',
        level=0.95, engine="vectorized", quantiles={quantiles!r}, test_rows=50,
    ),
)
runpy.run_path({str(ROOT / "workflow" / "scripts" / "fit.py")!r}, {{"snakemake": smk}})
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
    assert len(pd.read_parquet(tmp_path / "fits.parquet")) == 3 * sc.p  # replicates × terms


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup = re.search(r"<!-- setup -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    tests = re.search(r"<!-- tests -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    assert "snakemake --cores" in setup
    assert "pytest" in tests
    assert "README.md" in ci  # CI extracts and runs those blocks rather than a copy of them


def test_cli_lists_and_runs_its_subcommands(capsys):
    """The docs name `lossstudy replay | overhead | benchmark`; each answers --help."""
    import pytest

    from lossstudy.cli import main

    for command, usage in [
        ("replay", "python -m lossstudy replay"),
        ("overhead", "python -m lossstudy overhead"),
        ("benchmark", "python -m lossstudy.speed.benchmark"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        assert usage in capsys.readouterr().out


WHEEL_STUDY = {
    "seed": 5,
    "replicates": 20,
    "replicates_per_job": 10,
    "level": 0.9,
    "defaults": {"n": 30, "coefficients": [1.0, 0.5, 0.0]},
    "scenarios": {"gm": {}, "heavy": {"errors": {"distribution": "t", "df": 3}}},
    "estimators": {"ols": {"method": "ols"}, "lad": {"method": "lad"}},
}


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_study_runs_from_an_installed_wheel(tmp_path: Path):
    """`pip install .` (not -e), a wheel or a container: the installed package has everything it
    needs. A wheel built offline from the sdist goes into a fresh venv that sees this
    environment's dependencies but not its lossstudy; the tiny study then runs from a copy of
    the repository without workflow/lossstudy, so only the installed package can be imported."""
    dist = tmp_path / "dist"
    sdist = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    _run([sys.executable, "-c", sdist, str(dist)], cwd=ROOT)
    (sdist,) = dist.glob("lossstudy-*.tar.gz")  # built from it, the wheel checks MANIFEST.in too
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), sdist])
    (wheel,) = dist.glob("lossstudy-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    purelib = Path(purelib.stdout.strip()).resolve()
    # plain path lines: this environment's .pth files (an editable install's) are not run
    deps = dict.fromkeys(p for p in sys.path if p.endswith("site-packages"))
    (purelib / "_dependencies.pth").write_text("".join(f"{p}\n" for p in deps))
    _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])

    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Snakefile", "environment.yml"):  # the rules' `conda:` names the latter
        shutil.copy(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("lossstudy", "*.egg-info", "__pycache__")
    for name in ("workflow", "config", "profiles"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    assert not (repo / "workflow" / "lossstudy").exists()
    (repo / "config" / "config.yaml").write_text(yaml.safe_dump(WHEEL_STUDY, sort_keys=False))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    _run([*git, "init", "-q"], cwd=repo)
    _run([*git, "add", "-A"], cwd=repo)
    _run([*git, "commit", "-q", "-m", "copy"], cwd=repo)
    commit = _run(["git", "rev-parse", "HEAD"], cwd=repo).stdout.strip()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env |= {"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}
    where = _run(
        [python, "-c", "import lossstudy.config as c; print(c.__file__); print(c.find_schema())"],
        cwd=repo,
        env=env,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(purelib / "lossstudy"), where
    # the copy the wheel carries is the repository's schema, byte for byte
    assert Path(where[1]) == purelib / "lossstudy" / "schemas" / "config.schema.yaml"
    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert Path(where[1]).read_bytes() == schema.read_bytes()

    _run([python, "-m", "snakemake", "--cores", "2"], cwd=repo, env=env)
    assert (repo / "results" / "performance.csv").stat().st_size > 0
    report = (repo / "report" / "report.html").read_text()
    assert commit in report  # the workflow's checkout, not where the package is installed

    # the command line finds the schema of the config's checkout
    replay = [venv / "bin" / "lossstudy", "replay", "gm", "3", "--estimator", "lad"]
    assert "identical to stored" in _run(replay, cwd=repo, env=env).stdout


def _lossstudy_imports(path: Path) -> set[str]:
    """Every ``lossstudy`` module a file imports, at any depth (function-local ones too)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return {name for name in found if name.split(".")[0] == "lossstudy"}


def test_the_science_does_not_import_the_speed_tooling():
    """lossstudy.speed measures the study; nothing the workflow runs depends on it. Only the
    command line (which dispatches `overhead` and `benchmark`) and the subpackage itself may
    import it."""
    package = ROOT / "workflow" / "lossstudy"
    files = [*package.rglob("*.py"), *(ROOT / "workflow" / "scripts").glob("*.py")]
    allowed = {package / "cli.py", *(package / "speed").rglob("*.py")}
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in mods if m.startswith("lossstudy.speed"))
        for path in files
        if path not in allowed and (mods := _lossstudy_imports(path))
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
    assert "lossstudy.speed.overhead" in _lossstudy_imports(package / "cli.py")  # the scan works


def test_the_speed_subpackage_is_packaged():
    """pyproject's package discovery finds lossstudy.speed, so wheels ship the tooling."""
    from setuptools import find_packages

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = find_packages(str(ROOT / find["find"]["where"][0]), include=find["find"]["include"])
    assert "lossstudy.speed" in found and "lossstudy" in found
