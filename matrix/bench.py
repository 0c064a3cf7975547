"""``python -m matrix bench``: this runner against a naive one, measured side by side.

(a) this runner from an empty workspace, environments already built; (b) a naive runner that
runs every cell in a fresh process importing TensorFlow, as a per-cell nox parametrization would
(measured on a sample of each stack's cells and extrapolated; the output says so); (c) a rerun
with nothing to do; (d) one stack added to the finished matrix (the last one, its records
removed): exactly its row and column are computed again. Prints the figures and writes them to
SITE/bench.json, and the report of the matrix it computed to SITE/bench-run/ (an hour's work on
the full set: kept, not thrown away with the scratch workspace).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from matrix.envs import ensure_env
from matrix.launch import worker_env
from matrix.phases import log
from matrix.run import RunOptions, run_matrix
from matrix.stacks import Stack
from matrix.store import Record, Workspace
from runner.protocol import SCHEMA, TUNED

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"speedup_vs_naive": (">=", 100.0), "work_bound_ratio": ("<=", 1.10), "noop_rerun_s": ("<=", 10.0),
           "peak_rss_mb": ("<=", 2500.0)}


def run_bench(stacks: list[Stack], options: RunOptions, site: Path, sample: int) -> dict[str, Any]:
    envs = {s.id: ensure_env(s, options.workspace.envs) for s in stacks}
    ready = [s for s in stacks if envs[s.id].status == "ready"]
    for stack in stacks:
        if envs[stack.id].status != "ready":
            log(f"bench: {stack.id} left out: {envs[stack.id].status}: {envs[stack.id].reason}")
    if len(ready) < 4:
        log(f"bench: warning: {len(ready)} stacks; the targets are meant for runs of 4 or more")
    with tempfile.TemporaryDirectory(prefix="matrix-bench-") as scratch:
        bench = Workspace(Path(scratch))
        bench.envs.symlink_to(options.workspace.envs.resolve(), target_is_directory=True)
        fresh = RunOptions(workspace=bench, jobs=options.jobs, limits=options.limits, cases=options.cases,
                           every_stack=options.every_stack)
        report = site / "bench-run"
        log(f"bench: (a) this runner, empty workspace, {len(ready)} stacks, {options.jobs} jobs")
        first, first_s = timed_run(ready, fresh, report)
        log("bench: (c) the same run again, nothing to do")
        _, noop_s = timed_run(ready, fresh, report)
        added = ready[-1]
        log(f"bench: (d) {added.id} added to the finished matrix: its row and column again")
        expected = forget_stack(bench, added.id)
        again, added_s = timed_run(ready, fresh, report)
        log(f"bench: (b) the naive runner: {sample} cells per stack and phase, each in a new process")
        naive = naive_estimate(ready, bench, envs, sample)
    cores = os.cpu_count() or 1
    worker_s = first.workers["seconds"]
    figures = {
        "stacks": [s.id for s in ready], "cells": first.saves_run + first.loads_run,
        "saves": first.saves_run, "loads": first.loads_run, "cores": cores, "jobs": options.jobs,
        "wall_s": round(first_s, 1), "worker_cpu_s": worker_s,
        "work_bound_ratio": round(first_s / (worker_s / cores), 3) if worker_s else None,
        "naive_s": round(naive["seconds"], 1), "naive_sampled_cells": naive["sampled"],
        "naive_note": ("extrapolated: each stack's sampled save and load times (one new process per cell, "
                       "TensorFlow imported each time) times its number of saves and loads, run one after another"),
        "speedup_vs_naive": round(naive["seconds"] / first_s, 1),
        "noop_rerun_s": round(noop_s, 1), "peak_rss_mb": first.workers["peak_rss_mb"],
        "add_stack": {"stack": added.id, "wall_s": round(added_s, 1), "cells": again.saves_run + again.loads_run,
                      "expected_cells": expected},
        "worker_processes": first.workers["processes"],
    }
    figures["targets"] = {name: {"target": f"{op} {limit:g}", "met": met(figures[name], op, limit)}
                          for name, (op, limit) in TARGETS.items()}
    site.mkdir(parents=True, exist_ok=True)
    (site / "bench.json").write_text(json.dumps(figures, indent=1))
    return figures


def forget_stack(workspace: Workspace, stack_id: str) -> int:
    """Remove what a stack added to the workspace (its artifacts, its saves, its loads as the
    consumer and as the producer), as if it were declared just now: the number of its cells."""
    folders = [workspace.root / "artifacts" / stack_id, workspace.records_of("save", stack_id),
               workspace.records_of("load", stack_id)]
    folders += [consumer / stack_id for consumer in workspace.records_of("load").iterdir()]
    cells = len({path for folder in folders[1:] for path in folder.rglob("*.json")})  # its own load once
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return cells


def timed_run(stacks: list[Stack], options: RunOptions, site: Path) -> tuple[Any, float]:
    """run_matrix and the report, as ``nox -s matrix`` runs them; wall seconds of both."""
    started = time.monotonic()
    summary = run_matrix(stacks, options)
    report = [sys.executable, "-m", "reports", str(options.workspace.run_file), str(site)]
    subprocess.run(report, cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    return summary, time.monotonic() - started


def naive_estimate(stacks: list[Stack], bench: Workspace, envs: dict[str, Any], sample: int) -> dict[str, Any]:
    """Per stack and phase: time ``sample`` cells, each alone in a new worker process, and scale
    the mean to the stack's number of cells of that phase."""
    rng = random.Random(0)
    total, sampled = 0.0, 0
    for stack in stacks:
        for phase in ("save", "load"):
            records = phase_records(bench, stack.id, phase)
            if not records:
                continue
            chosen = rng.sample(records, min(sample, len(records)))
            times = [one_cell_process(stack, envs[stack.id].python, phase, cell, bench, n)
                     for n, cell in enumerate(chosen, start=sampled)]
            total += sum(times) / len(times) * len(records)
            sampled += len(times)
    return {"seconds": total, "sampled": sampled}


def phase_records(workspace: Workspace, stack: str, phase: str) -> list[Record]:
    folder = workspace.records_of(phase, stack)
    return [json.loads(path.read_text()) for path in sorted(folder.rglob("*.json"))]


def one_cell_process(stack: Stack, python: Path, phase: str, record: Record, workspace: Workspace,
                     number: int) -> float:
    """Wall seconds of a new worker process that runs one cell (its record goes aside)."""
    cell = {k: v for k, v in record.items() if k not in ("runtime", "schema", "kind")}
    cell["record"] = f"naive/{record['record']}"
    if phase == "save":  # a save writes its artifact: keep the measured run's files intact
        for key in ("artifact", "reference"):
            cell[key] = f"naive/{record[key]}"
    job = f"naive/jobs/{number}.{phase}.json"
    workspace.write(job, {"schema": SCHEMA, "phase": phase, "stack": record["stack"], "runtime": TUNED,
                          "heartbeat": f"{job}.heartbeat", "cells": [cell]})
    started = time.monotonic()  # the environment a real worker gets, the stack's variables included
    subprocess.run([str(python), "-m", "runner", phase, job], cwd=workspace.root, env=worker_env(stack),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    seconds = time.monotonic() - started
    shutil.rmtree(workspace.root / "naive" / "artifacts", ignore_errors=True)
    return seconds


def met(value: float | None, op: str, limit: float) -> bool:
    return value is not None and (value >= limit if op == ">=" else value <= limit)


def print_figures(figures: dict[str, Any]) -> None:
    print(f"\nbench on {len(figures['stacks'])} stacks ({', '.join(figures['stacks'])}), "
          f"{figures['cores']} cores, {figures['jobs']} jobs")
    for name in ("cells", "saves", "loads", "wall_s", "worker_cpu_s", "cores", "work_bound_ratio", "naive_s",
                 "speedup_vs_naive", "noop_rerun_s", "peak_rss_mb", "worker_processes"):
        target = figures["targets"].get(name)
        mark = f"   target {target['target']}: {'met' if target['met'] else 'NOT MET'}" if target else ""
        print(f"  {name:18} {figures[name]}{mark}")
    added = figures["add_stack"]
    print(f"  add_stack          {added['wall_s']} s for {added['stack']}: {added['cells']} cells computed "
          f"(its row and column: {added['expected_cells']})")
    print(f"  naive_s is {figures['naive_note']} ({figures['naive_sampled_cells']} cells sampled).")
