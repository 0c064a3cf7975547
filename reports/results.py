"""results.json and results.csv: the public, machine-readable contract (schema in README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pandas as pd

from matrix.views import AttemptData, Cell, ErrorData, Resume, RunFile
from reports.catalog import match_error
from reports.signatures import cell_failure, signature_of, summarize
from runner.protocol import attempt_loaded

SCHEMA = 3  # of results.json, the public contract; records have their own (runner.protocol.SCHEMA)
STACK_FIELDS = ("id", "python", "tensorflow", "keras", "keras_flavor", "keras_backend", "numpy", "h5py", "family",
                "backend", "status", "reason", "tags")


def build_results(run: RunFile) -> tuple[dict[str, Any], pd.DataFrame]:
    """results.json's content, and its cells as the frame results.csv and the page are made of."""
    stacks: list[dict[str, Any]] = [{name: stack.get(name) for name in STACK_FIELDS} for stack in run["stacks"]]
    results = {
        "schema": SCHEMA,
        "generated_at": run["generated_at"],
        "seconds": run.get("seconds"),
        "computed": run.get("computed", {"saves": None, "loads": None}),
        "host": run.get("host", {}),
        "stacks": stacks,
        "families": run["families"],
        "cases": run.get("cases", []),
        "cells": [public_cell(cell) for cell in run["cells"]],
    }
    results["verification"] = run.get("verification") or {"attempts": 0, "agreed": 0, "disagreed": 0, "unverified": 0}
    flavors = {s["id"]: s.get("keras_flavor") or "?" for s in stacks}
    frame = cells_frame(results)
    results["signatures"] = summarize(frame, flavors)
    return results, frame


def public_cell(cell: Cell) -> dict[str, Any]:
    failure = cell_failure(cast(dict[str, Any], cell))
    entry = match_error(failure)
    return {
        "producer": cell["producer"],
        "consumer": cell["consumer"],
        "case": cell["case"],
        "format": cell["format"],
        "container": cell["container"],
        "verdict": cell["verdict"],
        "remedy": cell["remedy"],
        "max_abs_diff": cell["max_abs_diff"],
        "tolerance": cell.get("tolerance"),
        "fidelity": cell.get("fidelity"),
        "signature": signature_of(failure),
        "signature_id": entry.id if entry else None,
        "error": public_error(cell["error"], cell["verdict"]),
        "custom_objects_needed": cell["custom_objects_needed"],
        "attempts": [public_attempt(a) for a in cell["attempts"]],
        "verified": cell["verified"],
    }


def verified_attempts(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every attempt the self-check ran again alone in a fresh worker, disagreements first."""
    checked = [{key: cell[key] for key in ("producer", "consumer", "case", "format", "verdict")} | entry
               for cell in cells for entry in cell["verified"]]
    return sorted(checked, key=lambda entry: {False: 0, None: 1, True: 2}[entry["agrees"]])


def public_error(error: ErrorData | None, verdict: str) -> dict[str, Any] | None:
    """type and message; for a dead or hung worker also the tail of its log, the only clue."""
    if not error:
        return None
    public = {"type": error.get("type"), "message": error.get("message")}
    if verdict in ("crashed", "timeout") and error.get("traceback"):
        public["tail"] = error["traceback"]
    return public


def public_attempt(attempt: AttemptData) -> dict[str, Any]:
    """An attempt as results.json gives it; a check's also has ``outputs``, each output's diff."""
    error = attempt.get("error")
    outputs = {"outputs": attempt["outputs"]} if attempt.get("outputs") else {}
    return {**outputs, "mode": attempt["mode"], "call": attempt.get("call"), "outcome": attempt["outcome"],
            "loaded": attempt_loaded(cast(dict[str, Any], attempt)),
            "unsafe": bool(attempt.get("unsafe")), "probe": bool(attempt.get("probe")),
            "max_abs_diff": attempt.get("max_abs_diff"), "seconds": attempt.get("seconds"),
            "fidelity": attempt.get("fidelity"), "resume": public_resume(attempt.get("resume")),
            "error": {"type": error["type"], "message": error["message"]} if error else None}


def public_resume(resume: Resume | None) -> dict[str, Any] | None:
    if not resume:
        return None
    error = resume.get("error")
    return {"outcome": resume["outcome"], "max_abs_diff": resume["max_abs_diff"],
            "error": {"type": error["type"], "message": error["message"]} if error else None}


COLUMNS = ("producer", "consumer", "case", "format", "container", "verdict", "remedy", "fidelity", "max_abs_diff",
           "custom_objects_needed", "signature", "signature_id")


def cells_frame(results: dict[str, Any]) -> pd.DataFrame:
    """One row per cell, the columns of results.csv; the error is the one the signature names."""
    rows = []
    for cell in results["cells"]:
        failure = cell_failure(cell) or {}
        rows.append({**{k: cell.get(k) for k in COLUMNS},
                     "error_type": failure.get("type"), "error_message": failure.get("message"),
                     "modes_tried": " > ".join(a["mode"] for a in cell["attempts"])})
    return pd.DataFrame(rows, columns=[*COLUMNS, "error_type", "error_message", "modes_tried"])


def write_results(results: dict[str, Any], frame: pd.DataFrame, site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    # one line: Python's fast encoder (an indent turns it off; 84 MB took 4 s indented)
    (site / "results.json").write_text(json.dumps(results, separators=(",", ":")))
    frame.to_csv(site / "results.csv", index=False)
