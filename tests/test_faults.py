"""Faults injected into real TensorFlow workers cost exactly their cells; a host killed mid-run
resumes with only the unfinished cells; damaged artifacts are caught and saved again."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runner.faults import fault_for
from runner.protocol import FORMAT_NAMES, sha256_of
from runner.worker import integrity_problem

ROOT = Path(__file__).resolve().parent.parent
STACK = "tf2.15-py3.11"
CASES = ("custom_layer", "custom_loss", "module_layer")
FAULTS = {
    "records/load/*/*/custom_layer.h5.json": "segfault",
    "records/load/*/*/custom_layer.keras.json": "abort",
    "records/load/*/*/custom_layer.savedmodel.json": "hang",
    "records/load/*/*/custom_loss.h5.json": "memory",
    "records/load/*/*/custom_loss.keras.json": "exception",
    "records/load/*/*/custom_loss.savedmodel.json": "corrupt",
    "records/save/*/module_layer.h5.json": "disk-full",
}


def matrix_command(workspace: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "matrix", "run", "--workspace", str(workspace), "--site",
            str(workspace / "site"), "--stacks", STACK, *extra]


def run(workspace: Path, *extra: str, faults: str = "") -> tuple[dict[str, Any], str]:
    env = {**os.environ, "MATRIX_FAULTS": faults}
    result = subprocess.run(matrix_command(workspace, *extra), cwd=ROOT, capture_output=True, text=True,
                            timeout=1200, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((workspace / "site" / "results.json").read_text())
    return {**results, "computed": json.loads((workspace / "run.json").read_text())["computed"]}, result.stdout


def by_cell(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["case"], c["format"]): c for c in results["cells"]}


@pytest.mark.e2e
def test_each_injected_fault_costs_its_cell_and_the_next_run_repairs_it(tmp_path: Path) -> None:
    faults = ";".join(f"{pattern}={fault}" for pattern, fault in FAULTS.items())
    first, log = run(tmp_path, "--cases", *CASES, "--cell-timeout", "30", "--memory-limit", "2500",
                     faults=faults)
    cells = by_cell(first)
    assert len(cells) == len(CASES) * len(FORMAT_NAMES)
    assert "missing" not in {c["verdict"] for c in cells.values()}  # no cell lost
    expected = {
        ("custom_layer", "h5"): ("crashed", "worker killed by signal SIGSEGV"),
        ("custom_layer", "keras"): ("crashed", "worker killed by signal SIGABRT"),
        ("custom_layer", "savedmodel"): ("timeout", "no result within 30 s; worker killed"),
        ("custom_loss", "h5"): ("crashed", "over the memory limit of 2500 MB (--memory-limit)"),
        ("custom_loss", "keras"): ("crashed", "the worker's own code raised InjectedFault: injected fault"),
        ("custom_loss", "savedmodel"): ("corrupt-artifact", "changed since it was saved"),
        ("module_layer", "h5"): ("blocked", "no space left on the device while saving"),
    }
    for key, (verdict, message) in expected.items():
        assert cells[key]["verdict"] == verdict, key
        assert message in cells[key]["error"]["message"], key
    # the log's last lines, for the reader: where Python was when the signal came
    assert "Fatal Python error: Segmentation fault" in cells[("custom_layer", "h5")]["error"]["tail"]
    assert "Fatal Python error: Aborted" in cells[("custom_layer", "keras")]["error"]["tail"]
    for key in [("module_layer", "keras"), ("module_layer", "savedmodel")]:
        assert cells[key]["verdict"] in ("ok", "remedy"), key  # the cells no fault touched were computed
    assert "warning: 1 corrupt-artifact, 4 crashed, 1 timeout" in log
    assert "the disk filled while saving" in log
    assert not list((tmp_path / "artifacts").rglob("*.staging-*"))  # the failed save left nothing behind

    second, log = run(tmp_path, "--cases", *CASES)
    # saved again: the artifact the disk could not hold and the one truncated after its save;
    # loaded again: the 6 failed cells and the new artifact's cell
    assert second["computed"] == {"saves": 2, "loads": 7}
    assert "1 artifacts changed since they were saved, saved again" in log
    assert "cells crashed, hung or met a corrupt artifact last time: computing them again" in log
    repaired = by_cell(second)
    assert {c["verdict"] for c in repaired.values()} <= {"ok", "remedy"}
    for key in [("module_layer", "keras"), ("module_layer", "savedmodel")]:
        assert repaired[key]["verdict"] == cells[key]["verdict"]


def worker_pids(workspace: Path) -> list[int]:
    """Workers still running for this workspace (their job files live in it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if " -m runner " in command and cwd == str(workspace):
            found.append(int(proc.name))
    return found


def fresh_loads(workspace: Path) -> int:
    count = 0
    for path in (workspace / "records" / "load").rglob("*.json"):
        record = json.loads(path.read_text())
        if record.get("verdict") not in ("crashed", "timeout", "corrupt-artifact"):
            count += 1
    return count


@pytest.mark.e2e
def test_a_host_killed_mid_run_resumes_with_only_the_unfinished_cells(tmp_path: Path) -> None:
    host = subprocess.Popen(matrix_command(tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while fresh_loads(tmp_path) < 5:
        assert host.poll() is None and time.monotonic() < deadline, "the run ended before the kill"
        time.sleep(0.2)
    os.kill(host.pid, signal.SIGKILL)
    host.wait()
    while worker_pids(tmp_path):  # an orphaned worker finishes its cell, then sees the host is gone
        assert time.monotonic() < deadline
        time.sleep(0.2)
    finished = fresh_loads(tmp_path)
    results, _ = run(tmp_path)
    loads = sum(1 for c in results["cells"] if c["verdict"] not in ("blocked", "unsupported"))
    assert results["computed"] == {"saves": 0, "loads": loads - finished}
    assert 0 < loads - finished < loads  # killed in the middle: some done, some not
    assert "missing" not in {c["verdict"] for c in results["cells"]}


def test_faults_are_off_unless_named() -> None:
    cell = {"record": "records/load/a/b/custom_layer.h5.json"}
    assert fault_for(cell, {}) is None
    assert fault_for(cell, {"MATRIX_FAULTS": "records/load/*/*/custom_loss.*=segfault"}) is None
    assert fault_for(cell, {"MATRIX_FAULTS": "x=abort; records/load/*/custom_layer.h5.json=hang"}) == "hang"
    with pytest.raises(ValueError, match="is not PATTERN=FAULT"):
        fault_for(cell, {"MATRIX_FAULTS": "records/*=explode"})


def test_integrity_names_a_truncated_artifact_and_passes_an_intact_one(tmp_path: Path) -> None:
    artifact, reference = tmp_path / "model.h5", tmp_path / "ref.json"
    artifact.write_bytes(b"0123456789")
    reference.write_text("{}")
    cell = {"artifact": str(artifact), "reference": str(reference),
            "artifact_sha256": sha256_of(str(artifact)), "reference_sha256": sha256_of(str(reference))}
    assert integrity_problem(cell) is None
    artifact.write_bytes(b"01234")
    assert "changed since it was saved" in integrity_problem(cell)
    artifact.unlink()
    assert "is gone since it was saved" in integrity_problem(cell)
