"""New releases on PyPI that the stacks declaration misses, printed as stacks ready to paste.

Asks the package index's JSON API for TensorFlow, Keras, tf-keras, JAX and PyTorch releases; keeps the latest
final patch of each minor that is at least a day old (a release younger than that may still be
yanked or followed by a fix); compares with the pins in the declaration. Needs no TensorFlow.

The index is the one this machine installs from (``package_index``): $MATRIX_PYPI_URL (a JSON
API itself), else the index uv or pip is configured with, else PyPI.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from matrix.errors import MatrixError
from matrix.stacks import Family, Stack, family_named

PUBLIC_JSON_API = "https://pypi.org/pypi"
INDEX_VARIABLES = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")  # the first set wins
MACHINE_PIP_CONFIG = Path("/etc/pip.conf")
MIN_AGE = timedelta(days=1)
FINAL = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\.post\d+)?$")
WHEEL_PYTHON = re.compile(r"-cp3(\d+)-")
PREFERRED_PYTHON = "3.11"
TIMEOUT_S = 30


@dataclass(frozen=True, order=True)
class Release:
    """The latest final patch of one minor of one package."""

    minor: tuple[int, int]
    version: str
    pythons: tuple[str, ...]


@dataclass(frozen=True)
class PackageIndex:
    """A JSON API (the URL before ``/PACKAGE/json``) and where this machine names it."""

    json_api: str
    origin: str


def package_index(environ: dict[str, str] | None = None) -> PackageIndex:
    """$MATRIX_PYPI_URL; else the first of $UV_DEFAULT_INDEX, $UV_INDEX_URL, $PIP_INDEX_URL;
    else ``index-url`` in pip's config files, in pip's order; else PyPI."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get("MATRIX_PYPI_URL"):
        return PackageIndex(environ["MATRIX_PYPI_URL"].rstrip("/"), "MATRIX_PYPI_URL")
    for variable in INDEX_VARIABLES:
        if environ.get(variable):
            return index_api(environ[variable], variable)
    for path in pip_config_files(environ):
        url = config_index_url(path)
        if url:
            return index_api(url, str(path))
    return PackageIndex(PUBLIC_JSON_API, "the default, PyPI")


def pip_config_files(environ: dict[str, str]) -> list[Path]:
    """pip's config files, the one that wins first: $PIP_CONFIG_FILE, the virtualenv's, the
    user's, then the machine's ($XDG_CONFIG_DIRS, /etc)."""
    home = Path(environ.get("HOME", "~")).expanduser()
    files = [Path(environ["PIP_CONFIG_FILE"])] if environ.get("PIP_CONFIG_FILE") else []
    if environ.get("VIRTUAL_ENV"):
        files.append(Path(environ["VIRTUAL_ENV"]) / "pip.conf")
    files += [Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf", home / ".pip" / "pip.conf",
              MACHINE_PIP_CONFIG]
    files += [Path(folder) / "pip" / "pip.conf" for folder in environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")]
    return files


def config_index_url(path: Path) -> str | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None  # pip itself says what is wrong with its own config
    for section in ("global", "install"):
        value = parser.get(section, "index-url", fallback=None) or parser.get(section, "index_url", fallback=None)
        if value:
            return value.strip()
    return None


def index_api(url: str, origin: str) -> PackageIndex:
    """The JSON API of a simple index at ``.../simple``: ``.../pypi``, where PyPI keeps its own."""
    base = url.rstrip("/")
    if not base.endswith("/simple"):
        raise MatrixError(f"the package index {url} (from {origin}) does not end in /simple, so its JSON API "
                          "cannot be derived: set MATRIX_PYPI_URL to it (the URL before /PACKAGE/json)")
    return PackageIndex(base[: -len("simple")] + "pypi", origin)


def fetch_releases(package: str, index: PackageIndex | None = None) -> dict[str, Any]:
    index = index or package_index()
    url = f"{index.json_api}/{package}/json"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return dict(json.load(response)["releases"])
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise MatrixError(f"cannot read {url} ({exc}), the JSON API of the index from {index.origin}: check the "
                          "network or proxy; if that index has no JSON API there, set MATRIX_PYPI_URL to one "
                          "(the URL before /PACKAGE/json)") from exc


def latest_patches(releases: dict[str, Any], now: datetime) -> dict[tuple[int, int], Release]:
    """The newest final, unyanked patch per minor, among releases older than a day."""
    best: dict[tuple[int, int], tuple[tuple[int, ...], Release]] = {}
    for version, files in releases.items():
        match = FINAL.match(version)
        if not match or not files or any(f.get("yanked") for f in files):
            continue
        uploaded = min(datetime.fromisoformat(f["upload_time_iso_8601"].replace("Z", "+00:00")) for f in files)
        if now - uploaded < MIN_AGE:
            continue
        key = tuple(int(part) for part in match.groups())
        minor = (key[0], key[1])
        pythons = tuple(sorted({f"3.{m}" for f in files for m in WHEEL_PYTHON.findall(f["filename"])},
                               key=lambda v: int(v.split(".")[1])))
        if minor not in best or key > best[minor][0]:
            best[minor] = (key, Release(minor, version, pythons))
    return {minor: release for minor, (_, release) in best.items()}


def pinned(stacks: Iterable[Stack], package: str) -> set[str]:
    """Versions of ``package`` pinned with == anywhere in the declaration."""
    prefix = f"{package}=="
    return {r[len(prefix):] for s in stacks for r in s.requirements if r.startswith(prefix)}


def python_for(release: Release) -> str:
    if not release.pythons or PREFERRED_PYTHON in release.pythons:
        return PREFERRED_PYTHON
    return release.pythons[-1]


def stack_block(stack_id: str, python: str, requirements: list[str], family: Family, env: str = "") -> str:
    lines = ["[[stack]]", f'id = "{stack_id}"', f'python = "{python}"',
             "requirements = [" + ", ".join(f'"{r}"' for r in requirements) + "]"]
    if env:
        lines.append(f"env = {env}")
    lines.append(f'family = "{family.name}"')
    return "\n".join(lines)


def missing_tensorflow(tf: dict[tuple[int, int], Release], keras: dict[tuple[int, int], Release],
                       stacks: list[Stack]) -> list[str]:
    """TensorFlow 2 minors not pinned at their latest patch: Keras 2 stacks before 2.16, from
    2.16 on (where tf.keras is Keras 3) a stack with the newest Keras 3."""
    have = pinned(stacks, "tensorflow-cpu") | pinned(stacks, "tensorflow")
    keras3 = newest_keras3(keras)
    blocks = []
    for minor, release in sorted(tf.items()):
        if minor[0] != 2 or release.version in have:
            continue
        python = python_for(release)
        if minor < (2, 16):
            blocks.append(stack_block(f"tf2.{minor[1]}-py{python}", python,
                                      [f"tensorflow-cpu=={release.version}"], family_named("keras2")))
        elif keras3 is not None:
            blocks.append(keras3_block(keras3, release))
    return blocks


def newest_keras3(keras: dict[tuple[int, int], Release]) -> Release | None:
    return max((r for minor, r in keras.items() if minor[0] == 3), default=None)


def keras3_block(keras: Release, tf: Release) -> str:
    python = python_for(tf)
    return stack_block(f"keras3.{keras.minor[1]}-tf2.{tf.minor[1]}-py{python}", python,
                       [f"tensorflow-cpu=={tf.version}", f"keras=={keras.version}"], family_named("keras3"))


def missing_keras3(keras: dict[tuple[int, int], Release], tf: dict[tuple[int, int], Release],
                   stacks: list[Stack]) -> list[str]:
    """Keras 3 minors not pinned at their latest patch on TensorFlow, paired with the newest TensorFlow."""
    have = pinned([s for s in stacks if s.keras_backend == "tensorflow"], "keras")
    newest_tf = max(tf.values())
    return [keras3_block(release, newest_tf) for minor, release in sorted(keras.items())
            if minor[0] == 3 and release.version not in have]


def missing_tf_keras(tf_keras: dict[tuple[int, int], Release], tf: dict[tuple[int, int], Release],
                     stacks: list[Stack]) -> list[str]:
    """A tf-keras stack for the newest TensorFlow minor that has a tf-keras release."""
    newest = max(tf.values())
    release = tf_keras.get(newest.minor)
    if release is None or release.version in pinned(stacks, "tf-keras"):
        return []
    python = python_for(newest)
    return [stack_block(f"tf{newest.minor[0]}.{newest.minor[1]}-tfkeras-py{python}", python,
                        [f"tensorflow-cpu=={newest.version}", f"tf-keras=={release.version}"], family_named("tf_keras"),
                        env='{ TF_USE_LEGACY_KERAS = "1" }')]


# The standalone, multi-backend Keras on PyPI (2.4 on is a shim over tf.keras, then TF's own Keras),
# proposed on the TensorFlow 1.x the declared standalone stacks run on, with their pins.
STANDALONE_MINORS = ((2, 0), (2, 1), (2, 2), (2, 3))
STANDALONE_BESIDE = ["tensorflow==1.15.5", "h5py<3", "protobuf<3.21", "numpy<1.19"]
STANDALONE_PYTHON = "3.7"
BACKEND_PACKAGES = {"jax": "jax[cpu]", "torch": "torch"}  # Keras 3's other backends: what installs them


def missing_standalone(keras: dict[tuple[int, int], Release], stacks: list[Stack]) -> list[str]:
    """Standalone Keras 2 minors not pinned at their latest patch."""
    have = pinned(stacks, "keras")
    return [stack_block(f"keras2.{minor[1]}-tf1.15-py{STANDALONE_PYTHON}", STANDALONE_PYTHON,
                        [f"keras=={release.version}", *STANDALONE_BESIDE], family_named("standalone-keras2"),
                        env='{ KERAS_BACKEND = "tensorflow" }')
            for minor, release in sorted(keras.items()) if minor in STANDALONE_MINORS and release.version not in have]


def missing_backends(keras: dict[tuple[int, int], Release], tf: dict[tuple[int, int], Release],
                     backends: dict[str, dict[tuple[int, int], Release]], stacks: list[Stack]) -> list[str]:
    """The newest Keras 3 on each other backend (its newest release) where no stack runs it there."""
    keras3 = newest_keras3(keras)
    if keras3 is None:
        return []
    newest_tf, blocks = max(tf.values()), []
    for backend, releases in backends.items():
        if not releases or any(s.keras_backend == backend and f"keras=={keras3.version}" in s.requirements
                               for s in stacks):
            continue
        release, python = max(releases.values()), python_for(newest_tf)
        blocks.append(stack_block(
            f"keras3.{keras3.minor[1]}-{backend}{release.minor[0]}.{release.minor[1]}-py{python}", python,
            [f"tensorflow-cpu=={newest_tf.version}", f"keras=={keras3.version}",
             f"{BACKEND_PACKAGES[backend]}=={release.version}"], family_named("keras3"),
            env=f'{{ KERAS_BACKEND = "{backend}" }}'))
    return blocks


def missing_stacks(stacks: list[Stack], now: datetime | None = None) -> list[str]:
    """Every stack block the declaration misses, from what PyPI says today."""
    now = now or datetime.now(UTC)
    index = package_index()
    tf = latest_patches(fetch_releases("tensorflow-cpu", index), now)
    keras = latest_patches(fetch_releases("keras", index), now)
    tf_keras = latest_patches(fetch_releases("tf-keras", index), now)
    backends = {backend: latest_patches(fetch_releases(backend, index), now) for backend in BACKEND_PACKAGES}
    blocks = [*missing_tensorflow(tf, keras, stacks), *missing_keras3(keras, tf, stacks),
              *missing_tf_keras(tf_keras, tf, stacks), *missing_standalone(keras, stacks),
              *missing_backends(keras, tf, backends, stacks)]
    return list(dict.fromkeys(blocks))  # a new TF and a new Keras can suggest the same stack
