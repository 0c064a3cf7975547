"""The report in a real browser: Debian's Chromium driven by Playwright for Python.

``python -m reports.browser SITE/index.html OUT.png [CSS_SELECTOR]`` takes the screenshots the
README shows (``nox -s screenshots``).
Playwright's own browser download does not work on these machines, so Chromium is the system's
(``apt-get install chromium``), found on PATH or named by ``MATRIX_CHROMIUM``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Headless, and no background traffic: this network refuses it, and Chromium retries loudly.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
READY = "body[data-ready=yes]"


def find_chromium() -> str | None:
    named = os.environ.get("MATRIX_CHROMIUM")
    if named:
        return named
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium found: `apt-get install chromium`, or set MATRIX_CHROMIUM to its path")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(FLAGS))
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page_file: Path, target: Path, selector: str | None = None) -> None:
    """The page as a reader first sees it, or just the element ``selector`` names."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_file.resolve().as_uri())
        page.wait_for_selector(READY)
        shot = page.locator(selector).first if selector else page
        shot.screenshot(path=str(target))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m reports.browser SITE/index.html OUT.png [CSS_SELECTOR]", file=sys.stderr)
        return 2
    page_file, target = Path(argv[0]), Path(argv[1])
    if not page_file.is_file():
        print(f"reports.browser: error: {page_file} does not exist; run `nox -s matrix` first", file=sys.stderr)
        return 2
    screenshot(page_file, target, argv[2] if len(argv) == 3 else None)
    print(f"reports.browser: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
