"""Seed example 3 with its module named like its class: ``import ScaleShift``, then
``custom_objects={"ScaleShift": ScaleShift}``, which hands Keras the module, not the class.

A plausible slip (the file is named after the class it holds), and the one that reproduces the
seed document's ``deserialize_keras_object ... 'module' object is not callable``: Keras 2's
deserializer calls whatever ``custom_objects`` maps the class name to when it has no
``from_config``, and a module has none.
"""

import ScaleShift
from tensorflow import keras

TAGS = ("extra",)
INPUT_SHAPE = (10,)
REQUIRES = ("deferred_sequential",)


def build():
    model = keras.Sequential([ScaleShift.ScaleShift()])
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {"ScaleShift": ScaleShift}  # the module itself: the mistake this case measures
