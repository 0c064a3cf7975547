"""The load-mode ladder: the documented way first, then named remedies, until one predicts right.

A ``Rung`` names its mode, the call a user would write, whether it is unsafe (runs code saved
in the file), ``load(keras, case, path)`` returning what it loaded (``Loaded``), and
``applies(keras, case, path)``: whether the rung exists in this stack for this artifact; its
``fidelity`` is what the user gets back (``runner.protocol.FIDELITIES``), None where the loaded
model tells (compiled as saved, or not). Rungs run in order until one loads AND predicts the
saved outputs; a rung that loads but predicts otherwise is recorded and the climb goes on.

Each format has its ladder (``ladder_for``): a full model file's starts at ``load_model``; a
weights file's builds the model in code and loads the weights into it; a ``to_json()``'s
rebuilds it from the JSON. A model built to take weights has every weight moved off its initial
value first (``scrambled``), so a load that leaves any weight alone cannot pass for one that
worked: the consumer's build may start from the very weights the producer saved.

One probe follows a Keras load that worked with ``custom_objects``: the same call without
them, so the report can say whether they are still needed. Probes never decide a verdict.
"""

import collections
import contextlib
import os
import shutil
import tempfile
import time

from runner.limits import NO_LIMIT
from runner.protocol import ARCHITECTURE_FILE, Laps, container_of, describe_error
from runner.samples import ATOL

Rung = collections.namedtuple("Rung", "mode call load applies unsafe fidelity")
Rung.__new__.__defaults__ = (None,)
Loaded = collections.namedtuple("Loaded", "predict model")
"""What a rung loaded: the function from the saved input to predictions, and the Keras model
behind it (None: a serving endpoint)."""


def load_documented(keras, case, path):
    """What the seed document recommends: ``load_model`` with the case's ``custom_objects``."""
    return keras_predictor(keras.models.load_model(path, custom_objects=case.custom_objects()))


def load_without_compile(keras, case, path):
    """The first remedy people reach for: skip restoring the training configuration."""
    model = keras.models.load_model(path, custom_objects=case.custom_objects(), compile=False)
    return keras_predictor(model)


def load_without_custom_objects(keras, case, path):
    """No ``custom_objects`` at all: Keras finds classes by their registered or module name."""
    return keras_predictor(keras.models.load_model(path, compile=False))


def load_plain(keras, case, path):
    """``load_model(path)``: the documented call minus ``custom_objects`` (a probe)."""
    return keras_predictor(keras.models.load_model(path))


def load_renamed_h5(keras, case, path):
    """An HDF5 file saved under a ``.keras`` name, copied to a ``.h5`` name and loaded."""
    with copied_as_h5(path) as renamed:
        model = keras.models.load_model(renamed, custom_objects=case.custom_objects(), compile=False)
    return keras_predictor(model)


@contextlib.contextmanager
def copied_as_h5(path):
    """A copy of the file named ``model.h5`` (Keras picks the format by the name), removed after."""
    folder = tempfile.mkdtemp(prefix="renamed-")
    try:
        renamed = os.path.join(folder, "model.h5")
        shutil.copyfile(path, renamed)
        yield renamed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load_unsafe(keras, case, path):
    """Let Keras deserialize code saved in the file (Lambda bytecode): trusted files only."""
    model = keras.models.load_model(path, custom_objects=case.custom_objects(), compile=False, safe_mode=False)
    return keras_predictor(model)


def load_tfsm_layer(keras, case, path):
    """Keras 3's own answer for a SavedModel: wrap its serving endpoint as a layer."""
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    return Loaded(lambda inputs: serving_outputs(layer(inputs)), None)


def load_saved_model(keras, case, path):
    """TensorFlow without Keras: ``tf.saved_model.load`` and the serving signature.

    The loaded object is kept as long as its signature is used: TensorFlow 2.0 to 2.7 delete
    its variables once it is collected, and the signature then fails with "Error while reading
    resource variable ... uninitialized" (tensorflow#34253, #46708), in a fresh process too.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    return Loaded(lambda inputs: serving_outputs(call_signature(loaded.signatures["serving_default"], inputs)), None)


def load_with_tf_keras(keras, case, path):
    """The legacy Keras 2 package beside Keras 3, with the case's classes rebuilt on it."""
    tf_keras, legacy_case = on_tf_keras(keras, case)
    model = tf_keras.models.load_model(path, custom_objects=legacy_case.custom_objects(), compile=False)
    return keras_predictor(model)


def on_tf_keras(keras, case):
    """``(tf_keras, the case built on it)``."""
    from runner.cases import load_case
    from runner.compat import legacy_keras

    tf_keras = legacy_keras(keras)
    return tf_keras, load_case(case.__name__.rsplit(".", 1)[-1], keras=tf_keras)


# -- weights: a model built in code (or from its JSON), the file's weights loaded into it -------

def load_weights_into_rebuilt(keras, case, path):
    """What maintainers advise when ``load_model`` fails: build the model in code, load the weights."""
    return loaded_weights(keras, case, rebuilt_model(keras, case), weights_path(path))


def load_weights_on_tf_keras(keras, case, path):
    tf_keras, legacy_case = on_tf_keras(keras, case)
    return loaded_weights(tf_keras, legacy_case, rebuilt_model(tf_keras, legacy_case), weights_path(path))


KEPT_MODELS = {}  # (Keras package, case module) -> the case's rebuilt model, where compat.keeps_models


def rebuilt_model(keras, case):
    """The case built in code to take weights, made (``built``).

    A tuned worker builds it once per case and Keras and loads every later file's weights into the
    same model: the build and the first predict's trace are most of a weights load's cost. Kept or
    fresh, ``loaded_weights`` moves every weight off its value before loading, so a weight a load
    leaves alone shows whatever an earlier cell put there.
    """
    from runner.cases import rebuilt
    from runner.compat import keeps_models

    if not keeps_models():
        return built(case, rebuilt(case))
    key = (keras.__name__, case.__name__)
    if key not in KEPT_MODELS:
        KEPT_MODELS[key] = built(case, rebuilt(case))
    return KEPT_MODELS[key]


def load_from_json(keras, case, path):
    """``model_from_json`` with the case's custom objects, then the weights beside the JSON."""
    model = keras.models.model_from_json(read_text(os.path.join(path, ARCHITECTURE_FILE)),
                                         custom_objects=case.custom_objects())
    return loaded_weights(keras, case, model, weights_path(path))


def load_from_json_unsafe(keras, case, path):
    """``model_from_json`` takes no ``safe_mode``: code saved in the JSON (a Lambda's bytecode)
    deserializes only with the global switch off, here for this one load."""
    from runner.compat import safe_mode_scope

    with safe_mode_scope(keras)(False):
        return load_from_json(keras, case, path)


def load_from_json_on_tf_keras(keras, case, path):
    tf_keras, legacy_case = on_tf_keras(keras, case)
    return load_from_json(tf_keras, legacy_case, path)


def loaded_weights(keras, case, model, weights):
    model = scrambled(built(case, model))
    model.load_weights(weights)
    return keras_predictor(model)


def built(case, model):
    """The model with its variables made: a subclassed model has none until it is called once,
    and Keras refuses to load weights into it (as its documentation says, a user calls it first)."""
    if not getattr(model, "built", True) or not model.weights:
        from runner.cases import case_inputs
        from runner.compat import predict
        from runner.samples import fixed_inputs

        predict(model, model_input(fixed_inputs(case_inputs(case)), by_name=False))
    return model


def scrambled(model):
    """The model with every number it holds moved off its value (floats up by a half, integers up
    by one: a variance stays positive), so a weight the load leaves alone shows."""
    import numpy

    moved = []
    for weight in model.get_weights():
        weight = numpy.asarray(weight)
        step = {"f": 0.5, "i": 1, "u": 1}.get(weight.dtype.kind)
        moved.append(weight if step is None else weight + numpy.asarray(step, dtype=weight.dtype))
    model.set_weights(moved)
    return model


def weights_path(path):
    """What ``load_weights`` takes for an artifact: a file as it is; a folder's checkpoint
    prefix (its one ``.index`` file, cut) or its one ``.h5`` weights file."""
    if not os.path.isdir(path):
        return path
    names = sorted(os.listdir(path))
    for suffix, cut in ((".index", len(".index")), (".h5", 0)):
        found = [name for name in names if name.endswith(suffix)]
        if len(found) == 1:
            return os.path.join(path, found[0][:len(found[0]) - cut])
    return path


def read_text(path):
    with open(path) as handle:
        return handle.read()


def always(keras, case, path):
    return True


def load_model_reads(keras, case, path):
    """False where ``load_model`` refuses the artifact before reading it: Keras 3 and a SavedModel
    directory. The documented rung still runs there, to record the refusal."""
    from runner.compat import keras_flavor

    return not (os.path.isdir(path) and keras_flavor(keras) == "keras3")


def has_custom_objects(keras, case, path):
    return bool(case.custom_objects()) and load_model_reads(keras, case, path)


def is_hdf5_named_keras(keras, case, path):
    return path.endswith(".keras") and os.path.isfile(path) and container_of(path) == "hdf5"


def has_safe_mode(keras, case, path):
    from runner.compat import accepts_safe_mode

    return os.path.isfile(path) and accepts_safe_mode(keras)


def has_unsafe_switch(keras, case, path):
    from runner.compat import safe_mode_scope

    return safe_mode_scope(keras) is not None


def is_saved_model(keras, case, path):
    return os.path.isdir(path)


def has_tfsm_layer(keras, case, path):
    return os.path.isdir(path) and hasattr(keras.layers, "TFSMLayer")


def has_tf_keras(keras, case, path):
    from runner.compat import legacy_keras

    return legacy_keras(keras) is not None


def is_model_file(keras, case, path):
    """A full model in one file (.h5, .keras), whose weights can go into the case built here in
    code: not where this Keras lacks what the case uses (its ``REQUIRES``)."""
    from runner.compat import unavailable_reason

    return os.path.isfile(path) and not unavailable_reason(keras, case)


LADDER = (
    Rung("documented", "load_model(path, custom_objects=...)", load_documented, always, False),
    Rung("compile=False", "load_model(path, custom_objects=..., compile=False)", load_without_compile,
         load_model_reads, False),
    Rung("no custom_objects", "load_model(path, compile=False)", load_without_custom_objects,
         has_custom_objects, False),
    Rung("renamed to .h5", "load_model(copy named *.h5, custom_objects=..., compile=False)", load_renamed_h5,
         is_hdf5_named_keras, False),
    Rung("safe_mode=False", "load_model(path, custom_objects=..., compile=False, safe_mode=False)", load_unsafe,
         has_safe_mode, True),
    Rung("TFSMLayer", 'keras.layers.TFSMLayer(path, call_endpoint="serving_default")', load_tfsm_layer,
         has_tfsm_layer, False, "inference-only"),
    Rung("tf.saved_model.load", 'loaded = tf.saved_model.load(path); loaded.signatures["serving_default"]',
         load_saved_model, is_saved_model, False, "inference-only"),
    Rung("tf_keras", "tf_keras.models.load_model(path, custom_objects=..., compile=False)", load_with_tf_keras,
         has_tf_keras, False),
    # last: a cell that loads only this way is a remedy named for it, whatever worked before
    Rung("rebuild + load_weights", "model = build(); model.load_weights(path)", load_weights_into_rebuilt,
         is_model_file, False, "rebuilt"),
)
SERVING_MODES = frozenset({"TFSMLayer", "tf.saved_model.load"})  # rungs that call a serving signature: inputs by name
PROBES = {
    "documented": Rung("probe: no custom_objects", "load_model(path)", load_plain, has_custom_objects, False),
    "compile=False": LADDER[2]._replace(mode="probe: no custom_objects"),
}
WEIGHTS_LADDER = (  # weights-h5 and weights-tf
    Rung("documented", "model = build(); model.load_weights(path)", load_weights_into_rebuilt, always, False,
         "rebuilt"),
    Rung("tf_keras", "model = build() on tf_keras; model.load_weights(path)", load_weights_on_tf_keras,
         has_tf_keras, False, "rebuilt"),
)
JSON_LADDER = (
    Rung("documented", "model = model_from_json(json, custom_objects=...); model.load_weights(path)",
         load_from_json, always, False),
    Rung("safe_mode=False", "keras.config.enable_unsafe_deserialization(); model = model_from_json(json, "
         "custom_objects=...); model.load_weights(path)", load_from_json_unsafe, has_unsafe_switch, True),
    Rung("tf_keras", "model = tf_keras.models.model_from_json(json, custom_objects=...); model.load_weights(path)",
         load_from_json_on_tf_keras, has_tf_keras, False),
)


LADDERS = {"h5": (LADDER, PROBES), "keras": (LADDER, PROBES), "savedmodel": (LADDER, PROBES),
           "weights-h5": (WEIGHTS_LADDER, {}), "weights-tf": (WEIGHTS_LADDER, {}), "json": (JSON_LADDER, {})}


def ladder_for(fmt):
    """``(rungs, probes)`` of the artifacts of format ``fmt`` (a name of runner.protocol.FORMATS)."""
    return LADDERS[fmt]


def rung_named(mode, call):
    """The rung or probe an attempt record names by its mode and call."""
    for rung in LADDER + tuple(PROBES.values()) + WEIGHTS_LADDER + JSON_LADDER:
        if (rung.mode, rung.call) == (mode, call):
            return rung
    raise KeyError("no rung {!r} with call {!r} in this ladder".format(mode, call))


def keras_predictor(model):
    from runner.compat import predict

    return Loaded(lambda inputs: predict(model, inputs), model)


def call_signature(function, inputs):
    """Call a concrete function with the input: one array (by keyword when the function declares
    one), or a dict of arrays by the names the function declares."""
    import tensorflow as tf

    _args, kwargs = function.structured_input_signature
    if isinstance(inputs, dict):
        if set(inputs) != set(kwargs):
            raise ValueError("the serving signature takes inputs named {}; the input has {}".format(
                sorted(kwargs), sorted(inputs)))
        return function(**{name: tf.constant(value) for name, value in inputs.items()})
    tensor = tf.constant(inputs)
    if len(kwargs) == 1:
        return function(**{name: tensor for name in kwargs})
    return function(tensor)


def serving_outputs(outputs):
    """A serving call's outputs as arrays: the one output alone (a dict of one, or a tensor), or
    a dict of every output by name."""
    if isinstance(outputs, dict):
        if len(outputs) != 1:
            return {name: as_array(value) for name, value in outputs.items()}
        outputs = next(iter(outputs.values()))
    return as_array(outputs)


def as_array(value):
    return value.numpy() if hasattr(value, "numpy") else value


def run_ladder(keras, subject, path, inputs, expected, rungs, probes, tolerance=ATOL, limit=NO_LIMIT, resume=None):
    """Every applicable rung in order until one predicts ``expected`` (None: until one predicts
    at all), then the custom_objects probe, when there is an expected output to probe against.

    ``subject`` is what the rungs ask for ``custom_objects()``: a reference case, or a user's
    objects (``runner.check``, which also brings rungs of its own). The rungs take ``inputs``,
    ``[(name, array)]``, and give named outputs (``naming``). ``inputs`` None: there is nothing
    to predict on, and the climb stops at the first load. Outputs within ``tolerance`` of the
    expected ones are equal. ``limit``: what gives each attempt its time limit and hears how
    it went (``runner.limits``, bound to the cell's case and format). ``resume``: ``(batch, outputs)``
    of a trained case, for the step a fully restored model takes (``resumed_step``)."""
    attempts = []
    for rung in rungs:
        if rung.applies(keras, subject, path):
            attempts.append(limited_rung(keras, subject, path, rung, inputs, expected, tolerance, limit, resume))
            if attempts[-1]["outcome"] in ("ok", "loaded"):
                break
    loaded = attempts and attempts[-1]["outcome"] == "ok"
    probe = probes.get(attempts[-1]["mode"]) if loaded and expected is not None else None
    if probe is not None and probe.applies(keras, subject, path):
        attempts.append(dict(limited_rung(keras, subject, path, probe, inputs, expected, tolerance, limit),
                             probe=True))
    return attempts


def resumed_step(loaded, resume, inputs, tolerance, seconds):
    """Whether training resumes where the producer stopped: one more step on the fixed batch, then
    the predictions compared with what the producer's model gave after the same step. A lost or
    reset optimizer state (or another training configuration) moves the weights otherwise, and the
    predictions show it whatever order each Keras lists the weights in."""
    from runner.limits import time_limit

    batch, expected = resume
    try:
        with time_limit(seconds):
            loaded.model.train_on_batch(*batch)
            predicted = loaded.predict(inputs)
    except Exception as exc:  # a compiled model that cannot train is an answer too
        return {"outcome": "error", "max_abs_diff": None, "error": describe_error(exc)}
    compared = compare_outputs(predicted, expected, tolerance)
    return {"outcome": compared["outcome"], "max_abs_diff": compared["max_abs_diff"], "error": None}


def fidelity_of(model):
    """``full`` for a model the load compiled (as saved), ``recompile`` for one it did not."""
    from runner.compat import is_compiled

    return "full" if is_compiled(model) else "recompile"


def limited_rung(keras, subject, path, rung, inputs, expected, tolerance, limit, resume=None):
    attempt = try_rung(keras, subject, path, rung, inputs, expected, tolerance, limit.seconds(), resume)
    limit.observe(attempt)
    return attempt


def try_rung(keras, case, path, rung, inputs, expected, tolerance=ATOL, seconds=None, resume=None):
    """One rung: load, predict, compare with ``expected`` (None: any prediction is right); the
    load and the prediction interrupted past ``seconds`` (None: no limit). A model that came back
    compiled as saved and predicting right takes the ``resume`` step too."""
    from runner.compat import clear_session
    from runner.limits import time_limit

    started, laps = time.time(), Laps()
    attempt = {"mode": rung.mode, "call": rung.call, "unsafe": rung.unsafe, "probe": False,
               "outcome": "error", "stage": "load", "error": None, "max_abs_diff": None, "fidelity": None}
    try:
        with time_limit(seconds):
            loaded = rung.load(keras, case, path)
            laps("load")
            attempt["stage"] = "predict"
            attempt["fidelity"] = rung.fidelity or fidelity_of(loaded.model)
            predicted = None if inputs is None else loaded.predict(inputs)
        if inputs is None:
            attempt["outcome"], attempt["stage"] = "loaded", "done"
        else:
            laps("predict")
            if expected is None:
                attempt["outcome"] = "ok"
            else:
                attempt.update(compare_outputs(predicted, expected, tolerance))
            laps("compare")
            if resume is not None and attempt["outcome"] == "ok" and attempt["fidelity"] == "full":
                attempt["resume"] = resumed_step(loaded, resume, inputs, tolerance, seconds)
                laps("resume")
            attempt["stage"] = "done"
    except Exception as exc:  # any failure of a rung is data, never a crash of the cell
        laps(attempt["stage"])
        attempt["error"] = describe_error(exc)
    finally:
        clear_session(keras)
        laps("clear")
    attempt["seconds"] = round(time.time() - started, 4)
    attempt["timings"] = laps.seconds
    return attempt


# -- named inputs and outputs ----------------------------------------------------------------

def named_rungs(rungs, names):
    """The rungs, each fed named inputs the way its call takes them and giving every output by
    name (``names``: the output names to give a list of outputs)."""
    return [rung._replace(load=naming(rung, names)) for rung in rungs]


def named_probes(probes, names):
    return {mode: probe._replace(load=naming(probe, names)) for mode, probe in probes.items()}


def naming(rung, names):
    """The rung's load, fed the model's inputs the way its call takes them (a serving signature
    by name, Keras in order) and giving every output by name."""
    by_name = rung.mode in SERVING_MODES

    def load_named(keras, subject, path):
        loaded = rung.load(keras, subject, path)

        def predict(inputs):
            return named_outputs(loaded.predict(model_input(inputs, by_name)), names)
        return loaded._replace(predict=predict)
    return load_named


def model_input(inputs, by_name):
    """Named arrays as a call takes them: one array alone; several as a list in the model's
    order, or as a dict by name for a serving signature (when every input has a name). Strings
    go as tensors: Keras 3 takes no numpy array of them ("Invalid dtype: str544", measured)."""
    inputs = [(name, string_tensor(array)) for name, array in inputs]
    if len(inputs) == 1:
        return inputs[0][1]
    if by_name and all(name for name, _array in inputs):
        return {name: array for name, array in inputs}
    return [array for _name, array in inputs]


def string_tensor(array):
    if array.dtype.kind not in "USO":
        return array
    import tensorflow as tf

    return tf.constant(array.astype(str))


def named_outputs(outputs, names):
    """Every output as ``[name, float64 array]``: a dict's by its keys, a list's by ``names``
    (``output_N`` when there are none, or another count)."""
    import numpy

    if isinstance(outputs, dict):
        pairs = list(outputs.items())
    else:
        values = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        labels = list(names) if len(names) == len(values) else ["output_{}".format(i) for i in range(len(values))]
        pairs = [(labels[index], value) for index, value in enumerate(values)]
    return [[str(name), numpy.asarray(as_array(value), dtype="float64")] for name, value in pairs]


def compare_outputs(predicted, expected, tolerance=ATOL):
    """Each output against the expected one of its name (of its position when the names differ):
    ``max_abs_diff`` the worst, ``outputs`` each one's; another count of outputs is a mismatch."""
    pairs = paired_outputs(predicted, expected)
    if pairs is None:
        return {"max_abs_diff": None, "outcome": "mismatch",
                "outputs": [{"name": name, "max_abs_diff": None, "outcome": "mismatch"} for name, _ in predicted]}
    outputs = []
    for name, mine, theirs in pairs:
        diff, outcome = compare(mine, theirs, tolerance)
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


def compare(predicted, expected, tolerance=ATOL):
    """``(max_abs_diff, outcome)``: ``ok`` within ``tolerance``, else ``mismatch`` (shape too)."""
    import numpy

    predicted = numpy.asarray(predicted, dtype="float64")
    expected = numpy.asarray(expected, dtype="float64")
    if predicted.shape != expected.shape:
        return None, "mismatch"
    diff = float(numpy.max(numpy.abs(predicted - expected))) if expected.size else 0.0
    if diff != diff:  # NaN: nothing close about it
        return None, "mismatch"
    return diff, ("ok" if diff <= tolerance else "mismatch")
