"""Seed example 3 after its module moved. Saved with ``my_layers`` importable at the top level;
loaded with that name gone and the class imported from its new place in a package.

The seed document warns that a moved module breaks loading; this case measures when it does.
"""

import os
import sys

from tensorflow import keras

# Where the class lives now; imported with the case, so a copy of the case on tf_keras
# (runner.cases.load_case) gets the class built on tf_keras too.
from runner.cases.movable import my_layers as new_home

TAGS = ("extra",)
INPUT_SHAPE = (10,)
REQUIRES = ("deferred_sequential",)
OLD_HOME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "movable")


def build():
    if OLD_HOME not in sys.path:  # only the saving process ever sees the old place
        sys.path.insert(0, OLD_HOME)
    import my_layers

    model = keras.Sequential([my_layers.MovableLayer()])
    model.compile(optimizer="adam", loss="mse")
    return model


def rebuild():
    """As the code reads after the move: the class from its new place, the old one never on the path."""
    model = keras.Sequential([new_home.MovableLayer()])
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {"MovableLayer": new_home.MovableLayer}
