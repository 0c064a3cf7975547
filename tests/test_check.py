"""`matrix check` end to end: models saved by real stacks, checked as a user's own files.

The matrix saves three cases in an old Keras 2 stack (TF 2.9 on Python 3.8) and in Keras 3,
and cross-loads them. Its files are then copied out, renamed, and checked the way a user would,
with the custom objects in a project folder of their own. A check and the matrix run the same
ladder on the same input, so their verdicts must agree; where they may not (``safe_mode``), the
test says why.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corpus_standalone import STANDALONE_STACKS
from pages import Page

from matrix.envs import ensure_env
from matrix.stacks import Stack
from runner.protocol import attempt_loaded

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
OLD, KERAS2, KERAS3 = "tf2.9-py3.8", "tf2.15-py3.11", "keras3.15-tf2.21-py3.11"
STACKS = (OLD, KERAS2, KERAS3)
K1, K21 = STANDALONE_STACKS  # standalone Keras 1.2 and 2.1, which write the corpus' oldest files
CASES = ("custom_loss", "module_layer", "lambda_layer")
ARTIFACTS = {"h5": "model.h5", "keras": "model.keras", "savedmodel": "savedmodel"}
PROJECT_FILES = {
    "losses.py": ("import tensorflow as tf\n\n\ndef my_custom_loss(y_true, y_pred):\n"
                  "    return tf.reduce_mean(tf.abs(y_true - y_pred))\n"),
    "my_module.py": (ROOT / "runner" / "cases" / "support" / "my_module.py").read_text(),
}
CUSTOM_OBJECTS = ("losses:my_custom_loss", "my_module")


def command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matrix", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=1500, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The matrix run, the user's files and project, and three checks of them."""
    workspace, user = tmp_path_factory.mktemp("workspace"), tmp_path_factory.mktemp("user")
    where = ("--workspace", str(workspace), "--stacks", *STACKS)
    matrix = command("run", *where, "--cases", *CASES, "--no-report", cwd=ROOT)
    assert matrix.returncode == 0, matrix.stdout + matrix.stderr
    run = json.loads((workspace / "run.json").read_text())
    origin = {}
    for producer in (OLD, KERAS3):
        for case in CASES:
            for fmt, artifact in ARTIFACTS.items():
                source = workspace / "artifacts" / producer / case / artifact
                if source.exists():
                    name = f"{producer}.{case}.{artifact}"
                    copy = shutil.copytree if source.is_dir() else shutil.copyfile
                    copy(source, user / name)
                    origin[name] = (producer, case, fmt)
    for name, text in PROJECT_FILES.items():
        (user / "project").mkdir(exist_ok=True)
        (user / "project" / name).write_text(text)
    bad = make_bad_files(user, workspace)
    objects = ("--custom-objects", *CUSTOM_OBJECTS, "--import-path", str(user / "project"))
    checks = []
    for extra in ((), (), ("--unsafe",)):
        site = user / f"site{len(checks)}"
        result = command("check", *origin, *bad, *objects, *where, "--site", str(site), *extra, cwd=user)
        results = json.loads((site / "check" / "results.json").read_text())
        checks.append({"result": result, "results": results, "site": site / "check",
                       "run": json.loads((workspace / "check" / "run.json").read_text())})
    samples = []
    for expected in write_samples(user, workspace):
        site = user / f"site-{expected}"
        result = command("check", f"{OLD}.custom_loss.model.h5", *objects, *where, "--site", str(site),
                         "--input", "x.npy", "--expected", expected, cwd=user)
        assert result.returncode == 0, result.stdout + result.stderr
        samples.append(json.loads((site / "check" / "results.json").read_text()))
    return {"matrix": {(c["producer"], c["consumer"], c["case"], c["format"]): c for c in run["cells"]},
            "origin": origin, "bad": bad, "checks": checks, "samples": samples, "workspace": workspace, "user": user}


# What `matrix check` answers for tests/corpus.py's files, per stack (a remedy by its name),
# measured by hand; each Keras 2 text model was "no stack loads it" before the input followed the
# model (random floats into an Embedding), and Keras 3's two_tower SavedModel had no reference
# ("expected one output").
CORPUS_VERDICTS = {
    f"{OLD}.text_lstm.model.h5": ("ok", "ok", "tf_keras"),
    f"{OLD}.text_lstm.savedmodel": ("ok", "ok", "TFSMLayer"),
    f"{OLD}.two_tower.model.h5": ("ok", "ok", "compile=False"),
    f"{OLD}.two_tower.savedmodel": ("ok", "ok", "tf.saved_model.load"),
    f"{KERAS2}.text_lstm.model.h5": ("compile=False", "ok", "tf_keras"),
    f"{KERAS2}.text_lstm.model.keras": ("error", "ok", "tf_keras"),
    f"{KERAS2}.text_lstm.savedmodel": ("error", "ok", "TFSMLayer"),
    f"{KERAS2}.two_tower.model.h5": ("compile=False", "ok", "compile=False"),
    f"{KERAS2}.two_tower.model.keras": ("error", "ok", "tf_keras"),
    f"{KERAS2}.two_tower.savedmodel": ("error", "ok", "tf.saved_model.load"),
    f"{KERAS3}.text_lstm.model.h5": ("error", "error", "compile=False"),
    f"{KERAS3}.text_lstm.model.keras": ("error", "error", "ok"),
    f"{KERAS3}.text_lstm.savedmodel": ("error", "tf.saved_model.load", "TFSMLayer"),
    f"{KERAS3}.two_tower.model.h5": ("error", "error", "compile=False"),
    f"{KERAS3}.two_tower.model.keras": ("error", "error", "ok"),
    f"{KERAS3}.two_tower.savedmodel": ("error", "tf.saved_model.load", "tf.saved_model.load"),
    # raw strings through a TextVectorization: its vocabulary survives every format that loads
    f"{OLD}.text_vectorized.model.h5": ("ok", "ok", "compile=False"),
    f"{OLD}.text_vectorized.savedmodel": ("ok", "ok", "TFSMLayer"),
    f"{KERAS2}.text_vectorized.model.h5": ("error", "ok", "compile=False"),
    f"{KERAS2}.text_vectorized.model.keras": ("error", "ok", "tf_keras"),
    f"{KERAS2}.text_vectorized.savedmodel": ("error", "ok", "TFSMLayer"),
    f"{KERAS3}.text_vectorized.model.h5": ("error", "error", "compile=False"),
    f"{KERAS3}.text_vectorized.model.keras": ("error", "error", "ok"),
    f"{KERAS3}.text_vectorized.savedmodel": ("error", "tf.saved_model.load", "TFSMLayer"),
    # mixed_float16: Keras 3 reads no Keras 2 dtype policy (tf_keras does); compared within 2^-8
    f"{OLD}.mixed_dense.model.h5": ("ok", "ok", "tf_keras"),
    f"{OLD}.mixed_dense.savedmodel": ("ok", "ok", "TFSMLayer"),
    f"{KERAS2}.mixed_dense.model.h5": ("compile=False", "ok", "tf_keras"),
    f"{KERAS2}.mixed_dense.model.keras": ("error", "ok", "tf_keras"),
    f"{KERAS2}.mixed_dense.savedmodel": ("error", "ok", "TFSMLayer"),
    f"{KERAS3}.mixed_dense.model.h5": ("error", "error", "compile=False"),
    f"{KERAS3}.mixed_dense.model.keras": ("error", "error", "ok"),
    f"{KERAS3}.mixed_dense.savedmodel": ("error", "tf.saved_model.load", "TFSMLayer"),
    # standalone Keras (tests/corpus_standalone.py): Keras 1's layer arguments load nowhere, a
    # Sequential written as a list loads in Keras 2 only (its input from the first layer's shape)
    f"{K1}.text_lstm.model.h5": ("error", "error", "error"),
    f"{K21}.text_lstm.model.h5": ("ok", "ok", "tf_keras"),
    f"{K21}.two_tower.model.h5": ("ok", "ok", "compile=False"),
}
CORPUS_SIGNATURES = {  # (file, stack): the catalog entry its error gets, as measured
    (f"{K1}.text_lstm.model.h5", OLD): "keras1-config", (f"{K1}.text_lstm.model.h5", KERAS2): "keras1-config",
    (f"{K1}.text_lstm.model.h5", KERAS3): "keras3-list-sequential",
    (f"{KERAS2}.text_vectorized.model.h5", OLD): "text-vectorization-encoding",
    (f"{KERAS2}.text_vectorized.savedmodel", OLD): "savedmodel-builtin-name-conflict",
    (f"{KERAS3}.text_vectorized.model.keras", KERAS2): "keras-module-path",
}


@pytest.fixture(scope="module")
def corpus(setting: dict[str, Any]) -> dict[str, Any]:
    """tests/corpus.py's files, saved by the matrix's own three stacks, checked against them."""
    workspace, folder = setting["workspace"], setting["user"] / "corpus"
    for producer in STACKS:
        save_corpus(workspace / "envs" / producer / "bin" / "python", "corpus.py", folder, producer)
    for producer, (python, requirements) in STANDALONE_STACKS.items():
        env = ensure_env(Stack(id=producer, python=python, requirements=requirements, family="keras2"),
                         workspace / "envs")
        assert env.status == "ready" and env.python, env.reason
        save_corpus(env.python, "corpus_standalone.py", folder, producer)
    where = ("--workspace", str(workspace), "--stacks", *STACKS)
    models = sorted(path.name for path in folder.iterdir() if path.name.endswith(("model.h5", ".keras", "savedmodel")))
    result = command("check", *models, *where, "--site", str(folder / "site"), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    weights = {"text_lstm": [name for producer in (*STACKS, *STANDALONE_STACKS) for name in (
        f"{producer}.text_lstm.model.weights.h5", f"{producer}.text_lstm.checkpoint") if (folder / name).exists()],
        "two_tower": [f"{producer}.two_tower.model.weights.h5" for producer in (*STACKS, K21)],
        "keras1": [f"{K1}.text_lstm.model.weights.h5"]}
    options = {"text_lstm": ("--build", "corpus:text_lstm", "--import-path", str(ROOT / "tests")),
               "two_tower": ("--architecture", str(folder / f"{KERAS2}.two_tower.model.json")),
               "keras1": ("--architecture", str(folder / f"{K1}.text_lstm.model.json"))}
    checks = {}
    for model, files in weights.items():
        site = folder / f"site-{model}"
        checked = command("check", *files, *options[model], *where, "--site", str(site), cwd=folder)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        checks[model] = json.loads((site / "check" / "results.json").read_text())
    import numpy

    numpy.savez(folder / "two.npz", numpy.zeros((2, 20)), numpy.zeros((2, 4)))
    misfit = command("check", f"{OLD}.text_lstm.model.h5", "--input", "two.npz", *where,
                     "--site", str(folder / "site-misfit"), cwd=folder)
    assert misfit.returncode == 0, misfit.stdout + misfit.stderr
    mismatched = command("check", f"{OLD}.two_tower.model.weights.h5", *options["text_lstm"], *where,
                         "--site", str(folder / "site-mismatched"), cwd=folder)
    unbuilt = command("check", *weights["text_lstm"], *where, "--site", str(folder / "site-unbuilt"), cwd=folder)
    full_files = [f"{KERAS3}.text_lstm.model.h5", f"{KERAS3}.text_lstm.model.keras"]
    rebuilt = command("check", *full_files, *options["text_lstm"], *where, "--site", str(folder / "site-rebuilt"),
                      cwd=folder)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    return {"names": models, "result": result, "weights": weights, "checks": checks, "unbuilt": unbuilt,
            "misfit": (misfit, json.loads((folder / "site-misfit" / "check" / "results.json").read_text())),
            "mismatched": (mismatched, json.loads((folder / "site-mismatched" / "check" / "results.json").read_text())),
            "results": json.loads((folder / "site" / "check" / "results.json").read_text()),
            "rebuilt": json.loads((folder / "site-rebuilt" / "check" / "results.json").read_text())}


def save_corpus(python: Path, script: str, folder: Path, producer: str) -> None:
    """Runs tests/SCRIPT with a producer's Python; its files go to FOLDER as PRODUCER.MODEL.FILE."""
    made = subprocess.run([str(python), str(ROOT / "tests" / script), str(folder / "saved" / producer)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert made.returncode == 0, made.stderr[-3000:]
    for model in (folder / "saved" / producer).iterdir():
        for artifact in model.iterdir():
            copy = shutil.copytree if artifact.is_dir() else shutil.copyfile
            copy(artifact, folder / f"{producer}.{model.name}.{artifact.name}")


def test_with_build_a_full_model_file_also_loads_its_weights_into_the_model_built_in_code(
        corpus: dict[str, Any]) -> None:
    """Measured by hand: Keras 3.15's text_lstm .h5 and .keras, which load_model cannot read in
    TF 2.15, load their weights into TF 2.15's build of it and predict the same (0.0 apart)."""
    cells = {(c["producer"], c["consumer"]): c for c in corpus["rebuilt"]["cells"]}
    for name in (f"{KERAS3}.text_lstm.model.h5", f"{KERAS3}.text_lstm.model.keras"):
        cell = cells[(name, KERAS2)]
        assert (cell["verdict"], cell["remedy"], cell["fidelity"]) == ("remedy", "rebuild + load_weights", "rebuilt")
        assert cell["attempts"][-1]["call"] == "model = build(); model.load_weights(path)"
    # without --build (the model's code) a check does not try it
    assert all(a["mode"] != "rebuild + load_weights" for c in corpus["results"]["cells"] for a in c["attempts"])


def test_real_models_get_the_verdicts_measured_by_hand(corpus: dict[str, Any]) -> None:
    assert corpus["names"] == sorted(CORPUS_VERDICTS)
    found = {(c["producer"], c["consumer"]): c["remedy"] or c["verdict"] for c in corpus["results"]["cells"]}
    assert {name: tuple(found[(name, stack)] for stack in STACKS) for name in corpus["names"]} == CORPUS_VERDICTS
    assert "no reference: no stack both loads it" in next(
        line for line in corpus["result"].stdout.splitlines() if line.startswith(f"{K1}.text_lstm.model.h5"))
    assert all(line.startswith((K1, f"matrix: {K1}")) for line in corpus["result"].stdout.splitlines()
               if "no reference" in line)
    cells = {(c["producer"], c["consumer"]): c for c in corpus["results"]["cells"]}
    assert {key: cells[key]["signature_id"] for key in CORPUS_SIGNATURES} == CORPUS_SIGNATURES


def test_a_float16_model_is_compared_within_float16s_tolerance(corpus: dict[str, Any]) -> None:
    """mixed_float16: the stacks' outputs differ by more than float32's 1e-5, so a check at 1e-5
    called a model that is the same a mismatch; the dtypes come from the config's policies, or
    for Keras 3's export (no Keras config) from its graph's ops."""
    cells = [c for c in corpus["results"]["cells"] if ".mixed_dense." in c["producer"]]
    compared = [c for c in cells if c["max_abs_diff"] is not None]
    assert len(compared) == 17 and {c["tolerance"] for c in compared} == {2.0 ** -8}
    export = [c for c in compared if c["producer"] == f"{KERAS3}.mixed_dense.savedmodel"]
    assert max(c["max_abs_diff"] for c in export) > 1e-5  # Keras 3.15's TFSMLayer against TF 2.15's load


def test_every_output_is_compared_by_name_and_a_failed_prediction_is_not_a_failed_load(
        corpus: dict[str, Any]) -> None:
    cells = {(c["producer"], c["consumer"]): c for c in corpus["results"]["cells"]}
    for (name, _consumer), cell in cells.items():
        for attempt in cell["attempts"]:
            if attempt["outcome"] == "ok" and "two_tower" in name:
                assert len(attempt["outputs"]) == 2, (name, attempt["mode"])
    keras_file = cells[(f"{KERAS2}.two_tower.model.h5", KERAS2)]["attempts"][0]
    assert [o["name"] for o in keras_file["outputs"]] == ["score", "tags"]
    # Keras 3's TFSMLayer builds the layer, but no call of a two-input serving signature binds
    # (a dict, a list, keywords: each tried by hand in keras 3.15.1): loaded, then the call fails
    tfsm = next(a for a in cells[(f"{KERAS2}.two_tower.savedmodel", KERAS3)]["attempts"] if a["mode"] == "TFSMLayer")
    assert (tfsm["loaded"], tfsm["outcome"], tfsm["error"]["type"]) == (True, "error", "TypeError")
    assert "too many positional arguments" in tfsm["error"]["message"]
    files = {f["name"]: f for f in corpus["results"]["files"]}
    assert files[f"{KERAS3}.two_tower.savedmodel"]["reference"] == {
        "source": "stack", "stack": KERAS2, "mode": "tf.saved_model.load"}


# Weights alone, measured by hand: TF 2.15 and Keras 3 write save_weights("*.weights.h5") in the
# new layout, which TF 2.9 finds no layers in; TF 2.9's legacy file under that name loads in TF
# 2.15 and Keras 3 only copied to a .h5 name; Keras 3 reads no TensorFlow checkpoint, and no
# Keras 2 to_json() (Could not locate class 'Functional'). Keras 1's weights load into today's model
# in Keras 2; Keras 3 finds 12 arrays for the LSTM's 3 (the copy's error, not the name's).
WEIGHTS_VERDICTS = {
    "text_lstm": {
        f"{OLD}.text_lstm.model.weights.h5": ("ok", "renamed", "renamed"),
        f"{OLD}.text_lstm.checkpoint": ("ok", "ok", "error"),
        f"{KERAS2}.text_lstm.model.weights.h5": ("error", "ok", "ok"),
        f"{KERAS2}.text_lstm.checkpoint": ("ok", "ok", "error"),
        f"{KERAS3}.text_lstm.model.weights.h5": ("error", "ok", "ok"),
        f"{K1}.text_lstm.model.weights.h5": ("ok", "renamed", "error"),  # Keras 3 no longer converts its LSTM's
        f"{K21}.text_lstm.model.weights.h5": ("ok", "renamed", "renamed"),
    },
    "two_tower": {
        f"{OLD}.two_tower.model.weights.h5": ("ok", "renamed", "error"),
        f"{KERAS2}.two_tower.model.weights.h5": ("error", "ok", "error"),
        f"{KERAS3}.two_tower.model.weights.h5": ("error", "ok", "error"),
        f"{K21}.two_tower.model.weights.h5": ("ok", "renamed", "error"),
    },
    "keras1": {f"{K1}.text_lstm.model.weights.h5": ("error", "error", "error")},  # with Keras 1's own to_json()
}
WEIGHTS_SIGNATURES = {"new-weights-in-old-keras", "keras3-weights-checkpoint", "legacy-weights-new-name",
                      "keras2-json-in-keras3", "weights-do-not-fit", "keras1-config", "keras3-list-sequential"}


def test_weights_alone_load_into_the_model_built_or_read_for_them(corpus: dict[str, Any]) -> None:
    for model, expected in WEIGHTS_VERDICTS.items():
        cells = {(c["producer"], c["consumer"]): c for c in corpus["checks"][model]["cells"]}
        found = {name: tuple("renamed" if (c := cells[(name, stack)])["remedy"] and "renamed" in c["remedy"]
                             else c["verdict"] for stack in STACKS) for name in expected}
        assert found == expected, model
        assert {c["signature_id"] for c in cells.values() if c["verdict"] == "error"} <= WEIGHTS_SIGNATURES
        tower = [c for c in cells.values() if c["verdict"] == "ok" and model == "two_tower"]
        assert all([o["name"] for o in c["attempts"][0]["outputs"]] == ["score", "tags"] for c in tower)
    formats = {f["name"]: f["format"] for f in corpus["checks"]["text_lstm"]["files"]}
    assert formats[f"{OLD}.text_lstm.checkpoint"] == "weights-tf"
    assert formats[f"{OLD}.text_lstm.model.weights.h5"] == "weights-h5"


def test_an_input_that_does_not_fit_is_said_once_and_the_loads_still_count(corpus: dict[str, Any]) -> None:
    result, checked = corpus["misfit"]
    for cell in checked["cells"]:  # TF 2.9's text model loads in each (Keras 3: tf_keras), as measured
        assert cell["verdict"] == "not-predicted" and any(a["loaded"] for a in cell["attempts"]), cell["consumer"]
        assert cell["error"]["message"].startswith("the --input does not fit the model: it holds 2 array(s), "
                                                   "the model takes 1")
    line = next(line for line in result.stdout.splitlines() if line.startswith(f"{OLD}.text_lstm.model.h5 ("))
    assert "loads, not predicted, in 3 (the --input does not fit the model" in line


def test_weights_for_another_model_are_said_not_to_fit(corpus: dict[str, Any]) -> None:
    """The two-input model's weights into the text model: every stack says so, in its own words
    (TF 2.9 counts layers, the others' copy to a .h5 name does: its error, not the name's)."""
    result, checked = corpus["mismatched"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert {c["consumer"]: (c["verdict"], c["signature_id"]) for c in checked["cells"]} == {
        stack: ("error", "weights-do-not-fit") for stack in STACKS}
    assert "The weights do not fit the model they are loaded into" in result.stdout


def test_weights_alone_without_a_model_are_named_with_the_fix(corpus: dict[str, Any]) -> None:
    unbuilt = corpus["unbuilt"]
    assert unbuilt.returncode == 1
    for name in corpus["weights"]["text_lstm"]:
        line = next(line for line in unbuilt.stdout.splitlines() if line.startswith(f"{name}: not checked: "))
        assert "--build package.module:function" in line and "--architecture model.json" in line
        assert ("TensorFlow checkpoint" if name.endswith(".checkpoint") else "weights only (save_weights)") in line


def test_what_wrote_each_file_is_read_from_the_file(corpus: dict[str, Any], setting: dict[str, Any]) -> None:
    """Each producer's versions as its worker imported them, against what its files record."""
    stacks = {s["id"]: s for s in setting["checks"][0]["results"]["stacks"]}
    for entry in corpus["results"]["files"]:
        name = next(p for p in (*stacks, *STANDALONE_STACKS) if entry["name"].startswith(f"{p}."))
        origin = entry["origin"]
        if name in STANDALONE_STACKS:  # Keras 1 records no backend
            keras = next(pin.split("==")[1] for pin in STANDALONE_STACKS[name][1] if pin.startswith("keras=="))
            assert origin == {"keras_version": keras, "backend": "not recorded" if name == K1 else "tensorflow"}
            continue
        producer = stacks[name]
        if entry["format"] == "savedmodel":
            assert origin["tensorflow_version"] == producer["tensorflow"]
            keras2 = producer["keras_flavor"] != "keras3"
            assert origin["keras_metadata"] == ("yes" if keras2 else "no")  # Keras 3's export keeps none
            assert origin["keras_version"] == (producer["keras"] if keras2 else "not recorded")
        else:
            assert origin["keras_version"] == producer["keras"], entry["name"]
        assert set(origin) == {"h5": {"keras_version", "backend"}, "keras": {"keras_version", "date_saved"},
                               "savedmodel": {"tensorflow_version", "keras_metadata", "keras_version", "backend"}
                               }[entry["format"]]
    line = next(line for line in corpus["result"].stdout.splitlines() if line.startswith(f"{OLD}.text_lstm.model.h5"))
    assert f"written by Keras {stacks[OLD]['keras']} (tensorflow)" in line


def write_samples(user: Path, workspace: Path) -> list[str]:
    """The matrix's own input and predictions for one file as .npy, and predictions half off."""
    import numpy

    reference = json.loads((workspace / "artifacts" / OLD / "custom_loss" / "h5.reference.json").read_text())
    (given,), (predicted,) = reference["inputs"], reference["outputs"]
    numpy.save(user / "x.npy", numpy.asarray(given["values"], dtype=given["dtype"]))
    numpy.save(user / "y.npy", numpy.asarray(predicted["values"], dtype="float32"))
    numpy.save(user / "y_off.npy", numpy.asarray(predicted["values"], dtype="float32") + 0.5)
    return ["y.npy", "y_off.npy"]


def make_bad_files(user: Path, workspace: Path) -> list[str]:
    """A truncated copy of a real .h5, a folder that is not a SavedModel, and a text file."""
    real = (workspace / "artifacts" / OLD / "custom_loss" / "model.h5").read_bytes()
    (user / "cut.h5").write_bytes(real[: len(real) // 2])
    (user / "not_a_savedmodel").mkdir()
    (user / "not_a_savedmodel" / "variables.index").write_bytes(b"x")
    (user / "notes.keras").write_text("a text file with a model's name")
    return ["cut.h5", "not_a_savedmodel", "notes.keras"]


def check_cells(check: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["producer"], c["consumer"]): c for c in check["results"]["cells"]}


def is_safe_mode_case(origin: tuple[str, str, str]) -> bool:
    """Keras 3's Lambda files: the matrix climbs to safe_mode=False; a check only with --unsafe."""
    producer, case, fmt = origin
    return producer == KERAS3 and case == "lambda_layer" and fmt != "savedmodel"


def test_every_file_gets_the_verdict_the_matrix_measured(setting: dict[str, Any]) -> None:
    """Same ladder, same input, and a reference that predicts what the producer predicted."""
    cells, compared = check_cells(setting["checks"][0]), 0
    assert len(cells) == len(setting["origin"]) * len(STACKS)
    for (name, consumer), cell in cells.items():
        producer, case, fmt = setting["origin"][name]
        if is_safe_mode_case((producer, case, fmt)):
            continue
        measured = setting["matrix"][(producer, consumer, case, fmt)]
        if measured["remedy"] == "rebuild + load_weights":  # the case's code, which a check has not
            rungs = [a for a in measured["attempts"][:-1] if not a.get("probe")]
            assert cell["verdict"] == ("predict-error" if any(map(attempt_loaded, rungs)) else "error")
        else:
            assert (cell["verdict"], cell["remedy"]) == (measured["verdict"], measured["remedy"]), (name, consumer)
        compared += 1
    assert compared >= 40
    assert {c["verdict"] for c in cells.values()} >= {"ok", "remedy", "error"}


def test_safe_mode_stays_on_unless_the_user_says_otherwise(setting: dict[str, Any]) -> None:
    safe, unsafe = (check_cells(setting["checks"][i]) for i in (0, 2))
    lambda_files = [name for name, origin in setting["origin"].items() if is_safe_mode_case(origin)]
    assert len(lambda_files) == 2
    assert not any(a["unsafe"] for c in safe.values() for a in c["attempts"])
    for name in lambda_files:
        producer, case, fmt = setting["origin"][name]
        measured = setting["matrix"][(producer, KERAS3, case, fmt)]
        assert measured["remedy"] == "safe_mode=False"
        assert safe[(name, KERAS3)]["verdict"] == "error"
        assert safe[(name, KERAS3)]["signature_id"] == "lambda-safe-mode"
        assert (unsafe[(name, KERAS3)]["verdict"], unsafe[(name, KERAS3)]["remedy"]) == ("remedy", "safe_mode=False")


def test_the_format_is_read_from_the_content(setting: dict[str, Any]) -> None:
    files = {f["name"]: f for f in setting["checks"][0]["results"]["files"]}
    old_keras = files[f"{OLD}.custom_loss.model.keras"]
    assert (old_keras["format"], old_keras["container"]) == ("h5", "hdf5")  # Keras 2.9 writes HDF5 there
    assert files[f"{KERAS3}.custom_loss.model.keras"]["format"] == "keras"
    assert files[f"{KERAS3}.custom_loss.savedmodel"]["format"] == "savedmodel"
    by_name = {(c["producer"], c["format"]) for c in setting["checks"][0]["results"]["cells"]}
    assert (f"{OLD}.custom_loss.model.keras", "h5") in by_name


def test_files_it_cannot_read_are_named_and_do_not_stop_the_others(setting: dict[str, Any]) -> None:
    check = setting["checks"][0]
    assert check["result"].returncode == 1
    problems = {f["name"]: f["problem"] for f in check["results"]["files"] if f["problem"]}
    assert set(problems) == set(setting["bad"])
    assert problems["cut.h5"].startswith("a truncated HDF5 file")
    assert problems["not_a_savedmodel"].startswith("a directory without saved_model.pb")
    assert problems["notes.keras"].startswith("not a Keras model")
    assert "3 of 21 files could not be checked" in check["result"].stderr


def test_a_second_check_recomputes_nothing(setting: dict[str, Any]) -> None:
    first, second = setting["checks"][0], setting["checks"][1]
    computed = first["run"]["computed"]
    assert computed["loads"] + computed["derived"] == len(setting["origin"]) * len(STACKS)
    assert computed["derived"] > 0  # Keras 3 files in TF 2.9: every rung failed while looking for a reference
    assert second["run"]["computed"] == {"saves": 0, "loads": 0, "derived": 0}
    strip = ("seconds",)
    assert [{k: v for k, v in c.items() if k not in strip} for c in first["results"]["cells"]] == \
        [{k: v for k, v in c.items() if k not in strip} for c in second["results"]["cells"]]


def test_the_terminal_and_the_page_give_a_line_and_a_row_per_file(setting: dict[str, Any]) -> None:
    check = setting["checks"][0]
    lines = check["result"].stdout.splitlines()
    for name in setting["origin"]:
        line = next(line for line in lines if line.startswith(f"{name} ("))
        assert "loads as-is in " in line and f"of {len(STACKS)} stacks" in line
    page = (check["site"] / "index.html").read_text()
    assert page.count('<th class="row">') == len(setting["origin"])
    assert page.count('<td class="v v-') == len(setting["origin"]) * len(STACKS)
    for bad in setting["bad"]:
        assert f"<strong>{bad}</strong>: <span class=\"status-bad\">not checked</span>" in page


@pytest.mark.browser
def test_the_check_page_opens_in_a_browser_with_every_cell(setting: dict[str, Any], browser: Any) -> None:
    check = setting["checks"][0]
    page = Page(browser, check["site"])
    squares = page.page.eval_on_selector_all(
        "table.heatmap td.v", "tds => tds.map(td => [td.dataset.file, td.dataset.stack, td.dataset.verdict])")
    assert {(f, s): v for f, s, v in squares} == {key: c["verdict"] for key, c in check_cells(check).items()}
    assert page.problems == []


def test_your_own_input_and_outputs_decide_and_a_difference_is_a_mismatch(setting: dict[str, Any]) -> None:
    right, off = ({c["consumer"]: c for c in results["cells"]} for results in setting["samples"])
    assert right[OLD]["max_abs_diff"] is not None
    for consumer in STACKS:
        measured = setting["matrix"][(OLD, consumer, "custom_loss", "h5")]
        assert (right[consumer]["verdict"], right[consumer]["remedy"]) == (measured["verdict"], measured["remedy"])
        loaded = right[consumer]["verdict"] in ("ok", "remedy")
        assert off[consumer]["verdict"] == ("mismatch" if loaded else "error"), consumer
        if loaded:
            assert off[consumer]["max_abs_diff"] == pytest.approx(0.5, abs=1e-4)
    assert setting["samples"][0]["files"][0]["reference"]["source"] == "expected"
