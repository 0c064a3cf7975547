"""Seed example 3 after its module moved. Saved with ``my_layers`` importable at the top level;
loaded with that name gone and the class imported from its new place in a package.

The seed document warns that a moved module breaks loading; this case measures when it does.
"""

import os
import sys

from tensorflow import keras

TAGS = ("extra",)
INPUT_SHAPE = (10,)
OLD_HOME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "movable")


def build():
    if OLD_HOME not in sys.path:  # only the saving process ever sees the old place
        sys.path.insert(0, OLD_HOME)
    import my_layers

    model = keras.Sequential([my_layers.MovableLayer()])
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    from runner.cases.movable import my_layers

    return {"MovableLayer": my_layers.MovableLayer}
