"""A ``Lambda`` layer. Its Python function is saved as marshalled bytecode, so the Python
version of the loader matters, and Keras 3's ``safe_mode`` refuses to run it."""

from tensorflow import keras

TAGS = ("extra",)
INPUT_SHAPE = (10,)


def build():
    model = keras.Sequential(
        [
            keras.layers.Dense(8, input_shape=(10,)),
            keras.layers.Lambda(lambda x: x * 2.0 + 1.0),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {}
