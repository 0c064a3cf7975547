"""What the report page's script reads: the results, compacted to embed in one self-contained file.

A cell is a position in a fixed order (format, case, producer, consumer over the stacks that ran),
so the page needs no keys; every string is stored once and referred to by index. A full default
run (40k cells, 107k attempts) embeds in a few MB where results.json takes 80.
"""

from __future__ import annotations

import json
from typing import Any

import markupsafe
import pandas as pd

from runner.protocol import FIDELITIES, FORMATS, VERDICT_NAMES, VERDICTS

NONE = -1
# What a stack contributes to the cell detail, in order.
VERSION_FIELDS = ("python", "tensorflow", "keras", "keras_flavor", "keras_backend", "numpy", "h5py", "backend")


class Strings:
    """Interns strings: the first use stores one, every later use is its index."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        if text is None:
            return NONE
        if text not in self.index:
            self.index[text] = len(self.values)
            self.values.append(text)
        return self.index[text]


def page_data(results: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    strings = Strings()
    ready = [s for s in results["stacks"] if s["status"] == "ok"]
    stack_ids = [s["id"] for s in ready]
    cases = [c["id"] for c in results["cases"]] or sorted(frame["case"].unique())
    formats = [f.name for f in FORMATS if f.name in set(frame["format"])]
    groups = {group_key(g): n for n, g in enumerate(results["signatures"])}
    columns = cell_columns(results["cells"], frame, (formats, cases, stack_ids), groups, strings)
    return {
        "stacks": [stack_data(s) for s in ready],
        "version_fields": list(VERSION_FIELDS),
        "cases": [case_entry(results, case) for case in cases],
        "formats": formats,
        "format_labels": {f.name: f.label for f in FORMATS},
        "format_preference": [f.name for f in sorted(FORMATS, key=lambda f: f.preference)],
        "families": [f["name"] for f in results["families"] if any(s["family"] == f["name"] for s in ready)],
        "family_titles": {f["name"]: f["title"] for f in results["families"]},
        "keras_backends": sorted({keras_backend(s) for s in ready}, key=lambda b: (b != "tensorflow", b)),
        "pythons": sorted({python_minor(s["python"]) for s in ready}, key=lambda v: tuple(map(int, v.split(".")))),
        "verdicts": list(VERDICT_NAMES),
        "severity": [v.name for v in sorted(VERDICTS, key=lambda v: v.severity)],  # worst first
        "marks": {v.name: v.mark for v in VERDICTS},
        "meanings": {v.name: v.meaning for v in VERDICTS},
        "fidelities": [{"name": f.name, "label": f.label, "meaning": f.meaning}
                       for f in sorted(FIDELITIES, key=lambda f: f.rank)],  # keeps the most first
        "containers": containers(frame, stack_ids, cases, formats),
        "signatures": [signature_entry(g) for g in results["signatures"]],
        **columns,
        "strings": strings.values,
    }


def stack_data(stack: dict[str, Any]) -> dict[str, Any]:
    """A stack as the page reads it: its versions, and the backend and Python minor it filters by."""
    return {"id": stack["id"], "family": stack["family"], **{f: stack.get(f) for f in VERSION_FIELDS},
            "keras_backend": keras_backend(stack), "python_minor": python_minor(stack["python"])}


def keras_backend(stack: dict[str, Any]) -> str:
    """A run from before the field was recorded ran every model on TensorFlow."""
    return str(stack.get("keras_backend") or "tensorflow")


def python_minor(version: str) -> str:
    """``3.11`` of ``3.11.9``: what the report's filter groups stacks by."""
    return ".".join(version.split(".")[:2])


def group_key(group: dict[str, Any]) -> str:
    return str(group["id"] or group["signature"])


def case_entry(results: dict[str, Any], case: str) -> dict[str, Any]:
    declared = {c["id"]: c for c in results["cases"]}.get(case, {})
    summary, axis = declared.get("summary", ""), declared.get("measured_on")
    if axis:
        summary += f" Measured only between the stacks tagged {axis!r} in this run (a slow case)."
    return {"id": case, "tags": declared.get("tags", []), "summary": summary}


def signature_entry(group: dict[str, Any]) -> dict[str, Any]:
    return {key: group[key] for key in ("id", "signature", "title", "explanation", "remedy", "cells")}


VERDICT_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"  # one character a cell: the verdict's index, base 36
assert len(VERDICT_NAMES) <= len(VERDICT_DIGITS)


def cell_columns(cells: list[dict[str, Any]], frame: pd.DataFrame, axes: tuple[list[str], list[str], list[str]],
                 groups: dict[str, int], strings: Strings) -> dict[str, Any]:
    """Column arrays in position order; positions no cell reached stay ``missing``."""
    formats, cases, stacks = axes
    size = len(formats) * len(cases) * len(stacks) ** 2
    verdict = [VERDICT_NAMES.index("missing")] * size
    remedy, signature, needed, error = [NONE] * size, [NONE] * size, [NONE] * size, [NONE] * size
    fidelity = [NONE] * size
    diff: list[float | None] = [None] * size
    attempts: list[list[int]] = [[] for _ in range(size)]
    shapes: dict[tuple[Any, ...], int] = {}
    for position, cell, row in zip(positions(frame, axes), cells, frame.itertuples(index=False), strict=True):
        if position is None:
            continue
        verdict[position] = VERDICT_NAMES.index(cell["verdict"])
        remedy[position] = strings(cell["remedy"])
        fidelity[position] = strings(cell.get("fidelity"))
        diff[position] = rounded(cell["max_abs_diff"])
        key = row.signature_id if isinstance(row.signature_id, str) else row.signature
        signature[position] = groups.get(str(key), NONE) if isinstance(key, str) else NONE
        needed[position] = NONE if cell["custom_objects_needed"] is None else int(cell["custom_objects_needed"])
        error[position] = error_index(cell["error"], strings)
        attempts[position] = [n for a in cell["attempts"] for n in attempt_pair(a, shapes, strings)]
    return {"verdict": "".join(VERDICT_DIGITS[v] for v in verdict), "remedy": remedy, "fidelity": fidelity,
            "diff": diff,
            "signature": signature, "needed": needed, "error": error, "attempts": attempts,
            "shapes": [list(shape) for shape in shapes]}


def positions(frame: pd.DataFrame, axes: tuple[list[str], list[str], list[str]]) -> list[int | None]:
    """Each frame row's place in (format, case, producer, consumer) order; None when off the axes."""
    formats, cases, stacks = axes
    codes = [pd.Categorical(frame[column], categories=values).codes
             for column, values in (("format", formats), ("case", cases), ("producer", stacks), ("consumer", stacks))]
    f, k, p, c = (pd.Series(code).astype("int64") for code in codes)  # codes are int8: would overflow
    place = ((f * len(cases) + k) * len(stacks) + p) * len(stacks) + c
    off_axes = (f < 0) | (k < 0) | (p < 0) | (c < 0)
    return [None if off else int(n) for n, off in zip(place, off_axes, strict=True)]


def attempt_pair(attempt: dict[str, Any], shapes: dict[tuple[Any, ...], int], strings: Strings) -> tuple[int, int]:
    """(shape index, milliseconds): what the attempt did is shared by many cells, its time is not."""
    shape = (strings(attempt["mode"]), strings(attempt.get("call")), strings(outcome_words(attempt)),
             error_index(attempt.get("error"), strings), int(bool(attempt.get("unsafe"))),
             int(bool(attempt.get("probe"))), rounded(attempt.get("max_abs_diff")), strings(attempt.get("fidelity")),
             strings(resume_words(attempt.get("resume"))))
    index = shapes.setdefault(shape, len(shapes))
    return index, round((attempt.get("seconds") or 0) * 1000)


def outcome_words(attempt: dict[str, Any]) -> str:
    """An attempt's outcome as the page says it: a load that worked is never "error"."""
    if attempt["outcome"] == "error" and attempt.get("loaded"):
        return "loaded; predicting failed"
    return str(attempt["outcome"])


def resume_words(resume: dict[str, Any] | None) -> str | None:
    """What one more training step showed, in the page's words (None: no step was taken)."""
    if not resume:
        return None
    if resume["outcome"] == "ok":
        return f"training resumes identically (diff {rounded(resume['max_abs_diff'])})"
    if resume["outcome"] == "mismatch":
        return f"training does not resume as saved (diff {rounded(resume['max_abs_diff'])} after one step)"
    error = resume.get("error") or {}
    return f"one more training step fails: {error.get('type')}: {error.get('message')}"


def error_index(error: dict[str, Any] | None, strings: Strings) -> int:
    """An error as one interned string: type, a tab, the message (and the log tail, if any)."""
    if not error:
        return NONE
    text = f"{error.get('type') or 'Error'}\t{error.get('message') or ''}"
    if error.get("tail"):
        text += f"\t{error['tail']}"
    return strings(text)


def rounded(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else float(f"{value:.3g}")


def containers(frame: pd.DataFrame, stacks: list[str], cases: list[str], formats: list[str]) -> list[str]:
    """What each producer really wrote, per (format, case, producer); "" where nothing."""
    saved = frame.dropna(subset=["container"]).drop_duplicates(["producer", "case", "format"])
    written = {(r.format, r.case, r.producer): str(r.container) for r in saved.itertuples(index=False)}
    return [written.get((f, k, p), "") for f in formats for k in cases for p in stacks]


def embed(data: dict[str, Any]) -> markupsafe.Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' can end the element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return markupsafe.Markup(text)
