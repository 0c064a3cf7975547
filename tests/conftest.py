import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.browser import find_chromium  # noqa: E402


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright; skipped (or failed, with MATRIX_REQUIRE_BROWSER=1) if missing."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed (`pip install playwright`)"
    if reason is None and find_chromium() is None:
        reason = "no Chromium found (`apt-get install chromium`, or MATRIX_CHROMIUM=/path/to/chromium)"
    if reason:
        if os.environ.get("MATRIX_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MATRIX_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from reports.browser import chromium

    with chromium() as launched:
        yield launched


GOLDEN = Path(__file__).with_name("data") / "run-golden.json"


@pytest.fixture(scope="session")
def golden_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the golden run file (tests/data/run-golden.json)."""
    from reports.__main__ import main as report_main

    site = tmp_path_factory.mktemp("golden-site")
    assert report_main([str(GOLDEN), str(site)]) == 0
    return site


@pytest.fixture(scope="session")
def golden_results(golden_site: Path) -> dict[str, Any]:
    return dict(json.loads((golden_site / "results.json").read_text()))
