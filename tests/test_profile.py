"""The profile's sums: a worker's timings and its records' steps, per column and per rung."""

from pathlib import Path

from matrix.profile import lines, profile
from matrix.stacks import Stack
from matrix.store import Workspace

STACK = Stack(id="tf2.15-py3.11", python="3.11", requirements=("tensorflow-cpu==2.15.1",), family="keras2")


def attempt(mode: str, seconds: float, load: float, predict: float) -> dict:
    return {"mode": mode, "seconds": seconds, "timings": {"load": load, "predict": predict, "compare": 0.0,
                                                          "clear": seconds - load - predict}}


def test_columns_and_rungs_add_up_what_the_workers_measured(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    for process, wall in ((1, 10.0), (2, 4.0)):  # a worker that crashed, then its successor
        workspace.write(workspace.timings_file(STACK.id, "load", process),
                        {"import_s": 3.0, "cells_s": wall - 3.5, "write_s": 0.5, "wall_s": wall, "pid": process})
    for n, attempts in enumerate(([attempt("documented", 2.0, 1.5, 0.4)],
                                  [attempt("documented", 1.0, 0.9, 0.0), attempt("compile=False", 3.0, 1.0, 1.5)])):
        workspace.write(workspace.load_record("p", STACK.id, f"case{n}", "h5"),
                        {"schema": 1, "seconds": sum(a["seconds"] for a in attempts) + 0.25,
                         "timings": {"digest": 0.2, "read": 0.05}, "attempts": attempts})
    columns = profile([STACK], workspace)
    load = columns["load"][0]
    assert (load.cells, load.attempts) == (2, 3)
    assert (load.worker["wall_s"], load.worker["import_s"], load.worker["write_s"]) == (14.0, 6.0, 1.0)
    assert round(load.cell_s, 6) == 6.5 and round(load.steps["load"], 6) == 3.4
    assert round(load.steps["digest"], 6) == 0.4
    assert round(load.rest_s, 6) == 0.0
    documented = {step: round(seconds, 6) for step, seconds in load.by_mode["documented"].items()}
    assert documented == {"load": 2.4, "predict": 0.4, "compare": 0.0, "clear": 0.2, "attempts": 2.0, "seconds": 3.0}
    text = "\n".join(lines(columns))
    assert "load: 2 cells" in text and "compile=False" in text.split("rungs,")[1]
    assert columns["save"][0].cells == 0 and "save:" not in text
