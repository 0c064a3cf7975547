"""The self-check: attempts of the run, each run again alone in a fresh worker process.

A rung's answer must not depend on the rungs or cells that ran before it in the same worker,
nor on the matrix's tuning of TensorFlow (``runner.compat.tune_runtime``: the fresh worker runs
TensorFlow as it ships, ``model.predict`` included). This draws attempts (``ok``, ``error`` or
``mismatch``, probes included) from the current load records, runs each as the only attempt of
a new worker process of its consumer, and compares: another outcome, stage (load or predict),
exception type or training-resume outcome is a disagreement, a bug of this tool and never
Keras's answer. A verification whose worker died says nothing either way and is counted apart.

The sample is stratified: every (consumer, mode, outcome, exception type) is drawn once before
any is drawn twice, so a rare failure is checked as surely as a common one. An attempt verified
against the same load record before is not drawn again, so nightly samples add up; one asked
for by its signature is verified again all the same.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from matrix.envs import Environment
from matrix.errors import SelectionError
from matrix.launch import WorkerStats
from matrix.phases import WorkerOptions, log, run_phase
from matrix.plan import CodeDigest, LoadCell, fingerprint, load_cells, load_job_cell
from matrix.stacks import Stack
from matrix.store import Record, Workspace
from matrix.views import Outline, Verification, Verified
from reports.catalog import CatalogError, load_catalog

DRAWN = ("ok", "error", "mismatch")  # outcomes of a measured answer (not "loaded": nothing to predict on)
COMPARED = ("outcome", "stage")  # and the exception type, and the training-resume outcome


@dataclass(frozen=True)
class VerifyRequest:
    sample: int = 0  # attempts to draw at random (stratified)
    signatures: tuple[str, ...] = ()  # catalog ids or regular expressions: every attempt that matches
    seed: int | None = None  # None: a new one, logged so the draw can be repeated

    def __bool__(self) -> bool:
        return self.sample > 0 or bool(self.signatures)


def self_check(consumers: list[Stack], producers: list[Stack], envs: dict[str, Environment], code: CodeDigest,
               options: WorkerOptions, request: VerifyRequest) -> tuple[list[Verified], list[WorkerStats]]:
    """The chosen attempts of the consumers' loads, each alone in a new worker, and what
    each gave."""
    workspace = options.workspace
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    candidates = list(measured_attempts(load_cells(consumers, producers, code, workspace, workspace.read), workspace))
    chosen = [verify_job_cell(c, workspace) for c in choose(candidates, request, seed)]
    unverified = sum(1 for c in candidates if not c.verified)
    log(f"self-check: {len(chosen)} attempts ({unverified:,} of {len(candidates):,} not verified yet), each "
        f"run again alone in a fresh worker (seed {seed})")
    stats = run_phase("verify", consumers, envs, chosen, options)
    return [verification_entry(workspace.read(c["record"]) or c) for c in chosen], stats


@dataclass(frozen=True)
class Candidate:
    """One measured attempt of a current load record."""

    cell: LoadCell
    index: int  # its place in the record's attempts
    attempt: Record
    verified: bool = False  # already, against this load record

    @property
    def stratum(self) -> tuple[str, str, str, str]:
        return self.cell.consumer, str(self.attempt["mode"]), str(self.attempt["outcome"]), error_type(self.attempt)


def error_type(attempt: Record) -> str:
    return str((attempt.get("error") or {}).get("type") or "")


def verify_fingerprint(cell: LoadCell, index: int) -> str:
    return fingerprint(kind="verify", load=cell.fingerprint, attempt=index)


def measured_attempts(cells: Iterable[LoadCell], workspace: Workspace) -> Iterator[Candidate]:
    """The ok, error and mismatch attempts of every current load record among ``cells``."""
    for cell in cells:
        record = workspace.read(workspace.load_record(cell.producer, cell.consumer, cell.case, cell.format))
        if not record or record.get("fingerprint") != cell.fingerprint:
            continue
        for index, attempt in enumerate(record.get("attempts") or []):
            if attempt.get("outcome") in DRAWN:
                yield Candidate(cell, index, attempt, verified(workspace, cell, index))


def verified(workspace: Workspace, cell: LoadCell, index: int) -> bool:
    record = workspace.read(workspace.verify_record(cell.producer, cell.consumer, cell.case, cell.format, index)) or {}
    return record.get("fingerprint") == verify_fingerprint(cell, index) and "attempt" in record


def choose(candidates: list[Candidate], request: VerifyRequest, seed: int) -> list[Candidate]:
    """Every candidate matching a requested signature, then ``request.sample`` drawn from the rest
    of those not verified yet."""
    patterns = signature_patterns(request.signatures)
    matching = [c for c in candidates if any(p.search(described(c.attempt)) for p in patterns)]
    chosen = {id(c) for c in matching}
    rest = [c for c in candidates if id(c) not in chosen and not c.verified]
    return matching + draw(rest, request.sample, seed)


def draw(candidates: list[Candidate], sample: int, seed: int) -> list[Candidate]:
    """``sample`` candidates, one per stratum in turn (strata and members in random order)."""
    rng = random.Random(seed)
    strata: dict[tuple[str, str, str, str], list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        strata[candidate.stratum].append(candidate)
    keys = sorted(strata)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(strata[key])
    chosen: list[Candidate] = []
    while len(chosen) < sample and any(strata.values()):
        for key in keys:
            if strata[key] and len(chosen) < sample:
                chosen.append(strata[key].pop())
    return chosen


def signature_patterns(signatures: Iterable[str]) -> list[re.Pattern[str]]:
    """A catalog id stands for its pattern; anything else is a regular expression."""
    signatures = list(signatures)
    try:
        known = {entry.id: entry.pattern for entry in load_catalog()} if signatures else {}
    except CatalogError as exc:
        raise SelectionError(f"--verify-signature needs the signature catalog: {exc}") from None
    patterns = []
    for signature in signatures:
        try:
            patterns.append(known.get(signature) or re.compile(signature))
        except re.error as exc:
            raise SelectionError(f"--verify-signature {signature!r} is neither a catalog id "
                                 f"(reports/catalog.toml) nor a regular expression: {exc}") from None
    return patterns


def described(attempt: Record) -> str:
    """``Type: message``, what catalog patterns match."""
    error = attempt.get("error") or {}
    return f"{error.get('type', '')}: {error.get('message', '')}"


def verify_job_cell(candidate: Candidate, workspace: Workspace) -> Record:
    cell, attempt = candidate.cell, candidate.attempt
    kept = ("mode", "call", "probe", *COMPARED, "error", "max_abs_diff", "resume")
    recorded = {key: attempt.get(key) for key in kept}
    return {**load_job_cell(cell, workspace), "attempt_index": candidate.index, "recorded": recorded,
            "load_fingerprint": cell.fingerprint, "fingerprint": verify_fingerprint(cell, candidate.index),
            "record": workspace.verify_record(cell.producer, cell.consumer, cell.case, cell.format, candidate.index)}


def agrees(recorded: Record, fresh: Record | None) -> bool | None:
    """Whether the fresh attempt gave the recorded answer; None when it could not run."""
    if fresh is None:
        return None
    return (all(recorded.get(key) == fresh.get(key) for key in COMPARED) and error_type(recorded) == error_type(fresh)
            and resume_outcome(recorded) == resume_outcome(fresh))


def resume_outcome(attempt: Record) -> str | None:
    return (attempt.get("resume") or {}).get("outcome")


def verification_entry(record: Record) -> Verified:
    """What a cell shows of one verification record."""
    fresh = record.get("attempt")
    shown = fresh or {"outcome": None, "stage": None, "error": record.get("error")}
    return {"attempt": record["attempt_index"], "mode": record["recorded"]["mode"],
            "agrees": agrees(record["recorded"], fresh), "recorded": outline(record["recorded"]),
            "fresh": outline(shown)}


def outline(attempt: Record) -> Outline:
    error = attempt.get("error")
    return {"outcome": attempt.get("outcome"), "stage": attempt.get("stage"),
            "error": {"type": error.get("type"), "message": error.get("message")} if error else None}


def verifications(workspace: Workspace) -> dict[tuple[str, str, str, str], list[Record]]:
    """Every verification record, by (producer, consumer, case, format)."""
    found: dict[tuple[str, str, str, str], list[Record]] = defaultdict(list)
    for path in sorted(workspace.records_of("verify").glob("*/*/*.json")):
        record = workspace.read(str(path.relative_to(workspace.root)))
        if record and "recorded" in record:
            found[(record["producer"], record["consumer"], record["case"], record["format"])].append(record)
    return found


def summary(entries: Iterable[Verified]) -> Verification:
    entries = list(entries)
    return {"attempts": len(entries), "agreed": sum(1 for e in entries if e["agrees"] is True),
            "disagreed": sum(1 for e in entries if e["agrees"] is False),
            "unverified": sum(1 for e in entries if e["agrees"] is None)}
