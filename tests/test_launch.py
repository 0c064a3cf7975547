"""The host's handling of workers that die or hang, driven through real subprocesses.

A stand-in interpreter plays the worker's protocol (job file in, heartbeat, one record per
cell) and misbehaves on the cells named for it.
"""

import json
import stat
import sys
from pathlib import Path

import pytest

from matrix.envs import Environment
from matrix.launch import Limits, run_cells
from matrix.stacks import Stack
from matrix.store import Workspace

FAKE_WORKER = """#!{python}
import json, os, signal, sys, time
job_path = sys.argv[-1]
job = json.load(open(job_path))
if os.environ.get("FAKE_NO_START"):
    sys.exit("ImportError: no TensorFlow here")
def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(path + ".tmp", path)
for index, cell in enumerate(job["cells"]):
    write(job["heartbeat"], {{"cell": index}})
    if cell["case"] == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if cell["case"] == "hang":
        time.sleep(60)
    if cell["case"] == "exit":
        sys.exit(3)
    if cell["case"] == "memory":
        hoard = []
        while True:
            hoard.append(b"x" * (32 << 20))
            time.sleep(0.02)
    if cell["case"] == "leak":  # keeps 60 MB a cell, as TF 1.15 keeps a little of every load
        kept = globals().setdefault("kept", [])
        kept.append(bytearray(60 << 20))
        time.sleep(0.5)  # the host sees it at its new size
    write(cell["record"], dict(cell, schema=1, kind="load", verdict="ok", pid=os.getpid(), runtime=job.get("runtime")))
"""

STACK = Stack(id="fake", python="3.11", requirements=("nothing",), family="keras2")
LIMITS = Limits(cell_timeout_s=2, startup_timeout_s=2, memory_mb=300)


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    path = tmp_path / "fake-python"
    path.write_text(FAKE_WORKER.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def ready(python: Path) -> Environment:
    return Environment(stack_id=STACK.id, status="ready", python=python)


def cells(*cases: str) -> list[dict]:
    return [{"case": case, "format": "h5", "fingerprint": f"fp-{i}", "record": f"records/{i}-{case}.json"}
            for i, case in enumerate(cases)]


def verdicts(workspace: Workspace, planned: list[dict]) -> list[str]:
    return [json.loads((workspace.root / c["record"]).read_text())["verdict"] for c in planned]


def test_each_fault_costs_exactly_its_cell(tmp_path: Path, fake_python: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    planned = cells("a", "segfault", "b", "hang", "c", "exit", "d", "memory", "e")
    stats = run_cells(STACK, ready(fake_python), "load", planned, workspace, LIMITS)
    assert verdicts(workspace, planned) == ["ok", "crashed", "ok", "timeout", "ok", "crashed", "ok", "crashed", "ok"]
    assert stats.processes == 5 and stats.peak_rss_mb > LIMITS.memory_mb
    segfault = json.loads((workspace.root / planned[1]["record"]).read_text())
    assert segfault["error"]["message"] == "worker killed by signal SIGSEGV"
    assert segfault["returncode"] == -11 and segfault["attempts"] == []
    exited = json.loads((workspace.root / planned[5]["record"]).read_text())
    assert exited["error"]["message"] == "worker exited with code 3"
    hoarder = json.loads((workspace.root / planned[7]["record"]).read_text())
    assert "over the memory limit of 300 MB (--memory-limit)" in hoarder["error"]["message"]


def test_a_worker_grown_by_earlier_cells_is_replaced_and_no_cell_blamed(tmp_path: Path, fake_python: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    planned = cells(*["leak"] * 8)  # 480 MB in one process: past the 300 MB limit, were it kept
    stats = run_cells(STACK, ready(fake_python), "load", planned, workspace, LIMITS)
    assert verdicts(workspace, planned) == ["ok"] * 8
    assert stats.processes >= 3 and stats.peak_rss_mb < LIMITS.memory_mb
    pids = [json.loads((workspace.root / c["record"]).read_text())["pid"] for c in planned]
    assert len(set(pids)) == stats.processes


def test_a_worker_that_cannot_start_fails_every_cell_once(tmp_path: Path, fake_python: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NO_START", "1")
    workspace = Workspace(tmp_path / "ws")
    planned = cells("a", "b", "c")
    assert run_cells(STACK, ready(fake_python), "save", planned, workspace, LIMITS).processes == 1
    records = [json.loads((workspace.root / c["record"]).read_text()) for c in planned]
    assert [r["status"] for r in records] == ["crashed"] * 3
    assert "before its first cell" in records[0]["error"]["message"]
    assert "no TensorFlow here" in records[0]["error"]["traceback"]


def test_the_self_check_gives_every_cell_a_fresh_process(tmp_path: Path, fake_python: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    planned = cells("a", "segfault", "b")
    assert run_cells(STACK, ready(fake_python), "verify", planned, workspace, LIMITS).processes == 3
    assert verdicts(workspace, planned) == ["ok", "crashed", "ok"]
    pids = [json.loads((workspace.root / planned[i]["record"]).read_text())["pid"] for i in (0, 2)]
    assert pids[0] != pids[1]


@pytest.mark.parametrize(("phase", "runtime"), [("save", "tuned"), ("load", "tuned"), ("verify", "stock"),
                                                ("check-load", "stock"), ("check-predict", "stock")])
def test_the_matrix_runs_tuned_and_the_self_check_and_users_files_stock(
        tmp_path: Path, fake_python: Path, phase: str, runtime: str) -> None:
    workspace = Workspace(tmp_path / "ws")
    planned = cells("a")
    run_cells(STACK, ready(fake_python), phase, planned, workspace, LIMITS)
    assert json.loads((workspace.root / planned[0]["record"]).read_text())["runtime"] == runtime
