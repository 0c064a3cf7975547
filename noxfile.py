"""Sessions: matrix (default), check, report, bench, list, versions, tests, screenshots, lint.
Thin: the work lives in matrix/ and reports/.

    nox -s matrix                         # default stacks, report in site/
    nox -s matrix -- --stacks 'tf2.1[5-6]*'
    nox -s check -- my_model.h5 --custom-objects my_project.layers
    nox -s tests                          # unit + end-to-end tests
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["matrix"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install_group(session: nox.Session, group: str) -> None:
    # Compiled at install (pip does it unasked): where PYTHONDONTWRITEBYTECODE is set, as on these
    # machines, pandas and the rest would be compiled again by every run: 616 modules, 0.8 s of a
    # no-op rerun's report, measured.
    session.install(*nox.project.dependency_groups(PYPROJECT, group), env={"UV_COMPILE_BYTECODE": "1"})


@nox.session
def matrix(session: nox.Session) -> None:
    """Build the stacks, save and cross-load the reference models, render site/."""
    install_group(session, "host")
    session.run("python", "-m", "matrix", "run", *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Your own model files through every selected stack: `-- PATH [PATH ...] [--custom-objects MODULE] ...`."""
    install_group(session, "host")
    root = Path(__file__).resolve().parent
    # Paths and modules are the user's, relative to where nox was invoked; the environments and
    # records stay in this project's .matrix/ unless --workspace says otherwise.
    session.chdir(session.invoked_from)
    session.run("python", "-m", "matrix", "check", "--workspace", str(root / ".matrix"), "--site", str(root / "site"),
                *session.posargs, env={"PYTHONPATH": str(root)})


@nox.session
def report(session: nox.Session) -> None:
    """Render a report from a run file: `-- RUN_JSON SITE [--previous DIR] [--summary FILE]`."""
    install_group(session, "host")
    session.run("python", "-m", "reports", *(session.posargs or [".matrix/run.json", "site"]))


@nox.session
def bench(session: nox.Session) -> None:
    """This runner against a naive one on real stacks (`-- --stacks PATTERN ...`, default: the quick set)."""
    install_group(session, "host")
    session.run("python", "-m", "matrix", "bench", *session.posargs)


@nox.session(name="list")
def list_stacks(session: nox.Session) -> None:
    """Print the declared stacks (`-- --stacks PATTERN` to filter)."""
    session.run("python", "-m", "matrix", "list", *session.posargs, external=True)


@nox.session
def versions(session: nox.Session) -> None:
    """Ask PyPI which TensorFlow / Keras / tf-keras releases the declaration misses."""
    session.run("python", "-m", "matrix", "versions", *session.posargs, external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests and the real end-to-end test (`-- -m 'not e2e'` for the fast ones)."""
    install_group(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def screenshots(session: nox.Session) -> None:
    """The README's pictures of site/index.html (run `nox -s matrix` first), into docs/."""
    install_group(session, "browser")
    for target, selector in (("docs/advisor.png", "#advisor .advisor"), ("docs/heatmap.png", "table.heatmap")):
        session.run("python", "-m", "reports.browser", "site/index.html", target, selector)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and strict mypy on the host code."""
    install_group(session, "lint")
    session.run("ruff", "check", ".")
    session.run("mypy")
