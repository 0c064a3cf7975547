"""The load-mode ladder: the documented way first, then named remedies, until one loads.

A rung is ``(mode, load, applies)``: ``load(keras, case, path)`` returns a function that maps
the saved input to predictions, and ``applies(keras, path)`` says whether the rung exists for
this stack and artifact. The first rung that loads and predicts ends the ladder; its
predictions decide between a match and a mismatch.
"""

import os
import time

from runner.records import describe_error

ATOL = 1e-5


def load_documented(keras, case, path):
    """What the seed document recommends: ``load_model`` with the case's ``custom_objects``."""
    return keras_predictor(keras.models.load_model(path, custom_objects=case.custom_objects()))


def load_without_compile(keras, case, path):
    """The first remedy people reach for: skip restoring the training configuration."""
    model = keras.models.load_model(path, custom_objects=case.custom_objects(), compile=False)
    return keras_predictor(model)


def load_tfsm_layer(keras, case, path):
    """Keras 3's own answer for a SavedModel: wrap its serving endpoint as a layer."""
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    return lambda inputs: single_output(layer(inputs))


def load_saved_model(keras, case, path):
    """TensorFlow without Keras: ``tf.saved_model.load`` and the serving signature."""
    import tensorflow as tf

    serving = tf.saved_model.load(path).signatures["serving_default"]
    return lambda inputs: single_output(call_signature(serving, tf.constant(inputs)))


def always(keras, path):
    return True


def is_saved_model(keras, path):
    return os.path.isdir(path)


def has_tfsm_layer(keras, path):
    return os.path.isdir(path) and hasattr(keras.layers, "TFSMLayer")


LADDER = (
    ("documented", load_documented, always),
    ("compile=False", load_without_compile, always),
    ("TFSMLayer", load_tfsm_layer, has_tfsm_layer),
    ("tf.saved_model.load", load_saved_model, is_saved_model),
)


def keras_predictor(model):
    return lambda inputs: model.predict(inputs, verbose=0)


def call_signature(function, tensor):
    """Call a concrete function with one input, by keyword when it declares one."""
    _args, kwargs = function.structured_input_signature
    if len(kwargs) == 1:
        return function(**{name: tensor for name in kwargs})
    return function(tensor)


def single_output(outputs):
    """The one output of a serving call: a dict of one tensor, or a tensor."""
    if isinstance(outputs, dict):
        if len(outputs) != 1:
            raise ValueError("expected one output, got {}".format(sorted(outputs)))
        outputs = next(iter(outputs.values()))
    return outputs.numpy() if hasattr(outputs, "numpy") else outputs


def run_ladder(keras, case, path, inputs, expected):
    """Try each rung that applies, in order; stop at the first that loads and predicts."""
    from runner.compat import clear_session

    attempts = []
    for mode, load, applies in LADDER:
        if not applies(keras, path):
            continue
        attempt = try_rung(keras, case, path, mode, load, inputs, expected)
        attempts.append(attempt)
        clear_session(keras)
        if attempt["outcome"] != "error":
            break
    return attempts


def try_rung(keras, case, path, mode, load, inputs, expected):
    started = time.time()
    attempt = {"mode": mode, "outcome": "error", "stage": "load", "error": None, "max_abs_diff": None}
    try:
        predict = load(keras, case, path)
        attempt["stage"] = "predict"
        predicted = predict(inputs)
        attempt["max_abs_diff"], attempt["outcome"] = compare(predicted, expected)
        attempt["stage"] = "done"
    except Exception as exc:  # any failure of a rung is data, never a crash of the cell
        attempt["error"] = describe_error(exc)
    attempt["seconds"] = round(time.time() - started, 4)
    return attempt


def compare(predicted, expected):
    """``(max_abs_diff, outcome)``: ``ok`` within ATOL, else ``mismatch`` (shape too)."""
    import numpy

    predicted = numpy.asarray(predicted, dtype="float64")
    expected = numpy.asarray(expected, dtype="float64")
    if predicted.shape != expected.shape:
        return None, "mismatch"
    diff = float(numpy.max(numpy.abs(predicted - expected))) if expected.size else 0.0
    if diff != diff:  # NaN: nothing close about it
        return None, "mismatch"
    return diff, ("ok" if diff <= ATOL else "mismatch")
