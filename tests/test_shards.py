"""A sharded run, as the nightly workflow spreads it over machines, equals one run.

Each job runs in its own workspace, as on its own machine: a save job per stack, a load job per
consumer stack over everyone's save outputs (and its self-check; one column in two parts),
then a report job over everyone's records. The merged report must hold the same cells as a single run; with a load job
missing, it still publishes, those cells marked missing."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("tf2.15-py3.11", "keras3.15-tf2.21-py3.11")
CASES = ("custom_layer", "custom_loss")
COMPARED = ("verdict", "remedy", "max_abs_diff", "signature", "signature_id", "container", "custom_objects_needed")


def job(workspace: Path, envs: Path, *extra: str) -> None:
    """One CI job: its own workspace, the environments shared only to save the test time."""
    workspace.mkdir(parents=True, exist_ok=True)
    if not (workspace / "envs").exists():
        (workspace / "envs").symlink_to(envs, target_is_directory=True)
    command = [sys.executable, "-m", "matrix", "run", "--workspace", str(workspace), "--site",
               str(workspace / "site"), "--stacks", *STACKS, "--cases", *CASES, *extra]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr


def upload(source: Path, target: Path, *parts: str) -> None:
    """What actions/upload-artifact then download-artifact (merged) would carry."""
    for part in parts:
        if (source / part).exists():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)


def cells(workspace: Path) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    results = json.loads((workspace / "site" / "results.json").read_text())
    return {(c["producer"], c["consumer"], c["case"], c["format"]): {k: c[k] for k in COMPARED}
            | {"modes": [(a["mode"], a["outcome"]) for a in c["attempts"]]} for c in results["cells"]}


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envs")


def test_sharded_jobs_merge_into_the_same_report_as_one_run(tmp_path: Path, envs: Path) -> None:
    job(tmp_path / "single", envs)
    saved = tmp_path / "saved"  # everything the save jobs uploaded
    for stack in STACKS:
        job(tmp_path / f"save-{stack}", envs, "--phase", "save", "--shard", stack)
        upload(tmp_path / f"save-{stack}", saved, "artifacts", "records")
    loaded = tmp_path / "report"
    # the first consumer's column in two parts (a producer each), as a long column is split
    load_jobs = [(STACKS[0], "--part", "1/2"), (STACKS[0], "--part", "2/2"), (STACKS[1],)]
    for number, (stack, *part) in enumerate(load_jobs):
        upload(saved, tmp_path / f"load-{number}", "artifacts", "records")
        job(tmp_path / f"load-{number}", envs, "--phase", "load", "--shard", stack, *part, "--verify-fresh", "1")
        upload(tmp_path / f"load-{number}", loaded, "records")
    job(loaded, envs, "--phase", "report")
    assert cells(loaded) == cells(tmp_path / "single")
    # each load job's self-check travels with its records into the report
    verification = json.loads((loaded / "site" / "results.json").read_text())["verification"]
    assert verification == {"attempts": 3, "agreed": 3, "disagreed": 0, "unverified": 0}

    partial = tmp_path / "partial"  # the second consumer's load job never reported
    for number in (0, 1):
        upload(tmp_path / f"load-{number}", partial, "records")
    job(partial, envs, "--phase", "report")
    missing = {key for key, cell in cells(partial).items() if cell["verdict"] == "missing"}
    assert missing == {key for key, cell in cells(loaded).items()
                       if key[1] == STACKS[1] and cell["verdict"] not in ("blocked", "unsupported")}
