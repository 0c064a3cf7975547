"""Preprocessing inside the model: ``Normalization`` adapted on data, ``Rescaling`` of pixels, and
a ``StringLookup`` over a listed vocabulary feeding an ``Embedding``, so the file must carry the
adapted statistics and the vocabulary (``keras.layers`` has them from TensorFlow 2.6; before, they
were under ``layers.experimental.preprocessing``)."""

from tensorflow import keras

from runner.samples import InputSpec

TAGS = ("layers",)
WORDS = ("red", "green", "blue", "black", "white")
FEATURES, PIXELS = 4, (4, 4, 1)
INPUTS = (InputSpec("features", (None, FEATURES), "float32"),
          InputSpec("pixels", (None,) + PIXELS, "float32"),
          InputSpec("colour", (None, 1), "string", words=WORDS))
REQUIRES = ("layers.Normalization", "layers.Rescaling", "layers.StringLookup", "string_tensors")


def build():
    import numpy

    features = keras.Input(shape=(FEATURES,), name="features")
    pixels = keras.Input(shape=PIXELS, name="pixels")
    colour = keras.Input(shape=(1,), dtype="string", name="colour")
    normalize = keras.layers.Normalization()
    normalize.adapt(numpy.linspace(-3.0, 5.0, 16 * FEATURES, dtype="float32").reshape((16, FEATURES)))
    scaled = keras.layers.Flatten()(keras.layers.Rescaling(1.0 / 255.0, offset=-0.5)(pixels))
    ids = keras.layers.StringLookup(vocabulary=list(WORDS))(colour)
    embedded = keras.layers.Flatten()(keras.layers.Embedding(len(WORDS) + 1, 3)(ids))
    joined = keras.layers.Concatenate()([normalize(features), scaled, embedded])
    outputs = keras.layers.Dense(2)(keras.layers.Dense(8, activation="relu")(joined))
    model = keras.Model([features, pixels, colour], outputs)
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {}
