"""The Docker backend for real: stack images built without a registry, a small matrix in
containers with no network and no root, and the same verdicts as the venv backend.

Needs a running Docker engine: skipped without one, unless MATRIX_REQUIRE_DOCKER=1 (as in CI,
where .ci/run starts an engine and builds the base image). MATRIX_DOCKER_BASE names the base
image (default python:3.11-slim, which needs a registry), MATRIX_DOCKER_CA a folder of extra CA
certificates for the builds."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from matrix.containers import LABEL, DockerOptions, client, ensure_image, start_container
from matrix.errors import MatrixError
from matrix.stacks import load_stacks

pytestmark = [pytest.mark.e2e, pytest.mark.docker]
ROOT = Path(__file__).resolve().parent.parent
STACKS = ("tf2.15-py3.11", "keras3.15-tf2.21-py3.11")
CASES = ("custom_layer", "custom_loss")
NOT_LOADED = ("blocked", "unsupported", "unavailable")  # nothing was saved to load
BASE = os.environ.get("MATRIX_DOCKER_BASE")
CA = os.environ.get("MATRIX_DOCKER_CA")


@pytest.fixture(scope="module")
def engine() -> Any:
    try:
        return client()
    except MatrixError as exc:
        if os.environ.get("MATRIX_REQUIRE_DOCKER") == "1":
            pytest.fail(f"MATRIX_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(str(exc))


def run(workspace: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "matrix", "run", "--workspace", str(workspace), "--site",
               str(workspace / "site"), "--stacks", *STACKS, "--cases", *CASES, *extra]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def verdicts(workspace: Path) -> dict[tuple[str, ...], Any]:
    results = json.loads((workspace / "site" / "results.json").read_text())
    return {(c["producer"], c["consumer"], c["case"], c["format"]):
            (c["verdict"], c["remedy"], c["signature_id"], [(a["mode"], a["outcome"]) for a in c["attempts"]])
            for c in results["cells"]}


def docker_args() -> list[str]:
    return ["--backend", "docker", *(["--docker-base", BASE] if BASE else []), *(["--docker-ca", CA] if CA else [])]


@pytest.fixture(scope="module")
def runs(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same small matrix in containers and in venvs, and in containers again."""
    root = tmp_path_factory.mktemp("runs")
    first = run(root / "docker", *docker_args())
    run(root / "venv", "--backend", "venv")
    again = run(root / "docker-again", *docker_args())
    return {"root": root, "first": first, "again": again}


def test_containers_give_the_venv_backends_verdicts(engine: Any, runs: dict[str, Any]) -> None:
    root = runs["root"]
    results = json.loads((root / "docker" / "site" / "results.json").read_text())
    assert {s["backend"] for s in results["stacks"]} == {"docker"}
    assert verdicts(root / "docker") == verdicts(root / "venv")
    assert engine.containers.list(all=True, filters={"label": LABEL}) == []  # every worker removed
    assert "image built" not in runs["again"].stdout  # tagged by fingerprint, so reused
    loads = sum(1 for c in results["cells"] if c["consumer"] == STACKS[1] and c["verdict"] not in NOT_LOADED)
    assert f"keras3.15-tf2.21-py3.11: {loads} loads" in runs["first"].stdout


def test_a_check_in_containers_gives_the_venv_backends_verdicts(engine: Any, runs: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    """`matrix check` of two real files: the user's module and files reach the containers."""
    artifacts = runs["root"] / "docker" / "artifacts"
    files = [artifacts / STACKS[0] / "custom_loss" / "model.h5", artifacts / STACKS[1] / "custom_layer" / "model.keras"]
    project = tmp_path / "project"
    project.mkdir()
    for case, module in (("custom_loss", "losses.py"), ("custom_layer", "layers.py")):
        (project / module).write_text((ROOT / "runner" / "cases" / f"{case}.py").read_text())
    checked = {}
    for backend in (docker_args(), ["--backend", "venv"]):
        site = tmp_path / backend[1]
        command = [sys.executable, "-m", "matrix", "check", *map(str, files), "--custom-objects",
                   "losses:my_custom_loss", "layers:MyCustomLayer", "--import-path", str(project), "--workspace",
                   str(runs["root"] / backend[1]), "--site", str(site), "--stacks", *STACKS, *backend]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stdout + result.stderr
        cells = json.loads((site / "check" / "results.json").read_text())["cells"]
        checked[backend[1]] = {(c["producer"], c["consumer"]): (c["verdict"], c["remedy"], c["signature_id"],
                               [(a["mode"], a["outcome"]) for a in c["attempts"]]) for c in cells}
    assert len(checked["docker"]) == 4
    assert checked["docker"] == checked["venv"]
    measured = verdicts(runs["root"] / "docker")  # the matrix's cells for the same files
    for (name, consumer), (verdict, remedy, *_) in checked["docker"].items():
        origin = (STACKS[0], consumer, "custom_loss", "h5") if name == "model.h5" else \
            (STACKS[1], consumer, "custom_layer", "keras")
        if measured[origin][1] == "rebuild + load_weights":  # the case's code, which a check has not
            assert verdict == "error", (name, consumer)
        else:
            assert (verdict, remedy) == measured[origin][:2], (name, consumer)


def test_a_worker_container_has_no_network_and_no_root(engine: Any, tmp_path: Path) -> None:
    stack = {s.id: s for s in load_stacks()}[STACKS[0]]
    env = ensure_image(stack, DockerOptions(BASE, Path(CA) if CA else None))
    address = host_address()
    with socket.create_server((address, 0)) as listener:
        port = listener.getsockname()[1]
        socket.create_connection((address, port), 3).close()  # the host reaches it; needs no name, nor the outside
        probe = ("import os, socket\n"
                 "print('uid', os.getuid())\n"
                 "print('interfaces', sorted(os.listdir('/sys/class/net')))\n"
                 f"try:\n    socket.create_connection(({address!r}, {port}), 3); print('network: yes')\n"
                 "except OSError as exc:\n    print('network: no,', type(exc).__name__)\n")
        log = tmp_path / "probe.log"
        worker = start_container(env, stack, ["/opt/stack/bin/python", "-c", probe], tmp_path, log, 1024)
        while worker.poll() is None:
            time.sleep(0.2)
    lines = log.read_text().splitlines()
    # each line printed by the probe itself (a traceback that quotes the probe's source must not pass)
    assert lines[0].startswith("uid ") and lines[0] != "uid 0", lines
    assert lines[1] == "interfaces ['lo']" and lines[2].startswith("network: no, "), lines


def host_address() -> str:
    """This machine's own address on its network: a UDP connect picks the route, sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as route:
        route.connect(("10.255.255.255", 1))
        return str(route.getsockname()[0])
