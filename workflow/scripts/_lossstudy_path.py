"""Make ``import lossstudy`` work in a job whose Python environment lacks the package.

Snakemake puts this directory on ``sys.path`` when it runs a rule's script, so every script
imports this module before ``lossstudy``. With ``pip install -e .`` (the README's setup) the
package is importable and nothing happens. Under ``snakemake --sdm conda`` the job runs in the
environment that Snakemake builds from environment.yml in ``.snakemake/conda/``, outside the
repository, where ``pip install -e .`` cannot resolve; that environment holds the dependencies
only, so the repository's own copy of the package (``workflow/lossstudy``) is used instead.

It also names this workflow's own files for the scripts that need them: an installed package
does not know which checkout runs it.
"""

import sys
from importlib.util import find_spec
from pathlib import Path

WORKFLOW_DIR = str(Path(__file__).resolve().parents[1])
#: The checkout of the workflow whose scripts these are (its commit is cited in the report).
CHECKOUT = str(Path(WORKFLOW_DIR).parent)
#: This workflow's config schema (a package installed from a wheel carries a copy).
SCHEMA = str(Path(WORKFLOW_DIR, "schemas", "config.schema.yaml"))

if find_spec("lossstudy") is None:
    sys.path.insert(0, WORKFLOW_DIR)
