"""Every rule follows the workflow's conventions (docs/cluster.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))


def rules() -> dict[str, str]:
    """Rule name -> its text, from workflow/rules/*.smk."""
    out = {}
    for smk in RULE_FILES:
        parts = re.split(r"^rule (\w+):\n", smk.read_text(), flags=re.M)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            out[name] = re.split(r"^\S", body, maxsplit=1, flags=re.M)[0]
    return out


@pytest.mark.parametrize("name", sorted(rules()))
def test_rule_has_log_benchmark_threads_resources_conda(name: str):
    body = rules()[name]
    for directive in ("log", "benchmark", "threads", "resources", "conda"):
        assert re.search(rf"^    {directive}:", body, re.M), f"rule {name} lacks {directive}:"
    resources = body.split("    resources:")[1]
    for key in ("mem_mb", "runtime"):
        # a number, or per job from the memory model (lossstudy.memory, via common.smk)
        value = rf'(\d+|mem_mb\("{name}"\))' if key == "mem_mb" else r"\d+"
        assert re.search(rf"^        {key}={value},", resources, re.M), f"rule {name}: {key}"


def test_cheap_aggregations_are_local_rules():
    text = "".join(smk.read_text() for smk in RULE_FILES)
    local = set(re.findall(r"^localrules:\n((?:    \w+,\n)+)", text, re.M))
    names = {n.strip(" ,") for block in local for n in block.splitlines()}
    assert names == {"scenarios", "performance", "settings", "estimators"}


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profiles_set_the_run_defaults(profile: str):
    settings = yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())
    assert settings["rerun-incomplete"] is True
    assert settings["printshellcmds"] is False  # cell commands carry kB of JSON
    assert settings["latency-wait"] >= 5
    if profile == "slurm":
        assert settings["executor"] == "slurm" and settings["latency-wait"] >= 30
