"""The Docker backend: a stack as an image, a worker as a container, through the Docker SDK.

One image per stack, built from ``dockerfiles/Dockerfile`` with only the stack's pins and tagged
by its fingerprint, so it is built once and reused. A worker container mounts the runner
(read-only) and the workspace, has no network, runs as an unprivileged user, and is always
removed. The SDK is imported only when a stack runs in a container.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matrix.envs import Environment
from matrix.errors import MatrixError
from matrix.stacks import Stack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE_DIR = PROJECT_ROOT / "dockerfiles"
CONTAINER_PYTHON = Path("/opt/stack/bin/python")
WORKSPACE_MOUNT = "/workspace"
CODE_MOUNT = "/opt/matrix/runner"
NOBODY = "65534:65534"  # the container's user when the host runs as root
LABEL = "keras-matrix.stack"  # on every worker container, to find strays
BUILD_TAIL_LINES = 15


@dataclass(frozen=True)
class DockerOptions:
    base_image: str | None = None  # default python:X.Y-slim
    ca_dir: Path | None = None  # extra CA certificates (*.crt) for a TLS-intercepting proxy


def client() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise MatrixError("the Docker backend needs the Docker SDK: run through nox, or `pip install docker`") \
            from exc
    try:
        engine = docker.from_env(timeout=600)
        engine.ping()
    except docker.errors.DockerException as exc:
        raise MatrixError(f"no Docker engine answers ({exc}): start one (the README says how) or run with "
                          "--backend venv") from exc
    return engine


def image_tag(stack: Stack, options: DockerOptions) -> str:
    base = options.base_image or f"python:{stack.python}-slim"
    recipe = hashlib.sha256((DOCKERFILE_DIR / "Dockerfile").read_bytes() + base.encode()).hexdigest()[:8]
    return f"keras-matrix/{stack.id}:{stack.fingerprint()}-{recipe}"


def ensure_image(stack: Stack, options: DockerOptions) -> Environment:
    """The stack's image, built unless an image with its tag exists."""
    import docker

    started, engine, tag = time.monotonic(), client(), image_tag(stack, options)
    try:
        engine.images.get(tag)
        return Environment(stack_id=stack.id, status="ready", python=CONTAINER_PYTHON, image=tag, reused=True)
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="matrix-image-") as context:
        shutil.copy(DOCKERFILE_DIR / "Dockerfile", context)
        certs = Path(context) / "certs"
        certs.mkdir()
        for cert in sorted(options.ca_dir.glob("*.crt")) if options.ca_dir else []:
            shutil.copy(cert, certs)
        build_args = {"PYTHON_VERSION": stack.python, "REQUIREMENTS": " ".join(stack.requirements)}
        if options.base_image:
            build_args["BASE_IMAGE"] = options.base_image
        try:
            engine.images.build(path=context, tag=tag, buildargs=build_args, network_mode="host", rm=True,
                                forcerm=True)
        except docker.errors.BuildError as exc:
            lines = [str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in exc.build_log]
            tail = "\n".join(line for line in lines if line)[-3000:].splitlines()[-BUILD_TAIL_LINES:]
            return Environment(stack_id=stack.id, status="install-failed",
                               reason="the image build failed; check this stack's requirements and the base "
                                      "image:\n" + "\n".join(tail))
    return Environment(stack_id=stack.id, status="ready", python=CONTAINER_PYTHON, image=tag,
                       seconds=round(time.monotonic() - started, 1))


class ContainerWorker:
    """What the host's watcher needs of a worker (poll, kill, memory), for a container."""

    def __init__(self, container: Any, log_path: Path) -> None:
        self.container = container
        self.log_path = log_path
        self.returncode: int | None = None
        self.oom_killed = False

    def poll(self) -> int | None:
        if self.returncode is None:
            self.container.reload()
            state = self.container.attrs["State"]
            if state["Status"] in ("exited", "dead"):
                self.oom_killed = bool(state.get("OOMKilled"))
                code = int(state["ExitCode"])
                # A process killed by signal N exits the container with 128 + N: report the signal.
                self.returncode = -(code - 128) if code > 128 else code
                self.finish()
        return self.returncode

    def kill(self) -> None:
        import docker

        with contextlib.suppress(docker.errors.APIError):  # it already stopped: nothing to kill
            self.container.kill()
        self.container.wait()
        self.poll()

    def resident_mb(self) -> int:
        return 0  # the container's own memory limit stands guard; see start_container

    def finish(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(self.container.logs(stdout=True, stderr=True))
        self.container.remove(force=True)


def start_container(env: Environment, stack: Stack, command: list[str], workspace: Path, log_path: Path,
                    memory_mb: int) -> ContainerWorker:
    user = NOBODY if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    if user == NOBODY:
        open_to_others(workspace)
    container = client().containers.run(
        env.image, command, detach=True, network_mode="none", user=user, working_dir=WORKSPACE_MOUNT,
        labels={LABEL: stack.id},
        environment={**stack.env, "HOME": "/tmp"}, mem_limit=f"{memory_mb}m",
        volumes={str(workspace): {"bind": WORKSPACE_MOUNT, "mode": "rw"},
                 str(PROJECT_ROOT / "runner"): {"bind": CODE_MOUNT, "mode": "ro"}},
    )
    return ContainerWorker(container, log_path)


def open_to_others(workspace: Path) -> None:
    """Let the unprivileged container user write records, artifacts, heartbeats and the check's files (root host)."""
    for name in ("records", "artifacts", "jobs", "check"):
        top = workspace / name
        top.mkdir(parents=True, exist_ok=True)
        for folder, _dirs, files in os.walk(top):
            chmod_if_there(folder, 0o777)
            for file in files:
                chmod_if_there(os.path.join(folder, file), 0o666)


def chmod_if_there(path: str, mode: int) -> None:
    """Another stack's thread may rename its temporary file away between the walk and the chmod."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, mode)
