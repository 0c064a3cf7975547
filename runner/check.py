"""The check worker: a user's own model files through one stack's load ladder.

    python -m runner.check predict JOBFILE   the reference: the first rung that loads, and
                                             what it predicts on the sample input
    python -m runner.check load JOBFILE      the ladder, compared with the chosen reference

Same protocol as ``python -m runner`` (heartbeat, one atomic record per cell). A cell names a
file copied into the workspace, its format, the sample input (a .npy/.npz, or None: built here
from the model's inputs as its file declares them), the user's custom objects and whether unsafe
rungs may run.

Inputs and outputs are named lists of arrays: every input the model takes, in its order, and
every output it gives, each compared with the reference's by name (by position where the names
differ, as a Keras 3 export's ``output_0`` and the layer's name do).

The matrix never imports this module, so editing it leaves the matrix's records fresh.
"""

import collections
import importlib
import json
import os
import sys

from runner import ladder
from runner.protocol import WEIGHTS_FORMATS, describe_error, failed_cell, loaded_cell, read_json
from runner.worker import fixed_input, main

SEQUENCE_STEPS = 8  # the length given to an input dimension the model leaves open
INTEGER_VALUES = 10  # integer inputs no layer bounds take values below this
INDEX_LAYERS = ("Embedding",)  # layers whose input must be integer indices below their input_dim

InputSpec = collections.namedtuple("InputSpec", "name shape dtype index_limit")
"""One model input as its file declares it: ``name`` (None when unnamed), ``shape`` (None for
an open dimension), ``dtype``, and ``index_limit``: the ``input_dim`` of an ``Embedding`` it
feeds, so its values are indices below it whatever dtype it declares (None: no such layer)."""


class NoInput(Exception):
    """No input could be built for the model: the check loads it and says so."""


def predict_cell(keras, cell):
    """The reference candidate: the first rung that loads and predicts, and what it predicted."""
    user, problem = user_objects(cell)
    if problem:
        return problem
    architecture = architecture_of(keras, user, cell)
    inputs, no_input = given_input(cell, architecture)
    return dict(predict_with_first_rung(keras, user, cell, inputs, no_input, architecture),
                origin=file_origin(cell["file"], cell["format"]))


def load_cell(keras, cell):
    """The ladder, compared with the chosen reference (or the user's --expected outputs)."""
    user, problem = user_objects(cell)
    if problem:
        return problem
    architecture = architecture_of(keras, user, cell)
    try:
        inputs, expected, no_input = sample_of(cell, architecture)
    except Exception as exc:  # an --expected file that does not read
        return failed("the expected outputs do not read", exc)
    names = output_names(architecture.config) if architecture.config else ()
    attempts = ladder.run_ladder(keras, user, cell["file"], inputs, expected, cell_rungs(cell, names),
                                 user_probes(names), compare_outputs)
    return dict(with_input_problem(loaded_cell(attempts), no_input), origin=file_origin(cell["file"], cell["format"]))


def with_input_problem(result, no_input):
    """A cell that could not be predicted says why, as its error (the tool's, not Keras')."""
    if no_input is not None and result["verdict"] == "not-predicted":
        result["error"] = describe_error(no_input)
    return result


def user_objects(cell):
    """The user's custom objects, or the failed cell that says they do not import here."""
    user = UserObjects(cell["custom_objects"], cell["code_dir"], cell.get("build"))
    try:
        user.custom_objects()
    except Exception as exc:  # the user's module does not import in this stack: nothing can load
        return user, failed("importing the custom objects ({}) failed".format(", ".join(cell["custom_objects"])), exc)
    return user, None


def failed(what, exc):
    """An ``error`` cell that never reached the ladder, with the reason first in its message."""
    error = describe_error(exc)
    error["message"] = "{}: {}: {}".format(what, error["type"], error["message"])
    return failed_cell("error", error)


class UserObjects:
    """The user's custom objects, in the shape the ladder's rungs ask a case for.

    Each spec is ``package.module`` (every public class and function the module defines) or
    ``package.module:Name,Other``; ``build_spec``, ``package.module:function``, names the
    function that builds the model a weights file belongs to (``--build``). Their code was copied
    to ``code_dir``, put first on sys.path.
    """

    def __init__(self, specs, code_dir, build_spec=None):
        self.specs = list(specs)
        self.code_dir = code_dir
        self.build_spec = build_spec
        self._objects = None

    def custom_objects(self):
        if self._objects is None:
            self.on_path()
            self._objects = objects_of(self.specs, importlib.import_module)
        return dict(self._objects)

    def on_path(self):
        if self.code_dir and self.code_dir not in sys.path:
            sys.path.insert(0, os.path.abspath(self.code_dir))

    def build(self):
        """A new model from the --build function, or an error that says what it gave instead."""
        if not self.build_spec:
            raise ValueError("weights only, and no --build function or --architecture file to load them into")
        self.on_path()
        module_name, _, name = self.build_spec.partition(":")
        function = getattr(importlib.import_module(module_name), name, None)
        if not callable(function):
            raise AttributeError("--build {}: {} has no function {!r}".format(self.build_spec, module_name, name))
        model = function()
        if not (hasattr(model, "load_weights") and hasattr(model, "to_json")):
            raise TypeError("--build {} returned {}, not a Keras model".format(self.build_spec, type(model).__name__))
        return model

    def under(self, other_keras):
        """The same objects imported afresh while ``tensorflow.keras`` is ``other_keras``
        (tf_keras beside Keras 3), so they subclass that Keras' classes."""
        import tensorflow as tf

        user_modules = {name for name, module in sys.modules.items() if self.is_user_code(module)}
        kept = {name: sys.modules.pop(name) for name in user_modules}
        original, tf.keras = tf.keras, other_keras
        try:
            return objects_of(self.specs, importlib.import_module)
        finally:
            tf.keras = original
            for name in [name for name, module in sys.modules.items() if self.is_user_code(module)]:
                del sys.modules[name]
            sys.modules.update(kept)

    def is_user_code(self, module):
        path = os.path.abspath(getattr(module, "__file__", None) or "/")
        return bool(self.code_dir) and path.startswith(os.path.abspath(self.code_dir) + os.sep)


def objects_of(specs, import_module):
    objects = {}
    for spec in specs:
        module_name, _, names = spec.partition(":")
        module = import_module(module_name)
        if names:
            wanted = [name.strip() for name in names.split(",") if name.strip()]
        else:
            wanted = [name for name, value in vars(module).items()
                      if not name.startswith("_") and callable(value)
                      and getattr(value, "__module__", None) == module.__name__]
        for name in wanted:
            if not hasattr(module, name):
                raise AttributeError("{} has no {!r} (from --custom-objects {})".format(module_name, name, spec))
            objects[name] = getattr(module, name)
    return objects


def load_user_with_tf_keras(keras, user, path):
    """tf_keras beside Keras 3, with the user's classes rebuilt on it."""
    from runner.compat import legacy_keras

    tf_keras = legacy_keras(keras)
    objects = user.under(tf_keras) if user.specs else None
    return ladder.keras_predictor(tf_keras.models.load_model(path, custom_objects=objects, compile=False))


def cell_rungs(cell, output_names):
    """The rungs for the cell's file: the model ladder, or for weights the ways to load them."""
    if cell["format"] in WEIGHTS_FORMATS:
        model = MODEL_SOURCES["architecture" if cell.get("architecture") else "build"]
        rungs = [rung._replace(mode=model.mode + rung.mode, call="{}; {}".format(model.call, rung.call),
                               load=weights_loader(model.load(cell.get("architecture")), rung.load))
                 for rung in WEIGHTS_RUNGS]
        return [rung._replace(load=naming(rung, output_names)) for rung in rungs]
    return user_rungs(cell["unsafe"], output_names)


def built_model(_architecture):
    def build(keras, user):
        """``--build``: the user's function builds the model."""
        return user.build()
    return build


def model_from_architecture(architecture):
    def from_json(keras, user):
        """``--architecture``: ``model_from_json`` of the ``to_json()`` file."""
        with open(architecture) as handle:
            return keras.models.model_from_json(handle.read(), custom_objects=user.custom_objects())
    return from_json


def weights_loader(make_model, load_weights):
    def load(keras, user, path):
        model = make_model(keras, user)
        load_weights(model, path)
        return ladder.keras_predictor(model)
    return load


def load_weights_as_named(model, path):
    model.load_weights(weights_path(path))


def load_weights_renamed_h5(model, path):
    """A legacy HDF5 weights file under a ``.weights.h5`` name, copied to a ``.h5`` name: Keras
    2.13+ and 3 read a ``.weights.h5`` name as the new weights layout (measured: TF 2.15, Keras 3.15)."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="renamed-")
    try:
        renamed = os.path.join(folder, "model.h5")
        shutil.copyfile(path, renamed)
        model.load_weights(renamed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def is_legacy_weights_named_new(keras, user, path):
    """A ``.weights.h5`` name on a legacy HDF5 weights file (``save_weights`` of Keras before 2.13,
    whose root attributes name its layers)."""
    if not (os.path.isfile(path) and path.endswith(".weights.h5")):
        return False
    import h5py

    with h5py.File(path, "r") as handle:
        return "layer_names" in handle.attrs


def weights_path(path):
    """What ``load_weights`` takes: the file, or a checkpoint folder's prefix (its .index, cut)."""
    if os.path.isdir(path):
        indexes = [name for name in sorted(os.listdir(path)) if name.endswith(".index")]
        if len(indexes) == 1:
            return os.path.join(path, indexes[0][:-len(".index")])
    return path


ModelSource = collections.namedtuple("ModelSource", "mode call load")
MODEL_SOURCES = {  # where a weights file's model comes from, and how its rungs are named
    "build": ModelSource("--build + ", "model = build()", built_model),
    "architecture": ModelSource("model_from_json + ", "model = model_from_json(open(json).read(), custom_objects=...)",
                                model_from_architecture),
}
WEIGHTS_RUNGS = (  # load is (model, path) -> None here; cell_rungs puts the model's source before it
    ladder.Rung("load_weights", "model.load_weights(path)", load_weights_as_named, ladder.always, False),
    ladder.Rung("load_weights, renamed to .h5", "model.load_weights(copy named *.h5)", load_weights_renamed_h5,
                is_legacy_weights_named_new, False),
)


def user_rungs(unsafe, output_names=()):
    """The matrix's ladder, minus ``safe_mode=False`` unless the user trusts the files, with a
    tf_keras rung that rebuilds the user's classes instead of a reference case's, each rung
    taking the named inputs and giving named outputs."""
    rungs = []
    for rung in ladder.LADDER:
        if rung.unsafe and not unsafe:
            continue
        if rung.mode == "tf_keras":
            rung = rung._replace(load=load_user_with_tf_keras)
        rungs.append(rung._replace(load=naming(rung, output_names)))
    return rungs


def user_probes(output_names=()):
    return {mode: probe._replace(load=naming(probe, output_names)) for mode, probe in ladder.PROBES.items()}


def naming(rung, output_names):
    """The rung's load, fed the model's inputs the way its call takes them (a serving signature
    by name, Keras in order) and giving every output by name."""
    def load_named(keras, user, path):
        predict = rung.load(keras, user, path)
        by_name = rung.mode in ladder.SERVING_MODES
        return lambda inputs: named_outputs(predict(model_input(inputs, by_name)), output_names)
    load_named.output_names = tuple(output_names)
    return load_named


def model_input(inputs, by_name):
    """Named arrays as a call takes them: one array alone; several as a list in the model's
    order, or as a dict by name for a serving signature (when every input has a name)."""
    if len(inputs) == 1:
        return inputs[0][1]
    if by_name and all(name for name, _array in inputs):
        return {name: array for name, array in inputs}
    return [array for _name, array in inputs]


def named_outputs(outputs, names):
    """Every output as ``[name, float64 array]``: a dict's by its keys, a list's by the names the
    file declares (``output_N`` when it declares none, or another count)."""
    import numpy

    if isinstance(outputs, dict):
        pairs = list(outputs.items())
    else:
        values = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        labels = list(names) if len(names) == len(values) else ["output_{}".format(i) for i in range(len(values))]
        pairs = [(labels[index], value) for index, value in enumerate(values)]
    return [[str(name), numpy.asarray(ladder.as_array(value), dtype="float64")] for name, value in pairs]


def compare_outputs(predicted, expected):
    """Each output against the expected one of its name (of its position when the names differ):
    ``max_abs_diff`` the worst, ``outputs`` each one's; another count of outputs is a mismatch."""
    pairs = paired_outputs(predicted, expected)
    if pairs is None:
        return {"max_abs_diff": None, "outcome": "mismatch",
                "outputs": [{"name": name, "max_abs_diff": None, "outcome": "mismatch"} for name, _ in predicted]}
    outputs = []
    for name, mine, theirs in pairs:
        diff, outcome = ladder.compare(mine, theirs)
        outputs.append({"name": name, "max_abs_diff": diff, "outcome": outcome})
    diffs = [o["max_abs_diff"] for o in outputs]
    worst = None if None in diffs else max(diffs, default=0.0)
    ok = all(o["outcome"] == "ok" for o in outputs)
    return {"max_abs_diff": worst, "outcome": "ok" if ok else "mismatch", "outputs": outputs}


def paired_outputs(predicted, expected):
    """``[(name, predicted, expected)]`` by name, else by position; None when the counts differ."""
    if len(predicted) != len(expected):
        return None
    theirs = dict((name, values) for name, values in expected)
    if set(theirs) == set(name for name, _ in predicted) and len(theirs) == len(expected):
        return [(name, values, theirs[name]) for name, values in predicted]
    return [(name, values, expected[index][1]) for index, (name, values) in enumerate(predicted)]


def predict_with_first_rung(keras, user, cell, inputs, no_input, architecture):
    """The first rung that loads and predicts, and its predictions: a reference candidate."""
    captured = {}

    def capturing(load):
        def load_and_keep(keras, user, path):
            predict = load(keras, user, path)

            def predict_and_keep(model_input):
                captured["outputs"] = predict(model_input)
                return captured["outputs"]
            return predict_and_keep
        load_and_keep.output_names = load.output_names
        return load_and_keep

    names = output_names(architecture.config) if architecture.config else ()
    rungs = [rung._replace(load=capturing(rung.load)) for rung in cell_rungs(cell, names)]
    attempts = ladder.run_ladder(keras, user, cell["file"], inputs, None, rungs)
    predicted = attempts and attempts[-1]["outcome"] == "ok"
    result = dict(with_input_problem(loaded_cell(attempts), no_input),
                  loaded_by=attempts[-1]["mode"] if predicted else None)
    if predicted:
        result["reference_data"] = {
            "inputs": [{"name": name, "dtype": str(array.dtype), "values": array.tolist()} for name, array in inputs],
            "outputs": [{"name": name, "values": values.tolist()} for name, values in captured["outputs"]]}
    return result


def sample_of(cell, architecture):
    """The input, the outputs to expect (the chosen reference's, the user's own, or None), and
    why no input could be built (None when there is one)."""
    import numpy

    if cell.get("reference"):
        reference = read_json(cell["reference"])
        inputs = [(entry["name"], numpy.asarray(entry["values"], dtype=entry["dtype"]))
                  for entry in reference["inputs"]]
        return inputs, [(entry["name"], entry["values"]) for entry in reference["outputs"]], None
    expected = read_named_arrays(cell["expected"]) if cell.get("expected") else None
    inputs, no_input = given_input(cell, architecture)
    return inputs, expected, no_input


def given_input(cell, architecture):
    """``(named arrays, None)``, or ``(None, NoInput)`` when there is none that fits: none can be
    built here, or the user's does not fit the inputs the file declares."""
    unreadable = architecture.problem
    try:
        specs = input_specs(cell, architecture)
    except Exception as exc:  # e.g. a SavedModel this TensorFlow cannot read
        specs = None
        unreadable = "{}: {}".format(type(exc).__name__, exc)
    if cell.get("input"):
        given = read_named_arrays(cell["input"])
        misfit = specs and input_misfit(given, specs)
        return (None, NoInput("the --input does not fit the model: " + misfit)) if misfit else (given, None)
    if specs is None:
        return None, NoInput("no input could be built: reading the model's inputs failed ({}); "
                             "pass one with --input FILE.npy".format(unreadable or "no config"))
    if not specs:
        return None, NoInput("no input could be built: the file declares no input shape; "
                             "pass one with --input FILE.npy (or .npz, one array per input)")
    return [(spec.name, deterministic_array(spec)) for spec in specs], None


def input_misfit(given, specs):
    """What keeps the given arrays from being the model's inputs (their count, or a dimension the
    file fixes), or None; the batch dimension and open ones take any size."""
    if len(given) != len(specs):
        return "it holds {} array(s), the model takes {} ({})".format(
            len(given), len(specs), ", ".join(spec.name or "unnamed" for spec in specs))
    for index, spec in enumerate(specs):
        array = given[index][1]
        wanted, shape = list(spec.shape)[1:], list(array.shape)[1:]
        fixed = [position for position, size in enumerate(wanted) if size is not None]
        if len(shape) != len(wanted) or any(shape[position] != wanted[position] for position in fixed):
            return "array {} has shape {}, the model's input {} takes (batch, {})".format(
                index, tuple(array.shape), spec.name or index, ", ".join(
                    "any" if size is None else str(size) for size in wanted))
    return None


def read_named_arrays(path):
    """``[(name, array)]`` of a .npy (one, unnamed) or .npz (one per model input, in the file's
    order; names from ``numpy.savez(name=array)``, None for positional ``arr_N``)."""
    import numpy

    loaded = numpy.load(path, allow_pickle=False)
    if hasattr(loaded, "files"):
        with loaded:
            return [(None if name.startswith("arr_") else name, loaded[name]) for name in loaded.files]
    return [(None, loaded)]


def deterministic_array(spec):
    """The matrix's own fixed input (``worker.fixed_input``) in the spec's shape; indices below
    the Embedding's ``input_dim`` (in the declared dtype) for an input that feeds one; small
    integers from the same grid for other integer inputs (ids)."""
    import numpy

    grid = fixed_input([SEQUENCE_STEPS if d is None else int(d) for d in list(spec.shape)[1:]])
    if spec.index_limit:
        indices = numpy.floor((grid + 1.0) / 2.0 * spec.index_limit)  # the grid reaches 1.0: clip
        return numpy.minimum(indices, spec.index_limit - 1).astype(spec.dtype)
    if "int" in spec.dtype:
        return (numpy.rint((grid + 1.0) * 50.0) % INTEGER_VALUES).astype(spec.dtype)
    return grid.astype(spec.dtype)


Architecture = collections.namedtuple("Architecture", "config problem")
"""The model's config (``to_json()``'s form) as the file declares it, or for weights the one
``--architecture`` or the ``--build`` model gives; ``problem``: why there is none (None: read)."""


def architecture_of(keras, user, cell):
    from runner.compat import clear_session

    fmt = cell["format"]
    try:
        if fmt in WEIGHTS_FORMATS and cell.get("architecture"):
            with open(cell["architecture"]) as handle:
                return Architecture(json.load(handle), None)
        if fmt in WEIGHTS_FORMATS:
            try:
                return Architecture(json.loads(user.build().to_json()), None)
            finally:
                clear_session(keras)
        if fmt == "savedmodel":
            return Architecture(keras_metadata_config(cell["file"]), None)
        return Architecture(read_config(cell["file"], fmt), None)
    except Exception as exc:  # the rungs meet the same problem and record it
        return Architecture(None, "{}: {}".format(type(exc).__name__, exc))


def input_specs(cell, architecture):
    if cell["format"] == "savedmodel":
        return saved_model_specs(cell["file"], architecture.config)
    return config_specs(architecture.config) if architecture.config else None


NOT_RECORDED = "not recorded"
ORIGIN_FIELDS = {  # what each format can record of what wrote it
    "h5": ("keras_version", "backend"),
    "keras": ("keras_version", "date_saved"),
    "savedmodel": ("tensorflow_version", "keras_metadata", "keras_version", "backend"),
    "weights": ("keras_version", "backend"),
    "checkpoint": (),  # a TensorFlow checkpoint records no versions
}


def file_origin(path, fmt):
    """What the file records of what wrote it: ``keras_version`` and ``backend`` (HDF5 attributes,
    a SavedModel's Keras metadata), ``date_saved`` (a .keras file's metadata.json),
    ``tensorflow_version`` and ``keras_metadata`` (a SavedModel's: whether Keras 2 kept its own
    beside TensorFlow's); ``not recorded`` for each thing it does not say."""
    origin = dict.fromkeys(ORIGIN_FIELDS[fmt], NOT_RECORDED)
    try:
        recorded = recorded_origin(path, fmt)
    except Exception:  # a damaged or foreign file: the ladder says what is wrong with it
        recorded = {}
    origin.update((key, str(value)) for key, value in recorded.items() if key in origin and value not in (None, ""))
    return origin


def recorded_origin(path, fmt):
    if fmt == "checkpoint":
        return {}
    if fmt == "savedmodel":
        with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
            version = protobuf_field(handle.read(), 2, 1, 5)  # meta_graphs, meta_info_def, tensorflow_version
        keras = keras_metadata_config(path)
        recorded = {"tensorflow_version": version.decode("utf-8") if version else None,
                    "keras_metadata": "yes" if keras else "no"}
        if keras:
            recorded.update(keras_version=keras.get("keras_version"), backend=keras.get("backend"))
        return recorded
    if fmt == "keras":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json").decode("utf-8"))
        return {"keras_version": metadata.get("keras_version"), "date_saved": metadata.get("date_saved")}
    import h5py

    with h5py.File(path, "r") as handle:
        return {key: text_of(handle.attrs.get(key)) for key in ("keras_version", "backend")}


def text_of(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def read_config(path, fmt):
    if fmt == "keras":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json").decode("utf-8"))
    import h5py

    with h5py.File(path, "r") as handle:
        text = handle.attrs.get("model_config")
    if text is None:
        raise ValueError("this HDF5 file holds no model_config: weights only? Load it into its model's code")
    return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)


def model_layers(config):
    """The layer configs of a model config (a Sequential's old list form too)."""
    inner = config.get("config")
    if isinstance(inner, list):  # Keras before 2.2.3 wrote a Sequential as its list of layers
        return inner
    return (inner.get("layers") if isinstance(inner, dict) else None) or []


def config_specs(config):
    """One InputSpec per model input: from InputLayers in ``input_layers`` order, else the
    shape a Sequential's first layer or a subclassed model was built with."""
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    layers = model_layers(config)
    limits = index_limits(layers)
    input_layers, first_shaped = {}, []
    for layer in layers:
        layer_config = layer.get("config") or {}
        shape = plain_shape(layer_config.get("batch_input_shape") or layer_config.get("batch_shape"))
        if shape is None:
            continue
        name = layer_config.get("name", layer.get("name"))
        if layer.get("class_name") == "InputLayer":
            input_layers[name] = InputSpec(name, shape, dtype_name(layer_config), limits.get(name))
        elif not first_shaped:  # a Sequential's first layer, given input_shape=
            first_shaped.append(InputSpec(None, shape, dtype_name(layer_config), limits.get(name)))
    declared = inner.get("input_layers") or []
    if declared and isinstance(declared[0], str):  # Keras 3 writes one input as [name, 0, 0]
        declared = [declared]
    order = [entry[0] for entry in declared]
    if input_layers:
        return [input_layers[name] for name in order if name in input_layers] or list(input_layers.values())
    if first_shaped:
        return first_shaped
    built = plain_shape((config.get("build_config") or {}).get("input_shape") or inner.get("build_input_shape"))
    if built and all(isinstance(item, (list, dict)) for item in built):  # built with several inputs
        return [InputSpec(None, plain_shape(item), "float32", None) for item in built if plain_shape(item)]
    return [InputSpec(None, built, "float32", None)] if built else []


def plain_shape(shape):
    """A shape as a list: a SavedModel's Keras metadata writes ``{"class_name": "__tuple__",
    "items": [...]}`` where a config file has the list."""
    if isinstance(shape, dict):
        shape = shape.get("items")
    return list(shape) if isinstance(shape, (list, tuple)) else None


def index_limits(layers):
    """``{name: input_dim}`` for each input an Embedding reads directly: an InputLayer it is
    connected to, or (a Sequential, whose layers have no links) the layer before it when it is
    the model's first; the first layer's own name when that is the Embedding itself."""
    limits = {}
    sequential = not any(layer.get("inbound_nodes") for layer in layers)
    for index, layer in enumerate(layers):
        if layer.get("class_name") not in INDEX_LAYERS:
            continue
        limit = (layer.get("config") or {}).get("input_dim")
        if not isinstance(limit, int):
            continue
        if sequential:
            before = [other for other in layers[:index] if other.get("class_name") == "InputLayer"]
            if index == len(before):  # only InputLayers before it: it reads the model's input
                names = [(other.get("config") or {}).get("name", other.get("name")) for other in before]
                names.append((layer.get("config") or {}).get("name", layer.get("name")))
            else:
                names = []
        else:
            names = inbound_names(layer.get("inbound_nodes"))
        for name in names:
            limits[name] = min(limit, limits.get(name, limit))
    return limits


def inbound_names(nodes):
    """The layer names a functional config's ``inbound_nodes`` point to, in either Keras' form:
    ``[[name, node, tensor, kwargs]]`` lists (Keras 2) or ``keras_history`` (Keras 3)."""
    names = []
    if isinstance(nodes, dict):
        history = (nodes.get("config") or {}).get("keras_history") if nodes.get("class_name") == "__keras_tensor__" \
            else None
        if history:
            names.append(history[0])
        for value in nodes.values():
            names.extend(inbound_names(value))
    elif isinstance(nodes, list):
        if len(nodes) >= 3 and isinstance(nodes[0], str) and isinstance(nodes[1], int):
            names.append(nodes[0])
        else:
            for value in nodes:
                names.extend(inbound_names(value))
    return names


def output_names(config):
    """The output layers' names of a functional config, in order; a Sequential's last layer's."""
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    declared = inner.get("output_layers") or []
    if declared and isinstance(declared[0], str):
        declared = [declared]
    if declared:
        return tuple(entry[0] for entry in declared)
    layers = model_layers(config)
    last = (layers[-1].get("config") or {}).get("name") if layers else None
    return (last,) if last else ()


def dtype_name(layer_config):
    dtype = layer_config.get("dtype") or "float32"
    if isinstance(dtype, dict):  # Keras 3: a DTypePolicy config
        dtype = (dtype.get("config") or {}).get("name") or "float32"
    return dtype if dtype in ("float16", "float32", "float64", "int32", "int64") else "float32"


def saved_model_specs(path, keras_config=None):
    """The serving signature's inputs (it lists them by name), in the order of the Keras config
    beside it when there is one, with that config's Embedding limits (by input name; the one
    limit for a model of one input)."""
    import tensorflow as tf

    serving = tf.saved_model.load(path).signatures["serving_default"]
    args, kwargs = serving.structured_input_signature
    named = list(kwargs.items()) or [(None, spec) for spec in args]
    order = [spec.name for spec in config_specs(keras_config)] if keras_config else []
    if set(order) == set(name for name, _spec in named):  # the model's order, which Keras' calls take
        named.sort(key=lambda item: order.index(item[0]))
    limits = index_limits(model_layers(keras_config)) if keras_config else {}
    if len(named) == 1 and len(set(limits.values())) == 1:
        limits = {named[0][0]: next(iter(limits.values()))}
    return [InputSpec(name, spec.shape.as_list(), spec.dtype.name, limits.get(name)) for name, spec in named]


def keras_metadata_config(path):
    """The model's config as Keras 2 keeps it in a SavedModel (``keras_metadata.pb``: the root
    object's metadata is the first JSON in it with layers), or None (Keras 3's ``export`` and
    TensorFlow's own SavedModels keep none)."""
    metadata = os.path.join(path, "keras_metadata.pb")
    if not os.path.isfile(metadata):
        return None
    with open(metadata, "rb") as handle:
        data = handle.read()
    try:
        for chunk in protobuf_strings(data):
            entry = json_object(chunk)
            if entry and model_layers(entry):
                return entry
    except ValueError:  # not the message it should be: as if it kept none
        pass
    return None


def json_object(chunk):
    if not chunk.startswith(b"{"):
        return None
    try:
        entry = json.loads(chunk.decode("utf-8"))
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def protobuf_strings(data, depth=0):
    """Every length-delimited field of a serialized protobuf message, nested ones too, in order
    (the wire format, so no generated code of any TensorFlow version is needed)."""
    for _number, value in protobuf_fields(data):
        if not isinstance(value, bytes):
            continue
        yield value
        if depth < 4 and not value.startswith(b"{"):
            try:
                nested = list(protobuf_strings(value, depth + 1))
            except ValueError:  # not a message: a string or bytes
                nested = []
            for inner in nested:
                yield inner


def protobuf_field(data, *numbers):
    """The first value at a path of field numbers (``2, 1, 5``: field 5 of field 1 of field 2), or None."""
    for number, value in protobuf_fields(data):
        if number == numbers[0]:
            return value if len(numbers) == 1 else protobuf_field(value, *numbers[1:])
    return None


def protobuf_fields(data):
    """``(field number, value)`` of a message's fields: bytes when length-delimited, else an int
    (a varint; fixed-width values are skipped as None)."""
    position = 0
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = read_varint(data, position)
        elif wire in (1, 5):
            value, position = None, position + (8 if wire == 1 else 4)
        elif wire == 2:
            length, position = read_varint(data, position)
            value, position = data[position:position + length], position + length
        else:
            raise ValueError("not a protobuf message (wire type {})".format(wire))
        if position > len(data):
            raise ValueError("not a protobuf message (a field runs past its end)")
        yield number, value


def read_varint(data, position):
    value, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("not a protobuf message (a cut varint)")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        shift += 7
        if not byte & 0x80:
            return value, position


COMMANDS = {"predict": ("check-predict", predict_cell), "load": ("check-load", load_cell)}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], COMMANDS, "runner.check"))
