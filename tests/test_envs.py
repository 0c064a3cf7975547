"""Workers cache the bytecode they compile in their environment, whatever the host's setting."""

import subprocess
import sys
from pathlib import Path

import pytest

from matrix.envs import ensure_env, write_fingerprint
from matrix.launch import worker_env
from matrix.stacks import Stack


def plain_env(root: Path, stack: Stack) -> Path:
    """A virtualenv as `ensure_env` leaves it, with one module of a package in it."""
    location = root / stack.id
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(location)], check=True)
    site = next(location.glob("lib/python3.*/site-packages"))
    (site / "layers.py").write_text("VALUE = 1\n")
    write_fingerprint(location, stack)
    return site


def test_a_worker_caches_what_it_imports_where_the_host_writes_no_bytecode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = Stack(id="plain", python="{}.{}".format(*sys.version_info[:2]), requirements=("six",), family="keras2")
    site = plain_env(tmp_path, stack)
    env = ensure_env(stack, tmp_path)
    assert (env.status, env.reused) == ("ready", True)
    assert not list(site.glob("__pycache__/layers.*.pyc"))  # nothing compiled up front
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    subprocess.run([str(env.python), "-c", "import layers"], env=worker_env(stack), check=True)
    assert list(site.glob("__pycache__/layers.*.pyc"))
