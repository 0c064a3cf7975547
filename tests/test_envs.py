"""Environments are compiled to bytecode once, also those built before it was done."""

import json
import subprocess
import sys
from pathlib import Path

from matrix.envs import INFO_FILE, ensure_env, write_fingerprint
from matrix.stacks import Stack


def plain_env(root: Path, stack: Stack) -> Path:
    """A virtualenv as an older version of this tool left it: built, fingerprinted, not compiled."""
    location = root / stack.id
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(location)], check=True)
    site = next(location.glob("lib/python3.*/site-packages"))
    (site / "layers.py").write_text("VALUE = 1\n")
    write_fingerprint(location, stack)
    return site


def test_a_reused_environment_is_compiled_on_its_next_use_and_only_then(tmp_path: Path) -> None:
    stack = Stack(id="plain", python="{}.{}".format(*sys.version_info[:2]), requirements=("six",), family="keras2")
    site = plain_env(tmp_path, stack)
    env = ensure_env(stack, tmp_path)
    assert (env.status, env.reused) == ("ready", True)
    assert json.loads((tmp_path / stack.id / INFO_FILE).read_text())["bytecode"] is True
    compiled = list((site / "__pycache__").glob("layers.*.pyc"))
    assert compiled
    compiled[0].unlink()
    assert ensure_env(stack, tmp_path).reused
    assert not list((site / "__pycache__").glob("layers.*.pyc"))  # marked compiled: not walked again


def test_an_environment_that_cannot_be_compiled_is_used_as_it_is_and_not_tried_again(tmp_path: Path) -> None:
    stack = Stack(id="broken", python="{}.{}".format(*sys.version_info[:2]), requirements=("six",), family="keras2")
    plain_env(tmp_path, stack)
    python = tmp_path / stack.id / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    assert ensure_env(stack, tmp_path).status == "ready"
    info = json.loads((tmp_path / stack.id / INFO_FILE).read_text())
    assert info["fingerprint"] == stack.fingerprint() and info["bytecode"].startswith("not compiled: ")
    python.write_text("#!/bin/sh\nexit 0\n")  # would succeed now, but is not run again
    assert ensure_env(stack, tmp_path).reused
    assert json.loads((tmp_path / stack.id / INFO_FILE).read_text())["bytecode"].startswith("not compiled: ")
