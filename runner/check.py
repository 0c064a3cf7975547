"""The check worker: a user's own model files through one stack's load ladder.

    python -m runner.check predict JOBFILE   the reference: the first rung that loads, and
                                             what it predicts on the sample input
    python -m runner.check load JOBFILE      the ladder, compared with the chosen reference

Same protocol as ``python -m runner`` (heartbeat, one atomic record per cell). A cell names a
file copied into the workspace, its format, the sample input (a .npy/.npz, or None: built here
from the model's input signature), the user's custom objects and whether unsafe rungs may run.

The matrix never imports this module, so editing it leaves the matrix's records fresh.
"""

import importlib
import json
import os
import sys

from runner import ladder
from runner.protocol import describe_error, failed_cell, loaded_cell, read_json
from runner.worker import fixed_input, main

SEQUENCE_STEPS = 8  # the length given to an input dimension the model leaves open


def predict_cell(keras, cell):
    """The reference candidate: the first rung that loads and predicts, and what it predicted."""
    user, problem = user_objects(cell)
    if problem:
        return problem
    try:
        inputs = given_input(cell)
    except Exception as exc:  # e.g. a SavedModel this TensorFlow cannot read: no input to build here
        return failed("no input for the model here (pass one with --input FILE.npy)", exc)
    return predict_with_first_rung(keras, user, cell["file"], user_rungs(cell["unsafe"]), inputs)


def load_cell(keras, cell):
    """The ladder, compared with the chosen reference (or the user's --expected outputs)."""
    user, problem = user_objects(cell)
    if problem:
        return problem
    try:
        inputs, expected = sample_of(cell)
    except Exception as exc:
        return failed("no input for the model here (pass one with --input FILE.npy)", exc)
    rungs = user_rungs(cell["unsafe"])
    return loaded_cell(ladder.run_ladder(keras, user, cell["file"], as_model_input(inputs), expected, rungs,
                                         user_probes()))


def user_objects(cell):
    """The user's custom objects, or the failed cell that says they do not import here."""
    user = UserObjects(cell["custom_objects"], cell["code_dir"])
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
    ``package.module:Name,Other``. Their code was copied to ``code_dir``, put first on sys.path.
    """

    def __init__(self, specs, code_dir):
        self.specs = list(specs)
        self.code_dir = code_dir
        self._objects = None

    def custom_objects(self):
        if self._objects is None:
            if self.code_dir and self.code_dir not in sys.path:
                sys.path.insert(0, os.path.abspath(self.code_dir))
            self._objects = objects_of(self.specs, importlib.import_module)
        return dict(self._objects)

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


def user_rungs(unsafe):
    """The matrix's ladder, minus ``safe_mode=False`` unless the user trusts the files, and with
    a tf_keras rung that rebuilds the user's classes instead of a reference case's."""
    rungs = []
    for rung in ladder.LADDER:
        if rung.unsafe and not unsafe:
            continue
        if rung.mode == "tf_keras":
            rung = rung._replace(load=load_user_with_tf_keras)
        rungs.append(rung._replace(load=flattening(rung.load)))
    return rungs


def flattening(load):
    """A rung whose predictions are one flat vector: every output of the model, in order."""
    def load_flat(keras, user, path):
        predict = load(keras, user, path)
        return lambda inputs: flatten(predict(inputs))
    return load_flat


def flatten(outputs):
    import numpy

    if isinstance(outputs, dict):
        outputs = [outputs[key] for key in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        parts = [numpy.asarray(getattr(o, "numpy", lambda o=o: o)(), dtype="float64").ravel() for o in outputs]
        return numpy.concatenate(parts) if parts else numpy.zeros(0)
    return numpy.asarray(getattr(outputs, "numpy", lambda: outputs)(), dtype="float64").ravel()


def user_probes():
    return {mode: probe._replace(load=flattening(probe.load)) for mode, probe in ladder.PROBES.items()}


def predict_with_first_rung(keras, user, path, rungs, inputs):
    """The first rung that loads and predicts, and its predictions: a reference candidate."""
    captured = {}

    def capturing(load):
        def load_and_keep(keras, user, path):
            predict = load(keras, user, path)

            def predict_and_keep(model_input):
                captured["output"] = predict(model_input)
                return captured["output"]
            return predict_and_keep
        return load_and_keep

    rungs = [rung._replace(load=capturing(rung.load)) for rung in rungs]
    attempts = ladder.run_ladder(keras, user, path, as_model_input(inputs), None, rungs)
    predicted = attempts and attempts[-1]["outcome"] == "ok"
    result = dict(loaded_cell(attempts), loaded_by=attempts[-1]["mode"] if predicted else None)
    if predicted:
        result["reference_data"] = {"inputs": [a.tolist() for a in inputs], "dtypes": [str(a.dtype) for a in inputs],
                                    "output": captured["output"].tolist()}
    return result


def sample_of(cell):
    """The input and the outputs to expect: the chosen reference's, or the user's own files."""
    if cell.get("reference"):
        reference = read_json(cell["reference"])
        return arrays_from_lists(reference["inputs"], reference["dtypes"]), reference["output"]
    expected = flatten(read_arrays(cell["expected"])).tolist() if cell.get("expected") else None
    return given_input(cell), expected


def given_input(cell):
    return read_arrays(cell["input"]) if cell.get("input") else input_from_signature(cell["file"], cell["format"])


def read_arrays(path):
    """The arrays of a .npy (one) or .npz (one per model input, in the file's order)."""
    import numpy

    loaded = numpy.load(path, allow_pickle=False)
    if hasattr(loaded, "files"):
        with loaded:
            return [loaded[name] for name in loaded.files]
    return [loaded]


def arrays_from_lists(lists, dtypes):
    import numpy

    return [numpy.asarray(lists[index], dtype=dtypes[index]) for index in range(len(lists))]


def as_model_input(arrays):
    return arrays[0] if len(arrays) == 1 else list(arrays)


def input_from_signature(path, fmt):
    """A deterministic input for each of the model's inputs, from the shapes its file declares."""
    specs = saved_model_specs(path) if fmt == "savedmodel" else config_specs(read_config(path, fmt))
    if not specs:
        raise ValueError("no input shape found in the model's config; pass a sample input with --input FILE.npy")
    return [deterministic_array(shape, dtype) for shape, dtype in specs]


def deterministic_array(shape, dtype):
    """The matrix's own fixed input (``worker.fixed_input``) in this shape; small integers
    from the same grid for integer inputs (ids, token indices)."""
    import numpy

    grid = fixed_input([SEQUENCE_STEPS if d is None else int(d) for d in list(shape)[1:]])
    if "int" in dtype:
        return (numpy.rint((grid + 1.0) * 50.0) % 10).astype(dtype)
    return grid.astype(dtype)


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


def config_specs(config):
    """(shape, dtype) per model input: from InputLayers in ``input_layers`` order, else the
    shape a Sequential or subclassed model was built with."""
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    layers = inner.get("layers") or []
    input_layers, first_shaped = {}, []
    for layer in layers:
        layer_config = layer.get("config") or {}
        shape = layer_config.get("batch_input_shape") or layer_config.get("batch_shape")
        if shape is None:
            continue
        spec = (shape, dtype_name(layer_config))
        if layer.get("class_name") == "InputLayer":
            input_layers[layer_config.get("name", layer.get("name"))] = spec
        elif not first_shaped:
            first_shaped.append(spec)  # a Sequential's first layer, given input_shape=
    declared = inner.get("input_layers") or []
    if declared and isinstance(declared[0], str):  # Keras 3 writes one input as [name, 0, 0]
        declared = [declared]
    order = [entry[0] for entry in declared]
    if input_layers:
        return [input_layers[name] for name in order if name in input_layers] or list(input_layers.values())
    if first_shaped:
        return first_shaped
    built = (config.get("build_config") or {}).get("input_shape") or inner.get("build_input_shape")
    return [(built, "float32")] if built else []


def dtype_name(layer_config):
    dtype = layer_config.get("dtype") or "float32"
    if isinstance(dtype, dict):  # Keras 3: a DTypePolicy config
        dtype = (dtype.get("config") or {}).get("name") or "float32"
    return dtype if dtype in ("float16", "float32", "float64", "int32", "int64") else "float32"


def saved_model_specs(path):
    import tensorflow as tf

    serving = tf.saved_model.load(path).signatures["serving_default"]
    _args, kwargs = serving.structured_input_signature
    specs = list(kwargs.values()) or list(_args)
    return [(spec.shape.as_list(), spec.dtype.name) for spec in specs]


COMMANDS = {"predict": ("check-predict", predict_cell), "load": ("check-load", load_cell)}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], COMMANDS, "runner.check"))
