"""`matrix check` without TensorFlow: reading users' files by content, the input a model's config
declares, custom-object specs, the summary line, and bad options through the real command line."""

import json
import os
import struct
import subprocess
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matrix.userfiles import hdf5_end_of_file, inspect_file, inspect_files, sample_problem
from reports.check import summary
from runner.check import BuildFailed, UserObjects, input_misfit, objects_of
from runner.ladder import compare_outputs, model_input
from runner.modelfile import config_specs, keras_metadata_config, output_names
from runner.samples import InputSpec, fixed_array

ROOT = Path(__file__).resolve().parent.parent
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def hdf5_v0(end_of_file: int) -> bytes:
    """A version 0 superblock with 8-byte addresses: base 0, no free space, then end of file."""
    fields = bytes([0, 0, 0, 0, 0, 8, 8, 0]) + struct.pack("<HHI", 4, 16, 0)
    undefined = (1 << 64) - 1
    return HDF5_MAGIC + fields + struct.pack("<QQQQ", 0, undefined, end_of_file, undefined)


def hdf5_v2(end_of_file: int) -> bytes:
    return HDF5_MAGIC + bytes([2, 8, 8, 0]) + struct.pack("<QQQQ", 0, (1 << 64) - 1, end_of_file, 48) + b"\0" * 4


@pytest.mark.parametrize("superblock", [hdf5_v0, hdf5_v2])
def test_the_hdf5_superblock_gives_the_files_full_length(superblock: Any) -> None:
    assert hdf5_end_of_file(superblock(20104)) == 20104
    assert hdf5_end_of_file(HDF5_MAGIC + bytes([9]) + b"\0" * 60) is None  # a version we do not know


def test_a_cut_hdf5_file_is_named_truncated_and_a_whole_one_is_an_h5_model(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole.h5", tmp_path / "cut.h5"
    whole.write_bytes((hdf5_v0(4096) + b"model_config").ljust(4096, b"\0"))  # a model's root attribute
    cut.write_bytes(hdf5_v0(4096).ljust(1000, b"\0"))
    assert inspect_file(whole, "whole.h5").format == "h5"
    problem = inspect_file(cut, "cut.h5").problem
    assert problem is not None and "truncated HDF5 file: 1000 bytes, its header says 4096" in problem


def test_the_format_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    hdf5_named_keras = tmp_path / "model.keras"  # what Keras 2 before 2.12 writes
    hdf5_named_keras.write_bytes((hdf5_v0(76) + b"model_config").ljust(76, b"\0"))
    zip_named_h5 = tmp_path / "model.h5"
    with zipfile.ZipFile(zip_named_h5, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("metadata.json", "{}")
    saved_model = tmp_path / "exported"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"\x08\x01")
    found = {f.name: (f.format, f.container) for f in inspect_files([hdf5_named_keras, zip_named_h5, saved_model])}
    assert found == {"model.keras": ("h5", "hdf5"), "model.h5": ("keras", "zip"),
                     "exported": ("savedmodel", "savedmodel")}


def test_weights_alone_are_told_apart_from_models(tmp_path: Path) -> None:
    """By their bytes: an HDF5 file without model_config, a folder with a checkpoint's table file."""
    hdf5 = b"\x89HDF\r\n\x1a\n" + bytes(88)
    (tmp_path / "model.h5").write_bytes(hdf5 + b"...model_config...")
    (tmp_path / "my.weights.h5").write_bytes(hdf5 + b"...layer_names...")
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model.index").write_bytes(b"table" + struct.pack("<Q", 0xDB4775248B80FB57))
    (checkpoint / "model.data-00000-of-00001").write_bytes(b"weights")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "variables.index").write_bytes(b"x")
    found = {f.name: (f.format, f.problem) for f in inspect_files(
        [tmp_path / "model.h5", tmp_path / "my.weights.h5", checkpoint, checkpoint / "model.index", fake])}
    assert found["model.h5"] == ("h5", None)
    assert found["my.weights.h5"] == ("weights-h5", None)
    assert found["ckpt"] == ("weights-tf", None) and found["model.index"] == ("weights-tf", None)
    assert found["fake"][0] is None and found["fake"][1].startswith("a directory without saved_model.pb")


def test_what_is_not_a_model_says_what_it_is(tmp_path: Path) -> None:
    no_config = tmp_path / "weights.keras"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("model.weights.h5", "x")
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    empty_dir = tmp_path / "folder"
    empty_dir.mkdir()
    graph = tmp_path / "sm"
    graph.mkdir()
    (graph / "saved_model.pb").write_bytes(b"\x08\x01")
    array = tmp_path / "x.npy"
    array.write_bytes(b"\x93NUMPY\x01\x00")
    empty, text = tmp_path / "empty.h5", tmp_path / "notes.h5"
    empty.write_bytes(b"")
    text.write_text("hello")
    problems = {f.name: f.problem for f in inspect_files(
        [no_config, damaged, empty_dir, graph / "saved_model.pb", array, empty, text, tmp_path / "gone.h5"])}
    assert problems == {
        "weights.keras": "a zip archive without config.json, so not a .keras model",
        "damaged.keras": "a damaged zip archive (File is not a zip file); copy or download it again",
        "folder": ("a directory without saved_model.pb, so not a SavedModel: pass the folder that "
                   "model.save(dir) or model.export(dir) wrote"),
        "saved_model.pb": f"a SavedModel's graph alone: pass its folder ({graph}) instead",
        "x.npy": "a NumPy array, not a model: pass it as --input or --expected",
        "empty.h5": "an empty file",
        "notes.h5": ("not a Keras model (it starts with b'hello'): expected an HDF5 file (.h5), a .keras zip or a "
                     "SavedModel folder"),
        "gone.h5": "no such file or directory",
    }


def test_files_sharing_a_base_name_are_named_by_their_paths(tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "model.h5", tmp_path / "b" / "model.h5", tmp_path / "other.h5"]
    assert [f.name for f in inspect_files(paths)] == [str(paths[0]), str(paths[1]), "other.h5"]


def test_a_file_given_twice_is_checked_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    again = tmp_path / "a" / ".." / "model.h5"
    assert [f.name for f in inspect_files([tmp_path / "model.h5", again, tmp_path / "model.h5"])] == ["model.h5"]


def test_a_sample_must_be_a_numpy_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "x.npy", tmp_path / "x.csv"
    good.write_bytes(b"\x93NUMPY\x01\x00")
    bad.write_text("1,2,3")
    assert sample_problem(good) is None
    assert sample_problem(bad) == "not a NumPy .npy or .npz file (save one with numpy.save or numpy.savez)"


KERAS2_SEQUENTIAL = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "dense_input"}},
    {"class_name": "Dense", "config": {"name": "dense", "batch_input_shape": [None, 3], "units": 4}}]}}
KERAS2_OLD_SEQUENTIAL = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "Dense", "config": {"name": "dense", "batch_input_shape": [None, 10], "dtype": "float32"}},
    {"class_name": "Dense", "config": {"name": "dense_1", "units": 1}}]}}
KERAS3_FUNCTIONAL = {"class_name": "Functional", "config": {
    "layers": [
        {"class_name": "InputLayer", "name": "ids", "config": {"batch_shape": [None, 7], "name": "ids",
                                                               "dtype": "int32"}},
        {"class_name": "InputLayer", "name": "values", "config": {
            "batch_shape": [None, None, 2], "name": "values",
            "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}}},
        {"class_name": "Concatenate", "name": "concatenate", "config": {"name": "concatenate"}}],
    "input_layers": [["values", 0, 0], ["ids", 0, 0]]}}
KERAS3_ONE_INPUT = {"class_name": "Functional", "config": {
    "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 5], "name": "features"}}],
    "input_layers": ["features", 0, 0]}}
BUILT_ONLY = {"class_name": "Sequential", "config": {"layers": [{"class_name": "MyLayer", "config": {}}]},
              "build_config": {"input_shape": [None, 10]}}


# Trimmed from the configs of tests/corpus.py's text_lstm (TF 2.15) and two_tower (Keras 3.15)
KERAS2_TEXT_LSTM = {"class_name": "Sequential", "config": {"name": "text_lstm", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 20], "dtype": "float32", "name": "input_1"}},
    {"class_name": "Embedding", "config": {"name": "embedding", "batch_input_shape": [None, None], "input_dim": 1000,
                                           "output_dim": 16, "dtype": "float32"}},
    {"class_name": "LSTM", "config": {"name": "lstm", "units": 8}},
    {"class_name": "Dense", "config": {"name": "dense", "units": 1}}]}}
KERAS3_TWO_TOWER = {"class_name": "Functional", "config": {"name": "two_tower", "layers": [
    {"class_name": "InputLayer", "name": "text", "inbound_nodes": [],
     "config": {"batch_shape": [None, 12], "dtype": "int32", "name": "text"}},
    {"class_name": "Embedding", "name": "embedding_1", "config": {"name": "embedding_1", "input_dim": 500},
     "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
         "shape": [None, 12], "dtype": "int32", "keras_history": ["text", 0, 0]}}], "kwargs": {}}]},
    {"class_name": "InputLayer", "name": "meta", "inbound_nodes": [],
     "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "meta"}},
    {"class_name": "Dense", "name": "score", "config": {"name": "score"}, "inbound_nodes": []},
    {"class_name": "Dense", "name": "tags", "config": {"name": "tags"}, "inbound_nodes": []}],
    "input_layers": [["text", 0, 0], ["meta", 0, 0]], "output_layers": [["score", 0, 0], ["tags", 0, 0]]}}
KERAS2_FUNCTIONAL_EMBEDDING = {"class_name": "Functional", "config": {"layers": [
    {"class_name": "InputLayer", "name": "ids", "config": {"batch_input_shape": [None, 5], "name": "ids"},
     "inbound_nodes": []},
    {"class_name": "Embedding", "name": "embedding", "config": {"name": "embedding", "input_dim": 30},
     "inbound_nodes": [[["ids", 0, 0, {}]]]}],
    "input_layers": [["ids", 0, 0]], "output_layers": [["embedding", 0, 0]]}}
# Old standalone Keras (1.2.2 and 2.1.6, measured) wrote a Sequential's config as the list of its layers
LIST_SEQUENTIAL = {"class_name": "Sequential", "config": [
    {"class_name": "Embedding", "config": {"name": "embedding_1", "batch_input_shape": [None, 20], "dtype": "float32",
                                           "input_dim": 5000}},
    {"class_name": "Dense", "config": {"name": "dense_1", "units": 1}}]}
# Trimmed from tests/corpus.py's text_vectorized (TF 2.15), and a StringLookup in a Sequential
TEXT_VECTORIZED = {"class_name": "Functional", "config": {"layers": [
    {"class_name": "InputLayer", "name": "review", "inbound_nodes": [],
     "config": {"batch_input_shape": [None, 1], "dtype": "string", "name": "review"}},
    {"class_name": "TextVectorization", "name": "text_vectorization", "inbound_nodes": [[["review", 0, 0, {}]]],
     "config": {"name": "text_vectorization", "vocabulary": ["good", "bad"], "output_sequence_length": 6}}],
    "input_layers": [["review", 0, 0]]}}
STRING_LOOKUP = {"class_name": "Sequential", "config": {"layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "string", "name": "tags"}},
    {"class_name": "StringLookup", "config": {"name": "string_lookup", "vocabulary": None}}]}}


def spec(name: str | None, shape: list[Any], dtype: str = "float32", limit: int | None = None,
         words: tuple[str, ...] | None = None, sentences: bool = False) -> InputSpec:
    return InputSpec(name, shape, dtype, limit, words, sentences)


@pytest.mark.parametrize(("config", "specs"), [
    (KERAS2_SEQUENTIAL, [spec("dense_input", [None, 3])]),
    (KERAS2_OLD_SEQUENTIAL, [spec(None, [None, 10])]),
    (KERAS3_FUNCTIONAL, [spec("values", [None, None, 2]), spec("ids", [None, 7], "int32")]),
    (KERAS3_ONE_INPUT, [spec("features", [None, 5])]),
    (BUILT_ONLY, [spec(None, [None, 10])]),
    ({"class_name": "MyModel", "config": {}}, []),
    (KERAS2_TEXT_LSTM, [spec("input_1", [None, 20], limit=1000)]),
    (KERAS3_TWO_TOWER, [spec("text", [None, 12], "int32", 500), spec("meta", [None, 4])]),
    (KERAS2_FUNCTIONAL_EMBEDDING, [spec("ids", [None, 5], limit=30)]),
    (LIST_SEQUENTIAL, [spec(None, [None, 20], limit=5000)]),
    (TEXT_VECTORIZED, [spec("review", [None, 1], "string", words=("good", "bad"), sentences=True)]),
    (STRING_LOOKUP, [spec("tags", [None, 3], "string")]),
    ({"class_name": "Pair", "config": {}, "build_config": {"input_shape": [[None, 3], [None, 2]]}},
     [spec(None, [None, 3]), spec(None, [None, 2])]),
    ({"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {  # SavedModel metadata
        "name": "input_1", "batch_input_shape": {"class_name": "__tuple__", "items": [None, 20]}}}]}},
     [spec("input_1", [None, 20])]),
])
def test_input_specs_come_from_the_saved_config(config: dict[str, Any], specs: list[Any]) -> None:
    assert config_specs(config) == specs


def test_output_names_are_the_output_layers_or_a_sequentials_last() -> None:
    assert output_names(KERAS3_TWO_TOWER) == ("score", "tags")
    assert output_names(KERAS2_TEXT_LSTM) == ("dense",)
    assert output_names(LIST_SEQUENTIAL) == ("dense_1",)
    assert output_names({"class_name": "MyModel", "config": {}}) == ()


def test_the_built_input_is_the_matrix_grid_with_open_dimensions_filled() -> None:
    values = fixed_array(spec(None, [None, None, 2]))
    assert values.shape == (4, 8, 2)
    assert values.ravel()[:3].tolist() == pytest.approx([-1.0, -0.26, 0.48])
    ids = fixed_array(spec(None, [None, 7], "int32"))
    assert ids.dtype.name == "int32" and ids.min() >= 0 and ids.max() <= 9


def test_an_embeddings_input_holds_indices_below_its_input_dim_in_the_declared_dtype() -> None:
    tokens = fixed_array(spec("input_1", [None, 20], "float32", 1000))
    assert tokens.dtype.name == "float32" and tokens.shape == (4, 20)
    assert tokens.min() >= 0 and tokens.max() < 1000 and (tokens == tokens.round()).all()
    assert len(set(tokens.ravel().tolist())) > 50  # spread over the vocabulary, not one token


def test_a_string_input_holds_words_its_lookup_layer_knows() -> None:
    sentences = fixed_array(spec("review", [None, 1], "string", words=("good", "bad", "plot"), sentences=True))
    assert sentences.shape == (4, 1) and all(len(text.split()) == 3 for text in sentences.ravel())
    assert {word for text in sentences.ravel() for word in text.split()} <= {"good", "bad", "plot"}
    words = fixed_array(spec("tags", [None, 3], "string"))  # no vocabulary listed: common words
    assert words.shape == (4, 3) and all(" " not in word for word in words.ravel())
    assert len(set(words.ravel().tolist())) > 3


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (payloads under 128 bytes: a one-byte length)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_a_savedmodels_keras_config_is_read_from_its_metadata_without_tensorflow(tmp_path: Path) -> None:
    root = json.dumps({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}}).encode()
    layer = json.dumps({"class_name": "Dense", "config": {"units": 1}}).encode()
    metadata = field(1, bytes([2 << 3, 0]) + field(3, b"root") + field(5, root)) + field(1, field(5, layer))
    (tmp_path / "keras_metadata.pb").write_bytes(metadata)
    assert keras_metadata_config(str(tmp_path)) == json.loads(root)
    (tmp_path / "keras_metadata.pb").write_bytes(b"\x0f not a message")
    assert keras_metadata_config(str(tmp_path)) is None
    (tmp_path / "keras_metadata.pb").unlink()
    assert keras_metadata_config(str(tmp_path)) is None


def test_outputs_are_compared_by_name_else_by_position() -> None:
    score, tags = np.array([[0.5]]), np.array([[0.2, 0.3, 0.5]])
    expected = [("score", score.tolist()), ("tags", tags.tolist())]
    by_name = compare_outputs([["tags", tags], ["score", score + 1e-7]], expected)
    assert by_name["outcome"] == "ok" and [o["name"] for o in by_name["outputs"]] == ["tags", "score"]
    assert by_name["max_abs_diff"] == pytest.approx(1e-7)
    by_position = compare_outputs([["output_0", score], ["output_1", tags + 0.1]], expected)
    assert by_position["outcome"] == "mismatch"
    assert [o["outcome"] for o in by_position["outputs"]] == ["ok", "mismatch"]
    assert compare_outputs([["output_0", score]], expected)["outcome"] == "mismatch"  # one output of two


def test_an_input_that_does_not_fit_is_named_with_what_the_model_takes() -> None:
    specs = [spec("text", [None, 12], "int32", 500), spec("meta", [None, 4])]
    fits = [("text", np.zeros((2, 12))), ("meta", np.zeros((2, 4)))]
    assert input_misfit(fits, specs) is None
    assert input_misfit(fits[:1], specs) == "it holds 1 array(s), the model takes 2 (text, meta)"
    assert input_misfit([fits[0], ("meta", np.zeros((2, 5)))], specs) == (
        "array 1 has shape (2, 5), the model's input meta takes (batch, 4)")
    assert input_misfit([(None, np.zeros((3, 7, 2)))], [spec(None, [None, None, 2])]) is None
    assert input_misfit([(None, np.zeros((3, 7)))], [spec(None, [None, None, 2])]) == (
        "array 0 has shape (3, 7), the model's input 0 takes (batch, any, 2)")


def test_named_inputs_go_to_a_serving_signature_by_name_and_to_keras_in_order() -> None:
    text, meta = np.zeros((4, 12)), np.ones((4, 4))
    inputs = [("text", text), ("meta", meta)]
    assert list(model_input(inputs, by_name=True)) == ["text", "meta"]
    assert [a.shape for a in model_input(inputs, by_name=False)] == [(4, 12), (4, 4)]
    assert model_input([(None, text)], by_name=True) is text
    assert isinstance(model_input([(None, text), (None, meta)], by_name=True), list)


def test_custom_object_specs_take_a_module_or_named_objects() -> None:
    module = types.ModuleType("project.layers")
    exec("import json\nclass Scale: pass\ndef my_loss(y, p): return 0\n_private = lambda: 0\nCONSTANT = 3",
         module.__dict__)
    modules = {"project.layers": module}
    assert sorted(objects_of(["project.layers"], modules.__getitem__)) == ["Scale", "my_loss"]
    assert list(objects_of(["project.layers:my_loss"], modules.__getitem__)) == ["my_loss"]
    with pytest.raises(AttributeError, match=r"project.layers has no 'Missing' \(from --custom-objects"):
        objects_of(["project.layers:Scale,Missing"], modules.__getitem__)


def cell(consumer: str, verdict: str, remedy: str | None = None, signature: str | None = None,
         signature_id: str | None = None, diff: float | None = None) -> dict[str, Any]:
    return {"consumer": consumer, "verdict": verdict, "remedy": remedy, "signature": signature,
            "signature_id": signature_id, "max_abs_diff": diff}


def test_the_summary_counts_each_way_and_names_each_failure_once() -> None:
    cells = [cell("a", "ok"), cell("b", "remedy", "compile=False"), cell("c", "remedy", "compile=False"),
             cell("d", "remedy", "tf_keras"), cell("e", "mismatch", diff=0.25),
             cell("f", "error", signature="ValueError: Unknown layer: 'X'. ..."),
             cell("g", "error", signature="TypeError: ...", signature_id="keras3-batch-shape"),
             cell("h", "error", signature="TypeError: ...", signature_id="keras3-batch-shape"),
             cell("i", "crashed", signature="WorkerCrashed: worker killed by signal SIGSEGV")]
    assert summary(cells) == (
        "loads as-is in 1 of 9 stacks, with compile=False in 2, with tf_keras in 1, loads but predicts differently "
        "in 1 (max abs diff up to 0.25), fails in 4: Keras 2 cannot read the InputLayer that Keras 3 writes (g, h); "
        "ValueError: Unknown layer: 'X'. ... (f); WorkerCrashed: worker killed by signal SIGSEGV (i)")


def check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matrix", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_bad_options_stop_before_any_stack_with_one_clear_line(tmp_path: Path) -> None:
    model = tmp_path / "model.h5"
    model.write_bytes(hdf5_v0(64).ljust(64, b"\0"))
    text = tmp_path / "x.csv"
    text.write_text("1,2")
    common = ("--workspace", str(tmp_path / "ws"), "--site", str(tmp_path / "site"), "--stacks", "tf2.15-py3.11")
    cases = {
        ("--expected", str(text)): "--expected needs --input: the outputs are what the model gives for that input",
        ("--input", str(text)): f"--input {text}: not a NumPy .npy or .npz file",
        ("--custom-objects", "nowhere.layers"): "--custom-objects nowhere.layers: no nowhere/ or nowhere.py in",
        ("--custom-objects", "not a module"): "--custom-objects 'not a module': expected package.module",
        ("--build", "project.models"): "--build 'project.models': expected package.module:function",
        ("--build", "nowhere:build"): "--build nowhere:build: no nowhere/ or nowhere.py in",
        ("--architecture", str(text)): f"--architecture {text}: not a readable JSON file",
        ("--architecture", str(tmp_path / "list.json")): f"--architecture {tmp_path / 'list.json'}: not a model's "
                                                          "to_json() (no class_name and config)",
    }
    (tmp_path / "list.json").write_text("[1, 2]")
    for options, message in cases.items():
        result = check(str(model), *options, *common, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert f"matrix: error: {message}" in result.stderr
    assert not (tmp_path / "ws" / "envs").exists()


def test_a_build_function_that_fails_or_gives_no_model_says_so(tmp_path: Path) -> None:
    (tmp_path / "project.py").write_text("def number():\n    return 3\n\n\ndef broken():\n"
                                         "    raise RuntimeError('needs a GPU')\n")
    with pytest.raises(BuildFailed, match=r"^--build project:number returned int, not a Keras model$"):
        UserObjects([], str(tmp_path), "project:number").build()
    with pytest.raises(BuildFailed, match=r"^--build project:broken raised RuntimeError: needs a GPU$"):
        UserObjects([], str(tmp_path), "project:broken").build()
    with pytest.raises(BuildFailed, match=r"^--build project:absent: project has no function 'absent'$"):
        UserObjects([], str(tmp_path), "project:absent").build()
    with pytest.raises(BuildFailed, match=r"^--build nowhere:f: importing nowhere failed: ModuleNotFoundError: "):
        UserObjects([], str(tmp_path), "nowhere:f").build()
    sys.modules.pop("project", None)


def test_unreadable_files_are_reported_and_the_run_still_writes_its_results(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "folder").mkdir()
    result = check("notes.txt", "folder", "missing.h5", "--workspace", str(tmp_path / "ws"),
                   "--site", str(tmp_path / "site"), "--stacks", "tf2.15-py3.11", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "notes.txt: not checked: not a Keras model" in result.stdout
    assert "3 of 3 files could not be checked: notes.txt, folder, missing.h5" in result.stderr
    results = json.loads((tmp_path / "site" / "check" / "results.json").read_text())
    assert [f["name"] for f in results["files"]] == ["notes.txt", "folder", "missing.h5"]
    assert results["cells"] == []
    assert "not checked" in (tmp_path / "site" / "check" / "index.html").read_text()


def test_file_names_and_errors_reach_the_page_escaped(tmp_path: Path) -> None:
    from reports.__main__ import main as report_main

    name = '"><img src=x onerror=alert(1)>.h5'
    attempt = {"mode": "documented", "call": "load_model(path)", "outcome": "error", "unsafe": False,
               "probe": False, "max_abs_diff": None, "seconds": 0.1,
               "error": {"type": "ValueError", "message": "<script>alert(2)</script>", "traceback": ""}}
    run = {"schema": 1, "generated_at": "2026-11-25T00:00:00+00:00", "seconds": 1.0,
           "computed": {"saves": 0, "loads": 1}, "host": {},
           "stacks": [{"id": "tf2.15-py3.11", "status": "ok", "backend": "venv", "family": "keras2"}],
           "families": [{"name": "keras2", "title": "Keras 2", "colour": "#E69F00"}],
           "cases": [{"id": name, "tags": ["user"], "summary": name}],
           "cells": [{"producer": name, "consumer": "tf2.15-py3.11", "case": name, "format": "h5",
                      "container": "hdf5", "save_error": None, "verdict": "error", "remedy": None,
                      "max_abs_diff": None, "custom_objects_needed": None, "attempts": [attempt],
                      "error": attempt["error"], "seconds": 0.1, "verified": []}],
           "files": [{"name": name, "path": name, "format": "h5", "container": "hdf5", "bytes": 1, "sha256": "0" * 64,
                      "problem": None, "reference": None}]}
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert report_main(["--check", str(tmp_path / "run.json"), str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "<img" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
