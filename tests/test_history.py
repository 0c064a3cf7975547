"""Night over night: cells that got worse or better, trend.json, the Atom feed, the page's section."""

import copy
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from reports.__main__ import main as report_main
from reports.history import changes, update_history

GOLDEN = Path(__file__).with_name("data") / "run-golden.json"


def moved_copy(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """``results`` one night later: one ok cell now errors, one error cell now loads."""
    later = copy.deepcopy(results)
    later["generated_at"] = "2026-11-26T03:00:00+00:00"
    worse = next(c for c in later["cells"] if c["verdict"] == "ok")
    better = next(c for c in later["cells"] if c["verdict"] == "error")
    worse["verdict"], better["verdict"], better["remedy"] = "error", "remedy", "compile=False"
    key = " / ".join((worse["producer"], worse["consumer"], worse["case"], worse["format"]))
    key_better = " / ".join((better["producer"], better["consumer"], better["case"], better["format"]))
    return later, {"cell": key, "before": "ok", "after": "error"}, {"cell": key_better, "before": "error"}


def test_changes_are_split_into_worse_and_better(golden_results: dict[str, Any]) -> None:
    later, worse, better = moved_copy(golden_results)
    moved = changes(golden_results, later)
    assert [{k: c[k] for k in ("cell", "before", "after")} for c in moved["worse"]] == [worse]
    assert [(c["cell"], c["before"], c["after"]) for c in moved["better"]] == [(better["cell"], "error", "remedy")]
    assert changes(None, later) == {"worse": [], "better": []}
    assert changes(golden_results, golden_results) == {"worse": [], "better": []}


def test_trend_grows_a_night_at_a_time_and_the_feed_lists_the_changes(golden_results: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "results.json").write_text(json.dumps(golden_results))
    update_history(first, golden_results, first)  # the first night compares with itself
    later, worse, _ = moved_copy(golden_results)
    history = update_history(first, later, second)
    trend = json.loads((second / "trend.json").read_text())
    assert [n["generated_at"] for n in trend] == [golden_results["generated_at"], later["generated_at"]]
    assert trend[-1]["worse_count"] == 1 and trend[-1]["better_count"] == 1
    counts = {v: sum(1 for c in later["cells"] if c["verdict"] == v) for v in {c["verdict"] for c in later["cells"]}}
    assert trend[-1]["totals"] == counts
    feed = ElementTree.fromstring((second / "changes.xml").read_text())
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 2 and f"worse: {worse['cell']}: ok -> error" in entries[0].findtext(
        "{http://www.w3.org/2005/Atom}content", "")
    assert history["compared"]


def test_the_report_shows_the_changes_and_the_trend(golden_results: dict[str, Any], tmp_path: Path) -> None:
    previous, site = tmp_path / "previous", tmp_path / "site"
    previous.mkdir()
    (previous / "results.json").write_text(json.dumps(golden_results))
    run = json.loads(GOLDEN.read_text())
    run["generated_at"] = "2026-11-26T03:00:00+00:00"
    (previous / "trend.json").write_text(json.dumps([{"generated_at": "2026-11-24T03:00:00+00:00",
                                                       "totals": {"ok": 1}, "stacks": {}, "worse": [],
                                                       "better": [], "worse_count": 0, "better_count": 0}]))
    (tmp_path / "run.json").write_text(json.dumps(run))
    summary = tmp_path / "summary.md"
    assert report_main([str(tmp_path / "run.json"), str(site), "--previous", str(previous),
                        "--summary", str(summary)]) == 0
    page = (site / "index.html").read_text()
    assert "Since the last report" in page and "<polyline" in page and 'href="changes.xml"' in page
    assert summary.read_text().startswith("**0 cells got worse, 0 got better**")
