"""The report page as the browser tests see it, shared by the golden and the end-to-end tests."""

from pathlib import Path
from typing import Any

from reports.browser import READY
from runner.protocol import VERDICTS

# The page's rule: the worst verdict over the selected cases; a case the producer could not save
# counts only when no selected case was loaded.
SEVERITY = [v.name for v in sorted(VERDICTS, key=lambda v: v.severity)]


class Page:
    """A loaded report page and every problem it reported: console errors, script errors, dialogs."""

    def __init__(self, browser: Any, site: Path) -> None:
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", self.dialog)
        self.page.goto((site / "index.html").resolve().as_uri())
        self.page.wait_for_selector(READY)

    def dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def squares(self) -> dict[tuple[str, str, str], str]:
        """(format, producer, consumer) -> the verdict each heatmap square shows."""
        rows = self.page.eval_on_selector_all("table.heatmap td.v", """tds => tds.map(td => [
            td.closest('table').dataset.format, td.dataset.p, td.dataset.c, td.dataset.verdict])""")
        options = self.page.eval_on_selector_all("#advisor-from option", "os => os.map(o => [o.value, o.textContent])")
        ids = {int(value): label.split(" ")[0] for value, label in options}  # grouped by family, valued by index
        return {(f, ids[int(p)], ids[int(c)]): v for f, p, c, v in rows}


def expected_squares(results: dict[str, Any], cases: set[str], families: set[str] | None = None,
                     stacks: set[str] | None = None) -> dict[tuple[str, str, str], str]:
    shown = {s["id"] for s in results["stacks"] if s["status"] == "ok"
             and (families is None or set(s["tags"]) & families) and (stacks is None or s["id"] in stacks)}
    verdicts: dict[tuple[str, str, str], set[str]] = {}
    for cell in results["cells"]:
        if cell["case"] in cases and cell["producer"] in shown and cell["consumer"] in shown:
            key = (cell["format"], cell["producer"], cell["consumer"])
            verdicts.setdefault(key, set()).add(cell["verdict"])
    return {key: next(v for v in SEVERITY if v in seen) for key, seen in verdicts.items()}
