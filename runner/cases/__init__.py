"""The reference models. One module per case; its file name is the case id.

A case module defines ``TAGS`` (``seed`` for the source document's three, ``layers`` for the
standard layers and architectures users save, ``extra`` for the rest), its inputs, ``build()``
(a compiled model, as its source writes it) and ``custom_objects()`` (what the documented load
passes). Its inputs are ``INPUTS``, one ``runner.samples.InputSpec`` per model input in the
model's order, or ``INPUT_SHAPE`` for a model of one float input. A trained case also defines
``training_data()`` (features, targets) and ``EPOCHS``: the model saved is ``build()``'s after
``train``, and a model rebuilt to load weights into is ``build()``'s alone; ``RANDOM_STEP`` says
why a training step of it cannot be repeated exactly (no resume comparison). ``rebuild()``
(optional) builds the model where it is loaded, when the code there differs from the saving
process's (a module that moved); it never changes the process, which goes on loading other cells.
``REQUIRES`` (optional) names
what it uses that older Keras lacks, a name under ``keras`` (``layers.MultiHeadAttention``) or a
feature of ``runner.compat.KERAS_FEATURES`` (``dict_outputs``): a stack without one records the
case as unavailable, with the reason, instead of building it. A case module imports in
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


BATCH_SIZE = 8


def rebuilt(case):
    """The model built again where a file is loaded, to load weights into: from the code a user has
    there (``rebuild()``), which is ``build()``'s unless the case says otherwise."""
    return getattr(case, "rebuild", case.build)()


def is_trained(case):
    return hasattr(case, "training_data")


def train(case, model):
    """Fit a trained case's model as its source would, unshuffled: the same weights every run."""
    features, targets = case.training_data()
    model.fit(features, targets, epochs=case.EPOCHS, batch_size=BATCH_SIZE, shuffle=False, verbose=0)


def resumes(case):
    """Whether loads of the case compare one more training step with the producer's."""
    return is_trained(case) and not getattr(case, "RANDOM_STEP", None)


def resume_batch(case):
    """The fixed batch of one more training step, which tells whether training resumes as saved."""
    features, targets = case.training_data()
    return features[:BATCH_SIZE], targets[:BATCH_SIZE]


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
    # ``from runner.cases import custom_loss`` takes the package's attribute before sys.modules
    packages = [module for module in list(sys.modules.values()) if is_case_package(module)]
    attributes = [(package, {name: vars(package).pop(name) for name in list(vars(package))
                             if getattr(vars(package)[name], "__name__", None) in ours})
                  for package in packages]
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
        for package, taken in attributes:  # the copies' own attributes go, ours come back
            for name in [name for name, value in vars(package).items() if is_case_code(value)]:
                del vars(package)[name]
            vars(package).update(taken)


def is_case_package(module):
    """``runner.cases`` and the packages in it (``runner.cases.movable``)."""
    path = os.path.abspath(getattr(module, "__file__", None) or "/")
    return path.endswith("__init__.py") and path.startswith(CASES_DIR + os.sep)


def is_case_code(module):
    path = getattr(module, "__file__", None) or ""
    return os.path.abspath(path).startswith(CASES_DIR + os.sep) and not path.endswith("__init__.py")
