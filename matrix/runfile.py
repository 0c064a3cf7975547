"""run.json: every cell of a run, assembled from its records, and what the run did.

A cell comes from its save record (nothing saved: ``blocked``, ``unsupported`` or
``unavailable``), its load record (none: ``missing``) and the self-check's verifications of that
load record; a cell of a case the run measures on other stacks only is ``not-measured``.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from matrix.plan import CodeDigest
from matrix.stacks import FAMILIES, Stack
from matrix.store import Record, Workspace
from matrix.verify import verification_entry, verifications
from matrix.views import AttemptData, CaseEntry, Cell, ErrorData, FamilyEntry, RunFile, StackEntry, Verification
from runner.protocol import FORMAT_NAMES, SCHEMA, failed_cell

# A save that did not happen, by its status, and what the cell's error says of it; any other
# status (error, crashed, timeout, no record) makes a ``blocked`` cell.
NOT_SAVED = {"unsupported": "the producer cannot write this format",
             "unavailable": "the producer cannot build this case",
             "blocked": "the producer could not save this"}


@dataclass(frozen=True)
class RunSummary:
    stacks: int
    ready: int
    saves_run: int
    loads_run: int
    cells: int
    seconds: float
    workers: dict[str, Any]
    verification: Verification  # what the self-check found (matrix.verify.summary)


def assemble_cells(ready: list[Stack], code: CodeDigest, workspace: Workspace,
                   unchanged: Mapping[str, Record] | None = None) -> list[Cell]:
    """Every producer x consumer x case x format among ready stacks, from records or derived.

    ``unchanged``: records already read this run (by the plan) and not computed since."""
    cells, checks, known = [], verifications(workspace), unchanged or {}

    def read(relative: str) -> Record | None:
        return known.get(relative) or workspace.read(relative)

    for producer in ready:
        for case in code.cases:
            for fmt in FORMAT_NAMES:
                measured = code.measures(case, producer)
                saved = (read(workspace.save_record(producer.id, case, fmt)) if measured else None) or {}
                for consumer in ready:
                    if code.measures(case, producer, consumer):
                        cells.append(cell_of(producer.id, consumer.id, case, fmt, saved, workspace, checks, read))
                    else:
                        cells.append(unmeasured_cell(producer.id, consumer.id, case, fmt))
    return cells


def unmeasured_cell(producer: str, consumer: str, case: str, fmt: str) -> Cell:
    """A cell of a case the run measures on other stacks only: no error, nothing was tried (the
    run file's cases say which stacks measure it)."""
    return cast(Cell, {"producer": producer, "consumer": consumer, "case": case, "format": fmt, "container": None,
                       "save_error": None, **failed_cell("not-measured", None), "tolerance": None, "seconds": None,
                       "verified": []})


def cell_of(producer: str, consumer: str, case: str, fmt: str, saved: Record, workspace: Workspace,
            checks: dict[tuple[str, str, str, str], list[Record]], read: Callable[[str], Record | None]) -> Cell:
    identity = {"producer": producer, "consumer": consumer, "case": case, "format": fmt,
                "container": saved.get("container"), "save_error": saved.get("error")}
    status = saved.get("status")
    if status != "saved":
        verdict = status if status in NOT_SAVED else "blocked"
        reason = saved.get("reason") or (saved.get("error") or {}).get("message", "no save record")
        error = {"type": f"Save{verdict.capitalize()}", "message": f"{NOT_SAVED[verdict]}: {reason}"}
        return cast(Cell, {**identity, **failed_cell(verdict, error), "tolerance": None, "seconds": None,
                           "verified": []})
    loaded = read(workspace.load_record(producer, consumer, case, fmt)) or {}
    verified = [verification_entry(r) for r in checks.get((producer, consumer, case, fmt), [])
                if loaded and r.get("load_fingerprint") == loaded.get("fingerprint")]
    return cast(Cell, {**identity, **loaded_fields(loaded), "verified": verified})


def loaded_fields(loaded: Record) -> dict[str, Any]:
    """A cell's outcome from its load record (``{}``: none, so ``missing``). The attempts go
    without their traceback tails, which the records keep and no report shows: half of run.json."""
    attempts = [without_traceback(a) for a in loaded.get("attempts", [])]
    return {"verdict": loaded.get("verdict", "missing"), "remedy": loaded.get("remedy"),
            "max_abs_diff": loaded.get("max_abs_diff"), "tolerance": loaded.get("tolerance"),
            "fidelity": loaded.get("fidelity"), "attempts": attempts,
            "custom_objects_needed": loaded.get("custom_objects_needed"),
            "error": loaded.get("error") or first_error(attempts), "seconds": loaded.get("seconds")}


def without_traceback(attempt: AttemptData) -> AttemptData:
    error = attempt.get("error")
    if not error or "traceback" not in error:
        return attempt
    brief = cast(ErrorData, {key: value for key, value in error.items() if key != "traceback"})
    return {**attempt, "error": brief}


def first_error(attempts: list[AttemptData]) -> ErrorData | None:
    """The documented way's error, when no rung predicted (none loaded, or none that loaded could
    predict); None when one did."""
    if not attempts or any(a.get("outcome") != "error" for a in attempts):
        return None
    return attempts[0].get("error")


def write_run_file(stacks: list[Stack], statuses: dict[str, Record], cells: list[Cell],
                   cases: list[CaseEntry], workspace: Workspace, summary: RunSummary) -> None:
    run: RunFile = {
        "schema": SCHEMA,
        "generated_at": now(),
        "seconds": summary.seconds,
        "computed": {"saves": summary.saves_run, "loads": summary.loads_run},
        "workers": summary.workers,
        "verification": summary.verification,
        "host": {"python": platform.python_version(), "platform": platform.platform(), "argv": sys.argv[1:]},
        "stacks": [stack_entry(s, statuses[s.id], runtime_of(workspace, workspace.records_of("save", s.id)))
                   for s in stacks],
        "families": family_entries(),
        "cases": cases,
        "cells": cells,
    }
    workspace.write(str(workspace.run_file.relative_to(workspace.root)), dict(run), compact=True)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def family_entries() -> list[FamilyEntry]:
    return [{"name": f.name, "title": f.title, "colour": f.colour} for f in FAMILIES]


def stack_entry(stack: Stack, status: Record, runtime: Record) -> StackEntry:
    """The stack as the report shows it: the versions its worker imported (``runtime``) when it ran."""
    runtime = runtime if status["status"] == "ok" else {}
    return {"id": stack.id, "python": runtime.get("python", stack.python),
            "tensorflow": runtime.get("tensorflow"), "keras": runtime.get("keras"),
            "keras_flavor": runtime.get("keras_flavor"),
            "keras_backend": runtime.get("keras_backend", stack.keras_backend),
            "numpy": runtime.get("numpy"), "h5py": runtime.get("h5py"), "family": stack.family,
            "backend": status.get("backend", stack.backend),
            "status": status["status"], "reason": status.get("reason", ""),
            "requirements": list(stack.requirements), "env": stack.env, "tags": list(stack.labels)}


def runtime_of(workspace: Workspace, folder: Path) -> Record:
    """The versions a stack's worker really imported, from any of its records in ``folder``."""
    for path in sorted(folder.glob("*.json")):
        record = workspace.read(str(path.relative_to(workspace.root)))
        if record and record.get("runtime"):
            return dict(record["runtime"])
    return {}
