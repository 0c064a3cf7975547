"""Seed example 1 done right: the custom layer returns its ``units`` from ``get_config``.

The seed's layer takes ``units`` but cannot say so when saved; Keras 2.9 refuses to save it
and later versions save it without the argument. This one can be rebuilt from its config.
"""

import tensorflow as tf
from tensorflow import keras

TAGS = ("extra",)
REQUIRES = ("tensorflow_ops_eager",)  # its tf.nn.relu
INPUT_SHAPE = (10,)


class ConfiguredLayer(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super(ConfiguredLayer, self).__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return tf.nn.relu(inputs)

    def get_config(self):
        config = super(ConfiguredLayer, self).get_config()
        config.update({"units": self.units})
        return config


def build():
    model = keras.Sequential(
        [
            keras.layers.Dense(64, activation="relu", input_shape=(10,)),
            ConfiguredLayer(units=32),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {"ConfiguredLayer": ConfiguredLayer}
