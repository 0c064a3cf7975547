"""A model built under the ``mixed_float16`` policy: float16 computations with float32 weights,
the output layer kept in float32 as the mixed-precision guide says (the global policy API exists
from TensorFlow 2.4; the builder restores ``float32`` after)."""

from tensorflow import keras

TAGS = ("layers",)
INPUT_SHAPE = (10,)
REQUIRES = ("mixed_precision.set_global_policy",)


def build():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential([
            keras.layers.Dense(16, activation="relu", input_shape=INPUT_SHAPE),
            keras.layers.Dense(1, dtype="float32"),
        ])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {}
