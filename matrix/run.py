"""The matrix run: prepare environments, save what is stale, load what is stale, write run.json.

Stacks run in parallel, one worker per (stack, phase), up to ``jobs`` at once. Saves finish
everywhere before any load starts, since every consumer loads every producer's artifacts.
"""

from __future__ import annotations

import platform
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from matrix.containers import DockerOptions, ensure_image
from matrix.envs import Environment, ensure_env
from matrix.launch import Limits, WorkerStats, run_cells
from matrix.plan import (
    FORMATS,
    CodeDigest,
    LoadCell,
    SaveCell,
    describe_cases,
    digest_runner,
    load_cells,
    load_job_cell,
    plan_loads,
    plan_saves,
    save_job_cell,
    select_cases,
)
from matrix.progress import Progress
from matrix.stacks import Stack
from matrix.store import SCHEMA, Record, Workspace
from matrix.verify import VerifyRequest, choose, failing_attempts, verification_entry, verifications, verify_job_cell
from matrix.verify import summary as verification_summary
from runner.formats import sha256_of

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RunOptions:
    workspace: Workspace
    jobs: int
    limits: Limits
    force: bool = False
    cases: tuple[str, ...] = ()
    phase: str = "all"  # or one of "save", "load", "report": one step of a sharded run
    shard: str | None = None  # a stack id: only its saves, or only its loads as the consumer
    backend: str | None = None  # venv or docker for every stack; None: each stack's own
    docker: DockerOptions = field(default_factory=DockerOptions)
    verify: VerifyRequest = field(default_factory=VerifyRequest)  # the self-check, after the loads


PHASES = ("all", "save", "load", "report")
PLURALS = {"verify": "verifications"}  # what a worker's cells are, in its progress line


@dataclass(frozen=True)
class RunSummary:
    stacks: int
    ready: int
    saves_run: int
    loads_run: int
    cells: int
    seconds: float
    workers: dict[str, Any]
    verification: dict[str, int]  # what the self-check found (matrix.verify.summary)


PROGRESS: list[Progress] = []  # the phase's live display, when one is running


def log(message: str) -> None:
    line = f"matrix: {message}"
    if PROGRESS:
        PROGRESS[-1].log(line)
    else:
        print(line, flush=True)


def run_matrix(stacks: list[Stack], options: RunOptions) -> RunSummary:
    """Save what is stale, load what is stale, then assemble every cell into run.json.

    One phase and one shard at a time is how CI spreads the work over machines: save jobs per
    stack, load jobs per consumer stack over everyone's artifacts, then one report job."""
    started = time.monotonic()
    workspace, code = options.workspace, select_cases(digest_runner(), list(options.cases))
    check = RecordCheck(workspace)
    fingerprint_at = no_records if options.force else check.fingerprint_at
    mine = [s for s in stacks if options.shard in (None, s.id)]
    envs = prepare_envs(mine, options) if options.phase != "report" else {}
    statuses = {s.id: stack_status(s, envs.get(s.id), workspace) for s in stacks}
    ready = [s for s in stacks if statuses[s.id]["status"] == "ok"]
    workers = [s for s in mine if s.id in envs and envs[s.id].status == "ready"]
    saves: list[SaveCell] = []
    loads: list[LoadCell] = []
    stats: list[WorkerStats] = []
    if options.phase in ("all", "save"):
        saves = plan_saves(workers, code, workspace, fingerprint_at)
        log(f"{len(workers)}/{len(mine)} stacks ready; {len(saves)} saves to run")
        stats += run_phase("save", workers, envs, [save_job_cell(c, workspace) for c in saves], options)
    if options.phase in ("all", "load"):
        loads = plan_loads(workers, ready, code, workspace, fingerprint_at, workspace.read)
        log(f"{len(loads)} loads to run")
        check.report()
        stats += run_phase("load", workers, envs, [load_job_cell(c, workspace) for c in loads], options)
    checked: list[Record] = []
    if options.verify and options.phase in ("all", "load"):
        checked, verify_stats = verify_fresh(workers, ready, envs, code, options)
        stats += verify_stats
    cells = assemble_cells(ready, code, workspace) if options.phase in ("all", "report") else []
    report_failures(cells)
    if cells:  # every current verification, earlier runs' included
        checked = [entry for cell in cells for entry in cell["verified"]]
    seconds = round(time.monotonic() - started, 1)
    summary = RunSummary(len(stacks), len(ready), len(saves), len(loads), len(cells), seconds,
                         worker_totals(stats, options.jobs), verification_summary(checked))
    if options.phase in ("all", "report"):
        write_run_file(stacks, statuses, cells, describe_cases(code.cases), workspace, summary)
    return summary


def verify_fresh(consumers: list[Stack], producers: list[Stack], envs: dict[str, Environment], code: CodeDigest,
                 options: RunOptions) -> tuple[list[Record], list[WorkerStats]]:
    """The self-check (``matrix.verify``): chosen failing attempts, each alone in a new worker, and
    what each gave."""
    workspace, request = options.workspace, options.verify
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    candidates = list(failing_attempts(load_cells(consumers, producers, code, workspace, workspace.read), workspace))
    chosen = [verify_job_cell(c, workspace) for c in choose(candidates, request, seed)]
    unverified = sum(1 for c in candidates if not c.verified)
    log(f"self-check: {len(chosen)} failing attempts ({unverified:,} of {len(candidates):,} not verified yet), each "
        f"run again alone in a fresh worker (seed {seed})")
    stats = run_phase("verify", consumers, envs, chosen, options)
    return [verification_entry(workspace.read(c["record"]) or c) for c in chosen], stats


def worker_totals(stats: list[WorkerStats], jobs: int) -> dict[str, Any]:
    """For run.json and the benchmark: processes, summed lifetimes, the largest worker."""
    return {"processes": sum(s.processes for s in stats), "seconds": round(sum(s.seconds for s in stats), 1),
            "peak_rss_mb": max((s.peak_rss_mb for s in stats), default=0), "jobs": jobs}


def stack_status(stack: Stack, env: Environment | None, workspace: Workspace) -> Record:
    """What became of a stack's environment: from this run, else from the run that built it
    (a save job of a sharded run), recorded under records/stacks/."""
    relative = workspace.stack_record(stack.id)
    if env is not None:
        status = {"schema": SCHEMA, "id": stack.id, "fingerprint": stack.fingerprint(),
                  "status": "ok" if env.status == "ready" else env.status, "reason": env.reason,
                  "backend": "docker" if env.image else "venv", "image": env.image}
        workspace.write(relative, status)
        return status
    recorded = workspace.read(relative)
    if recorded is None or recorded.get("fingerprint") != stack.fingerprint():
        return {"id": stack.id, "status": "missing",
                "reason": "no job built this stack for this workspace (its records are not here)"}
    return recorded


def no_records(_relative: str) -> None:
    return None


# Outcomes that say nothing about compatibility: the next run computes these cells again.
RETRIED = frozenset({"crashed", "timeout", "corrupt-artifact"})


class RecordCheck:
    """Which records still count: of this schema, not a failure worth retrying, and (for saves)
    with artifacts that still hash to what the save recorded. It counts what it turns away."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.old_schema = 0
        self.retried = 0
        self.changed: list[str] = []

    def fingerprint_at(self, relative: str) -> str | None:
        record = self.workspace.read_any(relative)
        if record is None:
            return None
        if record.get("schema") != SCHEMA:
            self.old_schema += 1
            return None
        if record.get("verdict") in RETRIED or record.get("status") in RETRIED:
            self.retried += 1
            return None
        if record.get("kind") == "save" and record.get("status") == "saved" and not self.intact(record):
            self.changed.append(str(record.get("artifact")))
            return None
        return None if record.get("fingerprint") is None else str(record["fingerprint"])

    def intact(self, record: Record) -> bool:
        return all(
            digest(self.workspace.root / str(record.get(name))) == record.get(f"{key}sha256")
            for name, key in (("artifact", ""), ("reference", "reference_"))
        )

    def report(self) -> None:
        if self.old_schema:
            log(f"{self.old_schema} records were written by another version (not schema {SCHEMA}): "
                "computing them again")
        if self.retried:
            log(f"{self.retried} cells crashed, hung or met a corrupt artifact last time: computing them again")
        if self.changed:
            log(f"{len(self.changed)} artifacts changed since they were saved, saved again: "
                f"{', '.join(self.changed[:3])}{' ...' if len(self.changed) > 3 else ''}")


def digest(path: Path) -> str | None:
    """sha256 as the worker computes it (the same function), or None when the file is gone."""
    if not path.exists():
        return None
    return str(sha256_of(str(path)))


def report_failures(cells: list[Record]) -> None:
    counts = Counter(str(c["verdict"]) for c in cells if c["verdict"] in RETRIED)
    full = sum(1 for c in cells if (c.get("save_error") or {}).get("type") == "DiskFull")
    if counts:
        found = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        log(f"warning: {found}: the report shows each with its error and log tail; the next run tries them again")
    if full:
        log(f"warning: the disk filled while saving: {full} cells have no artifact; free some space and run again")


def in_parallel(function: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(function, items))


def prepare_envs(stacks: list[Stack], options: RunOptions) -> dict[str, Environment]:
    def prepare(stack: Stack) -> Environment:
        if (options.backend or stack.backend) == "docker":
            env = ensure_image(stack, options.docker)
        else:
            env = ensure_env(stack, options.workspace.envs)
        if env.status != "ready":
            log(f"{stack.id}: {env.status}: {env.reason}")
        elif not env.reused:
            log(f"{stack.id}: {'image' if env.image else 'environment'} built in {env.seconds:.1f} s")
        return env
    return {env.stack_id: env for env in in_parallel(prepare, stacks, options.jobs)}


def run_phase(phase: str, ready: list[Stack], envs: dict[str, Environment],
              cells: list[Record], options: RunOptions) -> list[WorkerStats]:
    """Each stack's cells in its own worker, ``jobs`` stacks at a time, the longest first."""
    by_stack: dict[str, list[Record]] = defaultdict(list)
    for cell in cells:
        by_stack[cell["stack"]].append(cell)
    work = sorted((s for s in ready if by_stack[s.id]), key=lambda s: -len(by_stack[s.id]))
    progress = Progress(phase, {s.id: len(by_stack[s.id]) for s in work})

    def run(stack: Stack) -> WorkerStats:
        started = time.monotonic()
        stats = run_cells(stack, envs[stack.id], phase, by_stack[stack.id], options.workspace, options.limits,
                          lambda done: progress.advance(stack.id, done))
        extra = f", {stats.processes} processes" if stats.processes > 1 else ""
        what = PLURALS.get(phase, f"{phase}s")
        progress.finish(stack.id, f"matrix: {stack.id}: {len(by_stack[stack.id])} {what} in "
                                  f"{time.monotonic() - started:.1f} s, peak {stats.peak_rss_mb} MB{extra}")
        return stats

    if not work:
        return []
    with progress:
        PROGRESS.append(progress)
        try:
            return in_parallel(run, work, options.jobs)
        finally:
            PROGRESS.remove(progress)


def assemble_cells(ready: list[Stack], code: CodeDigest, workspace: Workspace) -> list[Record]:
    """Every producer x consumer x case x format among ready stacks, from records or derived."""
    cells, checks = [], verifications(workspace)
    for producer in ready:
        for case in code.cases:
            for fmt in FORMATS:
                saved = workspace.read(workspace.save_record(producer.id, case, fmt)) or {}
                for consumer in ready:
                    cells.append(cell_of(producer.id, consumer.id, case, fmt, saved, workspace, checks))
    return cells


def cell_of(producer: str, consumer: str, case: str, fmt: str, saved: Record, workspace: Workspace,
            checks: dict[tuple[str, str, str, str], list[Record]]) -> Record:
    cell: dict[str, Any] = {"producer": producer, "consumer": consumer, "case": case, "format": fmt,
                            "container": saved.get("container"), "save_error": saved.get("error"), "verified": []}
    status = saved.get("status")
    if status == "saved":
        loaded = workspace.read(workspace.load_record(producer, consumer, case, fmt)) or {}
        cell.update(loaded_fields(loaded))
        cell["verified"] = [verification_entry(r) for r in checks.get((producer, consumer, case, fmt), [])
                            if loaded and r.get("load_fingerprint") == loaded.get("fingerprint")]
    else:
        verdict = "unsupported" if status == "unsupported" else "blocked"
        reason = saved.get("reason") or (saved.get("error") or {}).get("message", "no save record")
        error = {"type": f"Save{verdict.capitalize()}", "message": f"the producer could not save this: {reason}"}
        cell.update(verdict=verdict, remedy=None, max_abs_diff=None, attempts=[], seconds=None, error=error,
                    custom_objects_needed=None)
    return cell


def loaded_fields(loaded: Record) -> Record:
    """A cell's outcome from its load record (``{}``: none, so ``missing``)."""
    attempts = loaded.get("attempts", [])
    return {"verdict": loaded.get("verdict", "missing"), "remedy": loaded.get("remedy"),
            "max_abs_diff": loaded.get("max_abs_diff"), "attempts": attempts,
            "custom_objects_needed": loaded.get("custom_objects_needed"),
            "error": loaded.get("error") or first_error(attempts), "seconds": loaded.get("seconds")}


def first_error(attempts: list[Record]) -> Record | None:
    """The documented way's error, when nothing loaded; None when something did."""
    if not attempts or any(a.get("outcome") != "error" for a in attempts):
        return None
    return attempts[0].get("error")


def write_run_file(stacks: list[Stack], statuses: dict[str, Record], cells: list[Record],
                   cases: list[Record], workspace: Workspace, summary: RunSummary) -> None:
    workspace.write(str(workspace.run_file.relative_to(workspace.root)), {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": summary.seconds,
        "computed": {"saves": summary.saves_run, "loads": summary.loads_run},
        "workers": summary.workers,
        "verification": summary.verification,
        "host": {"python": platform.python_version(), "platform": platform.platform(), "argv": sys.argv[1:]},
        "stacks": [stack_entry(s, statuses[s.id], runtime_of(s, workspace)) for s in stacks],
        "cases": cases,
        "cells": cells,
    })


def stack_entry(stack: Stack, status: Record, runtime: Record) -> Record:
    """The stack as the report shows it: the versions its worker imported (``runtime``) when it ran."""
    runtime = runtime if status["status"] == "ok" else {}
    return {"id": stack.id, "python": runtime.get("python", stack.python),
            "tensorflow": runtime.get("tensorflow"), "keras": runtime.get("keras"),
            "keras_flavor": runtime.get("keras_flavor"), "numpy": runtime.get("numpy"),
            "h5py": runtime.get("h5py"), "backend": status.get("backend", stack.backend), "status": status["status"],
            "reason": status.get("reason", ""), "requirements": list(stack.requirements), "env": stack.env,
            "tags": list(stack.tags)}


def runtime_of(stack: Stack, workspace: Workspace, records: str = "records/save") -> Record:
    """The versions the stack's worker really imported, from any of its records (saves by default)."""
    for path in sorted((workspace.root / records / stack.id).glob("*.json")):
        record = workspace.read(str(path.relative_to(workspace.root)))
        if record and record.get("runtime"):
            return dict(record["runtime"])
    return {}
