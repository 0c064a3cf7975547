"""The HTML report: one self-contained page (inline CSS, script and data), jinja2 with autoescape.

The static parts (header, signatures, stacks) are rendered here; the advisor, heatmaps, filters and
cell details are drawn by templates/page.js from the compact data of ``reports.page``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from matrix.views import FamilyEntry
from reports.page import embed, page_data
from reports.results import verified_attempts
from reports.signatures import describe_seen
from runner.protocol import VERDICT_NAMES, VERDICTS

TEMPLATES = Path(__file__).with_name("templates")
LETTERS = {v.name: v.mark for v in VERDICTS}
MEANINGS = {v.name: v.meaning for v in VERDICTS}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["inline_code"] = inline_code
    return env


def inline_code(text: str) -> markupsafe.Markup:
    """Catalog prose: escaped first, then `backticks` (or ``double``) become <code>; nothing else is markup."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`{1,2}([^`]+)`{1,2}", r"<code>\1</code>", escaped))


def render_site(results: dict[str, Any], frame: pd.DataFrame, site: Path,
                history: dict[str, Any] | None = None) -> Path:
    html = environment().get_template("index.html.j2").render(
        results=results, stacks=results["stacks"], ready=[s for s in results["stacks"] if s["status"] == "ok"],
        counts=verdict_counts(frame), signatures=results["signatures"],
        seen=lambda group: describe_seen(group["seen"], frame["case"].nunique()),
        letters=LETTERS, meanings=MEANINGS, show_cells=True,
        loaded_here=by_stack(frame, "consumer"), saved_here=by_stack(frame, "producer"),
        duration=duration(results.get("seconds")), backends=backends(results["stacks"]),
        style=page_style(results["families"]), script=own_file("page.js"),
        data=embed(page_data(results, frame)),
        history=history, trend=trend_svg(history["nights"]) if history else None,
        checked=verified_attempts(results["cells"]),
    )
    target = site / "index.html"
    target.write_text(html)
    return target


def page_style(families: list[FamilyEntry]) -> markupsafe.Markup:
    """page.css, and each verdict's and family's colours from their tables (runner.protocol,
    matrix.stacks): trusted, unlike anything from a record."""
    rules = [f".v-{v.name} {{ background: {v.colour}; color: {v.ink}; }}" for v in VERDICTS]
    rules += [f".fam-{f['name']} {{ border-left: 4px solid {f['colour']} !important; }}" for f in families]
    return own_file("page.css") + markupsafe.Markup("\n".join(rules) + "\n")


def own_file(name: str) -> markupsafe.Markup:
    """This package's own CSS or script, inlined as is: trusted, unlike anything from a record."""
    return markupsafe.Markup((TEMPLATES / name).read_text())


def by_stack(frame: pd.DataFrame, role: str) -> dict[str, list[tuple[str, int]]]:
    """Each stack's verdict counts as producer or consumer (a pivot of the cells), worst last."""
    if frame.empty:
        return {}
    table = pd.crosstab(frame[role], frame["verdict"])
    return {str(stack): [(v, int(row[v])) for v in VERDICT_NAMES if row.get(v)] for stack, row in table.iterrows()}


def verdict_counts(frame: pd.DataFrame) -> list[tuple[str, int]]:
    counts = frame["verdict"].value_counts()
    return [(v, int(counts.get(v, 0))) for v in VERDICT_NAMES]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def backends(stacks: list[dict[str, Any]]) -> str:
    return ", ".join(sorted({str(s.get("backend") or "venv") for s in stacks})) or "none"


TREND_LINES = tuple((v.name, v.colour) for v in VERDICTS if v.name in ("ok", "remedy", "error", "mismatch"))


def trend_svg(nights: list[dict[str, Any]], width: int = 640, height: int = 160) -> markupsafe.Markup:
    """Verdict totals night by night, one line each; numbers only, so nothing to escape."""
    if len(nights) < 2:
        return markupsafe.Markup("")
    top = max(max(n["totals"].get(v, 0) for v, _ in TREND_LINES) for n in nights) or 1
    step = (width - 20) / (len(nights) - 1)
    lines = []
    for verdict, colour in TREND_LINES:
        points = " ".join(f"{10 + i * step:.1f},{height - 10 - (height - 20) * n['totals'].get(verdict, 0) / top:.1f}"
                          for i, n in enumerate(nights))
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                     f"<title>{verdict}</title></polyline>")
    return markupsafe.Markup(f'<svg class="trend" width="{width}" height="{height}" role="img" '
                             f'aria-label="verdict totals per night">{"".join(lines)}</svg>')
