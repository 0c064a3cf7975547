"""Cases, cells, fingerprints, and planning what is stale.

A record is fresh iff its fingerprint equals what is computed here today. The fingerprint of
a save covers the producer's pins, the case, the format and the runner code; a load's adds the
consumer's pins and the artifact's and reference's sha256. So adding a stack plans only its
row and column, and editing one case file plans only that case.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matrix.errors import SelectionError
from matrix.stacks import Stack
from matrix.store import Record, Workspace
from matrix.views import CaseEntry
from runner.protocol import FORMAT_NAMES, SCHEMA

RUNNER_DIR = Path(__file__).resolve().parent.parent / "runner"
# `matrix check`'s worker and what it reads files with: matrix jobs never import them, so their
# code is not in the matrix's records' fingerprint
CHECK_MODULES = ("check.py", "modelfile.py")


@dataclass(frozen=True)
class CodeDigest:
    """sha256 of the runner's shared code, and of each case module on its own; ``axes``: the
    stack tag of each case that declares one (``MEASURED_ON``), measured only on those stacks."""

    core: str
    cases: dict[str, str]
    axes: dict[str, str] = field(default_factory=dict)

    def measures(self, case: str, *stacks: Stack) -> bool:
        """Whether the run measures CASE on every one of STACKS (a producer, a consumer)."""
        tag = self.axes.get(case)
        return tag is None or all(tag in stack.labels for stack in stacks)

    def measured_on(self, stack: Stack) -> list[str]:
        return [case for case in self.cases if self.measures(case, stack)]

    def on_every_stack(self) -> CodeDigest:
        """The same cases, each measured on every stack, whatever axis it declares."""
        return CodeDigest(core=self.core, cases=self.cases)


def digest_runner(runner_dir: Path = RUNNER_DIR) -> CodeDigest:
    case_files = {p.stem: p for p in (runner_dir / "cases").glob("*.py") if p.stem != "__init__"}
    core = hashlib.sha256()
    for path in sorted(runner_dir.rglob("*.py")):
        if path not in case_files.values() and path.relative_to(runner_dir).as_posix() not in CHECK_MODULES:
            core.update(str(path.relative_to(runner_dir)).encode())
            core.update(path.read_bytes())
    cases = {}
    for case, path in sorted(case_files.items()):
        digest = hashlib.sha256(path.read_bytes())
        for other in sorted(sibling_cases(path) & case_files.keys()):
            digest.update(case_files[other].read_bytes())
        cases[case] = digest.hexdigest()
    return CodeDigest(core=core.hexdigest(), cases=cases, axes=case_axes(case_files))


def case_axes(case_files: dict[str, Path]) -> dict[str, str]:
    """The stack tag each case declares in ``MEASURED_ON``, read from its source: the case is
    too slow to load for the full cross product, so a run measures it only on those stacks."""
    axes = {}
    for case, path in case_files.items():
        tag = literal_assignment(ast.parse(path.read_text()), "MEASURED_ON", None)
        if tag is not None:
            axes[case] = str(tag)
    return axes


def describe_cases(code: CodeDigest, runner_dir: Path = RUNNER_DIR) -> list[CaseEntry]:
    """Each case's id, tags, one-line summary (read from its source: no TensorFlow needed) and
    the stack tag it is measured on in this run (None: every stack)."""
    described: list[CaseEntry] = []
    for case in code.cases:
        tree = ast.parse((runner_dir / "cases" / f"{case}.py").read_text())
        summary = " ".join((ast.get_docstring(tree) or "").split("\n\n")[0].split())
        described.append({"id": case, "tags": list(literal_assignment(tree, "TAGS", ())), "summary": summary,
                          "measured_on": code.axes.get(case)})
    return described


def literal_assignment(tree: ast.Module, name: str, default: Any) -> Any:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return default


def select_cases(code: CodeDigest, patterns: list[str]) -> CodeDigest:
    """Only the cases matching any fnmatch pattern; no patterns: all of them."""
    if not patterns:
        return code
    chosen = {case: digest for case, digest in code.cases.items()
              if any(fnmatch.fnmatchcase(case, p) for p in patterns)}
    if not chosen:
        raise SelectionError(f"no case matches {' '.join(map(repr, patterns))}; known cases: {', '.join(code.cases)}")
    return CodeDigest(core=code.core, cases=chosen, axes={c: t for c, t in code.axes.items() if c in chosen})


def sibling_cases(path: Path) -> set[str]:
    """The cases a case module builds on (``from runner.cases import custom_loss``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "runner.cases":
            names |= {alias.name for alias in node.names}
    return names


def fingerprint(**parts: Any) -> str:
    return hashlib.sha256(json.dumps({"schema": SCHEMA, **parts}, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class SaveCell:
    producer: str
    case: str
    format: str
    fingerprint: str


@dataclass(frozen=True)
class LoadCell:
    producer: str
    consumer: str
    case: str
    format: str
    fingerprint: str
    artifact_sha256: str  # what the save recorded: the worker checks the files before loading
    reference_sha256: str


def save_fingerprint(stack: Stack, case: str, fmt: str, code: CodeDigest) -> str:
    return fingerprint(kind="save", stack=stack.fingerprint(), case=case, format=fmt,
                       core=code.core, case_code=code.cases[case])


def load_fingerprint(consumer: Stack, save_record: Record, code: CodeDigest) -> str:
    return fingerprint(kind="load", consumer=consumer.fingerprint(), save=save_record["fingerprint"],
                       artifact=save_record["sha256"], reference=save_record["reference_sha256"],
                       core=code.core, case_code=code.cases[save_record["case"]])


FingerprintAt = Callable[[str], "str | None"]


def plan_saves(stacks: Iterable[Stack], code: CodeDigest, workspace: Workspace,
               fingerprint_at: FingerprintAt) -> list[SaveCell]:
    """Every (stack, case, format) whose save record is missing or stale."""
    stale = []
    for stack in stacks:
        for case in code.measured_on(stack):
            for fmt in FORMAT_NAMES:
                wanted = save_fingerprint(stack, case, fmt, code)
                if fingerprint_at(workspace.save_record(stack.id, case, fmt)) != wanted:
                    stale.append(SaveCell(stack.id, case, fmt, wanted))
    return stale


def plan_loads(consumers: Iterable[Stack], producers: Iterable[Stack], code: CodeDigest,
               workspace: Workspace, fingerprint_at: FingerprintAt,
               read_record: Callable[[str], Record | None]) -> list[LoadCell]:
    """Every (producer artifact, consumer) whose load record is missing or stale."""
    return [cell for cell in load_cells(consumers, producers, code, workspace, read_record)
            if fingerprint_at(workspace.load_record(cell.producer, cell.consumer, cell.case, cell.format))
            != cell.fingerprint]


def load_cells(consumers: Iterable[Stack], producers: Iterable[Stack], code: CodeDigest, workspace: Workspace,
               read_record: Callable[[str], Record | None]) -> Iterator[LoadCell]:
    """Every (producer artifact, consumer), with the fingerprint its load record must have today.

    Only artifacts whose save record is fresh and ``saved`` are loaded; the others make
    ``blocked`` or ``unsupported`` cells without running anything. A case is loaded only where
    the run measures it (``CodeDigest.measures``).
    """
    consumers = list(consumers)
    for producer in producers:
        for case in code.measured_on(producer):
            for fmt in FORMAT_NAMES:
                saved = read_record(workspace.save_record(producer.id, case, fmt))
                if not saved or saved.get("status") != "saved":
                    continue
                if saved.get("fingerprint") != save_fingerprint(producer, case, fmt, code):
                    continue
                for consumer in [c for c in consumers if code.measures(case, c)]:
                    yield LoadCell(producer.id, consumer.id, case, fmt, load_fingerprint(consumer, saved, code),
                                   saved["sha256"], saved["reference_sha256"])


def save_job_cell(cell: SaveCell, workspace: Workspace) -> Record:
    return {"stack": cell.producer, "producer": cell.producer, "case": cell.case, "format": cell.format,
            "fingerprint": cell.fingerprint,
            "record": workspace.save_record(cell.producer, cell.case, cell.format),
            "artifact": workspace.artifact(cell.producer, cell.case, cell.format),
            "reference": workspace.reference(cell.producer, cell.case, cell.format)}


def load_job_cell(cell: LoadCell, workspace: Workspace) -> Record:
    return {"stack": cell.consumer, "producer": cell.producer, "consumer": cell.consumer,
            "case": cell.case, "format": cell.format, "fingerprint": cell.fingerprint,
            "artifact_sha256": cell.artifact_sha256, "reference_sha256": cell.reference_sha256,
            "record": workspace.load_record(cell.producer, cell.consumer, cell.case, cell.format),
            "artifact": workspace.artifact(cell.producer, cell.case, cell.format),
            "reference": workspace.reference(cell.producer, cell.case, cell.format)}
