"""The reference models. One module per case; its file name is the case id.

A case module defines ``TAGS`` (``seed`` for the source document's three, ``layers`` for the
standard layers and architectures users save, ``extra`` for the rest), its inputs, ``build()``
(a compiled model, as its source writes it) and ``custom_objects()`` (what the documented load
passes). Its inputs are ``INPUTS``, one ``runner.samples.InputSpec`` per model input in the
model's order, or ``INPUT_SHAPE`` for a model of one float input. ``REQUIRES`` (optional) names
what it uses under ``keras`` that older Keras lacks (``layers.MultiHeadAttention``): a stack
without one records the case as unavailable instead of building it. A case module imports in
every stack: what only newer Keras has is used inside its functions (or behind a check).

Modules a case imports by their own top-level name, as a user's project would, live in
``support/``, which is put on ``sys.path`` before any case is imported.
"""

import importlib
import os
import sys

CASES_DIR = os.path.dirname(os.path.abspath(__file__))
SUPPORT_DIR = os.path.join(CASES_DIR, "support")
_LEGACY_CASES = {}


def load_case(case_id, keras=None):
    """The case module; with ``keras`` (tf_keras beside Keras 3), a copy built on that Keras.

    The copy is the case and its support modules imported afresh while ``tensorflow.keras``
    points at ``keras``: the same source, subclassing the legacy package's classes, as it
    would be under ``TF_USE_LEGACY_KERAS=1``.
    """
    if SUPPORT_DIR not in sys.path:
        sys.path.insert(0, SUPPORT_DIR)
    if keras is None:
        return importlib.import_module("runner.cases." + case_id)
    if case_id not in _LEGACY_CASES:
        _LEGACY_CASES[case_id] = import_with_keras(case_id, keras)
    return _LEGACY_CASES[case_id]


def case_inputs(case):
    """The case's inputs as InputSpecs: its ``INPUTS``, or one unnamed float32 input of ``INPUT_SHAPE``."""
    from runner.samples import InputSpec

    declared = getattr(case, "INPUTS", None)
    if declared:
        return list(declared)
    return [InputSpec(None, (None,) + tuple(case.INPUT_SHAPE), "float32")]


def import_with_keras(case_id, keras):
    import tensorflow as tf

    ours = {name: module for name, module in sys.modules.items() if is_case_code(module)}
    original = tf.keras
    for name in ours:
        del sys.modules[name]
    tf.keras = keras
    try:
        return importlib.import_module("runner.cases." + case_id)
    finally:
        tf.keras = original
        for name in [name for name, module in sys.modules.items() if is_case_code(module)]:
            del sys.modules[name]
        sys.modules.update(ours)


def is_case_code(module):
    path = getattr(module, "__file__", None) or ""
    return os.path.abspath(path).startswith(CASES_DIR + os.sep) and not path.endswith("__init__.py")
