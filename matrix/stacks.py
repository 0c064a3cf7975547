"""Stacks as data: the declaration in ``stacks.toml`` loaded into frozen dataclasses, and the
families a stack belongs to (``FAMILIES``: what the report, ``versions``, the CI plan and the
command line know of them)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from matrix.errors import SelectionError, StackDeclarationError

DECLARATION = Path(__file__).with_name("stacks.toml")
PYTHON_VERSION = re.compile(r"^3\.\d+$")
T = TypeVar("T")
KNOWN_FIELDS = {"id", "python", "requirements", "env", "family", "tags", "default", "backend"}
BACKENDS = ("venv", "docker")


@dataclass(frozen=True, kw_only=True)
class Family:
    """What kind of Keras a stack runs; its name is also a tag ``--tags`` selects by."""

    name: str
    title: str  # what the report's filters and stacks table say
    colour: str  # of its stacks' row and column marks in the report
    pinned: bool = True  # False: unpinned builds, new every run (the CI plan caches nothing of them)


FAMILIES = (
    Family(name="keras2", title="Keras 2 inside TensorFlow", colour="#E69F00"),
    Family(name="standalone-keras2", title="Standalone Keras 2 (import keras) on TensorFlow 1.x", colour="#D55E00"),
    Family(name="tf_keras", title="tf-keras, the legacy Keras 2 package (TF 2.16+)", colour="#0072B2"),
    Family(name="keras3", title="Keras 3", colour="#009E73"),
    Family(name="nightly", title="tf-nightly and keras-nightly", colour="#CC79A7", pinned=False),
)
FAMILY_NAMES = tuple(f.name for f in FAMILIES)


def family_named(name: str) -> Family:
    return next(f for f in FAMILIES if f.name == name)


@dataclass(frozen=True, kw_only=True)
class Stack:
    """One isolated environment: a Python, exact pins, environment variables, tags."""

    id: str
    python: str
    requirements: tuple[str, ...]
    family: str  # one of FAMILY_NAMES
    env: dict[str, str] = field(default_factory=dict, hash=False)
    tags: tuple[str, ...] = ()  # more tags to select by (quick)
    default: bool = True
    backend: str = "venv"  # or "docker"; --backend overrides it for a whole run

    @property
    def keras_backend(self) -> str:
        """What runs its models: ``tensorflow``, or Keras 3's ``jax`` or ``torch``."""
        return self.env.get("KERAS_BACKEND", "tensorflow")

    @property
    def labels(self) -> tuple[str, ...]:
        """What ``--tags`` matches: the family, the Keras backend, then the declared tags."""
        return (self.family, self.keras_backend, *self.tags)

    def fingerprint(self) -> str:
        """Changes exactly when the environment would be built differently."""
        identity = {"python": self.python, "requirements": sorted(self.requirements), "env": self.env}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def load_stacks(path: Path = DECLARATION) -> list[Stack]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StackDeclarationError(f"{path}: cannot read the stacks declaration: {exc}") from exc
    entries = data.get("stack")
    if not isinstance(entries, list) or not entries:
        raise StackDeclarationError(f"{path}: declare stacks as [[stack]] tables; found none")
    stacks = [parse_stack(entry, index, path) for index, entry in enumerate(entries)]
    seen: set[str] = set()
    for stack in stacks:
        if stack.id in seen:
            raise StackDeclarationError(f"{path}: stack id {stack.id!r} is declared twice; ids must be unique")
        seen.add(stack.id)
    return stacks


def parse_stack(entry: object, index: int, path: Path) -> Stack:
    where = f"{path}: stack #{index + 1}"
    if not isinstance(entry, dict):
        raise StackDeclarationError(f"{where} is not a table")
    where = f"{path}: stack {entry.get('id', f'#{index + 1}')!r}"
    unknown = set(entry) - KNOWN_FIELDS
    if unknown:
        raise StackDeclarationError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(KNOWN_FIELDS)}")
    stack_id = require(entry, "id", str, where)
    python = require(entry, "python", str, where)
    if not PYTHON_VERSION.match(python):
        raise StackDeclarationError(f"{where}: python = {python!r}; write it as \"3.X\", e.g. \"3.11\"")
    requirements = require(entry, "requirements", list, where)
    if not requirements or not all(isinstance(r, str) and r.strip() for r in requirements):
        raise StackDeclarationError(f"{where}: requirements must be a non-empty list of pins")
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise StackDeclarationError(f"{where}: env must be a table of strings, e.g. {{ TF_USE_LEGACY_KERAS = \"1\" }}")
    family = entry.get("family")
    if family not in FAMILY_NAMES:
        raise StackDeclarationError(f"{where}: family = {family!r}; declare one of {', '.join(FAMILY_NAMES)}")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise StackDeclarationError(f"{where}: tags must be a list of strings")
    default = entry.get("default", True)
    if not isinstance(default, bool):
        raise StackDeclarationError(f"{where}: default must be true or false")
    backend = entry.get("backend", "venv")
    if backend not in BACKENDS:
        raise StackDeclarationError(f"{where}: backend = {backend!r}; use one of {', '.join(BACKENDS)}")
    return Stack(id=stack_id, python=python, requirements=tuple(requirements), family=str(family), env=dict(env),
                 tags=tuple(tags), default=default, backend=backend)


def require(entry: dict[str, object], name: str, kind: type[T], where: str) -> T:
    value = entry.get(name)
    if not isinstance(value, kind):
        raise StackDeclarationError(f"{where}: field {name!r} is missing or not a {kind.__name__}")
    return value


def select_stacks(stacks: list[Stack], patterns: list[str], tags: list[str] | None = None,
                  everything: bool = False) -> tuple[list[Stack], list[str]]:
    """Stacks whose id matches any pattern (fnmatch) and that carry any of ``tags`` (a family is
    a tag), in declaration order, and the patterns that matched nothing. Neither patterns nor
    tags: the default set, or every stack with ``everything``. Nothing matched at all: an error
    naming what is known."""
    tags = tags or []
    if not patterns and not tags:
        return [s for s in stacks if s.default or everything], []
    chosen = [s for s in stacks
              if (not patterns or any(fnmatch.fnmatchcase(s.id, p) for p in patterns))
              and (not tags or set(tags) & set(s.labels))]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(s.id, p) for s in stacks)]
    if not chosen:
        asked = " ".join([*map(repr, patterns), *(f"tag {t!r}" for t in tags)])
        known_tags = ", ".join(sorted({t for s in stacks for t in s.labels}))
        raise SelectionError(f"no stack matches {asked}; known stacks: {', '.join(s.id for s in stacks)}; "
                             f"known tags: {known_tags}")
    return chosen, unmatched
