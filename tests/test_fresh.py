"""A rung's answer does not depend on what ran before it, and the self-check finds it when it does.

TF 2.1 (Python 3.7) reads its own SavedModel of ``custom_loss`` only with
``tf.saved_model.load``: its Keras loader fails first, three rungs in the same worker. TensorFlow
2.0 to 2.7 delete a loaded SavedModel's variables once the loaded object is collected, even while
its serving signature is in use; the rung used to keep only the signature, and every such cell of
the full run was a false ``error`` (FailedPreconditionError, "Error while reading resource variable").
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
OLD = "tf2.1-py3.7"
KERAS_RUNGS = ["documented", "compile=False", "no custom_objects"]


def matrix(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "matrix", *args, "--workspace", str(workspace), "--stacks", OLD]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def results(site: Path) -> dict[str, Any]:
    return dict(json.loads((site / "results.json").read_text()))


def the_cell(found: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in found["cells"] if (c["case"], c["format"]) == ("custom_loss", "savedmodel"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("workspace")
    run = matrix(workspace, "run", "--cases", "custom_loss", "--site", str(workspace / "site"))
    assert run.returncode == 0, run.stdout + run.stderr
    return workspace


def test_tf_saved_model_load_reads_the_savedmodel_after_the_keras_rungs_failed(workspace: Path) -> None:
    cell = the_cell(results(workspace / "site"))
    assert (cell["verdict"], cell["remedy"]) == ("remedy", "tf.saved_model.load")
    assert cell["max_abs_diff"] <= 1e-5
    assert [(a["mode"], a["outcome"]) for a in cell["attempts"]] == [
        *((mode, "error") for mode in KERAS_RUNGS), ("tf.saved_model.load", "ok")]
    assert cell["attempts"][-1]["call"] == 'loaded = tf.saved_model.load(path); loaded.signatures["serving_default"]'


def test_the_self_check_agrees_with_every_attempt_it_draws_and_the_report_says_so(workspace: Path) -> None:
    site = workspace / "site-verified"
    run = matrix(workspace, "run", "--cases", "custom_loss", "--site", str(site), "--verify-fresh", "10",
                 "--verify-seed", "3")
    assert run.returncode == 0, run.stdout + run.stderr
    found = results(site)
    assert found["computed"] == {"saves": 0, "loads": 0}
    assert found["verification"] == {"attempts": 10, "agreed": 10, "disagreed": 0, "unverified": 0}
    verified = [v for cell in found["cells"] for v in cell["verified"]]
    assert len(verified) == 10 and all(v["agrees"] for v in verified)
    # ok attempts (predicted by the tuned worker) and failing ones, each answered alike by a stock one
    assert {v["recorded"]["outcome"] for v in verified} == {"ok", "error"}
    assert all(v["fresh"]["error"]["type"] == v["recorded"]["error"]["type"]
               for v in verified if v["recorded"]["outcome"] == "error")
    page = (site / "index.html").read_text()
    assert 'id="self-check"' in page and "<strong>10</strong> gave the recorded answer" in page
    drawn = re.search(r"self-check: 10 attempts \((\d+) of (\d+) not verified yet\)", run.stdout)
    assert drawn, run.stdout
    again = matrix(workspace, "run", "--cases", "custom_loss", "--no-report", "--verify-fresh", "10")
    left = int(drawn.group(1)) - 10
    assert f"({left} of {drawn.group(2)} not verified yet)" in again.stdout, again.stdout


def test_the_self_check_finds_a_planted_disagreement_and_fails(workspace: Path) -> None:
    record_path = workspace / "records" / "load" / OLD / OLD / "custom_loss.savedmodel.json"
    record = json.loads(record_path.read_text())
    record["attempts"][0]["error"]["type"] = "PlantedError"  # what a leak between rungs would look like
    record_path.write_text(json.dumps(record))
    site = workspace / "site-planted"
    run = matrix(workspace, "run", "--cases", "custom_loss", "--site", str(site), "--verify-signature", "^PlantedError")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "1 attempts answered otherwise alone in a fresh worker" in run.stdout
    found = results(site)
    assert found["verification"]["disagreed"] == 1
    planted = next(v for v in the_cell(found)["verified"] if not v["agrees"])
    assert (planted["recorded"]["error"]["type"], planted["fresh"]["error"]["type"]) == ("PlantedError", "ValueError")
    assert "did not</strong>" in (site / "index.html").read_text()


def test_check_reads_the_savedmodel_with_tf_saved_model_load_too(workspace: Path, tmp_path: Path) -> None:
    user_file = tmp_path / "exported"
    shutil.copytree(workspace / "artifacts" / OLD / "custom_loss" / "savedmodel", user_file)
    site = tmp_path / "site"
    check = matrix(workspace, "check", str(user_file), "--site", str(site))
    assert check.returncode == 0, check.stdout + check.stderr
    found = results(site / "check")
    assert found["files"][0]["reference"] == {"source": "stack", "stack": OLD, "mode": "tf.saved_model.load"}
    cell = found["cells"][0]
    assert (cell["verdict"], cell["remedy"]) == ("remedy", "tf.saved_model.load") and cell["max_abs_diff"] == 0.0


def test_the_fault_switch_reaches_the_check_through_the_shared_worker_loop(workspace: Path, tmp_path: Path) -> None:
    user_file = tmp_path / "exported-again"  # another name: not the records of the check above
    shutil.copytree(workspace / "artifacts" / OLD / "custom_loss" / "savedmodel", user_file)
    command = [sys.executable, "-m", "matrix", "check", str(user_file), "--workspace", str(workspace), "--stacks", OLD,
               "--site", str(tmp_path / "site")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MATRIX_FAULTS": "check/records/*/*.load.json=exception"}
    check = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    cell = results(tmp_path / "site" / "check")["cells"][0]
    assert cell["verdict"] == "crashed" and "InjectedFault: injected fault" in cell["error"]["message"]
