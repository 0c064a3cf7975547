"""A layer registered with ``@register_keras_serializable(package=...)``, loaded with no
``custom_objects``: importing the module that defines it is all a load should need."""

import registered_layers
from tensorflow import keras

TAGS = ("extra",)
INPUT_SHAPE = (10,)
REQUIRES = ("utils.register_keras_serializable",)


def build():
    model = keras.Sequential(
        [
            keras.layers.Dense(8, input_shape=(10,)),
            registered_layers.RegisteredScale(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {}
