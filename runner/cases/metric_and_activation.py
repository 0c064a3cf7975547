"""A custom metric passed to ``compile`` and a custom activation registered with
``register_keras_serializable``, trained for one epoch with ``RMSprop`` (one mean-square slot per
weight in the file): the metric must come back through ``custom_objects``, the activation by its
registered name (``Custom>scaled_tanh``)."""

import tensorflow as tf
from tensorflow import keras

TAGS = ("layers",)
INPUT_SHAPE = (10,)
REQUIRES = ("utils.register_keras_serializable", "tensorflow_ops")  # tf.tanh, tf.abs
SAMPLES = 32
EPOCHS = 1


def scaled_tanh(x):
    return 1.7159 * tf.tanh(2.0 * x / 3.0)


# Registered at import, as a user's module does; a Keras without the registry leaves it unnamed.
if hasattr(keras.utils, "register_keras_serializable"):
    scaled_tanh = keras.utils.register_keras_serializable(package="Custom")(scaled_tanh)


def mean_abs_error_metric(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred))


def build():
    model = keras.Sequential([
        keras.layers.Dense(8, activation=scaled_tanh, input_shape=INPUT_SHAPE),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(0.01, rho=0.9), loss="mse",
                  metrics=[mean_abs_error_metric])
    return model


def training_data():
    import numpy

    features = numpy.linspace(-1.0, 1.0, SAMPLES * INPUT_SHAPE[0], dtype="float32").reshape((SAMPLES,) + INPUT_SHAPE)
    return features, features.sum(axis=1, keepdims=True)


def custom_objects():
    return {"mean_abs_error_metric": mean_abs_error_metric}
