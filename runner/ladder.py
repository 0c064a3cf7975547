"""The load-mode ladder: the documented way first, then named remedies, until one predicts right.

A ``Rung`` names its mode, the call a user would write, whether it is unsafe (runs code saved
in the file), ``load(keras, case, path)`` returning a function from the saved input to
predictions, and ``applies(keras, case, path)``: whether the rung exists in this stack for
this artifact. Rungs run in order until one loads AND predicts the saved outputs; a rung that
loads but predicts otherwise is recorded and the climb goes on.

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
from runner.protocol import Laps, container_of, describe_error
from runner.samples import ATOL

Rung = collections.namedtuple("Rung", "mode call load applies unsafe")


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
    return lambda inputs: serving_outputs(layer(inputs))


def load_saved_model(keras, case, path):
    """TensorFlow without Keras: ``tf.saved_model.load`` and the serving signature.

    The loaded object is kept as long as its signature is used: TensorFlow 2.0 to 2.7 delete
    its variables once it is collected, and the signature then fails with "Error while reading
    resource variable ... uninitialized" (tensorflow#34253, #46708), in a fresh process too.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    return lambda inputs: serving_outputs(call_signature(loaded.signatures["serving_default"], inputs))


def load_with_tf_keras(keras, case, path):
    """The legacy Keras 2 package beside Keras 3, with the case's classes rebuilt on it."""
    from runner.cases import load_case
    from runner.compat import legacy_keras

    tf_keras = legacy_keras(keras)
    legacy_case = load_case(case.__name__.rsplit(".", 1)[-1], keras=tf_keras)
    model = tf_keras.models.load_model(path, custom_objects=legacy_case.custom_objects(), compile=False)
    return keras_predictor(model)


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


def is_saved_model(keras, case, path):
    return os.path.isdir(path)


def has_tfsm_layer(keras, case, path):
    return os.path.isdir(path) and hasattr(keras.layers, "TFSMLayer")


def has_tf_keras(keras, case, path):
    from runner.compat import legacy_keras

    return legacy_keras(keras) is not None


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
         has_tfsm_layer, False),
    Rung("tf.saved_model.load", 'loaded = tf.saved_model.load(path); loaded.signatures["serving_default"]',
         load_saved_model, is_saved_model, False),
    Rung("tf_keras", "tf_keras.models.load_model(path, custom_objects=..., compile=False)", load_with_tf_keras,
         has_tf_keras, False),
)
SERVING_MODES = frozenset({"TFSMLayer", "tf.saved_model.load"})  # rungs that call a serving signature: inputs by name
PROBES = {
    "documented": Rung("probe: no custom_objects", "load_model(path)", load_plain, has_custom_objects, False),
    "compile=False": LADDER[2]._replace(mode="probe: no custom_objects"),
}


def rung_named(mode, call):
    """The rung or probe an attempt record names by its mode and call."""
    for rung in LADDER + tuple(PROBES.values()):
        if (rung.mode, rung.call) == (mode, call):
            return rung
    raise KeyError("no rung {!r} with call {!r} in this ladder".format(mode, call))


def keras_predictor(model):
    from runner.compat import predict

    return lambda inputs: predict(model, inputs)


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


def run_ladder(keras, subject, path, inputs, expected, rungs, probes, tolerance=ATOL, limit=NO_LIMIT):
    """Every applicable rung in order until one predicts ``expected`` (None: until one predicts
    at all), then the custom_objects probe, when there is an expected output to probe against.

    ``subject`` is what the rungs ask for ``custom_objects()``: a reference case, or a user's
    objects (``runner.check``, which also brings rungs of its own). The rungs take ``inputs``,
    ``[(name, array)]``, and give named outputs (``naming``). ``inputs`` None: there is nothing
    to predict on, and the climb stops at the first load. Outputs within ``tolerance`` of the
    expected ones are equal. ``limit``: what gives each attempt its time limit and hears how
    it went (``runner.limits``, bound to the cell's case and format)."""
    attempts = []
    for rung in rungs:
        if rung.applies(keras, subject, path):
            attempts.append(limited_rung(keras, subject, path, rung, inputs, expected, tolerance, limit))
            if attempts[-1]["outcome"] in ("ok", "loaded"):
                break
    loaded = attempts and attempts[-1]["outcome"] == "ok"
    probe = probes.get(attempts[-1]["mode"]) if loaded and expected is not None else None
    if probe is not None and probe.applies(keras, subject, path):
        attempts.append(dict(limited_rung(keras, subject, path, probe, inputs, expected, tolerance, limit),
                             probe=True))
    return attempts


def limited_rung(keras, subject, path, rung, inputs, expected, tolerance, limit):
    attempt = try_rung(keras, subject, path, rung, inputs, expected, tolerance, limit.seconds())
    limit.observe(attempt)
    return attempt


def try_rung(keras, case, path, rung, inputs, expected, tolerance=ATOL, seconds=None):
    """One rung: load, predict, compare with ``expected`` (None: any prediction is right); the
    load and the prediction interrupted past ``seconds`` (None: no limit)."""
    from runner.compat import clear_session
    from runner.limits import time_limit

    started, laps = time.time(), Laps()
    attempt = {"mode": rung.mode, "call": rung.call, "unsafe": rung.unsafe, "probe": False,
               "outcome": "error", "stage": "load", "error": None, "max_abs_diff": None}
    try:
        with time_limit(seconds):
            predict = rung.load(keras, case, path)
            laps("load")
            attempt["stage"] = "predict"
            predicted = None if inputs is None else predict(inputs)
        if inputs is None:
            attempt["outcome"], attempt["stage"] = "loaded", "done"
        else:
            laps("predict")
            if expected is None:
                attempt["outcome"] = "ok"
            else:
                attempt.update(compare_outputs(predicted, expected, tolerance))
            laps("compare")
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
        predict = rung.load(keras, subject, path)
        return lambda inputs: named_outputs(predict(model_input(inputs, by_name)), names)
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
