"""The check report: a user's files across the stacks, as results.json, results.csv, a page in
the report's style (a row per file, a column per stack) and one summary line per file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from matrix.views import RunFile
from reports.catalog import entry_by_id
from reports.page import outcome_words
from reports.render import LETTERS, MEANINGS, environment, page_style, verdict_counts
from reports.results import build_results, write_results
from runner.protocol import VERDICTS

FAILED = frozenset(v.name for v in VERDICTS if v.loaded is False)  # "fails in N": nothing loaded there
SIGNATURE_CHARS = 100


def build_check_results(run: RunFile) -> tuple[dict[str, Any], pd.DataFrame]:
    """The matrix's results schema; ``producer`` and ``case`` are the file's name, plus ``files``."""
    results, frame = build_results(run)
    results["files"] = run.get("files", [])
    return results, frame


def write_check_site(run: RunFile, site: Path) -> tuple[dict[str, Any], Path]:
    results, frame = build_check_results(run)
    write_results(results, frame, site)
    return results, render_check(results, frame, site)


def render_check(results: dict[str, Any], frame: pd.DataFrame, site: Path) -> Path:
    ready = [s for s in results["stacks"] if s["status"] == "ok"]
    by_file = cells_by_file(results)
    html = environment().get_template("check.html.j2").render(
        results=results, stacks=results["stacks"], ready=ready, files=results["files"],
        grid={name: {c["consumer"]: c for c in cells} for name, cells in by_file.items()},
        summaries={name: summary(cells) for name, cells in by_file.items()},
        counts=verdict_counts(frame), signatures=results["signatures"], letters=LETTERS, meanings=MEANINGS,
        seen=lambda group: seen_in(group["seen"]), show_cells=False, style=page_style(results["families"]),
        reference=describe_reference, origin=describe_origin, outcome=outcome_words,
    )
    target = site / "index.html"
    target.write_text(html)
    return target


def cells_by_file(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for cell in results["cells"]:
        grouped.setdefault(cell["producer"], []).append(cell)
    return grouped


def summary(cells: list[dict[str, Any]]) -> str:
    """'loads as-is in N stacks, with compile=False in M, fails in K: SIGNATURE (n) ...'"""
    verdicts = Counter(c["verdict"] for c in cells)
    parts = [f"loads as-is in {verdicts['ok']} of {len(cells)} stacks"]
    remedies = Counter(c["remedy"] for c in cells if c["verdict"] == "remedy")
    parts += [f"with {remedy} in {count}" for remedy, count in remedies.most_common()]
    if verdicts["mismatch"]:
        diffs = [c["max_abs_diff"] for c in cells if c["verdict"] == "mismatch" and c["max_abs_diff"] is not None]
        worst = f" (max abs diff up to {max(diffs):.3g})" if diffs else ""
        parts.append(f"loads but predicts differently in {verdicts['mismatch']}{worst}")
    unpredicted = [c for c in cells if c["verdict"] == "predict-error"]
    if unpredicted:
        parts.append(f"loads but its prediction fails in {len(unpredicted)}: {failures(unpredicted)}")
    if verdicts["not-predicted"]:
        no_input = next((c["error"]["message"] for c in cells if c["verdict"] == "not-predicted" and c["error"]),
                        "no input could be built")
        parts.append(f"loads, not predicted, in {verdicts['not-predicted']} ({no_input})")
    failed = [c for c in cells if c["verdict"] in FAILED]
    parts.append(f"fails in {len(failed)}" + (": " + failures(failed) if failed else ""))
    return ", ".join(parts)


def failures(failed: list[dict[str, Any]]) -> str:
    """Each failure once: the catalog's title (else the signature, cut short) and where."""
    where: dict[str, list[str]] = {}
    for cell in failed:
        entry = entry_by_id(cell.get("signature_id"))
        label = entry.title if entry else shorten(cell.get("signature") or cell["verdict"])
        where.setdefault(label, []).append(cell["consumer"])
    ordered = sorted(where.items(), key=lambda item: -len(item[1]))
    return "; ".join(f"{label} ({stacks_named(stacks)})" for label, stacks in ordered)


def shorten(text: str, limit: int = SIGNATURE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def stacks_named(stacks: list[str]) -> str:
    return ", ".join(stacks) if len(stacks) <= 3 else f"{len(stacks)} stacks: {stacks[0]} ... {stacks[-1]}"


def describe_reference(entry: dict[str, Any]) -> str:
    reference = entry.get("reference")
    if not reference:
        return "no reference: no stack both loads it and predicts"
    if reference["source"] == "expected":
        return "compared with your --expected outputs"
    how = "the documented load" if reference["mode"] == "documented" else reference["mode"]
    return f"compared with {reference['stack']} ({how})"


def describe_origin(entry: dict[str, Any]) -> str:
    """'written by Keras 2.9.0 (tensorflow)', 'TensorFlow 2.21.0, no Keras metadata', ...: what the
    file records of what wrote it."""
    origin = entry.get("origin") or {}
    known = {key: value for key, value in origin.items() if value != "not recorded"}
    parts = []
    if "tensorflow_version" in known:
        parts.append(f"TensorFlow {known['tensorflow_version']}")
    if "keras_version" in known:
        parts.append(f"Keras {known['keras_version']}" + (f" ({known['backend']})" if "backend" in known else ""))
    if known.get("keras_metadata") == "no":
        parts.append("no Keras metadata")
    return ("written by " + ", ".join(parts)) if parts else "its writer not recorded"


def seen_in(seen: dict[str, Any]) -> str:
    return f"Seen in {', '.join(seen['producers'])}, loading with {', '.join(seen['consumers'])}."


def summary_lines(results: dict[str, Any]) -> list[str]:
    """What the terminal shows: one line per file, unreadable ones included."""
    by_file = cells_by_file(results)
    lines = []
    for entry in results["files"]:
        if entry["problem"]:
            lines.append(f"{entry['name']}: not checked: {entry['problem']}")
        else:
            lines.append(f"{entry['name']} ({entry['format']}, {describe_origin(entry)}; {describe_reference(entry)}): "
                         f"{summary(by_file.get(entry['name'], []))}")
    return lines
