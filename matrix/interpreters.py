"""Find a Python X.Y without trusting pyenv shims: PATH, pyenv's versions folder, uv's Pythons.

A pyenv shim for a version that is not selected exists on PATH but fails when run, so every
candidate is asked for its version before it is used.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path


@functools.cache
def find_python(version: str) -> Path | None:
    """The first working interpreter that reports ``version`` (``"3.8"``), or None."""
    for candidate in candidates(version):
        if reports_version(candidate, version):
            return candidate
    return None


def candidates(version: str) -> list[Path]:
    found = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(Path(on_path))
    for folder in (pyenv_root() / "versions", uv_python_dir()):
        found += sorted(folder.glob(f"*{version}.*/bin/python{version}"), reverse=True)
    return found


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def uv_python_dir() -> Path:
    configured = os.environ.get("UV_PYTHON_INSTALL_DIR")
    if configured:
        return Path(configured)
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "uv" / "python"


def reports_version(python: Path, version: str) -> bool:
    try:
        result = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, env=without_pyenv_selection(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def without_pyenv_selection() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYENV_VERSION", None)
    return env


def how_to_get(version: str) -> str:
    return (
        f"needs Python {version}, found none on PATH, in {pyenv_root() / 'versions'} or in "
        f"{uv_python_dir()}: install it (`pyenv install {version}` or `uv python install {version}`) "
        "and run again"
    )
