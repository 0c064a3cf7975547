"""A transformer encoder block: ``MultiHeadAttention`` with residual ``Add`` and
``LayerNormalization`` around it and its feed-forward part, pooled into a classifier
(``MultiHeadAttention`` exists from TensorFlow 2.4)."""

from tensorflow import keras

TAGS = ("layers",)
STEPS, WIDTH = 6, 8
INPUT_SHAPE = (STEPS, WIDTH)
REQUIRES = ("layers.MultiHeadAttention",)


def build():
    sequence = keras.Input(shape=INPUT_SHAPE)
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(sequence, sequence)
    x = keras.layers.LayerNormalization(epsilon=1e-6)(keras.layers.Add()([sequence, attended]))
    feed_forward = keras.layers.Dense(WIDTH)(keras.layers.Dense(16, activation="relu")(x))
    x = keras.layers.LayerNormalization(epsilon=1e-6)(keras.layers.Add()([x, feed_forward]))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(sequence, outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def custom_objects():
    return {}
