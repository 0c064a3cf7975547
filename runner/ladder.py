"""The load-mode ladder: the documented way first, then named remedies, until one loads.

Each rung is a function ``(keras, case, path) -> model``. A rung that loads ends the ladder;
its predictions on the saved input decide between a match and a mismatch.
"""

import time

from runner.records import describe_error

ATOL = 1e-5


def load_documented(keras, case, path):
    """What the seed document recommends: ``load_model`` with the case's ``custom_objects``."""
    return keras.models.load_model(path, custom_objects=case.custom_objects())


def load_without_compile(keras, case, path):
    """The first remedy people reach for: skip restoring the training configuration."""
    return keras.models.load_model(path, custom_objects=case.custom_objects(), compile=False)


LADDER = (
    ("documented", load_documented),
    ("compile=False", load_without_compile),
)


def run_ladder(keras, case, path, inputs, expected):
    """Try each rung in order; return the attempts made, stopping at the first that loads."""
    from runner.compat import clear_session

    attempts = []
    for mode, load in LADDER:
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
        model = load(keras, case, path)
        attempt["stage"] = "predict"
        predicted = model.predict(inputs, verbose=0)
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
