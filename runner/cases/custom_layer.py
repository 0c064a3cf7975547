"""Seed example 1: a custom layer in a Sequential model, loaded with ``custom_objects``.

As the seed document writes it: the layer takes ``units`` but defines no ``get_config``, and
the model is compiled, never trained.
"""

import tensorflow as tf
from tensorflow import keras

TAGS = ("seed",)
INPUT_SHAPE = (10,)


class MyCustomLayer(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super(MyCustomLayer, self).__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return tf.keras.activations.relu(inputs)


def build():
    model = keras.Sequential(
        [
            keras.layers.Dense(64, activation="relu", input_shape=(10,)),
            MyCustomLayer(units=32),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {"MyCustomLayer": MyCustomLayer}
