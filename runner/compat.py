"""Everything that differs between TensorFlow/Keras versions, in one place.

The reference models import Keras the way the seed document does, ``from tensorflow import
keras``; which Keras that is (Keras 2 inside TensorFlow, tf-keras, or Keras 3) depends on the
stack, and this module says which and what it can do.
"""

import contextlib
import os
import platform
import sys

from runner.protocol import ARCHITECTURE_FILE, CHECKPOINT_PREFIX, FULL_MODEL_FORMATS, weights_file_name

RUNTIME = {"tuned": False}  # whether tune_runtime ran in this process (predict below asks)


def import_keras():
    """Import TensorFlow once and return ``tensorflow.keras`` as the stack resolves it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    standalone = standalone_keras()
    if standalone is not None:
        return standalone
    from tensorflow import keras

    leave_tf_keras_unconverted()
    return keras


def standalone_keras():
    """The standalone ``keras`` package (2.0 to 2.3, ``import keras``) where it is installed
    beside a TensorFlow 1.x, its backend; None elsewhere. It then also answers for
    ``tensorflow.keras``, so the cases' code (``from tensorflow import keras``) builds on the
    Keras a user of that era imported, as the tf-keras rung's copies build on tf-keras."""
    import importlib.util

    import tensorflow as tf

    if version_tuple(tf.__version__) >= (2,) or importlib.util.find_spec("keras") is None:
        return None
    import keras

    tf.keras = keras
    return keras


def is_standalone(keras):
    """Whether ``keras`` is the standalone package on TensorFlow 1.x (``standalone_keras``)."""
    return keras_package(keras) == "keras" and tensorflow_1()


def leave_tf_keras_unconverted():
    """Tell AutoGraph not to rewrite tf-keras's own code, as it already leaves TensorFlow's.

    AutoGraph does not know the ``tf_keras`` package, so it rewrites tf-keras's predict and
    training loops, hundreds of functions, for a new model: 5 to 7 s a model here, where Keras 2
    of TF 2.15 takes 0.4 s. The models' own ``call`` methods are still converted; the matrix's
    verdicts are the same either way (compared cell by cell over the full default run).
    """
    try:
        from tensorflow.python.autograph.core import config
    except ImportError:
        return
    rules = getattr(config, "CONVERSION_RULES", None)
    skip = getattr(config, "DoNotConvert", None)
    if rules is None or skip is None:
        return
    if not any(getattr(rule, "_prefix", None) == "tf_keras" for rule in rules):
        config.CONVERSION_RULES = (skip("tf_keras"),) + tuple(rules)


def tune_runtime():
    """Make TensorFlow's fixed costs per model smaller, leaving what a model computes alone.

    For the matrix's tens of thousands of tiny models; the self-check and ``matrix check`` run
    TensorFlow as it ships, so any answer this changed would show there as a disagreement.

    - Eager ops run directly, not each wrapped in a function (TF 2.10's default, and 2.11+'s
      only way unless told): half of an HDF5 load's time in TF 2.10 to 2.18, measured; the
      same kernels run.
    - Objects alive after the import are frozen out of Python's full collections, which would
      walk all of TensorFlow each time (a few seconds per worker).
    - ``predict`` below runs the model's compiled predict step on the input as one batch.
    """
    run_eager_ops_directly()
    import gc

    if hasattr(gc, "freeze"):  # Python 3.7+
        gc.freeze()
    RUNTIME["tuned"] = True


def run_eager_ops_directly():
    try:
        from tensorflow.python import pywrap_tfe
        from tensorflow.python.eager import context
    except ImportError:
        return
    switch = getattr(pywrap_tfe, "TFE_ContextSetRunEagerOpAsFunction", None)
    if switch is None:  # before TF 2.7: no such mode (2.7 to 2.9 have it, off unless asked)
        return
    context.ensure_initialized()
    switch(context.context()._handle, False)


def keeps_models():
    """Whether a model may outlive its cell in this worker, to be used again by a later one: only
    tuned (the self-check and ``matrix check`` build every model afresh, so a kept model that
    answered otherwise would show there) and eager (TF 1.x's ``clear_session`` drops the graph
    its models live in)."""
    return tuned_and_eager()


def tuned_and_eager():
    if not RUNTIME["tuned"]:
        return False
    import tensorflow as tf

    return tf.executing_eagerly()


def predict(model, inputs):
    """The model's predictions for the fixed input, as ``model.predict`` gives them.

    Tuned: ``predict_on_batch``, the same predict step ``predict`` runs for each batch (the
    input is one batch), without its data pipeline and callbacks. A Keras model in an eager
    TensorFlow runs it with ``run_eagerly`` on, as ``compile(run_eagerly=True)`` would: the
    step's Python runs op by op instead of being traced into a function for this one call, a
    tenth of the time for these small models. The same verdict in every cell as ``predict``
    (compared cell by cell; the self-check runs ``predict`` as it ships). An object without
    ``predict`` (a SavedModel Keras could not revive) fails as ``model.predict`` does.
    """
    if RUNTIME["tuned"] and hasattr(model, "predict") and hasattr(model, "predict_on_batch"):
        major = keras_major_of(model)
        if tuned_and_eager() and major in (2, 3):
            run_steps_eagerly(model)
            if major == 3:
                inputs = as_tensors(inputs)
                without_jit(model)
        return as_numpy(model.predict_on_batch(inputs))
    return model.predict(inputs, verbose=0)


def as_tensors(inputs):
    """Keras 3's arrays as tensors of its backend, as its traced step converts them at the call:
    its eager step refuses a multi-input model's list of arrays ("you cannot mix tensors and
    non-tensors", measured on preprocessing_layers in Keras 3.15). A tensor stays as it is."""
    convert = sys.modules["keras"].ops.convert_to_tensor
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(as_tensors(value) for value in inputs)
    if isinstance(inputs, dict):
        return {name: as_tensors(value) for name, value in inputs.items()}
    return convert(inputs) if type(inputs).__module__ == "numpy" else inputs


def keras_major_of(model):
    """The major version of the Keras whose ``Model`` the model is (2 for ``tf.keras`` of TF 2.x
    and tf_keras, 3 for Keras 3), or None for an object of no Keras."""
    for cls in type(model).__mro__:
        package = cls.__module__.split(".")[0]
        if package == "tensorflow":
            return 2
        if package in ("keras", "tf_keras"):
            return version_tuple(getattr(sys.modules[package], "__version__", "0"))[0]
    return None


def run_steps_eagerly(model):
    """``run_eagerly`` on where the model takes it (a Keras that refuses leaves it traced)."""
    with contextlib.suppress(AttributeError, ValueError, TypeError):
        model.run_eagerly = True


def without_jit(model):
    """Keras 3's ``jit_compile`` off, which ``run_eagerly`` does not turn off on PyTorch: there a
    model whose compile config asks for it (a JAX file's does) runs its step through
    torch.compile, 36 s for one predict of conv_batchnorm here against 0.1 s eagerly (measured)."""
    with contextlib.suppress(AttributeError, ValueError, TypeError):
        model.jit_compile = False


def as_numpy(outputs):
    """Tensors as the arrays ``predict`` returns (TF 2.0 and 2.1's ``predict_on_batch`` gives tensors)."""
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(as_numpy(output) for output in outputs)
    if isinstance(outputs, dict):
        return {name: as_numpy(output) for name, output in outputs.items()}
    return outputs.numpy() if hasattr(outputs, "numpy") else outputs


def every_layer(model):
    """The model's layers, nested models' layers included."""
    layers = list(getattr(model, "layers", ()))
    while layers:
        layer = layers.pop()
        layers.extend(getattr(layer, "layers", ()))
        yield layer


def compute_dtypes(model):
    """The dtypes the model's layers compute in (a layer that does not say: its ``dtype``)."""
    found = set()
    for layer in every_layer(model):
        dtype = getattr(layer, "compute_dtype", None) or getattr(layer, "dtype", None)
        found.add(getattr(dtype, "name", dtype))
    return found


def version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def keras_package(keras):
    """The top-level package that really implements ``tensorflow.keras`` here.

    ``keras`` (Keras 2 from TF 2.6 on, and Keras 3), ``tf_keras`` (TF_USE_LEGACY_KERAS=1) or
    ``tensorflow`` (Keras bundled inside TensorFlow before 2.6). ``tensorflow.keras`` is a lazy
    alias in many versions, so ask a real class where it lives.
    """
    return keras.layers.Layer.__module__.split(".")[0]


def keras_version(keras):
    import importlib

    package = importlib.import_module(keras_package(keras))
    version = getattr(package, "__version__", None)
    if keras_package(keras) == "tensorflow" or version is None:
        version = getattr(keras, "__version__", None) or version
    return version or "unknown"


def keras_backend(keras):
    """What runs the models: ``tensorflow``, or Keras 3's ``jax`` or ``torch`` (KERAS_BACKEND)."""
    return getattr(keras.backend, "backend", lambda: "tensorflow")()


def keras_flavor(keras):
    """``keras3``, ``tf_keras`` (the legacy package) or ``keras2`` (Keras 2 of TF itself)."""
    if keras_package(keras) == "tf_keras":
        return "tf_keras"
    if version_tuple(keras_version(keras)) >= (3,):
        return "keras3"
    return "keras2"


def runtime_versions():
    """The versions actually imported, for every record."""
    import numpy
    import tensorflow as tf

    keras = import_keras()
    versions = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras_version(keras),
        "keras_flavor": keras_flavor(keras),
        "keras_backend": keras_backend(keras),
        "numpy": numpy.__version__,
        "h5py": None,
        "platform": sys.platform,
        "tuned": RUNTIME["tuned"],
    }
    try:
        import h5py

        versions["h5py"] = h5py.__version__
    except ImportError:
        pass
    return versions


def unsupported_reason(keras, fmt):
    """Why this Keras cannot write ``fmt`` at all, or None when it has an API for it."""
    flavor = keras_flavor(keras)
    if fmt == "savedmodel" and flavor == "keras3" and not hasattr(keras.Model, "export"):
        return "this Keras 3 has neither model.save(dir) nor model.export(dir)"
    if fmt == "keras" and version_tuple(keras_version(keras)) < (2, 0):
        return "Keras before 2.0 has no .keras file name handling"
    if fmt == "weights-tf" and flavor == "keras3":
        return "Keras 3's save_weights writes only .weights.h5 files: the TensorFlow checkpoint format is gone"
    if fmt == "savedmodel" and is_standalone(keras):
        return "standalone Keras {} has no SavedModel: model.save writes HDF5 whatever the name".format(
            keras_version(keras))
    if fmt == "weights-tf" and is_standalone(keras):
        return "standalone Keras {}'s save_weights writes only HDF5: it has no TensorFlow checkpoint format".format(
            keras_version(keras))
    return None


def export_refused(keras, fmt, exc):
    """Why this Keras cannot write a SavedModel, where ``model.export`` raised ``exc`` on a backend
    other than TensorFlow (PyTorch's export, measured: Keras 3.11 asks for torch_xla, Keras 3.15
    fails in torch.export on every model here); None where the failure is the model's own."""
    backend = keras_backend(keras)
    if fmt != "savedmodel" or backend == "tensorflow":
        return None
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return "model.export on Keras {}'s {} backend raised {}: {}".format(
        keras_version(keras), backend, type(exc).__name__, first_line)


def missing_api(keras, names):
    """Why this Keras cannot build a case that uses NAMES (paths under ``keras``, such as
    ``layers.MultiHeadAttention``, or features of ``KERAS_FEATURES``): the first it lacks, or
    None when it has them all."""
    for name in names:
        if name in KERAS_FEATURES:
            has, lacking = KERAS_FEATURES[name]
            if not has(keras):
                return lacking.format(version=keras_version(keras), backend=keras_backend(keras))
            continue
        found = keras
        for part in name.split("."):
            found = getattr(found, part, None)
            if found is None:
                import tensorflow as tf

                return "keras.{} does not exist in Keras {} (TensorFlow {})".format(
                    name, keras_version(keras), tf.__version__)
    return None


def since_standalone(version):
    """Whether ``keras`` has what standalone Keras gained in VERSION (tf.keras always had it)."""
    return lambda keras: not is_standalone(keras) or version_tuple(keras_version(keras)) >= version


# What a case uses that is not a name under ``keras``: (whether a Keras has it, why not). Each
# measured where it fails: standalone Keras 2 (2.1 to 2.3), Keras 3 on JAX and PyTorch.
KERAS_FEATURES = {
    "deferred_sequential": (since_standalone((2, 2)),
                            "standalone Keras {version} needs the first layer of a Sequential model to get an "
                            "input_shape: a Sequential built on its first call came with Keras 2.2"),
    "model_subclassing": (since_standalone((2, 2)),
                          "standalone Keras {version}'s Model takes inputs and outputs: subclassing keras.Model "
                          "came with Keras 2.2"),
    "dict_outputs": (lambda keras: not is_standalone(keras),
                     "standalone Keras {version} takes a model's outputs as a list: a dict of outputs is tf.keras's"),
    # Keras 3 on JAX and PyTorch, measured on Keras 3.11 and 3.15:
    "tensorflow_ops": (lambda keras: keras_backend(keras) == "tensorflow",
                       "its loss or activation calls TensorFlow ops on the model's tensors, which Keras {version} "
                       "on {backend} hands them as traced arrays or tensors that require grad: "
                       "TensorFlow refuses both"),
    "tensorflow_ops_eager": (lambda keras: keras_backend(keras) != "jax",
                             "its layer calls a TensorFlow op in call(), which Keras {version} on jax traces: "
                             "TensorFlow cannot take a traced array (PyTorch runs the call eagerly, and it passes)"),
    "string_tensors": (lambda keras: keras_backend(keras) == "tensorflow",
                       "its StringLookup takes string inputs, and only the TensorFlow backend has string tensors "
                       "(Keras {version} on {backend})"),
}


def unavailable_reason(keras, case):
    """Why this Keras cannot build the case (what its ``REQUIRES`` names that it lacks), or None."""
    return missing_api(keras, getattr(case, "REQUIRES", ()))


def save_call(keras, fmt):
    """The public call this stack documents for ``fmt``, as a name for the record."""
    weights = "model.save_weights({!r})".format(weights_file_name(keras_flavor(keras)))
    if fmt == "weights-h5":
        return weights
    if fmt == "weights-tf":
        return "model.save_weights({!r}, save_format='tf')".format(CHECKPOINT_PREFIX)
    if fmt == "json":
        return "open({!r}, 'w').write(model.to_json()); {}".format(ARCHITECTURE_FILE, weights)
    if fmt != "savedmodel":
        return "model.save(path)"
    if keras_flavor(keras) == "keras3":
        return "model.export(dir)"
    return "model.save(dir, save_format='tf')" if tensorflow_1() else "model.save(dir)"


def save(keras, model, fmt, path):
    """Write ``fmt`` to ``path``: a full model's file or folder, or the folder of a weights format."""
    if fmt in FULL_MODEL_FORMATS:
        save_model(keras, model, fmt, path)
        return
    os.makedirs(path)
    if fmt == "weights-tf":
        # TF 1.x writes HDF5 by default, whatever the name; TF 2's default for a name without .h5
        model.save_weights(os.path.join(path, CHECKPOINT_PREFIX), save_format="tf")
        return
    if fmt == "json":
        with open(os.path.join(path, ARCHITECTURE_FILE), "w") as handle:
            handle.write(model.to_json())
    model.save_weights(os.path.join(path, weights_file_name(keras_flavor(keras))))


def save_model(keras, model, fmt, path):
    if fmt == "savedmodel" and keras_flavor(keras) == "keras3":
        model.export(path)
    elif fmt == "savedmodel" and tensorflow_1():
        model.save(path, save_format="tf")  # TF 1.x writes HDF5 by default, whatever the name
    else:
        model.save(path)


def is_compiled(model):
    """Whether ``model`` came back compiled: an optimizer and a loss to train with (Keras 3 says
    ``compiled``, Keras 2 ``_is_compiled``)."""
    if model is None or getattr(model, "optimizer", None) is None:
        return False
    return bool(getattr(model, "compiled", getattr(model, "_is_compiled", False)))


def tensorflow_1():
    import tensorflow as tf

    return version_tuple(tf.__version__) < (2,)


def seed_everything(seed):
    """Same weights for every format saved by one stack, so their artifacts are comparable."""
    import random

    import numpy
    import tensorflow as tf

    random.seed(seed)
    numpy.random.seed(seed)
    # TF 2.x; TF 1.x (1.8 has neither tf.random.set_seed nor tf.compat.v1)
    set_seed = getattr(getattr(tf, "random", None), "set_seed", None) or tf.set_random_seed
    set_seed(seed)


def accepts_safe_mode(keras):
    """Whether ``load_model`` takes ``safe_mode`` (Keras 2.13+ and Keras 3)."""
    return takes_argument(keras.models.load_model, "safe_mode")


def safe_mode_scope(keras):
    """Keras' ``SafeModeScope`` (Keras 2.13+, tf-keras, Keras 3), or None: what
    ``keras.config.enable_unsafe_deserialization()`` switches, for one load and then as it was
    (the switch is global, and a worker goes on loading other cells)."""
    import importlib

    package = keras_package(keras)
    for module in (package + ".src.saving.serialization_lib", package + ".saving.serialization_lib"):
        try:
            scope = getattr(importlib.import_module(module), "SafeModeScope", None)
        except ImportError:
            continue
        if scope is not None:
            return scope
    return None


def legacy_keras(keras):
    """``tf_keras`` when it is installed beside Keras 3 (without TF_USE_LEGACY_KERAS), else None."""
    if keras_flavor(keras) != "keras3":
        return None
    try:
        import tf_keras
    except ImportError:
        return None
    return tf_keras


def clear_session(keras):
    """Reset Keras' global state between loads, without the full ``gc.collect()`` Keras 3.2 and
    later add there: 0.07 to 0.14 s a call, measured, most of a Keras 3 load's cost. Keras 3.3+
    skip it when told (``free_memory=False``); 3.2 cannot be told, so its call runs with
    ``gc.collect`` standing idle. Python's own collector still runs as usual."""
    clear = keras.backend.clear_session
    if takes_argument(clear, "free_memory"):
        clear(free_memory=False)
    elif keras_flavor(keras) == "keras3":
        without_full_collection(clear)
    else:
        clear()
    if "tf_keras" in sys.modules and keras_package(keras) != "tf_keras":
        sys.modules["tf_keras"].backend.clear_session()


def without_full_collection(function):
    import gc

    collect = gc.collect
    gc.collect = lambda generation=2: 0
    try:
        function()
    finally:
        gc.collect = collect


def takes_argument(function, name):
    import inspect

    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
