"""Models inside a model: an inner functional model and a ``Sequential``, each called as a layer
of an outer functional model, as transfer-learning code builds a backbone and a head; trained for
two epochs with ``Adam``, so the file holds its moments and iteration count beside the weights."""

from tensorflow import keras

TAGS = ("layers",)
# Keras 3.0 to 3.11 never return from loading a Keras 2 .h5 of it: on every stack, its hangs
# would spend most of an hour in the attempts' time limits (runner/limits.py).
MEASURED_ON = "eras"
INPUT_SHAPE = (10,)
SAMPLES = 32
EPOCHS = 2


def build():
    inner_input = keras.Input(shape=INPUT_SHAPE)
    backbone = keras.Model(inner_input, keras.layers.Dense(8, activation="relu")(inner_input), name="backbone")
    head = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_shape=(8,)), keras.layers.Dense(1)],
                            name="head")
    features = keras.Input(shape=INPUT_SHAPE)
    model = keras.Model(features, head(backbone(features)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def training_data():
    import numpy

    samples = numpy.linspace(-1.0, 1.0, SAMPLES * INPUT_SHAPE[0], dtype="float32").reshape((SAMPLES,) + INPUT_SHAPE)
    return samples, samples.sum(axis=1, keepdims=True)


def custom_objects():
    return {}
