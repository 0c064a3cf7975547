"""One uv virtualenv per stack, built once and reused while the stack's fingerprint holds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matrix.errors import MatrixError
from matrix.interpreters import find_python, how_to_get
from matrix.stacks import Stack
from runner.protocol import write_json

INFO_FILE = "matrix-env.json"
INSTALL_TIMEOUT_S = 1800
TAIL_LINES = 15


@dataclass(frozen=True, kw_only=True)
class Environment:
    """The outcome of preparing a stack: ``ready``, ``unavailable`` or ``install-failed``."""

    stack_id: str
    status: str
    python: Path | None = None
    reason: str = ""
    seconds: float = 0.0
    reused: bool = False
    image: str | None = None  # set when the stack runs in a container (matrix.containers)


def find_uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise MatrixError("uv is not on PATH: run through nox (`nox -s matrix`) or `pip install uv`")
    return uv


def ensure_env(stack: Stack, root: Path) -> Environment:
    started = time.monotonic()
    location = root / stack.id
    python = location / "bin" / "python"
    info = read_info(location)
    reused = info.get("fingerprint") == stack.fingerprint() and python.exists()
    if not reused:
        interpreter = find_python(stack.python)
        if interpreter is None:
            return Environment(stack_id=stack.id, status="unavailable", reason=how_to_get(stack.python))
        failure = build_env(stack, interpreter, location)
        if failure:
            seconds = round(time.monotonic() - started, 1)
            return Environment(stack_id=stack.id, status="install-failed", reason=failure, seconds=seconds)
    seconds = round(time.monotonic() - started, 1)
    return Environment(stack_id=stack.id, status="ready", python=python, seconds=seconds, reused=reused)


def build_env(stack: Stack, interpreter: Path, location: Path) -> str:
    """Build from scratch; return '' on success, else the installer's last lines."""
    shutil.rmtree(location, ignore_errors=True)
    uv = find_uv()
    steps = [
        [uv, "venv", "--quiet", "--python", str(interpreter), str(location)],
        [uv, "pip", "install", "--python", str(location / "bin" / "python"), *stack.requirements],
    ]
    for command in steps:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command[:3])}` ran past {INSTALL_TIMEOUT_S} s"
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            tail = "\n".join(output.splitlines()[-TAIL_LINES:])
            return f"`uv {command[1]}` failed (exit {result.returncode}): {install_hint(output)}\n{tail}"
    write_fingerprint(location, stack)
    return ""


UNREACHABLE = ("Failed to fetch", "error sending request", "Connection refused", "dns error", "timed out",
               "Could not connect", "failed to lookup address")


def install_hint(output: str) -> str:
    """What an installer failure means, in the words a user acts on."""
    if any(sign in output for sign in UNREACHABLE):
        return ("the package index could not be reached (PyPI, or the UV_INDEX_URL / UV_DEFAULT_INDEX "
                "mirror): check the network or proxy and run again; stacks already built are kept")
    missing = re.search(r"there is no version of ([^\s,]+)", output)
    if missing:
        return (f"no release matches `{missing.group(1)}`: fix the pin in the stacks declaration "
                "(`nox -s versions` lists the releases PyPI has)")
    return "check this stack's requirements in the stacks declaration"


def read_info(location: Path) -> dict[str, Any]:
    """What ``write_fingerprint`` wrote, or ``{}`` when there is nothing readable."""
    try:
        info = json.loads((location / INFO_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def write_fingerprint(location: Path, stack: Stack) -> None:
    write_info(location, {"fingerprint": stack.fingerprint(), "python": stack.python,
                          "requirements": list(stack.requirements)})


def write_info(location: Path, info: dict[str, Any]) -> None:
    """Atomically: a write cut short must not lose the fingerprint (the environment would be built again)."""
    try:
        write_json(str(location / INFO_FILE), info)
    except OSError as exc:
        raise MatrixError(f"cannot write {location / INFO_FILE} ({exc}): free some space or fix the "
                          "workspace's permissions, and run again") from exc
