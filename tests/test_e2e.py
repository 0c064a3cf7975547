"""End to end on two real stacks, one each side of the Keras 2 -> 3 boundary.

Builds two uv environments with real TensorFlow, saves the seed models, cross-loads them,
and checks verdicts measured on these stacks, then that the cache computes only what changed.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pages import Page, expected_squares

from matrix.plan import digest_runner
from runner.protocol import FORMAT_NAMES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
KERAS2 = "tf2.15-py3.11"
KERAS3 = "keras3.15-tf2.21-py3.11"
SEED = ("custom_layer", "custom_loss", "module_layer")
CODE = digest_runner()
CASES = sorted(case for case in CODE.cases if case not in CODE.axes)  # the slow ones: tests/test_case_inputs.py
SEVERAL_INPUTS = ("multi_io", "preprocessing_layers")  # TFSMLayer binds none of them
FUNCTIONAL = ("multi_io", "preprocessing_layers", "transformer_block")  # the layers cases not Sequential


def run_matrix(workspace: Path, *stacks: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "matrix", "run", "--workspace", str(workspace),
               "--site", str(workspace / "site"), "--stacks", *stacks, "--cases", *CASES]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads((workspace / "run.json").read_text())
    results = json.loads((workspace / "site" / "results.json").read_text())
    return {"computed": run["computed"], "results": results, "site": workspace / "site"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One stack, then both (one stack added), then both again (nothing changed)."""
    workspace = tmp_path_factory.mktemp("workspace")
    return [run_matrix(workspace, KERAS2), run_matrix(workspace, KERAS2, KERAS3),
            run_matrix(workspace, KERAS2, KERAS3)]


def cells(runs: list[dict[str, Any]], producer: str, consumer: str, fmt: str) -> dict[str, dict[str, Any]]:
    return {c["case"]: c for c in runs[-1]["results"]["cells"]
            if (c["producer"], c["consumer"], c["format"]) == (producer, consumer, fmt)}


def saved(runs: list[dict[str, Any]], producer: str) -> int:
    """How many artifacts ``producer`` wrote (cells it could not save are not loaded)."""
    return len({(c["case"], c["format"]) for c in runs[-1]["results"]["cells"]
                if c["producer"] == producer and c["verdict"] not in ("blocked", "unsupported")})


def test_cache_computes_only_the_new_row_and_column(runs: list[dict[str, Any]]) -> None:
    artifacts = len({(c["case"], c["format"]) for c in runs[-1]["results"]["cells"]})
    assert artifacts == len(CASES) * len(FORMAT_NAMES)
    assert runs[0]["computed"] == {"saves": artifacts, "loads": saved(runs, KERAS2)}
    # the new row (its artifacts in both stacks) and the new column (it loads the old row)
    assert runs[1]["computed"] == {"saves": artifacts, "loads": 2 * saved(runs, KERAS3) + saved(runs, KERAS2)}
    assert runs[2]["computed"] == {"saves": 0, "loads": 0}
    assert len(runs[2]["results"]["cells"]) == 2 * 2 * artifacts


def test_stacks_report_what_they_really_imported(runs: list[dict[str, Any]]) -> None:
    stacks = {s["id"]: s for s in runs[-1]["results"]["stacks"]}
    assert stacks[KERAS2]["tensorflow"] == "2.15.1" and stacks[KERAS2]["keras_flavor"] == "keras2"
    assert stacks[KERAS3]["keras"] == "3.15.1" and stacks[KERAS3]["keras_flavor"] == "keras3"


def test_workers_leave_the_environments_compiled(runs: list[dict[str, Any]]) -> None:
    """Else every worker compiles TensorFlow's modules on import where PYTHONDONTWRITEBYTECODE is set."""
    envs = runs[0]["site"].parent / "envs"
    for stack in (KERAS2, KERAS3):
        package = next((envs / stack / "lib").glob("python3.*/site-packages/tensorflow"))
        assert list((package / "__pycache__").glob("__init__.*.pyc"))


def test_every_format_round_trips_in_keras_2_for_the_seed(runs: list[dict[str, Any]]) -> None:
    for fmt in ("h5", "keras", "savedmodel"):
        seed = {case: c for case, c in cells(runs, KERAS2, KERAS2, fmt).items() if case in SEED}
        assert {c["verdict"] for c in seed.values()} == {"ok"}
    assert cells(runs, KERAS2, KERAS2, "keras")["custom_loss"]["container"] == "zip"


def test_keras_2_reads_keras_3_files_as_weights_or_through_tf_saved_model_load(runs: list[dict[str, Any]]) -> None:
    """load_model fails on every Keras 3 .h5 and .keras; the weights in them load into the model
    built in TF 2.15, except where measured otherwise below (module_missing: the model's code is
    gone where it loads, as the case says)."""
    unreadable = {("keras", "mixed_float16"): "'LossScaleOptimizerV3' object has no attribute 'name'",
                  ("keras", "transformer_block"): "Layer 'value' expected 2 variables, but received 0",
                  ("h5", "module_missing"): "No module named 'my_layers'",
                  ("keras", "module_missing"): "No module named 'my_layers'"}
    for fmt in ("h5", "keras"):
        for cell in cells(runs, KERAS3, KERAS2, fmt).values():
            if cell["case"] == "subclassed_model":
                continue  # no InputLayer to trip on: it fails on its weights or optimizer instead
            documented, last = cell["attempts"][0], cell["attempts"][-1]
            if fmt == "keras" and cell["case"] in FUNCTIONAL:  # the model's class is found first, by its module
                assert "parent module keras.src.models.functional" in documented["error"]["message"]
            else:
                assert "Unrecognized keyword arguments: ['batch_shape'" in documented["error"]["message"]
            assert last["mode"] == "rebuild + load_weights"
            if (fmt, cell["case"]) in unreadable:
                assert cell["verdict"] == "error" and unreadable[fmt, cell["case"]] in last["error"]["message"]
            else:
                assert (cell["verdict"], cell["remedy"], cell["fidelity"]) == ("remedy", last["mode"], "rebuilt")
    for cell in cells(runs, KERAS3, KERAS2, "savedmodel").values():
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "tf.saved_model.load")
        documented = cell["attempts"][0]
        assert documented["error"]["message"] == "'_UserObject' object has no attribute 'predict'"


def test_keras_3_reads_keras_2_h5_and_its_savedmodel_through_tfsmlayer(runs: list[dict[str, Any]]) -> None:
    h5 = cells(runs, KERAS2, KERAS3, "h5")
    assert h5["custom_loss"]["verdict"] == "ok"
    assert h5["custom_layer"]["verdict"] == "remedy" and h5["custom_layer"]["remedy"] == "compile=False"
    assert h5["custom_layer"]["max_abs_diff"] <= 1e-5
    exports = cells(runs, KERAS2, KERAS3, "savedmodel")
    assert_only_tfsmlayer_loads({case: c for case, c in exports.items() if case not in SEVERAL_INPUTS})


def test_keras_3_loads_its_own_export_only_through_tfsmlayer(runs: list[dict[str, Any]]) -> None:
    native = cells(runs, KERAS3, KERAS3, "keras")
    assert {native[case]["verdict"] for case in SEED} == {"ok"}
    exports = cells(runs, KERAS3, KERAS3, "savedmodel")
    assert_only_tfsmlayer_loads({case: c for case, c in exports.items() if case not in SEVERAL_INPUTS})


def assert_only_tfsmlayer_loads(savedmodel_cells: dict[str, dict[str, Any]]) -> None:
    for cell in savedmodel_cells.values():
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "TFSMLayer")
        assert {a["outcome"] for a in cell["attempts"][:-1]} == {"error"}
        assert "File format not supported" in cell["attempts"][0]["error"]["message"]
        assert cell["max_abs_diff"] <= cell["tolerance"]


def test_mixed_precision_crosses_the_boundary_within_float16s_precision(runs: list[dict[str, Any]]) -> None:
    """Keras 3 reads no Keras 2 mixed_float16 policy; tf_keras does, and predicts what TF 2.15 did
    to float16's precision, not float32's: a mismatch at float32's 1e-5, truly the same model."""
    for fmt in ("h5", "keras"):
        cell = cells(runs, KERAS2, KERAS3, fmt)["mixed_float16"]
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "tf_keras")
        assert "'str' object has no attribute 'quantization_mode'" in cell["attempts"][0]["error"]["message"]
        assert cell["tolerance"] == 2.0 ** -8 and 1e-5 < cell["max_abs_diff"] < 2.0 ** -8
    assert cells(runs, KERAS2, KERAS2, "h5")["conv_batchnorm"]["tolerance"] == 1e-5


def test_keras_2_15_cannot_read_its_own_h5_with_a_registered_activation(runs: list[dict[str, Any]]) -> None:
    """keras-team/keras#20833: the function is written as class 'function' of module 'builtins';
    its weights load into the model built in code."""
    cell = cells(runs, KERAS2, KERAS2, "h5")["metric_and_activation"]
    assert (cell["verdict"], cell["remedy"]) == ("remedy", "rebuild + load_weights")
    assert "Unknown activation function: 'function'" in cell["attempts"][0]["error"]["message"]
    assert cells(runs, KERAS2, KERAS2, "keras")["metric_and_activation"]["verdict"] == "ok"


def test_keras_3s_tfsmlayer_binds_no_serving_signature_of_several_inputs(runs: list[dict[str, Any]]) -> None:
    for case in ("multi_io", "preprocessing_layers"):
        cell = cells(runs, KERAS3, KERAS3, "savedmodel")[case]
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "tf.saved_model.load")
        tfsm = next(a for a in cell["attempts"] if a["mode"] == "TFSMLayer")
        assert tfsm["loaded"] and "too many positional arguments" in tfsm["error"]["message"]


def test_the_seeds_module_error_is_a_module_passed_as_a_custom_object(runs: list[dict[str, Any]]) -> None:
    """`'module' object is not callable` needs no version change: the same stack reproduces it.
    Only load_model takes the custom_objects it comes from: the model built in code loads the weights."""
    for producer, consumer in ((KERAS2, KERAS2), (KERAS2, KERAS3), (KERAS3, KERAS3)):
        cell = cells(runs, producer, consumer, "h5")["module_not_class"]
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "rebuild + load_weights")
        assert cell["attempts"][0]["error"] == {"type": "TypeError", "message": "'module' object is not callable"}
    working = cells(runs, KERAS2, KERAS2, "h5")["module_layer"]  # the same layer, passed as a class
    assert working["verdict"] == "ok"


def test_lambda_loads_in_keras_3_only_when_safe_mode_is_off(runs: list[dict[str, Any]]) -> None:
    for producer in (KERAS2, KERAS3):
        cell = cells(runs, producer, KERAS3, "h5")["lambda_layer"]
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "safe_mode=False")
        assert cell["attempts"][-1]["unsafe"] is True
        assert "it is disallowed by default" in cell["attempts"][0]["error"]["message"]


def test_a_lambda_to_json_loads_only_with_the_global_unsafe_switch(runs: list[dict[str, Any]]) -> None:
    """model_from_json takes no safe_mode: measured by hand, the switch loads it and predicts the same."""
    for stack in (KERAS2, KERAS3):
        cell = cells(runs, stack, stack, "json")["lambda_layer"]
        assert (cell["verdict"], cell["remedy"]) == ("remedy", "safe_mode=False")
        assert cell["attempts"][-1]["unsafe"] is True and cell["max_abs_diff"] == 0.0
        assert "Requested the deserialization of a" in cell["attempts"][0]["error"]["message"]


def test_tf_keras_beside_keras_3_reads_keras_2_native_files(runs: list[dict[str, Any]]) -> None:
    cell = cells(runs, KERAS2, KERAS3, "keras")["custom_loss"]
    assert (cell["verdict"], cell["remedy"]) == ("remedy", "tf_keras")
    assert cell["max_abs_diff"] <= 1e-5


def test_the_probe_says_whether_custom_objects_are_needed(runs: list[dict[str, Any]]) -> None:
    h5 = cells(runs, KERAS2, KERAS2, "h5")
    assert h5["custom_layer"]["custom_objects_needed"] is True
    assert h5["registered_layer"]["custom_objects_needed"] is None  # it passes none
    assert h5["registered_layer"]["verdict"] == "ok"


def test_save_weights_h5_crosses_the_keras_2_3_boundary_both_ways(runs: list[dict[str, Any]]) -> None:
    for producer, consumer in ((KERAS2, KERAS3), (KERAS3, KERAS2)):
        cell = cells(runs, producer, consumer, "weights-h5")["custom_layer"]
        assert (cell["verdict"], cell["fidelity"]) == ("ok", "rebuilt")
        assert cell["attempts"][0]["call"] == "model = build(); model.load_weights(path)"
    # Keras 3's weights of a subclassed model come out empty in TF 2.15
    cell = cells(runs, KERAS3, KERAS2, "weights-h5")["subclassed_model"]
    assert cell["verdict"] == "error" and "expected 2 variables, but received 0" in cell["error"]["message"]


def test_keras_3_writes_no_checkpoint_and_reads_keras_2s_only_through_tf_keras(runs: list[dict[str, Any]]) -> None:
    assert {c["verdict"] for c in cells(runs, KERAS3, KERAS3, "weights-tf").values()} == {"unsupported"}
    assert cells(runs, KERAS2, KERAS2, "weights-tf")["custom_layer"]["verdict"] == "ok"
    cell = cells(runs, KERAS2, KERAS3, "weights-tf")["custom_layer"]
    assert (cell["verdict"], cell["remedy"], cell["fidelity"]) == ("remedy", "tf_keras", "rebuilt")
    assert cell["signature_id"] == "keras3-weights-checkpoint"
    # a case whose class lives in a package of the case code: its tf_keras copy subclasses tf_keras too
    moved = cells(runs, KERAS2, KERAS3, "weights-tf")["module_moved"]
    assert (moved["verdict"], moved["remedy"]) == ("remedy", "tf_keras")


def test_a_keras_2_to_json_comes_back_in_keras_3_only_through_tf_keras(runs: list[dict[str, Any]]) -> None:
    cell = cells(runs, KERAS2, KERAS3, "json")["custom_layer"]
    assert (cell["verdict"], cell["remedy"], cell["fidelity"]) == ("remedy", "tf_keras", "recompile")
    assert "Could not locate class 'Sequential'" in cell["attempts"][0]["error"]["message"]
    assert cells(runs, KERAS3, KERAS2, "json")["custom_layer"]["signature_id"] == "keras3-batch-shape"


def test_a_keras_3_to_json_comes_back_compiled_and_training_resumes(runs: list[dict[str, Any]]) -> None:
    """Keras 3's to_json() keeps the compile configuration and its weights file the optimizer's."""
    cell = cells(runs, KERAS3, KERAS3, "json")["custom_loss_trained"]
    assert (cell["verdict"], cell["fidelity"]) == ("ok", "full")
    assert cell["attempts"][0]["resume"]["outcome"] == "ok"


def test_training_resumes_from_keras_2s_h5_but_not_from_its_savedmodel(runs: list[dict[str, Any]]) -> None:
    """Measured by hand in TF 2.15 (Adam, trained two epochs): load_model of the .h5 restores the
    optimizer's 8 iterations and one more step matches the producer's exactly; load_model of the
    SavedModel gives a compiled model whose Adam starts again at iteration 0 (0.086 apart after
    one step)."""
    h5 = cells(runs, KERAS2, KERAS2, "h5")["custom_loss_trained"]
    assert (h5["verdict"], h5["fidelity"]) == ("ok", "full")
    assert h5["attempts"][0]["resume"] == {"outcome": "ok", "max_abs_diff": 0.0, "error": None}
    saved = cells(runs, KERAS2, KERAS2, "savedmodel")["custom_loss_trained"]
    assert (saved["verdict"], saved["fidelity"], saved["remedy"]) == ("resume-mismatch", "full", None)
    resume = saved["attempts"][0]["resume"]
    assert resume["outcome"] == "mismatch" and resume["max_abs_diff"] > 1e-4


def test_keras_3_cannot_train_on_with_an_h5_it_loads_compiled(runs: list[dict[str, Any]]) -> None:
    """Measured by hand: Keras 3.15 loads a legacy .h5 compiled, the optimizer's iterations restored,
    and the next train_on_batch raises."""
    for producer in (KERAS2, KERAS3):
        cell = cells(runs, producer, KERAS3, "h5")["custom_loss_trained"]
        assert (cell["verdict"], cell["fidelity"]) == ("resume-mismatch", "full")
        error = cell["attempts"][0]["resume"]["error"]
        assert "can only be called for the variables it was originally built with" in error["message"]


@pytest.mark.browser
def test_the_real_report_opens_in_a_browser(runs: list[dict[str, Any]], browser: Any, tmp_path: Path) -> None:
    results = runs[-1]["results"]
    report = Page(browser, runs[-1]["site"])
    seed = {c["id"] for c in results["cases"] if "seed" in c["tags"]}
    assert report.squares() == expected_squares(results, seed)
    report.page.locator("table.heatmap td.v").first.click()
    assert report.page.locator("#detail .case-detail").count() == len(results["cases"])
    assert report.page.locator("#advisor-table tr[data-case]").count() == len(results["cases"])
    assert report.problems == []


def test_a_load_that_never_returns_costs_its_attempts_limits(tmp_path: Path) -> None:
    """Keras 3.0 loops forever rebuilding TF 2.15's .h5 of a nested model (measured by hand: 40 s
    in functional_from_config's loop, whose source has no way out). The attempt is interrupted at
    its limit, the next rungs get the short one, and the worker goes on with its other cells. The
    weights load into the model built in code."""
    from runner.limits import ATTEMPT_S, SHORT_S

    command = [sys.executable, "-m", "matrix", "run", "--workspace", str(tmp_path), "--site", str(tmp_path / "site"),
               "--stacks", KERAS2, "keras3.0-tf2.16-py3.11", "--cases", "nested_models"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    found = {(c["producer"], c["consumer"], c["format"]): c
             for c in json.loads((tmp_path / "site" / "results.json").read_text())["cells"]}
    hung = found[(KERAS2, "keras3.0-tf2.16-py3.11", "h5")]
    assert (hung["verdict"], hung["remedy"], hung["signature_id"]) == (
        "remedy", "rebuild + load_weights", "load-never-returns")
    first, *later, rebuilt = hung["attempts"]
    assert first["error"]["type"] == "AttemptTimeout" and ATTEMPT_S <= first["seconds"] < ATTEMPT_S + 10
    assert later and all(a["error"]["type"] == "AttemptTimeout" and a["seconds"] < SHORT_S + 5 for a in later)
    assert rebuilt["mode"] == "rebuild + load_weights" and rebuilt["outcome"] == "ok"
    # the same worker loaded the cells after it: no cell crashed or timed out
    assert {c["verdict"] for c in found.values()} & {"crashed", "timeout", "missing"} == set()
    assert found[("keras3.0-tf2.16-py3.11", "keras3.0-tf2.16-py3.11", "keras")]["verdict"] == "ok"
    # Keras 3.0 writes no .h5 of it (save-h5-duplicate-name), measured
    assert found[("keras3.0-tf2.16-py3.11", "keras3.0-tf2.16-py3.11", "h5")]["verdict"] == "blocked"
