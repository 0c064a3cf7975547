"""Model files like the ones people ship, saved by a stack's own Keras (run with its Python):

    python tests/corpus.py OUTDIR

- ``text_lstm``: token ids through an ``Embedding`` and an ``LSTM`` to one sigmoid, its input
  declared as Keras' default float32 (as most text models' are).
- ``two_tower``: a functional model with two named inputs (token ids, float features) and two
  named outputs (a score, three softmax tags).
- ``text_vectorized``: raw strings in, through a ``TextVectorization`` that holds its vocabulary.
- ``mixed_dense``: built under the ``mixed_float16`` policy: its outputs differ between stacks by
  more than float32's tolerance, as float16's rounding does.

Each in every format the stack writes: ``.h5``, ``.keras`` (Keras 2.12+), and a SavedModel
(``model.save(dir)`` in Keras 2, ``model.export(dir)`` in Keras 3); and as old projects ship
them, its weights alone (``save_weights``: ``model.weights.h5``, and in Keras 2 a TensorFlow
checkpoint in ``checkpoint/``) beside its architecture (``model.json``, ``to_json()``). Weights
come from a fixed seed; nothing is downloaded.
"""

import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow import keras


def keras_version():
    """``tensorflow.keras``'s version (TF 2.13 to 2.15's has none of its own: the keras package's)."""
    try:
        return keras.__version__
    except AttributeError:
        import keras as package

        return package.__version__


VERSION = tuple(int(part) for part in keras_version().split(".")[:2])
KERAS3 = VERSION >= (3, 0)


def text_lstm():
    return keras.Sequential([
        keras.Input(shape=(20,)),
        keras.layers.Embedding(1000, 16),
        keras.layers.LSTM(8),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="text_lstm")


def two_tower():
    text = keras.Input(shape=(12,), dtype="int32", name="text")
    meta = keras.Input(shape=(4,), name="meta")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(500, 8)(text))
    joined = keras.layers.Concatenate()([pooled, keras.layers.Dense(8, activation="relu")(meta)])
    score = keras.layers.Dense(1, name="score")(joined)
    tags = keras.layers.Dense(3, activation="softmax", name="tags")(joined)
    return keras.Model(inputs=[text, meta], outputs=[score, tags], name="two_tower")


VOCABULARY = ["good", "bad", "movie", "plot", "great", "boring", "actor", "story"]


def text_vectorized():
    review = keras.Input(shape=(1,), dtype="string", name="review")
    ids = keras.layers.TextVectorization(vocabulary=VOCABULARY, output_sequence_length=6)(review)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(len(VOCABULARY) + 2, 4)(ids))
    return keras.Model(review, keras.layers.Dense(1)(pooled), name="text_vectorized")


def mixed_dense():
    """Dense layers under the ``mixed_float16`` policy, the output layer kept in float32."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        return keras.Sequential([
            keras.Input(shape=(10,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, dtype="float32"),
        ], name="mixed_dense")
    finally:
        keras.mixed_precision.set_global_policy("float32")


def save_all(model, folder):
    os.makedirs(folder, exist_ok=True)
    model.save(os.path.join(folder, "model.h5"))
    if VERSION >= (2, 12):
        model.save(os.path.join(folder, "model.keras"))
    if KERAS3:
        model.export(os.path.join(folder, "savedmodel"))
    else:
        model.save(os.path.join(folder, "savedmodel"), save_format="tf")
        model.save_weights(os.path.join(folder, "checkpoint", "model"))
    model.save_weights(os.path.join(folder, "model.weights.h5"))
    with open(os.path.join(folder, "model.json"), "w") as handle:
        handle.write(model.to_json())


def main(out):
    tf.random.set_seed(7)
    np.random.seed(7)
    for build in (text_lstm, two_tower, text_vectorized, mixed_dense):
        model = build()
        model.compile(optimizer="adam", loss="mse")
        save_all(model, os.path.join(out, build.__name__))


if __name__ == "__main__":
    main(sys.argv[1])
