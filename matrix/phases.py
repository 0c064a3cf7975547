"""One phase over many stacks: environments prepared in parallel, each stack's cells in its own
workers (``matrix.launch``), ``jobs`` stacks at a time, with live progress. The matrix run, its
self-check and ``matrix check`` all run their phases here.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from matrix.containers import DockerOptions, ensure_image
from matrix.envs import Environment, ensure_env
from matrix.launch import Limits, WorkerStats, run_cells
from matrix.progress import Progress
from matrix.stacks import Stack
from matrix.store import Record, Workspace
from runner.protocol import SCHEMA

T = TypeVar("T")
R = TypeVar("R")
PLURALS = {"verify": "verifications"}  # what a worker's cells are, in its progress line


@dataclass(frozen=True, kw_only=True)
class WorkerOptions:
    """Where and how workers run, whatever their phase."""

    workspace: Workspace
    jobs: int
    limits: Limits = field(default_factory=Limits)
    backend: str | None = None  # venv or docker for every stack; None: each stack's own
    docker: DockerOptions = field(default_factory=DockerOptions)


PROGRESS: list[Progress] = []  # the phase's live display, when one is running


def log(message: str) -> None:
    line = f"matrix: {message}"
    if PROGRESS:
        PROGRESS[-1].log(line)
    else:
        print(line, flush=True)


def in_parallel(function: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(function, items))


def prepare_envs(stacks: list[Stack], options: WorkerOptions) -> dict[str, Environment]:
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


def run_phase(phase: str, ready: list[Stack], envs: dict[str, Environment],
              cells: list[Record], options: WorkerOptions) -> list[WorkerStats]:
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


def worker_totals(stats: list[WorkerStats], jobs: int) -> dict[str, Any]:
    """For run.json and the benchmark: processes, summed lifetimes, the largest worker."""
    return {"processes": sum(s.processes for s in stats), "seconds": round(sum(s.seconds for s in stats), 1),
            "peak_rss_mb": max((s.peak_rss_mb for s in stats), default=0), "jobs": jobs}
