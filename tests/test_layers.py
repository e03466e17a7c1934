"""The package's import graph, function-local imports included: no circles, so every module
can be read knowing only the ones below it; the two bottom tables import nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "lossstudy"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            pkg = pkg.rsplit(".", 1)[0]
        base = f"{pkg}.{base}" if base else pkg
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def imports() -> dict[str, set[str]]:
    """module -> the package's modules it imports, anywhere in its body."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module] |= {t for t in _targets(module, node) if t in MODULES} - {module}
    return graph


def top(module: str) -> str:
    """The first level below ``lossstudy``: a module or a subpackage."""
    return ".".join(module.split(".")[:2])


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


#: the answer, the theory check and everything that renders them
AREA = (
    "lossstudy.answer",
    "lossstudy.theory",
    "lossstudy.report",
    "lossstudy.frontpage",
    "lossstudy.figures",
    "lossstudy.sweeps",
    "lossstudy.tables",
    "lossstudy.performance",
    "lossstudy.moments",
    "lossstudy.measures",
    "lossstudy.mcse",
    "lossstudy.studyfile",
)


#: every module and subpackage right below ``lossstudy``
UNITS = sorted({top(m) for m in MODULES if m != "lossstudy"})


def test_the_area_is_in_the_package() -> None:
    assert set(AREA) <= set(UNITS)


@pytest.mark.parametrize("package", UNITS)
def test_no_circle_through(package: str) -> None:
    """No import path leads from a module or subpackage back to itself (between subpackages,
    so a circle through a function-local import counts too), anywhere in the package."""
    graph: dict[str, set[str]] = {}
    for module, targets in imports().items():
        graph.setdefault(top(module), set()).update(
            top(t) for t in targets if top(t) != top(module)
        )
    assert not reaches(graph, package, package)


def test_answer_and_theory_do_not_import_each_other() -> None:
    graph = imports()
    for a, b in (
        ("lossstudy.answer", "lossstudy.theory"),
        ("lossstudy.theory", "lossstudy.answer"),
    ):
        assert not any(top(t) == b for m, ts in graph.items() if top(m) == a for t in ts), (a, b)


@pytest.mark.parametrize("module", ["lossstudy.measures", "lossstudy.mcse"])
def test_bottom_modules_import_nothing_of_the_package(module: str) -> None:
    assert imports()[module] == set()


def test_the_report_reads_no_config() -> None:
    """The report renders what the workflow wrote: it never loads or parses the config."""
    graph = imports()
    for module in (m for m in graph if top(m) == "lossstudy.report"):
        assert "lossstudy.config" not in graph[module], module
