"""``matrix check``: a user's own model files through every selected stack's load ladder.

Each file is inspected (``matrix.userfiles``) and copied into the workspace under its sha256
and name, with the user's custom-object code, so a venv and a container see the same bytes. Then:

1. **predict**, in waves of ``jobs`` stacks in declaration order, until every file has a
   reference: the first stack where the documented load works (else the first where any rung
   does), with what it predicted on the sample input. Skipped when the user gives --expected.
2. **load**, in every stack: the ladder (``safe_mode=False`` only with --unsafe), predictions
   compared with the reference; a difference is ``mismatch``.

Records are keyed like the matrix's: a second check of the same files recomputes nothing.
The cells go to ``WORKSPACE/check/run.json``, in the matrix's run format, for ``reports``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from matrix.envs import Environment
from matrix.errors import CheckInputError, MatrixError
from matrix.phases import WorkerOptions, log, prepare_envs, run_phase, stack_status
from matrix.plan import CHECK_MODULES, RUNNER_DIR, digest_runner, fingerprint
from matrix.runfile import family_entries, loaded_fields, now, runtime_of, stack_entry
from matrix.stacks import Stack
from matrix.store import Record, Workspace
from matrix.userfiles import UserFile, inspect_files, sample_problem
from matrix.views import Cell, RunFile
from runner.protocol import RETRIED, SCHEMA, WEIGHTS_FORMATS, place, sha256_of


@dataclass(frozen=True)
class CheckRequest:
    paths: tuple[Path, ...]
    custom_objects: tuple[str, ...] = ()  # "package.module" or "package.module:Name,Other"
    import_paths: tuple[Path, ...] = ()  # where those modules are found, besides the current folder
    input: Path | None = None  # .npy / .npz: the sample input
    expected: Path | None = None  # .npy / .npz: the outputs to expect for it
    unsafe: bool = False  # allow the safe_mode=False rung: trusted files only
    build: str | None = None  # "package.module:function": builds the model weights-only files belong to
    architecture: Path | None = None  # a to_json() file, for weights-only files


@dataclass(frozen=True)
class Prepared:
    """The request's inputs, copied into the workspace (paths relative to it)."""

    files: list[UserFile]
    custom_objects: tuple[str, ...]
    unsafe: bool
    copies: dict[str, str]  # file key -> its copy
    code_dir: str | None
    input: str | None
    expected: str | None
    expected_sha256: str | None
    build: str | None
    architecture: str | None
    key: str  # what every record of this request depends on besides file and stack
    workspace: Workspace


def check_files(stacks: list[Stack], request: CheckRequest, options: WorkerOptions) -> Path:
    """Run the check, write WORKSPACE/check/run.json, and return its path."""
    started = time.monotonic()
    workspace = options.workspace
    prepared = prepare(request, workspace)
    for bad in (f for f in prepared.files if f.problem):
        log(f"{bad.path}: skipped: {bad.problem}")
    readable = [f for f in prepared.files if not f.problem]
    envs = prepare_envs(stacks, options) if readable else {}
    statuses = {s.id: stack_status(s, envs.get(s.id), workspace) for s in stacks} if readable else {}
    ready = [s for s in stacks if s.id in envs and envs[s.id].status == "ready"]
    if readable and not ready:
        raise MatrixError("no selected stack could be prepared (see above): nothing to check the files in")
    references = {}
    if prepared.expected is None:
        references = choose_references(readable, ready, envs, prepared, options)
    loads, derived = run_loads(readable, ready, envs, prepared, references, options)
    run: RunFile = {
        "schema": SCHEMA,
        "generated_at": now(),
        "seconds": round(time.monotonic() - started, 1),
        "computed": {"saves": 0, "loads": loads, "derived": derived},
        "host": {"argv": [str(p) for p in request.paths]},
        "stacks": [stack_entry(s, statuses.get(s.id, {"status": "missing"}),
                               runtime_of(workspace, workspace.check_records_of(s.id))) for s in stacks],
        "families": family_entries(),
        "cases": [{"id": f.name, "tags": ["user"], "summary": describe(f), "measured_on": None}
                  for f in prepared.files],
        "cells": [cell for f in readable for cell in file_cells(f, ready, prepared, references, workspace)],
        "files": [file_entry(f, references.get(f.key), prepared, origin_of(f, ready, prepared, references))
                  for f in prepared.files],
    }
    target = workspace.check_run_file
    workspace.write(str(target.relative_to(workspace.root)), dict(run))
    return target


def prepare(request: CheckRequest, workspace: Workspace) -> Prepared:
    """Inspect the files and copy what the workers need into WORKSPACE/check/."""
    if request.expected and not request.input:
        raise CheckInputError("--expected needs --input: the outputs are what the model gives for that input")
    samples, digests = {}, {}
    for option, path in (("--input", request.input), ("--expected", request.expected)):
        if path is not None:
            problem = sample_problem(path)
            if problem:
                raise CheckInputError(f"{option} {path}: {problem}")
            digests[option] = sha256_of(str(path))
            samples[option] = copy_in(path, digests[option], workspace, "samples")
    if request.build and not BUILD_SPEC.fullmatch(request.build):
        raise CheckInputError(f"--build {request.build!r}: expected package.module:function (a function that "
                              "returns the model)")
    architecture = copy_architecture(request.architecture, workspace) if request.architecture else None
    specs = [("--custom-objects", spec) for spec in request.custom_objects]
    specs += [("--build", request.build)] if request.build else []
    code_dir = copy_code(specs, request.import_paths, workspace) if specs else None
    files = [without_architecture(f, request) for f in inspect_files(list(request.paths))]
    copies = {f.key: copy_in(f.path, str(f.sha256), workspace, "files") for f in files if not f.problem}
    key = hashlib.sha256(json.dumps({
        "code": check_code_digest(), "objects": list(request.custom_objects), "objects_code": code_dir,
        "input": digests.get("--input"), "unsafe": request.unsafe, "build": request.build,
        "architecture": architecture and sha256_of(str(workspace.root / architecture)),
    }, sort_keys=True).encode()).hexdigest()
    return Prepared(files, request.custom_objects, request.unsafe, copies, code_dir, samples.get("--input"),
                    samples.get("--expected"), digests.get("--expected"), request.build, architecture, key,
                    workspace)


BUILD_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def without_architecture(f: UserFile, request: CheckRequest) -> UserFile:
    """A weights-only file is a problem unless the request says what model it belongs to."""
    if f.format not in WEIGHTS_FORMATS or request.build or request.architecture:
        return f
    what = "an HDF5 file of weights only (save_weights)" if f.format == "weights-h5" else "a TensorFlow checkpoint"
    return replace(f, format=None, problem=(
        f"{what}: no architecture to load it into; check it with --build package.module:function (a function "
        "that returns the model) or --architecture model.json (the model's to_json())"))


def copy_architecture(path: Path, workspace: Workspace) -> str:
    """The --architecture file, checked to be a to_json() file, copied into the workspace."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckInputError(f"--architecture {path}: not a readable JSON file ({exc})") from exc
    if not (isinstance(config, dict) and "class_name" in config and "config" in config):
        raise CheckInputError(f"--architecture {path}: not a model's to_json() (no class_name and config)")
    return copy_in(path, sha256_of(str(path)), workspace, "architectures")


def check_code_digest() -> str:
    """The runner code a check depends on: the matrix worker's core and the check's own modules."""
    check = "".join(sha256_of(str(RUNNER_DIR / name)) for name in CHECK_MODULES)
    return hashlib.sha256((digest_runner().core + check).encode()).hexdigest()


def copy_in(path: Path, digest: str, workspace: Workspace, kind: str) -> str:
    """A copy of ``path`` (whose sha256 is ``digest``) under WORKSPACE/check/KIND/SHA/NAME, its
    path relative to the workspace."""
    relative = workspace.check_copy(kind, digest, path.name or "model")
    place_once(workspace.root / relative, lambda staged: copy_any(path, staged))
    return relative


def copy_any(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copyfile(source, target)


def place_once(target: Path, fill: Callable[[Path], None]) -> None:
    """Make ``target`` with ``fill(staged)`` and a rename, unless it exists: an interrupted copy
    never passes for a whole one."""
    if not target.exists():
        place(str(target), lambda staged: fill(Path(staged)))


def copy_code(specs: list[tuple[str, str]], import_paths: tuple[Path, ...], workspace: Workspace) -> str:
    """The top-level packages or modules the custom objects (and the --build function) come
    from, copied side by side."""
    roots = [Path.cwd(), *import_paths]
    sources = {}
    for option, spec in specs:
        module = spec.partition(":")[0]
        top = module.split(".")[0]
        if not module or not all(part.isidentifier() for part in module.split(".")):
            raise CheckInputError(f"{option} {spec!r}: expected package.module or package.module:Name,Other")
        found = [c for root in roots for c in (root / top, root / f"{top}.py") if c.exists()]
        if not found:
            where = ", ".join(str(r) for r in roots)
            raise CheckInputError(f"{option} {spec}: no {top}/ or {top}.py in {where}; run from your "
                                  "project's root or add --import-path DIR")
        sources[top] = found[0]
    digest = hashlib.sha256(json.dumps(sorted((t, sha256_of(str(p))) for t, p in sources.items())).encode())
    relative = workspace.check_code(digest.hexdigest())  # named by the code's digest: it is the key

    def fill(staged: Path) -> None:
        staged.mkdir()
        for source in sources.values():
            copy_any(source, staged / source.name)

    place_once(workspace.root / relative, fill)
    return relative


def chunks(items: list[Stack], size: int) -> Iterable[list[Stack]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + max(1, size)]


def choose_references(files: list[UserFile], stacks: list[Stack], envs: dict[str, Environment],
                      prepared: Prepared, options: WorkerOptions) -> dict[str, Record]:
    """file key -> {"stack", "mode", "path", "sha256"}: the reference each file's loads compare with."""
    workspace, pending = options.workspace, list(files)
    found: dict[str, tuple[str, Record]] = {}  # file key -> (stack id, its predict record)
    for wave in chunks(stacks, options.jobs):
        cells = [predict_cell(f, s, prepared) for s in wave for f in pending]
        stale = [c for c in cells if not fresh(workspace, c)]
        if stale:
            run_phase("check-predict", wave, envs, stale, options)
        for f in pending:  # waves go in declaration order: the first candidate of a kind is the earliest
            for stack in wave:
                record = predicted(f, stack, prepared)
                if record.get("loaded_by") and (f.key not in found or better(record, found[f.key][1])):
                    found[f.key] = (stack.id, record)
        pending = [f for f in files if f.key not in found or found[f.key][1]["loaded_by"] != "documented"]
        if not pending:
            break
    references = {}
    for f in files:
        if f.key not in found:
            log(f"{f.name}: no selected stack both loads it and predicts, whatever the mode: no reference to "
                "compare with")
            continue
        stack_id, record = found[f.key]
        if record["loaded_by"] != "documented":
            log(f"{f.name}: the documented load works in no selected stack; reference: {stack_id} "
                f"with {record['loaded_by']}")
        relative = workspace.check_reference(f.key)
        workspace.write(relative, record["reference_data"])
        references[f.key] = {"stack": stack_id, "mode": record["loaded_by"], "path": relative,
                             "sha256": sha256_of(str(workspace.root / relative))}
    return references


def better(record: Record, chosen: Record) -> bool:
    """A documented load beats any remedy; otherwise the earlier stack stays."""
    return bool(record["loaded_by"] == "documented" and chosen["loaded_by"] != "documented")


def current_record(workspace: Workspace, relative: str, wanted: str) -> Record:
    """The record at ``relative`` if its fingerprint is ``wanted``, else ``{}``."""
    record = workspace.read(relative) or {}
    return record if record.get("fingerprint") == wanted else {}


def fresh(workspace: Workspace, cell: Record) -> bool:
    record = current_record(workspace, cell["record"], cell["fingerprint"])
    return bool(record) and record.get("verdict") not in RETRIED


def base_cell(f: UserFile, stack: Stack, prepared: Prepared) -> Record:
    return {"stack": stack.id, "name": f.name, "file": prepared.copies[f.key], "format": f.format,
            "custom_objects": list(prepared.custom_objects), "code_dir": prepared.code_dir,
            "input": prepared.input, "unsafe": prepared.unsafe, "build": prepared.build,
            "architecture": prepared.architecture}


def predict_record(f: UserFile, stack: Stack, prepared: Prepared) -> str:
    return prepared.workspace.check_record(stack.id, f.key, "predict")


def load_record(f: UserFile, stack: Stack, prepared: Prepared) -> str:
    return prepared.workspace.check_record(stack.id, f.key, "load")


def predicted(f: UserFile, stack: Stack, prepared: Prepared) -> Record:
    """The current record of the reference step for this file and stack, or ``{}``."""
    relative = predict_record(f, stack, prepared)
    return current_record(prepared.workspace, relative, predict_fingerprint(f, stack, prepared))


def predict_fingerprint(f: UserFile, stack: Stack, prepared: Prepared) -> str:
    return fingerprint(kind="check-predict", stack=stack.fingerprint(), file=f.key, request=prepared.key)


def predict_cell(f: UserFile, stack: Stack, prepared: Prepared) -> Record:
    return {**base_cell(f, stack, prepared), "record": predict_record(f, stack, prepared),
            "fingerprint": predict_fingerprint(f, stack, prepared)}


def load_cell(f: UserFile, stack: Stack, prepared: Prepared, reference: Record | None) -> Record:
    compared_with = reference["sha256"] if reference else prepared.expected_sha256
    return {**base_cell(f, stack, prepared), "record": load_record(f, stack, prepared),
            "reference": reference["path"] if reference else None, "expected": prepared.expected,
            "fingerprint": fingerprint(kind="check-load", stack=stack.fingerprint(), file=f.key,
                                       request=prepared.key, reference=compared_with)}


def run_loads(files: list[UserFile], stacks: list[Stack], envs: dict[str, Environment], prepared: Prepared,
              references: dict[str, Record], options: WorkerOptions) -> tuple[int, int]:
    """Every stale (file, stack) load; where the predict step already tried every rung in vain,
    its record is the answer (the same rungs fail the same way on the same input, whatever their
    predictions would be compared with)."""
    workspace, stale, derived = options.workspace, [], 0
    for f in files:
        for stack in stacks:
            cell = load_cell(f, stack, prepared, references.get(f.key))
            if fresh(workspace, cell):
                continue
            tried = predicted(f, stack, prepared)
            if nothing_predicted(tried):
                workspace.write(cell["record"], {**tried, **cell, "kind": "check-load",
                                                 "derived_from": predict_record(f, stack, prepared)})
                derived += 1
            else:
                stale.append(cell)
    known = f" ({derived} known from the reference step: no rung predicts there)" if derived else ""
    log(f"{len(stale)} loads to run{known}")
    if stale:
        run_phase("check-load", stacks, envs, stale, options)
    return len(stale), derived


def nothing_predicted(record: Record) -> bool:
    attempts = record.get("attempts") or []
    return bool(attempts) and all(a["outcome"] == "error" for a in attempts)


def file_cells(f: UserFile, stacks: list[Stack], prepared: Prepared, references: dict[str, Record],
               workspace: Workspace) -> list[Cell]:
    cells = []
    for stack in stacks:
        cell = load_cell(f, stack, prepared, references.get(f.key))
        record = current_record(workspace, cell["record"], cell["fingerprint"])
        cells.append(cast(Cell, {"producer": f.name, "consumer": stack.id, "case": f.name, "format": f.format,
                                 "container": f.container, "save_error": None, **loaded_fields(record),
                                 "verified": []}))
    return cells


def describe(f: UserFile) -> str:
    if f.problem:
        return f"{f.path}: {f.problem}"
    return f"{f.path}: {f.format} ({f.container}), {f.bytes:,} bytes, sha256 {str(f.sha256)[:12]}"


def origin_of(f: UserFile, stacks: list[Stack], prepared: Prepared, references: dict[str, Record]) -> Record | None:
    """What the file records of what wrote it, as the first stack that read it says (the worker
    reads it: HDF5 attributes need h5py); None for a file no stack read."""
    if f.problem:
        return None
    for stack in stacks:
        cell = load_cell(f, stack, prepared, references.get(f.key))
        origin = current_record(prepared.workspace, cell["record"], cell["fingerprint"]).get("origin")
        if origin:
            return cast(Record, origin)
    return None


def file_entry(f: UserFile, reference: Record | None, prepared: Prepared, origin: Record | None = None) -> Record:
    if prepared.expected:
        compared_with = {"source": "expected", "path": prepared.expected}
    elif reference:
        compared_with = {"source": "stack", "stack": reference["stack"], "mode": reference["mode"]}
    else:
        compared_with = None
    return {"name": f.name, "path": str(f.path), "format": f.format, "container": f.container,
            "bytes": f.bytes, "sha256": f.sha256, "problem": f.problem, "reference": compared_with, "origin": origin}
