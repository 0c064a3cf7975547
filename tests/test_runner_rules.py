"""The worker's rules: Python 3.6 syntax (standalone Keras 2.1 runs on it), stdlib at module level, never host code."""

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "runner"
SOURCES = sorted(RUNNER.rglob("*.py"))
CORE = [p for p in SOURCES if "cases" not in p.relative_to(RUNNER).parts]
HOST_PACKAGES = {"matrix", "reports", "nox"}
THIRD_PARTY = {"tensorflow", "keras", "tf_keras", "numpy", "h5py"}


def imported_packages(nodes: Iterable[ast.AST]) -> set[str]:
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_runner_sources_found() -> None:
    assert len(CORE) >= 6 and len(SOURCES) > len(CORE)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(RUNNER)))
def test_parses_as_python_3_6(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 6))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(RUNNER)))
def test_never_imports_host_code(path: Path) -> None:
    assert not imported_packages(ast.walk(ast.parse(path.read_text()))) & HOST_PACKAGES


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(RUNNER)))
def test_core_imports_tensorflow_only_inside_functions(path: Path) -> None:
    assert not imported_packages(ast.parse(path.read_text()).body) & THIRD_PARTY


def test_syntax_gate_rejects_newer_syntax() -> None:
    with pytest.raises(SyntaxError):
        ast.parse("if (n := 3): pass", feature_version=(3, 6))


HOST = sorted((RUNNER.parent / "matrix").rglob("*.py")) + sorted((RUNNER.parent / "reports").rglob("*.py"))
HOST_MAY_IMPORT = {"runner.protocol"}  # the protocol; nothing else of the worker


def runner_modules(nodes: Iterable[ast.AST]) -> set[str]:
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "runner"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "runner":
            names |= {node.module} if node.module != "runner" else {f"runner.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("path", HOST, ids=lambda p: str(p.relative_to(RUNNER.parent)))
def test_the_host_imports_only_the_protocol_of_the_worker(path: Path) -> None:
    assert runner_modules(ast.walk(ast.parse(path.read_text()))) <= HOST_MAY_IMPORT


def test_the_protocol_stands_alone() -> None:
    """What the host imports brings no other worker module and no third-party package with it."""
    tree = ast.parse((RUNNER / "protocol.py").read_text())
    assert not runner_modules(ast.walk(tree))
    assert not imported_packages(ast.walk(tree)) & THIRD_PARTY


def test_the_host_rule_sees_a_forbidden_import() -> None:
    assert runner_modules(ast.parse("from runner import ladder\nimport runner.worker").body) == {
        "runner.ladder", "runner.worker"}
