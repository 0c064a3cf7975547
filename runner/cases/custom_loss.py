"""Seed example 2: a model compiled with a custom loss function, loaded with ``custom_objects``."""

import tensorflow as tf
from tensorflow import keras

TAGS = ("seed",)
INPUT_SHAPE = (10,)


def my_custom_loss(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred))


def build():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(10,))])
    model.compile(optimizer="adam", loss=my_custom_loss)
    return model


def custom_objects():
    return {"my_custom_loss": my_custom_loss}
