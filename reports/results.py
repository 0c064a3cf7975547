"""results.json and results.csv: the public, machine-readable contract (schema in README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from reports.signatures import signature_of

SCHEMA = 1
STACK_FIELDS = ("id", "python", "tensorflow", "keras", "keras_flavor", "backend", "status", "reason")
VERDICTS = ("ok", "remedy", "mismatch", "error", "crashed", "timeout", "blocked", "unsupported", "missing")


def build_results(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "generated_at": run["generated_at"],
        "seconds": run.get("seconds"),
        "computed": run.get("computed", {"saves": None, "loads": None}),
        "host": run.get("host", {}),
        "stacks": [{name: stack.get(name) for name in STACK_FIELDS} for stack in run["stacks"]],
        "cells": [public_cell(cell) for cell in run["cells"]],
    }


def public_cell(cell: dict[str, Any]) -> dict[str, Any]:
    error = cell.get("error")
    return {
        "producer": cell["producer"],
        "consumer": cell["consumer"],
        "case": cell["case"],
        "format": cell["format"],
        "container": cell.get("container"),
        "verdict": cell["verdict"],
        "remedy": cell.get("remedy"),
        "max_abs_diff": cell.get("max_abs_diff"),
        "signature": signature_of(error),
        "error": {"type": error.get("type"), "message": error.get("message")} if error else None,
        "custom_objects_needed": cell.get("custom_objects_needed"),
        "attempts": [public_attempt(a) for a in cell.get("attempts", [])],
    }


def public_attempt(attempt: dict[str, Any]) -> dict[str, Any]:
    error = attempt.get("error")
    return {"mode": attempt["mode"], "call": attempt.get("call"), "outcome": attempt["outcome"],
            "unsafe": bool(attempt.get("unsafe")), "probe": bool(attempt.get("probe")),
            "max_abs_diff": attempt.get("max_abs_diff"), "seconds": attempt.get("seconds"),
            "error": {"type": error["type"], "message": error["message"]} if error else None}


def cells_frame(results: dict[str, Any]) -> pd.DataFrame:
    """One row per cell, the columns of results.csv."""
    rows = [
        {**{k: c[k] for k in ("producer", "consumer", "case", "format", "container", "verdict",
                              "remedy", "max_abs_diff", "signature")},
         "error_type": (c["error"] or {}).get("type"), "error_message": (c["error"] or {}).get("message"),
         "modes_tried": " > ".join(a["mode"] for a in c["attempts"])}
        for c in results["cells"]
    ]
    return pd.DataFrame(rows, columns=["producer", "consumer", "case", "format", "container", "verdict",
                                       "remedy", "max_abs_diff", "signature", "error_type",
                                       "error_message", "modes_tried"])


def write_results(results: dict[str, Any], site: Path) -> pd.DataFrame:
    site.mkdir(parents=True, exist_ok=True)
    (site / "results.json").write_text(json.dumps(results, indent=1))
    frame = cells_frame(results)
    frame.to_csv(site / "results.csv", index=False)
    return frame
