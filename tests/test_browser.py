"""The report in headless Chromium (Debian's, driven by Playwright): it loads cleanly, a heatmap
square opens its detail, the advisor answers, the filters change the grid, and nothing an error
message carries runs. Expected answers are computed here from results.json, not written down.

Skipped where no Chromium is installed, unless MATRIX_REQUIRE_BROWSER=1 (as in CI) makes that a
failure."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pages import Page, expected_squares

pytestmark = pytest.mark.browser
GOLDEN = Path(__file__).with_name("data") / "run-golden.json"


@pytest.fixture
def report(browser: Any, golden_site: Path) -> Iterator[Page]:
    page = Page(browser, golden_site)
    yield page
    page.page.close()


def test_page_loads_without_errors_and_draws_every_square(report: Page, golden_results: dict[str, Any]) -> None:
    seed = {c["id"] for c in golden_results["cases"] if "seed" in c["tags"]}
    assert report.squares() == expected_squares(golden_results, seed)  # the seed's cases by default
    assert report.problems == []


def test_a_square_shows_every_case_and_attempt_with_both_stacks(report: Page, golden_results: dict[str, Any]) -> None:
    crashed = next(c for c in golden_results["cells"] if c["verdict"] == "crashed")
    ids = [s["id"] for s in golden_results["stacks"] if s["status"] == "ok"]
    formats = report.page.eval_on_selector_all("table.heatmap", "ts => ts.map(t => t.dataset.format)")
    square = (f'td[data-f="{formats.index(crashed["format"])}"][data-p="{ids.index(crashed["producer"])}"]'
              f'[data-c="{ids.index(crashed["consumer"])}"]')
    report.page.click(f"table.heatmap {square}")
    detail = report.page.locator("#detail")
    assert detail.is_visible()
    text = detail.inner_text()
    producer = next(s for s in golden_results["stacks"] if s["id"] == crashed["producer"])
    assert crashed["producer"] in text and crashed["consumer"] in text and producer["tensorflow"] in text
    same_square = [c for c in golden_results["cells"] if (c["producer"], c["consumer"], c["format"])
                   == (crashed["producer"], crashed["consumer"], crashed["format"])]
    shown = report.page.eval_on_selector_all("#detail .case-detail", "ds => ds.map(d => d.dataset.case)")
    assert shown == [c["id"] for c in golden_results["cases"]] and len(same_square) == len(shown)
    for cell in same_square:
        for attempt in cell["attempts"]:
            assert attempt["mode"] in text
    assert "The process died on this cell" in text  # the signature's catalog title
    assert "Segmentation fault" in text and "<script>alert(1)</script>" in text  # the log tail, as text
    assert detail.locator("img, script").count() == 0
    assert report.problems == []


def test_an_injected_error_message_renders_as_text(report: Page, golden_results: dict[str, Any]) -> None:
    cell = next(c for c in golden_results["cells"] if c["error"] and "onerror" in c["error"]["message"])
    ids = [s["id"] for s in golden_results["stacks"] if s["status"] == "ok"]
    formats = report.page.eval_on_selector_all("table.heatmap", "ts => ts.map(t => t.dataset.format)")
    report.page.click(f'table.heatmap td[data-f="{formats.index(cell["format"])}"]'
                      f'[data-p="{ids.index(cell["producer"])}"][data-c="{ids.index(cell["consumer"])}"]')
    assert cell["error"]["message"] in report.page.locator("#detail").inner_text()
    assert report.page.locator("img").count() == 0 and report.problems == []


def test_the_advisor_answers_for_a_chosen_pair(report: Page, golden_results: dict[str, Any]) -> None:
    ids = [s["id"] for s in golden_results["stacks"] if s["status"] == "ok"]
    producer, consumer = ids[0], ids[-1]
    report.page.select_option("#advisor-from", str(ids.index(producer)))
    report.page.select_option("#advisor-to", str(ids.index(consumer)))
    shown = report.page.eval_on_selector_all("#advisor-table tr[data-case]", """rows => rows.map(r =>
        [r.dataset.case, Array.from(r.querySelectorAll('td[data-verdict]')).map(td => td.dataset.verdict)])""")
    formats = [f for f in ("h5", "keras", "savedmodel") if any(c["format"] == f for c in golden_results["cells"])]
    cells = {(c["case"], c["format"]): c for c in golden_results["cells"]
             if (c["producer"], c["consumer"]) == (producer, consumer)}
    assert dict(shown) == {case["id"]: [cells[(case["id"], f)]["verdict"] for f in formats]
                           for case in golden_results["cases"]}
    works = {f: sum(cells[(case["id"], f)]["verdict"] in ("ok", "remedy") for case in golden_results["cases"])
             for f in formats}
    headline = report.page.locator("#advisor-headline").inner_text()
    assert f"{max(works.values())} of {len(golden_results['cases'])} cases load in {consumer}" in headline
    remedy = next(c for c in cells.values() if c["verdict"] == "remedy")
    assert f"works with {remedy['remedy']}" in report.page.locator("#advisor-table").inner_text()
    assert report.problems == []


def test_filters_change_the_grid(report: Page, golden_results: dict[str, Any], tmp_path: Path) -> None:
    cases = [c["id"] for c in golden_results["cases"]]
    report.page.get_by_role("button", name="all", exact=True).click()
    before = report.squares()
    assert before == expected_squares(golden_results, set(cases))
    report.page.get_by_label(cases[-1], exact=True).uncheck()
    after = report.squares()
    assert after == expected_squares(golden_results, set(cases[:-1])) and after != before
    report.page.get_by_label("keras3", exact=True).uncheck()
    assert report.squares() == expected_squares(golden_results, set(cases[:-1]), {"keras2", "tf_keras"})
    report.page.get_by_role("button", name="seed", exact=True).click()
    seed = {c["id"] for c in golden_results["cases"] if "seed" in c["tags"]}
    assert report.squares() == expected_squares(golden_results, seed, {"keras2", "tf_keras"})
    report.page.get_by_label(".keras", exact=True).uncheck()
    assert {f for f, _, _ in report.squares()} == {"h5", "savedmodel"}
    assert report.problems == []


def test_a_signature_outlines_its_cells_and_a_screenshot_is_taken(report: Page, tmp_path: Path) -> None:
    report.page.locator("button[data-signature]").first.click()
    assert report.page.locator("td.v.hl").count() > 0 and report.page.locator("#banner").is_visible()
    shot = tmp_path / "report.png"
    report.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and report.problems == []
