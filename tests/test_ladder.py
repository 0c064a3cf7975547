"""The ladder's climb on stand-in rungs: where it stops, what it skips, when the probe runs."""

import ast
import sys
import types
from pathlib import Path

import numpy
import pytest

from runner import compat, ladder, protocol

EXPECTED = [[1.0], [2.0]]


def rung(mode: str, result: str, applies: bool = True) -> ladder.Rung:
    def load(keras, case, path):
        if result == "error":
            raise ValueError(f"{mode} cannot load")
        return ladder.Loaded(lambda inputs: numpy.asarray(EXPECTED if result == "ok" else [[9.0], [9.0]]), None)
    return ladder.Rung(mode, f"call {mode}", load, lambda keras, case, path: applies, mode == "unsafe")


@pytest.fixture(autouse=True)
def no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "clear_session", lambda keras: None)


INPUT = [(None, numpy.asarray([[0.5], [0.25]]))]
Inputs = list[tuple[str | None, numpy.ndarray]]


def climb(*rungs: ladder.Rung, probe: str = "error", expected: list[list[float]] | None = EXPECTED,
          inputs: Inputs | None = INPUT) -> list[tuple[str, str]]:
    return [(a["mode"], a["outcome"]) for a in climbed(*rungs, probe=probe, expected=expected, inputs=inputs)]


def climbed(*rungs: ladder.Rung, probe: str = "error", expected: list[list[float]] | None = EXPECTED,
            inputs: Inputs | None = INPUT) -> list[dict]:
    """The ladder's attempts, the rungs giving one output named ``y`` as the worker's do."""
    probes = ladder.named_probes({"documented": rung("probe: no custom_objects", probe)}, ["y"])
    named = None if expected is None else [("y", expected)]
    return ladder.run_ladder(None, None, "model.h5", inputs, named, ladder.named_rungs(rungs, ["y"]), probes)


def test_stops_at_the_first_rung_that_predicts_right() -> None:
    assert climb(rung("a", "error"), rung("b", "ok"), rung("c", "ok")) == [("a", "error"), ("b", "ok")]


def test_with_nothing_to_predict_on_the_first_load_ends_the_climb() -> None:
    assert climb(rung("a", "error"), rung("b", "mismatch"), rung("c", "ok"), inputs=None) == [
        ("a", "error"), ("b", "loaded")]


def test_climbs_past_a_wrong_prediction_and_skips_rungs_that_do_not_apply() -> None:
    attempts = climb(rung("a", "mismatch"), rung("b", "ok", applies=False), rung("unsafe", "ok"))
    assert attempts == [("a", "mismatch"), ("unsafe", "ok")]


def test_probe_follows_only_a_documented_success() -> None:
    assert climb(rung("documented", "ok"), probe="ok") == [
        ("documented", "ok"), ("probe: no custom_objects", "ok")]
    assert climb(rung("documented", "mismatch")) == [("documented", "mismatch")]


def test_without_an_expected_output_the_first_prediction_is_right_and_nothing_is_probed() -> None:
    """`matrix check`'s reference step: what the first loading rung predicts becomes the reference."""
    assert climb(rung("a", "error"), rung("documented", "mismatch"), probe="ok", expected=None) == [
        ("a", "error"), ("documented", "ok")]


def test_attempts_record_the_call_and_safety() -> None:
    rungs = (rung("a", "error"), rung("unsafe", "ok"))
    first, second = climbed(*rungs)
    assert first["error"]["message"] == "a cannot load" and first["stage"] == "load"
    assert (second["call"], second["unsafe"], second["max_abs_diff"]) == ("call unsafe", True, 0.0)


def test_every_format_has_its_ladder() -> None:
    assert set(ladder.LADDERS) == set(protocol.FORMAT_NAMES)


def test_only_the_rung_named_for_it_turns_safe_mode_off() -> None:
    """Models are untrusted input: every other rung (and every probe) keeps Keras's safe_mode on."""
    tree = ast.parse(Path(ladder.__file__).read_text())
    unsafe_calls = [function.name for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
                    for node in ast.walk(function) if isinstance(node, ast.keyword) and node.arg == "safe_mode"]
    assert unsafe_calls == ["load_unsafe"]
    rungs = (*ladder.LADDER, *ladder.PROBES.values())
    assert [(r.mode, r.unsafe) for r in rungs if r.load is ladder.load_unsafe or r.unsafe] == [
        ("safe_mode=False", True)]


class Trainable:
    """Stands in for a model a load gave back: compiled or not; a training step moves its
    predictions by ``step`` (or raises, with ``step`` None)."""

    def __init__(self, compiled: bool, step: float | None = 0.0) -> None:
        self.optimizer = object() if compiled else None
        self.compiled = compiled
        self.step, self.trained = step, False

    def train_on_batch(self, features, targets):
        if self.step is None:
            raise ValueError("Unknown variable")
        self.trained = True

    def outputs(self, inputs):
        return numpy.asarray(EXPECTED) + (self.step if self.trained else 0.0)


def model_rung(model: Trainable, fidelity: str | None = None) -> ladder.Rung:
    return ladder.Rung("documented", "load", lambda keras, case, path: ladder.Loaded(model.outputs, model),
                       lambda keras, case, path: True, False, fidelity)


def resumed(model: Trainable, fidelity: str | None = None) -> dict:
    """The one attempt on ``model``, with a trained case's resume step: the producer's outputs
    after it are the reference's."""
    named = ladder.named_rungs([model_rung(model, fidelity)], ["y"])
    resume = ((None, None), [("y", EXPECTED)])
    attempts = ladder.run_ladder(None, None, "model.h5", INPUT, [("y", EXPECTED)], named, {}, resume=resume)
    return attempts[0]


def test_an_attempt_says_what_its_load_gave_back() -> None:
    assert resumed(Trainable(compiled=True))["fidelity"] == "full"
    assert resumed(Trainable(compiled=False))["fidelity"] == "recompile"
    assert resumed(Trainable(compiled=True), fidelity="inference-only")["fidelity"] == "inference-only"
    assert climbed(rung("a", "error"))[0]["fidelity"] is None  # nothing loaded


def test_a_compiled_load_takes_the_next_training_step_and_a_different_one_is_a_resume_mismatch() -> None:
    same = resumed(Trainable(compiled=True, step=0.0))
    assert same["resume"] == {"outcome": "ok", "max_abs_diff": 0.0, "error": None}
    assert protocol.loaded_cell([same])["verdict"] == "ok"
    moved = resumed(Trainable(compiled=True, step=0.01))
    assert moved["outcome"] == "ok" and moved["resume"]["outcome"] == "mismatch"
    assert moved["resume"]["max_abs_diff"] == pytest.approx(0.01)
    failing = resumed(Trainable(compiled=True, step=None))
    assert failing["resume"]["outcome"] == "error" and failing["resume"]["error"]["message"] == "Unknown variable"
    for attempt in (moved, failing):
        cell = protocol.loaded_cell([attempt])
        assert (cell["verdict"], cell["fidelity"]) == ("resume-mismatch", "full")


def test_a_load_that_is_not_compiled_as_saved_takes_no_step() -> None:
    assert "resume" not in resumed(Trainable(compiled=False, step=0.01))
    assert "resume" not in resumed(Trainable(compiled=True, step=0.01), fidelity="rebuilt")


class Weights:
    def __init__(self, weights: list[numpy.ndarray]) -> None:
        self.weights = weights

    def get_weights(self) -> list[numpy.ndarray]:
        return self.weights

    def set_weights(self, weights: list[numpy.ndarray]) -> None:
        self.weights = weights


def test_a_model_built_to_take_weights_has_every_number_moved_off_its_value() -> None:
    floats, counts, words = numpy.ones((2, 2), "float32"), numpy.zeros(3, "int64"), numpy.array(["a"])
    moved = ladder.scrambled(Weights([floats, counts, words])).get_weights()
    assert moved[0].dtype == "float32" and (moved[0] == 1.5).all()
    assert moved[1].dtype == "int64" and (moved[1] == 1).all()
    assert moved[2].tolist() == ["a"]


def test_the_weights_of_an_artifact_folder_are_its_one_file_or_checkpoint_prefix(tmp_path: Path) -> None:
    for name in ("ckpt.index", "ckpt.data-00000-of-00001", "checkpoint"):
        (tmp_path / "tf" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "tf" / name).write_text("")
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "model.json").write_text("{}")
    (tmp_path / "json" / "weights.h5").write_text("")
    assert ladder.weights_path(str(tmp_path / "tf")) == str(tmp_path / "tf" / "ckpt")
    assert ladder.weights_path(str(tmp_path / "json")) == str(tmp_path / "json" / "weights.h5")
    assert ladder.weights_path(str(tmp_path / "json" / "weights.h5")) == str(tmp_path / "json" / "weights.h5")


class Model:
    """Stands in for a loaded Keras model: which predict method ran, and how."""

    run_eagerly = False

    def predict(self, inputs, verbose=1):
        return "predict"

    def predict_on_batch(self, inputs):
        return "predict_on_batch, eagerly" if self.run_eagerly else "predict_on_batch"


class Refusing(Model):
    """A Keras that will not run this model's steps eagerly."""

    @property
    def run_eagerly(self):
        return False

    @run_eagerly.setter
    def run_eagerly(self, value):
        raise ValueError("this model cannot run eagerly")


@pytest.mark.parametrize(("eager", "major"), [(False, 2), (True, 2), (True, 3), (True, None)])
def test_tuned_predictions_take_the_predict_step_eagerly_in_eager_tf_and_stock_ones_predict(
        monkeypatch: pytest.MonkeyPatch, eager: bool, major: int | None) -> None:
    monkeypatch.setattr(compat, "tuned_and_eager", lambda: compat.RUNTIME["tuned"] and eager)
    monkeypatch.setattr(compat, "keras_major_of", lambda model: major)
    monkeypatch.setitem(sys.modules, "keras", keras_converting_to(Tensor))
    monkeypatch.setitem(compat.RUNTIME, "tuned", False)
    assert ladder.keras_predictor(Model()).predict(EXPECTED) == "predict"
    monkeypatch.setitem(compat.RUNTIME, "tuned", True)
    expected = "predict_on_batch, eagerly" if eager and major else "predict_on_batch"
    assert ladder.keras_predictor(Model()).predict(EXPECTED) == expected
    assert ladder.keras_predictor(Refusing()).predict(EXPECTED) == "predict_on_batch"


def keras_converting_to(tensor_type: type) -> types.ModuleType:
    """A stand-in ``keras`` whose ``ops.convert_to_tensor`` wraps an array in ``tensor_type``."""
    keras = types.ModuleType("keras")
    keras.ops = types.SimpleNamespace(convert_to_tensor=tensor_type)  # type: ignore[attr-defined]
    return keras


def test_keras_3_eager_steps_take_tensors_as_its_traced_step_converts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", keras_converting_to(Tensor))
    first, second, text = numpy.zeros(2), numpy.ones(3), Tensor(numpy.array(["a"]))
    converted = compat.as_tensors([first, second, text])
    assert [type(value) for value in converted] == [Tensor, Tensor, Tensor]
    assert converted[2] is text  # a tensor stays as it is
    assert set(compat.as_tensors({"a": first})) == {"a"}


def test_a_model_says_its_keras_by_the_package_of_its_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_keras = types.ModuleType("keras")
    fake_keras.__version__ = "3.15.1"
    monkeypatch.setitem(sys.modules, "keras", fake_keras)
    keras3_model = type("Model", (), {"__module__": "keras.src.models.model"})
    subclassed = type("MyModel", (keras3_model,), {"__module__": "runner.cases.subclassed_model"})
    tf_keras2 = type("Model", (), {"__module__": "tensorflow.python.keras.engine.training"})
    assert compat.keras_major_of(subclassed()) == 3
    assert compat.keras_major_of(tf_keras2()) == 2
    assert compat.keras_major_of(object()) is None


def test_an_object_without_predict_fails_as_predict_does_when_tuned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(compat.RUNTIME, "tuned", True)
    with pytest.raises(AttributeError, match="has no attribute 'predict'"):
        ladder.keras_predictor(object()).predict(EXPECTED)


class Tensor:
    def __init__(self, value):
        self.value = value

    def numpy(self):
        return self.value


def test_tensors_from_the_compiled_step_come_back_as_arrays_as_from_predict() -> None:
    assert compat.as_numpy(Tensor(1.0)) == 1.0
    assert compat.as_numpy([Tensor(1.0), 2.0]) == [1.0, 2.0]
    assert compat.as_numpy({"out": Tensor(3.0)}) == {"out": 3.0}


class Namespace:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def test_a_case_is_unavailable_where_keras_lacks_what_it_requires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(__version__="2.3.4"))
    monkeypatch.setattr(compat, "keras_version", lambda keras: "2.4.0")
    old = Namespace(layers=Namespace(Dense=object), utils=Namespace())
    assert compat.missing_api(old, ("layers.Dense",)) is None
    assert compat.missing_api(old, ("layers.Dense", "layers.MultiHeadAttention", "utils.x")) == (
        "keras.layers.MultiHeadAttention does not exist in Keras 2.4.0 (TensorFlow 2.3.4)")
    assert compat.missing_api(old, ("mixed_precision.set_global_policy",)).startswith("keras.mixed_precision.")


def keras_at(version: str, package: str, backend: str = "tensorflow") -> Namespace:
    """A stand-in Keras whose Layer lives in ``package``, running its models on ``backend``."""
    layer = type("Layer", (), {"__module__": package + ".engine.base_layer"})
    return Namespace(__version__=version, layers=Namespace(Layer=layer), backend=Namespace(backend=lambda: backend))


def test_what_standalone_keras_lacks_is_named_with_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured on keras 2.1.6, 2.2.5 and 2.3.1 (matrix/stacks.toml): the features of the cases
    that fail there, each unavailable with the reason, not an error; tf.keras of TF 1.15 has them."""
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(__version__="1.15.5"))
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(__version__="2.1.6"))
    standalone_2_1 = keras_at("2.1.6", "keras")
    assert compat.missing_api(standalone_2_1, ("deferred_sequential",)) == (
        "standalone Keras 2.1.6 needs the first layer of a Sequential model to get an input_shape: "
        "a Sequential built on its first call came with Keras 2.2")
    assert compat.missing_api(standalone_2_1, ("model_subclassing",)).startswith("standalone Keras 2.1.6's Model")
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(__version__="2.3.1"))
    standalone_2_3 = keras_at("2.3.1", "keras")
    assert compat.missing_api(standalone_2_3, ("deferred_sequential", "model_subclassing")) is None
    assert "a dict of outputs is tf.keras's" in compat.missing_api(standalone_2_3, ("dict_outputs",))
    tf_keras_1_15 = keras_at("2.2.4-tf", "tensorflow")
    assert compat.missing_api(tf_keras_1_15, ("deferred_sequential", "model_subclassing", "dict_outputs")) is None


@pytest.mark.parametrize(("backend", "unavailable"), [
    ("tensorflow", set()),
    ("torch", {"tensorflow_ops", "string_tensors"}),
    ("jax", {"tensorflow_ops", "tensorflow_ops_eager", "string_tensors"})])
def test_what_keras_3_cannot_run_on_jax_and_torch_is_named_with_the_backend(
        monkeypatch: pytest.MonkeyPatch, backend: str, unavailable: set[str]) -> None:
    """Measured on Keras 3.11 and 3.15: a layer calling tf.nn.relu runs eagerly on PyTorch but not
    traced on JAX; a loss or activation of TensorFlow ops and string inputs run on neither."""
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(__version__="3.15.1"))
    keras = keras_at("3.15.1", "keras", backend)
    features = ("tensorflow_ops", "tensorflow_ops_eager", "string_tensors")
    reasons = {name: compat.missing_api(keras, (name,)) for name in features}
    assert {name for name, reason in reasons.items() if reason} == unavailable
    assert all(f"Keras 3.15.1 on {backend}" in reasons[name] for name in unavailable)


def test_an_export_that_pytorch_refuses_is_unsupported_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras 3.11 on torch asks for torch_xla; on TensorFlow an export failure stays the model's error."""
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(__version__="3.11.3"))
    refused = ImportError("This requires the torch_xla module. You can install it via `pip install torch-xla`.\nMore")
    assert compat.export_refused(keras_at("3.11.3", "keras", "torch"), "savedmodel", refused) == (
        "model.export on Keras 3.11.3's torch backend raised ImportError: This requires the torch_xla module. "
        "You can install it via `pip install torch-xla`.")
    assert compat.export_refused(keras_at("3.11.3", "keras", "tensorflow"), "savedmodel", refused) is None
    assert compat.export_refused(keras_at("3.11.3", "keras", "torch"), "keras", refused) is None


def test_several_outputs_are_compared_by_name_whatever_their_order() -> None:
    """A dict of outputs (Keras 3, or a dict-output model) against the reference's list order."""
    tags, score = numpy.asarray([[0.2, 0.8]]), numpy.asarray([[1.5]])
    expected = [("score", score.tolist()), ("tags", tags.tolist())]
    as_dict = ladder.named_outputs({"tags": tags, "score": score}, ["score", "tags"])
    assert ladder.compare_outputs(as_dict, expected)["outcome"] == "ok"
    as_list = ladder.named_outputs([score, tags + 0.5], ["score", "tags"])  # a list takes the reference's names
    compared = ladder.compare_outputs(as_list, expected)
    assert compared["outcome"] == "mismatch" and compared["max_abs_diff"] == pytest.approx(0.5)
    assert [o["outcome"] for o in compared["outputs"]] == ["ok", "mismatch"]
