"""The check worker: a user's own model files through one stack's load ladder.

    python -m runner.check predict JOBFILE   the reference: the first rung that loads, and
                                             what it predicts on the sample input
    python -m runner.check load JOBFILE      the ladder, compared with the chosen reference

Same protocol as ``python -m runner`` (heartbeat, one atomic record per cell). A cell names a
file copied into the workspace, its format, the sample input (a .npy/.npz, or None: built here
from the model's inputs as its file declares them), the user's custom objects and whether unsafe
rungs may run.

What a file declares (its config, inputs, outputs, writer) is read by ``runner.modelfile``.
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
from runner.modelfile import (
    config_compute_dtypes,
    config_specs,
    file_origin,
    keras_metadata_config,
    output_names,
    read_config,
    saved_model_dtypes,
    saved_model_specs,
)
from runner.protocol import WEIGHTS_FORMATS, describe_error, failed_cell, loaded_cell, read_json
from runner.samples import ATOL, fixed_inputs, read_reference, reference_data, tolerance_for
from runner.worker import main


class NoInput(Exception):
    """No input could be built for the model: the check loads it and says so."""


class BuildFailed(Exception):
    """The user's --build function did not give a model in this stack (its code, not Keras')."""


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
        inputs, expected, tolerance, no_input = sample_of(cell, architecture)
    except Exception as exc:  # an --expected file that does not read
        return failed("the expected outputs do not read", exc)
    names = architecture.output_names()
    attempts = ladder.run_ladder(keras, user, cell["file"], inputs, expected, cell_rungs(cell, names),
                                 user_probes(names), tolerance)
    return dict(checked_cell(attempts, no_input), tolerance=tolerance,
                origin=file_origin(cell["file"], cell["format"]))


def checked_cell(attempts, no_input):
    """A check's cell from its attempts. One that could not be predicted says why, as its error
    (the tool's, not Keras'). Weights that failed both as named and copied to a ``.h5`` name
    give the copy's error: the first one only says the name was read as the new layout."""
    result = loaded_cell(attempts)
    if no_input is not None and result["verdict"] == "not-predicted":
        result["error"] = describe_error(no_input)
    renamed = [a for a in attempts if a["mode"].endswith(RENAMED_H5) and a["outcome"] == "error"]
    if result["verdict"] == "error" and renamed:
        result["error"] = {key: renamed[-1]["error"][key] for key in ("type", "message")}
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
        """A new model from the --build function, or BuildFailed saying what went wrong instead."""
        if not self.build_spec:
            raise ValueError("weights only, and no --build function or --architecture file to load them into")
        self.on_path()
        module_name, _, name = self.build_spec.partition(":")
        what = "--build " + self.build_spec
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            problem = "{}: importing {} failed: {}: {}".format(what, module_name, type(exc).__name__, exc)
            raise BuildFailed(problem) from exc
        function = getattr(module, name, None)
        if not callable(function):
            raise BuildFailed("{}: {} has no function {!r}".format(what, module_name, name))
        try:
            model = function()
        except Exception as exc:
            raise BuildFailed("{} raised {}: {}".format(what, type(exc).__name__, exc)) from exc
        if not (hasattr(model, "load_weights") and hasattr(model, "to_json")):
            raise BuildFailed("{} returned {}, not a Keras model".format(what, type(model).__name__))
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


def cell_rungs(cell, names):
    """The rungs for the cell's file: the model ladder, or for weights the ways to load them."""
    if cell["format"] in WEIGHTS_FORMATS:
        mode, call, make_model = model_source(cell.get("architecture"))
        fidelity = None if cell.get("architecture") else "rebuilt"  # model_from_json's model tells
        rungs = [rung._replace(mode="{} + {}".format(mode, rung.mode), call="{}; {}".format(call, rung.call),
                               load=weights_loader(make_model, rung.load), fidelity=fidelity)
                 for rung in WEIGHTS_RUNGS]
        return ladder.named_rungs(rungs, names)
    return user_rungs(cell["unsafe"], names, bool(cell.get("build")))


def model_source(architecture):
    """Where a weights file's model comes from, ``(mode, call, make_model(keras, user))``: the
    ``to_json()`` file given as ``--architecture``, else the ``--build`` function."""
    if not architecture:
        return "--build", "model = build()", lambda keras, user: user.build()

    def from_json(keras, user):
        with open(architecture) as handle:
            return keras.models.model_from_json(handle.read(), custom_objects=user.custom_objects())
    return "model_from_json", "model = model_from_json(open(json).read(), custom_objects=...)", from_json


def weights_loader(make_model, load_weights):
    def load(keras, user, path):
        model = ladder.scrambled(make_model(keras, user))
        load_weights(model, path)
        return ladder.keras_predictor(model)
    return load


def load_weights_as_named(model, path):
    model.load_weights(ladder.weights_path(path))


def load_weights_renamed_h5(model, path):
    """A legacy HDF5 weights file under a ``.weights.h5`` name, copied to a ``.h5`` name: Keras
    2.13+ and 3 read a ``.weights.h5`` name as the new weights layout (measured: TF 2.15, Keras 3.15)."""
    with ladder.copied_as_h5(path) as renamed:
        model.load_weights(renamed)


def is_legacy_weights_named_new(keras, user, path):
    """A ``.weights.h5`` name on a legacy HDF5 weights file (``save_weights`` of Keras before 2.13,
    whose root attributes name its layers)."""
    if not (os.path.isfile(path) and path.endswith(".weights.h5")):
        return False
    import h5py

    with h5py.File(path, "r") as handle:
        return "layer_names" in handle.attrs


RENAMED_H5 = "load_weights, renamed to .h5"
WEIGHTS_RUNGS = (  # load is (model, path) -> None here; cell_rungs puts the model's source before it
    ladder.Rung("load_weights", "model.load_weights(path)", load_weights_as_named, ladder.always, False),
    ladder.Rung(RENAMED_H5, "model.load_weights(copy named *.h5)", load_weights_renamed_h5,
                is_legacy_weights_named_new, False),
)


def user_rungs(unsafe, names=(), build=False):
    """The matrix's ladder, minus ``safe_mode=False`` unless the user trusts the files, with a
    tf_keras rung that rebuilds the user's classes instead of a reference case's, and the last
    rung, the file's weights loaded into the model built in code, only when the user gave that
    code (``--build``); each rung taking the named inputs and giving named outputs."""
    rungs = []
    for rung in ladder.LADDER:
        if (rung.unsafe and not unsafe) or (rung.load is ladder.load_weights_into_rebuilt and not build):
            continue
        if rung.mode == "tf_keras":
            rung = rung._replace(load=load_user_with_tf_keras)
        rungs.append(rung)
    return ladder.named_rungs(rungs, names)


def user_probes(names=()):
    return ladder.named_probes(ladder.PROBES, names)


def predict_with_first_rung(keras, user, cell, inputs, no_input, architecture):
    """The first rung that loads and predicts, and its predictions: a reference candidate."""
    captured = {}

    def capturing(load):
        def load_and_keep(keras, user, path):
            loaded = load(keras, user, path)

            def predict_and_keep(model_input):
                captured["outputs"] = loaded.predict(model_input)
                return captured["outputs"]
            return loaded._replace(predict=predict_and_keep)
        return load_and_keep

    rungs = [rung._replace(load=capturing(rung.load)) for rung in cell_rungs(cell, architecture.output_names())]
    attempts = ladder.run_ladder(keras, user, cell["file"], inputs, None, rungs, {})
    predicted = attempts and attempts[-1]["outcome"] == "ok"
    result = dict(checked_cell(attempts, no_input),
                  loaded_by=attempts[-1]["mode"] if predicted else None)
    if predicted:
        result["reference_data"] = reference_data(inputs, captured["outputs"], tolerance_of(cell, architecture))
    return result


def sample_of(cell, architecture):
    """The input, the outputs to expect (the chosen reference's, the user's own, or None), the
    tolerance they are compared with, and why no input could be built (None when there is one)."""
    if cell.get("reference"):
        inputs, expected, tolerance = read_reference(read_json(cell["reference"]))
        return inputs, expected, tolerance, None
    expected = read_named_arrays(cell["expected"]) if cell.get("expected") else None
    inputs, no_input = given_input(cell, architecture)
    return inputs, expected, tolerance_of(cell, architecture), no_input


def tolerance_of(cell, architecture):
    """The matrix's rule: a model that computes in a 16-bit float is compared within a few of its
    epsilons, as its outputs differ that much between stacks; the dtypes are its config's
    policies, or a SavedModel's ops where it has no Keras config."""
    if architecture.config:
        return tolerance_for(config_compute_dtypes(architecture.config))
    if cell["format"] == "savedmodel":
        try:
            return tolerance_for(saved_model_dtypes(cell["file"]))
        except Exception:  # a SavedModel this TensorFlow cannot parse: its rungs say why
            return ATOL
    return ATOL


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
    return fixed_inputs(specs), None


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


class Architecture(collections.namedtuple("Architecture", "config problem")):
    """The model's config (``to_json()``'s form) as the file declares it, or for weights the one
    ``--architecture`` or the ``--build`` model gives; ``problem``: why there is none (None: read)."""

    def output_names(self):
        return output_names(self.config) if self.config else ()


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


COMMANDS = {"predict": ("check-predict", predict_cell), "load": ("check-load", load_cell)}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], COMMANDS, "runner.check"))
