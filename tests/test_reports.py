"""The report on a golden run file: real cells of a full run (3 stacks that ran, an unavailable and
an install-failed one, 3 cases, 3 formats), with a few edited so every verdict appears and an error
message and a log tail written to break out of the HTML."""

import html
import json
import re
from pathlib import Path
from typing import Any

import markupsafe
import pandas as pd
import pytest

from reports.__main__ import main as report_main
from reports.page import embed
from reports.render import by_stack, inline_code
from runner.protocol import VERDICT_NAMES as VERDICTS
from runner.protocol import verdict_of

GOLDEN = Path(__file__).with_name("data") / "run-golden.json"
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>')


def embedded(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="matrix-data">(.*?)</script>', page, re.S)
    assert found, "the page embeds its data"
    return json.loads(found.group(1))


def test_results_json_follows_the_public_schema(golden_results: dict[str, Any]) -> None:
    assert golden_results["schema"] == 3 and golden_results["generated_at"]
    assert set(golden_results["stacks"][0]) >= {"id", "python", "tensorflow", "keras", "keras_flavor", "numpy", "h5py",
                                         "backend", "status", "reason", "tags"}
    remedy = next(c for c in golden_results["cells"] if c["verdict"] == "remedy" and c["remedy"] == "compile=False")
    assert set(remedy) >= {"producer", "consumer", "case", "format", "verdict", "remedy", "max_abs_diff",
                           "signature", "signature_id", "error", "custom_objects_needed", "attempts", "fidelity"}
    assert remedy["attempts"][0]["outcome"] == "error" and remedy["signature_id"]  # known by the documented error
    assert set(remedy["attempts"][0]) == {"mode", "call", "outcome", "loaded", "unsafe", "probe", "max_abs_diff",
                                          "error", "seconds", "fidelity", "resume"}
    assert [a["loaded"] for a in remedy["attempts"]][:2] == [False, True]
    # no stack of the golden run loads a file it then fails to predict with (see the test below);
    # not-predicted is a check's, for a file it could build no input for (tests/test_check.py);
    # no case of the golden run requires what its stacks lack (unavailable: tests/test_plan.py)
    # not-measured: a case on fewer stacks (tests/test_plan.py); resume-mismatch: a trained
    # case's, which the golden run has none of (tests/test_e2e.py)
    assert {c["verdict"] for c in golden_results["cells"]} == set(VERDICTS) - {
        "predict-error", "not-predicted", "unavailable", "not-measured", "resume-mismatch"}


def test_a_dead_worker_keeps_its_log_tail(golden_results: dict[str, Any]) -> None:
    crashed = next(c for c in golden_results["cells"] if c["verdict"] == "crashed")
    assert crashed["error"]["message"] == "worker killed by signal SIGSEGV"
    assert "Segmentation fault" in crashed["error"]["tail"] and crashed["signature_id"] == "worker-crashed"


def test_signatures_are_grouped_with_the_catalogs_words(golden_site: Path, golden_results: dict[str, Any]) -> None:
    groups = {g["id"]: g for g in golden_results["signatures"]}
    assert sum(g["cells"] for g in groups.values()) == sum(1 for c in golden_results["cells"] if c["signature"])
    batch = groups["keras3-batch-shape"]
    assert batch["title"] and batch["seen"]["consumer_flavors"] == ["keras2", "tf_keras"]
    assert None in groups  # errors no catalog entry knows still appear
    page = (golden_site / "index.html").read_text()
    assert str(markupsafe.escape(batch["title"])) in page and "What worked here" in page


def test_csv_has_one_row_per_cell(golden_site: Path, golden_results: dict[str, Any]) -> None:
    frame = pd.read_csv(golden_site / "results.csv")
    assert len(frame) == len(golden_results["cells"]) == 81
    assert frame["verdict"].value_counts().to_dict() == pd.Series(
        [c["verdict"] for c in golden_results["cells"]]).value_counts().to_dict()


def test_header_names_the_run_and_every_stack_with_its_status(golden_site: Path,
                                                             golden_results: dict[str, Any]) -> None:
    page = (golden_site / "index.html").read_text()
    assert "took 44 min 1 s" in page and "Python 3.11.7" in page and "backend venv" in page
    for stack in golden_results["stacks"]:
        assert f"<code>{stack['id']}</code>" in page
    assert "unavailable" in page and html.escape("found none <anywhere>", quote=True) in page
    assert "install-failed" in page and 'href="results.json"' in page and 'href="results.csv"' in page


def test_the_page_is_self_contained(golden_site: Path) -> None:
    page = (golden_site / "index.html").read_text()
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    assert "<style>" in page and "@import" not in page


def test_every_cell_is_where_the_page_script_reads_it(golden_results: dict[str, Any], golden_site: Path) -> None:
    data = embedded((golden_site / "index.html").read_text())
    stacks, cases, formats = ([x["id"] for x in data["stacks"]], [x["id"] for x in data["cases"]], data["formats"])
    strings = data["strings"]
    for cell in golden_results["cells"]:
        i = ((formats.index(cell["format"]) * len(cases) + cases.index(cell["case"])) * len(stacks)
             + stacks.index(cell["producer"])) * len(stacks) + stacks.index(cell["consumer"])
        assert data["verdicts"][int(data["verdict"][i], 36)] == cell["verdict"]
        assert (strings[data["remedy"][i]] if data["remedy"][i] >= 0 else None) == cell["remedy"]
        group = data["signatures"][data["signature"][i]] if data["signature"][i] >= 0 else None
        assert (group["id"] or group["signature"] if group else None) == (cell["signature_id"] or cell["signature"])
        modes = [strings[data["shapes"][shape][0]] for shape in data["attempts"][i][::2]]
        assert modes == [a["mode"] for a in cell["attempts"]]
        seconds = data["attempts"][i][1::2]
        assert seconds == [round((a["seconds"] or 0) * 1000) for a in cell["attempts"]]


def test_error_text_is_escaped_not_executed(golden_site: Path) -> None:
    page = (golden_site / "index.html").read_text()
    for attack in XSS:
        assert attack not in page
    assert html.escape(XSS[0], quote=False) in page  # the signature's raw message, as text
    assert "<img" not in page and page.count("<script") == 2  # the data and the page's own script
    assert XSS[0] in json.dumps(embedded(page))  # intact in the data the script shows as text


def test_embedded_json_cannot_close_its_script_element() -> None:
    text = str(embed({"m": "</script><script>alert(1)</script> & <!--"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"m": "</script><script>alert(1)</script> & <!--"}


def test_missing_run_file_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main([str(tmp_path / "nope.json"), str(tmp_path)]) == 2
    assert "run `nox -s matrix` first" in capsys.readouterr().err


def test_catalog_prose_marks_code_but_escapes_everything_else() -> None:
    assert str(inline_code("use `load_model(p)` not <b>")) == "use <code>load_model(p)</code> not &lt;b&gt;"
    assert str(inline_code("`<script>`")) == "<code>&lt;script&gt;</code>"
    assert str(inline_code("with ``custom_objects``.")) == "with <code>custom_objects</code>."


def test_each_stack_counts_what_it_saved_and_what_it_loaded(golden_results: dict[str, Any]) -> None:
    frame = pd.DataFrame(golden_results["cells"])
    for role in ("producer", "consumer"):
        counted = by_stack(frame, role)
        for stack in {c[role] for c in golden_results["cells"]}:
            cells = [c["verdict"] for c in golden_results["cells"] if c[role] == stack]
            assert dict(counted[stack]) == {v: cells.count(v) for v in set(cells)}
            assert [v for v, _ in counted[stack]] == [v for v in VERDICTS if v in cells]  # in verdict order


def test_the_self_check_section_lists_every_verified_cell_disagreements_first(tmp_path: Path) -> None:
    run = json.loads(GOLDEN.read_text())
    errors = [c for c in run["cells"] if c["attempts"] and c["attempts"][0]["outcome"] == "error"][:2]
    outline = {"outcome": "error", "stage": "load", "error": {"type": "ValueError", "message": "no"}}
    errors[0]["verified"] = [{"attempt": 0, "mode": "documented", "agrees": True, "recorded": outline,
                              "fresh": outline}]
    errors[1]["verified"] = [{"attempt": 0, "mode": "documented", "agrees": False, "recorded": outline,
                              "fresh": {"outcome": "ok", "stage": "done", "error": None}}]
    run["verification"] = {"attempts": 2, "agreed": 1, "disagreed": 1, "unverified": 0}
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert report_main([str(tmp_path / "run.json"), str(tmp_path / "site")]) == 0
    results = json.loads((tmp_path / "site" / "results.json").read_text())
    assert results["verification"] == run["verification"]
    assert sum(len(c["verified"]) for c in results["cells"]) == 2
    section = (tmp_path / "site" / "index.html").read_text().split('id="self-check"')[1].split("</section>")[0]
    assert "<strong>1</strong> gave the recorded answer" in section and "1 did not</strong>" in section
    rows = re.findall(r"<tr><td><code>(.*?)</code>", section)
    assert rows[0].startswith(f"{errors[1]['producer']} / {errors[1]['consumer']}") and len(rows) == 2


def test_a_run_without_a_self_check_has_no_such_section(golden_site: Path, golden_results: dict[str, Any]) -> None:
    assert golden_results["verification"] == {"attempts": 0, "agreed": 0, "disagreed": 0, "unverified": 0}
    assert 'id="self-check"' not in (golden_site / "index.html").read_text()


def test_a_file_that_loads_but_cannot_predict_is_not_shown_as_failing_to_load(tmp_path: Path) -> None:
    """The attempts of the full run's keras3.7 load of TF 2.2's registered_layer .h5 (put on a
    golden cell): compile=False loads it, and Keras 3 rejects the input shape it rebuilt."""
    run = json.loads(GOLDEN.read_text())
    cell = next(c for c in run["cells"] if c["verdict"] == "error" and c["consumer"].startswith("keras3"))
    rejected = {"type": "ValueError", "message": "Exception encountered when calling Sequential.call(). Invalid "
                "input shape ... Expected shape (None, None, 10), but input has incompatible shape (4, 10)"}
    cell["attempts"] = [dict(cell["attempts"][0], stage="load"),
                        dict(cell["attempts"][1], stage="predict", error=rejected)]
    cell["verdict"] = verdict_of(cell["attempts"])[0]
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert report_main([str(tmp_path / "run.json"), str(tmp_path / "site")]) == 0
    results = json.loads((tmp_path / "site" / "results.json").read_text())
    shown = next(c for c in results["cells"] if (c["producer"], c["consumer"], c["case"], c["format"])
                 == (cell["producer"], cell["consumer"], cell["case"], cell["format"]))
    assert shown["verdict"] == "predict-error"
    assert [(a["loaded"], a["outcome"]) for a in shown["attempts"]] == [(False, "error"), (True, "error")]
    data = embedded((tmp_path / "site" / "index.html").read_text())
    assert "predict-error" in {data["verdicts"][int(digit, 36)] for digit in data["verdict"]}
    assert data["meanings"]["predict-error"].startswith("loads, but")
