"""The matrix run: prepare environments, save what is stale, load what is stale, write run.json.

Stacks run in parallel, one worker per (stack, phase), up to ``jobs`` at once. Saves finish
everywhere before any load starts, since every consumer loads every producer's artifacts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from matrix.launch import WorkerStats
from matrix.phases import WorkerOptions, log, prepare_envs, run_phase, stack_status, worker_totals
from matrix.plan import (
    LoadCell,
    SaveCell,
    describe_cases,
    digest_runner,
    load_job_cell,
    plan_loads,
    plan_saves,
    save_job_cell,
    select_cases,
)
from matrix.runfile import RunSummary, assemble_cells, write_run_file
from matrix.stacks import Stack
from matrix.store import Record, Workspace, bulk_records
from matrix.verify import VerifyRequest, self_check
from matrix.verify import summary as verification_summary
from matrix.views import Cell, Verified
from runner.protocol import RETRIED, SCHEMA, sha256_of


@dataclass(frozen=True, kw_only=True)
class RunOptions(WorkerOptions):
    force: bool = False
    cases: tuple[str, ...] = ()
    every_stack: bool = False  # measure each case on every stack, its MEASURED_ON tag or not
    phase: str = "all"  # or one of "save", "load", "report": one step of a sharded run
    shard: str | None = None  # a stack id: only its saves, or only its loads as the consumer
    part: Part | None = None  # of the shard's loads, only those of one part of the producers
    verify: VerifyRequest = field(default_factory=VerifyRequest)  # the self-check, after the loads


PHASES = ("all", "save", "load", "report")


@dataclass(frozen=True)
class Part:
    """Part ``number`` of ``count`` of a consumer's column: every ``count``-th producer from the
    ``number``-th, so each part mixes old and new stacks and costs about the same."""

    number: int
    count: int

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"

    def of(self, producers: list[Stack]) -> list[Stack]:
        return producers[self.number - 1::self.count]


def run_matrix(stacks: list[Stack], options: RunOptions) -> RunSummary:
    """Save what is stale, load what is stale, then assemble every cell into run.json.

    One phase and one shard at a time is how CI spreads the work over machines: save jobs per
    stack, load jobs per consumer stack over everyone's artifacts, then one report job."""
    started = time.monotonic()
    workspace, code = options.workspace, select_cases(digest_runner(), list(options.cases))
    if options.every_stack:
        code = code.on_every_stack()
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
        with bulk_records():
            saves = plan_saves(workers, code, workspace, fingerprint_at)
        check.forget(workspace.save_record(c.producer, c.case, c.format) for c in saves)
        log(f"{len(workers)}/{len(mine)} stacks ready; {len(saves)} saves to run")
        stats += run_phase("save", workers, envs, [save_job_cell(c, workspace) for c in saves], options)
    producers = options.part.of(ready) if options.part else ready
    if options.phase in ("all", "load"):
        with bulk_records():
            loads = plan_loads(workers, producers, code, workspace, fingerprint_at, workspace.read)
        check.forget(workspace.load_record(c.producer, c.consumer, c.case, c.format) for c in loads)
        log(f"{len(loads)} loads to run")
        check.report()
        stats += run_phase("load", workers, envs, [load_job_cell(c, workspace) for c in loads], options)
    checked: list[Verified] = []
    if options.verify and options.phase in ("all", "load"):
        checked, verify_stats = self_check(workers, producers, envs, code, options, options.verify)
        stats += verify_stats
    with bulk_records():
        cells = assemble_cells(ready, code, workspace, check.current) if options.phase in ("all", "report") else []
        report_failures(cells)
        if cells:  # every current verification, earlier runs' included
            checked = [entry for cell in cells for entry in cell["verified"]]
        seconds = round(time.monotonic() - started, 1)
        summary = RunSummary(len(stacks), len(ready), len(saves), len(loads), len(cells), seconds,
                             worker_totals(stats, options.jobs), verification_summary(checked))
        if options.phase in ("all", "report"):
            write_run_file(stacks, statuses, cells, describe_cases(code), workspace, summary)
    return summary


def no_records(_relative: str) -> None:
    return None


class RecordCheck:
    """Which records still count: of this schema, not a failure worth retrying, and (for saves)
    with artifacts that still hash to what the save recorded. It counts what it turns away."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.old_schema = 0
        self.retried = 0
        self.changed: list[str] = []
        self.current: dict[str, Record] = {}  # what the plan kept, so the run file reads it only once

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
        if record.get("fingerprint") is None:
            return None
        self.current[relative] = record
        return str(record["fingerprint"])

    def forget(self, computed: Iterable[str]) -> None:
        """The records the plan will compute again: they will be read again once written."""
        for relative in computed:
            self.current.pop(relative, None)

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


def report_failures(cells: list[Cell]) -> None:
    counts = Counter(str(c["verdict"]) for c in cells if c["verdict"] in RETRIED)
    full = sum(1 for c in cells if (c.get("save_error") or {}).get("type") == "DiskFull")
    if counts:
        found = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        log(f"warning: {found}: the report shows each with its error and log tail; the next run tries them again")
    if full:
        log(f"warning: the disk filled while saving: {full} cells have no artifact; free some space and run again")


