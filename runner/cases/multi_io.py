"""A functional model with two named inputs (token ids and numeric features) and two named
outputs returned as a dict, compiled with a loss per output: how each format keeps the names
and the order of several inputs and outputs."""

from tensorflow import keras

from runner.samples import InputSpec

TAGS = ("layers",)
VOCABULARY, STEPS, FEATURES = 30, 6, 4
INPUTS = (InputSpec("text", (None, STEPS), "int32", index_limit=VOCABULARY),
          InputSpec("meta", (None, FEATURES), "float32"))
REQUIRES = ("dict_outputs",)


def build():
    text = keras.Input(shape=(STEPS,), dtype="int32", name="text")
    meta = keras.Input(shape=(FEATURES,), name="meta")
    words = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(VOCABULARY, 4)(text))
    joined = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([words, meta]))
    score = keras.layers.Dense(1, name="score")(joined)
    tags = keras.layers.Dense(3, activation="softmax", name="tags")(joined)
    model = keras.Model(inputs=[text, meta], outputs={"score": score, "tags": tags})
    model.compile(optimizer="adam", loss={"score": "mse", "tags": "categorical_crossentropy"})
    return model


def custom_objects():
    return {}
