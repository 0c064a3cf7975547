"""Night over night: which cells got worse or better since the last published report, the trend
of verdict counts per stack (trend.json, kept with the published site), and an Atom feed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from runner.protocol import VERDICTS

# How good a verdict is for someone loading a model: lower is better. Cells with no measurement
# (missing) are left out of the comparison.
RANK = {v.name: v.rank for v in VERDICTS if v.rank is not None}
KEPT_NIGHTS = 365
LISTED_CHANGES = 200
FEED_ENTRIES = 30


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cell_key(cell: dict[str, Any]) -> str:
    return " / ".join((cell["producer"], cell["consumer"], cell["case"], cell["format"]))


def changes(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The cells present in both reports whose verdict moved, split into worse and better."""
    if not previous:
        return {"worse": [], "better": []}
    before = {cell_key(c): c for c in previous.get("cells", [])}
    moved: dict[str, list[dict[str, Any]]] = {"worse": [], "better": []}
    for cell in current["cells"]:
        old = before.get(cell_key(cell))
        if old is None or old["verdict"] == cell["verdict"]:
            continue
        old_rank, new_rank = RANK.get(old["verdict"]), RANK.get(cell["verdict"])
        if old_rank is None or new_rank is None or old_rank == new_rank:
            continue
        entry = {"cell": cell_key(cell), "before": old["verdict"], "after": cell["verdict"],
                 "remedy": cell.get("remedy"), "signature": cell.get("signature")}
        moved["worse" if new_rank > old_rank else "better"].append(entry)
    return moved


def night(current: dict[str, Any], moved: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Tonight's line of trend.json: verdict counts per consumer stack, and what moved."""
    per_stack: dict[str, Counter[str]] = {}
    for cell in current["cells"]:
        per_stack.setdefault(cell["consumer"], Counter())[cell["verdict"]] += 1
    totals = Counter(cell["verdict"] for cell in current["cells"])
    return {"generated_at": current["generated_at"], "totals": dict(totals),
            "stacks": {stack: dict(counts) for stack, counts in per_stack.items()},
            "worse": moved["worse"][:LISTED_CHANGES], "better": moved["better"][:LISTED_CHANGES],
            "worse_count": len(moved["worse"]), "better_count": len(moved["better"])}


def update_history(previous_dir: Path | None, current: dict[str, Any], site: Path) -> dict[str, Any]:
    """Compare with the previous site, append tonight to its trend, write trend.json and changes.xml."""
    previous = read_json(previous_dir / "results.json") if previous_dir else None
    trend = read_json(previous_dir / "trend.json") if previous_dir else None
    nights = [n for n in (trend or []) if isinstance(n, dict) and n.get("generated_at") != current["generated_at"]]
    moved = changes(previous, current)
    nights = [*nights, night(current, moved)][-KEPT_NIGHTS:]
    (site / "trend.json").write_text(json.dumps(nights, indent=1))
    (site / "changes.xml").write_text(atom_feed(nights))
    return {"nights": nights, "moved": moved, "compared": previous is not None}


def atom_feed(nights: list[dict[str, Any]]) -> str:
    entries = []
    for entry in reversed(nights[-FEED_ENTRIES:]):
        when = escape(entry["generated_at"])
        title = f"{entry['worse_count']} cells worse, {entry['better_count']} better"
        lines = [f"worse: {c['cell']}: {c['before']} -> {c['after']}" for c in entry["worse"]]
        lines += [f"better: {c['cell']}: {c['before']} -> {c['after']}" for c in entry["better"]]
        entries.append(f"<entry><id>keras-compat-matrix:{when}</id><title>{escape(title)}</title>"
                       f"<updated>{when}</updated><content type=\"text\">"
                       f"{escape(chr(10).join(lines) or 'no verdict changed')}</content></entry>")
    updated = escape(nights[-1]["generated_at"]) if nights else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Keras compatibility matrix: verdict changes</title><id>keras-compat-matrix:changes</id>"
            f"<updated>{updated}</updated>{''.join(entries)}</feed>\n")


def summary_markdown(history: dict[str, Any]) -> str:
    """For the CI job summary."""
    if not history["compared"]:
        return "No previous report to compare with.\n"
    moved = history["moved"]
    lines = [f"**{len(moved['worse'])} cells got worse, {len(moved['better'])} got better** since the last report.", ""]
    for kind in ("worse", "better"):
        for change in moved[kind][:50]:
            lines.append(f"- {kind}: `{change['cell']}`: {change['before']} -> {change['after']}")
    return "\n".join(lines) + "\n"
