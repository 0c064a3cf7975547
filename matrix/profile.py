"""Where a run's time went, from its records and its workers' own timings (``runner.protocol``).

Per consumer column (its load worker) and per producer row (its save worker): the worker's
lifetime split into importing TensorFlow, the cells and writing records; the cells' time split
into checking the artifact's digest, reading the reference and the case, and what the attempts
(or saves) spent loading, predicting, comparing and clearing the session; ``rest`` is what no
step measured. Per rung: attempts, seconds, and the seconds of each step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matrix.stacks import Stack
from matrix.store import Workspace

ATTEMPT_STEPS = ("load", "predict", "compare", "clear")
LOAD_STEPS = ("digest", "read", *ATTEMPT_STEPS)
SAVE_STEPS = ("build", "predict", "save", "reference", "hash", "clear")
WORKER_STEPS = ("import_s", "cells_s", "write_s")
Seconds = dict[str, float]


def add(target: Seconds, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, int | float):
            target[key] += float(value)


@dataclass
class Column:
    """One stack's worker in one phase."""

    stack: str
    phase: str
    cells: int = 0
    cell_s: float = 0.0
    worker: Seconds = field(default_factory=lambda: defaultdict(float))  # WORKER_STEPS, wall_s: all processes
    steps: Seconds = field(default_factory=lambda: defaultdict(float))  # LOAD_STEPS or SAVE_STEPS
    attempts: int = 0
    by_mode: dict[str, Seconds] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))

    @property
    def rest_s(self) -> float:
        """Cell time outside the measured steps: digests, the reference, the case's import."""
        return self.cell_s - sum(self.steps.values())


def profile(stacks: list[Stack], workspace: Workspace) -> dict[str, list[Column]]:
    return {phase: [column(s.id, phase, workspace) for s in stacks] for phase in ("save", "load")}


def column(stack: str, phase: str, workspace: Workspace) -> Column:
    col = Column(stack, phase)
    for path in workspace.timings_files(stack, phase):
        timings = workspace.read_any(str(path)) or {}
        add(col.worker, {k: timings.get(k, 0.0) for k in (*WORKER_STEPS, "wall_s")})
    for path in workspace.records_of(phase, stack).rglob("*.json"):
        record = workspace.read_any(str(path)) or {}
        col.cells += 1
        col.cell_s += float(record.get("seconds") or 0.0)
        add(col.steps, record.get("timings") or {})
        for attempt in record.get("attempts") or []:
            timings = attempt.get("timings") or {}
            col.attempts += 1
            add(col.steps, timings)
            add(col.by_mode[attempt["mode"]], {**timings, "attempts": 1, "seconds": attempt.get("seconds") or 0.0})
    return col


def lines(columns: dict[str, list[Column]]) -> list[str]:
    """The profile as a table to print, heaviest columns first."""
    out = []
    for phase, steps in (("load", LOAD_STEPS), ("save", SAVE_STEPS)):
        ran = sorted((c for c in columns[phase] if c.cells), key=lambda c: -(c.worker["wall_s"] or c.cell_s))
        if not ran:
            continue
        out.append(f"{phase}: {sum(c.cells for c in ran):,} cells; seconds per {phase} worker (all its processes)")
        out.append(f"  {'stack':28} {'wall':>7} {'import':>7} {'cells':>7} {'write':>6}  "
                   + " ".join(f"{s:>8}" for s in (*steps, "rest")) + "   ms/cell")
        for c in ran:
            w = c.worker
            out.append(f"  {c.stack:28} {w['wall_s']:7.1f} {w['import_s']:7.1f} {c.cell_s:7.1f} {w['write_s']:6.1f}  "
                       + " ".join(f"{c.steps[s]:8.1f}" for s in steps) + f" {c.rest_s:8.1f}"
                       + f"   {1000 * c.cell_s / c.cells:7.1f}")
        out.append(f"  {'all':28} {sum(c.worker['wall_s'] for c in ran):7.1f} "
                   f"{sum(c.worker['import_s'] for c in ran):7.1f} {sum(c.cell_s for c in ran):7.1f} "
                   f"{sum(c.worker['write_s'] for c in ran):6.1f}  "
                   + " ".join(f"{sum(c.steps[s] for c in ran):8.1f}" for s in steps)
                   + f" {sum(c.rest_s for c in ran):8.1f}")
    out += rung_lines(columns["load"])
    return out


def rung_lines(columns: list[Column]) -> list[str]:
    modes: dict[str, Seconds] = defaultdict(lambda: defaultdict(float))
    for c in columns:
        for mode, counts in c.by_mode.items():
            add(modes[mode], counts)
    if not modes:
        return []
    out = ["rungs, over every consumer: attempts, seconds, ms each, and seconds per step",
           f"  {'mode':26} {'attempts':>8} {'seconds':>8} {'ms':>6}  " + " ".join(f"{s:>8}" for s in ATTEMPT_STEPS)]
    for mode, n in sorted(modes.items(), key=lambda item: -item[1]["seconds"]):
        each = 1000 * n["seconds"] / n["attempts"]
        out.append(f"  {mode:26} {int(n['attempts']):8,} {n['seconds']:8.1f} {each:6.1f}  "
                   + " ".join(f"{n[s]:8.1f}" for s in ATTEMPT_STEPS))
    return out


def as_json(columns: dict[str, list[Column]]) -> dict[str, Any]:
    return {phase: [{"stack": c.stack, "cells": c.cells, "cell_s": round(c.cell_s, 1), "rest_s": round(c.rest_s, 1),
                     "worker": {k: round(v, 1) for k, v in c.worker.items()},
                     "steps": {k: round(v, 1) for k, v in c.steps.items()},
                     "attempts": c.attempts,
                     "by_mode": {m: {k: round(v, 2) for k, v in n.items()} for m, n in c.by_mode.items()}}
                    for c in cols if c.cells] for phase, cols in columns.items()}
