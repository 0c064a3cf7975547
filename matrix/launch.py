"""Launching workers: one process per (stack, phase), watched, and its deaths turned into data.

A worker that dies or stops making progress costs exactly the cell it was on: that cell gets
a ``crashed`` or ``timeout`` record (exit code or signal, and the log's tail), and the cells
after it go to a fresh process. A worker grown past half its memory limit by earlier cells is
replaced as it starts a cell, which the fresh process runs: no record blames it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from matrix.containers import start_container
from matrix.envs import Environment
from matrix.stacks import Stack
from matrix.store import Record, Workspace
from runner.protocol import SCHEMA, STOCK, TUNED, failed_cell, save_failed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_TAIL_LINES = 20
POLL_S = 0.2
# phase -> the worker's module and command: the matrix's own worker, or `matrix check`'s
WORKER_COMMANDS = {"save": ("runner", "save"), "load": ("runner", "load"), "verify": ("runner", "verify"),
                   "check-predict": ("runner.check", "predict"), "check-load": ("runner.check", "load")}
# Phases whose every cell gets a fresh worker process of its own: the self-check (matrix.verify).
ALONE = frozenset({"verify"})
# Phases whose workers run TensorFlow as it ships, not tuned (runner.compat.tune_runtime): the
# self-check, so that it checks the tuning too, and users' own files (matrix check).
STOCK_PHASES = frozenset({"verify", "check-predict", "check-load"})


@dataclass(frozen=True)
class Limits:
    cell_timeout_s: float = 300.0
    startup_timeout_s: float = 300.0
    memory_mb: int = 6144  # resident memory of one worker; TensorFlow workers here peak near 1 GB

    @property
    def recycle_mb(self) -> int:
        """A worker this large when it starts a new cell is replaced by a fresh one, which takes
        that cell: memory kept from earlier cells is no cell's fault. TF 1.15 grows by about 3 MB
        a load (a load column of the full run passed 6 GB, measured); the others stay near 1.3 GB."""
        return self.memory_mb // 2


@dataclass
class Watched:
    """How a worker process ended, as the host saw it."""

    timed_out: bool = False
    killed_at_mb: int = 0  # resident memory when killed for passing the limit, else 0
    recycled: bool = False  # stopped as it started a cell, past Limits.recycle_mb: no failure
    last_cell: int = -1
    peak_rss_mb: int = 0


@dataclass
class WorkerStats:
    processes: int = 0
    peak_rss_mb: int = 0
    seconds: float = 0.0  # summed lifetimes of the worker processes


Progress = Callable[[int], None]  # told how many of the cells are done


def no_progress(_done: int) -> None:
    return None


@dataclass(frozen=True)
class Failure:
    kind: str  # "crashed" or "timeout"
    message: str
    returncode: int | None
    before_first_cell: bool


def run_cells(stack: Stack, env: Environment, phase: str, cells: list[Record], workspace: Workspace,
              limits: Limits, progress: Progress = no_progress) -> WorkerStats:
    """Run ``cells`` in as many worker processes as it takes (one per cell in an ALONE phase)."""
    remaining, stats = list(cells), WorkerStats()
    (workspace.root / workspace.log_file(stack.id, phase)).unlink(missing_ok=True)
    for old in workspace.timings_files(stack.id, phase):
        old.unlink()
    while remaining:
        stats.processes += 1
        offset, started = len(cells) - len(remaining), time.monotonic()
        batch = remaining[:1] if phase in ALONE else remaining
        done, failure, peak = run_worker(stack, env, phase, batch, workspace, limits, shifted(progress, offset),
                                         stats.processes)
        stats.peak_rss_mb = max(stats.peak_rss_mb, peak)
        stats.seconds += time.monotonic() - started
        remaining = remaining[done:]
        if failure is None:
            continue
        blamed = remaining if failure.before_first_cell else remaining[:1]
        tail = log_tail(workspace.root / workspace.log_file(stack.id, phase))
        for cell in blamed:
            workspace.write(cell["record"], failure_record(stack, phase, cell, failure, tail))
        remaining = remaining[len(blamed):]
    progress(len(cells))
    return stats


def shifted(progress: Progress, offset: int) -> Progress:
    """A later process's cells counted after the ones earlier processes finished."""
    return lambda done: progress(offset + done)


def run_worker(stack: Stack, env: Environment, phase: str, cells: list[Record], workspace: Workspace,
               limits: Limits, progress: Progress = no_progress, process: int = 1) -> tuple[int, Failure | None, int]:
    """One worker process (the job's ``process``-th) over ``cells``: how many finished in order,
    why it stopped short, and its peak resident memory in MB."""
    heartbeat = workspace.heartbeat_file(stack.id, phase)
    job_file = workspace.job_file(stack.id, phase)
    (workspace.root / heartbeat).unlink(missing_ok=True)
    workspace.write(job_file, {"schema": SCHEMA, "phase": phase, "stack": stack.id, "heartbeat": heartbeat,
                               "runtime": STOCK if phase in STOCK_PHASES else TUNED,
                               "timings": workspace.timings_file(stack.id, phase, process), "cells": cells})
    log_path = workspace.root / workspace.log_file(stack.id, phase)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [str(env.python), "-m", *WORKER_COMMANDS[phase], job_file]
    if env.image:
        worker: Worker = start_container(env, stack, command, workspace.root, log_path, limits.memory_mb)
    else:
        worker = LocalWorker(command, stack, workspace.root, log_path)
    watched = watch(worker, workspace.root / heartbeat, limits, progress)
    if getattr(worker, "oom_killed", False):  # a container's memory limit is the kernel's to enforce
        watched.killed_at_mb = limits.memory_mb
    done = count_done(cells, workspace)
    if done == len(cells) or watched.recycled:
        return done, None, watched.peak_rss_mb
    return done, describe_failure(worker.returncode, watched, limits), watched.peak_rss_mb


class Worker(Protocol):
    """A running worker as the watcher sees it: a local process or a container."""

    returncode: int | None

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def resident_mb(self) -> int: ...


class LocalWorker:
    """A worker process in the stack's virtualenv, in its own process group."""

    def __init__(self, command: list[str], stack: Stack, workspace: Path, log_path: Path) -> None:
        with open(log_path, "a") as log:
            self.process = subprocess.Popen(command, cwd=workspace, env=worker_env(stack), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self.process.poll()
        return self.returncode

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.returncode = self.process.wait()

    def resident_mb(self) -> int:
        return resident_mb(self.process.pid)


def worker_env(stack: Stack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "PYENV_VERSION"))}
    env.update(stack.env)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONHASHSEED"] = "0"
    # Workers cache what they compile in their environment, though these machines set
    # PYTHONDONTWRITEBYTECODE: an environment's first worker compiles the modules it imports
    # (TensorFlow's 1,800: 3 s) and every later one reads them. Compiling the whole environment
    # when it was built took 11 s of CPU a stack instead (TF 2.15, measured).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def watch(worker: Worker, heartbeat: Path, limits: Limits, progress: Progress = no_progress) -> Watched:
    """Wait for the worker; kill it when a cell passes its time limit or the worker its memory limit."""
    watched = Watched()
    deadline = time.monotonic() + limits.startup_timeout_s + limits.cell_timeout_s
    while worker.poll() is None:
        cell = read_heartbeat(heartbeat)
        rss = worker.resident_mb()
        if cell != watched.last_cell:
            if watched.last_cell >= 0 and rss > limits.recycle_mb:  # it finished a cell here: not its import
                watched.recycled = True
                worker.kill()
                break
            watched.last_cell, deadline = cell, time.monotonic() + limits.cell_timeout_s
            progress(max(cell, 0))  # the worker started cell N: N are done
        watched.peak_rss_mb = max(watched.peak_rss_mb, rss)
        watched.timed_out = time.monotonic() > deadline
        if rss > limits.memory_mb:
            watched.killed_at_mb = rss
        if watched.timed_out or watched.killed_at_mb:
            worker.kill()
            break
        time.sleep(POLL_S)
    if not (watched.timed_out or watched.killed_at_mb or watched.recycled):
        watched.last_cell = read_heartbeat(heartbeat)
    return watched


def resident_mb(pid: int) -> int:
    """The process's resident memory (Linux /proc); 0 where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def read_heartbeat(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["cell"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1


def count_done(cells: list[Record], workspace: Workspace) -> int:
    done = 0
    for cell in cells:
        record = workspace.read(cell["record"])
        if record is None or record.get("fingerprint") != cell["fingerprint"]:
            break
        done += 1
    return done


def describe_failure(returncode: int | None, watched: Watched, limits: Limits) -> Failure:
    before_first_cell = watched.last_cell < 0
    if watched.timed_out:
        limit = limits.startup_timeout_s if before_first_cell else limits.cell_timeout_s
        return Failure("timeout", f"no result within {limit:g} s; worker killed", returncode, before_first_cell)
    if watched.killed_at_mb:
        message = (f"worker killed at {watched.killed_at_mb} MB resident, over the memory limit of "
                   f"{limits.memory_mb} MB (--memory-limit)")
        return Failure("crashed", message, returncode, before_first_cell)
    if returncode is not None and returncode < 0:
        message = f"worker killed by signal {signal.Signals(-returncode).name}"
    else:
        message = f"worker exited with code {returncode}"
    if before_first_cell:
        message += " before its first cell (TensorFlow failed to import?)"
    return Failure("crashed", message, returncode, before_first_cell)


def failure_record(stack: Stack, phase: str, cell: Record, failure: Failure, tail: str) -> Record:
    error = {"type": f"Worker{failure.kind.capitalize()}", "message": failure.message, "traceback": tail}
    outcome = save_failed(failure.kind, error) if phase == "save" else failed_cell(failure.kind, error)
    return {"schema": SCHEMA, "kind": phase, "stack": stack.id, **cell, "returncode": failure.returncode, **outcome}


def log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])
