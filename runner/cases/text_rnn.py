"""A text classifier on token ids: ``Embedding(mask_zero=True)`` into a ``Bidirectional(LSTM)``
and a ``GRU``, the recurrent layers whose configs and weight layouts changed most between Keras
versions (GRU's ``reset_after``, cuDNN-compatible kernels), with the mask carried through."""

from tensorflow import keras

from runner.samples import InputSpec

TAGS = ("layers",)
MEASURED_ON = "eras"  # 10 to 20 s a load: its full cross product would take hours
VOCABULARY, STEPS = 50, 12
INPUTS = (InputSpec("tokens", (None, STEPS), "int32", index_limit=VOCABULARY),)


def build():
    tokens = keras.Input(shape=(STEPS,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCABULARY, 8, mask_zero=True)(tokens)
    x = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True))(x)
    x = keras.layers.GRU(8)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(tokens, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def custom_objects():
    return {}
