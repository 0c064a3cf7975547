"""Seed example 3: a custom layer imported from its own module, ``my_module``.

The document builds ``Sequential([my_module.MyLayerFromModule()])`` with no input shape and
says saving and loading "remain the same" as example 1, with the module importable. The
model gets its shape from the first prediction, which the worker makes before saving.
"""

import my_module
from tensorflow import keras

TAGS = ("seed",)
INPUT_SHAPE = (10,)
REQUIRES = ("deferred_sequential",)


def build():
    model = keras.Sequential([my_module.MyLayerFromModule()])
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {"MyLayerFromModule": my_module.MyLayerFromModule}
