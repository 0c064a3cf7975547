"""The HTML report: one producer x consumer table per format and case, jinja2 with autoescape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from reports.results import VERDICTS
from reports.signatures import describe_seen

TEMPLATES = Path(__file__).with_name("templates")
LETTERS = {"ok": "✓", "remedy": "R", "mismatch": "≠", "error": "✗", "crashed": "C",
           "timeout": "T", "blocked": "B", "unsupported": "–", "missing": "?"}
MEANINGS = {
    "ok": "loads the documented way; predictions equal",
    "remedy": "loads only with the named remedy; predictions equal",
    "mismatch": "loads, but predicts something else",
    "error": "no load mode works",
    "crashed": "the worker process died on this cell",
    "timeout": "the cell ran past its time limit",
    "blocked": "the producer failed to save this artifact",
    "unsupported": "the producer cannot write this format",
    "missing": "no record (the run was interrupted)",
}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["inline_code"] = inline_code
    return env


def inline_code(text: str) -> markupsafe.Markup:
    """Catalog prose: escaped first, then `backticks` become <code>; nothing else is markup."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def render_site(results: dict[str, Any], frame: pd.DataFrame, site: Path) -> Path:
    ready = [s["id"] for s in results["stacks"] if s["status"] == "ok"]
    cells = {(c["producer"], c["consumer"], c["case"], c["format"]): c for c in results["cells"]}
    html = environment().get_template("index.html.j2").render(
        results=results, stacks=results["stacks"], ready=ready, cells=cells,
        grids=grids(frame), counts=verdict_counts(frame), signatures=results["signatures"],
        seen=lambda group: describe_seen(group["seen"], frame["case"].nunique()),
        letters=LETTERS, meanings=MEANINGS, verdicts=VERDICTS, containers=containers(frame),
        cases={case["id"]: case for case in results["cases"]},
    )
    target = site / "index.html"
    target.write_text(html)
    return target


def grids(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(format, case) pairs in a stable order: one table each."""
    if frame.empty:
        return []
    pairs = frame[["format", "case"]].drop_duplicates().sort_values(["format", "case"])
    return [(f, c) for f, c in pairs.itertuples(index=False)]


def verdict_counts(frame: pd.DataFrame) -> list[tuple[str, int]]:
    counts = frame["verdict"].value_counts()
    return [(v, int(counts[v])) for v in VERDICTS if v in counts]


def containers(frame: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """What each producer really wrote for (producer, case, format)."""
    saved = frame.dropna(subset=["container"]).drop_duplicates(["producer", "case", "format"])
    return {(str(r.producer), str(r.case), str(r.format)): str(r.container) for r in saved.itertuples(index=False)}
