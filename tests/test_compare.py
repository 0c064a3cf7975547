"""matrix compare: two runs' results.json cell by cell."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from matrix.cli import main


def cell(case: str, verdict: str = "ok", error: str | None = None, diff: float | None = 0.0) -> dict[str, Any]:
    attempt = {"mode": "documented", "outcome": "ok" if error is None else "error",
               "error": None if error is None else {"type": error, "message": "..."}, "resume": None}
    return {"producer": "tf2.15-py3.11", "consumer": "keras3.15-tf2.21-py3.11", "case": case, "format": "h5",
            "verdict": verdict, "remedy": None, "fidelity": "full" if error is None else None,
            "signature_id": None, "max_abs_diff": diff, "attempts": [attempt]}


def write(path: Path, cells: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"schema": 3, "cells": cells}))
    return path


def test_the_same_answers_compare_equal_and_output_drift_is_a_number(tmp_path: Path, capsys) -> None:
    before = [cell("custom_layer"), cell("lambda_layer", "error", "ValueError", None)]
    after = copy.deepcopy(before)
    after[0]["max_abs_diff"] = 2.5e-7
    assert main(["compare", str(write(tmp_path / "a.json", before)), str(write(tmp_path / "b.json", after))]) == 0
    out = capsys.readouterr().out
    assert "2 cells in both runs" in out and "every common cell answers the same" in out and "2.5e-07" in out


def test_another_exception_or_verdict_is_a_difference(tmp_path: Path, capsys) -> None:
    before = [cell("custom_layer"), cell("lambda_layer", "error", "ValueError", None)]
    after = [cell("custom_layer", "mismatch"), cell("lambda_layer", "error", "TypeError", None)]
    assert main(["compare", str(write(tmp_path / "a.json", before)), str(write(tmp_path / "b.json", after))]) == 1
    out = capsys.readouterr().out
    assert "verdict 1" in out and "attempts 1" in out
    assert "verdict 'ok' -> 'mismatch'" in out and "'ValueError'" in out and "'TypeError'" in out


def test_a_file_that_is_not_a_results_json_is_one_clear_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "run.json").write_text("{}")
    good = write(tmp_path / "b.json", [cell("custom_layer")])
    assert main(["compare", str(tmp_path / "run.json"), str(good)]) == 2
    assert "is not a results.json the report wrote" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["before", "after"])
def test_cells_in_one_run_only_are_a_difference(tmp_path: Path, missing: str, capsys) -> None:
    both, one = [cell("custom_layer"), cell("lambda_layer")], [cell("custom_layer")]
    before, after = (one, both) if missing == "before" else (both, one)
    assert main(["compare", str(write(tmp_path / "a.json", before)), str(write(tmp_path / "b.json", after))]) == 1
    assert "1 cell in both runs" in capsys.readouterr().out
