"""Each case's declared inputs are valid for the model it builds, in real stacks either side of
the Keras 2 / 3 boundary (tests/case_inputs.py checks them inside the stack)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from matrix.envs import ensure_env
from matrix.plan import digest_runner
from matrix.stacks import load_stacks

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("tf2.15-py3.11", "keras3.15-tf2.21-py3.11")


@pytest.mark.parametrize("stack_id", STACKS)
def test_every_case_declares_inputs_its_model_takes(stack_id: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = next(s for s in load_stacks() if s.id == stack_id)
    env = ensure_env(stack, tmp_path_factory.mktemp("envs"))
    assert env.status == "ready" and env.python, env.reason
    cases = sorted(digest_runner().cases)
    result = subprocess.run([str(env.python), "tests/case_inputs.py", *cases], cwd=ROOT, capture_output=True,
                            text=True, timeout=900, env={**os.environ, **stack.env})
    assert result.returncode == 0, result.stderr[-3000:]
    found = {entry["case"]: entry for entry in map(json.loads, result.stdout.splitlines())}
    assert set(found) == set(cases)
    assert {case: entry["problems"] for case, entry in found.items() if entry.get("problems")} == {}
    # every case builds in these stacks: none is unavailable
    assert [case for case, entry in found.items() if "unavailable" in entry] == []
