"""The verdict rule and the prediction comparison, on hand-made attempts."""

import math

import numpy as np
import pytest

from runner.ladder import ATOL, compare, serving_outputs
from runner.protocol import custom_objects_needed, describe_error, verdict_of

MODES = ["documented", "compile=False", "TFSMLayer"]


def attempt(mode: str, outcome: str, diff: float | None = None, probe: bool = False) -> dict:
    return {"mode": mode, "outcome": outcome, "max_abs_diff": diff, "probe": probe}


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["ok"], ("ok", None)),
        (["mismatch"], ("mismatch", None)),
        (["error", "ok"], ("remedy", "compile=False")),
        (["error", "mismatch"], ("mismatch", None)),
        (["mismatch", "ok"], ("mismatch", "compile=False")),  # a silent wrong answer outranks the fix
        (["error", "mismatch", "ok"], ("mismatch", "TFSMLayer")),
        (["error", "error", "ok"], ("remedy", "TFSMLayer")),
        (["error", "error"], ("error", None)),
        ([], ("error", None)),
    ],
)
def test_first_rung_that_predicts_right_is_the_remedy(outcomes: list, expected: tuple) -> None:
    attempts = [attempt(m, o) for m, o in zip(MODES[: len(outcomes)], outcomes, strict=True)]
    assert verdict_of(attempts)[:2] == expected


def test_diff_is_the_first_loaded_rungs() -> None:
    attempts = [attempt("documented", "error"), attempt("compile=False", "mismatch", 0.5),
                attempt("TFSMLayer", "ok", 0.0)]
    assert verdict_of(attempts) == ("mismatch", "TFSMLayer", 0.5)


def test_probes_never_decide() -> None:
    attempts = [attempt("documented", "error"), attempt("compile=False", "ok", 0.0),
                attempt("probe: no custom_objects", "mismatch", 3.0, probe=True)]
    assert verdict_of(attempts) == ("remedy", "compile=False", 0.0)
    assert custom_objects_needed(attempts) is True
    attempts[-1]["outcome"] = "ok"
    assert custom_objects_needed(attempts) is False
    assert custom_objects_needed(attempts[:2]) is None


def test_compare_within_tolerance() -> None:
    assert compare([[1.0, 2.0]], [[1.0, 2.0 + ATOL / 2]]) == (pytest.approx(ATOL / 2), "ok")


def test_compare_beyond_tolerance() -> None:
    diff, outcome = compare([[1.0]], [[1.1]])
    assert outcome == "mismatch" and math.isclose(diff, 0.1, rel_tol=1e-9)


def test_compare_shape_and_nan_are_mismatches() -> None:
    assert compare([[1.0, 2.0]], [[1.0]]) == (None, "mismatch")
    assert compare([[float("nan")]], [[1.0]]) == (None, "mismatch")


def test_describe_error_keeps_type_message_and_traceback() -> None:
    try:
        raise ValueError("File format not supported: filepath=x")
    except ValueError as exc:
        described = describe_error(exc)
    assert described["type"] == "ValueError"
    assert described["message"] == "File format not supported: filepath=x"
    assert "raise ValueError" in described["traceback"]


def test_a_serving_call_gives_its_one_output_alone_and_several_by_name() -> None:
    assert serving_outputs({"output_0": np.ones((4, 1))}).shape == (4, 1)
    assert serving_outputs(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    several = serving_outputs({"score": np.ones(1), "tags": np.zeros(3)})
    assert sorted(several) == ["score", "tags"] and several["tags"].shape == (3,)


def test_with_no_input_the_first_load_is_the_answer_and_says_so() -> None:
    loaded = dict(attempt("compile=False", "loaded"), stage="done")
    assert verdict_of([dict(attempt("documented", "error"), stage="load"), loaded]) == (
        "not-predicted", "compile=False", None)
    assert verdict_of([dict(loaded, mode="documented")]) == ("not-predicted", None, None)


def test_a_rung_that_loads_but_cannot_predict_is_told_apart_from_one_that_cannot_load() -> None:
    failed_load = dict(attempt("documented", "error"), stage="load")
    failed_predict = dict(attempt("compile=False", "error"), stage="predict")
    assert verdict_of([failed_load, failed_predict]) == ("predict-error", None, None)
    assert verdict_of([failed_load, dict(failed_predict, stage="load")]) == ("error", None, None)
    assert verdict_of([failed_predict, attempt("TFSMLayer", "ok", 0.0)]) == ("remedy", "TFSMLayer", 0.0)
    assert verdict_of([failed_predict, attempt("TFSMLayer", "mismatch", 2.0)]) == ("mismatch", None, 2.0)
    probe = dict(attempt("probe: no custom_objects", "error", probe=True), stage="predict")
    assert verdict_of([failed_load, probe]) == ("error", None, None)  # probes never decide
