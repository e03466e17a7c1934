"""Build hook: a built package carries a copy of the config schema.

The schema stays where Snakemake workflows keep it, ``workflow/schemas/config.schema.yaml``,
outside the package directory (setuptools ships package data from inside it only). ``build_py``
copies it into the built package as ``lossstudy/schemas/config.schema.yaml``, so that a package
installed from a wheel validates configs without a checkout of the repository
(``lossstudy.config.find_schema``). Only the repository's file is under version control;
MANIFEST.in puts it in the sdist so that a wheel built from the sdist gets it too. Everything
else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SCHEMA = Path("workflow", "schemas", "config.schema.yaml")
PACKAGED = Path("lossstudy", "schemas", "config.schema.yaml")  # = config.PACKAGED_SCHEMA


class BuildPyWithSchema(build_py):
    """``build_py`` that also copies the workflow's config schema into the package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, PACKAGED)
        self.mkpath(str(target.parent))
        self.copy_file(str(SCHEMA), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PACKAGED))]


setup(cmdclass={"build_py": BuildPyWithSchema})
