"""The report on a golden run file that holds every verdict, an unavailable stack and a
message written to break out of the HTML."""

import html
import json
from pathlib import Path

import markupsafe
import pandas as pd
import pytest

from reports.__main__ import main as report_main
from reports.render import inline_code
from reports.results import VERDICTS

GOLDEN = Path(__file__).with_name("data") / "run-golden.json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    assert report_main([str(GOLDEN), str(site)]) == 0
    return site


def test_results_json_follows_the_public_schema(site: Path) -> None:
    results = json.loads((site / "results.json").read_text())
    assert results["schema"] == 2 and results["generated_at"]
    assert set(results["stacks"][0]) >= {"id", "python", "tensorflow", "keras", "keras_flavor", "backend", "status"}
    cell = results["cells"][1]
    assert set(cell) >= {"producer", "consumer", "case", "format", "verdict", "remedy", "max_abs_diff",
                         "signature", "error", "attempts"}
    assert cell["verdict"] == "remedy" and cell["remedy"] == "compile=False"
    assert [a["mode"] for a in cell["attempts"]] == ["documented", "compile=False"]
    assert set(cell["attempts"][0]) == {"mode", "call", "outcome", "unsafe", "probe", "max_abs_diff", "error",
                                        "seconds"}
    assert cell["signature_id"] == "not-keras-saveable"  # a remedy cell is known by the documented way's error
    assert results["cells"][0]["custom_objects_needed"] is True
    assert {c["verdict"] for c in results["cells"]} == set(VERDICTS) - {"missing"}


def test_signatures_are_grouped_with_the_catalogs_words(site: Path) -> None:
    groups = {g["id"]: g for g in json.loads((site / "results.json").read_text())["signatures"]}
    saveable = groups["not-keras-saveable"]
    assert saveable["cells"] == 1 and saveable["remedies_that_worked"] == {"compile=False": 1}
    assert saveable["title"] and saveable["seen"]["flavor_pairs"] == ["keras2 -> keras3"]
    assert None in groups  # errors no catalog entry knows still appear
    page = (site / "index.html").read_text()
    assert str(markupsafe.escape(saveable["title"])) in page and "What worked here" in page


def test_csv_has_one_row_per_cell(site: Path) -> None:
    frame = pd.read_csv(site / "results.csv")
    assert len(frame) == 8 and frame["verdict"].value_counts().to_dict()["ok"] == 1


def test_every_verdict_and_the_unavailable_stack_render(site: Path) -> None:
    page = (site / "index.html").read_text()
    for verdict in set(VERDICTS) - {"missing"}:
        assert f'class="v v-{verdict}"' in page
    assert "unavailable" in page and "needs Python 3.8, found none &lt;anywhere&gt;" in page


def test_error_text_is_escaped_not_executed(site: Path) -> None:
    page = (site / "index.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_missing_run_file_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main([str(tmp_path / "nope.json"), str(tmp_path)]) == 2
    assert "run `nox -s matrix` first" in capsys.readouterr().err


def test_catalog_prose_marks_code_but_escapes_everything_else() -> None:
    assert str(inline_code("use `load_model(p)` not <b>")) == "use <code>load_model(p)</code> not &lt;b&gt;"
    assert str(inline_code("`<script>`")) == "<code>&lt;script&gt;</code>"
