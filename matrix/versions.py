"""New releases on PyPI that the stacks declaration misses, printed as stacks ready to paste.

Asks PyPI's JSON API for TensorFlow, Keras and tf-keras releases; keeps the latest final patch
of each minor that is at least a day old (a release younger than that may still be yanked or
followed by a fix); compares with the pins in the declaration. Needs no TensorFlow.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from matrix.errors import MatrixError
from matrix.stacks import Family, Stack, family_named

PYPI_URL = os.environ.get("MATRIX_PYPI_URL", "https://pypi.org/pypi")
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


def fetch_releases(package: str) -> dict[str, Any]:
    url = f"{PYPI_URL.rstrip('/')}/{package}/json"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return dict(json.load(response)["releases"])
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise MatrixError(f"cannot read {url} ({exc}): check the network or proxy, or point "
                          "MATRIX_PYPI_URL at a PyPI JSON API mirror") from exc


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
    """Keras 3 minors not pinned at their latest patch, paired with the newest TensorFlow."""
    have, newest_tf = pinned(stacks, "keras"), max(tf.values())
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


def missing_stacks(stacks: list[Stack], now: datetime | None = None) -> list[str]:
    """Every stack block the declaration misses, from what PyPI says today."""
    now = now or datetime.now(UTC)
    tf = latest_patches(fetch_releases("tensorflow-cpu"), now)
    keras = latest_patches(fetch_releases("keras"), now)
    tf_keras = latest_patches(fetch_releases("tf-keras"), now)
    blocks = [*missing_tensorflow(tf, keras, stacks), *missing_keras3(keras, tf, stacks),
              *missing_tf_keras(tf_keras, tf, stacks)]
    return list(dict.fromkeys(blocks))  # a new TF and a new Keras can suggest the same stack
